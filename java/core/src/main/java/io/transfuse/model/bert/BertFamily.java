package io.transfuse.model.bert;

import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.backend.Activation;
import io.transfuse.backend.Backend;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.ModelSource;
import io.transfuse.loader.WeightFile;
import io.transfuse.loader.onnx.OnnxBert;
import io.transfuse.model.EncoderFamily;
import io.transfuse.model.mobilebert.MobileBertConfig;
import io.transfuse.model.mobilebert.MobileBertModel;
import io.transfuse.model.mobilebert.MobileBertWeights;
import io.transfuse.model.modernbert.ModernEncoderConfig;
import io.transfuse.model.modernbert.ModernEncoderModel;
import io.transfuse.model.modernbert.ModernEncoderWeights;
import io.transfuse.tokenizer.hf.HfTokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Registry entry: BERT-family text encoders (BERT, RoBERTa, XLM-R, DistilBERT, ALBERT, ELECTRA, MiniLM, BGE, E5), from a Hugging Face
 * directory (config.json, model.safetensors, tokenizer.json, optional sentence-transformers modules.json
 * and sentence_bert_config.json) or an ONNX export ({@code model.onnx} with {@code tokenizer.json} beside it).
 */
public final class BertFamily implements EncoderFamily {
    /** Workspace rows per forward pass: a batch of long texts runs in several passes. */
    private static final int WORKSPACE_ROWS = 4096;

    @Override
    public String name() { return "bert"; }

    @Override
    public boolean recognizes(ModelSource source) {
        return source.format() == ModelSource.Format.ONNX
                || (source.format() == ModelSource.Format.HF_DIRECTORY && (BertConfig.MODEL_TYPES.contains(source.architecture())
                        || VARIANT_TYPES.contains(source.architecture())));
    }

    @Override
    public Parts load(ModelSource source, Backend backend, LoadOptions options, EncoderOptions encoder) {
        Parts variant = loadVariant(source, backend, encoder);
        if (variant != null) return variant;
        BertConfig config;
        WeightFile weights;
        if (source.format() == ModelSource.Format.ONNX) {
            OnnxBert onnx = OnnxBert.read(source.path(), source.arena());
            config = onnx.config();
            weights = onnx.weights();
        } else {
            config = BertConfig.read(source.config(), source.configPath());
            weights = source.safetensors();
        }
        Path dir = source.directory();
        HfTokenizer tokenizer = HfTokenizer.load(tokenizerPath(source.path(), dir));
        BertWeights w = BertWeights.from(weights, config);
        int seq = config.maxSequence();
        int rows = Math.max(seq, Math.min(WORKSPACE_ROWS, encoder.batchSize() * seq));
        Pooling pooling = Pooling.read(dir).resolve(encoder);
        BertModel graph = new BertModel(config, w, backend, rows, encoder.batchSize(), source.arena());
        return new Parts(graph, tokenizer, pooling, maxTokens(dir, config, tokenizer));
    }

    /** The task head of a Hugging Face directory's model (config.json architectures), read from its weights. */
    public BertHead head(ModelSource source) {
        BertHead variant = variantHead(source);
        if (variant != null) return variant;
        BertConfig config = BertConfig.read(source.config(), source.configPath());
        WeightFile weights = source.safetensors();
        return BertHead.read(source.config(), source.configPath(), weights, config, BertWeights.from(weights, config).prefix());
    }

    /**
     * Tokens per text: the position table's length, capped by sentence-transformers'
     * {@code max_seq_length} (sentence_bert_config.json) when present, else by the tokenizer's own
     * maximum (tokenizer.json truncation or tokenizer_config.json model_max_length) when it has one.
     */
    static int maxTokens(Path dir, BertConfig config, HfTokenizer tokenizer) {
        int max = config.maxSequence();
        Path st = dir.resolve("sentence_bert_config.json");
        if (Files.isRegularFile(st)) {
            int m = Json.optionalInt(Json.read(st), "max_seq_length", 0, st);
            if (m > 0) return Math.min(max, m);
        }
        return tokenizer.modelMaxLength() > 0 ? Math.min(max, tokenizer.modelMaxLength()) : max;
    }

    /** tokenizer.json in the model directory; for an .onnx file, beside it (or one level up, as in HF repos' onnx/ folders). */
    public static Path tokenizerPath(Path path, Path dir) {
        Path t = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(t) && Files.isRegularFile(path) && dir.getParent() != null
                && Files.isRegularFile(dir.getParent().resolve("tokenizer.json"))) {
            t = dir.getParent().resolve("tokenizer.json");
        }
        if (!Files.isRegularFile(t)) throw new ModelFormatException(path + ": no tokenizer.json " + (Files.isRegularFile(path) ? "beside it" : "in it"));
        return t;
    }

    // ---- BERT variants with graphs of their own (MobileBERT; ModernBERT, nomic-bert, JinaBERT) ----

    /** model_type values read by {@link MobileBertModel} and {@link ModernEncoderModel} (JinaBERT is "bert" with ALiBi). */
    public static final java.util.Set<String> VARIANT_TYPES = java.util.Set.of("mobilebert", "modernbert", "nomic_bert");

    /** The graph of a MobileBERT, ModernBERT, nomic-bert or JinaBERT directory; null for the other BERTs. */
    private static Parts loadVariant(ModelSource source, Backend backend, EncoderOptions encoder) {
        if (source.format() != ModelSource.Format.HF_DIRECTORY) return null;
        com.fasterxml.jackson.databind.JsonNode json = source.config();
        String type = json.path("model_type").asText("");
        if (!type.equals("mobilebert") && !ModernEncoderConfig.reads(json)) return null;
        Path dir = source.directory();
        HfTokenizer tokenizer = HfTokenizer.load(tokenizerPath(source.path(), dir));
        WeightFile weights = source.safetensors();
        Pooling pooling = Pooling.read(dir).resolve(encoder);
        int maxSeq;
        io.transfuse.model.EncoderGraph graph;
        if (type.equals("mobilebert")) {
            MobileBertConfig c = MobileBertConfig.read(json, source.configPath());
            maxSeq = c.maxPositions();
            graph = new MobileBertModel(c, MobileBertWeights.from(weights, c), backend, rows(maxSeq, encoder), encoder.batchSize(), source.arena());
        } else {
            ModernEncoderConfig c = ModernEncoderConfig.read(json, source.configPath());
            // Long-context encoders (8192 positions) run texts up to the tokenizer's or sentence-transformers' limit per pass.
            maxSeq = variantMaxTokens(dir, c.maxSequence(), tokenizer);
            graph = new ModernEncoderModel(c, ModernEncoderWeights.from(weights, c, json, source.configPath()), backend, rows(maxSeq, encoder),
                    encoder.batchSize(), source.arena());
        }
        return new Parts(graph, tokenizer, pooling, variantMaxTokens(dir, maxSeq, tokenizer));
    }

    /**
     * The task head of a MobileBERT, ModernBERT, nomic-bert or JinaBERT directory (the encoder's tensor prefix found as its
     * graph finds it; the weights are views, nothing is copied); null for the other BERTs.
     */
    private static BertHead variantHead(ModelSource source) {
        com.fasterxml.jackson.databind.JsonNode json = source.config();
        String type = json.path("model_type").asText("");
        if (!type.equals("mobilebert") && !ModernEncoderConfig.reads(json)) return null;
        WeightFile weights = source.safetensors();
        if (type.equals("mobilebert")) {
            MobileBertConfig c = MobileBertConfig.read(json, source.configPath());
            Activation act = c.relu() ? Activation.RELU : Activation.GELU_ERF;
            return BertHead.read(json, source.configPath(), weights, type, c.hidden(), act, MobileBertWeights.from(weights, c).prefix());
        }
        ModernEncoderConfig c = ModernEncoderConfig.read(json, source.configPath());
        String prefix = ModernEncoderWeights.from(weights, c, json, source.configPath()).prefix();
        return BertHead.read(json, source.configPath(), weights, type, c.hidden(), c.gluActivation(), prefix);
    }

    private static int rows(int maxSeq, EncoderOptions encoder) {
        return Math.max(maxSeq, Math.min(WORKSPACE_ROWS, encoder.batchSize() * maxSeq));
    }

    /** As {@link #maxTokens}, for a model whose longest input is {@code max}. */
    private static int variantMaxTokens(Path dir, int max, HfTokenizer tokenizer) {
        Path st = dir.resolve("sentence_bert_config.json");
        if (Files.isRegularFile(st)) {
            int m = Json.optionalInt(Json.read(st), "max_seq_length", 0, st);
            if (m > 0) return Math.min(max, m);
        }
        return tokenizer.modelMaxLength() > 0 ? Math.min(max, tokenizer.modelMaxLength()) : max;
    }
}
