package io.transfuse.model.bert;

import com.fasterxml.jackson.databind.JsonNode;
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
 * {@code logits = W2 act(W1 h + b1) + b2} (or {@code W2 h + b2} without the first layer). Which layer and
 * activation, by the modeling code of each model type:
 * <pre>
 *   sequence  bert        h = [CLS]   W1 = bert.pooler.dense, tanh;   W2 = classifier
 *             albert      h = [CLS]   W1 = albert.pooler, tanh;       W2 = classifier
 *             roberta, xlm-roberta, camembert
 *                         h = &lt;s&gt;     W1 = classifier.dense, tanh;   W2 = classifier.out_proj
 *             electra     h = [CLS]   W1 = classifier.dense, gelu;   W2 = classifier.out_proj
 *             distilbert  h = [CLS]   W1 = pre_classifier, relu;     W2 = classifier
 *   token     all         every h     W2 = classifier
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

    /** A pre-classifier layer's activation. */
    private enum Act { NONE, TANH, RELU, GELU_ERF, GELU_TANH }

    private final Kind kind;
    private final String[] labels;
    private final boolean multiLabel;
    private final float[] w1, b1, w2, b2;
    private final Act act;
    private final int hidden;

    private BertHead(Kind kind, String[] labels, boolean multiLabel, float[] w1, float[] b1, Act act, float[] w2, float[] b2, int hidden) {
        this.kind = kind;
        this.labels = labels;
        this.multiLabel = multiLabel;
        this.w1 = w1;
        this.b1 = b1;
        this.act = act;
        this.w2 = w2;
        this.b2 = b2;
        this.hidden = hidden;
    }

    public Kind kind() { return kind; }

    /** Label names by logit index (config.json {@code id2label}, else LABEL_i). */
    public String[] labels() { return labels.clone(); }

    /**
     * Whether scores are independent sigmoids ({@code problem_type} multi_label_classification, a single
     * logit as cross-encoders have, or the replaced-token logit) rather than a softmax over the labels.
     */
    public boolean sigmoid() { return multiLabel || labels.length == 1; }

    /**
     * Reads the head of the model whose config.json {@code architectures} names the task.
     *
     * @param prefix the encoder's tensor prefix ({@link BertWeights#prefix()}: "bert.", "distilbert.", ...)
     */
    public static BertHead read(JsonNode config, Path configPath, WeightFile file, BertConfig c, String prefix) {
        String arch = config.path("architectures").path(0).asText("");
        int h = c.hidden();
        Kind kind;
        String first = null, second;
        Act act = Act.NONE;
        if (arch.endsWith("ForSequenceClassification")) {
            kind = Kind.SEQUENCE;
            switch (c.modelType()) {
                case "bert" -> { first = prefix + "pooler.dense"; act = Act.TANH; second = "classifier"; }
                case "albert" -> { first = prefix + "pooler"; act = Act.TANH; second = "classifier"; }
                case "roberta", "xlm-roberta", "camembert" -> { first = "classifier.dense"; act = Act.TANH; second = "classifier.out_proj"; }
                case "electra" -> { first = "classifier.dense"; act = Act.GELU_ERF; second = "classifier.out_proj"; }
                case "distilbert" -> { first = "pre_classifier"; act = Act.RELU; second = "classifier"; }
                default -> throw new ModelFormatException(configPath + ": no sequence-classification head is known for model_type '" + c.modelType() + "'");
            }
        } else if (arch.endsWith("ForTokenClassification")) {
            kind = Kind.TOKEN;
            second = "classifier";
        } else if (arch.equals("ElectraForPreTraining")) {
            kind = Kind.REPLACED_TOKEN;
            first = "discriminator_predictions.dense";
            act = c.activation() == io.transfuse.backend.Activation.GELU_TANH ? Act.GELU_TANH : Act.GELU_ERF;
            second = "discriminator_predictions.dense_prediction";
        } else {
            throw new ModelFormatException(configPath + ": architectures '" + arch + "' has no classification head"
                    + " (expected *ForSequenceClassification, *ForTokenClassification or ElectraForPreTraining)");
        }
        Tensor out = file.tensor(second + ".weight");
        if (out.shape().length != 2 || out.cols() != h) {
            throw new ModelFormatException(file.path() + ": tensor '" + second + ".weight' has shape " + java.util.Arrays.toString(out.shape())
                    + " but the model config implies [labels][" + h + "]");
        }
        int n = Math.toIntExact(out.rows());
        String[] labels = labels(config, configPath, n, kind);
        float[] w1 = null, b1 = null;
        if (first != null) {
            w1 = Dequantize.toFloats(file.tensor(first + ".weight", h, h));
            b1 = Dequantize.toFloats(file.tensor(first + ".bias", h));
        }
        boolean multi = config.path("problem_type").asText("").equals("multi_label_classification") || kind == Kind.REPLACED_TOKEN;
        return new BertHead(kind, labels, multi, w1, b1, act, Dequantize.toFloats(out), Dequantize.toFloats(file.tensor(second + ".bias", n)), h);
    }

    /** id2label as an array of {@code n}; every index must be named when the map is given. */
    private static String[] labels(JsonNode config, Path configPath, int n, Kind kind) {
        String[] labels = new String[n];
        JsonNode map = config.get("id2label");
        if (kind == Kind.REPLACED_TOKEN) return new String[] {"replaced"};
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

    /** The head's logits for the hidden state in row {@code row} of {@code hidden} ([rows][hidden], F32). */
    public float[] logits(float[] hidden, int row) {
        int h = this.hidden, at = row * h;
        double[] x = new double[h];
        for (int d = 0; d < h; d++) x[d] = hidden[at + d];
        if (w1 != null) {
            double[] y = new double[h];
            for (int o = 0; o < h; o++) {
                double acc = b1[o];
                for (int i = 0; i < h; i++) acc += (double) w1[o * h + i] * x[i];
                y[o] = activate(acc);
            }
            x = y;
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
