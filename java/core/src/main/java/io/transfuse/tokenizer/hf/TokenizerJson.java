package io.transfuse.tokenizer.hf;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.loader.ModelFormatException;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads tokenizer.json. The model's {@code vocab} and {@code merges} (hundreds of thousands of
 * entries for Llama-3 or Qwen2) are streamed straight into a map and a list; everything else
 * becomes a Jackson tree. Building a tree for the vocabulary would take several times longer.
 */
final class TokenizerJson {
    // The vocabulary's tokens arrive as field names: interning and canonicalising 150k unique
    // names costs seconds, so both are off.
    private static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
            .disable(JsonFactory.Feature.INTERN_FIELD_NAMES).disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES).build());

    /**
     * The file without model.vocab and model.merges, and those two read separately: {@code vocab} when it is an
     * object of token to id (BPE, WordPiece, WordLevel), {@code scored} when it is a list of [piece, score]
     * (Unigram).
     */
    record Parsed(ObjectNode root, Map<String, Integer> vocab, List<Object> merges, Scored scored) {
        Parsed(ObjectNode root, Map<String, Integer> vocab, List<Object> merges) {
            this(root, vocab, merges, null);
        }
    }

    /** A Unigram vocabulary: the pieces in id order and their scores (log probabilities). */
    record Scored(List<String> pieces, double[] scores) {}

    private TokenizerJson() {}

    static Parsed read(InputStream in, String source) {
        try (JsonParser p = MAPPER.getFactory().createParser(in)) {
            if (p.nextToken() != JsonToken.START_OBJECT) throw new ModelFormatException(source + ": not a JSON object");
            ObjectNode root = MAPPER.createObjectNode();
            Map<String, Integer> vocab = null;
            List<Object> merges = null;
            Scored scored = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if (field.equals("model") && value == JsonToken.START_OBJECT) {
                    ObjectNode model = MAPPER.createObjectNode();
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String key = p.currentName();
                        JsonToken v = p.nextToken();
                        if (key.equals("vocab") && v == JsonToken.START_OBJECT) {
                            vocab = readVocab(p, source);
                        } else if (key.equals("vocab") && v == JsonToken.START_ARRAY) {
                            scored = readScored(p, source);
                        } else if (key.equals("merges") && v == JsonToken.START_ARRAY) {
                            merges = readMerges(p, source);
                        } else {
                            model.set(key, MAPPER.readTree(p));
                        }
                    }
                    root.set("model", model);
                } else {
                    root.set(field, value == JsonToken.VALUE_NULL ? root.nullNode() : MAPPER.readTree(p));
                }
            }
            return new Parsed(root, vocab, merges, scored);
        } catch (IOException e) {
            throw new ModelFormatException(source + ": invalid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
    }

    private static Map<String, Integer> readVocab(JsonParser p, String source) throws IOException {
        Map<String, Integer> vocab = new HashMap<>(1 << 16);
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String token = p.currentName();
            if (p.nextToken() != JsonToken.VALUE_NUMBER_INT) {
                throw new ModelFormatException(source + ": tokenizer.model.vocab id of '" + token + "' is not an integer");
            }
            vocab.put(token, p.getIntValue());
        }
        return vocab;
    }

    /** [[piece, score], ...] as XLM-R's 250k entries: a tree of them would be several times slower to build. */
    private static Scored readScored(JsonParser p, String source) throws IOException {
        List<String> pieces = new ArrayList<>(1 << 15);
        double[] scores = new double[1 << 15];
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            int i = pieces.size();
            if (t != JsonToken.START_ARRAY || p.nextToken() != JsonToken.VALUE_STRING) {
                throw new ModelFormatException(source + ": tokenizer.model.vocab[" + i + "] must be [piece, score]");
            }
            String piece = p.getText();
            JsonToken score = p.nextToken();
            if (score != JsonToken.VALUE_NUMBER_FLOAT && score != JsonToken.VALUE_NUMBER_INT) {
                throw new ModelFormatException(source + ": tokenizer.model.vocab[" + i + "] ('" + piece + "') has no numeric score");
            }
            if (i == scores.length) scores = java.util.Arrays.copyOf(scores, i * 2);
            scores[i] = p.getDoubleValue();
            if (p.nextToken() != JsonToken.END_ARRAY) {
                throw new ModelFormatException(source + ": tokenizer.model.vocab[" + i + "] ('" + piece + "') must be [piece, score]");
            }
            pieces.add(piece);
        }
        return new Scored(pieces, java.util.Arrays.copyOf(scores, pieces.size()));
    }

    /** Each merge as the string "a b" or a String[2] {a, b}; anything else as its tree (rejected later). */
    private static List<Object> readMerges(JsonParser p, String source) throws IOException {
        List<Object> merges = new ArrayList<>(1 << 16);
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
            if (t == JsonToken.VALUE_STRING) {
                merges.add(p.getText());
            } else if (t == JsonToken.START_ARRAY) {
                List<String> parts = new ArrayList<>(2);
                while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                    if (t != JsonToken.VALUE_STRING) throw new ModelFormatException(source + ": tokenizer.model.merges[" + merges.size() + "] must hold strings");
                    parts.add(p.getText());
                }
                merges.add(parts.size() == 2 ? parts.toArray(String[]::new) : String.join(" ", parts) + " (" + parts.size() + " tokens)");
            } else {
                merges.add(MAPPER.readTree(p));
            }
        }
        return merges;
    }
}
