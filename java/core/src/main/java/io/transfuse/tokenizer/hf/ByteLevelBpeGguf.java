package io.transfuse.tokenizer.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelFormatException;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Byte-level BPE as GGUF stores it ({@code tokenizer.ggml.model = "gpt2"}: GPT-2, Llama 3,
 * Qwen2/3, SmolLM, ...), turned into the {@link HfTokenizer} Hugging Face's tokenizer.json for
 * the same model describes. Nothing is serialised: the tree, vocabulary and merges are handed to
 * {@link HfTokenizer} as its tokenizer.json reader would.
 *
 * <p>What the file gives and where it goes:
 * <ul>
 * <li>{@code tokenizer.ggml.tokens} (in id order, strings of GPT-2's byte alphabet, "Ġthe") and
 *     {@code tokenizer.ggml.merges} ("Ġ t", in rank order): the BPE model's vocabulary and merges.
 * <li>{@code tokenizer.ggml.token_type}: control (3) and user-defined (4) tokens are added tokens
 *     cut out of the raw text before pre-tokenization (converters store them as plain text, not in
 *     the byte alphabet); control ones are special (skipped when decoding skips specials, no bytes
 *     from {@code decode(previous, id)}), user-defined ones are not. They are left out of the BPE
 *     vocabulary. Every other type (normal, unused padding, ...) is a BPE vocabulary entry.
 * <li>{@code tokenizer.ggml.pre} picks the pre-tokenizer by llama.cpp's names for it ({@link #PRE_TOKENIZERS}):
 *     <ul>
 *     <li>absent or "default": llama.cpp's fallback, four regexes in turn (punctuation runs, the
 *         GPT-2 pattern, digit runs, groups of three digits), then ByteLevel without regex.
 *     <li>"gpt-2" (what llama.cpp's converter writes for GPT-2), "gpt2", "phi-2", "roberta-bpe": ByteLevel with the GPT-2 regex.
 *     <li>"llama-bpe", "llama3", "llama-v3", "falcon3", "pixtral" (Llama 3): Split on the Llama 3 regex (digits in runs of
 *         up to three, case-insensitive contractions), ByteLevel without regex; {@code ignore_merges}
 *         (a word that is itself a token is taken whole); BOS added by default.
 *     <li>"qwen2", "deepseek-r1-qwen": the Qwen2 regex (single digits) the same way, after an NFC normaliser (Hugging
 *         Face's Qwen2 file has one; llama.cpp does not normalise, so the two differ on text that is
 *         not in NFC).
 *     <li>"smollm": every digit split off, then ByteLevel with the GPT-2 regex.
 *     </ul>
 *     Any other value is an error naming it and these, as llama.cpp refuses a name it does not know.
 * <li>{@code tokenizer.ggml.bos_token_id}, {@code eos_token_id}: {@link HfTokenizer#bos()} and
 *     {@link HfTokenizer#eos()} (-1 when absent). {@code tokenizer.ggml.add_bos_token} and
 *     {@code add_eos_token} (defaults as llama.cpp has them: BOS for the Llama 3 pre-tokenizer only,
 *     never EOS) decide what {@code encode(text, true)} adds: a GPT-2 or Qwen2 file adds nothing,
 *     even though it names a BOS id, exactly as llama.cpp and Hugging Face do for those models.
 * </ul>
 * Not covered: other pre-tokenizers (DeepSeek, Falcon, StarCoder, ...), lstrip/rstrip flags some
 * converters infer for special tokens, llama.cpp's parse_special=false mode (control tokens in the
 * text are always matched, as in Hugging Face).
 */
public final class ByteLevelBpeGguf {
    private static final int CONTROL = 3, USER_DEFINED = 4;

    /**
     * The tokenizer.ggml.pre values understood, in the order error messages list them: the names
     * llama.cpp (v0.5.0 of node-llama-cpp's bundled source, llama-vocab.cpp) maps to the GPT-2,
     * Llama 3, Qwen2, SmolLM and default pre-tokenizers, and "gpt2" for files this project wrote
     * before it followed llama.cpp's spelling.
     */
    public static final List<String> PRE_TOKENIZERS = List.of("default", "gpt2", "gpt-2", "phi-2", "roberta-bpe", "llama-bpe", "llama3",
            "llama-v3", "falcon3", "pixtral", "qwen2", "deepseek-r1-qwen", "smollm");

    private static final String LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /**
     * llama.cpp's pre-tokenizer for a BPE vocabulary without tokenizer.ggml.pre (or "default"): four
     * regexes applied in turn, each splitting every piece into its matches and the text between.
     */
    private static final List<String> DEFAULT_REGEXES = List.of("[\\p{P}\\$\\+<=>\\^~\\|]+",
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", "\\p{N}+", "[0-9][0-9][0-9]");

    /** llama.cpp's pre-tokenizers; {@code name}: what its converter writes for a tokenizer.json with that pre_tokenizer. */
    private enum Pre {
        DEFAULT("default", false, false), GPT2("gpt-2", false, false), LLAMA3("llama-bpe", true, true), QWEN2("qwen2", false, false),
        SMOLLM("smollm", false, false);

        final String name;
        final boolean ignoreMerges;
        final boolean addBos;

        Pre(String name, boolean ignoreMerges, boolean addBos) {
            this.name = name;
            this.ignoreMerges = ignoreMerges;
            this.addBos = addBos;
        }

        static Pre of(String name) {
            return switch (name) {
                case "default" -> DEFAULT;
                case "gpt2", "gpt-2", "phi-2", "roberta-bpe" -> GPT2;
                case "llama-bpe", "llama3", "llama-v3", "falcon3", "pixtral" -> LLAMA3;
                case "qwen2", "deepseek-r1-qwen" -> QWEN2;
                case "smollm" -> SMOLLM;
                default -> null;
            };
        }
    }

    private ByteLevelBpeGguf() {}

    /**
     * The tokenizer of a GGUF file whose {@code tokenizer.ggml.model} is "gpt2". Errors name the
     * file and the metadata key at fault (missing merges, a merge of unknown tokens, array lengths
     * that disagree, special ids outside the vocabulary, an unknown pre-tokenizer).
     */
    public static HfTokenizer load(GgufFile gguf) {
        String where = gguf.path().toString();
        String model = gguf.require("tokenizer.ggml.model", String.class);
        if (!model.equals("gpt2")) throw new ModelFormatException(where + ": tokenizer.ggml.model '" + model + "' is not byte-level BPE (gpt2)");
        // No tokenizer.ggml.pre: llama.cpp falls back to its default pre-tokenizer (warning that quality may suffer); so do we.
        String preName = gguf.optional("tokenizer.ggml.pre", String.class, "default");
        Pre pre = Pre.of(preName);
        if (pre == null) {
            throw new ModelFormatException(where + ": tokenizer.ggml.pre '" + preName + "' is not supported (supported: "
                    + String.join(", ", PRE_TOKENIZERS) + ")");
        }
        String[] tokens = gguf.require("tokenizer.ggml.tokens", String[].class);
        int n = tokens.length;
        if (n == 0) throw new ModelFormatException(where + ": tokenizer.ggml.tokens is empty");
        long[] types = gguf.optional("tokenizer.ggml.token_type", long[].class, null);
        if (types != null && types.length != n) {
            throw new ModelFormatException(where + ": tokenizer.ggml.token_type has " + types.length + " entries for " + n + " tokenizer.ggml.tokens");
        }
        double[] scores = gguf.optional("tokenizer.ggml.scores", double[].class, null);
        if (scores != null && scores.length != n) {
            throw new ModelFormatException(where + ": tokenizer.ggml.scores has " + scores.length + " entries for " + n + " tokenizer.ggml.tokens");
        }
        String[] mergeLines = gguf.require("tokenizer.ggml.merges", String[].class);
        int bos = specialId(gguf, "tokenizer.ggml.bos_token_id", n);
        int eos = specialId(gguf, "tokenizer.ggml.eos_token_id", n);
        boolean addBos = gguf.optional("tokenizer.ggml.add_bos_token", Boolean.class, pre.addBos);
        boolean addEos = gguf.optional("tokenizer.ggml.add_eos_token", Boolean.class, false);
        if (addBos && bos < 0) throw new ModelFormatException(where + ": tokenizer.ggml.bos_token_id is missing but BOS is to be added");
        if (addEos && eos < 0) throw new ModelFormatException(where + ": tokenizer.ggml.eos_token_id is missing but tokenizer.ggml.add_eos_token is true");

        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        Map<String, Integer> vocab = new HashMap<>(n * 2);
        for (int i = 0; i < n; i++) {
            long type = types == null ? 1 : types[i];
            if (type == CONTROL || type == USER_DEFINED) {
                if (tokens[i].isEmpty()) continue; // nothing to match in text
                added.addObject().put("id", i).put("content", tokens[i]).put("single_word", false).put("lstrip", false)
                        .put("rstrip", false).put("normalized", false).put("special", type == CONTROL);
            } else {
                vocab.putIfAbsent(tokens[i], i); // a repeated string keeps its first id
            }
        }
        List<Object> merges = new ArrayList<>(mergeLines.length);
        for (int rank = 0; rank < mergeLines.length; rank++) {
            String line = mergeLines[rank];
            int space = line.indexOf(' ', 1);
            if (space < 0 || line.indexOf(' ', space + 1) >= 0) {
                throw new ModelFormatException(where + ": tokenizer.ggml.merges[" + rank + "] '" + line + "' is not two tokens separated by one space");
            }
            String a = line.substring(0, space), b = line.substring(space + 1);
            if (!vocab.containsKey(a) || !vocab.containsKey(b) || !vocab.containsKey(a + b)) {
                throw new ModelFormatException(where + ": tokenizer.ggml.merges[" + rank + "] '" + line
                        + "' joins tokens that are not (all three) in tokenizer.ggml.tokens");
            }
            merges.add(new String[] {a, b});
        }
        if (pre == Pre.QWEN2) root.putObject("normalizer").put("type", "NFC");
        else root.putNull("normalizer");
        root.set("pre_tokenizer", preTokenizer(json, pre));
        if (addBos || addEos) root.set("post_processor", template(json, tokens, addBos ? bos : -1, addEos ? eos : -1));
        else root.putNull("post_processor");
        root.set("decoder", byteLevel(json, true));
        ObjectNode bpe = root.putObject("model").put("type", "BPE");
        bpe.putNull("dropout");
        bpe.putNull("unk_token");
        bpe.put("continuing_subword_prefix", "").put("end_of_word_suffix", "").put("fuse_unk", false).put("byte_fallback", false)
                .put("ignore_merges", pre.ignoreMerges);
        return HfTokenizer.assemble(new TokenizerJson.Parsed(root, vocab, merges), where, new HfTokenizer.Fixed(bos, eos, n, io.transfuse.tokenizer.EndOfGeneration.ggufIds(gguf, n)));
    }

    private static int specialId(GgufFile gguf, String key, int n) {
        Long id = gguf.optional(key, Long.class, null);
        if (id == null) return -1;
        if (id < 0 || id >= n) throw new ModelFormatException(gguf.path() + ": " + key + " " + id + " is outside tokenizer.ggml.tokens (" + n + " tokens)");
        return (int) (long) id;
    }

    /**
     * The {@code tokenizer.ggml.pre} name of a tokenizer.json {@code pre_tokenizer}: the pre-tokenizer of this class
     * whose tree it matches (types, split patterns and behaviours, regex and digit switches; offsets and prefix-space
     * flags aside), or null. llama.cpp's converter recognises a tokenizer by hashing its output instead, and refuses
     * one it does not know, as the caller does with null.
     */
    static String preName(JsonNode preTokenizer) {
        ObjectMapper json = new ObjectMapper();
        JsonNode given = shape(json, preTokenizer);
        for (Pre pre : Pre.values()) {
            if (pre != Pre.DEFAULT && shape(json, preTokenizer(json, pre)).equals(given)) return pre.name;
        }
        return null;
    }

    /** The parts of a pre_tokenizer tree that decide how text is split. */
    private static JsonNode shape(ObjectMapper json, JsonNode node) {
        if (node == null || node.isNull()) return json.nullNode();
        ObjectNode out = json.createObjectNode();
        String type = node.path("type").asText("");
        out.put("type", type);
        switch (type) {
            case "Sequence" -> {
                ArrayNode list = out.putArray("pretokenizers");
                for (JsonNode p : node.path("pretokenizers")) list.add(shape(json, p));
            }
            case "Split" -> out.put("pattern", node.path("pattern").toString()).put("behavior", node.path("behavior").asText())
                    .put("invert", node.path("invert").asBoolean(false));
            case "ByteLevel" -> out.put("use_regex", node.path("use_regex").asBoolean(true));
            case "Digits" -> out.put("individual_digits", node.path("individual_digits").asBoolean(false));
            default -> out.set("node", node);
        }
        return out;
    }

    private static ObjectNode preTokenizer(ObjectMapper json, Pre pre) {
        return switch (pre) {
            case GPT2 -> byteLevel(json, true);
            case DEFAULT -> {
                ObjectNode seq = json.createObjectNode().put("type", "Sequence");
                ArrayNode list = seq.putArray("pretokenizers");
                for (String regex : DEFAULT_REGEXES) {
                    ObjectNode split = list.addObject().put("type", "Split");
                    split.putObject("pattern").put("Regex", regex);
                    split.put("behavior", "Isolated").put("invert", false);
                }
                list.add(byteLevel(json, false));
                yield seq;
            }
            case SMOLLM -> {
                ObjectNode seq = json.createObjectNode().put("type", "Sequence");
                ArrayNode list = seq.putArray("pretokenizers");
                list.addObject().put("type", "Digits").put("individual_digits", true);
                list.add(byteLevel(json, true));
                yield seq;
            }
            case LLAMA3, QWEN2 -> {
                ObjectNode seq = json.createObjectNode().put("type", "Sequence");
                ArrayNode list = seq.putArray("pretokenizers");
                ObjectNode split = list.addObject().put("type", "Split");
                split.putObject("pattern").put("Regex", pre == Pre.LLAMA3 ? LLAMA3_REGEX : QWEN2_REGEX);
                split.put("behavior", "Isolated").put("invert", false);
                list.add(byteLevel(json, false));
                yield seq;
            }
        };
    }

    private static ObjectNode byteLevel(ObjectMapper json, boolean useRegex) {
        return json.createObjectNode().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                .put("use_regex", useRegex);
    }

    /** "[BOS] $A [EOS]", either side optional (-1). */
    private static ObjectNode template(ObjectMapper json, String[] tokens, int bos, int eos) {
        ObjectNode post = json.createObjectNode().put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        ObjectNode specials = post.putObject("special_tokens");
        if (bos >= 0) single.addObject().putObject("SpecialToken").put("id", special(specials, "bos", tokens[bos], bos)).put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        if (eos >= 0) single.addObject().putObject("SpecialToken").put("id", special(specials, "eos", tokens[eos], eos)).put("type_id", 0);
        post.putArray("pair");
        return post;
    }

    /** Adds a special_tokens entry (keyed by its text unless that key is taken by another id) and returns the key. */
    private static String special(ObjectNode specials, String role, String content, int id) {
        String key = content;
        if (specials.has(key) && specials.get(key).get("ids").get(0).intValue() != id) key = role + ":" + id;
        ObjectNode entry = specials.putObject(key).put("id", key);
        entry.putArray("ids").add(id);
        entry.putArray("tokens").add(content);
        return key;
    }
}
