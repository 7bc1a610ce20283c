// Makes the consumer test's reference embedding independently of Transfuse: the Hugging Face tokenizer (the Rust
// library through DJL's JNI binding) and ONNX Runtime on the same all-MiniLM-L6-v2 .onnx file, mean-pooled over the
// attention mask and L2-normalised (the model's sentence-transformers configuration). Prints the 384 values of
// "Hello world" on one line. Run with core's test classpath (DJL tokenizers and ONNX Runtime are test dependencies):
//   mvn -o -q -pl java/core dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=/tmp/cp.txt
//   java -cp "$(cat /tmp/cp.txt)" ci/consumer/OnnxRuntimeReference.java MODEL.onnx TOKENIZER.json > ci/consumer/minilm-hello-world.txt
import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.StringJoiner;

public class OnnxRuntimeReference {
    public static void main(String[] args) throws Exception {
        String text = "Hello world";
        Encoding enc;
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(Path.of(args[1]))) {
            enc = tokenizer.encode(text);
        }
        long[] ids = enc.getIds(), mask = enc.getAttentionMask(), types = enc.getTypeIds();
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession session = env.createSession(args[0], new OrtSession.SessionOptions())) {
            Map<String, OnnxTensor> inputs = new HashMap<>();
            inputs.put("input_ids", OnnxTensor.createTensor(env, new long[][] {ids}));
            inputs.put("attention_mask", OnnxTensor.createTensor(env, new long[][] {mask}));
            if (session.getInputNames().contains("token_type_ids")) {
                inputs.put("token_type_ids", OnnxTensor.createTensor(env, new long[][] {types}));
            }
            try (OrtSession.Result out = session.run(inputs)) {
                float[][] hidden = ((float[][][]) out.get(0).getValue())[0];
                double[] mean = new double[hidden[0].length];
                int count = 0;
                for (int t = 0; t < hidden.length; t++) {
                    if (mask[t] == 0) continue;
                    count++;
                    for (int i = 0; i < mean.length; i++) mean[i] += hidden[t][i];
                }
                double norm = 0;
                for (int i = 0; i < mean.length; i++) {
                    mean[i] /= count;
                    norm += mean[i] * mean[i];
                }
                norm = Math.sqrt(norm);
                StringJoiner line = new StringJoiner(" ");
                for (double v : mean) line.add(String.format(Locale.ROOT, "%.7g", v / norm));
                System.out.println(line);
            }
        }
    }
}
