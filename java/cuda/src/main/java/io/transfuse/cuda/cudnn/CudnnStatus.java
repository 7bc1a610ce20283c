package io.transfuse.cuda.cudnn;

/**
 * cuDNN 9's {@code cudnnStatus_t}: 0 is success; every other code belongs to a category named by its thousands
 * digit (cudnn_graph.h, cuDNN 9.0 and later): 1xxx not initialised / library setup, 2xxx bad parameter, 3xxx not
 * supported, 4xxx internal error, 5xxx execution failed. The category decides what a caller does (a NOT_SUPPORTED
 * graph falls back to Transfuse's own kernel; the others are errors), so the mapping needs no library and is
 * tested without a GPU; the library's own {@code cudnnGetErrorString} adds the exact name when it is loaded.
 */
public enum CudnnStatus {
    /** 1xxx: cuDNN or a sub-library could not start (driver, version mismatch, licence, loading). */
    NOT_INITIALIZED("cuDNN is not initialised or a sub-library failed to load"),
    /** 2xxx: an argument or descriptor attribute was wrong: a Transfuse bug, never the user's. */
    BAD_PARAM("a bad parameter or descriptor attribute"),
    /** 3xxx: this graph (shape, type, layout, fusion) has no engine on this GPU and cuDNN version. */
    NOT_SUPPORTED("the operation graph is not supported here"),
    /** 4xxx: cuDNN failed inside (compilation, allocation). */
    INTERNAL_ERROR("an internal cuDNN error"),
    /** 5xxx: a kernel failed to run on the device. */
    EXECUTION_FAILED("the GPU failed to execute the plan"),
    /** Any other code (a newer cuDNN's). */
    UNKNOWN("an unknown cuDNN status");

    private final String meaning;

    CudnnStatus(String meaning) { this.meaning = meaning; }

    /** What the category means, in words. */
    public String meaning() { return meaning; }

    /** The category of a nonzero {@code cudnnStatus_t}. */
    public static CudnnStatus of(int code) {
        return switch (code / 1000) {
            case 1 -> NOT_INITIALIZED;
            case 2 -> BAD_PARAM;
            case 3 -> NOT_SUPPORTED;
            case 4 -> INTERNAL_ERROR;
            case 5 -> EXECUTION_FAILED;
            default -> UNKNOWN;
        };
    }

    /**
     * The exception for a failed call: {@link CudnnNotSupportedException} for NOT_SUPPORTED (callers fall back),
     * else {@link CudnnException}. {@code name} is cudnnGetErrorString's text, or null when unavailable.
     */
    public static CudnnException exception(String call, int code, String name) {
        CudnnStatus s = of(code);
        String msg = call + " failed: cudnnStatus " + code + (name == null || name.isBlank() ? "" : " " + name) + " (" + s.meaning() + ")";
        return s == NOT_SUPPORTED ? new CudnnNotSupportedException(msg, code) : new CudnnException(msg, code, s);
    }
}
