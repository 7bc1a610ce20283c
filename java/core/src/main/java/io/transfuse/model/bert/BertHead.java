package io.transfuse.model.bert;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.backend.Activation;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.WeightFile;
import io.transfuse.tensor.Dequantize;
import io.transfuse.tensor.Tensor;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * The task head a Hugging Face {@code *ForSequenceClassification}, {@code *ForTokenClassification} or
 * {@code ElectraForPreTraining} checkpoint puts on the encoder, applied to its last hidden state:
 * {@code logits = W2 norm(act(W1 h + b1)) + b2} (or {@code W2 h + b2} without the first layer; the norm only in
 * ModernBERT's head). Which layers and activation, by the modeling code of each model type:
 * <pre>
 *   sequence  bert        h = [CLS]   W1 = bert.pooler.dense, tanh;   W2 = classifier
 *             albert      h = [CLS]   W1 = albert.pooler, tanh;       W2 = classifier
 *             roberta, xlm-roberta, camembert
 *                         h = &lt;s&gt;     W1 = classifier.dense, tanh;   W2 = classifier.out_proj
 *             electra     h = [CLS]   W1 = classifier.dense, gelu;   W2 = classifier.out_proj
 *             distilbert  h = [CLS]   W1 = pre_classifier, relu;     W2 = classifier
 *             mobilebert  h = [CLS]   W1 = mobilebert.pooler.dense, tanh (only with classifier_activation); W2 = classifier
 *             nomic_bert, JinaBERT (bert + ALiBi)
 *                         h = [CLS]   W1 = bert.pooler.dense, tanh;   W2 = classifier
 *             modernbert  h = [CLS] or the mean of all rows (classifier_pooling)
 *                                     W1 = head.dense (bias: classifier_bias), classifier_activation,
 *                                     LayerNorm head.norm (bias: norm_bias, eps: norm_eps);  W2 = classifier
 *   token     modernbert  every h     W1, act, norm as above (ModernBertPredictionHead);  W2 = classifier
 *             the others  every h     W2 = classifier
 *   replaced  electra     every h     W1 = discriminator_predictions.dense, hidden_act;
 *                                     W2 = discriminator_predictions.dense_prediction (one logit)
 * </pre>
 * The head is a few hundred thousand multiply-adds per text, so it runs on the host, in double
 * precision, over the hidden state the graph returns (whatever the device).
 */
public final class BertHead {
    /** What the head scores. */
    public enum Kind {
        /** One label distribution per text (or text pair): classification, cross-encoder reranking. */
        SEQUENCE,
        /** One label distribution per token: named entities, part of speech. */
        TOKEN,
        /** ELECTRA's discriminator: one logit per token, positive where the token looks replaced. */
        REPLACED_TOKEN
    }

    /** Which rows of a text a sequence head reads: the first token ([CLS] / &lt;s&gt;) or the mean of all of them. */
    public enum Pool { FIRST, MEAN }

    /** A pre-classifier layer's activation. */
    private enum Act { NONE, TANH, RELU, GELU_ERF, GELU_TANH, SILU }

    /** The layers between the hidden state and the classifier, by tensor name (null where the model has none). */
    private record Layout(Kind kind, String dense, boolean denseBias, Act act, String norm, boolean normBias, double eps,
                          String classifier, Pool pool) {}

    private final Kind kind;
    private final String[] labels;
    private final boolean multiLabel;
    private final float[] w1, b1, normW, normB, w2, b2;
    private final Act act;
    private final double eps;
    private final Pool pool;
    private final int hidden;

    private BertHead(Kind kind, String[] labels, boolean multiLabel, float[] w1, float[] b1, Act act, float[] normW, float[] normB,
                     double eps, float[] w2, float[] b2, Pool pool, int hidden) {
        this.kind = kind;
        this.labels = labels;
        this.multiLabel = multiLabel;
        this.w1 = w1;
        this.b1 = b1;
        this.act = act;
        this.normW = normW;
        this.normB = normB;
        this.eps = eps;
        this.w2 = w2;
        this.b2 = b2;
        this.pool = pool;
        this.hidden = hidden;
    }

    public Kind kind() { return kind; }

    /** How a sequence head pools a text's rows. */
    public Pool pool() { return pool; }

    /** Label names by logit index (config.json {@code id2label}, else LABEL_i). */
    public String[] labels() { return labels.clone(); }

    /**
     * Whether scores are independent sigmoids ({@code problem_type} multi_label_classification, a single
     * logit as cross-encoders have, or the replaced-token logit) rather than a softmax over the labels.
     */
    public boolean sigmoid() { return multiLabel || labels.length == 1; }

    /**
     * Reads the head of a model of the one BERT graph whose config.json {@code architectures} names the task.
     *
     * @param prefix the encoder's tensor prefix ({@link BertWeights#prefix()}: "bert.", "distilbert.", ...)
     */
    public static BertHead read(JsonNode config, Path configPath, WeightFile file, BertConfig c, String prefix) {
        return read(config, configPath, file, c.modelType(), c.hidden(), c.activation(), prefix);
    }

    /**
     * Reads the head of any BERT-family encoder (also MobileBERT, ModernBERT, nomic-bert and JinaBERT, whose graphs are their own).
     *
     * @param modelType config.json model_type (JinaBERT: "bert")
     * @param hidden    width of the encoder's last hidden state
     * @param hiddenAct the encoder's feed-forward activation (ELECTRA's discriminator head uses it)
     * @param prefix    the encoder's tensor prefix in this checkpoint ("bert.", "mobilebert.", "model.", ...)
     */
    public static BertHead read(JsonNode config, Path configPath, WeightFile file, String modelType, int hidden, Activation hiddenAct, String prefix) {
        Layout layout = layout(config, configPath, modelType, hiddenAct, prefix);
        int h = hidden;
        String second = layout.classifier();
        Tensor out = file.tensor(second + ".weight");
        if (out.shape().length != 2 || out.cols() != h) {
            throw new ModelFormatException(file.path() + ": tensor '" + second + ".weight' has shape " + java.util.Arrays.toString(out.shape())
                    + " but the model config implies [labels][" + h + "]");
        }
        int n = Math.toIntExact(out.rows());
        Kind kind = layout.kind();
        String[] labels = labels(config, configPath, n, kind);
        float[] w1 = null, b1 = null, normW = null, normB = null;
        if (layout.dense() != null) {
            w1 = Dequantize.toFloats(file.tensor(layout.dense() + ".weight", h, h));
            b1 = layout.denseBias() ? Dequantize.toFloats(file.tensor(layout.dense() + ".bias", h)) : new float[h];
        }
        if (layout.norm() != null) {
            normW = Dequantize.toFloats(file.tensor(layout.norm() + ".weight", h));
            normB = layout.normBias() ? Dequantize.toFloats(file.tensor(layout.norm() + ".bias", h)) : new float[h];
        }
        boolean multi = config.path("problem_type").asText("").equals("multi_label_classification") || kind == Kind.REPLACED_TOKEN;
        return new BertHead(kind, labels, multi, w1, b1, layout.act(), normW, normB, layout.eps(), Dequantize.toFloats(out),
                Dequantize.toFloats(file.tensor(second + ".bias", n)), layout.pool(), h);
    }

    /** The head's layers for the architecture config.json names, per the modeling code of its model type (table above). */
    private static Layout layout(JsonNode config, Path configPath, String modelType, Activation hiddenAct, String prefix) {
        String arch = config.path("architectures").path(0).asText("");
        if (modelType.equals("modernbert")) return modernBert(config, configPath, arch);
        if (arch.endsWith("ForSequenceClassification")) {
            return switch (modelType) {
                case "bert", "nomic_bert" -> sequence(prefix + "pooler.dense", Act.TANH, "classifier");
                case "albert" -> sequence(prefix + "pooler", Act.TANH, "classifier");
                case "roberta", "xlm-roberta", "camembert" -> sequence("classifier.dense", Act.TANH, "classifier.out_proj");
                case "electra" -> sequence("classifier.dense", Act.GELU_ERF, "classifier.out_proj");
                case "distilbert" -> sequence("pre_classifier", Act.RELU, "classifier");
                // MobileBertPooler applies its dense + tanh only with classifier_activation (default true); else [CLS] as is.
                case "mobilebert" -> bool(config, "classifier_activation", true, configPath)
                        ? sequence(prefix + "pooler.dense", Act.TANH, "classifier") : sequence(null, Act.NONE, "classifier");
                default -> throw new ModelFormatException(configPath + ": no sequence-classification head is known for model_type '" + modelType + "'");
            };
        }
        if (arch.endsWith("ForTokenClassification")) return new Layout(Kind.TOKEN, null, false, Act.NONE, null, false, 0, "classifier", Pool.FIRST);
        if (arch.equals("ElectraForPreTraining")) {
            return new Layout(Kind.REPLACED_TOKEN, "discriminator_predictions.dense", true, hiddenAct == Activation.GELU_TANH ? Act.GELU_TANH : Act.GELU_ERF,
                    null, false, 0, "discriminator_predictions.dense_prediction", Pool.FIRST);
        }
        throw noHead(configPath, arch);
    }

    private static Layout sequence(String dense, Act act, String classifier) {
        return new Layout(Kind.SEQUENCE, dense, true, act, null, false, 0, classifier, Pool.FIRST);
    }

    /** ModernBertPredictionHead (dense, classifier_activation, LayerNorm) before the classifier, on the pooled or every row. */
    private static Layout modernBert(JsonNode config, Path configPath, String arch) {
        Kind kind;
        if (arch.equals("ModernBertForSequenceClassification")) kind = Kind.SEQUENCE;
        else if (arch.equals("ModernBertForTokenClassification")) kind = Kind.TOKEN;
        else throw noHead(configPath, arch);
        String pooling = config.path("classifier_pooling").asText("cls");
        Pool pool = switch (pooling) {
            case "cls" -> Pool.FIRST;
            case "mean" -> Pool.MEAN;
            default -> throw new ModelFormatException(configPath + ": classifier_pooling '" + pooling + "' is not supported (cls, mean)");
        };
        return new Layout(kind, "head.dense", bool(config, "classifier_bias", false, configPath),
                activation(config.path("classifier_activation").asText("gelu"), configPath), "head.norm",
                bool(config, "norm_bias", false, configPath), Json.optionalNumber(config, "norm_eps", 1e-5, configPath), "classifier", pool);
    }

    /** transformers' ACT2FN names a head may use. */
    private static Act activation(String name, Path configPath) {
        return switch (name) {
            case "gelu" -> Act.GELU_ERF;
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> Act.GELU_TANH;
            case "relu" -> Act.RELU;
            case "silu", "swish" -> Act.SILU;
            case "tanh" -> Act.TANH;
            case "linear", "identity" -> Act.NONE;
            default -> throw new ModelFormatException(configPath + ": classifier_activation '" + name
                    + "' is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu, silu, tanh, linear)");
        };
    }

    private static ModelFormatException noHead(Path configPath, String arch) {
        return new ModelFormatException(configPath + ": architectures '" + arch + "' has no classification head"
                + " (expected *ForSequenceClassification, *ForTokenClassification or ElectraForPreTraining)");
    }

    private static boolean bool(JsonNode c, String key, boolean fallback, Path file) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) return fallback;
        if (!v.isBoolean()) throw new ModelFormatException(file + ": '" + key + "' must be true or false, got " + v);
        return v.booleanValue();
    }

    /** id2label as an array of {@code n}; every index must be named when the map is given. */
    private static String[] labels(JsonNode config, Path configPath, int n, Kind kind) {
        String[] labels = new String[n];
        JsonNode map = config.get("id2label");
        if (kind == Kind.REPLACED_TOKEN) return new String[] {"replaced"};
        // num_labels is rarely stored (transformers derives it from id2label), but when it is, it must match the classifier.
        JsonNode count = config.get("num_labels");
        if (count != null && !count.isNull() && (!count.canConvertToInt() || count.asInt() != n)) {
            throw new ModelFormatException(configPath + ": num_labels is " + count + " but the classifier has " + n + " outputs");
        }
        if (map == null || !map.isObject() || map.isEmpty()) {
            for (int i = 0; i < n; i++) labels[i] = "LABEL_" + i;
            return labels;
        }
        if (map.size() != n) {
            throw new ModelFormatException(configPath + ": id2label has " + map.size() + " labels but the classifier has " + n + " outputs");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int i;
            try {
                i = Integer.parseInt(e.getKey());
            } catch (NumberFormatException x) {
                throw new ModelFormatException(configPath + ": id2label key '" + e.getKey() + "' is not an index");
            }
            if (i < 0 || i >= n) throw new ModelFormatException(configPath + ": id2label index " + i + " is outside [0, " + n + ")");
            labels[i] = e.getValue().asText();
        }
        return labels;
    }

    /** The head's logits for the hidden state in row {@code row} of {@code hidden} ([rows][hidden], F32): a token head's, or a sequence head's over that one row. */
    public float[] logits(float[] hidden, int row) {
        int h = this.hidden, at = row * h;
        double[] x = new double[h];
        for (int d = 0; d < h; d++) x[d] = hidden[at + d];
        return classify(x);
    }

    /**
     * A sequence head's logits for the text in rows [firstRow, firstRow + length) of {@code hidden}: over its first row, or
     * the mean of its rows ({@link Pool#MEAN}, ModernBERT's classifier_pooling "mean": every row of the text, as Hugging Face
     * averages every unmasked position).
     */
    public float[] logits(float[] hidden, int firstRow, int length) {
        if (pool == Pool.FIRST || length <= 1) return logits(hidden, firstRow);
        int h = this.hidden;
        double[] x = new double[h];
        for (int r = 0; r < length; r++) {
            int at = (firstRow + r) * h;
            for (int d = 0; d < h; d++) x[d] += hidden[at + d];
        }
        for (int d = 0; d < h; d++) x[d] /= length;
        return classify(x);
    }

    /** W2 norm(act(W1 x + b1)) + b2, the missing layers skipped. */
    private float[] classify(double[] x) {
        int h = this.hidden;
        if (w1 != null) {
            double[] y = new double[h];
            for (int o = 0; o < h; o++) {
                double acc = b1[o];
                for (int i = 0; i < h; i++) acc += (double) w1[o * h + i] * x[i];
                y[o] = activate(acc);
            }
            x = y;
        }
        if (normW != null) {
            double mean = 0, var = 0;
            for (double v : x) mean += v;
            mean /= h;
            for (double v : x) var += (v - mean) * (v - mean);
            double inv = 1 / Math.sqrt(var / h + eps);
            for (int d = 0; d < h; d++) x[d] = (x[d] - mean) * inv * normW[d] + normB[d];
        }
        int n = labels.length;
        float[] logits = new float[n];
        for (int o = 0; o < n; o++) {
            double acc = b2[o];
            for (int i = 0; i < h; i++) acc += (double) w2[o * h + i] * x[i];
            logits[o] = (float) acc;
        }
        return logits;
    }

    private double activate(double v) {
        return switch (act) {
            case NONE -> v;
            case TANH -> Math.tanh(v);
            case RELU -> Math.max(0, v);
            case GELU_ERF -> 0.5 * v * (1 + erf(v / Math.sqrt(2)));
            case GELU_TANH -> 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
            case SILU -> v / (1 + Math.exp(-v));
        };
    }

    /** erf by Abramowitz &amp; Stegun 7.1.26 (absolute error below 1.5e-7: far under the fp32 hidden state's own error). */
    private static double erf(double x) {
        double t = 1 / (1 + 0.3275911 * Math.abs(x));
        double y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
        return Math.copySign(y, x);
    }

    /** Logits to scores: softmax over the labels, or one sigmoid per label ({@link #sigmoid()}). */
    public double[] scores(float[] logits) {
        double[] p = new double[logits.length];
        if (sigmoid()) {
            for (int i = 0; i < p.length; i++) p[i] = 1 / (1 + Math.exp(-logits[i]));
            return p;
        }
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float l : logits) max = Math.max(max, l);
        for (int i = 0; i < p.length; i++) sum += p[i] = Math.exp(logits[i] - max);
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return p;
    }
}
