package io.transfuse;

/**
 * One turn of a conversation, as chat templates see it ({@code message['role']},
 * {@code message['content']}): role "system", "user" or "assistant" (templates may know others,
 * such as "tool"), and the text.
 */
public record ChatMessage(String role, String content) {
    public ChatMessage {
        if (role == null || role.isBlank()) throw new IllegalArgumentException("chat message role must not be empty");
        if (content == null) throw new IllegalArgumentException("chat message content must not be null (role " + role + ")");
    }

    public static ChatMessage system(String content) { return new ChatMessage("system", content); }

    public static ChatMessage user(String content) { return new ChatMessage("user", content); }

    public static ChatMessage assistant(String content) { return new ChatMessage("assistant", content); }
}
