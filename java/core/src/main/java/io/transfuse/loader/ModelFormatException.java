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
}
