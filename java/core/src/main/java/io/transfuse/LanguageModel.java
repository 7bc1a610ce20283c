package io.transfuse;

import io.transfuse.chat.ChatTemplate;
import io.transfuse.engine.Engine;
import io.transfuse.engine.EngineOptions;
import io.transfuse.engine.EngineStats;
import io.transfuse.engine.Generation;
import io.transfuse.generate.Decoding;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.Decoder;
import io.transfuse.model.SequenceStateExhaustedException;
import io.transfuse.internal.Internals;


import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A loaded decoder language model ({@link Transfuse#load}). Closing it releases all native memory it took: the
 * mapped weights, the backend's memory (workspace, KV cache) and every session. Methods are thread-safe;
 * forward passes of one model run one at a time.
 *
 * <p>{@link #generate} and {@link #chat} stream text to a callback and return the whole result; the options'
 * default ({@link GenerateOptions#defaults()}) is greedy. A {@link CancellationToken} stops a call early. Calls from
 * several threads at once are batched: they go to one {@link io.transfuse.engine.Engine} the model starts on first
 * use, so each forward pass carries a token of every running call (up to {@link LoadOptions#maxSequences()} of them;
 * more wait their turn), and a greedy call gives the same output alone or beside others. Text callbacks therefore
 * run on the engine's thread: keep them short, and do not call this model's generate or chat from one (that is an
 * error). For futures, streaming to queues, deadlines and load statistics, start an {@code Engine} of your own.
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
    /** Runs generate and chat (started on first use; closed with the model). */
    private Engine engine;
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
    public GenerationResult generate(String prompt, GenerateOptions options, Consumer<String> onText,
                                     CancellationToken cancel) {
        Objects.requireNonNull(prompt, "prompt");
        checkArguments(options, onText, cancel);
        return run(tokenizer().encode(prompt, true), options, onText, cancel);
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
    public GenerationResult generate(int[] promptTokens, GenerateOptions options, Consumer<String> onText,
                                     CancellationToken cancel) {
        Objects.requireNonNull(promptTokens, "promptTokens");
        checkArguments(options, onText, cancel);
        return run(promptTokens.clone(), options, onText, cancel);
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
    public GenerationResult chat(ChatTemplate template, List<ChatMessage> messages, GenerateOptions options,
                                 Consumer<String> onText, CancellationToken cancel) {
        checkArguments(options, onText, cancel);
        return run(chatPrompt(template, messages), options, onText, cancel);
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

    /**
     * One generate or chat call: a request to the model's engine, waited for. A token cancelled beforehand ends it
     * before anything runs; cancelled later, the engine ends it before its next token with the text so far.
     */
    private GenerationResult run(int[] prompt, GenerateOptions options, Consumer<String> onText, CancellationToken cancel) {
        if (cancel.isCancelled()) {
            checkOpen();
            Decoding d = new Decoding(tokenizer(), prompt, model.contextLength(), model.vocabSize(), options, onText);
            d.finish(GenerationResult.StopReason.CANCELLED);
            return d.result(0, 0, 0);
        }
        Generation g = engine().submit(prompt, options, onText, cancel);
        try {
            return g.join();
        } catch (CancellationException e) { // the engine was closed under the call
            throw new IllegalStateException("model " + source() + " was closed during generation", e);
        } catch (CompletionException e) { // the text callback threw, or the forward pass failed: as if it ran here
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error err) throw err;
            throw e;
        }
    }

    /** The engine generate and chat run on (started on first use). */
    private synchronized Engine engine() {
        checkOpen();
        if (engine == null) {
            // No bound on waiting callers: generate blocks its caller until its turn, as it always did.
            engine = Engine.start(this, EngineOptions.defaults().withMaxQueued(Integer.MAX_VALUE));
        }
        return engine;
    }

    /** The statistics of the engine behind generate and chat (all zero before the first call); for tests. */
    synchronized EngineStats generationStats() {
        return engine == null ? new EngineStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) : engine.stats();
    }

    synchronized Decoder model() {
        checkOpen();
        return model;
    }


    private void checkOpen() {
        if (closed) throw new IllegalStateException("model " + source() + " is closed");
    }

    /**
     * Closes every session and frees all native memory of the model; later calls fail, and generate or chat calls still
     * running fail with an IllegalStateException. Closing twice does nothing.
     */
    @Override
    public void close() {
        Engine running;
        synchronized (this) {
            if (closed) return;
            closed = true; // from here new calls fail; this thread alone goes on to free the memory
            running = engine;
            engine = null;
        }
        // Outside the model's lock: the engine's pass in flight takes it, and close waits for that pass.
        if (running != null) running.close();
        synchronized (this) { // a session's forward pass holds this lock: none is under way from here
            for (Session.Release r : openSessions.toArray(Session.Release[]::new)) r.release(false);
            try {
                model.close();
            } finally {
                arena.close();
            }
        }
    }
}
