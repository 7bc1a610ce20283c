// ci/BenchReport.java: the last step of ci/bench.sh (run as a single-file program with Jackson from
// java/cli/target/lib on the class path). Reads the raw results of one benchmark run from a folder:
//   machine.json              transfuse_machine_probe: STREAM-style triad GB/s, peak FP32 FMA GFLOP/s
//   transfuse-MODEL.json      `transfuse bench --json` per model
//   llama-MODEL.json          ci/bench-llama.mjs on the same file (optional: absent without Node)
//   jmh.json                  JMH's JSON result (optional)
//   encoder-NAME.json         io.transfuse.encoders.EncoderVsOnnxRuntime: texts/s per repetition of
//                             Transfuse and of ONNX Runtime Java (the peer) on the same encoder
//   engine-transfuse-MODEL.json  `transfuse bench --engine --json` (levels: concurrency, decode tok/s,
//                             TTFT, TTFT under load); engine-llama-MODEL.json: ci/bench-llama-batch.mjs
//                             on the same file (optional)
// and writes bench-results.json: an array of rows {"name", "metric", "unit", "transfuse", "peer",
// "peer_name", "ratio"} (ratio = transfuse / peer, higher is better for Transfuse; for "us/op" rows
// there is no peer; for batched decode the "peer" is Transfuse's own one-sequence decode, so the ratio
// is what batching gains; for time rows in ms it is peer / transfuse, so higher stays better) plus the spread, the share of the machine's limit and the baseline comparison.
// Prints a Markdown table. A row regresses when it is worse than the baseline's figure by more than
// the run-to-run noise measured in this run: (max - min) / median of its repetitions, at least 5%.
// Usage: java -cp 'java/cli/target/lib/*' ci/BenchReport.java RAW_DIR OUT_JSON BASELINE_JSON
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

public class BenchReport {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    static final double MIN_NOISE = 0.05;

    /** One table row; peer, bound and baseline may be null. lowerIsBetter for times. */
    record Row(String name, String metric, String unit, double value, double min, double max,
               Double peer, String peerName, Double boundPct, String boundOf, boolean lowerIsBetter) {
        double noise() {
            return Math.max(MIN_NOISE, value > 0 ? (max - min) / value : 0);
        }
        Double ratio() {
            if (peer == null || peer <= 0 || !(value > 0)) return null;
            return lowerIsBetter ? peer / value : value / peer;
        }
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            System.err.println("usage: java ci/BenchReport.java RAW_DIR OUT_JSON BASELINE_JSON|none");
            System.exit(2);
        }
        Path raw = Path.of(args[0]), out = Path.of(args[1]), baselineFile = Path.of(args[2]);
        JsonNode machine = read(raw.resolve("machine.json"));
        double bandwidth = machine.path("triad_gb_s").path("median").asDouble();
        double peak = machine.path("fma_gflop_s").path("median").asDouble();

        List<Row> rows = new ArrayList<>();
        // transfuse-MODEL[.repK].json and llama-MODEL[.repK].json: one file per repetition (ci/bench.sh
        // alternates the engines) or one file with several; all of a model's repetitions are pooled.
        Map<String, List<Path>> byModel = new java.util.TreeMap<>(BenchReport::byModel);
        Map<String, List<Path>> peerByModel = new LinkedHashMap<>();
        try (Stream<Path> s = Files.list(raw)) {
            for (Path p : s.sorted().toList()) {
                String f = p.getFileName().toString();
                if (!f.endsWith(".json")) continue;
                String model = f.replaceAll("(\\.rep[0-9]+)?\\.json$", "");
                if (model.startsWith("transfuse-")) byModel.computeIfAbsent(model.substring(10), k -> new ArrayList<>()).add(p);
                else if (model.startsWith("llama-")) peerByModel.computeIfAbsent(model.substring(6), k -> new ArrayList<>()).add(p);
            }
        }
        for (Map.Entry<String, List<Path>> e : byModel.entrySet()) {
            String model = e.getKey();
            JsonNode t = read(e.getValue().get(0));
            List<Double> pre = new ArrayList<>(), dec = new ArrayList<>(), gbs = new ArrayList<>(), batch = new ArrayList<>();
            for (Path p : e.getValue()) {
                JsonNode r = read(p);
                r.path("prefill_tok_s").forEach(v -> pre.add(v.asDouble()));
                r.path("batch_decode_tok_s").forEach(v -> batch.add(v.asDouble()));
                r.path("decode_tok_s").forEach(v -> {
                    dec.add(v.asDouble());
                    gbs.add(v.asDouble() * r.path("decode_bytes_per_token").asDouble() / 1e9);
                });
            }
            List<Double> peerPre = new ArrayList<>(), peerDec = new ArrayList<>();
            for (Path p : peerByModel.getOrDefault(model, List.of())) {
                JsonNode r = read(p);
                if (r.has("prefill_tok_s")) {
                    r.path("prefill_tok_s").forEach(v -> peerPre.add(v.asDouble()));
                    r.path("decode_tok_s").forEach(v -> peerDec.add(v.asDouble()));
                } else { /* only the summary: its medians */
                    peerPre.add(r.path("prefill").path("median").asDouble());
                    peerDec.add(r.path("decode").path("median").asDouble());
                }
            }
            boolean peer = !peerPre.isEmpty();
            int prompt = t.path("prompt_tokens").asInt();
            double[] p3 = stat(pre), d3 = stat(dec);
            double prefillPct = 100 * p3[0] * flopsPerPrefillToken(t) / 1e9 / peak;
            double decodePct = 100 * stat(gbs)[0] / bandwidth;
            rows.add(new Row(model + " prefill " + prompt, "prefill", "tok/s", p3[0], p3[1], p3[2],
                    peer ? stat(peerPre)[0] : null, peer ? "llama.cpp" : null, prefillPct, "FP32 FMA peak", false));
            rows.add(new Row(model + " decode", "decode", "tok/s", d3[0], d3[1], d3[2],
                    peer ? stat(peerDec)[0] : null, peer ? "llama.cpp" : null, decodePct, "bandwidth", false));
            if (!batch.isEmpty()) {
                // Aggregate tok/s of N sequences decoding together; beside it (as the "peer") the one-sequence figure.
                int n = t.path("batch_sequences").asInt();
                double[] b3 = stat(batch);
                rows.add(new Row(model + " decode x" + n + " sequences (aggregate)", "batch decode", "tok/s", b3[0], b3[1], b3[2],
                        d3[0], "1 sequence", null, null, false));
            }
        }
        engineRows(raw, rows);
        // Encoder rows: texts/s against ONNX Runtime Java, both measured alternately in one JVM.
        try (Stream<Path> s = Files.list(raw)) {
            for (Path p : s.filter(q -> q.getFileName().toString().matches("encoder-.*\\.json"))
                    .sorted(java.util.Comparator.comparingInt(BenchReport::encoderBatch)).toList()) {
                JsonNode r = read(p);
                List<Double> mine = new ArrayList<>(), peer = new ArrayList<>();
                r.path("transfuse_texts_s").forEach(v -> mine.add(v.asDouble()));
                r.path("peer_texts_s").forEach(v -> peer.add(v.asDouble()));
                double[] m3 = stat(mine);
                rows.add(new Row(r.path("name").asText(), "texts/s", "texts/s", m3[0], m3[1], m3[2],
                        peer.isEmpty() ? null : stat(peer)[0], peer.isEmpty() ? null : r.path("peer_name").asText(),
                        null, null, false));
            }
        }
        rows.add(new Row("machine: memory bandwidth (STREAM triad, " + machine.path("threads").asInt() + " threads)",
                "bandwidth", "GB/s", bandwidth, machine.path("triad_gb_s").path("min").asDouble(),
                machine.path("triad_gb_s").path("max").asDouble(), null, null, null, null, false));
        rows.add(new Row("machine: peak FP32 FMA (" + machine.path("isa").asText() + ", " + machine.path("threads").asInt() + " threads)",
                "flops", "GFLOP/s", peak, machine.path("fma_gflop_s").path("min").asDouble(),
                machine.path("fma_gflop_s").path("max").asDouble(), null, null, null, null, false));
        Path jmhFile = raw.resolve("jmh.json");
        if (Files.exists(jmhFile)) {
            for (JsonNode b : JSON.readTree(Files.readString(jmhFile))) {
                StringBuilder name = new StringBuilder("jmh " + b.path("benchmark").asText().replace("io.transfuse.jmh.", ""));
                b.path("params").fields().forEachRemaining(e -> name.append(' ').append(e.getKey()).append('=').append(e.getValue().asText()));
                JsonNode m = b.path("primaryMetric");
                double lo = Double.MAX_VALUE, hi = 0;
                for (JsonNode fork : m.path("rawData")) for (JsonNode v : fork) { lo = Math.min(lo, v.asDouble()); hi = Math.max(hi, v.asDouble()); }
                rows.add(new Row(name.toString(), "op time", m.path("scoreUnit").asText(), m.path("score").asDouble(),
                        lo == Double.MAX_VALUE ? m.path("score").asDouble() : lo, hi == 0 ? m.path("score").asDouble() : hi,
                        null, null, null, null, true));
            }
        }

        Map<String, Double> baseline = new LinkedHashMap<>();
        if (!args[2].equals("none") && Files.exists(baselineFile)) {
            for (JsonNode r : JSON.readTree(Files.readString(baselineFile)))
                baseline.put(r.path("name").asText() + "|" + r.path("metric").asText(), r.path("transfuse").asDouble());
        }

        ArrayNode results = JSON.createArrayNode();
        StringBuilder table = new StringBuilder();
        table.append("| benchmark | unit | Transfuse median (min-max) | peer | ratio | % of machine limit | vs baseline |\n");
        table.append("|---|---|---|---|---|---|---|\n");
        List<String> regressions = new ArrayList<>();
        for (Row r : rows) {
            Double base = baseline.get(r.name() + "|" + r.metric());
            Double change = base == null || base <= 0 ? null : (r.value() - base) / base;
            boolean regressed = change != null && (r.lowerIsBetter() ? change > r.noise() : -change > r.noise());
            if (regressed) regressions.add(String.format(Locale.ROOT, "%s: %s %s vs baseline %s (%+.1f%%, noise %.1f%%)",
                    r.name(), fmt(r.value()), r.unit(), fmt(base), 100 * change, 100 * r.noise()));
            ObjectNode o = results.addObject();
            o.put("name", r.name());
            o.put("metric", r.metric());
            o.put("unit", r.unit());
            o.put("transfuse", r.value());
            if (r.peer() == null) o.putNull("peer"); else o.put("peer", r.peer());
            if (r.peerName() == null) o.putNull("peer_name"); else o.put("peer_name", r.peerName());
            if (r.ratio() == null) o.putNull("ratio"); else o.put("ratio", r.ratio());
            o.put("transfuse_min", r.min());
            o.put("transfuse_max", r.max());
            o.put("noise", r.noise());
            if (r.boundPct() == null) o.putNull("percent_of_limit"); else o.put("percent_of_limit", r.boundPct());
            if (r.boundOf() == null) o.putNull("limit"); else o.put("limit", r.boundOf());
            if (base == null) o.putNull("baseline"); else o.put("baseline", base);
            o.put("regression", regressed);
            table.append(String.format(Locale.ROOT, "| %s | %s | %s (%s-%s) | %s | %s | %s | %s |%n", r.name(), r.unit(),
                    fmt(r.value()), fmt(r.min()), fmt(r.max()), r.peer() == null ? "-" : fmt(r.peer()) + " (" + r.peerName() + ")",
                    r.ratio() == null ? "-" : String.format(Locale.ROOT, "%.2fx", r.ratio()),
                    r.boundPct() == null ? "-" : String.format(Locale.ROOT, "%.0f%% of %s", r.boundPct(), r.boundOf()),
                    change == null ? "-" : String.format(Locale.ROOT, "%+.1f%%%s", 100 * change, regressed ? " REGRESSION" : "")));
        }
        Files.writeString(out, JSON.writeValueAsString(results) + "\n");
        System.out.print(table);
        System.out.println();
        System.out.println("Prefill % = tok/s x matmul+attention FLOPs per prompt token / measured FP32 FMA peak (Q8_0 runs"
                + " on int8 AMX tiles or VNNI where the CPU has them, which can exceed the FP32 peak);"
                + " decode % = weight bytes streamed per token x tok/s / measured triad bandwidth.");
        if (args[2].equals("none")) System.out.println("baseline: none given; no regression check");
        else if (baseline.isEmpty()) System.out.println("baseline: " + baselineFile + " not found or empty; no regression check");
        else if (regressions.isEmpty()) System.out.println("regressions vs " + baselineFile + ": none beyond the measured noise");
        else {
            System.out.println("REGRESSIONS vs " + baselineFile + " (beyond the measured noise):");
            regressions.forEach(s -> System.out.println("  " + s));
        }
    }

    /**
     * The engine rows (issue 16): per model and concurrency C, aggregate decode tok/s of C requests at once
     * beside llama.cpp at the same C; the x16-vs-x1 scaling (the "peer" is the engine's own x1 figure); TTFT
     * p50 and TTFT under load beside llama.cpp's. Repetitions (one file each) are pooled per level.
     */
    static void engineRows(Path raw, List<Row> rows) throws IOException {
        Map<String, List<Path>> mine = new java.util.TreeMap<>(BenchReport::byModel), peers = new LinkedHashMap<>();
        try (Stream<Path> s = Files.list(raw)) {
            for (Path p : s.sorted().toList()) {
                String f = p.getFileName().toString().replaceAll("(\\.rep[0-9]+)?\\.json$", "");
                if (f.startsWith("engine-transfuse-")) mine.computeIfAbsent(f.substring(17), k -> new ArrayList<>()).add(p);
                else if (f.startsWith("engine-llama-")) peers.computeIfAbsent(f.substring(13), k -> new ArrayList<>()).add(p);
            }
        }
        for (Map.Entry<String, List<Path>> e : mine.entrySet()) {
            String model = e.getKey();
            Map<Integer, Map<String, List<Double>>> t = levels(e.getValue()), l = levels(peers.getOrDefault(model, List.of()));
            for (Map.Entry<Integer, Map<String, List<Double>>> lv : t.entrySet()) {
                int c = lv.getKey();
                Map<String, List<Double>> p = l.get(c);
                rows.add(engineRow(model + " engine x" + c + " decode (aggregate)", "engine decode", "tok/s", lv.getValue().get("decode"),
                        p == null ? null : p.get("decode"), false));
                rows.add(engineRow(model + " engine x" + c + " TTFT p50", "engine ttft", "ms", lv.getValue().get("ttft_p50"),
                        p == null ? null : p.get("ttft_p50"), true));
                if (c > 1) rows.add(engineRow(model + " engine x" + c + " TTFT under load (1 new + " + (c - 1) + " decoding)",
                        "engine ttft under load", "ms", lv.getValue().get("under_load"), p == null ? null : p.get("under_load"), true));
            }
            if (t.containsKey(1) && t.containsKey(16)) {
                double[] x16 = stat(t.get(16).get("decode"));
                rows.add(new Row(model + " engine x16 vs x1 (aggregate decode; target >= 6x)", "engine scaling", "tok/s", x16[0], x16[1], x16[2],
                        stat(t.get(1).get("decode"))[0], "engine x1", null, null, false));
            }
            if (l.containsKey(1) && l.containsKey(16)) { // the peer's own scaling, for comparison
                double[] x16 = stat(l.get(16).get("decode"));
                rows.add(new Row(model + " llama.cpp x16 vs x1 (aggregate decode, node-llama-cpp)", "peer scaling", "tok/s", x16[0], x16[1], x16[2],
                        stat(l.get(1).get("decode"))[0], "llama.cpp x1", null, null, false));
            }
        }
    }

    private static Row engineRow(String name, String metric, String unit, List<Double> v, List<Double> peer, boolean lowerIsBetter) {
        double[] m = stat(v);
        boolean hasPeer = peer != null && !peer.isEmpty();
        return new Row(name, metric, unit, m[0], m[1], m[2], hasPeer ? stat(peer)[0] : null, hasPeer ? "llama.cpp" : null, null, null, lowerIsBetter);
    }

    /** concurrency -> {"decode", "ttft_p50", "under_load"} -> values over the files' repetitions. */
    private static Map<Integer, Map<String, List<Double>>> levels(List<Path> files) throws IOException {
        Map<Integer, Map<String, List<Double>>> out = new java.util.TreeMap<>();
        for (Path f : files) {
            for (JsonNode lv : read(f).path("levels")) {
                Map<String, List<Double>> m = out.computeIfAbsent(lv.path("concurrency").asInt(), k -> new LinkedHashMap<>());
                lv.path("decode_tok_s").forEach(x -> m.computeIfAbsent("decode", k -> new ArrayList<>()).add(x.asDouble()));
                m.computeIfAbsent("ttft_p50", k -> new ArrayList<>()).add(lv.path("ttft_ms").path("p50").asDouble());
                lv.path("ttft_under_load_ms").forEach(x -> m.computeIfAbsent("under_load", k -> new ArrayList<>()).add(x.asDouble()));
            }
        }
        return out;
    }

    /** The batch size in an encoder-NAME-batchB.json file name, for sorting batch 1 before batch 32 (other rows after). */
    static int encoderBatch(Path p) {
        String digits = p.getFileName().toString().replaceAll(".*batch([0-9]+)\\.json$", "$1");
        return digits.matches("[0-9]+") ? Integer.parseInt(digits) : Integer.MAX_VALUE; // concurrent callers last
    }

    /** {median, min, max} */
    static double[] stat(List<Double> v) {
        if (v.isEmpty()) return new double[] {Double.NaN, Double.NaN, Double.NaN};
        List<Double> a = new ArrayList<>(v);
        a.sort(null);
        int n = a.size();
        double m = n % 2 == 1 ? a.get(n / 2) : (a.get(n / 2 - 1) + a.get(n / 2)) / 2;
        return new double[] {m, a.get(0), a.get(n - 1)};
    }

    /** stories15M before stories110M, F32 before Q8_0: the order of the table. */
    static int byModel(String a, String b) {
        return key(a).compareTo(key(b));
    }

    static String key(String n) {
        String size = n.replaceAll("^[^0-9]*([0-9]+)([KMB]).*", "$1$2");
        long v;
        try {
            v = Long.parseLong(size.substring(0, size.length() - 1)) * switch (size.charAt(size.length() - 1)) {
                case 'K' -> 1_000L; case 'M' -> 1_000_000L; default -> 1_000_000_000L; };
        } catch (RuntimeException e) {
            v = 0;
        }
        return String.format("%015d", v) + n;
    }

    /** Matmul FLOPs per prompt token (logits are computed for the last token only) plus attention
     * over an average of (prompt + 1) / 2 positions. */
    static double flopsPerPrefillToken(JsonNode t) {
        double dim = t.path("dim").asDouble(), layers = t.path("layers").asDouble(), hidden = t.path("hidden").asDouble();
        double kvDim = dim * t.path("kv_heads").asDouble() / t.path("heads").asDouble();
        double avgCtx = (t.path("prompt_tokens").asDouble() + 1) / 2;
        return layers * (2 * (2 * dim * dim + 2 * dim * kvDim + 3 * dim * hidden) + 4 * dim * avgCtx);
    }

    static JsonNode read(Path p) throws IOException {
        if (!Files.exists(p)) throw new IOException(p + ": missing (the benchmark step that writes it failed)");
        return JSON.readTree(Files.readString(p));
    }

    static String fmt(double v) {
        return v >= 100 ? String.format(Locale.ROOT, "%.0f", v) : v >= 10 ? String.format(Locale.ROOT, "%.1f", v)
                : String.format(Locale.ROOT, "%.2f", v);
    }
}
