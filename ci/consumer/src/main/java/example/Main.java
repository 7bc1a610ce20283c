package example;

import io.transfuse.EmbeddingModel;
import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;

import java.nio.file.Path;
import java.util.Locale;
import java.util.StringJoiner;

/**
 * A user's program: continues a prompt with a language model and embeds one text with an encoder, through
 * the public API only. Prints "generated: TEXT" and "embedding: V1 V2 ..." for ci/consumer-test.sh to check.
 * Usage: Main LANGUAGE_MODEL ENCODER
 */
public final class Main {
    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: Main LANGUAGE_MODEL ENCODER");
            System.exit(2);
        }
        String prompt = "Once upon a time";
        try (LanguageModel model = Transfuse.load(Path.of(args[0]))) {
            // The default options decode greedily: the same text every run. 36 new tokens after the prompt's 5
            // (BOS included) make the 41 of llama2.c's reference (models/stories260K/reference_outputs.json, greedy_40).
            GenerationResult result = model.generate(prompt, GenerateOptions.defaults().withMaxTokens(36), text -> { });
            System.out.println("generated: " + prompt + result.text());
        }
        try (EmbeddingModel encoder = Transfuse.loadEncoder(Path.of(args[1]), LoadOptions.defaults())) {
            float[] embedding = encoder.embed("Hello world");
            StringJoiner values = new StringJoiner(" ");
            for (float v : embedding) values.add(String.format(Locale.ROOT, "%.7g", v));
            System.out.println("embedding: " + values);
        }
    }
}
