package io.transfuse.tokenizer.hf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;

/**
 * SentencePiece's {@code precompiled_charsmap}: the normalisation rules (NFKC-like folding for nmt_nfkc, plus case
 * folding for *_cf) compiled into bytes, which tokenizer.json carries base64-encoded in a {@code Precompiled}
 * normaliser. Read from the format's description:
 * <ul>
 * <li>a little-endian uint32, the size in bytes of the trie that follows;</li>
 * <li>the trie: a Darts-clone double array of little-endian uint32 units over the UTF-8 bytes of the source
 * strings;</li>
 * <li>the rest: the replacement strings, UTF-8, each ended by a NUL; a trie value is the byte offset of one.</li>
 * </ul>
 * A unit packs (Darts-clone's layout) the label of the edge into it (bits 0-7, with bit 31 set on non-edges so no byte
 * matches), a has-leaf flag (bit 8) and the offset to its children (bits 10-31, shifted left by 8 more when bit 9 is
 * set); a leaf unit holds the value in bits 0-30.
 */
public final class PrecompiledCharsMap {
    private final int[] units;
    private final byte[] replacements;
    /** Replacement strings decoded so far, by offset. */
    private final ConcurrentHashMap<Integer, String> decoded = new ConcurrentHashMap<>();

    private PrecompiledCharsMap(int[] units, byte[] replacements) {
        this.units = units;
        this.replacements = replacements;
    }

    /** Parses the raw bytes; {@code where} names the source in errors. */
    public static PrecompiledCharsMap parse(byte[] map, String where) {
        if (map.length < 4) throw new IllegalArgumentException(where + ": precompiled_charsmap has " + map.length + " bytes, too few for its header");
        ByteBuffer b = ByteBuffer.wrap(map).order(ByteOrder.LITTLE_ENDIAN);
        long trieBytes = Integer.toUnsignedLong(b.getInt());
        if (trieBytes % 4 != 0 || trieBytes > map.length - 4L) {
            throw new IllegalArgumentException(where + ": precompiled_charsmap declares a trie of " + trieBytes
                    + " bytes, but holds " + (map.length - 4) + " after the header (or it is not a multiple of 4)");
        }
        int[] units = new int[(int) (trieBytes / 4)];
        if (units.length == 0) throw new IllegalArgumentException(where + ": precompiled_charsmap has an empty trie");
        for (int i = 0; i < units.length; i++) units[i] = b.getInt();
        byte[] replacements = new byte[b.remaining()];
        b.get(replacements);
        return new PrecompiledCharsMap(units, replacements);
    }

    /**
     * The replacement for the shortest rule that {@code utf8[from, to)} begins with, or null when none matches. The
     * shortest, not the longest: the Rust library takes the first result of the double array's common prefix search,
     * and the tests hold it to that.
     */
    String replacementOfPrefix(byte[] utf8, int from, int to) {
        int node = offset(units[0]);
        for (int i = from; i < to; i++) {
            int c = utf8[i] & 0xFF;
            if (c == 0) break;
            node ^= c;
            if (node < 0 || node >= units.length) return null;
            int unit = units[node];
            if ((unit & 0x800000FF) != c) return null;
            node ^= offset(unit);
            if (node < 0 || node >= units.length) return null;
            if (((unit >>> 8) & 1) == 1) return replacementAt(units[node] & 0x7FFFFFFF);
        }
        return null;
    }

    /**
     * SentencePiece's own lookup (and llama.cpp's): the longest rule that {@code utf8[from, to)} begins with, as
     * {@code consumed << 32 | offset of its replacement}, or -1 when none matches; {@link #replacement} gives the
     * text.
     */
    public long longestPrefix(byte[] utf8, int from, int to) {
        int node = offset(units[0]);
        long best = -1;
        for (int i = from; i < to; i++) {
            int c = utf8[i] & 0xFF;
            if (c == 0) break;
            node ^= c;
            if (node < 0 || node >= units.length) break;
            int unit = units[node];
            if ((unit & 0x800000FF) != c) break;
            node ^= offset(unit);
            if (node < 0 || node >= units.length) break;
            if (((unit >>> 8) & 1) == 1) best = ((long) (i + 1 - from) << 32) | (units[node] & 0x7FFFFFFF);
        }
        return best;
    }

    /** The replacement string at an offset {@link #longestPrefix} returned. */
    public String replacement(int offset) {
        return replacementAt(offset);
    }

    private static int offset(int unit) {
        return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    }

    private String replacementAt(int offset) {
        if (offset >= replacements.length) return "";
        return decoded.computeIfAbsent(offset, o -> {
            int end = o;
            while (end < replacements.length && replacements[end] != 0) end++;
            return new String(replacements, o, end - o, StandardCharsets.UTF_8);
        });
    }
}
