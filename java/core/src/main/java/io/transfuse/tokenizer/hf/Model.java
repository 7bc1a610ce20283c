package io.transfuse.tokenizer.hf;

import java.util.List;
import java.util.Map;

/** The {@code model} of tokenizer.json: turns one pre-tokenized word into token ids. */
interface Model {
    int[] tokenize(String word);

    /** Receives each token of a word: its id and its text in the encoding. */
    interface TokenSink {
        void add(int id, String token);
    }

    /**
     * The tokens of one word with their texts: the vocabulary entry, except where a model keeps the text it covered
     * (a Unigram unknown token carries the characters it stands for, as in the Rust library).
     */
    default void tokenize(String word, TokenSink out) {
        for (int id : tokenize(word)) out.add(id, idToToken(id));
    }

    /** Id of a vocabulary entry, or -1. */
    int tokenToId(String token);

    /** Vocabulary entry of an id, or null. */
    String idToToken(int id);

    /** One past the largest id in the vocabulary. */
    int size();

    /** Whether unknown text becomes {@code <0xXX>} byte tokens (and those decode to bytes). */
    default boolean byteFallback() {
        return false;
    }

    /** {@code vocab}, {@code merges} and a Unigram's scored vocabulary come separately: they are streamed, not kept as a tree. */
    static Model fromSpec(Spec spec, Map<String, Integer> vocab, List<Object> merges, TokenizerJson.Scored scored) {
        if (spec.isNull()) throw spec.error("is missing");
        String type = spec.node().has("type") ? spec.type() : guessType(spec, merges, scored);
        if (type.equals("Unigram")) {
            return Unigram.fromSpec(spec, scored == null ? null : scored.pieces(), scored == null ? null : scored.scores());
        }
        if (!type.equals("WordPiece") && !type.equals("BPE") && !type.equals("WordLevel")) throw spec.unsupported("model");
        if (vocab == null) throw spec.error("'vocab' must be an object of token to id");
        return switch (type) {
            case "WordPiece" -> WordPiece.fromSpec(spec, vocab);
            case "BPE" -> Bpe.fromSpec(spec, vocab, merges);
            case "WordLevel" -> WordLevel.fromSpec(spec, vocab);
            default -> throw spec.unsupported("model");
        };
    }

    /** Old files omit the model type; BPE is the one with merges, Unigram the one with scores. */
    private static String guessType(Spec spec, List<Object> merges, TokenizerJson.Scored scored) {
        if (merges != null) return "BPE";
        if (scored != null) return "Unigram";
        if (spec.node().has("continuing_subword_prefix")) return "WordPiece";
        throw spec.error("has no 'type'");
    }

    /** Whole-word lookup, unknown words become the unknown token. */
    final class WordLevel extends VocabModel {
        private final String unk;

        private WordLevel(Map<String, Integer> vocab, String unk) {
            super(vocab);
            this.unk = unk;
        }

        static WordLevel fromSpec(Spec spec, Map<String, Integer> vocab) {
            return new WordLevel(vocab, spec.string("unk_token", null));
        }

        @Override
        public int[] tokenize(String word) {
            Integer id = vocab.get(word);
            if (id == null && unk != null) id = vocab.get(unk);
            if (id == null) throw new IllegalStateException("WordLevel: '" + word + "' and the unknown token are not in the vocabulary");
            return new int[] {id};
        }

    }
}
