package io.transfuse.model.rwkv;

import io.transfuse.loader.ConfigLimits;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelFormatException;

/**
 * Hyper-parameters of an RWKV-6 "Finch" or RWKV-7 "Goose" language model as llama.cpp reads them from GGUF
 * ({@code general.architecture} "rwkv6" / "rwkv7"; src/models/rwkv6.cpp and rwkv7.cpp, keys of src/llama-arch.cpp):
 * {@code <arch>.embedding_length}, {@code block_count}, {@code feed_forward_length}, {@code wkv.head_size},
 * {@code attention.layer_norm_epsilon}, {@code token_shift_count} (2: time mix and channel mix); RWKV-6 adds the
 * low-rank sizes {@code time_mix_extra_dim} (token shift) and {@code time_decay_extra_dim} (decay) and
 * {@code rescale_every_n_layers}; RWKV-7 the ranks {@code attention.decay_lora_rank}, {@code iclr_lora_rank} (a),
 * {@code value_residual_mix_lora_rank} (v) and {@code gate_lora_rank} (g).
 *
 * @param version    6 or 7
 * @param headSize   channels per WKV head (S); heads = dModel / S
 * @param mixRank    RWKV-6: rank of the token-shift low-rank (per each of w, k, v, r, g); RWKV-7: 0
 * @param decayRank  rank of the decay low-rank (both versions)
 * @param aRank      RWKV-7: rank of the in-context learning rate a; RWKV-6: 0
 * @param vRank      RWKV-7: rank of the value-residual mix (layers 1..; layer 0 has aRank); RWKV-6: 0
 * @param gateRank   RWKV-7: rank of the gate; RWKV-6: 0
 * @param rescaleEvery RWKV-6: the residual stream halves after every this many layers (0: never)
 */
public record RwkvConfig(String source, int version, int dModel, int layers, int ffn, int vocabSize, int headSize, float eps,
                         int mixRank, int decayRank, int aRank, int vRank, int gateRank, int rescaleEvery) {
    /** The group norm's epsilon over each head's WKV output (ln_x), fixed in llama.cpp's graphs (64e-5). */
    public static final float GROUP_NORM_EPS = 64e-5f;

    public RwkvConfig {
        for (var p : new Object[][] {{"embedding_length", dModel}, {"block_count", layers}, {"feed_forward_length", ffn},
                {"vocabulary (token_embd rows)", vocabSize}, {"wkv.head_size", headSize}, {"decay rank", decayRank}}) {
            ModelFormatException.requirePositive(source, "'" + p[0] + "'", (Integer) p[1]);
        }
        if (dModel % headSize != 0) {
            throw new ModelFormatException(source + ": 'rwkv" + version + ".wkv.head_size' = " + headSize
                    + " does not divide embedding_length " + dModel + " into whole heads");
        }
        if (headSize > io.transfuse.backend.RwkvChecks.MAX_HEAD_SIZE) {
            throw new ModelFormatException(source + ": 'rwkv" + version + ".wkv.head_size' = " + headSize + " is not supported (at most "
                    + io.transfuse.backend.RwkvChecks.MAX_HEAD_SIZE + ")");
        }
        if (version == 6 && mixRank <= 0) throw new ModelFormatException(source + ": 'rwkv6.time_mix_extra_dim' must be positive");
        if (version == 7 && (aRank <= 0 || vRank <= 0 || gateRank <= 0)) {
            throw new ModelFormatException(source + ": the RWKV-7 low-rank sizes (attention.iclr_lora_rank, value_residual_mix_lora_rank, "
                    + "gate_lora_rank) must be positive");
        }
        if (!(eps > 0) || Float.isInfinite(eps)) throw new ModelFormatException(source + ": 'attention.layer_norm_epsilon' must be positive, got " + eps);
    }

    public int heads() { return dModel / headSize; }

    /** The RWKV version of a GGUF architecture name: 6, 7, or 0 for another one. */
    public static int versionOf(String architecture) {
        return switch (architecture) {
            case "rwkv6" -> 6;
            case "rwkv7" -> 7;
            default -> 0;
        };
    }

    public static RwkvConfig read(GgufFile gguf, int vocabSize) {
        String arch = gguf.require("general.architecture", String.class);
        int version = versionOf(arch);
        if (version == 0) {
            throw new ModelFormatException(gguf.path() + ": architecture '" + arch + "' is not an RWKV version Transfuse runs (rwkv6, rwkv7)");
        }
        int shifts = intKey(gguf, arch, "token_shift_count", 2, 0);
        if (shifts != 2) {
            throw new ModelFormatException(gguf.path() + ": '" + arch + ".token_shift_count' = " + shifts
                    + " is not supported (2: one shift for the time mix, one for the channel mix)");
        }
        double eps = number(gguf, arch + ".attention.layer_norm_epsilon", 1e-5);
        int dModel = intKey(gguf, arch, "embedding_length", -1, 1);
        boolean v6 = version == 6;
        return new RwkvConfig(gguf.path().toString(), version, dModel, intKey(gguf, arch, "block_count", -1, 1),
                intKey(gguf, arch, "feed_forward_length", -1, 1), vocabSize, intKey(gguf, arch, "wkv.head_size", -1, 1), (float) eps,
                v6 ? intKey(gguf, arch, "time_mix_extra_dim", -1, 1) : 0,
                v6 ? intKey(gguf, arch, "time_decay_extra_dim", -1, 1) : intKey(gguf, arch, "attention.decay_lora_rank", -1, 1),
                v6 ? 0 : intKey(gguf, arch, "attention.iclr_lora_rank", -1, 1),
                v6 ? 0 : intKey(gguf, arch, "attention.value_residual_mix_lora_rank", -1, 1),
                v6 ? 0 : intKey(gguf, arch, "attention.gate_lora_rank", -1, 1),
                v6 ? intKey(gguf, arch, "rescale_every_n_layers", 0, 0) : 0);
    }

    /** {@code <arch>.<key>}, at least {@code min}; {@code fallback} when absent, or an error when it is -1 (required). */
    private static int intKey(GgufFile gguf, String arch, String key, int fallback, long min) {
        String name = arch + "." + key;
        if (!gguf.metadata().containsKey(name)) {
            if (fallback == -1) throw new ModelFormatException(gguf.path() + ": metadata key '" + name + "' is missing");
            return fallback;
        }
        Object v = gguf.metadata().get(name);
        if (!(v instanceof Number n)) throw new ModelFormatException(gguf.path() + ": '" + name + "' must be an integer, got " + v);
        long x = n.longValue();
        if (x < min || x > Integer.MAX_VALUE) throw new ModelFormatException(gguf.path() + ": '" + name + "' = " + x + " is out of range");
        return (int) ConfigLimits.check(gguf.path(), name, x);
    }

    private static double number(GgufFile gguf, String key, double fallback) {
        Object v = gguf.metadata().get(key);
        if (v == null) return fallback;
        if (v instanceof Number n) return n.doubleValue();
        throw new ModelFormatException(gguf.path() + ": '" + key + "' must be a number, got " + v);
    }
}
