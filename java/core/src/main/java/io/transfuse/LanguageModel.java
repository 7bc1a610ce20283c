package io.transfuse;

import io.transfuse.chat.ChatTemplate;
import io.transfuse.generate.Generator;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Decoder;
import io.transfuse.model.SequenceStateExhaustedException;
import io.transfuse.tokenizer.Tokenizer;


import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A loaded decoder language model. Closing it releases all native memory it took: the mapped
 * weights, the backend's memory (workspace, KV cache) and every session. Methods are thread-safe;
 * forward passes of one model run one at a time.
 */
public final class LanguageModel implements AutoCloseable {
    private final TrackedArena arena;
    private final Decoder model;
    private final Tokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    /** What the open sessions give back (not the sessions: an abandoned one must stay collectable). */
    private final Set<Session.Release> openSessions = ConcurrentHashMap.newKeySet();
    /** Sessions the collector found dropped without close() and whose state went back. */
    private final AtomicLong reclaimedSessions = new AtomicLong();
    private Session generationSession;
    private boolean closed;

    LanguageModel(TrackedArena arena, Decoder model, Tokenizer tokenizer, ChatTemplate chatTemplate) {
        this.arena = arena;
        this.model = model;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
    }

    /** The model graph (its class says the architecture; LlamaModel exposes its config). */
    public Decoder decoder() { return model; }

    /** The file or directory the model was loaded from. */
    public String source() { return model.source(); }

    public int vocabSize() { return model.vocabSize(); }

    /** Context length the sessions of this model hold. */
    public int contextLength() { return model.contextLength(); }

    /** The tokenizer, or an error when the model directory has none. */
    public Tokenizer tokenizer() {
        if (tokenizer == null) {
            throw new TransfuseException(source() + ": this model has no tokenizer "
                    + "(GGUF files carry one; a Hugging Face directory needs a tokenizer.json)");
        }
        return tokenizer;
    }

    /**
     * A new sequence of up to {@link #contextLength()} tokens. It draws KV blocks from the model's pool as it grows
     * (see {@link Session} for the memory policy): close it when done; one dropped unclosed is reclaimed by the
     * garbage collector. Fails when every state slot is held (Mamba: {@link LoadOptions#maxSequences()} sessions).
     */
    public synchronized Session newSession() {
        checkOpen();
        return reclaimingAbandoned(0, () -> new Session(this, model, model.contextLength(), openSessions, reclaimedSessions));
    }

    /** Sessions dropped without {@code close()} whose KV blocks or state slot the garbage collector gave back so far. */
    public long reclaimedSessions() { return reclaimedSessions.get(); }

    /** Sessions made and neither closed nor reclaimed yet. */
    public int openSessions() { return openSessions.size(); }

    /**
     * Runs {@code step}; when the model's sequence state is all held, asks for a garbage collection so that sessions
     * dropped without close() give theirs back (their cleaner runs on its own thread, taking no lock of this model),
     * waits up to half a second for one to do so, and runs {@code step} once more. The error stands when none was
     * abandoned, or when no session but the {@code callers} (0 or the one feeding) is open to be.
     */
    <T> T reclaimingAbandoned(int callers, Supplier<T> step) {
        try {
            return step.get();
        } catch (SequenceStateExhaustedException full) {
            if (openSessions.size() <= callers) throw full; // the engine's sequences hold the rest: nothing to reclaim
            long before = reclaimedSessions.get();
            System.gc();
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
            while (reclaimedSessions.get() == before && System.nanoTime() < deadline) {
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw full;
                }
            }
            if (reclaimedSessions.get() == before) throw full;
            return step.get();
        }
    }

    /**
     * Generates a continuation of {@code prompt}, passing text to {@code onText} as it is produced
     * (whole characters only). Returns the text, tokens and timings.
     */
    public synchronized GenerationResult generate(String prompt, GenerateOptions options, Consumer<String> onText) {
        checkOpen();
        if (generationSession == null) generationSession = newSession();
        return Generator.run(generationSession, tokenizer(), prompt, options, onText);
    }

    /** The chat template the model's files carry (GGUF tokenizer.chat_template, tokenizer_config.json), if any. */
    public Optional<ChatTemplate> chatTemplate() {
        return Optional.ofNullable(chatTemplate);
    }

    /**
     * The assistant's reply to {@code messages}: the conversation is rendered with the model's chat
     * template (with the generation prompt), tokenized with the special tokens in it taken as
     * such, and generation stops at any end-of-generation token ({@link Tokenizer#endOfGeneration()}).
     * Text streams to {@code onText}; the result's text is the reply. A model whose files carry no
     * chat template is an error (use {@link #chat(ChatTemplate, List, GenerateOptions, Consumer)}
     * with a template of your own, or {@link #generate} with a prompt written by hand).
     */
    public GenerationResult chat(List<ChatMessage> messages, GenerateOptions options, Consumer<String> onText) {
        if (chatTemplate == null) {
            throw new TransfuseException(source() + ": the model has no chat template (no tokenizer.chat_template in a GGUF file, "
                    + "no chat_template in tokenizer_config.json or chat_template.jinja); pass one to chat(template, ...) "
                    + "(CLI: --chat-template FILE) or use generate with a prompt of your own");
        }
        return chat(chatTemplate, messages, options, onText);
    }

    /** As {@link #chat(List, GenerateOptions, Consumer)} with the given template instead of the model's. */
    public synchronized GenerationResult chat(ChatTemplate template, List<ChatMessage> messages, GenerateOptions options, Consumer<String> onText) {
        checkOpen();
        if (messages.isEmpty()) throw new IllegalArgumentException("chat needs at least one message");
        int[] prompt = chatPrompt(template, messages);
        if (generationSession == null) generationSession = newSession();
        return Generator.run(generationSession, tokenizer(), prompt, options, onText);
    }

    /**
     * The tokens {@link #chat} feeds the model: the rendered template, special tokens parsed, and no
     * BOS/EOS added beyond what the template writes (Hugging Face's apply_chat_template does the same).
     */
    public int[] chatPrompt(ChatTemplate template, List<ChatMessage> messages) {
        return tokenizer().encode(template.render(messages, true), false);
    }

    synchronized Decoder model() {
        checkOpen();
        return model;
    }

    synchronized void forget(Session s) {
        if (s == generationSession) generationSession = null;
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("model " + source() + " is closed");
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        for (Session.Release r : openSessions.toArray(Session.Release[]::new)) r.release(false);
        generationSession = null;
        closed = true;
        try {
            model.close();
        } finally {
            arena.close();
        }
    }
}
