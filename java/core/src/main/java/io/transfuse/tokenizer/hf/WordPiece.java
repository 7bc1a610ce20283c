package io.transfuse.tokenizer.hf;

import java.util.Map;

/**
 * BERT's WordPiece: greedy longest-match-first over the characters of a word; pieces after the
 * first carry the continuing-subword prefix ("##"). A word with a piece that matches nothing, or
 * longer than {@code max_input_chars_per_word} characters, becomes the single unknown token.
 */
final class WordPiece extends VocabModel {
    private final String prefix;
    private final int maxChars;
    private final int unk;

    private WordPiece(Map<String, Integer> vocab, String unkToken, String prefix, int maxChars, Spec spec) {
        super(vocab);
        this.prefix = prefix;
        this.maxChars = maxChars;
        Integer u = vocab.get(unkToken);
        if (u == null) throw spec.error("unk_token '" + unkToken + "' is not in the vocabulary");
        this.unk = u;
    }

    static WordPiece fromSpec(Spec spec, Map<String, Integer> vocab) {
        return new WordPiece(vocab, spec.string("unk_token", "[UNK]"),
                spec.string("continuing_subword_prefix", "##"), spec.integer("max_input_chars_per_word", 100), spec);
    }

    String prefix() {
        return prefix;
    }

    @Override
    public int[] tokenize(String word) {
        int chars = word.codePointCount(0, word.length());
        if (chars > maxChars) return new int[] {unk};
        int[] out = new int[chars];
        int count = 0;
        int start = 0;
        StringBuilder candidate = new StringBuilder(prefix.length() + word.length());
        while (start < word.length()) {
            int end = word.length();
            int found = -1;
            while (end > start) {
                candidate.setLength(0);
                if (start > 0) candidate.append(prefix);
                candidate.append(word, start, end);
                Integer id = vocab.get(candidate.toString());
                if (id != null) {
                    found = id;
                    break;
                }
                end = word.offsetByCodePoints(end, -1);
            }
            if (found < 0) return new int[] {unk};
            out[count++] = found;
            start = end;
        }
        return java.util.Arrays.copyOf(out, count);
    }

}
