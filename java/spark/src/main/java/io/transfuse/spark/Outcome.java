package io.transfuse.spark;

/**
 * What one row gave: a value for the output column, or the reason it has none (the error column's text).
 *
 * @param value the output (null when the row failed)
 * @param error why the row failed (null when it did not)
 */
record Outcome(Object value, String error) {
    static Outcome of(Object value) { return new Outcome(value, null); }

    static Outcome failed(String error) { return new Outcome(null, error); }

    /** The message of {@code e} (unwrapping CompletionException), for the error column. */
    static Outcome failed(Throwable e) {
        Throwable t = e;
        while ((t instanceof java.util.concurrent.CompletionException || t instanceof java.util.concurrent.ExecutionException)
                && t.getCause() != null) {
            t = t.getCause();
        }
        String m = t.getMessage();
        return failed(m == null || m.isBlank() ? t.getClass().getSimpleName() : m);
    }
}
