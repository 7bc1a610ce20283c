package io.transfuse;

/**
 * Stops a running {@link LanguageModel#generate(String, GenerateOptions, java.util.function.Consumer,
 * CancellationToken) generate} or {@link LanguageModel#chat(java.util.List, GenerateOptions,
 * java.util.function.Consumer, CancellationToken) chat} call: {@link #cancel()} from any thread (a UI's stop
 * button, a closed connection) or from the text callback itself. Generation ends before its next token with
 * {@link GenerationResult.StopReason#CANCELLED}; the result keeps the text so far. A token cancelled before
 * the call starts makes it return at once, with nothing computed. (An {@link io.transfuse.engine.Engine}
 * request takes one too, {@link io.transfuse.engine.Engine#submit(int[], GenerateOptions, java.util.function.Consumer,
 * CancellationToken)}, and has its own handle besides: {@link io.transfuse.engine.Generation#cancel()}.) Thread-safe;
 * one token may serve several calls, which all stop.
 */
public final class CancellationToken {
    private volatile boolean cancelled;

    /** A token not yet cancelled. */
    public CancellationToken() {}

    /** Asks the generations using this token to stop; later calls do nothing more. */
    public void cancel() {
        cancelled = true;
    }

    /**
     * Whether {@link #cancel()} was called.
     *
     * @return true once cancelled
     */
    public boolean isCancelled() {
        return cancelled;
    }
}
