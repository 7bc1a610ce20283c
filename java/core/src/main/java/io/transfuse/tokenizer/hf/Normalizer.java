package io.transfuse.tokenizer.hf;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/** The {@code normalizer} of tokenizer.json: rewrites text before it is split into words. */
interface Normalizer {
    String normalize(String text);

    static Normalizer fromSpec(Spec spec) {
        if (spec.isNull()) return null;
        return switch (spec.type()) {
            case "BertNormalizer" -> new Bert(spec.bool("clean_text", true), spec.bool("handle_chinese_chars", true),
                    spec.child("strip_accents").isNull() ? null : spec.bool("strip_accents", false), spec.bool("lowercase", true));
            case "Lowercase" -> Chars::lowercase;
            case "NFD" -> t -> java.text.Normalizer.normalize(t, java.text.Normalizer.Form.NFD);
            case "NFC" -> t -> java.text.Normalizer.normalize(t, java.text.Normalizer.Form.NFC);
            case "NFKD" -> t -> java.text.Normalizer.normalize(t, java.text.Normalizer.Form.NFKD);
            case "NFKC" -> t -> java.text.Normalizer.normalize(t, java.text.Normalizer.Form.NFKC);
            case "StripAccents" -> Normalizer::stripAllMarks;
            case "Strip" -> new Strip(spec.bool("strip_left", true), spec.bool("strip_right", true));
            case "Replace" -> new Replace(Patterns.of(spec.child("pattern")), spec.requireString("content"));
            case "Prepend" -> new Prepend(spec.requireString("prepend"));
            case "Precompiled" -> precompiled(spec);
            case "Sequence" -> {
                Spec list = spec.list("normalizers");
                List<Normalizer> parts = new ArrayList<>();
                for (int i = 0; i < list.size(); i++) {
                    Normalizer n = fromSpec(list.at(i));
                    if (n != null) parts.add(n);
                }
                yield new Sequence(parts);
            }
            default -> throw spec.unsupported("normalizer");
        };
    }

    /** SentencePiece's compiled rules; a file without them (null or empty) normalises nothing, as the Rust library does. */
    private static Normalizer precompiled(Spec spec) {
        String base64 = spec.string("precompiled_charsmap", null);
        if (base64 == null || base64.isEmpty()) return null;
        byte[] bytes;
        try {
            bytes = java.util.Base64.getDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            throw spec.error("'precompiled_charsmap' is not base64 (" + e.getMessage() + ")");
        }
        try {
            return new PrecompiledNormalizer(PrecompiledCharsMap.parse(bytes, spec.file() + ": " + spec.where()));
        } catch (IllegalArgumentException e) {
            throw new io.transfuse.loader.ModelFormatException(e.getMessage(), e);
        }
    }

    /**
     * The StripAccents normaliser: removes every combining mark (categories Mn, Mc and Me, the Rust library's
     * {@code is_combining_mark}), so Devanagari vowel signs go too; BERT's own accent stripping removes only Mn.
     */
    static String stripAllMarks(String text) {
        StringBuilder out = new StringBuilder(text.length());
        text.codePoints().filter(c -> {
            int t = Character.getType(c);
            return t != Character.NON_SPACING_MARK && t != Character.COMBINING_SPACING_MARK && t != Character.ENCLOSING_MARK;
        }).forEach(out::appendCodePoint);
        return out.toString();
    }

    /** Removes non-spacing marks (category Mn); after NFD that strips accents. */
    static String stripMarks(String text) {
        StringBuilder out = new StringBuilder(text.length());
        text.codePoints().filter(c -> Character.getType(c) != Character.NON_SPACING_MARK).forEach(out::appendCodePoint);
        return out.toString();
    }

    /** BERT: drop control characters, whitespace to space, space around CJK, strip accents, lower-case. */
    record Bert(boolean cleanText, boolean chinese, Boolean stripAccents, boolean lowercase) implements Normalizer {
        @Override
        public String normalize(String text) {
            StringBuilder out = new StringBuilder(text.length() + 8);
            for (int i = 0; i < text.length(); ) {
                int c = text.codePointAt(i);
                i += Character.charCount(c);
                if (cleanText) {
                    if (c == 0 || c == 0xFFFD || Chars.isBertControl(c)) continue;
                    if (c == '\t' || c == '\n' || c == '\r' || Chars.isWhitespace(c)) c = ' ';
                }
                if (chinese && Chars.isChinese(c)) {
                    out.append(' ').appendCodePoint(c).append(' ');
                } else {
                    out.appendCodePoint(c);
                }
            }
            String s = out.toString();
            if (stripAccents != null ? stripAccents : lowercase) {
                s = stripMarks(java.text.Normalizer.normalize(s, java.text.Normalizer.Form.NFD));
            }
            return lowercase ? Chars.lowercase(s) : s;
        }
    }

    record Strip(boolean left, boolean right) implements Normalizer {
        @Override
        public String normalize(String text) {
            int start = 0, end = text.length();
            if (left) while (start < end && Chars.isWhitespace(text.codePointAt(start))) start += Character.charCount(text.codePointAt(start));
            if (right) while (end > start && Chars.isWhitespace(text.codePointBefore(end))) end -= Character.charCount(text.codePointBefore(end));
            return text.substring(start, end);
        }
    }

    record Replace(Pattern pattern, String content) implements Normalizer {
        @Override
        public String normalize(String text) {
            return pattern.matcher(text).replaceAll(java.util.regex.Matcher.quoteReplacement(content));
        }
    }

    record Prepend(String prefix) implements Normalizer {
        @Override
        public String normalize(String text) {
            return text.isEmpty() ? text : prefix + text;
        }
    }

    record Sequence(List<Normalizer> parts) implements Normalizer {
        @Override
        public String normalize(String text) {
            for (Normalizer n : parts) text = n.normalize(text);
            return text;
        }
    }
}
