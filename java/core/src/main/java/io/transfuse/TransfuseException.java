package io.transfuse;

/** Every error Transfuse reports to callers: the message names the file, tensor or argument at fault. */
public class TransfuseException extends RuntimeException {
    public TransfuseException(String message) {
        super(message);
    }

    public TransfuseException(String message, Throwable cause) {
        super(message, cause);
    }
}
