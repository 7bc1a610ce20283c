package io.transfuse.tokenizer.hf;

import java.util.ArrayList;
import java.util.List;

/**
 * A text cut into words with their character offsets, the way BERT's basic tokenizer cuts it: at white
 * space, with every punctuation character (BERT's definition: ASCII symbols and Unicode P* categories)
 * and every CJK ideograph a word of its own. Token classification tokenizes such words one by one so each
 * token knows the characters it came from. For WordPiece tokenizers (BertPreTokenizer) the words'
 * tokens, concatenated, are exactly the text's tokens; byte-level BPE would have merged some
 * punctuation runs and contractions ("'s") that this cuts apart.
 */
public final class WordSpans {
    private WordSpans() {}

    /** A word: characters [start, end) of the text, and whether a plain space precedes it. */
    public record Span(int start, int end, boolean afterSpace) {}

    public static List<Span> split(String text) {
        List<Span> out = new ArrayList<>();
        int i = 0, n = text.length();
        while (i < n) {
            int cp = text.codePointAt(i), len = Character.charCount(cp);
            if (Character.isWhitespace(cp) || Character.isSpaceChar(cp)) {
                i += len;
                continue;
            }
            boolean space = i > 0 && text.charAt(i - 1) == ' ';
            if (isPunctuation(cp) || isCjk(cp)) {
                out.add(new Span(i, i + len, space));
                i += len;
                continue;
            }
            int start = i;
            while (i < n) {
                cp = text.codePointAt(i);
                if (Character.isWhitespace(cp) || Character.isSpaceChar(cp) || isPunctuation(cp) || isCjk(cp)) break;
                i += Character.charCount(cp);
            }
            out.add(new Span(start, i, space));
        }
        return out;
    }

    /** BERT's _is_punctuation: ASCII 33-47, 58-64, 91-96, 123-126, and Unicode categories P*. */
    static boolean isPunctuation(int cp) {
        if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
        int t = Character.getType(cp);
        return t == Character.CONNECTOR_PUNCTUATION || t == Character.DASH_PUNCTUATION || t == Character.START_PUNCTUATION
                || t == Character.END_PUNCTUATION || t == Character.INITIAL_QUOTE_PUNCTUATION || t == Character.FINAL_QUOTE_PUNCTUATION
                || t == Character.OTHER_PUNCTUATION;
    }

    /** The CJK Unified Ideographs blocks BERT's _is_chinese_char lists. */
    static boolean isCjk(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
