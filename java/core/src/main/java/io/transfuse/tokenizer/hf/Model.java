package io.transfuse.tokenizer.hf;

import java.util.List;
import java.util.Map;

/** The {@code model} of tokenizer.json: turns one pre-tokenized word into token ids. */
interface Model {
    int[] tokenize(String word);

    /** Id of a vocabulary entry, or -1. */
    int tokenToId(String token);

    /** Vocabulary entry of an id, or null. */
    String idToToken(int id);

    /** One past the largest id in the vocabulary. */
    int size();

    /** {@code vocab} and {@code merges} come separately: they are streamed, not kept as a tree. */
    static Model fromSpec(Spec spec, Map<String, Integer> vocab, List<Object> merges) {
        if (spec.isNull()) throw spec.error("is missing");
        String type = spec.node().has("type") ? spec.type() : guessType(spec, merges);
        if (!type.equals("WordPiece") && !type.equals("BPE") && !type.equals("WordLevel")) throw spec.unsupported("model");
        if (vocab == null) throw spec.error("'vocab' must be an object of token to id");
        return switch (type) {
            case "WordPiece" -> WordPiece.fromSpec(spec, vocab);
            case "BPE" -> Bpe.fromSpec(spec, vocab, merges);
            case "WordLevel" -> WordLevel.fromSpec(spec, vocab);
            default -> throw spec.unsupported("model");
        };
    }

    /** Old files omit the model type; BPE is the one with merges. */
    private static String guessType(Spec spec, List<Object> merges) {
        if (merges != null) return "BPE";
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
