package io.transfuse;

/**
 * How to load a model.
 *
 * @param device        where it runs
 * @param threads       CPU threads for the native kernels (0 = one per core)
 * @param contextLength tokens of context a sequence may hold, at most the model's maximum (0 = {@link #DEFAULT_CONTEXT}, or
 *                      the model's maximum when smaller). The KV cache is sized from it: {@code maxSequences} sequences of
 *                      this many positions, checked against the memory the device has before anything is allocated.
 * @param maxSequences  sequences a decoder serves at once: its KV cache (or state slots) and the largest
 *                      batch of one forward pass (0 = {@link #DEFAULT_MAX_SEQUENCES})
 */
public record LoadOptions(Device device, int threads, int contextLength, int maxSequences) {
    /** Sequences a decoder plans for when the options name no number. */
    public static final int DEFAULT_MAX_SEQUENCES = 16;

    /**
     * Context a sequence holds when the options name none (llama.cpp's default n_ctx). Not the model's stated maximum:
     * a Llama 3.1 config states 131072 positions, a KV cache of tens of gigabytes for {@link #DEFAULT_MAX_SEQUENCES}
     * sequences of an 8B model. Ask for more with {@link #withContextLength}.
     */
    public static final int DEFAULT_CONTEXT = 4096;

    public LoadOptions {
        if (device == null) throw new IllegalArgumentException("device must not be null");
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0 (0 = one per core), got " + threads);
        if (contextLength < 0) throw new IllegalArgumentException("context length must be >= 0 (0 = " + DEFAULT_CONTEXT + " or the model's maximum when smaller), got " + contextLength);
        if (maxSequences < 0) throw new IllegalArgumentException("max sequences must be >= 0 (0 = " + DEFAULT_MAX_SEQUENCES + "), got " + maxSequences);
    }

    public static LoadOptions defaults() {
        return new LoadOptions(Device.AUTO, 0, 0, 0);
    }

    public LoadOptions withDevice(Device d) { return new LoadOptions(d, threads, contextLength, maxSequences); }

    public LoadOptions withThreads(int n) { return new LoadOptions(device, n, contextLength, maxSequences); }

    public LoadOptions withContextLength(int n) { return new LoadOptions(device, threads, n, maxSequences); }

    public LoadOptions withMaxSequences(int n) { return new LoadOptions(device, threads, contextLength, n); }
}
