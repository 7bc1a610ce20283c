package io.transfuse.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code transfuse info MODEL}: what a model is, from its metadata alone ({@link ModelInfo}). */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Prints a model's architecture, parameter count, tensor types, context length, RoPE, tokenizer and "
                + "chat template, reading metadata only.")
final class InfoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF file, Hugging Face directory, or a directory with one GGUF file.")
    Path model;

    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        ObjectNode info = ModelInfo.of(model);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(new ObjectMapper().writeValueAsString(info));
        } else {
            print(out, info, "");
        }
        out.flush();
        return 0;
    }

    private static void print(PrintWriter out, JsonNode node, String indent) {
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey().replace('_', ' ');
            JsonNode v = e.getValue();
            if (v.isObject()) {
                if (e.getKey().equals("tensor_types")) {
                    out.println(indent + key + ":");
                    v.fields().forEachRemaining(t -> out.printf(Locale.ROOT, "%s  %-6s %5d tensors  %s%n", indent, t.getKey(),
                            t.getValue().get("count").asLong(), bytes(t.getValue().get("bytes").asLong())));
                } else {
                    out.println(indent + key + ":");
                    print(out, v, indent + "  ");
                }
            } else if (e.getKey().equals("file_bytes")) {
                out.println(indent + "file size: " + bytes(v.asLong()));
            } else if (e.getKey().equals("parameters")) {
                out.printf(Locale.ROOT, "%sparameters: %,d (%s)%n", indent, v.asLong(), count(v.asLong()));
            } else {
                out.println(indent + key + ": " + v.asText());
            }
        }
    }

    static String bytes(long b) {
        if (b < 1024) return b + " B";
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = b;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.2f %s (%,d bytes)", v, units[u], b);
    }

    private static String count(long n) {
        if (n >= 1_000_000_000L) return String.format(Locale.ROOT, "%.2fB", n / 1e9);
        if (n >= 1_000_000L) return String.format(Locale.ROOT, "%.2fM", n / 1e6);
        if (n >= 1_000L) return String.format(Locale.ROOT, "%.1fK", n / 1e3);
        return Long.toString(n);
    }
}
