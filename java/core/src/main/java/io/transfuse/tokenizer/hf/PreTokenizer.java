package io.transfuse.tokenizer.hf;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code pre_tokenizer} of tokenizer.json: splits normalised text into words; the model then
 * tokenizes each word on its own. {@code atStart} says that the piece begins the original text
 * (Metaspace's "first" prepend scheme depends on it).
 */
interface PreTokenizer {
    void split(String piece, boolean atStart, List<String> out);

    /** GPT-2's word regex, used by ByteLevel when {@code use_regex} is set. */
    Pattern GPT2 = Pattern.compile("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);
    Pattern WORDS = Pattern.compile("\\w+|[^\\w\\s]+", Pattern.UNICODE_CHARACTER_CLASS);

    static PreTokenizer fromSpec(Spec spec) {
        if (spec.isNull()) return null;
        return switch (spec.type()) {
            case "BertPreTokenizer" -> (p, s, out) -> {
                List<String> words = new ArrayList<>();
                splitOnChars(p, Chars::isWhitespace, Behavior.REMOVED, words);
                for (String w : words) splitOnChars(w, Chars::isBertPunctuation, Behavior.ISOLATED, out);
            };
            case "Whitespace" -> (p, s, out) -> splitOnRegex(p, WORDS, true, Behavior.REMOVED, out);
            case "WhitespaceSplit" -> (p, s, out) -> splitOnChars(p, Chars::isWhitespace, Behavior.REMOVED, out);
            case "Punctuation" -> {
                Behavior b = Behavior.of(spec, "Isolated");
                yield (p, s, out) -> splitOnChars(p, Chars::isBertPunctuation, b, out);
            }
            case "Digits" -> {
                Behavior b = spec.bool("individual_digits", false) ? Behavior.ISOLATED : Behavior.CONTIGUOUS;
                yield (p, s, out) -> splitOnChars(p, PreTokenizer::isNumeric, b, out);
            }
            case "CharDelimiterSplit" -> {
                String d = spec.requireString("delimiter");
                if (d.codePointCount(0, d.length()) != 1) throw spec.error("'delimiter' must be one character");
                int delimiter = d.codePointAt(0);
                yield (p, s, out) -> splitOnChars(p, c -> c == delimiter, Behavior.REMOVED, out);
            }
            case "Split" -> {
                Pattern pattern = Patterns.of(spec.child("pattern"));
                Behavior b = Behavior.of(spec, null);
                boolean invert = spec.bool("invert", false);
                yield (p, s, out) -> splitOnRegex(p, pattern, invert, b, out);
            }
            case "ByteLevel" -> new ByteLevel(spec.bool("add_prefix_space", true), spec.bool("use_regex", true));
            case "Metaspace" -> Metaspace.fromSpec(spec);
            case "Sequence" -> {
                Spec list = spec.list("pretokenizers");
                List<PreTokenizer> parts = new ArrayList<>();
                for (int i = 0; i < list.size(); i++) {
                    PreTokenizer p = fromSpec(list.at(i));
                    if (p != null) parts.add(p);
                }
                yield (piece, atStart, out) -> {
                    List<String> current = List.of(piece);
                    for (PreTokenizer p : parts) {
                        List<String> next = new ArrayList<>();
                        for (int i = 0; i < current.size(); i++) p.split(current.get(i), atStart && i == 0, next);
                        current = next;
                    }
                    out.addAll(current);
                };
            }
            default -> throw spec.unsupported("pre_tokenizer");
        };
    }

    /** Rust's {@code char::is_numeric}, which Digits splits on: Unicode Nd, Nl and No, not only 0-9. */
    static boolean isNumeric(int c) {
        int t = Character.getType(c);
        return t == Character.DECIMAL_DIGIT_NUMBER || t == Character.LETTER_NUMBER || t == Character.OTHER_NUMBER;
    }

    /** What happens to the delimiters a split finds (Rust's SplitDelimiterBehavior). */
    enum Behavior {
        REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS;

        static Behavior of(Spec spec, String fallback) {
            String name = spec.string("behavior", fallback);
            if (name == null) throw spec.error("'behavior' is missing");
            return switch (name) {
                case "Removed" -> REMOVED;
                case "Isolated" -> ISOLATED;
                case "MergedWithPrevious" -> MERGED_WITH_PREVIOUS;
                case "MergedWithNext" -> MERGED_WITH_NEXT;
                case "Contiguous" -> CONTIGUOUS;
                default -> throw spec.error("'behavior' " + name + " is not supported");
            };
        }
    }

    /** Each character matching {@code delimiter} is one match; runs of others are one gap. */
    static void splitOnChars(String text, IntPredicate delimiter, Behavior behavior, List<String> out) {
        List<int[]> ranges = new ArrayList<>();
        int gapStart = 0;
        for (int i = 0; i < text.length(); ) {
            int c = text.codePointAt(i);
            int n = Character.charCount(c);
            if (delimiter.test(c)) {
                if (i > gapStart) ranges.add(new int[] {gapStart, i, 0});
                ranges.add(new int[] {i, i + n, 1});
                gapStart = i + n;
            }
            i += n;
        }
        if (gapStart < text.length()) ranges.add(new int[] {gapStart, text.length(), 0});
        emit(text, ranges, behavior, out);
    }

    static void splitOnRegex(String text, Pattern pattern, boolean invert, Behavior behavior, List<String> out) {
        List<int[]> ranges = new ArrayList<>();
        Matcher m = pattern.matcher(text);
        int last = 0;
        while (m.find()) {
            if (m.end() == m.start()) continue;
            if (m.start() > last) ranges.add(new int[] {last, m.start(), invert ? 1 : 0});
            ranges.add(new int[] {m.start(), m.end(), invert ? 0 : 1});
            last = m.end();
        }
        if (last < text.length()) ranges.add(new int[] {last, text.length(), invert ? 1 : 0});
        emit(text, ranges, behavior, out);
    }

    /** ranges: {start, end, isMatch}, covering the text in order. */
    private static void emit(String text, List<int[]> ranges, Behavior behavior, List<String> out) {
        List<int[]> pieces = new ArrayList<>();
        switch (behavior) {
            case REMOVED -> { for (int[] r : ranges) if (r[2] == 0) pieces.add(r); }
            case ISOLATED -> pieces.addAll(ranges);
            case CONTIGUOUS -> {
                int previous = -1;
                for (int[] r : ranges) {
                    if (r[2] == previous && !pieces.isEmpty()) pieces.getLast()[1] = r[1];
                    else pieces.add(r.clone());
                    previous = r[2];
                }
            }
            case MERGED_WITH_PREVIOUS -> {
                boolean previousMatch = false;
                for (int[] r : ranges) {
                    if (r[2] == 1 && !previousMatch && !pieces.isEmpty()) pieces.getLast()[1] = r[1];
                    else pieces.add(r.clone());
                    previousMatch = r[2] == 1;
                }
            }
            case MERGED_WITH_NEXT -> {
                boolean previousMatch = false;
                for (int i = ranges.size() - 1; i >= 0; i--) {
                    int[] r = ranges.get(i);
                    if (r[2] == 1 && !previousMatch && !pieces.isEmpty()) pieces.getLast()[0] = r[0];
                    else pieces.add(r.clone());
                    previousMatch = r[2] == 1;
                }
                java.util.Collections.reverse(pieces);
            }
        }
        for (int[] r : pieces) if (r[1] > r[0]) out.add(text.substring(r[0], r[1]));
    }

    /** GPT-2 style: optional leading space, the GPT-2 word regex, then bytes as printable characters. */
    record ByteLevel(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        @Override
        public void split(String piece, boolean atStart, List<String> out) {
            if (addPrefixSpace && !piece.startsWith(" ")) piece = " " + piece;
            if (!useRegex) {
                if (!piece.isEmpty()) out.add(ByteLevelAlphabet.encode(piece));
                return;
            }
            List<String> words = new ArrayList<>();
            splitOnRegex(piece, GPT2, false, Behavior.ISOLATED, words);
            for (String w : words) out.add(ByteLevelAlphabet.encode(w));
        }
    }

    /** SentencePiece style: spaces become U+2581, a leading one is added, optionally split before each. */
    record Metaspace(String replacement, String scheme, boolean splitWords) implements PreTokenizer {
        static Metaspace fromSpec(Spec spec) {
            String replacement = spec.requireString("replacement");
            String scheme = spec.string("prepend_scheme", null);
            if (scheme == null) scheme = spec.bool("add_prefix_space", true) ? "always" : "never";
            if (!scheme.equals("always") && !scheme.equals("first") && !scheme.equals("never")) {
                throw spec.error("'prepend_scheme' " + scheme + " is not supported");
            }
            return new Metaspace(replacement, scheme, spec.bool("split", true));
        }

        @Override
        public void split(String piece, boolean atStart, List<String> out) {
            String s = piece.replace(" ", replacement);
            if (!s.startsWith(replacement) && (scheme.equals("always") || (scheme.equals("first") && atStart))) s = replacement + s;
            if (!splitWords) {
                if (!s.isEmpty()) out.add(s);
                return;
            }
            int r = replacement.codePointAt(0);
            splitOnChars(s, c -> c == r, Behavior.MERGED_WITH_NEXT, out);
        }
    }
}
