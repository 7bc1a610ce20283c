package io.transfuse.chat;

import io.transfuse.TransfuseException;

/** A chat template that cannot be parsed or rendered; the message names the template's origin and the Jinja error. */
public final class ChatTemplateException extends TransfuseException {
    public ChatTemplateException(String message) {
        super(message);
    }

    public ChatTemplateException(String message, Throwable cause) {
        super(message, cause);
    }
}
