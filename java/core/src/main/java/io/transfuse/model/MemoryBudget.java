package io.transfuse.model;

import io.transfuse.LoadOptions;
import io.transfuse.TransfuseException;
import io.transfuse.backend.Backend;

import java.util.Locale;

/**
 * The check a decoder's state store (the KV cache, Mamba's state slots) makes before it allocates: the bytes it
 * needs, computed from the sizing at load ({@link DecoderLimits}), against what the backend can hold
 * ({@link Backend#memoryAvailable()}). The error says both numbers and what to pass instead, so that a model whose
 * config states a long context fails at load with advice rather than with an out-of-memory error later.
 */
public final class MemoryBudget {
    /** What to pass when a KV cache does not fit. */
    public static final String KV_ADVICE = "load with a shorter context (LoadOptions.withContextLength(N), CLI --context N; the default is "
            + LoadOptions.DEFAULT_CONTEXT + " positions, or the model's maximum when smaller) or fewer sequences "
            + "(LoadOptions.withMaxSequences(N), CLI serve --max-sequences N)";
    /** What to pass when recurrent state slots do not fit. */
    public static final String SLOT_ADVICE = "load with fewer sequences (LoadOptions.withMaxSequences(N), CLI serve --max-sequences N)";

    private MemoryBudget() {}

    /**
     * Fails unless {@code needed} bytes fit in what {@code backend} can hold.
     *
     * @param source the model, named first in the error
     * @param what   what needs the memory and how it is sized ("the KV cache (16 sequences x 4096 positions ...)")
     * @param needed bytes, or -1 when computing them overflowed a long
     */
    public static void require(Backend backend, String source, String what, long needed, String advice) {
        long available = backend.memoryAvailable();
        if (needed >= 0 && needed <= available) return;
        throw new TransfuseException(source + ": " + what + " needs " + (needed < 0 ? "more than 2^63 bytes" : bytes(needed))
                + " but " + bytes(available) + " are available to the " + backend.name() + " backend"
                + (backend.name().equals("cpu") ? " (the machine's memory, a container's limit, or -D"
                        + io.transfuse.backend.cpu.HostMemory.LIMIT_PROPERTY + ")" : "") + "; " + advice);
    }

    /** {@code a x b x ...} in a long, or -1 when the product overflows. */
    public static long product(long... factors) {
        long p = 1;
        try {
            for (long f : factors) p = Math.multiplyExact(p, f);
        } catch (ArithmeticException e) {
            return -1;
        }
        return p;
    }

    /** "21474836480 bytes (20.0 GiB)". */
    static String bytes(long n) {
        if (n == Long.MAX_VALUE) return "unlimited";
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return n + " bytes" + (u < 0 ? "" : String.format(Locale.ROOT, " (%.1f %s)", v, units[u]));
    }
}
