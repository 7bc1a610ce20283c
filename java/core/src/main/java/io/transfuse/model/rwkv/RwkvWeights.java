package io.transfuse.model.rwkv;

import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.tensor.Tensor;

import java.util.Arrays;

/**
 * The tensors of an RWKV-6 or RWKV-7 GGUF file under llama.cpp's names (src/llama-arch.cpp: token_embd,
 * token_embd_norm, blk.N.attn_norm / attn_norm_2, blk.N.time_mix_* and channel_mix_*, output_norm, output),
 * checked against the config. Shapes are outermost first (ggml's ne reversed); vectors that llama.cpp declares
 * {n_embd, 1, 1} may be stored with or without the trailing ones. Views into the mapped file.
 */
public record RwkvWeights(Tensor embedding, Tensor embNorm, Tensor embNormBias, Layer[] layers, Tensor outNorm, Tensor outNormBias,
                          Tensor head) {

    /**
     * One block. Both versions: the two layer norms, receptance/key/value/output [dModel][dModel], the group norm
     * ln_x, the channel mix's lerp_k, key [ffn][dModel] and value [dModel][ffn], and lerpFused (RWKV-6: [5][dModel]
     * for w, k, v, r, g; RWKV-7: [6][dModel] for r, w, k, v, a, g). RWKV-6 only (else null): lerpX, mixW1
     * [5 * mixRank][dModel], mixW2 [5][dModel][mixRank], decay (w's bias), decayW1 [decayRank][dModel], decayW2
     * [dModel][decayRank], first (u, [heads][S]), gate, the channel mix's lerp_r and receptance. RWKV-7 only: w0..w2,
     * a0..a2, v0..v2 (layer 0's are unused, as in llama.cpp), g1, g2, kK, kA, rK.
     */
    public record Layer(Tensor attnNorm, Tensor attnNormBias, Tensor ffnNorm, Tensor ffnNormBias, Tensor receptance, Tensor key,
                        Tensor value, Tensor output, Tensor lnX, Tensor lnXBias, Tensor lerpFused, Tensor cmLerpK, Tensor cmKey,
                        Tensor cmValue,
                        // RWKV-6
                        Tensor lerpX, Tensor mixW1, Tensor mixW2, Tensor decay, Tensor decayW1, Tensor decayW2, Tensor first,
                        Tensor gate, Tensor cmLerpR, Tensor cmReceptance,
                        // RWKV-7
                        Tensor w0, Tensor w1, Tensor w2, Tensor a0, Tensor a1, Tensor a2, Tensor v0, Tensor v1, Tensor v2, Tensor g1,
                        Tensor g2, Tensor kK, Tensor kA, Tensor rK) {}

    /** The weights of {@code f}; {@code arena} holds what is assembled at load (older RWKV-6 files' separate lerps). */
    public static RwkvWeights from(GgufFile f, RwkvConfig c, io.transfuse.memory.TrackedArena arena) {
        int dm = c.dModel();
        Tensor emb = f.tensor("token_embd.weight");
        if (emb.rank() != 2 || emb.dim(1) != dm) {
            throw new ModelFormatException(f.path() + ": tensor 'token_embd.weight' has shape " + Arrays.toString(emb.shape())
                    + " but the model config implies [vocab][" + dm + "] (embedding_length)");
        }
        long vocab = emb.dim(0);
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) layers[l] = c.version() == 6 ? layer6(f, c, l, arena) : layer7(f, c, l);
        return new RwkvWeights(emb, vec(f, "token_embd_norm.weight", dm), vec(f, "token_embd_norm.bias", dm), layers,
                vec(f, "output_norm.weight", dm), vec(f, "output_norm.bias", dm), get(f, "output.weight", vocab, dm));
    }

    private static Layer layer6(GgufFile f, RwkvConfig c, int l, io.transfuse.memory.TrackedArena arena) {
        int dm = c.dModel(), mr = c.mixRank(), dr = c.decayRank();
        String p = "blk." + l + ".";
        Tensor fused = f.tensors().containsKey(p + "time_mix_lerp_fused.weight") ? get(f, p + "time_mix_lerp_fused.weight", 5, dm)
                : separateLerps(f, p, dm, arena);
        return new Layer(vec(f, p + "attn_norm.weight", dm), vec(f, p + "attn_norm.bias", dm), vec(f, p + "attn_norm_2.weight", dm),
                vec(f, p + "attn_norm_2.bias", dm), get(f, p + "time_mix_receptance.weight", dm, dm), get(f, p + "time_mix_key.weight", dm, dm),
                get(f, p + "time_mix_value.weight", dm, dm), get(f, p + "time_mix_output.weight", dm, dm), vec(f, p + "time_mix_ln.weight", dm),
                vec(f, p + "time_mix_ln.bias", dm), fused, vec(f, p + "channel_mix_lerp_k.weight", dm),
                get(f, p + "channel_mix_key.weight", c.ffn(), dm), get(f, p + "channel_mix_value.weight", dm, c.ffn()),
                vec(f, p + "time_mix_lerp_x.weight", dm), get(f, p + "time_mix_w1.weight", 5L * mr, dm),
                get(f, p + "time_mix_w2.weight", 5, dm, mr), vec(f, p + "time_mix_decay.weight", dm),
                get(f, p + "time_mix_decay_w1.weight", dr, dm), get(f, p + "time_mix_decay_w2.weight", dm, dr),
                get(f, p + "time_mix_first.weight", c.heads(), c.headSize()), get(f, p + "time_mix_gate.weight", dm, dm),
                vec(f, p + "channel_mix_lerp_r.weight", dm), get(f, p + "channel_mix_receptance.weight", dm, dm),
                null, null, null, null, null, null, null, null, null, null, null, null, null, null);
    }

    /** Older RWKV-6 files keep the five lerps apart (time_mix_lerp_w/k/v/r/g): they are read as one [5][dModel] host copy. */
    private static Tensor separateLerps(GgufFile f, String p, int dm, io.transfuse.memory.TrackedArena arena) {
        float[] all = new float[5 * dm];
        String[] names = {"w", "k", "v", "r", "g"};
        for (int i = 0; i < 5; i++) {
            float[] one = io.transfuse.tensor.Dequantize.toFloats(vec(f, p + "time_mix_lerp_" + names[i] + ".weight", dm));
            System.arraycopy(one, 0, all, i * dm, dm);
        }
        java.lang.foreign.MemorySegment seg = arena.allocateFloats(all.length);
        java.lang.foreign.MemorySegment.copy(all, 0, seg, java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, all.length);
        return new Tensor(p + "time_mix_lerp_fused (from time_mix_lerp_w/k/v/r/g)", io.transfuse.tensor.DType.F32, new long[] {5, dm}, seg);
    }

    private static Layer layer7(GgufFile f, RwkvConfig c, int l) {
        int dm = c.dModel(), dr = c.decayRank(), ar = c.aRank(), vr = l == 0 ? c.aRank() : c.vRank(), gr = c.gateRank();
        String p = "blk." + l + ".";
        return new Layer(vec(f, p + "attn_norm.weight", dm), vec(f, p + "attn_norm.bias", dm), vec(f, p + "attn_norm_2.weight", dm),
                vec(f, p + "attn_norm_2.bias", dm), get(f, p + "time_mix_receptance.weight", dm, dm), get(f, p + "time_mix_key.weight", dm, dm),
                get(f, p + "time_mix_value.weight", dm, dm), get(f, p + "time_mix_output.weight", dm, dm), vec(f, p + "time_mix_ln.weight", dm),
                vec(f, p + "time_mix_ln.bias", dm), get(f, p + "time_mix_lerp_fused.weight", 6, dm), vec(f, p + "channel_mix_lerp_k.weight", dm),
                get(f, p + "channel_mix_key.weight", c.ffn(), dm), get(f, p + "channel_mix_value.weight", dm, c.ffn()),
                null, null, null, null, null, null, null, null, null, null,
                vec(f, p + "time_mix_w0.weight", dm), get(f, p + "time_mix_w1.weight", dr, dm), get(f, p + "time_mix_w2.weight", dm, dr),
                vec(f, p + "time_mix_a0.weight", dm), get(f, p + "time_mix_a1.weight", ar, dm), get(f, p + "time_mix_a2.weight", dm, ar),
                vec(f, p + "time_mix_v0.weight", dm), get(f, p + "time_mix_v1.weight", vr, dm), get(f, p + "time_mix_v2.weight", dm, vr),
                get(f, p + "time_mix_g1.weight", gr, dm), get(f, p + "time_mix_g2.weight", dm, gr), vec(f, p + "time_mix_k_k.weight", dm),
                vec(f, p + "time_mix_k_a.weight", dm), vec(f, p + "time_mix_r_k.weight", dm));
    }

    /** A vector of n values (stored [n], or with leading ones), as [n]. */
    private static Tensor vec(GgufFile f, String name, long n) {
        return get(f, name, n).reshape(n);
    }

    /** The tensor with {@code shape}, where the file may add leading dimensions of one (ggml's trailing ones); reshaped to it. */
    private static Tensor get(GgufFile f, String name, long... shape) {
        Tensor t = f.tensor(name);
        long[] s = t.shape();
        int lead = s.length - shape.length;
        boolean ok = lead >= 0;
        for (int i = 0; ok && i < lead; i++) ok = s[i] == 1;
        for (int i = 0; ok && i < shape.length; i++) ok = s[lead + i] == shape[i];
        // [5][1][1][dm]: ones inside are ggml's padding too
        if (!ok) ok = Arrays.stream(s).filter(d -> d != 1).toArray().length == Arrays.stream(shape).filter(d -> d != 1).toArray().length
                && Arrays.equals(Arrays.stream(s).filter(d -> d != 1).toArray(), Arrays.stream(shape).filter(d -> d != 1).toArray());
        if (!ok) {
            throw new ModelFormatException(f.path() + ": tensor '" + name + "' has shape " + Arrays.toString(s)
                    + " but the model config implies " + Arrays.toString(shape));
        }
        return t.rank() == shape.length ? t : t.reshape(shape);
    }
}
