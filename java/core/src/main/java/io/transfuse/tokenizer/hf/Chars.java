package io.transfuse.tokenizer.hf;

import java.util.Locale;

/** Character classes as the Rust tokenizers library defines them (Rust's char methods). */
final class Chars {
    private Chars() {}

    /** Rust {@code char::is_whitespace}: the Unicode White_Space property. */
    static boolean isWhitespace(int c) {
        return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
    }

    /** Unicode general category P* (Rust's unicode_categories {@code is_punctuation}). */
    static boolean isPunctuation(int c) {
        return switch (Character.getType(c)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                 Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                 Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    /** BERT's punctuation: ASCII punctuation (including symbols such as $ and ^) or Unicode P*. */
    static boolean isBertPunctuation(int c) {
        return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126) || isPunctuation(c);
    }

    /** Category C* other than tab, newline and carriage return (BERT's "control"). */
    static boolean isBertControl(int c) {
        if (c == '\t' || c == '\n' || c == '\r') return false;
        return switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE, Character.UNASSIGNED -> true;
            default -> false;
        };
    }

    /** The CJK Unified Ideograph blocks BERT pads with spaces. */
    static boolean isChinese(int c) {
        return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
                || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF)
                || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
    }

    /** Rust {@code char::is_numeric}: Nd, Nl, No. */
    static boolean isNumeric(int c) {
        int t = Character.getType(c);
        return t == Character.DECIMAL_DIGIT_NUMBER || t == Character.LETTER_NUMBER || t == Character.OTHER_NUMBER;
    }

    /** Rust {@code char::is_alphanumeric() || c == '_'}, used for single-word added tokens. */
    static boolean isWordChar(int c) {
        return c == '_' || Character.isLetter(c) || isNumeric(c);
    }

    /** Per-character lower-casing like Rust's {@code char::to_lowercase} (no final-sigma rule). */
    static String lowercase(String s) {
        StringBuilder out = null;
        for (int i = 0; i < s.length(); ) {
            int c = s.codePointAt(i);
            int n = Character.charCount(c);
            String lower;
            if (c < 128) {
                lower = c >= 'A' && c <= 'Z' ? String.valueOf((char) (c + 32)) : null;
            } else {
                String single = s.substring(i, i + n);
                lower = single.toLowerCase(Locale.ROOT);
                if (lower.equals(single)) lower = null;
            }
            if (lower != null && out == null) out = new StringBuilder(s.length()).append(s, 0, i);
            if (out != null) {
                if (lower != null) out.append(lower); else out.append(s, i, i + n);
            }
            i += n;
        }
        return out == null ? s : out.toString();
    }
}
