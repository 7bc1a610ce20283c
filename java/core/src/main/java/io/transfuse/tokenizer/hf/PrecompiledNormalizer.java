package io.transfuse.tokenizer.hf;

import java.text.BreakIterator;

/**
 * The {@code Precompiled} normaliser: SentencePiece's own normalisation, by its {@link PrecompiledCharsMap}. It is
 * applied the way the Rust tokenizers library applies it (0.21, {@code normalizers/precompiled.rs}), which is not how
 * SentencePiece itself walks the text but is what T5, ALBERT, XLM-R and mBART tokenizer.json files are used with:
 * the text is cut into extended grapheme clusters; a cluster of fewer than 6 UTF-8 bytes that some rule's source
 * begins is replaced whole by that rule's result; otherwise each of its characters is replaced by its own rule, or
 * kept.
 */
final class PrecompiledNormalizer implements Normalizer {
    private final PrecompiledCharsMap map;
    /** The replacement of each ASCII character standing alone, null where no rule applies. */
    private final String[] ascii = new String[128];

    PrecompiledNormalizer(PrecompiledCharsMap map) {
        this.map = map;
        byte[] one = new byte[1];
        for (int c = 0; c < 128; c++) {
            one[0] = (byte) c;
            ascii[c] = map.replacementOfPrefix(one, 0, 1);
        }
    }

    @Override
    public String normalize(String text) {
        int n = text.length();
        StringBuilder out = new StringBuilder(n + 16);
        BreakIterator graphemes = null;
        byte[] utf8 = new byte[64];
        for (int i = 0; i < n; ) {
            char c = text.charAt(i);
            // Two ASCII characters always have a cluster boundary between them, except CR LF: most text skips the
            // cluster search and the UTF-8 conversion.
            if (c < 0x80 && (i + 1 == n || (text.charAt(i + 1) < 0x80 && !(c == '\r' && text.charAt(i + 1) == '\n')))) {
                String r = ascii[c];
                if (r == null) out.append(c);
                else out.append(r);
                i++;
                continue;
            }
            if (graphemes == null) {
                graphemes = BreakIterator.getCharacterInstance(java.util.Locale.ROOT);
                graphemes.setText(text);
            }
            int end = graphemes.following(i);
            if (end == BreakIterator.DONE || end <= i) end = n;
            int bytes = 0;
            for (int k = i; k < end && bytes < 6; ) {
                int cp = text.codePointAt(k);
                bytes += utf8Length(cp);
                k += Character.charCount(cp);
            }
            if (bytes < 6) {
                int len = encode(text, i, end, utf8);
                String r = map.replacementOfPrefix(utf8, 0, len);
                if (r != null) {
                    out.append(r);
                    i = end;
                    continue;
                }
            }
            for (int k = i; k < end; ) {
                int cp = text.codePointAt(k);
                int count = Character.charCount(cp);
                int len = encode(text, k, k + count, utf8);
                String r = map.replacementOfPrefix(utf8, 0, len);
                if (r == null) out.appendCodePoint(cp);
                else out.append(r);
                k += count;
            }
            i = end;
        }
        return out.toString();
    }

    private static int utf8Length(int cp) {
        return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    }

    /** UTF-8 of text[from, to) into {@code out} (at most 6 bytes' worth of characters are asked for, plus one). */
    private static int encode(String text, int from, int to, byte[] out) {
        int len = 0;
        for (int k = from; k < to && len + 4 <= out.length; ) {
            int cp = text.codePointAt(k);
            k += Character.charCount(cp);
            if (cp < 0x80) {
                out[len++] = (byte) cp;
            } else if (cp < 0x800) {
                out[len++] = (byte) (0xC0 | cp >> 6);
                out[len++] = (byte) (0x80 | cp & 0x3F);
            } else if (cp < 0x10000) {
                out[len++] = (byte) (0xE0 | cp >> 12);
                out[len++] = (byte) (0x80 | cp >> 6 & 0x3F);
                out[len++] = (byte) (0x80 | cp & 0x3F);
            } else {
                out[len++] = (byte) (0xF0 | cp >> 18);
                out[len++] = (byte) (0x80 | cp >> 12 & 0x3F);
                out[len++] = (byte) (0x80 | cp >> 6 & 0x3F);
                out[len++] = (byte) (0x80 | cp & 0x3F);
            }
        }
        return len;
    }
}
