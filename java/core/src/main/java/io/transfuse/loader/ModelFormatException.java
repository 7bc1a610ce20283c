package io.transfuse.loader;

import io.transfuse.TransfuseException;

/** A model file or directory that cannot be used: the message names the file and what is wrong. */
public class ModelFormatException extends TransfuseException {
    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }

    /** A size read from a model's config must be positive: the error names {@code source} and {@code what}. */
    public static void requirePositive(String source, String what, long value) {
        if (value <= 0) throw new ModelFormatException(source + ": " + what + " must be positive, got " + value);
    }
}
