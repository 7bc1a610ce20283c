package io.transfuse.model.gpt2;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.WeightFile;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The tensors of a GPT-2 decoder, checked against its config. Linear weights are [out][in]: GGUF stores
 * them so (views into the mapped file); Hugging Face's GPT-2 uses Conv1D modules, whose weights are
 * [in][out], so those are transposed once at load (an F32 copy in the model's arena).
 *
 * @param output the head, or the token embedding when tied
 */
public record Gpt2Weights(Tensor tokenEmbedding, Tensor positionEmbedding, Layer[] layers, Tensor normF, Tensor normFBias,
                          Tensor output) {

    /**
     * One block's tensors.
     *
     * @param wqkv the fused attention input projection [3 dim][dim] (q rows, then k, then v), bias {@code bqkv} [3 dim]
     */
    public record Layer(Tensor ln1, Tensor ln1Bias, Tensor wqkv, Tensor bqkv, Tensor wo, Tensor bo, Tensor ln2, Tensor ln2Bias,
                        Tensor wUp, Tensor bUp, Tensor wDown, Tensor bDown) {}

    /** llama.cpp's GGUF names for architecture gpt2. */
    public static Gpt2Weights fromGguf(WeightFile f, Gpt2Config c) {
        int d = c.dim(), ff = c.ffn();
        Tensor emb = f.tensor("token_embd.weight", c.vocabSize(), d);
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            String p = "blk." + l + ".";
            layers[l] = new Layer(f.tensor(p + "attn_norm.weight", d), f.tensor(p + "attn_norm.bias", d),
                    f.tensor(p + "attn_qkv.weight", 3L * d, d), f.tensor(p + "attn_qkv.bias", 3L * d),
                    f.tensor(p + "attn_output.weight", d, d), f.tensor(p + "attn_output.bias", d),
                    f.tensor(p + "ffn_norm.weight", d), f.tensor(p + "ffn_norm.bias", d),
                    f.tensor(p + "ffn_up.weight", ff, d), f.tensor(p + "ffn_up.bias", ff),
                    f.tensor(p + "ffn_down.weight", d, ff), f.tensor(p + "ffn_down.bias", d));
        }
        Tensor output = f.tensors().containsKey("output.weight") ? f.tensor("output.weight", c.vocabSize(), d) : emb;
        return new Gpt2Weights(emb, f.tensor("position_embd.weight", c.context(), d), layers, f.tensor("output_norm.weight", d),
                f.tensor("output_norm.bias", d), output);
    }

    /** Prefixes under which Hugging Face checkpoints store the model (GPT2LMHeadModel: "transformer."; GPT2Model: none). */
    private static final List<String> HF_PREFIXES = List.of("transformer.", "");

    /** Hugging Face GPT2LMHeadModel names; Conv1D weights transposed into {@code arena}. */
    public static Gpt2Weights fromHf(WeightFile f, Gpt2Config c, TrackedArena arena) {
        String pre = HF_PREFIXES.stream().filter(x -> f.tensors().containsKey(x + "wte.weight")).findFirst()
                .orElseThrow(() -> new ModelFormatException(f.path() + ": tensor 'transformer.wte.weight' is missing"));
        int d = c.dim(), ff = c.ffn();
        Tensor emb = f.tensor(pre + "wte.weight", c.vocabSize(), d);
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            String p = pre + "h." + l + ".";
            layers[l] = new Layer(f.tensor(p + "ln_1.weight", d), f.tensor(p + "ln_1.bias", d),
                    transposed(f.tensor(p + "attn.c_attn.weight", d, 3L * d), arena), f.tensor(p + "attn.c_attn.bias", 3L * d),
                    transposed(f.tensor(p + "attn.c_proj.weight", d, d), arena), f.tensor(p + "attn.c_proj.bias", d),
                    f.tensor(p + "ln_2.weight", d), f.tensor(p + "ln_2.bias", d),
                    transposed(f.tensor(p + "mlp.c_fc.weight", d, ff), arena), f.tensor(p + "mlp.c_fc.bias", ff),
                    transposed(f.tensor(p + "mlp.c_proj.weight", ff, d), arena), f.tensor(p + "mlp.c_proj.bias", d));
        }
        Tensor output = f.tensors().containsKey("lm_head.weight") ? f.tensor("lm_head.weight", c.vocabSize(), d) : emb;
        return new Gpt2Weights(emb, f.tensor(pre + "wpe.weight", c.context(), d), layers, f.tensor(pre + "ln_f.weight", d),
                f.tensor(pre + "ln_f.bias", d), output);
    }

    /** A Conv1D weight [in][out] as a Linear weight [out][in], F32. */
    static Tensor transposed(Tensor w, TrackedArena arena) {
        int in = Math.toIntExact(w.rows()), out = Math.toIntExact(w.cols());
        float[] src = Dequantize.toFloats(w);
        MemorySegment dst = arena.allocateFloats((long) in * out);
        for (int i = 0; i < in; i++) {
            for (int o = 0; o < out; o++) dst.setAtIndex(ValueLayout.JAVA_FLOAT, (long) o * in + i, src[i * out + o]);
        }
        return new Tensor(w.name() + " (transposed)", DType.F32, new long[] {out, in}, dst);
    }
}
