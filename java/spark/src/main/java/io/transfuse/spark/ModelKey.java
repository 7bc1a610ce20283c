package io.transfuse.spark;

import java.io.Serializable;

/**
 * Which loaded model an executor shares between its tasks: two transformers with equal keys use one model.
 *
 * @param kind    what the model is loaded as
 * @param path    the model as the user gave it (resolved on the executor by {@link ModelPaths})
 * @param device  auto, cpu, cuda or cuda-emu
 * @param threads CPU threads of the kernels (0 = one per core)
 * @param extra   the kind's own load settings in a canonical text form ("" when none)
 */
public record ModelKey(Kind kind, String path, String device, int threads, String extra) implements Serializable {
    /** What a model is loaded as. */
    public enum Kind { EMBEDDER, GENERATOR, CLASSIFIER }

    @Override
    public String toString() {
        return kind.name().toLowerCase(java.util.Locale.ROOT) + " " + path + " (device " + device + ", threads " + threads
                + (extra.isEmpty() ? "" : ", " + extra) + ")";
    }
}
