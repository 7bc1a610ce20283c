package io.transfuse.loader;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The metadata entries of a GGUF file as their encoded bytes (key, value type, value), keyed by name, so
 * that a rewritten file (transfuse quantize) keeps every value's exact GGUF type: {@link GgufFile} widens
 * integers to long, and llama.cpp checks the stored types of the keys it reads (a uint32 written back as
 * int64 would not load there).
 */
public final class GgufRawMetadata {
    private GgufRawMetadata() {}

    /** The entries of {@code path} in file order. */
    public static Map<String, byte[]> read(Path path) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ch.map(FileChannel.MapMode.READ_ONLY, 0, Math.min(ch.size(), Integer.MAX_VALUE)).order(ByteOrder.LITTLE_ENDIAN);
            if (b.getInt() != 0x46554747) throw new ModelFormatException(path + ": not a GGUF file");
            int version = b.getInt();
            if (version != 2 && version != 3) throw new ModelFormatException(path + ": unsupported GGUF version " + version);
            b.getLong(); // tensor count
            long n = b.getLong();
            Map<String, byte[]> entries = new LinkedHashMap<>();
            for (long i = 0; i < n; i++) {
                int start = b.position();
                int keyLen = Math.toIntExact(b.getLong());
                byte[] key = new byte[keyLen];
                b.get(key);
                skipValue(b, b.getInt(), 0);
                byte[] raw = new byte[b.position() - start];
                b.get(start, raw);
                entries.put(new String(key, java.nio.charset.StandardCharsets.UTF_8), raw);
            }
            return entries;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            if (e instanceof ModelFormatException) throw e;
            throw new ModelFormatException(path + ": malformed GGUF metadata (" + e + ")");
        }
    }

    private static void skipValue(ByteBuffer b, int type, int depth) {
        switch (type) {
            case 0, 1, 7 -> b.position(b.position() + 1);
            case 2, 3 -> b.position(b.position() + 2);
            case 4, 5, 6 -> b.position(b.position() + 4);
            case 10, 11, 12 -> b.position(b.position() + 8);
            case 8 -> {
                long len = b.getLong();
                b.position(Math.toIntExact(b.position() + len));
            }
            case 9 -> {
                if (depth > 4) throw new ModelFormatException("arrays nested too deeply");
                int et = b.getInt();
                long count = b.getLong();
                for (long i = 0; i < count; i++) skipValue(b, et, depth + 1);
            }
            default -> throw new ModelFormatException("unknown metadata value type " + type);
        }
    }
}
