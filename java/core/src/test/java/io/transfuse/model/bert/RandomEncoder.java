package io.transfuse.model.bert;

import io.transfuse.loader.SafetensorsWriter;
import io.transfuse.tensor.DType;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPInputStream;

/**
 * Test fixture generator: a small random-weight BERT variant (RoBERTa, XLM-R, DistilBERT, ALBERT,
 * ELECTRA, or BERT itself: {@link #bert}) with an optional task head, as a Hugging Face directory (config.json,
 * model.safetensors, tokenizer.json); {@link #generate} gives the weights alone (the ONNX tests export them). Tensor names and config keys are spelled here as each model's
 * Hugging Face modeling code and config class define them (modeling_distilbert.py, modeling_albert.py,
 * modeling_electra.py, modeling_roberta.py, modeling_bert.py), independently of the graph's
 * {@link BertWeights}. The weights stay available (after any F16 rounding) for {@link VariantReference}.
 *
 * <p>Tokenizers: the WordPiece variants get the real all-MiniLM-L6-v2 tokenizer.json (real ALBERT and
 * XLM-R use SentencePiece Unigram: UnigramEncoderTest swaps such a file in); the RoBERTa/XLM-R fixtures get the
 * real GPT-2 byte-level BPE with a RobertaProcessing post-processor (&lt;|endoftext|&gt; standing in for
 * &lt;s&gt; and &lt;/s&gt;), which is RoBERTa's own tokenizer layout.
 */
public final class RandomEncoder {
    public enum Variant {
        BERT("bert", "bert."), ROBERTA("roberta", "roberta."), XLM_ROBERTA("xlm-roberta", "roberta."),
        DISTILBERT("distilbert", "distilbert."), ALBERT("albert", "albert."), ELECTRA("electra", "electra.");

        final String modelType, prefix;

        Variant(String modelType, String prefix) {
            this.modelType = modelType;
            this.prefix = prefix;
        }

        boolean byteLevel() { return this == ROBERTA || this == XLM_ROBERTA; }
    }

    public final Variant variant;
    public final int vocab, hidden, layers, heads, intermediate, maxPositions, embeddingSize, groups, typeVocab, positionOffset;
    /** The config's activation name ("gelu" or "gelu_new"). */
    public final String hiddenAct;
    /** config.json architectures[0] (a task class, or the bare model class), and the head's labels (null: no head). */
    public String architecture;
    public String[] labels;
    /** Whether a model without a head still names its tensors with the variant's prefix ("bert.", as a checkpoint saved from a task class does). */
    private boolean prefixed;
    public final Map<String, float[]> weights = new LinkedHashMap<>();
    public final Map<String, long[]> shapes = new LinkedHashMap<>();

    public RandomEncoder(Variant variant, int hidden, int layers, int heads, int intermediate, int maxPositions,
                         int embeddingSize, int groups, String hiddenAct) {
        this.variant = variant;
        this.vocab = variant.byteLevel() ? 50257 : 30522;
        this.hidden = hidden;
        this.layers = layers;
        this.heads = heads;
        this.intermediate = intermediate;
        this.maxPositions = maxPositions;
        this.embeddingSize = embeddingSize;
        this.groups = groups;
        this.hiddenAct = hiddenAct;
        this.typeVocab = switch (variant) {
            case DISTILBERT -> 0;
            case ROBERTA, XLM_ROBERTA -> 1;
            default -> 2;
        };
        this.positionOffset = variant.byteLevel() ? 2 : 0; // pad_token_id 1
        this.architecture = switch (variant) {
            case BERT -> "BertModel";
            case ROBERTA -> "RobertaModel";
            case XLM_ROBERTA -> "XLMRobertaModel";
            case DISTILBERT -> "DistilBertModel";
            case ALBERT -> "AlbertModel";
            case ELECTRA -> "ElectraModel";
        };
    }

    /** A plain BERT (gelu, embedding size = hidden size), the fixture most encoder tests start from. */
    public static RandomEncoder bert(int hidden, int layers, int heads, int intermediate, int maxPositions) {
        return new RandomEncoder(Variant.BERT, hidden, layers, heads, intermediate, maxPositions, hidden, 1, "gelu");
    }

    /** Names the bare model's tensors with the variant's prefix ("bert.embeddings..."): the loader must strip it. */
    public RandomEncoder prefixed() {
        this.prefixed = true;
        return this;
    }

    /** The prefix of every tensor name: the variant's for a task model or a {@link #prefixed()} one, else none. */
    public String prefix() {
        return labels != null || prefixed ? variant.prefix : "";
    }

    /** Gives the model a task head: {@code task} "SequenceClassification", "TokenClassification" or "PreTraining" (ELECTRA). */
    public RandomEncoder withHead(String task, String... labels) {
        String cls = architecture.replace("Model", "");
        this.architecture = cls + "For" + task;
        this.labels = labels;
        return this;
    }

    /** Writes the model to dir; matrices (and embeddings) in {@code matrixType} (F32 or F16), vectors in F32. */
    public Path write(Path dir, long seed, DType matrixType) {
        generate(seed, matrixType);
        return writeFiles(dir, matrixType);
    }

    /** Fills {@link #weights} and {@link #shapes} (names with {@link #prefix()}), writing nothing. */
    public void generate(long seed, DType matrixType) {
        Random r = new Random(seed);
        weights.clear();
        shapes.clear();
        String p = prefix();
        int h = hidden, e = embeddingSize;
        add(p + "embeddings.word_embeddings.weight", r, 1f, matrixType, vocab, e);
        add(p + "embeddings.position_embeddings.weight", r, 1f, matrixType, maxPositions, e);
        if (typeVocab > 0) add(p + "embeddings.token_type_embeddings.weight", r, 1f, matrixType, typeVocab, e);
        addNorm(p + "embeddings.LayerNorm", r, e);
        if (variant == Variant.ALBERT) linear(p + "encoder.embedding_hidden_mapping_in", r, 0.3f, matrixType, h, e);
        if (variant == Variant.ELECTRA && e != h) linear(p + "embeddings_project", r, 0.3f, matrixType, h, e);
        int blocks = variant == Variant.ALBERT ? groups : layers;
        for (int l = 0; l < blocks; l++) {
            switch (variant) {
                case DISTILBERT -> {
                    String n = p + "transformer.layer." + l + ".";
                    attention(r, matrixType, n + "attention.q_lin", n + "attention.k_lin", n + "attention.v_lin", n + "attention.out_lin");
                    addNorm(n + "sa_layer_norm", r, h);
                    linear(n + "ffn.lin1", r, 0.3f, matrixType, intermediate, h);
                    linear(n + "ffn.lin2", r, 0.15f, matrixType, h, intermediate);
                    addNorm(n + "output_layer_norm", r, h);
                }
                case ALBERT -> {
                    String n = p + "encoder.albert_layer_groups." + l + ".albert_layers.0.";
                    attention(r, matrixType, n + "attention.query", n + "attention.key", n + "attention.value", n + "attention.dense");
                    addNorm(n + "attention.LayerNorm", r, h);
                    linear(n + "ffn", r, 0.3f, matrixType, intermediate, h);
                    linear(n + "ffn_output", r, 0.15f, matrixType, h, intermediate);
                    addNorm(n + "full_layer_layer_norm", r, h);
                }
                default -> {
                    String n = p + "encoder.layer." + l + ".";
                    attention(r, matrixType, n + "attention.self.query", n + "attention.self.key", n + "attention.self.value",
                            n + "attention.output.dense");
                    addNorm(n + "attention.output.LayerNorm", r, h);
                    linear(n + "intermediate.dense", r, 0.3f, matrixType, intermediate, h);
                    linear(n + "output.dense", r, 0.15f, matrixType, h, intermediate);
                    addNorm(n + "output.LayerNorm", r, h);
                }
            }
        }
        if (labels != null) head(r, matrixType);
    }

    private void head(Random r, DType type) {
        int h = hidden, n = labels.length;
        if (architecture.endsWith("ForTokenClassification")) {
            linear("classifier", r, 0.5f, type, n, h);
            return;
        }
        if (architecture.equals("ElectraForPreTraining")) {
            linear("discriminator_predictions.dense", r, 0.3f, type, h, h);
            linear("discriminator_predictions.dense_prediction", r, 0.5f, type, 1, h);
            return;
        }
        switch (variant) {
            case BERT -> { linear("bert.pooler.dense", r, 0.3f, type, h, h); linear("classifier", r, 0.5f, type, n, h); }
            case ALBERT -> { linear("albert.pooler", r, 0.3f, type, h, h); linear("classifier", r, 0.5f, type, n, h); }
            case DISTILBERT -> { linear("pre_classifier", r, 0.3f, type, h, h); linear("classifier", r, 0.5f, type, n, h); }
            case ROBERTA, XLM_ROBERTA, ELECTRA -> { linear("classifier.dense", r, 0.3f, type, h, h); linear("classifier.out_proj", r, 0.5f, type, n, h); }
        }
    }

    private void attention(Random r, DType type, String q, String k, String v, String o) {
        linear(q, r, 0.4f, type, hidden, hidden);
        linear(k, r, 0.4f, type, hidden, hidden);
        linear(v, r, 0.2f, type, hidden, hidden);
        linear(o, r, 0.2f, type, hidden, hidden);
    }

    private String config() {
        StringBuilder c = new StringBuilder("{\"architectures\": [\"" + architecture + "\"], \"model_type\": \"" + variant.modelType
                + "\", \"vocab_size\": " + vocab + ", \"max_position_embeddings\": " + maxPositions + ", \"pad_token_id\": 1");
        if (variant == Variant.DISTILBERT) {
            c.append(", \"dim\": ").append(hidden).append(", \"n_layers\": ").append(layers).append(", \"n_heads\": ").append(heads)
                    .append(", \"hidden_dim\": ").append(intermediate).append(", \"activation\": \"").append(hiddenAct).append("\"")
                    .append(", \"sinusoidal_pos_embds\": false");
        } else {
            c.append(", \"hidden_size\": ").append(hidden).append(", \"num_hidden_layers\": ").append(layers)
                    .append(", \"num_attention_heads\": ").append(heads).append(", \"intermediate_size\": ").append(intermediate)
                    .append(", \"type_vocab_size\": ").append(typeVocab).append(", \"layer_norm_eps\": 1e-12")
                    .append(", \"hidden_act\": \"").append(hiddenAct).append("\"");
            if (variant == Variant.ALBERT || variant == Variant.ELECTRA) c.append(", \"embedding_size\": ").append(embeddingSize);
            if (variant == Variant.ALBERT) c.append(", \"num_hidden_groups\": ").append(groups).append(", \"inner_group_num\": 1");
        }
        if (labels != null && labels.length > 0 && !architecture.equals("ElectraForPreTraining")) {
            c.append(", \"id2label\": {");
            for (int i = 0; i < labels.length; i++) c.append(i > 0 ? ", " : "").append("\"").append(i).append("\": \"").append(labels[i]).append("\"");
            c.append("}");
        }
        return c.append("}\n").toString();
    }

    private Path writeFiles(Path dir, DType matrixType) {
        try {
            Files.createDirectories(dir);
            SafetensorsWriter w = new SafetensorsWriter();
            for (String name : weights.keySet()) {
                long[] shape = shapes.get(name);
                w.addTensor(name, shape.length == 2 ? matrixType : DType.F32, shape, weights.get(name));
            }
            w.write(dir.resolve("model.safetensors"), s -> { });
            Files.writeString(dir.resolve("config.json"), config());
            Files.write(dir.resolve("tokenizer.json"), tokenizerJson(variant.byteLevel()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }

    /** MiniLM's WordPiece tokenizer.json, or GPT-2's byte-level BPE given RoBERTa's post-processor. */
    public static byte[] tokenizerJson(boolean roberta) throws IOException {
        String file = roberta ? "/tokenizers/gpt2-tokenizer.json.gz" : "/tokenizers/all-minilm-l6-v2-tokenizer.json.gz";
        byte[] json;
        try (InputStream in = new GZIPInputStream(RandomEncoder.class.getResourceAsStream(file))) {
            json = in.readAllBytes();
        }
        if (!roberta) return json;
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        var root = (com.fasterxml.jackson.databind.node.ObjectNode) mapper.readTree(json);
        root.set("post_processor", mapper.readTree("""
                {"type": "RobertaProcessing", "sep": ["<|endoftext|>", 50256], "cls": ["<|endoftext|>", 50256],
                 "trim_offsets": true, "add_prefix_space": false}"""));
        return mapper.writeValueAsBytes(root);
    }

    private void linear(String name, Random r, float scale, DType type, int out, int in) {
        add(name + ".weight", r, scale, type, out, in);
        add(name + ".bias", r, 0.1f, DType.F32, out);
    }

    private void addNorm(String name, Random r, int h) {
        float[] w = new float[h], b = new float[h];
        for (int i = 0; i < h; i++) {
            w[i] = 1 + (r.nextFloat() * 2 - 1) * 0.3f;
            b[i] = (r.nextFloat() * 2 - 1) * 0.2f;
        }
        weights.put(name + ".weight", w);
        shapes.put(name + ".weight", new long[] {h});
        weights.put(name + ".bias", b);
        shapes.put(name + ".bias", new long[] {h});
    }

    private void add(String name, Random r, float scale, DType type, long... shape) {
        long n = 1;
        for (long d : shape) n *= d;
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) {
            float x = (r.nextFloat() * 2 - 1) * scale;
            v[i] = type == DType.F16 ? Float.float16ToFloat(Float.floatToFloat16(x)) : x;
        }
        weights.put(name, v);
        shapes.put(name, shape);
    }
}
