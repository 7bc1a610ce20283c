package io.transfuse.tokenizer.hf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/**
 * A small byte-level BPE tokenizer.json in the layout Hugging Face publishes for GPT-2 and
 * GPT-NeoX (ByteLevel pre-tokenizer, post-processor and decoder; no byte fallback needed): ids
 * 0..255 are the bytes (in byte order, as characters of GPT-2's byte alphabet), then one token
 * per merge, then {@code <|endoftext|>} as a special added token (its eos). For random-weight
 * test and benchmark models that need a real tokenizer without shipping a large vocabulary.
 */
public final class ByteLevelBpeJson {
    private ByteLevelBpeJson() {}

    /** A handful of frequent English pairs, so that ordinary text takes fewer tokens than bytes. */
    public static final List<String> ENGLISH_MERGES = List.of(
            "Ġ t", "h e", "i n", "Ġ a", "e r", "o n", "Ġt he", "r e", "a t", "o u", "Ġ s", "e n", "Ġ w", "n d", "Ġ o", "Ġ b");

    /** The tokens {@code 256 + merges.size() + 1}: bytes, merge results, {@code <|endoftext|>}. */
    public static int vocabularySize(List<String> merges) {
        return 256 + merges.size() + 1;
    }

    /**
     * The tokenizer.json text. Each merge is "left right", both sides already tokens (bytes as
     * their alphabet characters, 'Ġ' for a space) formed by earlier entries.
     */
    public static String build(List<String> merges) {
        ObjectMapper m = new ObjectMapper();
        ObjectNode vocab = m.createObjectNode();
        for (int b = 0; b < 256; b++) vocab.put(String.valueOf(ByteLevelAlphabet.BYTE_TO_CHAR[b]), b);
        ArrayNode mergeList = m.createArrayNode();
        for (String merge : merges) {
            String[] parts = merge.split(" ");
            if (parts.length != 2 || !vocab.has(parts[0]) || !vocab.has(parts[1])) {
                throw new IllegalArgumentException("merge '" + merge + "' must join two tokens defined before it");
            }
            String joined = parts[0] + parts[1];
            if (vocab.has(joined)) throw new IllegalArgumentException("merge '" + merge + "' produces an existing token");
            vocab.put(joined, vocab.size());
            mergeList.add(merge);
        }
        int eos = vocab.size();
        ObjectNode root = m.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        root.putArray("added_tokens").addObject().put("id", eos).put("content", "<|endoftext|>").put("single_word", false)
                .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
        root.putNull("normalizer");
        root.set("pre_tokenizer", byteLevel(m, false, true));
        root.set("post_processor", byteLevel(m, true, false));
        root.set("decoder", byteLevel(m, true, true));
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").putNull("dropout");
        model.putNull("unk_token");
        model.put("continuing_subword_prefix", "").put("end_of_word_suffix", "").put("fuse_unk", false)
                .put("byte_fallback", false).put("ignore_merges", false);
        model.set("vocab", vocab);
        model.set("merges", mergeList);
        return root.toString();
    }

    private static ObjectNode byteLevel(ObjectMapper m, boolean addPrefixSpace, boolean trimOffsets) {
        return m.createObjectNode().put("type", "ByteLevel").put("add_prefix_space", addPrefixSpace)
                .put("trim_offsets", trimOffsets).put("use_regex", true);
    }
}
