package io.transfuse.tokenizer.hf;

import java.util.Map;

/** The part every model shares: the vocabulary, token to id and id to token. */
abstract class VocabModel implements Model {
    protected final Map<String, Integer> vocab;
    protected final String[] tokens;

    VocabModel(Map<String, Integer> vocab) {
        this.vocab = vocab;
        this.tokens = reverse(vocab);
    }

    private static String[] reverse(Map<String, Integer> vocab) {
        int size = 0;
        for (int id : vocab.values()) size = Math.max(size, id + 1);
        String[] tokens = new String[size];
        vocab.forEach((t, id) -> { if (id >= 0) tokens[id] = t; });
        return tokens;
    }

    @Override
    public final int tokenToId(String token) {
        return vocab.getOrDefault(token, -1);
    }

    @Override
    public final String idToToken(int id) {
        return id >= 0 && id < tokens.length ? tokens[id] : null;
    }

    @Override
    public final int size() {
        return tokens.length;
    }
}
