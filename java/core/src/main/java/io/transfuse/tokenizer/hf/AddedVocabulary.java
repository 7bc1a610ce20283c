package io.transfuse.tokenizer.hf;

import io.transfuse.tokenizer.LongestMatch;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code added_tokens} of tokenizer.json. They are cut out of the text before the model sees
 * it: first those with {@code normalized: false} on the raw text, then, on each normalised
 * remainder, those with {@code normalized: true} (matched in their normalised form). Matching is
 * leftmost-longest; {@code single_word}, {@code lstrip} and {@code rstrip} are honoured.
 */
final class AddedVocabulary {
    record Token(int id, String content, boolean singleWord, boolean lstrip, boolean rstrip, boolean normalized, boolean special) {}

    /** A piece of text: either an added token ({@code tokenId >= 0}) or text for the model. */
    record Piece(String text, int tokenId, boolean atStart) {}

    private final List<Token> tokens = new ArrayList<>();
    private final Map<Integer, Token> byId = new HashMap<>();
    private final Map<String, Token> byContent = new HashMap<>();
    private final Matcher raw;
    private final Matcher normalized;

    AddedVocabulary(Spec list, Normalizer normalizer) {
        if (!list.isNull()) {
            if (!list.node().isArray()) throw list.error("must be a list");
            for (int i = 0; i < list.size(); i++) {
                Spec t = list.at(i);
                Token token = new Token(t.integer("id", -1), t.requireString("content"), t.bool("single_word", false),
                        t.bool("lstrip", false), t.bool("rstrip", false), t.bool("normalized", true), t.bool("special", false));
                if (token.id < 0) throw t.error("'id' is missing");
                if (token.content.isEmpty()) throw t.error("'content' is empty");
                tokens.add(token);
                byId.put(token.id, token);
                byContent.put(token.content, token);
            }
        }
        List<Token> rawTokens = new ArrayList<>();
        List<String> rawPatterns = new ArrayList<>();
        List<Token> normTokens = new ArrayList<>();
        List<String> normPatterns = new ArrayList<>();
        for (Token t : tokens) {
            if (t.normalized) {
                String p = normalizer == null ? t.content : normalizer.normalize(t.content);
                if (!p.isEmpty()) { normTokens.add(t); normPatterns.add(p); }
            } else {
                rawTokens.add(t);
                rawPatterns.add(t.content);
            }
        }
        raw = new Matcher(rawTokens, rawPatterns);
        normalized = new Matcher(normTokens, normPatterns);
    }

    Token byId(int id) {
        return byId.get(id);
    }

    Token byContent(String content) {
        return byContent.get(content);
    }

    List<Token> tokens() {
        return tokens;
    }

    boolean isSpecial(int id) {
        Token t = byId.get(id);
        return t != null && t.special;
    }

    /** First pass: split the raw text on the added tokens that are matched before normalisation. */
    List<Piece> splitRaw(String text) {
        return raw.split(text, true);
    }

    /** Second pass: split normalised text on the added tokens matched after normalisation. */
    List<Piece> splitNormalized(String text, boolean atStart) {
        return normalized.split(text, atStart);
    }

    private static final class Matcher {
        private final LongestMatch byPattern = new LongestMatch(); // pattern -> its first index
        private final List<Token> tokens;
        private final List<String> patterns;

        Matcher(List<Token> tokens, List<String> patterns) {
            this.tokens = tokens;
            this.patterns = patterns;
            for (int i = 0; i < patterns.size(); i++) byPattern.add(patterns.get(i), i);
        }

        List<Piece> split(String text, boolean atStart) {
            List<Piece> out = new ArrayList<>();
            if (byPattern.isEmpty()) {
                if (!text.isEmpty()) out.add(new Piece(text, -1, atStart));
                return out;
            }
            int startOffset = 0;
            int i = 0;
            while (i < text.length()) {
                int best = byPattern.longestAt(text, i); // leftmost-longest, as the Rust library's Aho-Corasick
                if (best < 0) { i++; continue; }
                Token t = tokens.get(best);
                int start = i, stop = i + patterns.get(best).length();
                if (t.singleWord) {
                    boolean startOk = start == 0 || !Chars.isWordChar(text.codePointBefore(start));
                    boolean stopOk = stop == text.length() || !Chars.isWordChar(text.codePointAt(stop));
                    if (!startOk || !stopOk) { i = stop; continue; } // the matcher resumes after the rejected match
                }
                if (t.lstrip) {
                    int s = start;
                    while (s > 0 && Chars.isWhitespace(text.codePointBefore(s))) s -= Character.charCount(text.codePointBefore(s));
                    start = Math.max(s, startOffset);
                }
                if (t.rstrip) {
                    while (stop < text.length() && Chars.isWhitespace(text.codePointAt(stop))) stop += Character.charCount(text.codePointAt(stop));
                }
                if (start > startOffset) out.add(new Piece(text.substring(startOffset, start), -1, atStart && startOffset == 0));
                out.add(new Piece(text.substring(start, stop), t.id, false));
                startOffset = stop;
                i = Math.max(stop, i + patterns.get(best).length());
            }
            if (startOffset < text.length()) out.add(new Piece(text.substring(startOffset), -1, atStart && startOffset == 0));
            return out;
        }
    }
}
