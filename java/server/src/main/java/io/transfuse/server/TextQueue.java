package io.transfuse.server;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;

/**
 * Hands a generation's text from the engine's thread to the request's virtual thread. The engine calls
 * {@link #accept} between forward passes and must never wait, so the queue is unbounded (a request holds at
 * most its own generated text) and {@link #end} is called from the result's completion, also on the engine's
 * thread. The HTTP side takes pieces with {@link #next}.
 */
final class TextQueue implements Consumer<String> {
    private static final String END = new String("end of generation"); // identity-compared sentinel

    private final LinkedBlockingQueue<String> pieces = new LinkedBlockingQueue<>();

    @Override
    public void accept(String piece) {
        pieces.add(piece);
    }

    void end() {
        pieces.add(END);
    }

    /**
     * The next piece of text, or null once the generation has ended (its result is then complete).
     * Pieces that are already waiting are joined, so a slow client gets fewer, larger events.
     */
    String next() throws InterruptedException {
        String first = pieces.take();
        if (first == END) {
            pieces.add(END); // stays ended for later calls
            return null;
        }
        StringBuilder sb = null;
        for (String p; (p = pieces.peek()) != null && p != END; ) {
            if (sb == null) sb = new StringBuilder(first);
            sb.append(pieces.poll());
        }
        return sb == null ? first : sb.toString();
    }
}
