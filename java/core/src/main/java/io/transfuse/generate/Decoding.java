package io.transfuse.generate;

import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.GenerationResult.StopReason;
import io.transfuse.TransfuseException;
import io.transfuse.sampling.Sampler;
import io.transfuse.Tokenizer;

import java.util.Arrays;
import java.util.Set;
import java.util.function.Consumer;

/**
 * One generation's tokens and text, however its forward passes are run (one session, or a batch of many in
 * the engine): it takes the logits after the last token, samples the next one, decides whether generation
 * ends (an end-of-generation token, max tokens, a full context, a stop string) and streams the new text,
 * whole characters only and never a stop string. Not thread-safe.
 */
public final class Decoding {
    private final Tokenizer tokenizer;
    private final GenerateOptions options;
    private final Set<Integer> endOfGeneration;
    private final Sampler sampler;
    private final int capacity, promptTokens;
    private final StringBuilder text = new StringBuilder();
    private final StopStrings stopStrings;
    private final TextStream stream;
    private int[] tokens;
    private int length, generated;
    private StopReason reason;

    /**
     * @param prompt    the prompt's tokens (with BOS where the tokenizer adds one); empty means "start from BOS"
     * @param capacity  the positions the sequence holds: the prompt and what is generated must fit
     * @param vocabSize the logits' length (the model's rows; may exceed the tokenizer's vocabulary)
     */
    public Decoding(Tokenizer tokenizer, int[] prompt, int capacity, int vocabSize, GenerateOptions options, Consumer<String> onText) {
        if (prompt.length == 0) {
            // An empty prompt for a tokenizer that adds no BOS (GPT-2, Qwen): start from the BOS id the files name.
            if (tokenizer.bos() < 0) throw new TransfuseException("the prompt is empty and the model names no BOS token to start from");
            prompt = new int[] {tokenizer.bos()};
        }
        if (prompt.length >= capacity) {
            throw new TransfuseException("prompt is " + prompt.length + " tokens but the context holds "
                    + capacity + " (at least one must be left to generate)");
        }
        this.tokenizer = tokenizer;
        this.options = options;
        this.endOfGeneration = tokenizer.endOfGeneration();
        this.sampler = new Sampler(options.sampling(), vocabSize);
        this.capacity = capacity;
        this.promptTokens = prompt.length;
        this.tokens = Arrays.copyOf(prompt, Math.min(capacity, prompt.length + Math.max(1, Math.min(options.maxTokens(), 256))));
        this.length = prompt.length;
        this.stopStrings = new StopStrings(options.stop(), piece -> {
            text.append(piece);
            onText.accept(piece);
        });
        this.stream = new TextStream(stopStrings::accept);
        if (options.maxTokens() == 0) finish(StopReason.MAX_TOKENS);
    }

    /** Prompt and generated tokens so far ({@link #length()} of them; the array may be longer). */
    public int[] tokens() { return tokens; }

    public int length() { return length; }

    public int promptTokens() { return promptTokens; }

    public int generated() { return generated; }

    /** Whether generation has ended. */
    public boolean done() { return reason != null; }

    /** Why generation ended (null while it runs). */
    public StopReason reason() { return reason; }

    /**
     * Takes the logits after the last token: samples the next token and streams its text, or ends generation.
     * Returns whether generation goes on (the new token, {@code tokens()[length() - 1]}, is to be fed next).
     */
    public boolean next(float[] logits) {
        if (done()) throw new IllegalStateException("generation has ended (" + reason + ")");
        int id = sampler.sample(logits, tokens, length);
        if (endOfGeneration.contains(id) || id == tokenizer.bos()) return finish(StopReason.END_OF_SEQUENCE);
        stream.accept(tokenizer.decode(tokens[length - 1], id));
        if (length == tokens.length) tokens = Arrays.copyOf(tokens, Math.min(capacity, 2 * length));
        tokens[length++] = id;
        generated++;
        if (stopStrings.stopped()) return finish(StopReason.STOP_STRING);
        if (generated == options.maxTokens()) return finish(StopReason.MAX_TOKENS);
        if (length == capacity) return finish(StopReason.CONTEXT_FULL);
        return true;
    }

    /** Ends generation for {@code why} (a deadline, say) unless it has ended; flushes the text held back. Returns false. */
    public boolean finish(StopReason why) {
        if (reason != null) return false;
        reason = why;
        stream.finish();
        if (!stopStrings.stopped()) stopStrings.finish();
        else reason = StopReason.STOP_STRING;
        return false;
    }

    /** The text generated so far (without a stop string). */
    public String text() { return text.toString(); }

    /** The result once {@link #done()}, with the timings the runner measured. */
    public GenerationResult result(int decodeSteps, long prefillNanos, long decodeNanos) {
        if (!done()) throw new IllegalStateException("generation is still running");
        return new GenerationResult(text.toString(), Arrays.copyOf(tokens, length), promptTokens, generated,
                decodeSteps, prefillNanos, decodeNanos, reason);
    }
}
