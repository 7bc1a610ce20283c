package io.transfuse.tokenizer.hf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelFormatException;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes the Hugging Face tokenizer.json of a SentencePiece BPE vocabulary as GGUF stores it
 * (tokenizer.ggml.model "llama": tokens, scores, token types), in the layout Hugging Face uses for
 * Llama-2: normalizer Prepend("▁") + Replace(" " → "▁"), no pre-tokenizer, a BPE model with byte
 * fallback, "&lt;s&gt; $A" post-processing and the ▁/ByteFallback/Fuse/Strip decoder.
 *
 * <p>SentencePiece BPE merges the adjacent pair whose concatenation is the piece with the best
 * score; tokenizer.json lists merges by priority instead. Each piece of two or more code points
 * gives one merge per split into two pieces of the vocabulary, ranked by the piece's score (higher
 * first), ties by piece id, then by split position. Equal-score splits of the same piece are the
 * one place where the two can differ; {@code SentencePieceTokenizerJsonTest} checks the result
 * against {@code SentencePieceBpe} on a corpus.
 */
public final class SentencePieceTokenizerJson {
    private static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, BYTE = 6;

    private SentencePieceTokenizerJson() {}

    public static String fromGguf(GgufFile gguf) {
        String model = gguf.require("tokenizer.ggml.model", String.class);
        if (!model.equals("llama")) throw new ModelFormatException(gguf.path() + ": tokenizer.ggml.model '" + model + "' is not SentencePiece BPE (llama)");
        String[] tokens = gguf.require("tokenizer.ggml.tokens", String[].class);
        double[] scores = gguf.require("tokenizer.ggml.scores", double[].class);
        long[] types = gguf.require("tokenizer.ggml.token_type", long[].class);
        if (scores.length != tokens.length || types.length != tokens.length) {
            throw new ModelFormatException(gguf.path() + ": " + tokens.length + " tokens but " + scores.length + " scores and " + types.length + " types");
        }
        int bos = (int) (long) gguf.optional("tokenizer.ggml.bos_token_id", Long.class, 1L);
        int eos = (int) (long) gguf.optional("tokenizer.ggml.eos_token_id", Long.class, 2L);
        int unk = (int) (long) gguf.optional("tokenizer.ggml.unknown_token_id", Long.class, 0L);
        return build(tokens, scores, types, bos, eos, unk);
    }

    /** tokenizer.json text of a vocabulary given as GGUF stores it (token types: 1 normal, 2 unknown, 3 control, 6 byte). */
    public static String build(String[] tokens, double[] scores, long[] types, int bos, int eos, int unk) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int i = 0; i < tokens.length; i++) {
            if (types[i] != CONTROL && types[i] != UNKNOWN) continue;
            added.addObject().put("id", i).put("content", tokens[i]).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        ObjectNode norm = root.putObject("normalizer").put("type", "Sequence");
        ArrayNode norms = norm.putArray("normalizers");
        norms.addObject().put("type", "Prepend").put("prepend", "\u2581");
        ObjectNode replace = norms.addObject().put("type", "Replace");
        replace.putObject("pattern").put("String", " ");
        replace.put("content", "\u2581");
        root.putNull("pre_tokenizer");
        ObjectNode post = root.putObject("post_processor").put("type", "TemplateProcessing");
        post.putArray("single").addObject().putObject("SpecialToken").put("id", tokens[bos]).put("type_id", 0);
        ((ArrayNode) post.get("single")).addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", tokens[bos]).put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", tokens[bos]).put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode special = post.putObject("special_tokens").putObject(tokens[bos]).put("id", tokens[bos]);
        special.putArray("ids").add(bos);
        special.putArray("tokens").add(tokens[bos]);
        ObjectNode dec = root.putObject("decoder").put("type", "Sequence");
        ArrayNode decs = dec.putArray("decoders");
        ObjectNode rep = decs.addObject().put("type", "Replace");
        rep.putObject("pattern").put("String", "\u2581");
        rep.put("content", " ");
        decs.addObject().put("type", "ByteFallback");
        decs.addObject().put("type", "Fuse");
        decs.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        ObjectNode model = root.putObject("model").put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", tokens[unk]);
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true).put("byte_fallback", true);
        ObjectNode vocab = model.putObject("vocab");
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < tokens.length; i++) {
            vocab.put(tokens[i], i);
            if (types[i] == NORMAL) ids.putIfAbsent(tokens[i], i);
        }
        record Merge(String a, String b, int piece, int split) {}
        List<Merge> merges = new ArrayList<>();
        for (int i = 0; i < tokens.length; i++) {
            if (types[i] != NORMAL) continue;
            String p = tokens[i];
            for (int k = p.offsetByCodePoints(0, 1); k < p.length(); k = p.offsetByCodePoints(k, 1)) {
                String a = p.substring(0, k), b = p.substring(k);
                if (ids.containsKey(a) && ids.containsKey(b)) merges.add(new Merge(a, b, i, k));
            }
        }
        merges.sort(Comparator.comparingDouble((Merge m) -> -scores[m.piece]).thenComparingInt(Merge::piece).thenComparingInt(Merge::split));
        ArrayNode list = model.putArray("merges");
        for (Merge m : merges) list.add(m.a + " " + m.b);
        try {
            return json.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
