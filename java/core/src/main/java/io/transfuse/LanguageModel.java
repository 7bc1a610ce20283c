package io.transfuse;

import io.transfuse.chat.ChatTemplate;
import io.transfuse.generate.Generator;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Decoder;
import io.transfuse.model.SequenceStateExhaustedException;
import io.transfuse.internal.Internals;


import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A loaded decoder language model ({@link Transfuse#load}). Closing it releases all native memory it took: the
 * mapped weights, the backend's memory (workspace, KV cache) and every session. Methods are thread-safe;
 * forward passes of one model run one at a time (many requests at once: {@link io.transfuse.engine.Engine}).
 *
 * <p>{@link #generate} and {@link #chat} stream text to a callback and return the whole result; the options'
 * default ({@link GenerateOptions#defaults()}) is greedy. A {@link CancellationToken} stops a call early.
 */
public final class LanguageModel implements AutoCloseable {
    static {
        Internals.decoderAccessor(lm -> lm.model); // no lock: an engine pass may hold it
    }

    private final TrackedArena arena;
    private final Decoder model;
    private final io.transfuse.tokenizer.Tokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    /** What the open sessions give back (not the sessions: an abandoned one must stay collectable). */
    private final Set<Session.Release> openSessions = ConcurrentHashMap.newKeySet();
    /** Sessions the collector found dropped without close() and whose state went back. */
    private final AtomicLong reclaimedSessions = new AtomicLong();
    private Session generationSession;
    private boolean closed;

    LanguageModel(TrackedArena arena, Decoder model, io.transfuse.tokenizer.Tokenizer tokenizer, ChatTemplate chatTemplate) {
        this.arena = arena;
        this.model = model;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
    }

    /**
     * The file or directory the model was loaded from.
     *
     * @return its path as given
     */
    public String source() { return model.source(); }

    /**
     * The model's vocabulary: the length of the logits a {@link Session} writes.
     *
     * @return logits per position (may exceed the tokenizer's vocabulary when padded)
     */
    public int vocabSize() { return model.vocabSize(); }

    /**
     * Context length the sessions of this model hold.
     *
     * @return tokens per sequence at most
     */
    public int contextLength() { return model.contextLength(); }

    /**
     * The model's tokenizer.
     *
     * @return the tokenizer
     * @throws TransfuseException when the model's files have none
     */
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
     *
     * @return the session
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
     * (whole characters only), and returns the text, tokens and timings.
     *
     * @param prompt  the text to continue (tokenized with BOS where the model adds one)
     * @param options how many tokens, how to sample, where to stop
     * @param onText  receives each new piece of text
     * @return the result
     */
    public GenerationResult generate(String prompt, GenerateOptions options, Consumer<String> onText) {
        return generate(prompt, options, onText, new CancellationToken());
    }

    /**
     * As {@link #generate(String, GenerateOptions, Consumer)}, stopping before the next token once {@code cancel}
     * is cancelled (from any thread, or from {@code onText}); the result then says
     * {@link GenerationResult.StopReason#CANCELLED} and keeps the text so far.
     *
     * @param prompt  the text to continue
     * @param options how many tokens, how to sample, where to stop
     * @param onText  receives each new piece of text
     * @param cancel  stops the generation when cancelled
     * @return the result
     */
    public synchronized GenerationResult generate(String prompt, GenerateOptions options, Consumer<String> onText,
                                                  CancellationToken cancel) {
        Objects.requireNonNull(prompt, "prompt");
        checkArguments(options, onText, cancel);
        checkOpen();
        return Generator.run(generationSession(), tokenizer(), tokenizer().encode(prompt, true), options, onText, cancel);
    }

    /**
     * As {@link #generate(String, GenerateOptions, Consumer)} from a prompt already tokenized, for a caller that
     * needed the tokens first (to check the prompt's length, say): {@code tokenizer().encode(prompt, true)} gives
     * what the text overload feeds. An empty array starts from the BOS token.
     *
     * @param promptTokens the prompt's token ids (copied), each in [0, {@link #vocabSize()})
     * @param options      how many tokens, how to sample, where to stop
     * @param onText       receives each new piece of text
     * @return the result
     */
    public GenerationResult generate(int[] promptTokens, GenerateOptions options, Consumer<String> onText) {
        return generate(promptTokens, options, onText, new CancellationToken());
    }

    /**
     * As {@link #generate(int[], GenerateOptions, Consumer)}, stopping before the next token once {@code cancel}
     * is cancelled.
     *
     * @param promptTokens the prompt's token ids (copied), each in [0, {@link #vocabSize()})
     * @param options      how many tokens, how to sample, where to stop
     * @param onText       receives each new piece of text
     * @param cancel       stops the generation when cancelled
     * @return the result
     */
    public synchronized GenerationResult generate(int[] promptTokens, GenerateOptions options, Consumer<String> onText,
                                                  CancellationToken cancel) {
        Objects.requireNonNull(promptTokens, "promptTokens");
        checkArguments(options, onText, cancel);
        checkOpen();
        return Generator.run(generationSession(), tokenizer(), promptTokens.clone(), options, onText, cancel);
    }

    /**
     * The chat template the model's files carry (GGUF tokenizer.chat_template, tokenizer_config.json), if any.
     *
     * @return the template, or empty
     */
    public Optional<ChatTemplate> chatTemplate() {
        return Optional.ofNullable(chatTemplate);
    }

    /**
     * The assistant's reply to {@code messages}: the conversation is rendered with the model's chat
     * template (with the generation prompt), tokenized with the special tokens in it taken as
     * such, and generation stops at any end-of-generation token ({@link Tokenizer#endOfGeneration()}).
     * Text streams to {@code onText}; the result's text is the reply. A model whose files carry no
     * chat template is an error (use {@link #chat(ChatTemplate, List, GenerateOptions, Consumer, CancellationToken)}
     * with a template of your own, or {@link #generate} with a prompt written by hand).
     *
     * @param messages the conversation so far (at least one message)
     * @param options  how many tokens, how to sample, where to stop
     * @param onText   receives each new piece of the reply
     * @return the result
     */
    public GenerationResult chat(List<ChatMessage> messages, GenerateOptions options, Consumer<String> onText) {
        return chat(messages, options, onText, new CancellationToken());
    }

    /**
     * As {@link #chat(List, GenerateOptions, Consumer)}, stopping once {@code cancel} is cancelled.
     *
     * @param messages the conversation so far (at least one message)
     * @param options  how many tokens, how to sample, where to stop
     * @param onText   receives each new piece of the reply
     * @param cancel   stops the generation when cancelled
     * @return the result
     */
    public GenerationResult chat(List<ChatMessage> messages, GenerateOptions options, Consumer<String> onText,
                                 CancellationToken cancel) {
        if (chatTemplate == null) {
            throw new TransfuseException(source() + ": the model has no chat template (no tokenizer.chat_template in a GGUF file, "
                    + "no chat_template in tokenizer_config.json or chat_template.jinja); pass one to chat(template, ...) "
                    + "(CLI: --chat-template FILE) or use generate with a prompt of your own");
        }
        return chat(chatTemplate, messages, options, onText, cancel);
    }

    /**
     * As {@link #chat(List, GenerateOptions, Consumer)} with the given template instead of the model's.
     *
     * @param template the chat template
     * @param messages the conversation so far (at least one message)
     * @param options  how many tokens, how to sample, where to stop
     * @param onText   receives each new piece of the reply
     * @return the result
     */
    public GenerationResult chat(ChatTemplate template, List<ChatMessage> messages, GenerateOptions options, Consumer<String> onText) {
        return chat(template, messages, options, onText, new CancellationToken());
    }

    /**
     * As {@link #chat(List, GenerateOptions, Consumer, CancellationToken)} with the given template instead of the model's.
     *
     * @param template the chat template
     * @param messages the conversation so far (at least one message)
     * @param options  how many tokens, how to sample, where to stop
     * @param onText   receives each new piece of the reply
     * @param cancel   stops the generation when cancelled
     * @return the result
     */
    public synchronized GenerationResult chat(ChatTemplate template, List<ChatMessage> messages, GenerateOptions options,
                                              Consumer<String> onText, CancellationToken cancel) {
        checkArguments(options, onText, cancel);
        checkOpen();
        int[] prompt = chatPrompt(template, messages);
        return Generator.run(generationSession(), tokenizer(), prompt, options, onText, cancel);
    }

    /**
     * The tokens {@link #chat} feeds the model: the rendered template, special tokens parsed, and no
     * BOS/EOS added beyond what the template writes (Hugging Face's apply_chat_template does the same).
     *
     * @param template the chat template
     * @param messages the conversation (at least one message)
     * @return the prompt's token ids
     */
    public int[] chatPrompt(ChatTemplate template, List<ChatMessage> messages) {
        Objects.requireNonNull(template, "template");
        Objects.requireNonNull(messages, "messages");
        if (messages.isEmpty()) throw new IllegalArgumentException("chat needs at least one message");
        for (int i = 0; i < messages.size(); i++) Objects.requireNonNull(messages.get(i), "messages[" + i + "]");
        return tokenizer().encode(template.render(messages, true), false);
    }

    private static void checkArguments(GenerateOptions options, Consumer<String> onText, CancellationToken cancel) {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(onText, "onText");
        Objects.requireNonNull(cancel, "cancel");
    }

    /** The session generate and chat reuse (made on first use). */
    private Session generationSession() {
        if (generationSession == null) generationSession = newSession();
        return generationSession;
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

    /** Closes every session and frees all native memory of the model; later calls fail. Closing twice does nothing. */
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
