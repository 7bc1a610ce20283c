package io.transfuse.loader;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.tensor.DType;
import io.transfuse.tokenizer.hf.ByteLevelBpeJson;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Random-weight GPT-2 models with the same weights in both layouts Transfuse reads: a Hugging Face
 * {@code GPT2LMHeadModel} directory (config.json, model.safetensors with Conv1D weights [in][out],
 * tokenizer.json) and a GGUF file of architecture gpt2 (llama.cpp's names, Linear weights [out][in], the
 * byte-level vocabulary as tokenizer.ggml.*). The vocabulary is {@link ByteLevelBpeJson}'s (bytes, a few
 * English merges, end-of-text). Weights at a trained model's scales (projections normal(0, 1/sqrt(fan_in)),
 * embeddings 0.5 normal, LayerNorm weights near 1), deterministic in the seed and the tensor's name.
 */
public final class RandomGpt2Model {
    private RandomGpt2Model() {}

    /** A model shape. */
    public record Shape(int dim, int layers, int heads, int ffn, int context) {
        /** 64 wide, 2 layers of 4 heads of 16: runs in milliseconds, for tests. */
        public static final Shape TINY = new Shape(64, 2, 4, 256, 128);

        public Shape {
            if (dim <= 0 || layers <= 0 || heads <= 0 || ffn <= 0 || context <= 0 || dim % heads != 0) {
                throw new IllegalArgumentException("GPT-2 shape sizes must be positive and dim a multiple of heads: " + this);
            }
        }

        public int vocab() { return ByteLevelBpeJson.vocabularySize(ByteLevelBpeJson.ENGLISH_MERGES); }

        public static Shape preset(String name) {
            if (name.equalsIgnoreCase("gpt2-tiny")) return TINY;
            throw new IllegalArgumentException("unknown GPT-2 preset '" + name + "' (known: gpt2-tiny)");
        }
    }

    /**
     * One tensor as a Linear layer sees it ([out][in] for weights), under its Hugging Face and GGUF names;
     * {@code conv1d}: Hugging Face stores it transposed.
     */
    private record Spec(String hf, String gguf, long[] shape, boolean conv1d) {
        int count() { return Math.toIntExact(shape.length == 1 ? shape[0] : shape[0] * shape[1]); }
    }

    private static List<Spec> tensors(Shape s) {
        long d = s.dim(), ff = s.ffn();
        List<Spec> t = new ArrayList<>();
        t.add(new Spec("transformer.wte.weight", "token_embd.weight", new long[] {s.vocab(), d}, false));
        t.add(new Spec("transformer.wpe.weight", "position_embd.weight", new long[] {s.context(), d}, false));
        for (int l = 0; l < s.layers(); l++) {
            String h = "transformer.h." + l + ".", g = "blk." + l + ".";
            t.add(new Spec(h + "ln_1.weight", g + "attn_norm.weight", new long[] {d}, false));
            t.add(new Spec(h + "ln_1.bias", g + "attn_norm.bias", new long[] {d}, false));
            t.add(new Spec(h + "attn.c_attn.weight", g + "attn_qkv.weight", new long[] {3 * d, d}, true));
            t.add(new Spec(h + "attn.c_attn.bias", g + "attn_qkv.bias", new long[] {3 * d}, false));
            t.add(new Spec(h + "attn.c_proj.weight", g + "attn_output.weight", new long[] {d, d}, true));
            t.add(new Spec(h + "attn.c_proj.bias", g + "attn_output.bias", new long[] {d}, false));
            t.add(new Spec(h + "ln_2.weight", g + "ffn_norm.weight", new long[] {d}, false));
            t.add(new Spec(h + "ln_2.bias", g + "ffn_norm.bias", new long[] {d}, false));
            t.add(new Spec(h + "mlp.c_fc.weight", g + "ffn_up.weight", new long[] {ff, d}, true));
            t.add(new Spec(h + "mlp.c_fc.bias", g + "ffn_up.bias", new long[] {ff}, false));
            t.add(new Spec(h + "mlp.c_proj.weight", g + "ffn_down.weight", new long[] {d, ff}, true));
            t.add(new Spec(h + "mlp.c_proj.bias", g + "ffn_down.bias", new long[] {d}, false));
        }
        t.add(new Spec("transformer.ln_f.weight", "output_norm.weight", new long[] {d}, false));
        t.add(new Spec("transformer.ln_f.bias", "output_norm.bias", new long[] {d}, false));
        return t;
    }

    /** The values of tensor t as a Linear layer sees them (row-major [out][in]). */
    private static float[] values(long seed, Spec t) {
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + t.hf().hashCode());
        float[] a = new float[t.count()];
        for (int i = 0; i < a.length; i++) {
            double g = RandomLlamaModel.gaussian(r);
            String n = t.hf();
            double v;
            if (n.contains("ln_") && n.endsWith(".weight")) v = 1 + 0.1 * g;
            else if (n.endsWith(".bias")) v = 0.1 * g;
            else if (n.endsWith("wte.weight") || n.endsWith("wpe.weight")) v = 0.5 * g;
            else v = g / Math.sqrt(t.shape()[1]);
            a[i] = (float) v;
        }
        return a;
    }

    /** [out][in] values as Hugging Face's Conv1D stores them, [in][out]. */
    private static float[] transposed(float[] v, long[] shape) {
        int out = (int) shape[0], in = (int) shape[1];
        float[] t = new float[v.length];
        for (int o = 0; o < out; o++) for (int i = 0; i < in; i++) t[i * out + o] = v[o * in + i];
        return t;
    }

    /** config.json of the shape, as a mutable tree. */
    public static ObjectNode config(Shape s) {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.putArray("architectures").add("GPT2LMHeadModel");
        c.put("model_type", "gpt2");
        c.put("n_embd", s.dim()).put("n_layer", s.layers()).put("n_head", s.heads()).put("n_inner", s.ffn())
                .put("n_positions", s.context()).put("n_ctx", s.context()).put("vocab_size", s.vocab())
                .put("layer_norm_epsilon", 1e-5).put("activation_function", "gelu_new")
                .put("bos_token_id", s.vocab() - 1).put("eos_token_id", s.vocab() - 1).put("tie_word_embeddings", true);
        return c;
    }

    /** Writes config.json, model.safetensors (F32 or F16) and tokenizer.json into {@code directory}. */
    public static void writeHf(Path directory, Shape s, DType type, long seed, Consumer<String> progress) {
        if (type != DType.F32 && type != DType.F16) throw new IllegalArgumentException("GPT-2 directories are written as f32 or f16, not " + type);
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + directory + ": " + e, e);
        }
        RandomMambaModel.writeText(directory.resolve("config.json"), config(s).toPrettyString());
        RandomMambaModel.writeText(directory.resolve("tokenizer.json"), ByteLevelBpeJson.build(ByteLevelBpeJson.ENGLISH_MERGES));
        SafetensorsWriter w = new SafetensorsWriter();
        for (Spec t : tensors(s)) {
            long[] shape = t.conv1d() ? new long[] {t.shape()[1], t.shape()[0]} : t.shape();
            w.addTensor(t.hf(), type, shape, () -> t.conv1d() ? transposed(values(seed, t), t.shape()) : values(seed, t));
        }
        w.write(directory.resolve("model.safetensors"), progress);
    }

    /** Writes a GGUF file (F32, F16 or Q8_0 matrices; vectors F32) of architecture gpt2 with the byte-level vocabulary. */
    public static void writeGguf(Path file, Shape s, DType type, long seed, Consumer<String> progress) {
        if (type != DType.F32 && type != DType.F16 && type != DType.Q8_0) {
            throw new IllegalArgumentException("GPT-2 GGUF files are written as f32, f16 or q8_0, not " + type);
        }
        GgufWriter w = new GgufWriter();
        w.put("general.architecture", "gpt2").put("general.name", "random gpt2 " + s)
                .put("gpt2.context_length", (long) s.context()).put("gpt2.embedding_length", (long) s.dim())
                .put("gpt2.feed_forward_length", (long) s.ffn()).put("gpt2.block_count", (long) s.layers())
                .put("gpt2.attention.head_count", (long) s.heads()).put("gpt2.attention.layer_norm_epsilon", 1e-5f);
        putVocabulary(w);
        for (Spec t : tensors(s)) {
            boolean matrix = t.shape().length == 2 && t.shape()[1] % type.blockSize() == 0;
            w.addTensor(t.gguf(), matrix ? type : DType.F32, t.shape(), () -> values(seed, t));
        }
        w.write(file, progress);
    }

    /** {@link ByteLevelBpeJson}'s vocabulary as GGUF tokenizer metadata (model gpt2, pre-tokenizer gpt-2). */
    static void putVocabulary(GgufWriter w) {
        JsonNode json;
        try {
            json = new ObjectMapper().readTree(ByteLevelBpeJson.build(ByteLevelBpeJson.ENGLISH_MERGES));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        JsonNode vocab = json.path("model").path("vocab");
        int n = vocab.size() + json.path("added_tokens").size();
        String[] tokens = new String[n];
        int[] types = new int[n];
        for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            tokens[e.getValue().asInt()] = e.getKey();
            types[e.getValue().asInt()] = 1;
        }
        for (JsonNode t : json.path("added_tokens")) {
            tokens[t.path("id").asInt()] = t.path("content").asText();
            types[t.path("id").asInt()] = 3;
        }
        List<String> merges = new ArrayList<>();
        for (JsonNode m : json.path("model").path("merges")) merges.add(m.asText());
        w.put("tokenizer.ggml.model", "gpt2").put("tokenizer.ggml.pre", "gpt-2").put("tokenizer.ggml.tokens", tokens)
                .put("tokenizer.ggml.token_type", types).put("tokenizer.ggml.merges", merges.toArray(String[]::new))
                .put("tokenizer.ggml.bos_token_id", (long) (n - 1)).put("tokenizer.ggml.eos_token_id", (long) (n - 1))
                .put("tokenizer.ggml.add_bos_token", false);
    }
}
