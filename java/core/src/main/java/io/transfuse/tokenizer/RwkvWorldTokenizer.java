package io.transfuse.tokenizer;

import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelFormatException;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Set;

/**
 * The RWKV "world" tokenizer ({@code tokenizer.ggml.model = "rwkv"}) as llama.cpp defines it (llama-vocab.cpp:
 * llm_tokenizer_rwkv): every token is a byte string, stored in GGUF as Python's {@code repr} of the bytes without
 * {@code b'...'} ({@code \\t \\n \\r \\xHH}, a backslash before any other byte stands for that byte); the text's UTF-8
 * bytes are cut greedily, at each position the longest token that matches there (a byte trie; a byte string
 * listed twice keeps the later id, as llama.cpp's trie does). No normalisation, no BOS/EOS added (RWKV adds none);
 * decoding gives each token's bytes, control tokens (type 3, "&lt;s&gt;") none. EOS and end-of-generation ids
 * come from the file (world models: eos 0, eot 261 = "\n\n").
 */
public final class RwkvWorldTokenizer implements Tokenizer {
    private static final int TYPE_CONTROL = 3;

    private final byte[][] bytes;
    private final String[] texts;
    private final boolean[] control;
    private final int bos, eos;
    private final Set<Integer> endOfGeneration;
    /** Trie: node -> child per byte (0 = none); value per node (-1 = none). Node 0 is the root. */
    private int[][] next = new int[1][];
    private int[] value = {-1};
    private int nodes = 1;

    public RwkvWorldTokenizer(String source, String[] tokens, int[] types, int bos, int eos, Iterable<Integer> endIds) {
        bytes = new byte[tokens.length][];
        control = new boolean[tokens.length];
        for (int id = 0; id < tokens.length; id++) {
            bytes[id] = unescape(tokens[id]);
            control[id] = types != null && types[id] == TYPE_CONTROL;
            if (bytes[id].length == 0) continue;
            insert(bytes[id], id);
        }
        this.bos = bos;
        this.eos = eos;
        this.texts = tokens.clone();
        // the ids the file names (eos, eot); world vocabularies have none of the special texts EndOfGeneration looks for
        this.endOfGeneration = EndOfGeneration.of(eos, endIds, java.util.List.of(), id -> null);
        if (tokens.length == 0) throw new ModelFormatException(source + ": tokenizer.ggml.tokens is empty");
    }

    /** The tokenizer of a GGUF file with {@code tokenizer.ggml.model = "rwkv"}. */
    public static RwkvWorldTokenizer fromGguf(GgufFile gguf) {
        String[] tokens = gguf.require("tokenizer.ggml.tokens", String[].class);
        long[] typeValues = gguf.optional("tokenizer.ggml.token_type", long[].class, null);
        if (typeValues != null && typeValues.length != tokens.length) {
            throw new ModelFormatException(gguf.path() + ": tokenizer has " + tokens.length + " tokens but " + typeValues.length + " token types");
        }
        int[] types = typeValues == null ? null : Arrays.stream(typeValues).mapToInt(t -> (int) t).toArray();
        return new RwkvWorldTokenizer(gguf.path().toString(), tokens, types, id(gguf, "tokenizer.ggml.bos_token_id", tokens.length),
                id(gguf, "tokenizer.ggml.eos_token_id", tokens.length), EndOfGeneration.ggufIds(gguf, tokens.length));
    }

    private static int id(GgufFile gguf, String key, int vocab) {
        Long v = gguf.optional(key, Long.class, null);
        if (v == null || v == -1 || v == 0xFFFFFFFFL) return -1;
        if (v < 0 || v >= vocab) throw new ModelFormatException(gguf.path() + ": " + key + " " + v + " is outside tokenizer.ggml.tokens (" + vocab + " tokens)");
        return (int) (long) v;
    }

    /** The bytes a stored token stands for (llama.cpp's llama_unescape_rwkv_token, applied to the UTF-8 of the text). */
    static byte[] unescape(String escaped) {
        byte[] in = escaped.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream(in.length);
        boolean escaping = false;
        int hexLeft = 0, hex = 0;
        for (byte b : in) {
            int c = b & 0xFF;
            if (hexLeft > 0) {
                hex = (hex << 4) + (c >= 'a' ? c - 'a' + 10 : c - '0');
                if (--hexLeft == 0) {
                    out.write(hex);
                    hex = 0;
                }
            } else if (escaping) {
                switch (c) {
                    case 't' -> out.write('\t');
                    case 'n' -> out.write('\n');
                    case 'r' -> out.write('\r');
                    case 'x' -> hexLeft = 2;
                    default -> out.write(c);
                }
                escaping = false;
            } else if (c == '\\') {
                escaping = true;
            } else {
                out.write(c);
            }
        }
        return out.toByteArray();
    }

    private void insert(byte[] key, int id) {
        int node = 0;
        for (byte b : key) {
            if (next[node] == null) next[node] = new int[256];
            int child = next[node][b & 0xFF];
            if (child == 0) {
                if (nodes == next.length) {
                    next = Arrays.copyOf(next, nodes * 2);
                    value = Arrays.copyOf(value, nodes * 2);
                }
                value[nodes] = -1;
                child = next[node][b & 0xFF] = nodes++;
            }
            node = child;
        }
        value[node] = id;
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        byte[] in = text.getBytes(StandardCharsets.UTF_8);
        int[] out = new int[Math.max(4, in.length)];
        int n = 0, pos = 0;
        while (pos < in.length) {
            int node = 0, best = -1, bestEnd = pos;
            for (int i = pos; i < in.length && next[node] != null; i++) {
                node = next[node][in[i] & 0xFF];
                if (node == 0) break;
                if (value[node] >= 0) {
                    best = value[node];
                    bestEnd = i + 1;
                }
            }
            if (best < 0) {
                throw new IllegalArgumentException("byte 0x" + Integer.toHexString(in[pos] & 0xFF) + " at offset " + pos
                        + " of the text opens no token of the RWKV vocabulary");
            }
            out[n++] = best;
            pos = bestEnd;
        }
        return Arrays.copyOf(out, n);
    }

    @Override
    public byte[] decode(int previous, int id) {
        if (id < 0 || id >= bytes.length) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + bytes.length);
        return control[id] ? new byte[0] : bytes[id].clone();
    }

    @Override public int vocabularySize() { return bytes.length; }

    @Override public int bos() { return bos; }

    @Override public int eos() { return eos; }

    @Override public Set<Integer> endOfGeneration() { return endOfGeneration; }

    @Override
    public String tokenText(int id) {
        return id < 0 || id >= texts.length ? null : texts[id];
    }
}
