package io.transfuse.generate;

import java.util.List;
import java.util.function.Consumer;

/**
 * Passes text on until it contains one of the stop strings. Text that might be the start of a stop
 * string is held back until the next piece settles it, so the text passed on never contains a stop
 * string or a piece of one that turned out to be one ({@link #stopped()}).
 */
final class StopStrings {
    private final List<String> stops;
    private final Consumer<String> sink;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    StopStrings(List<String> stops, Consumer<String> sink) {
        this.stops = stops;
        this.sink = sink;
    }

    /** Whether a stop string was reached (the text before it was passed on, nothing after). */
    boolean stopped() { return stopped; }

    void accept(String piece) {
        if (stopped) return;
        if (stops.isEmpty()) {
            sink.accept(piece);
            return;
        }
        held.append(piece);
        int first = -1;
        for (String s : stops) {
            int at = held.indexOf(s);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        if (first >= 0) {
            stopped = true;
            emit(first);
            return;
        }
        // Keep the longest end of the held text that begins some stop string.
        int keep = 0;
        String h = held.toString();
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, h.length()); k > keep; k--) {
                if (h.regionMatches(h.length() - k, s, 0, k)) {
                    keep = k;
                    break;
                }
            }
        }
        emit(held.length() - keep);
    }

    /** Passes on what is held (generation ended without reaching a stop string). */
    void finish() {
        if (!stopped) emit(held.length());
    }

    private void emit(int n) {
        if (n > 0) sink.accept(held.substring(0, n));
        held.delete(0, stopped ? held.length() : n);
    }
}
