package io.transfuse.generate;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Turns the byte pieces of generated tokens into text, emitting only whole characters: a
 * character split over several byte-fallback tokens is held back until it is complete.
 * Invalid sequences become U+FFFD rather than failing generation.
 */
final class TextStream {
    private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE)
            .onUnmappableCharacter(CodingErrorAction.REPLACE);
    private final ByteBuffer pending = ByteBuffer.allocate(64);
    private final CharBuffer chars = CharBuffer.allocate(256);
    private final Consumer<String> sink;

    TextStream(Consumer<String> sink) {
        this.sink = sink;
    }

    void accept(byte[] bytes) {
        for (int i = 0; i < bytes.length; ) {
            int n = Math.min(bytes.length - i, pending.remaining());
            pending.put(bytes, i, n);
            i += n;
            drain(false);
        }
    }

    /** Emits what is still held back (an incomplete character becomes U+FFFD). */
    void finish() {
        drain(true);
    }

    private void drain(boolean endOfInput) {
        pending.flip();
        decoder.decode(pending, chars, endOfInput);
        if (endOfInput) {
            decoder.flush(chars);
            decoder.reset();
        }
        pending.compact();
        chars.flip();
        if (chars.hasRemaining()) sink.accept(chars.toString());
        chars.clear();
    }
}
