package io.transfuse.tokenizer;

import io.transfuse.loader.GgufFile;
import io.transfuse.loader.ModelFormatException;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * SentencePiece-style BPE as stored in GGUF metadata ({@code tokenizer.ggml.model = "llama"}):
 * pieces with scores, where spaces are written U+2581 and bytes not covered by any piece fall back
 * to the tokens {@code <0x00>..<0xFF>} (token type 6).
 *
 * <p>Encoding: prepend the dummy-prefix space, split into code points (or byte tokens), then
 * repeatedly merge the adjacent pair whose concatenation is a piece with the highest score.
 * Decoding: U+2581 becomes a space; the space opening the first piece after BOS is dropped.
 * Non-goals: SentencePiece unigram models, normalisation rules beyond the dummy prefix.
 */
public final class SentencePieceBpe implements Tokenizer {
    private static final String SPACE = "\u2581";
    private static final int TYPE_UNKNOWN = 2;
    private static final int TYPE_CONTROL = 3;
    private static final int TYPE_BYTE = 6;

    private final String[] pieces;
    private final float[] scores;
    private final byte[][] bytes;
    private final Map<String, Integer> ids = new HashMap<>();
    private final int[] byteTokens = new int[256];
    private final int bos;
    private final int eos;

    public SentencePieceBpe(String[] pieces, float[] scores, int[] types, int bos, int eos) {
        this.pieces = pieces;
        this.scores = scores;
        this.bos = bos;
        this.eos = eos;
        this.bytes = new byte[pieces.length][];
        java.util.Arrays.fill(byteTokens, -1);
        for (int i = 0; i < pieces.length; i++) {
            Integer byteValue = types[i] == TYPE_BYTE ? parseByteToken(pieces[i]) : null;
            if (byteValue != null) {
                byteTokens[byteValue] = i;
                bytes[i] = new byte[] {(byte) (int) byteValue};
            } else if (types[i] == TYPE_CONTROL || types[i] == TYPE_UNKNOWN) {
                bytes[i] = new byte[0]; // never produced from text, prints nothing
            } else {
                ids.putIfAbsent(pieces[i], i);
                bytes[i] = pieces[i].replace(SPACE, " ").getBytes(StandardCharsets.UTF_8);
            }
        }
    }

    /** Reads the tokenizer from GGUF metadata; errors name the file and the missing key. */
    public static SentencePieceBpe fromGguf(GgufFile gguf) {
        String model = gguf.require("tokenizer.ggml.model", String.class);
        if (!model.equals("llama")) {
            throw new ModelFormatException(gguf.path() + ": tokenizer.ggml.model '" + model + "' is not supported (supported: llama)");
        }
        String[] tokens = gguf.require("tokenizer.ggml.tokens", String[].class);
        double[] scoreValues = gguf.optional("tokenizer.ggml.scores", double[].class, new double[tokens.length]);
        long[] typeValues = gguf.optional("tokenizer.ggml.token_type", long[].class, new long[tokens.length]);
        if (scoreValues.length != tokens.length || typeValues.length != tokens.length) {
            throw new ModelFormatException(gguf.path() + ": tokenizer has " + tokens.length + " tokens but "
                    + scoreValues.length + " scores and " + typeValues.length + " token types");
        }
        float[] scores = new float[tokens.length];
        int[] types = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            scores[i] = (float) scoreValues[i];
            types[i] = (int) typeValues[i];
        }
        int bos = (int) (long) gguf.optional("tokenizer.ggml.bos_token_id", Long.class, 1L);
        int eos = (int) (long) gguf.optional("tokenizer.ggml.eos_token_id", Long.class, 2L);
        if (bos >= tokens.length || eos >= tokens.length) {
            throw new ModelFormatException(gguf.path() + ": BOS/EOS ids " + bos + "/" + eos + " are outside the vocabulary of " + tokens.length);
        }
        return new SentencePieceBpe(tokens, scores, types, bos, eos);
    }

    private static Integer parseByteToken(String piece) {
        if (piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
            try {
                return Integer.parseInt(piece.substring(3, 5), 16);
            } catch (NumberFormatException e) {
                return null;
            }
        }
        return null;
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        int[] tokens = new int[text.length() * 4 + 2]; // worst case: every UTF-8 byte a token, plus prefix
        int n = 0;
        if (!text.isEmpty()) {
            n = appendPiece(SPACE + text.replace(" ", SPACE), tokens, n);
        }
        n = merge(tokens, n);
        int offset = addBos ? 1 : 0;
        int[] out = new int[n + offset];
        if (addBos) out[0] = bos;
        System.arraycopy(tokens, 0, out, offset, n);
        return out;
    }

    /** One token per code point, or its UTF-8 bytes as byte tokens when the code point is no piece. */
    private int appendPiece(String text, int[] tokens, int n) {
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            String ch = new String(Character.toChars(cp));
            i += ch.length();
            Integer id = ids.get(ch);
            if (id != null) {
                tokens[n++] = id;
                continue;
            }
            for (byte b : ch.getBytes(StandardCharsets.UTF_8)) {
                int byteToken = byteTokens[b & 0xff];
                if (byteToken < 0) throw new IllegalArgumentException("text contains '" + ch + "', which the vocabulary cannot represent");
                tokens[n++] = byteToken;
            }
        }
        return n;
    }

    /** Greedy BPE: merge the best-scoring adjacent pair until none is a piece. */
    private int merge(int[] tokens, int n) {
        while (true) {
            float bestScore = Float.NEGATIVE_INFINITY;
            int bestId = -1, bestAt = -1;
            for (int i = 0; i + 1 < n; i++) {
                Integer id = ids.get(pieces[tokens[i]] + pieces[tokens[i + 1]]);
                if (id != null && scores[id] > bestScore) {
                    bestScore = scores[id];
                    bestId = id;
                    bestAt = i;
                }
            }
            if (bestAt < 0) return n;
            tokens[bestAt] = bestId;
            System.arraycopy(tokens, bestAt + 2, tokens, bestAt + 1, n - bestAt - 2);
            n--;
        }
    }

    @Override
    public byte[] decode(int previous, int id) {
        if (id < 0 || id >= pieces.length) throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + pieces.length);
        byte[] b = bytes[id];
        if (previous == bos && b.length > 0 && b[0] == ' ' && !isByteToken(id)) {
            return java.util.Arrays.copyOfRange(b, 1, b.length);
        }
        return b;
    }

    private boolean isByteToken(int id) {
        return bytes[id].length == 1 && byteTokens[bytes[id][0] & 0xff] == id;
    }

    @Override
    public int vocabularySize() { return pieces.length; }

    @Override
    public int bos() { return bos; }

    @Override
    public int eos() { return eos; }
}
