package io.transfuse.model.llama;

import io.transfuse.loader.WeightFile;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The tensors of a Llama-family decoder, checked against its config: views into the mapped file, split views
 * of fused matrices (Phi-3), and shifted copies of Gemma's norm weights from Hugging Face files. Optional parts
 * are null when the variant has none.
 */
public record LlamaWeights(Tensor tokenEmbedding, Layer[] layers, Tensor outputNorm, Tensor output) {

    /**
     * One block. {@code bq/bk/bv}: Q/K/V biases (Qwen2); {@code qNorm/kNorm} [headDim]: per-head norms (Qwen3,
     * Gemma 3); {@code postAttnNorm/postFfnNorm}: sandwich norms on the block outputs (Gemma 2/3).
     */
    public record Layer(Tensor attnNorm, Tensor wq, Tensor wk, Tensor wv, Tensor bq, Tensor bk, Tensor bv,
                        Tensor qNorm, Tensor kNorm, Tensor wo, Tensor postAttnNorm,
                        Tensor ffnNorm, Tensor wGate, Tensor wUp, Tensor wDown, Tensor postFfnNorm) {}

    /** Tensor names of one file format; {@code %d} stands for the layer index; fused names are Phi-3's. */
    public record Names(String tokenEmbedding, String attnNorm, String wq, String wk, String wv, String wqkv,
                        String qNorm, String kNorm, String wo, String postAttnNorm, String ffnNorm,
                        String wGate, String wUp, String wGateUp, String wDown, String postFfnNorm, String outputNorm, String output) {
        /** llama.cpp's names (its Phi-3 graph keeps the fused gate/up under ffn_up). */
        public static final Names GGUF = new Names("token_embd.weight", "blk.%d.attn_norm.weight",
                "blk.%d.attn_q.weight", "blk.%d.attn_k.weight", "blk.%d.attn_v.weight", "blk.%d.attn_qkv.weight",
                "blk.%d.attn_q_norm.weight", "blk.%d.attn_k_norm.weight", "blk.%d.attn_output.weight",
                "blk.%d.post_attention_norm.weight", "blk.%d.ffn_norm.weight",
                "blk.%d.ffn_gate.weight", "blk.%d.ffn_up.weight", "blk.%d.ffn_up.weight", "blk.%d.ffn_down.weight",
                "blk.%d.post_ffw_norm.weight", "output_norm.weight", "output.weight");
        /** Hugging Face's names; Gemma 2/3 call the pre-FFN norm pre_feedforward_layernorm ({@link #hf}). */
        public static final Names HF = new Names("model.embed_tokens.weight", "model.layers.%d.input_layernorm.weight",
                "model.layers.%d.self_attn.q_proj.weight", "model.layers.%d.self_attn.k_proj.weight",
                "model.layers.%d.self_attn.v_proj.weight", "model.layers.%d.self_attn.qkv_proj.weight",
                "model.layers.%d.self_attn.q_norm.weight", "model.layers.%d.self_attn.k_norm.weight",
                "model.layers.%d.self_attn.o_proj.weight", "model.layers.%d.post_attention_layernorm.weight",
                "model.layers.%d.post_attention_layernorm.weight", "model.layers.%d.mlp.gate_proj.weight",
                "model.layers.%d.mlp.up_proj.weight", "model.layers.%d.mlp.gate_up_proj.weight",
                "model.layers.%d.mlp.down_proj.weight", "model.layers.%d.post_feedforward_layernorm.weight",
                "model.norm.weight", "lm_head.weight");

        /** Hugging Face's names for {@code v}. */
        public static Names hf(LlamaVariant v) {
            if (!v.sandwichNorms()) return HF;
            return new Names(HF.tokenEmbedding, HF.attnNorm, HF.wq, HF.wk, HF.wv, HF.wqkv, HF.qNorm, HF.kNorm, HF.wo,
                    HF.postAttnNorm, "model.layers.%d.pre_feedforward_layernorm.weight", HF.wGate, HF.wUp, HF.wGateUp, HF.wDown,
                    HF.postFfnNorm, HF.outputNorm, HF.output);
        }

        /** The bias beside a weight ("....q_proj.bias" for "....q_proj.weight"). */
        public String bias(String weightName) { return weightName.replace(".weight", ".bias"); }
    }

    /**
     * Looks up every tensor and checks its shape; the output head falls back to the embedding (tied).
     * {@code shiftNorms}: the file stores Gemma's w where the graph multiplies by 1 + w (Hugging Face); the shifted
     * copies go to {@code arena}.
     */
    public static LlamaWeights from(WeightFile file, Names names, LlamaConfig c, boolean shiftNorms, TrackedArena arena) {
        LlamaVariant v = c.variant();
        int dim = c.dim(), q = c.qDim(), kv = c.kvDim(), ff = c.hiddenDim();
        Norms norms = new Norms(file, shiftNorms && v.normPlusOne(), arena);
        Tensor embedding = file.tensor(names.tokenEmbedding, c.vocabSize(), dim);
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            Tensor wq, wk, wv, wGate, wUp;
            if (v.fusedProjections()) {
                Tensor qkv = file.tensor(names.wqkv.formatted(l), q + 2L * kv, dim);
                wq = qkv.rows(0, q);
                wk = qkv.rows(q, kv);
                wv = qkv.rows(q + kv, kv);
                Tensor gateUp = file.tensor(names.wGateUp.formatted(l), 2L * ff, dim);
                wGate = gateUp.rows(0, ff);
                wUp = gateUp.rows(ff, ff);
            } else {
                wq = file.tensor(names.wq.formatted(l), q, dim);
                wk = file.tensor(names.wk.formatted(l), kv, dim);
                wv = file.tensor(names.wv.formatted(l), kv, dim);
                wGate = file.tensor(names.wGate.formatted(l), ff, dim);
                wUp = file.tensor(names.wUp.formatted(l), ff, dim);
            }
            boolean bias = v.qkvBias(), qkNorm = v.qkNorm(), sandwich = v.sandwichNorms();
            layers[l] = new Layer(
                    norms.get(names.attnNorm.formatted(l), dim),
                    wq, wk, wv,
                    bias ? file.tensor(names.bias(names.wq).formatted(l), q) : null,
                    bias ? file.tensor(names.bias(names.wk).formatted(l), kv) : null,
                    bias ? file.tensor(names.bias(names.wv).formatted(l), kv) : null,
                    qkNorm ? norms.get(names.qNorm.formatted(l), c.headDim()) : null,
                    qkNorm ? norms.get(names.kNorm.formatted(l), c.headDim()) : null,
                    file.tensor(names.wo.formatted(l), dim, q),
                    sandwich ? norms.get(names.postAttnNorm.formatted(l), dim) : null,
                    norms.get(names.ffnNorm.formatted(l), dim),
                    wGate, wUp,
                    file.tensor(names.wDown.formatted(l), dim, ff),
                    sandwich ? norms.get(names.postFfnNorm.formatted(l), dim) : null);
        }
        Tensor outputNorm = norms.get(names.outputNorm, dim);
        Tensor output = !v.tiedHead() && file.tensors().containsKey(names.output)
                ? file.tensor(names.output, c.vocabSize(), dim)
                : embedding;
        return new LlamaWeights(embedding, layers, outputNorm, output);
    }

    /** Norm weights as stored, or as 1 + w in F32 copies (Gemma from Hugging Face). */
    private record Norms(WeightFile file, boolean shift, TrackedArena arena) {
        Tensor get(String name, long size) {
            Tensor t = file.tensor(name, size);
            if (!shift) return t;
            float[] w = Dequantize.toFloats(t);
            MemorySegment out = arena.allocateFloats(w.length);
            for (int i = 0; i < w.length; i++) out.setAtIndex(ValueLayout.JAVA_FLOAT, i, 1 + w[i]);
            return new Tensor(name + " (1 + w)", DType.F32, t.shape(), out);
        }
    }
}
