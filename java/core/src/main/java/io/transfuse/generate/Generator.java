package io.transfuse.generate;

import io.transfuse.CancellationToken;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.GenerationResult.StopReason;
import io.transfuse.Session;
import io.transfuse.Tokenizer;

import java.util.function.Consumer;

/** The single-session generation loop: prefill the prompt, then feed one sampled token at a time ({@link Decoding}). */
public final class Generator {
    private Generator() {}

    /**
     * Generates after the given prompt tokens (a rendered chat, say). Stops at any of the
     * tokenizer's end-of-generation tokens ({@link Tokenizer#endOfGeneration()}), which are
     * neither printed nor kept in the result's tokens, at the options' limits, or before the next token
     * once {@code cancel} is cancelled (before anything is computed when it was cancelled already).
     */
    public static GenerationResult run(Session session, Tokenizer tokenizer, int[] promptTokens,
                                       GenerateOptions options, Consumer<String> onText, CancellationToken cancel) {
        long start = System.nanoTime();
        Decoding d = new Decoding(tokenizer, promptTokens, session.capacity(), session.vocabSize(), options, onText);
        float[] logits = new float[session.vocabSize()];
        session.reset();
        long prefillNanos = 0, decodeNanos = 0;
        int decodeSteps = 0;
        if (cancel.isCancelled()) d.finish(StopReason.CANCELLED);
        if (!d.done()) {
            session.feed(d.tokens(), 0, d.length(), logits);
            prefillNanos = System.nanoTime() - start;
            while (d.next(logits)) {
                if (cancel.isCancelled()) { // asked from another thread, or from onText while it took the token's text
                    d.finish(StopReason.CANCELLED);
                    break;
                }
                if (options.timeout() != null && System.nanoTime() - start > options.timeout().toNanos()) {
                    d.finish(StopReason.TIMEOUT);
                    break;
                }
                long t = System.nanoTime();
                session.feed(d.tokens(), d.length() - 1, 1, logits);
                decodeNanos += System.nanoTime() - t;
                decodeSteps++;
            }
        }
        return d.result(decodeSteps, prefillNanos, decodeNanos);
    }
}
