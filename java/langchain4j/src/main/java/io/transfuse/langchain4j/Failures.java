package io.transfuse.langchain4j;

import dev.langchain4j.exception.RateLimitException;
import dev.langchain4j.exception.TimeoutException;
import io.transfuse.engine.EngineOverloadedException;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Engine failures as the exceptions langchain4j callers (and its retry logic) know. */
final class Failures {
    private Failures() {}

    static RuntimeException map(Throwable e) {
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) e = e.getCause();
        if (e instanceof EngineOverloadedException o) return new RateLimitException(o.getMessage(), o); // retriable
        if (e instanceof java.util.concurrent.TimeoutException t) return new TimeoutException(t.getMessage(), t);
        if (e instanceof RuntimeException r) return r;
        if (e instanceof Error err) throw err;
        return new RuntimeException(e);
    }
}
