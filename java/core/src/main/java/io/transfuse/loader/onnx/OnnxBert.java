package io.transfuse.loader.onnx;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.WeightFile;
import io.transfuse.loader.Json;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.bert.BertConfig;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A BERT-family encoder read from an ONNX export (as made by torch.onnx / Hugging Face optimum for
 * BertModel: inputs input_ids, attention_mask, token_type_ids; output last_hidden_state).
 *
 * <p>Weights are matched to their Hugging Face names by following the graph, not by trusting
 * initializer names:
 * <ul>
 *   <li>initializers that already carry an HF name (embeddings, biases, LayerNorm weights; with or
 *       without a "bert."/"roberta." prefix) keep it;</li>
 *   <li>each MatMul with an initializer B of rank 2 (often anonymous, like {@code onnx::MatMul_787})
 *       is a Linear layer: its output feeds an Add whose other input is the layer's bias
 *       {@code X.bias}, so B is {@code X.weight}. ONNX stores B as [in][out] (y = x·B); HF Linear
 *       weights are [out][in], so B is transposed.</li>
 * </ul>
 * The config comes from the tensor shapes (vocab, hidden, positions, token types, intermediate
 * size, layer count), except for two things shapes do not show:
 * <ul>
 *   <li>heads: the attention Reshape target is a Concat ending in two constants (heads, headDim)
 *       with heads · headDim = hidden; else the Div of the scores by sqrt(headDim); else
 *       num_attention_heads of a config.json beside the file;</li>
 *   <li>LayerNorm epsilon: a LayerNormalization node's epsilon attribute, or the constant added
 *       to the variance before Sqrt in a decomposed LayerNorm; else 1e-12 (BERT's).</li>
 * </ul>
 * RoBERTa-style exports (positions from a CumSum over the mask) are recognised and get position
 * offset 2 (pad_token_id 1). All weights are copied into the caller's arena as F32 (FLOAT16 and
 * DOUBLE initializers are converted); the file is unmapped before returning.
 */
public record OnnxBert(BertConfig config, WeightFile weights) {
    private static final Pattern LAYER = Pattern.compile("^(?:bert\\.|roberta\\.)?encoder\\.layer\\.(\\d+)\\.");
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public static OnnxBert read(Path path, TrackedArena arena) {
        try (OnnxFile onnx = OnnxFile.open(path)) {
            Map<String, OnnxTensor> inits = onnx.initializers();
            Map<String, Tensor> hf = new LinkedHashMap<>();
            for (OnnxTensor t : inits.values()) {
                String n = t.name();
                String bare = n.startsWith("bert.") ? n.substring(5) : n.startsWith("roberta.") ? n.substring(8) : n;
                if ((bare.startsWith("embeddings.") || bare.startsWith("encoder.")) && (bare.endsWith(".weight") || bare.endsWith(".bias"))) {
                    hf.put(n, copy(t, n, arena, false));
                }
            }
            Map<String, List<OnnxNode>> consumers = consumers(onnx.nodes());
            for (OnnxNode node : onnx.nodes()) {
                if (!node.opType().equals("MatMul")) continue;
                OnnxTensor b = inits.get(node.input(1));
                if (b == null || b.dims().length != 2) continue; // activation x activation (attention scores)
                String bias = null;
                for (OnnxNode add : consumers.getOrDefault(node.output(0), List.of())) {
                    if (!add.opType().equals("Add")) continue;
                    for (String in : add.inputs()) if (in.endsWith(".bias") && inits.containsKey(in)) bias = in;
                }
                if (bias == null) {
                    throw new ModelFormatException(path + ": MatMul node '" + node.name() + "' (weight '" + b.name()
                            + "') is not followed by an Add of a named bias; cannot tell which Linear layer it is");
                }
                String name = bias.substring(0, bias.length() - ".bias".length()) + ".weight";
                if (hf.containsKey(name)) throw new ModelFormatException(path + ": two MatMul nodes map to '" + name + "'");
                hf.put(name, copy(b, name, arena, true));
            }
            BertConfig config = config(path, onnx, hf);
            Map<String, Tensor> view = Collections.unmodifiableMap(hf);
            return new OnnxBert(config, new WeightFile() {
                @Override
                public Path path() { return path; }

                @Override
                public Map<String, Tensor> tensors() { return view; }
            });
        }
    }

    private static BertConfig config(Path path, OnnxFile onnx, Map<String, Tensor> hf) {
        String prefix = hf.containsKey("embeddings.word_embeddings.weight") ? ""
                : hf.containsKey("bert.embeddings.word_embeddings.weight") ? "bert."
                : hf.containsKey("roberta.embeddings.word_embeddings.weight") ? "roberta." : null;
        if (prefix == null) throw new ModelFormatException(path + ": no initializer 'embeddings.word_embeddings.weight'; not a BERT-family export");
        Tensor word = need(path, hf, prefix + "embeddings.word_embeddings.weight");
        Tensor pos = need(path, hf, prefix + "embeddings.position_embeddings.weight");
        Tensor types = need(path, hf, prefix + "embeddings.token_type_embeddings.weight");
        Tensor inter = need(path, hf, prefix + "encoder.layer.0.intermediate.dense.bias");
        TreeSet<Integer> layers = new TreeSet<>();
        for (String n : hf.keySet()) {
            Matcher m = LAYER.matcher(n);
            if (m.find()) layers.add(Integer.parseInt(m.group(1)));
        }
        if (layers.isEmpty() || layers.first() != 0 || layers.last() != layers.size() - 1) {
            throw new ModelFormatException(path + ": encoder layers " + layers + " are not numbered 0..n-1");
        }
        int hidden = (int) word.dim(1);
        int heads = heads(path, onnx, hidden);
        boolean roberta = onnx.nodes().stream().anyMatch(n -> n.opType().equals("CumSum"));
        return new BertConfig(roberta ? "roberta" : "bert", (int) word.dim(0), hidden, layers.size(), heads, (int) inter.dim(0),
                (int) pos.dim(0), (int) types.dim(0), epsilon(onnx), roberta ? 2 : 0, path.toString());
    }

    /** See the class comment: Reshape target constants, else the score scale, else config.json. */
    static int heads(Path path, OnnxFile onnx, int hidden) {
        Map<String, long[]> constants = constants(onnx);
        for (OnnxNode n : onnx.nodes()) {
            if (!n.opType().equals("Concat") || n.inputs().size() != 4) continue;
            long[] h = constants.get(n.input(2)), d = constants.get(n.input(3));
            if (h != null && d != null && h.length == 1 && d.length == 1 && h[0] > 0 && h[0] * d[0] == hidden) return (int) h[0];
        }
        for (OnnxNode n : onnx.nodes()) {
            if (!n.opType().equals("Div") || !n.name().contains("attention")) continue;
            Float c = scalarFloat(onnx, n.input(1));
            if (c == null || c <= 1) continue;
            long d = Math.round((double) c * c);
            if (d > 0 && Math.abs(Math.sqrt(d) - c) < 1e-3 && hidden % d == 0) return (int) (hidden / d);
        }
        Path config = path.resolveSibling("config.json");
        if (Files.isRegularFile(config)) return Json.requireInt(Json.read(config), "num_attention_heads", config);
        throw new ModelFormatException(path + ": cannot infer the number of attention heads from the graph; "
                + "put a config.json with num_attention_heads beside it");
    }

    private static float epsilon(OnnxFile onnx) {
        for (OnnxNode n : onnx.nodes()) {
            if (n.opType().equals("LayerNormalization") && n.attributes().get("epsilon") instanceof Float f) return f;
        }
        Map<String, OnnxNode> producers = new HashMap<>();
        for (OnnxNode n : onnx.nodes()) for (String o : n.outputs()) producers.put(o, n);
        for (OnnxNode n : onnx.nodes()) {
            if (!n.opType().equals("Sqrt")) continue;
            OnnxNode add = producers.get(n.input(0));
            if (add == null || !add.opType().equals("Add")) continue;
            for (String in : add.inputs()) {
                Float eps = scalarFloat(onnx, in);
                if (eps != null && eps > 0 && eps < 1e-3) return eps;
            }
        }
        return 1e-12f;
    }

    /** Integer values of Constant nodes' outputs and of small integer initializers, by name. */
    private static Map<String, long[]> constants(OnnxFile onnx) {
        Map<String, long[]> out = new HashMap<>();
        for (OnnxNode n : onnx.nodes()) {
            if (n.opType().equals("Constant") && n.attributes().get("value") instanceof OnnxTensor t
                    && (t.dataType() == OnnxTensor.INT64 || t.dataType() == OnnxTensor.INT32) && t.elementCount() <= 8) {
                out.put(n.output(0), t.longs());
            }
        }
        for (OnnxTensor t : onnx.initializers().values()) {
            if ((t.dataType() == OnnxTensor.INT64 || t.dataType() == OnnxTensor.INT32) && t.elementCount() <= 8) out.put(t.name(), t.longs());
        }
        return out;
    }

    private static Float scalarFloat(OnnxFile onnx, String name) {
        OnnxTensor t = onnx.initializers().get(name);
        if (t == null) {
            for (OnnxNode n : onnx.nodes()) {
                if (n.opType().equals("Constant") && n.output(0).equals(name) && n.attributes().get("value") instanceof OnnxTensor v) t = v;
            }
        }
        if (t == null || t.elementCount() != 1 || (t.dataType() != OnnxTensor.FLOAT && t.dataType() != OnnxTensor.DOUBLE)) return null;
        return t.floats()[0];
    }

    private static Map<String, List<OnnxNode>> consumers(List<OnnxNode> nodes) {
        Map<String, List<OnnxNode>> out = new HashMap<>();
        for (OnnxNode n : nodes) for (String in : n.inputs()) out.computeIfAbsent(in, k -> new ArrayList<>()).add(n);
        return out;
    }

    private static Tensor need(Path path, Map<String, Tensor> hf, String name) {
        Tensor t = hf.get(name);
        if (t == null) throw new ModelFormatException(path + ": found no weight for '" + name + "' in the ONNX graph");
        return t;
    }

    /** The tensor's values in the arena as F32; [in][out] matrices transposed to [out][in]. */
    private static Tensor copy(OnnxTensor t, String name, TrackedArena arena, boolean transpose) {
        long[] dims = t.dims();
        long n = t.elementCount();
        if (t.dataType() == OnnxTensor.FLOAT && t.data() != null && t.data().byteSize() == n * 4) {
            MemorySegment out = arena.allocate(n * 4);
            if (!transpose) {
                MemorySegment.copy(t.data(), 0, out, 0, n * 4);
                return new Tensor(name, DType.F32, dims, out);
            }
            int rows = (int) dims[0], cols = (int) dims[1];
            MemorySegment in = t.data();
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) out.setAtIndex(ValueLayout.JAVA_FLOAT, (long) c * rows + r, in.getAtIndex(F32, (long) r * cols + c));
            }
            return new Tensor(name, DType.F32, new long[] {cols, rows}, out);
        }
        float[] v = t.floats(); // FLOAT16, DOUBLE, or other encodings: through the heap
        MemorySegment out = arena.allocateFloats(n);
        if (!transpose) {
            MemorySegment.copy(v, 0, out, ValueLayout.JAVA_FLOAT, 0, v.length);
            return new Tensor(name, DType.F32, dims, out);
        }
        int rows = (int) dims[0], cols = (int) dims[1];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) out.setAtIndex(ValueLayout.JAVA_FLOAT, (long) c * rows + r, v[r * cols + c]);
        }
        return new Tensor(name, DType.F32, new long[] {cols, rows}, out);
    }
}
