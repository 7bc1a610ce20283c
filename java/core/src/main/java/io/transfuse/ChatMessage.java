package io.transfuse;

import java.util.Objects;

/**
 * One turn of a conversation, as chat templates see it ({@code message['role']},
 * {@code message['content']}): role "system", "user" or "assistant" (templates may know others,
 * such as "tool"), and the text.
 *
 * @param role    who speaks (not blank)
 * @param content what is said (may be empty)
 */
public record ChatMessage(String role, String content) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
        if (role.isBlank()) throw new IllegalArgumentException("role must not be blank");
    }

    /**
     * A system message.
     *
     * @param content the instructions
     * @return the message
     */
    public static ChatMessage system(String content) { return new ChatMessage("system", content); }

    /**
     * A user message.
     *
     * @param content the text
     * @return the message
     */
    public static ChatMessage user(String content) { return new ChatMessage("user", content); }

    /**
     * An assistant message (an earlier reply).
     *
     * @param content the text
     * @return the message
     */
    public static ChatMessage assistant(String content) { return new ChatMessage("assistant", content); }
}
