package io.transfuse;

/**
 * How to load a model.
 *
 * @param device        where it runs
 * @param threads       CPU threads for the native kernels (0 = one per core)
 * @param contextLength tokens of context to allocate the KV cache for (0 = the model's maximum)
 */
public record LoadOptions(Device device, int threads, int contextLength) {
    public LoadOptions {
        if (device == null) throw new IllegalArgumentException("device must not be null");
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0 (0 = one per core), got " + threads);
        if (contextLength < 0) throw new IllegalArgumentException("context length must be >= 0 (0 = the model's), got " + contextLength);
    }

    public static LoadOptions defaults() {
        return new LoadOptions(Device.AUTO, 0, 0);
    }

    public LoadOptions withDevice(Device d) { return new LoadOptions(d, threads, contextLength); }

    public LoadOptions withThreads(int n) { return new LoadOptions(device, n, contextLength); }

    public LoadOptions withContextLength(int n) { return new LoadOptions(device, threads, n); }
}
