package io.transfuse.model.bert;

import io.transfuse.TransfuseException;
import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.SafetensorsWriter;
import io.transfuse.loader.onnx.OnnxBert;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Converts an ONNX export of a BERT-family encoder into a Hugging Face directory: config.json,
 * model.safetensors (F32, HF tensor names, Linear weights [out][in]), tokenizer.json (and
 * tokenizer_config.json when present) copied from beside the .onnx file, and sentence-transformers
 * modules.json + 1_Pooling/config.json recording the pooling.
 */
public final class EncoderConverter {
    private EncoderConverter() {}

    public static void convert(Path onnxFile, Path outDir, Pooling pooling, Consumer<String> progress) {
        Path dir = onnxFile.toAbsolutePath().getParent();
        Path tokenizer = BertFamily.tokenizerPath(onnxFile, dir);
        try (TrackedArena arena = new TrackedArena("conversion of " + onnxFile)) {
            OnnxBert model = OnnxBert.read(onnxFile, arena);
            BertConfig c = model.config();
            BertWeights.from(model.weights(), c); // checks every tensor is there with the right shape
            Files.createDirectories(outDir);
            SafetensorsWriter writer = new SafetensorsWriter();
            for (Map.Entry<String, Tensor> e : model.weights().tensors().entrySet()) {
                Tensor t = e.getValue();
                if (t.dtype() != DType.F32) throw new ModelFormatException(onnxFile + ": tensor '" + e.getKey() + "' is " + t.dtype() + ", expected F32");
                writer.addTensor(e.getKey(), DType.F32, t.shape(), () -> floats(t.data(), t.elementCount()));
            }
            writer.write(outDir.resolve("model.safetensors"), progress);
            Files.writeString(outDir.resolve("config.json"), c.toJson());
            Files.copy(tokenizer, outDir.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
            Path tokConfig = tokenizer.resolveSibling("tokenizer_config.json");
            if (Files.isRegularFile(tokConfig)) Files.copy(tokConfig, outDir.resolve("tokenizer_config.json"), StandardCopyOption.REPLACE_EXISTING);
            pooling.write(outDir, c.hidden());
        } catch (IOException e) {
            throw new TransfuseException("cannot write " + outDir + ": " + e, e);
        }
    }

    private static float[] floats(MemorySegment s, long n) {
        float[] v = new float[Math.toIntExact(n)];
        MemorySegment.copy(s, ValueLayout.JAVA_FLOAT, 0, v, 0, v.length);
        return v;
    }
}
