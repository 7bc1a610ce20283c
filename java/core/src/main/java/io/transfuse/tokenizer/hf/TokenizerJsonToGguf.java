package io.transfuse.tokenizer.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face tokenizer (tokenizer.json, tokenizer_config.json) as the {@code tokenizer.ggml.*} metadata that
 * llama.cpp's converter (convert_hf_to_gguf.py, gguf-py's SpecialVocab) writes, the inverse of what
 * {@link ByteLevelBpeGguf} and {@code SentencePieceBpe} read:
 * <ul>
 * <li>byte-level BPE (a ByteLevel pre-tokenizer or decoder: GPT-2, Llama 3, Qwen2/3, SmolLM) becomes model "gpt2":
 *     tokens in id order (in the byte alphabet), merges as "a b" in rank order, and the {@code tokenizer.ggml.pre}
 *     name of the pre-tokenizer ({@link ByteLevelBpeGguf#preName}); one it does not know is an error, as in
 *     llama.cpp's converter;</li>
 * <li>BPE with byte fallback (SentencePiece converted: Llama 2, Mistral, Gemma) becomes model "llama" with scores:
 *     each piece some merge makes scores minus the rank of the first such merge (Hugging Face wrote those merges
 *     in the order of tokenizer.model's scores, so highest-score-first SentencePiece merging gives the same pieces),
 *     every other piece -1e9 (never the result of a merge); {@code add_space_prefix} from a Prepend("▁") normaliser
 *     or a Metaspace pre-tokenizer that prepends.</li>
 * </ul>
 * Token types as llama.cpp's converter sets them: added tokens that are special, or look special
 * ({@code <|...|>}, {@code <unused...>}, ...), are control (3), other added tokens user-defined (4), the unknown
 * piece 2, {@code <0xNN>} pieces 6 (byte fallback only), ids the tokenizer lacks below the model's vocabulary size
 * unused "[PADn]" (5), the rest normal. BOS/EOS/UNK/PAD ids from tokenizer_config.json's {@code *_token} texts,
 * else config.json's {@code *_token_id}, else the post-processor's template; {@code add_bos_token} and
 * {@code add_eos_token} from tokenizer_config.json, else from whether that template opens with BOS / closes with EOS.
 *
 * <p>One departure from llama.cpp's converter: it writes "▁" in user-defined tokens as a space (Gemma's "▁▁" becomes
 * "  ", matched in the raw text). Kept as "▁▁", the token is reached from spaces by merging, as before, and also
 * matched where the text itself holds U+2581, as Hugging Face matches it (SentencePieceGgufReferenceTest). Not
 * written: EOT/EOM ids (llama.cpp and {@code EndOfGeneration} find those tokens by their text).
 */
public final class TokenizerJsonToGguf {
    private static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;
    private static final float NO_MERGE_SCORE = -1e9f;

    private TokenizerJsonToGguf() {}

    /**
     * The metadata for a model with {@code vocabSize} embedding rows (tokens past it are dropped, as llama.cpp's
     * converter drops them), in the order llama.cpp writes it. {@code modelConfig}: config.json, or null.
     */
    public static Map<String, Object> metadata(Path directory, int vocabSize, JsonNode modelConfig) {
        Path file = directory.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new ModelFormatException(directory + ": no tokenizer.json; a GGUF file needs the vocabulary (tokenizer.model alone is not read)");
        }
        JsonNode root = Json.read(file);
        Path configFile = directory.resolve("tokenizer_config.json");
        JsonNode config = Files.isRegularFile(configFile) ? Json.read(configFile) : MissingNode.getInstance();
        JsonNode cfg = modelConfig == null ? MissingNode.getInstance() : modelConfig;
        JsonNode model = root.path("model");
        if (!model.path("type").asText().equals("BPE")) {
            throw new ModelFormatException(file + ": model type '" + model.path("type").asText() + "' cannot be written as a GGUF vocabulary "
                    + "(supported: BPE, byte-level or with byte fallback)");
        }
        boolean byteLevel = mentionsByteLevel(root.get("pre_tokenizer")) || mentionsByteLevel(root.get("decoder"));
        if (!byteLevel && !model.path("byte_fallback").asBoolean(false)) {
            throw new ModelFormatException(file + ": a BPE model that is neither byte-level nor with byte fallback (SentencePiece) "
                    + "has no GGUF vocabulary type");
        }

        String[] tokens = new String[vocabSize];
        int[] types = new int[vocabSize];
        Map<String, Integer> pieces = new HashMap<>(vocabSize * 2);
        for (Iterator<Map.Entry<String, JsonNode>> it = model.path("vocab").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int id = e.getValue().asInt(-1);
            if (id < 0 || id >= vocabSize) continue;
            tokens[id] = e.getKey();
            types[id] = !byteLevel && e.getKey().matches("<0x[0-9A-Fa-f]{2}>") ? BYTE : NORMAL;
            pieces.put(e.getKey(), id);
        }
        Map<String, Integer> ids = new HashMap<>(pieces);
        for (JsonNode t : root.path("added_tokens")) {
            int id = t.path("id").asInt(-1);
            if (id < 0 || id >= vocabSize) continue;
            String content = t.path("content").asText();
            boolean control = t.path("special").asBoolean(false) || looksSpecial(content);
            tokens[id] = content;
            types[id] = control ? CONTROL : USER_DEFINED;
            ids.put(content, id);
        }
        int unk = -1;
        if (!byteLevel && model.hasNonNull("unk_token")) {
            unk = ids.getOrDefault(model.get("unk_token").asText(), -1);
            if (unk >= 0) types[unk] = UNKNOWN;
        }
        for (int i = 0; i < vocabSize; i++) {
            if (tokens[i] == null) {
                tokens[i] = "[PAD" + i + "]";
                types[i] = UNUSED;
            }
        }

        Map<String, Object> out = new LinkedHashMap<>();
        out.put("tokenizer.ggml.model", byteLevel ? "gpt2" : "llama");
        if (byteLevel) {
            String pre = ByteLevelBpeGguf.preName(root.get("pre_tokenizer"));
            if (pre == null) {
                throw new ModelFormatException(file + ": pre_tokenizer " + root.get("pre_tokenizer") + " is not one llama.cpp knows "
                        + "(supported: those of GPT-2, Llama 3, Qwen2 and SmolLM)");
            }
            out.put("tokenizer.ggml.pre", pre);
        } else {
            out.put("tokenizer.ggml.pre", "default");
        }
        out.put("tokenizer.ggml.tokens", tokens);
        List<String[]> merges = merges(model.path("merges"), file);
        if (!byteLevel) out.put("tokenizer.ggml.scores", scores(merges, pieces, vocabSize));
        out.put("tokenizer.ggml.token_type", types);
        if (byteLevel) out.put("tokenizer.ggml.merges", merges.stream().map(m -> m[0] + " " + m[1]).toArray(String[]::new));

        Template template = Template.of(root.get("post_processor"));
        putId(out, "bos", specialId(config, cfg, "bos", ids, template.first));
        putId(out, "eos", specialId(config, cfg, "eos", ids, template.last));
        putId(out, "unknown", unk >= 0 ? unk : specialId(config, cfg, "unk", ids, -1));
        putId(out, "padding", specialId(config, cfg, "pad", ids, -1));
        int bos = (int) out.getOrDefault("tokenizer.ggml.bos_token_id", -1), eos = (int) out.getOrDefault("tokenizer.ggml.eos_token_id", -1);
        out.put("tokenizer.ggml.add_bos_token", flag(config, "add_bos_token", template.first >= 0 && template.first == bos));
        out.put("tokenizer.ggml.add_eos_token", flag(config, "add_eos_token", template.last >= 0 && template.last == eos));
        if (!byteLevel) out.put("tokenizer.ggml.add_space_prefix", prependsSpace(root));
        return out;
    }

    /** llama.cpp's converter's does_token_look_special: added tokens some models do not mark special but are. */
    static boolean looksSpecial(String t) {
        return t.equals("<pad>") || t.equals("<mask>") || t.equals("<2mass>") || t.equals("[@BOS@]")
                || (t.startsWith("<|") && t.endsWith("|>")) || (t.startsWith("<\uff5c") && t.endsWith("\uff5c>"))
                || (t.startsWith("<unused") && t.endsWith(">"));
    }

    private static boolean mentionsByteLevel(JsonNode node) {
        if (node == null || node.isNull()) return false;
        if (node.path("type").asText().equals("ByteLevel")) return true;
        for (String list : new String[] {"pretokenizers", "decoders", "processors"}) {
            for (JsonNode child : node.path(list)) if (mentionsByteLevel(child)) return true;
        }
        return false;
    }

    /** Merges in rank order as pairs; tokenizer.json writes them as "a b" strings or [a, b] arrays. */
    private static List<String[]> merges(JsonNode list, Path file) {
        List<String[]> out = new ArrayList<>(list.size());
        int rank = 0;
        for (JsonNode m : list) {
            if (m.isArray() && m.size() == 2) out.add(new String[] {m.get(0).asText(), m.get(1).asText()});
            else {
                String s = m.asText();
                int space = s.indexOf(' ', 1);
                if (space < 0) throw new ModelFormatException(file + ": model.merges[" + rank + "] '" + s + "' is not two tokens");
                out.add(new String[] {s.substring(0, space), s.substring(space + 1)});
            }
            rank++;
        }
        return out;
    }

    /** Minus the rank of the first merge that makes each piece; {@link #NO_MERGE_SCORE} for the others. */
    private static float[] scores(List<String[]> merges, Map<String, Integer> pieces, int vocabSize) {
        float[] scores = new float[vocabSize];
        Arrays.fill(scores, NO_MERGE_SCORE);
        for (int rank = merges.size() - 1; rank >= 0; rank--) { // backwards: the first merge's rank stays
            Integer id = pieces.get(merges.get(rank)[0] + merges.get(rank)[1]);
            if (id != null) scores[id] = -rank;
        }
        return scores;
    }

    /** The ids a TemplateProcessing post-processor puts first and last in a single sequence (-1: none). */
    private record Template(int first, int last) {
        static Template of(JsonNode post) {
            if (post == null || post.isNull()) return new Template(-1, -1);
            if (post.path("type").asText().equals("Sequence")) {
                for (JsonNode p : post.path("processors")) {
                    Template t = of(p);
                    if (t.first >= 0 || t.last >= 0) return t;
                }
                return new Template(-1, -1);
            }
            if (!post.path("type").asText().equals("TemplateProcessing")) return new Template(-1, -1);
            JsonNode single = post.path("single");
            if (single.isEmpty()) return new Template(-1, -1);
            return new Template(specialAt(post, single.get(0)), specialAt(post, single.get(single.size() - 1)));
        }

        private static int specialAt(JsonNode post, JsonNode item) {
            if (!item.has("SpecialToken")) return -1;
            JsonNode ids = post.path("special_tokens").path(item.get("SpecialToken").path("id").asText()).path("ids");
            return ids.isArray() && !ids.isEmpty() ? ids.get(0).asInt(-1) : -1;
        }
    }

    /** tokenizer_config.json's {@code <role>_token} text, else config.json's {@code <role>_token_id} (first of a list), else {@code fallback}. */
    private static int specialId(JsonNode config, JsonNode modelConfig, String role, Map<String, Integer> ids, int fallback) {
        JsonNode text = config.path(role + "_token");
        String content = text.isTextual() ? text.asText() : text.path("content").asText(null);
        if (content != null && ids.containsKey(content)) return ids.get(content);
        JsonNode id = modelConfig.path(role + "_token_id");
        if (id.isArray() && !id.isEmpty()) id = id.get(0);
        if (id.canConvertToInt() && id.asInt() >= 0) return id.asInt();
        return fallback;
    }

    private static void putId(Map<String, Object> out, String role, int id) {
        if (id >= 0) out.put("tokenizer.ggml." + role + "_token_id", id);
    }

    private static boolean flag(JsonNode config, String key, boolean fallback) {
        JsonNode v = config.path(key);
        return v.isBoolean() ? v.asBoolean() : fallback;
    }

    /** A Prepend("▁") normaliser, or a Metaspace pre-tokenizer that prepends: SentencePiece's dummy prefix. */
    private static boolean prependsSpace(JsonNode root) {
        JsonNode norm = root.path("normalizer");
        List<JsonNode> norms = new ArrayList<>();
        if (norm.path("type").asText().equals("Sequence")) norm.path("normalizers").forEach(norms::add);
        else norms.add(norm);
        for (JsonNode n : norms) if (n.path("type").asText().equals("Prepend") && n.path("prepend").asText().equals("\u2581")) return true;
        JsonNode pre = root.path("pre_tokenizer");
        List<JsonNode> pres = new ArrayList<>();
        if (pre.path("type").asText().equals("Sequence")) pre.path("pretokenizers").forEach(pres::add);
        else pres.add(pre);
        for (JsonNode p : pres) {
            if (!p.path("type").asText().equals("Metaspace")) continue;
            String scheme = p.path("prepend_scheme").asText(p.path("add_prefix_space").asBoolean(false) ? "always" : "never");
            return !scheme.equals("never");
        }
        return false;
    }
}
