package io.transfuse.generate;

import io.transfuse.GenerateOptions;
import io.transfuse.GenerationResult;
import io.transfuse.GenerationResult.StopReason;
import io.transfuse.Session;
import io.transfuse.TransfuseException;
import io.transfuse.sampling.Sampler;
import io.transfuse.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.function.Consumer;

/** The generation loop: encode, prefill, then sample and feed one token at a time, streaming text. */
public final class Generator {
    private Generator() {}

    public static GenerationResult run(Session session, Tokenizer tokenizer, String prompt,
                                       GenerateOptions options, Consumer<String> onText) {
        return run(session, tokenizer, tokenizer.encode(prompt, true), options, onText);
    }

    /**
     * Generates after the given prompt tokens (a rendered chat, say). Stops at any of the
     * tokenizer's end-of-generation tokens ({@link Tokenizer#endOfGeneration()}), which are
     * neither printed nor kept in the result's tokens.
     */
    public static GenerationResult run(Session session, Tokenizer tokenizer, int[] promptTokens,
                                       GenerateOptions options, Consumer<String> onText) {
        java.util.Set<Integer> stop = tokenizer.endOfGeneration();
        if (promptTokens.length == 0) {
            // An empty prompt for a tokenizer that adds no BOS (GPT-2, Qwen): start from the BOS id the files name.
            if (tokenizer.bos() < 0) throw new TransfuseException("the prompt is empty and the model names no BOS token to start from");
            promptTokens = new int[] {tokenizer.bos()};
        }
        if (promptTokens.length >= session.capacity()) {
            throw new TransfuseException("prompt is " + promptTokens.length + " tokens but the context holds "
                    + session.capacity() + " (at least one must be left to generate)");
        }
        session.reset();
        int[] tokens = Arrays.copyOf(promptTokens, Math.min(session.capacity(), promptTokens.length + options.maxTokens()));
        float[] logits = new float[session.vocabSize()]; // the model's rows: padded vocabularies have more than the tokenizer
        Sampler sampler = new Sampler(options.sampling(), logits.length);
        StringBuilder text = new StringBuilder();
        TextStream stream = new TextStream(piece -> {
            text.append(piece);
            onText.accept(piece);
        });

        long t0 = System.nanoTime();
        session.feed(promptTokens, logits);
        long prefillNanos = System.nanoTime() - t0;

        int n = promptTokens.length, generated = 0, decodeSteps = 0;
        long decodeNanos = 0;
        StopReason reason = StopReason.MAX_TOKENS;
        while (generated < options.maxTokens()) {
            int next = sampler.sample(logits);
            if (stop.contains(next) || next == tokenizer.bos()) {
                reason = StopReason.END_OF_SEQUENCE;
                break;
            }
            stream.accept(tokenizer.decode(tokens[n - 1], next));
            tokens[n++] = next;
            generated++;
            if (generated == options.maxTokens()) break;
            if (n == session.capacity()) {
                reason = StopReason.CONTEXT_FULL;
                break;
            }
            long t = System.nanoTime();
            session.feed(tokens, n - 1, 1, logits);
            decodeNanos += System.nanoTime() - t;
            decodeSteps++;
        }
        stream.finish();
        return new GenerationResult(text.toString(), Arrays.copyOf(tokens, n), promptTokens.length, generated,
                decodeSteps, prefillNanos, decodeNanos, reason);
    }
}
