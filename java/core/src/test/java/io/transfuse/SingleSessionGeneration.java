package io.transfuse;

import io.transfuse.generate.Generator;

/**
 * Generation on one plain {@link Session}, one sequence at a time, with no engine or scheduler: the reference the
 * batched paths ({@link LanguageModel#generate}, the engine) are compared with. The session is closed afterwards, so
 * it holds no KV blocks once the call returns.
 */
public final class SingleSessionGeneration {
    private SingleSessionGeneration() {}

    public static GenerationResult run(LanguageModel model, int[] prompt, GenerateOptions options) {
        try (Session s = model.newSession()) {
            return Generator.run(s, model.tokenizer(), prompt, options, piece -> { }, new CancellationToken());
        }
    }

    public static GenerationResult run(LanguageModel model, String prompt, GenerateOptions options) {
        return run(model, model.tokenizer().encode(prompt, true), options);
    }
}
