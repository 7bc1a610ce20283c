package io.transfuse.tokenizer.hf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import java.util.zip.GZIPInputStream;

/** The real tokenizer.json files under src/test/resources/tokenizers (see the README there) and test texts. */
final class Fixtures {
    static final ObjectMapper MAPPER = new ObjectMapper();

    static final String MINILM = "all-minilm-l6-v2-tokenizer.json.gz";
    static final String BGE = "bge-small-en-v1.5-tokenizer.json.gz";
    static final String LLAMA2 = "llama2-tokenizer.json.gz";
    static final String QWEN3 = "qwen3-tokenizer.json.gz";
    static final String GPT2 = "gpt2-tokenizer.json.gz";
    static final String LLAMA3 = "llama3-tokenizer.json.gz";
    static final String GEMMA3 = "gemma3-tokenizer.json.gz";

    private Fixtures() {}

    static ObjectNode json(String resource) {
        try (InputStream in = Fixtures.class.getResourceAsStream("/tokenizers/" + resource)) {
            if (in == null) throw new IllegalStateException("missing test resource tokenizers/" + resource);
            return (ObjectNode) MAPPER.readTree(new GZIPInputStream(in));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes {@code resource} (after {@code edit}) as dir/tokenizer.json and returns its path. */
    static Path write(Path dir, String resource, Consumer<ObjectNode> edit) {
        try {
            Files.createDirectories(dir);
            Path file = dir.resolve("tokenizer.json");
            if (edit == null) {
                try (InputStream in = Fixtures.class.getResourceAsStream("/tokenizers/" + resource)) {
                    Files.copy(new GZIPInputStream(in), file);
                }
                return file;
            }
            ObjectNode root = json(resource);
            edit.accept(root);
            MAPPER.writeValue(file.toFile(), root);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void copyResource(String resource, Path target) {
        try (InputStream in = Fixtures.class.getResourceAsStream("/tokenizers/" + resource)) {
            Files.copy(in, target);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Hand-picked hard cases plus seeded random strings over a mixed alphabet with special tokens spliced in. */
    static List<String> texts() {
        List<String> texts = new ArrayList<>(List.of(
                "Hello, world! This is a test.",
                "Hello, wörld! 你好 🤗   spaces\tand\nnewlines <s> [SEP] don't",
                "", " ", "   ", "\n\n", "  leading spaces", "trailing spaces   ", "multiple     inner   \t\t runs",
                "Ça va? Éléphant naïve résumé İstanbul ΣΑΣ straße Øre",
                "こんにちは世界 한국어 中文字符测试 漢字",
                "a\u00A0b\u3000c\u2028d\u200Be\u0085f\u000Bg",
                "emoji 👨‍👩‍👧 🥲 ✔️ 🇫🇷 🤗🤗",
                "numbers 1234567 3.14 1,000,000 ١٢٣",
                "I'm sure they'll say we've done it; she's right, isn't it? I'd've LIKED it.",
                "<|endoftext|>hi<|im_start|>user\nhey<|im_end|>\n<think>x</think>",
                "[CLS] x [MASK] y [UNK] [PAD]", "</s><s> <s>a</s>",
                "<mask> a  <mask>b [[x]]   c foo_bar xfoo_bar foo_barx",
                "e\u0301 a\u0300 n\u0303 combining marks",
                "https://example.com/path?q=1&r=2#frag user@mail.org",
                "def f(x):\n    return x**2  # comment\n\tindented",
                "a".repeat(150), "x".repeat(30) + "y".repeat(250), "ab".repeat(300) + " " + "long words ".repeat(50)));
        Random random = new Random(20261123);
        String pool = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ     \t\n\r0123456789.,;:!?'\"-()[]{}<>/\\@#$%^&*_+=~`|"
                + "éèàüöñçßøÅÉİ你好世界日本語한국어🤗😀👍\u0301\u00A0\u200B\u3000ΣσςИван\u2581";
        int[] cps = pool.codePoints().toArray();
        String[] specials = {"<s>", "</s>", "<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "[SEP]", "[CLS]", "[MASK]",
                "<mask>", "foo_bar", "[[x]]", "<0x41>"};
        for (int i = 0; i < 250; i++) {
            StringBuilder sb = new StringBuilder();
            int length = random.nextInt(80);
            for (int j = 0; j < length; j++) {
                if (random.nextInt(25) == 0) sb.append(specials[random.nextInt(specials.length)]);
                else sb.appendCodePoint(cps[random.nextInt(cps.length)]);
            }
            texts.add(sb.toString());
        }
        return texts;
    }

    /**
     * A long text of {@code words} words, the same for the same seed, without special-token texts: English-like
     * words in three casings, numbers up to ten digits, punctuation, accented and combining Latin, Greek, Cyrillic,
     * Arabic digits, CJK, Hangul, emoji (with skin tone and ZWJ sequences), U+2581, and whitespace runs (spaces,
     * tabs, newlines, CRLF, NBSP, ideographic space) between and at both ends.
     */
    static String longText(int words, long seed) {
        String[] syllables = {"th", "e", "an", "ing", "tion", "re", "con", "pro", "ex", "al", "er", "ly", "ment", "un", "qu", "o", "st", "i"};
        String[] foreign = {"naïve", "résumé", "straße", "Øre", "İstanbul", "ΣΑΣ", "λόγος", "привет", "мир", "١٢٣", "你好", "世界", "日本語",
                "한국어", "こんにちは", "🤗", "👍🏽", "👨‍👩‍👧", "e\u0301", "n\u0303o", "\u2581x", "Ελλάδα", "façade", "漢字テスト"};
        String[] punctuation = {".", ",", ";", ":", "!", "?", "'s", "n't", "'ll", ")", "\"", "...", "--", "%", "$", "(", "#"};
        String[] gaps = {"  ", "   ", "\t", "\n", "\n\n", "\r\n", " \t ", "\u00A0", "\u3000", "\n    ", "          "};
        Random random = new Random(seed);
        StringBuilder sb = new StringBuilder(words * 8).append("  ");
        for (int w = 0; w < words; w++) {
            if (w > 0) sb.append(random.nextInt(8) == 0 ? gaps[random.nextInt(gaps.length)] : " ");
            int kind = random.nextInt(20);
            if (kind < 12) {
                int at = sb.length();
                for (int k = 1 + random.nextInt(4); k > 0; k--) sb.append(syllables[random.nextInt(syllables.length)]);
                if (kind == 0) sb.setCharAt(at, Character.toUpperCase(sb.charAt(at)));
                if (kind == 1) sb.replace(at, sb.length(), sb.substring(at).toUpperCase(java.util.Locale.ROOT));
            } else if (kind < 15) {
                sb.append(Math.abs(random.nextLong()) % new long[] {10, 1000, 100_000, 10_000_000_000L}[random.nextInt(4)]);
            } else {
                sb.append(foreign[random.nextInt(foreign.length)]);
            }
            if (random.nextInt(5) == 0) sb.append(punctuation[random.nextInt(punctuation.length)]);
        }
        return sb.append(" \n\n  ").toString();
    }
}
