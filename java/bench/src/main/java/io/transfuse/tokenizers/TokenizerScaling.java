package io.transfuse.tokenizers;

import io.transfuse.loader.GgufFile;
import io.transfuse.loader.GgufWriter;
import io.transfuse.memory.TrackedArena;
import io.transfuse.tokenizer.GgufTokenizers;
import io.transfuse.tokenizer.Tokenizer;
import io.transfuse.tokenizer.hf.HfTokenizer;
import io.transfuse.tokenizer.hf.TokenizerJsonToGguf;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPInputStream;

/**
 * How tokenizing time grows with the length of one text (issue 19, item 3): encodes texts of 1k, 10k and 100k
 * words with real vocabularies and prints seconds, microseconds per word and bytes allocated, so that linear
 * growth (a flat per-word time) or super-linear growth shows at a glance. Not a timed test: run by
 * {@code ci/bench-tokenizer.sh}.
 *
 * <p>Tokenizers (the real files under java/core/src/test/resources/tokenizers):
 * <ul>
 * <li>gguf-llama: Llama 2's 32000 SentencePiece pieces as a GGUF "llama" vocabulary with scores, written the way
 *     {@code transfuse quantize} writes it from the Hugging Face directory ({@link TokenizerJsonToGguf});
 *     llama.cpp-style SentencePiece BPE over each whole stretch of text (no word splitting).</li>
 * <li>gguf-gpt2: Llama 3's byte-level BPE as a GGUF "gpt2" vocabulary (pre-tokenizer "llama-bpe").</li>
 * <li>json-llama3: Llama 3's tokenizer.json (Split regex + ByteLevel, then BPE per word).</li>
 * <li>json-llama2: Llama 2's tokenizer.json (no pre-tokenizer: the whole text is one BPE word).</li>
 * <li>json-t5: the T5-layout SentencePiece Unigram fixture (8000 pieces; Precompiled nmt_nfkc normaliser,
 *     WhitespaceSplit + Metaspace, Viterbi per word).</li>
 * <li>json-xlmr: the XLM-R-layout Unigram fixture (Precompiled + Replace, Metaspace split).</li>
 * </ul>
 * The text is seeded and varied: English-like words, capitals, numbers, punctuation, accented Latin, Cyrillic,
 * Greek, CJK, emoji, and runs of spaces, tabs and newlines.
 *
 * <p>Usage: {@code TokenizerScaling [--fixtures DIR] [--words 1000,10000,100000] [--only NAME,...] [--max-seconds S]
 * [--reps N]}: each size is encoded {@code --reps} times (default 3; fewer when that would pass {@code --max-seconds})
 * and the fastest run is shown, with its CPU time, since on a shared machine the wall clock also counts others'
 * work; a size whose time, extrapolated linearly from the size before it, would pass {@code --max-seconds}
 * (default 120) is skipped and says so.
 */
public final class TokenizerScaling {
    /** Time on this thread's CPU beside wall time: on a shared machine the wall clock also counts others' work. */
    private static final com.sun.management.ThreadMXBean THREAD = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private TokenizerScaling() {}

    public static void main(String[] args) throws Exception {
        Path fixtures = Path.of("java/core/src/test/resources/tokenizers");
        int[] sizes = {1_000, 10_000, 100_000};
        List<String> only = List.of("gguf-llama", "gguf-gpt2", "json-llama3", "json-llama2", "json-t5", "json-xlmr");
        double maxSeconds = 120;
        int reps = 3;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--fixtures" -> fixtures = Path.of(args[++i]);
                case "--words" -> sizes = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--only" -> only = List.of(args[++i].split(","));
                case "--max-seconds" -> maxSeconds = Double.parseDouble(args[++i]);
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument '" + args[i]
                        + "' (use --fixtures DIR, --words N,N,..., --only NAME,..., --max-seconds S, --reps N)");
            }
        }
        if (!Files.isDirectory(fixtures)) {
            throw new IllegalArgumentException(fixtures + ": no such directory (run from the repository root or pass --fixtures)");
        }
        Path work = Files.createTempDirectory("transfuse-tokenizer-bench");
        System.out.println("| tokenizer | words | chars | tokens | seconds | us/word | CPU seconds | MB allocated |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|");
        try (TrackedArena arena = new TrackedArena("tokenizer-bench")) {
            for (String name : only) {
                Tokenizer tokenizer = load(name, fixtures, work, arena);
                tokenizer.encode(text(2_000, 1), false); // warm-up: JIT and per-word caches of a different text
                double previousSeconds = 0;
                int previousWords = 0;
                for (int words : sizes) {
                    if (previousWords > 0 && previousSeconds * words / previousWords > maxSeconds) {
                        System.out.printf(Locale.ROOT, "| %s | %d | | | skipped (>= %.0f s by linear extrapolation) | | | |%n",
                                name, words, previousSeconds * words / previousWords);
                        continue;
                    }
                    String text = text(words, 20261205);
                    double seconds = Double.MAX_VALUE, cpuSeconds = 0;
                    long allocated = 0;
                    int tokens = 0;
                    for (int rep = 0; rep < reps && (rep == 0 || seconds * (rep + 1) < maxSeconds); rep++) {
                        long allocatedBefore = THREAD.getCurrentThreadAllocatedBytes();
                        long cpuBefore = THREAD.getCurrentThreadCpuTime();
                        long start = System.nanoTime();
                        int[] ids = tokenizer.encode(text, false);
                        double s = (System.nanoTime() - start) / 1e9;
                        if (s < seconds) {
                            seconds = s;
                            cpuSeconds = (THREAD.getCurrentThreadCpuTime() - cpuBefore) / 1e9;
                            allocated = THREAD.getCurrentThreadAllocatedBytes() - allocatedBefore;
                            tokens = ids.length;
                        }
                    }
                    System.out.printf(Locale.ROOT, "| %s | %d | %d | %d | %.3f | %.2f | %.3f | %.0f |%n", name, words, text.length(), tokens,
                            seconds, seconds * 1e6 / words, cpuSeconds, allocated / 1e6);
                    previousSeconds = seconds;
                    previousWords = words;
                }
            }
        }
    }

    private static Tokenizer load(String name, Path fixtures, Path work, TrackedArena arena) throws IOException {
        return switch (name) {
            case "gguf-llama" -> gguf(fixtures, "llama2-tokenizer.json.gz", 32000, work.resolve("llama2"), arena);
            case "gguf-gpt2" -> gguf(fixtures, "llama3-tokenizer.json.gz", 128256, work.resolve("llama3"), arena);
            case "json-llama3" -> HfTokenizer.load(unpack(fixtures, "llama3-tokenizer.json.gz", work.resolve("json-llama3")));
            case "json-llama2" -> HfTokenizer.load(unpack(fixtures, "llama2-tokenizer.json.gz", work.resolve("json-llama2")));
            case "json-t5" -> HfTokenizer.load(unpack(fixtures, "spm-t5-unigram-tokenizer.json.gz", work.resolve("json-t5")));
            case "json-xlmr" -> HfTokenizer.load(unpack(fixtures, "spm-xlmr-unigram-tokenizer.json.gz", work.resolve("json-xlmr")));
            default -> throw new IllegalArgumentException("unknown tokenizer '" + name + "' (gguf-llama, gguf-gpt2, json-llama3, json-llama2, json-t5, json-xlmr)");
        };
    }

    /** The tokenizer.json as the GGUF vocabulary {@code transfuse quantize} would write, read back by GgufTokenizers. */
    private static Tokenizer gguf(Path fixtures, String resource, int vocabSize, Path dir, TrackedArena arena) throws IOException {
        unpack(fixtures, resource, dir);
        Map<String, Object> metadata = TokenizerJsonToGguf.metadata(dir, vocabSize, null);
        GgufWriter writer = new GgufWriter().put("general.architecture", "llama");
        metadata.forEach(writer::put);
        Path file = dir.resolve("vocab.gguf");
        writer.write(file);
        return GgufTokenizers.load(GgufFile.open(file, arena));
    }

    private static Path unpack(Path fixtures, String resource, Path dir) throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve("tokenizer.json");
        try (InputStream in = new GZIPInputStream(Files.newInputStream(fixtures.resolve(resource)))) {
            Files.copy(in, file);
        }
        return file;
    }

    private static final String[] SYLLABLES = {"the", "an", "ing", "tion", "re", "con", "pro", "ex", "al", "er", "ly", "ment",
            "un", "de", "com", "ist", "ous", "ble", "in", "ter", "st", "qu", "ph", "ck"};
    private static final String[] FOREIGN = {"naïve", "résumé", "straße", "Øre", "İstanbul", "Éléphant", "привет", "мир", "Σας",
            "λόγος", "你好", "世界", "日本語", "한국어", "こんにちは", "🤗", "👍🏽", "١٢٣", "e\u0301", "café"};
    private static final String[] PUNCTUATION = {".", ",", ";", ":", "!", "?", "'s", "n't", ")", "\"", "...", "--"};

    /** {@code words} whitespace-separated words of varied kinds, the same for the same seed. */
    static String text(int words, long seed) {
        Random random = new Random(seed);
        StringBuilder sb = new StringBuilder(words * 7);
        for (int w = 0; w < words; w++) {
            if (w > 0) {
                int gap = random.nextInt(40);
                sb.append(gap == 0 ? "\n\n" : gap == 1 ? "\n" : gap == 2 ? "   " : gap == 3 ? "\t" : " ");
            }
            int kind = random.nextInt(20);
            if (kind < 13) {
                int syllables = 1 + random.nextInt(3);
                int at = sb.length();
                for (int s = 0; s < syllables; s++) sb.append(SYLLABLES[random.nextInt(SYLLABLES.length)]);
                if (kind == 0) sb.setCharAt(at, Character.toUpperCase(sb.charAt(at)));
                if (kind == 1) sb.replace(at, sb.length(), sb.substring(at).toUpperCase(Locale.ROOT));
            } else if (kind < 16) {
                sb.append(random.nextInt(kind == 13 ? 100 : kind == 14 ? 100_000 : 10_000_000));
            } else {
                sb.append(FOREIGN[random.nextInt(FOREIGN.length)]);
            }
            if (random.nextInt(6) == 0) sb.append(PUNCTUATION[random.nextInt(PUNCTUATION.length)]);
        }
        return sb.toString();
    }

}
