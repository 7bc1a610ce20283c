package io.transfuse.bench;

import io.transfuse.Device;
import io.transfuse.internal.Internals;
import io.transfuse.LanguageModel;
import io.transfuse.LoadOptions;
import io.transfuse.Session;
import io.transfuse.Transfuse;
import io.transfuse.loader.ModelSource;
import io.transfuse.loader.WeightFile;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Decoder;
import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Measures prefill and decode speed of a decoder (Llama family, GPT-2, Mamba) with token ids (no tokenizer needed).
 * Each repetition starts a fresh sequence: prefill = one feed of the prompt; decode = single-token
 * feeds of the argmax of the previous logits. Warm-up repetitions run first (at least {@code warmup}, and
 * for at least {@code warmupSeconds}) and are discarded. Batched decode (when {@code batchSequences} > 1):
 * that many sequences, each prefilled with the prompt, then decoding together, one forward pass of
 * {@code batchSequences} tokens per step; reported as aggregate tokens/s over all of them.
 * Decode bandwidth = weight bytes streamed per token (every tensor but the token embedding, of
 * which one row is read; the output head counts even when it is tied to the embedding) × tok/s.
 */
public final class LlmBench {
    private LlmBench() {}

    /**
     * @param warmupSeconds warm-up repetitions go on until this much time has passed too: the JIT compiles the
     *                      graph's Java path in the first seconds (on 2 cores, a compiler thread also takes a core
     *                      from the kernels while it works), and a benchmark of steady speed must start after that
     */
    public record Options(int promptTokens, int genTokens, int threads, int repetitions, int warmup, double warmupSeconds,
                          int batchSequences, Device device) {
        /** On {@link Device#AUTO}. */
        public Options(int promptTokens, int genTokens, int threads, int repetitions, int warmup, double warmupSeconds, int batchSequences) {
            this(promptTokens, genTokens, threads, repetitions, warmup, warmupSeconds, batchSequences, Device.AUTO);
        }

        public Options {
            if (device == null) throw new IllegalArgumentException("device must not be null (Device.AUTO picks one)");
            if (!(warmupSeconds >= 0)) throw new IllegalArgumentException("--warmup-seconds must be >= 0, got " + warmupSeconds);
            if (batchSequences < 0) throw new IllegalArgumentException("--batch-sequences must be >= 0, got " + batchSequences);
            if (promptTokens < 1) throw new IllegalArgumentException("--prompt-tokens must be >= 1, got " + promptTokens);
            if (genTokens < 1) throw new IllegalArgumentException("--gen-tokens must be >= 1, got " + genTokens);
            if (threads < 0) throw new IllegalArgumentException("--threads must be >= 0, got " + threads);
            if (repetitions < 1) throw new IllegalArgumentException("--repetitions must be >= 1, got " + repetitions);
            if (warmup < 0) throw new IllegalArgumentException("--warmup must be >= 0, got " + warmup);
        }

        public static Options defaults() { return new Options(128, 64, 0, 5, 1, 0, 0, Device.AUTO); }

        public Options withDevice(Device d) {
            return new Options(promptTokens, genTokens, threads, repetitions, warmup, warmupSeconds, batchSequences, d);
        }
    }

    /** Median, min and max of one measure over the repetitions. */
    public record Stat(double median, double min, double max) {
        public static Stat of(double[] v) {
            double[] s = v.clone();
            Arrays.sort(s);
            int n = s.length;
            double med = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
            return new Stat(med, s[0], s[n - 1]);
        }
    }

    /** @param architecture llama, mistral, qwen2, gpt2, mamba, ...; {@code heads}/{@code kvHeads} are 0 for Mamba */
    public record Result(String model, String architecture, String device, int dim, int layers, int heads, int kvHeads, int hidden, int vocab, int context,
                         String dtype, int threads, int promptTokens, int genTokens, int repetitions, int warmup, double warmupSeconds,
                         long weightBytes, long decodeBytesPerToken,
                         double[] prefillTokensPerSecond, double[] decodeTokensPerSecond,
                         Stat prefill, Stat decode, Stat decodeGBPerSecond,
                         int batchSequences, double[] batchDecodeTokensPerSecond, Stat batchDecode) {

        /** The result as a JSON object (fields as in this record; per-repetition arrays included). */
        public String toJson() {
            StringBuilder b = new StringBuilder("{\n");
            field(b, "model", '"' + model.replace("\\", "\\\\").replace("\"", "\\\"") + '"');
            field(b, "architecture", '"' + architecture + '"'); field(b, "device", '"' + device + '"');
            field(b, "dim", dim); field(b, "layers", layers); field(b, "heads", heads); field(b, "kv_heads", kvHeads);
            field(b, "hidden", hidden); field(b, "vocab", vocab); field(b, "context", context);
            field(b, "dtype", '"' + dtype + '"'); field(b, "threads", threads);
            field(b, "prompt_tokens", promptTokens); field(b, "gen_tokens", genTokens);
            field(b, "repetitions", repetitions); field(b, "warmup", warmup); field(b, "warmup_seconds", num(warmupSeconds));
            field(b, "weight_bytes", weightBytes); field(b, "decode_bytes_per_token", decodeBytesPerToken);
            field(b, "prefill_tok_s", array(prefillTokensPerSecond)); field(b, "decode_tok_s", array(decodeTokensPerSecond));
            field(b, "prefill_tok_s_stats", stat(prefill)); field(b, "decode_tok_s_stats", stat(decode));
            field(b, "batch_sequences", batchSequences);
            if (batchSequences > 1) {
                field(b, "batch_decode_tok_s", array(batchDecodeTokensPerSecond));
                field(b, "batch_decode_tok_s_stats", stat(batchDecode));
            }
            b.append("  \"decode_gb_s_stats\": ").append(stat(decodeGBPerSecond)).append("\n}\n");
            return b.toString();
        }

        private static void field(StringBuilder b, String k, Object v) {
            b.append("  \"").append(k).append("\": ").append(v).append(",\n");
        }

        private static String array(double[] v) {
            StringBuilder b = new StringBuilder("[");
            for (int i = 0; i < v.length; i++) b.append(i > 0 ? ", " : "").append(num(v[i]));
            return b.append(']').toString();
        }

        private static String stat(Stat s) {
            return "{\"median\": " + num(s.median) + ", \"min\": " + num(s.min) + ", \"max\": " + num(s.max) + "}";
        }

        private static String num(double d) { return String.format(Locale.ROOT, "%.4f", d); }
    }

    public static Result run(Path modelPath, Options o) {
        WeightInfo w = weightInfo(modelPath);
        try (LanguageModel lm = Transfuse.load(modelPath, LoadOptions.defaults().withThreads(o.threads()).withDevice(o.device()))) {
            DecoderShape c = DecoderShape.of(Internals.decoder(lm));
            String device = ((io.transfuse.model.DecoderGraph) Internals.decoder(lm)).backend().name();
            if (o.promptTokens() + o.genTokens() > lm.contextLength()) {
                throw new IllegalArgumentException("prompt-tokens + gen-tokens = " + (o.promptTokens() + o.genTokens())
                        + " exceed the model's context of " + lm.contextLength());
            }
            int vocab = c.vocab();
            int[] prompt = new int[o.promptTokens()];
            for (int i = 0; i < prompt.length; i++) prompt[i] = 3 + (int) ((i * 7919L + 17) % Math.max(1, vocab - 3)) % vocab;
            float[] logits = new float[lm.vocabSize()]; // the head may have more rows than the vocabulary (Mamba pads it)
            double[] prefill = new double[o.repetitions()], decode = new double[o.repetitions()],
                    batch = new double[o.repetitions()];
            try (Session s = lm.newSession()) {
                long warmEnd = System.nanoTime() + (long) (o.warmupSeconds() * 1e9);
                for (int r = 0; r < o.warmup() || System.nanoTime() < warmEnd; r++) repetition(s, prompt, o.genTokens(), logits);
                for (int r = 0; r < o.repetitions(); r++) {
                    long[] t = repetition(s, prompt, o.genTokens(), logits);
                    prefill[r] = o.promptTokens() / ((t[1] - t[0]) / 1e9);
                    decode[r] = o.genTokens() / ((t[2] - t[1]) / 1e9);
                }
            }
            if (o.batchSequences() > 1) {
                for (int r = -o.warmup(); r < o.repetitions(); r++) {
                    double tps = batchDecode(Internals.decoder(lm), prompt, o.genTokens(), o.batchSequences());
                    if (r >= 0) batch[r] = tps;
                }
            }
            double[] gbs = new double[decode.length];
            for (int i = 0; i < gbs.length; i++) gbs[i] = decode[i] * w.decodeBytesPerToken / 1e9;
            return new Result(modelPath.toString(), c.architecture(), device, c.dim(), c.layers(), c.heads(), c.kvHeads(), c.hidden(), vocab,
                    lm.contextLength(), w.dtype, o.threads(), o.promptTokens(), o.genTokens(), o.repetitions(), o.warmup(), o.warmupSeconds(),
                    w.totalBytes, w.decodeBytesPerToken, prefill, decode, Stat.of(prefill), Stat.of(decode), Stat.of(gbs),
                    o.batchSequences(), batch, Stat.of(batch));
        }
    }

    /** A fresh sequence: the prompt in one feed, then {@code gen} greedy single-token feeds; the times before, between and after. */
    private static long[] repetition(Session s, int[] prompt, int gen, float[] logits) {
        int[] one = new int[1];
        s.reset();
        long t0 = System.nanoTime();
        s.feed(prompt, logits);
        long t1 = System.nanoTime();
        for (int g = 0; g < gen; g++) {
            one[0] = argmax(logits);
            s.feed(one, logits);
        }
        return new long[] {t0, t1, System.nanoTime()};
    }

    /**
     * Aggregate decode tokens/s of {@code n} sequences decoding together: each is prefilled with the prompt
     * (one pass each, not timed), then {@code steps} forward passes of one token per sequence are timed.
     */
    static double batchDecode(Decoder d, int[] prompt, int steps, int n) {
        if (n > d.maxBatchSequences()) {
            throw new IllegalArgumentException("--batch-sequences " + n + " exceeds the " + d.maxBatchSequences() + " sequences the model plans for");
        }
        List<Decoder.Sequence> seqs = new ArrayList<>();
        try {
            float[][] logits = new float[n][d.vocabSize()];
            int[][] next = new int[n][1];
            for (int i = 0; i < n; i++) {
                Decoder.Sequence s = d.newSequence(prompt.length + steps);
                seqs.add(s);
                d.forward(s, prompt, 0, prompt.length, 0, logits[i]);
            }
            long t0 = System.nanoTime();
            for (int g = 0; g < steps; g++) {
                List<Decoder.Input> step = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    next[i][0] = argmax(logits[i]);
                    step.add(new Decoder.Input(seqs.get(i), next[i], 0, 1, prompt.length + g, logits[i]));
                }
                d.forward(step);
            }
            return (double) steps * n / ((System.nanoTime() - t0) / 1e9);
        } finally {
            for (Decoder.Sequence s : seqs) s.close();
        }
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    record WeightInfo(long totalBytes, long decodeBytesPerToken, String dtype) {}

    /** The token embedding's name in GGUF (every architecture), HF Llama-family, GPT-2 and Mamba files. */
    private static final List<String> TOKEN_EMBEDDINGS = List.of("token_embd.weight", "model.embed_tokens.weight",
            "transformer.wte.weight", "wte.weight", "backbone.embeddings.weight");
    /** An untied output head's name in GGUF and HF files. */
    private static final List<String> OUTPUT_HEADS = List.of("output.weight", "lm_head.weight");

    private static Tensor first(WeightFile f, List<String> names) {
        for (String n : names) if (f.tensors().containsKey(n)) return f.tensors().get(n);
        return null;
    }

    /** Bytes of the model's tensors, the bytes a decode step streams, and the dtype of the largest matrices. */
    static WeightInfo weightInfo(Path path) {
        try (TrackedArena arena = new TrackedArena("bench weight scan")) {
            ModelSource src = ModelSource.open(path, arena);
            WeightFile f = src.format() == ModelSource.Format.GGUF ? src.gguf() : src.safetensors();
            long total = 0;
            Map<DType, Long> byType = new TreeMap<>();
            for (Tensor t : f.tensors().values()) {
                long b = t.data().byteSize();
                total += b;
                byType.merge(t.dtype(), b, Long::sum);
            }
            Tensor emb = first(f, TOKEN_EMBEDDINGS);
            long embBytes = emb == null ? 0 : emb.data().byteSize();
            long decode = total - embBytes;
            if (emb != null && first(f, OUTPUT_HEADS) == null) decode += embBytes; // tied head streams it
            if (emb != null) decode += embBytes / Math.max(1, emb.dim(0)); // the one embedding row
            String dtype = byType.entrySet().stream().max(Map.Entry.comparingByValue()).map(e -> e.getKey().toString()).orElse("?");
            return new WeightInfo(total, decode, dtype);
        }
    }
}
