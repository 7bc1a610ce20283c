package io.transfuse.model.llama;

import io.transfuse.loader.WeightFile;
import io.transfuse.tensor.Tensor;

/** The tensors of a Llama decoder, checked against its config. Views into the mapped file. */
public record LlamaWeights(Tensor tokenEmbedding, Layer[] layers, Tensor outputNorm, Tensor output) {

    public record Layer(Tensor attnNorm, Tensor wq, Tensor wk, Tensor wv, Tensor wo,
                        Tensor ffnNorm, Tensor wGate, Tensor wUp, Tensor wDown) {}

    /** Tensor names of one file format; {@code %d} stands for the layer index. */
    public record Names(String tokenEmbedding, String attnNorm, String wq, String wk, String wv, String wo,
                        String ffnNorm, String wGate, String wUp, String wDown, String outputNorm, String output) {
        public static final Names GGUF = new Names("token_embd.weight", "blk.%d.attn_norm.weight",
                "blk.%d.attn_q.weight", "blk.%d.attn_k.weight", "blk.%d.attn_v.weight", "blk.%d.attn_output.weight",
                "blk.%d.ffn_norm.weight", "blk.%d.ffn_gate.weight", "blk.%d.ffn_up.weight", "blk.%d.ffn_down.weight",
                "output_norm.weight", "output.weight");
        public static final Names HF = new Names("model.embed_tokens.weight", "model.layers.%d.input_layernorm.weight",
                "model.layers.%d.self_attn.q_proj.weight", "model.layers.%d.self_attn.k_proj.weight",
                "model.layers.%d.self_attn.v_proj.weight", "model.layers.%d.self_attn.o_proj.weight",
                "model.layers.%d.post_attention_layernorm.weight", "model.layers.%d.mlp.gate_proj.weight",
                "model.layers.%d.mlp.up_proj.weight", "model.layers.%d.mlp.down_proj.weight",
                "model.norm.weight", "lm_head.weight");
    }

    /** Looks up every tensor and checks its shape; the output head falls back to the embedding (tied). */
    public static LlamaWeights from(WeightFile file, Names names, LlamaConfig c) {
        int kv = c.kvDim();
        Tensor embedding = file.tensor(names.tokenEmbedding, c.vocabSize(), c.dim());
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer(
                    file.tensor(names.attnNorm.formatted(l), c.dim()),
                    file.tensor(names.wq.formatted(l), c.dim(), c.dim()),
                    file.tensor(names.wk.formatted(l), kv, c.dim()),
                    file.tensor(names.wv.formatted(l), kv, c.dim()),
                    file.tensor(names.wo.formatted(l), c.dim(), c.dim()),
                    file.tensor(names.ffnNorm.formatted(l), c.dim()),
                    file.tensor(names.wGate.formatted(l), c.hiddenDim(), c.dim()),
                    file.tensor(names.wUp.formatted(l), c.hiddenDim(), c.dim()),
                    file.tensor(names.wDown.formatted(l), c.dim(), c.hiddenDim()));
        }
        Tensor outputNorm = file.tensor(names.outputNorm, c.dim());
        Tensor output = file.tensors().containsKey(names.output)
                ? file.tensor(names.output, c.vocabSize(), c.dim())
                : embedding;
        return new LlamaWeights(embedding, layers, outputNorm, output);
    }
}
