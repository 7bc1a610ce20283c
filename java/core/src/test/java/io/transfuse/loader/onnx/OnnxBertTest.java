package io.transfuse.loader.onnx;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.bert.BertConfig;
import io.transfuse.model.bert.BertWeights;
import io.transfuse.model.bert.RandomEncoder;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static io.transfuse.loader.onnx.OnnxFileTest.Proto;
import static io.transfuse.loader.onnx.OnnxFileTest.floatsLe;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Mapping an ONNX export's graph to BERT weights, on synthetic exports written here in the shape
 * torch.onnx gives BertModel (anonymous MatMul weights stored [in][out], each followed by an Add of
 * its named bias; heads in the attention Reshape's Concat constants; epsilon in the LayerNorm's
 * Add before Sqrt): every weight comes back under its HF name with the HF layout, the config is
 * inferred, and a graph that cannot be mapped is a clear error.
 */
class OnnxBertTest {
    enum Heads { CONCAT, SCALE_DIV, NONE }

    /** Writes m's weights as an ONNX graph skeleton (the structure OnnxBert reads; not runnable). */
    static Path export(RandomEncoder m, Path file, Heads heads, boolean dropOneBias) throws Exception {
        Proto graph = new Proto();
        int anon = 100;
        for (Map.Entry<String, float[]> e : m.weights.entrySet()) {
            String name = e.getKey();
            long[] shape = m.shapes.get(name);
            boolean linear = name.startsWith("encoder.") && name.endsWith(".weight") && shape.length == 2;
            if (!linear) {
                graph.message(5, tensor(name, shape, e.getValue()));
                continue;
            }
            // Linear: W [out][in] stored transposed as an anonymous [in][out] initializer.
            int out = (int) shape[0], in = (int) shape[1];
            float[] t = new float[out * in];
            for (int o = 0; o < out; o++) for (int i = 0; i < in; i++) t[i * out + o] = e.getValue()[o * in + i];
            String wName = "onnx::MatMul_" + (anon++);
            graph.message(5, tensor(wName, new long[] {in, out}, t));
            String base = name.substring(0, name.length() - ".weight".length());
            String mm = "/" + base.replace('.', '/') + "/MatMul";
            graph.message(1, node("MatMul", mm, new String[] {"x_" + base, wName}, mm + "_output_0"));
            String bias = dropOneBias && name.equals("encoder.layer.0.output.dense.weight") ? "/some/activation" : base + ".bias";
            graph.message(1, node("Add", mm + "_add", new String[] {bias, mm + "_output_0"}, base + "_out"));
        }
        int hd = m.hidden / m.heads;
        if (heads == Heads.CONCAT) {
            graph.message(1, constant("/c_heads", longs(m.heads)));
            graph.message(1, constant("/c_hd", longs(hd)));
            graph.message(1, node("Concat", "/encoder/layer.0/attention/self/Concat", new String[] {"/u0", "/u1", "/c_heads", "/c_hd"}, "/shape"));
        } else if (heads == Heads.SCALE_DIV) {
            graph.message(1, constant("/c_scale", new Proto().varint(2, OnnxTensor.FLOAT).bytes(9, floatsLe((float) Math.sqrt(hd)))));
            graph.message(1, node("Div", "/encoder/layer.0/attention/self/Div", new String[] {"/scores", "/c_scale"}, "/scaled"));
        }
        graph.message(1, constant("/c_eps", new Proto().varint(2, OnnxTensor.FLOAT).bytes(9, floatsLe(1e-7f))));
        graph.message(1, node("Add", "/embeddings/LayerNorm/Add", new String[] {"/var", "/c_eps"}, "/var_eps"));
        graph.message(1, node("Sqrt", "/embeddings/LayerNorm/Sqrt", new String[] {"/var_eps"}, "/std"));
        graph.message(11, new Proto().string(1, "input_ids")).message(12, new Proto().string(1, "last_hidden_state"));
        Files.write(file, new Proto().varint(1, 8).message(7, graph).toBytes());
        return file;
    }

    static Proto tensor(String name, long[] dims, float[] v) {
        Proto t = new Proto();
        for (long d : dims) t.varint(1, d);
        return t.varint(2, OnnxTensor.FLOAT).string(8, name).bytes(9, floatsLe(v));
    }

    static Proto longs(long... v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long x : v) b.putLong(x);
        return new Proto().varint(1, v.length).varint(2, OnnxTensor.INT64).bytes(9, b.array());
    }

    static Proto node(String op, String name, String[] inputs, String output) {
        Proto n = new Proto();
        for (String i : inputs) n.string(1, i);
        return n.string(2, output).string(3, name).string(4, op);
    }

    static Proto constant(String output, Proto value) {
        return new Proto().string(2, output).string(3, output).string(4, "Constant").message(5, new Proto().string(1, "value").message(5, value));
    }

    @Test
    void weightsComeBackUnderHfNamesWithHfLayout(@TempDir Path tmp) throws Exception {
        RandomEncoder m = RandomEncoder.bert(24, 2, 3, 40, 20);
        m.generate(11, DType.F32);
        for (Heads h : new Heads[] {Heads.CONCAT, Heads.SCALE_DIV}) {
            Path file = export(m, tmp.resolve(h + ".onnx"), h, false);
            try (TrackedArena arena = new TrackedArena("test")) {
                OnnxBert onnx = OnnxBert.read(file, arena);
                BertConfig c = onnx.config();
                assertEquals("bert", c.modelType());
                assertEquals(m.vocab, c.vocabSize());
                assertEquals(24, c.hidden());
                assertEquals(2, c.layers());
                assertEquals(3, c.heads(), "heads from " + h);
                assertEquals(40, c.intermediate());
                assertEquals(20, c.maxPositions());
                assertEquals(2, c.typeVocabSize());
                assertEquals(1e-7f, c.layerNormEps());
                BertWeights.from(onnx.weights(), c); // every tensor present with the HF shape
                assertEquals(m.weights.keySet(), onnx.weights().tensors().keySet());
                for (Map.Entry<String, float[]> e : m.weights.entrySet()) {
                    Tensor t = onnx.weights().tensor(e.getKey());
                    assertEquals(DType.F32, t.dtype());
                    assertArrayEquals(m.shapes.get(e.getKey()), t.shape(), e.getKey());
                    assertArrayEquals(e.getValue(), t.data().toArray(ValueLayout.JAVA_FLOAT), e.getKey());
                }
            }
        }
    }

    @Test
    void unmappableGraphsAreClearErrors(@TempDir Path tmp) throws Exception {
        RandomEncoder m = RandomEncoder.bert(24, 1, 3, 40, 20);
        m.generate(12, DType.F32);
        long before = TrackedArena.bytesInUse();
        Path noBias = export(m, tmp.resolve("nobias.onnx"), Heads.CONCAT, true);
        try (TrackedArena arena = new TrackedArena("test")) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> OnnxBert.read(noBias, arena));
            assertTrue(e.getMessage().contains("nobias.onnx") && e.getMessage().contains("/encoder/layer/0/output/dense/MatMul"), e.getMessage());
        }
        Files.createDirectories(tmp.resolve("dir"));
        Path noHeads = export(m, tmp.resolve("dir/noheads.onnx"), Heads.NONE, false);
        try (TrackedArena arena = new TrackedArena("test")) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> OnnxBert.read(noHeads, arena));
            assertTrue(e.getMessage().contains("noheads.onnx") && e.getMessage().contains("attention heads"), e.getMessage());
            // a config.json beside the file supplies them
            Files.writeString(noHeads.resolveSibling("config.json"), "{\"num_attention_heads\": 6}");
            assertEquals(6, OnnxBert.read(noHeads, arena).config().heads());
        }
        Path notBert = tmp.resolve("notbert.onnx");
        Files.write(notBert, new Proto().message(7, new Proto().message(5, tensor("w", new long[] {2}, new float[] {1, 2}))).toBytes());
        try (TrackedArena arena = new TrackedArena("test")) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> OnnxBert.read(notBert, arena));
            assertTrue(e.getMessage().contains("notbert.onnx") && e.getMessage().contains("embeddings.word_embeddings.weight"), e.getMessage());
        }
        assertEquals(before, TrackedArena.bytesInUse());
    }
}
