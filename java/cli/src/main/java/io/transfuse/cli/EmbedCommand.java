package io.transfuse.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.EmbeddingModel;
import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.Transfuse;
import io.transfuse.TransfuseException;
import io.transfuse.PoolingMode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code transfuse embed}: one JSON line {"text": ..., "embedding": [...]} per text. */
@Command(name = "embed", mixinStandardHelpOptions = true,
        description = "Embeds texts with a BERT-family encoder (BERT, RoBERTa, MiniLM, BGE, E5). "
                + "Texts come from the arguments, or from stdin one per line when none are given (each line's embedding "
                + "is printed as soon as it is computed: lines that have arrived are embedded together, up to --batch).")
final class EmbedCommand implements Callable<Integer> {
    /** Where texts are read from when none are given (tests replace it). */
    static InputStream stdin = System.in;

    @Spec
    CommandSpec spec;

    @Mixin
    DeviceFlags where;

    @Parameters(paramLabel = "TEXT", arity = "0..*", description = "Texts to embed (default: stdin, one per line).")
    List<String> texts = new ArrayList<>();

    @Option(names = "--model", paramLabel = "PATH", required = true,
            description = "Hugging Face directory (config.json, model.safetensors, tokenizer.json) or an .onnx file with tokenizer.json beside it.")
    Path model;

    @Option(names = "--pooling", paramLabel = "MODE", description = "mean or cls (default: the model's sentence-transformers config, else mean).")
    String pooling;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "32", description = "Texts per forward pass (default: ${DEFAULT-VALUE}).")
    int batch;

    @Override
    public Integer call() {
        EncoderOptions options = EncoderOptions.defaults().withBatchSize(batch).withPooling(parsePooling(pooling));
        LoadOptions load = where.loadOptions();
        PrintWriter out = spec.commandLine().getOut();
        ObjectMapper json = new ObjectMapper();
        try (EmbeddingModel m = Transfuse.loadEncoder(model, load, options)) {
            if (!texts.isEmpty()) {
                print(json, out, texts, m.embed(texts));
            } else {
                // Streams: a batch is what has arrived (up to --batch lines), so a line typed or piped in
                // slowly is answered at once, and a file still goes through in full batches.
                BufferedReader in = new BufferedReader(new InputStreamReader(stdin, StandardCharsets.UTF_8));
                List<String> chunk = new ArrayList<>();
                for (String line; (line = in.readLine()) != null; ) {
                    chunk.add(line);
                    while (chunk.size() < batch && in.ready() && (line = in.readLine()) != null) chunk.add(line);
                    print(json, out, chunk, m.embed(chunk));
                    chunk.clear();
                }
            }
        } catch (IOException e) {
            throw new TransfuseException("cannot read stdin: " + e, e);
        }
        out.flush();
        return 0;
    }

    /** "mean" or "cls" (any case); null stays null (the model's own). */
    static PoolingMode parsePooling(String s) {
        if (s == null) return null;
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "mean" -> PoolingMode.MEAN;
            case "cls" -> PoolingMode.CLS;
            default -> throw new IllegalArgumentException("--pooling must be mean or cls, got '" + s + "'");
        };
    }

    private static void print(ObjectMapper json, PrintWriter out, List<String> texts, float[][] embeddings) throws IOException {
        for (int i = 0; i < texts.size(); i++) {
            ObjectNode line = json.createObjectNode();
            line.put("text", texts.get(i));
            ArrayNode e = line.putArray("embedding");
            for (float v : embeddings[i]) e.add(v);
            out.println(json.writeValueAsString(line));
        }
        out.flush();
    }
}
