package io.transfuse.cli;

import io.transfuse.SamplingOptions;
import picocli.CommandLine.Option;

import java.util.Map;

/**
 * The sampling options of the commands that generate text ({@code generate}, {@code chat}), as a picocli mixin.
 * The defaults are the API's ({@link SamplingOptions#greedy()}: temperature 0, no penalties), so the command line
 * and a program using the library give the same text for the same prompt; {@code --temperature} turns sampling on.
 */
final class SamplingFlags {
    /** The options' field names (in their validation messages) and the flags that set them. */
    private static final Map<String, String> FLAGS = Map.of("temperature", "--temperature", "topK", "--top-k",
            "topP", "--top-p", "minP", "--min-p", "repetitionPenalty", "--repeat-penalty",
            "frequencyPenalty", "--frequency-penalty", "presencePenalty", "--presence-penalty", "penaltyWindow", "--repeat-last-n");

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0", description = "Sampling temperature; 0 = greedy (default: ${DEFAULT-VALUE}, as in the Java API).")
    double temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "0", description = "Sample among the K most likely tokens; 0 = off (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "1", description = "Nucleus sampling threshold in (0, 1]; 1 = off (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--min-p", paramLabel = "P", defaultValue = "0", description = "Drop tokens less likely than P times the most likely one; 0 = off (default: ${DEFAULT-VALUE}).")
    double minP;

    @Option(names = "--repeat-penalty", paramLabel = "X", defaultValue = "1", description = "Repetition penalty on the last --repeat-last-n tokens; 1 = off (default: ${DEFAULT-VALUE}).")
    double repetitionPenalty;

    @Option(names = "--frequency-penalty", paramLabel = "X", defaultValue = "0", description = "Subtracted per occurrence in the last --repeat-last-n tokens; 0 = off (default: ${DEFAULT-VALUE}).")
    double frequencyPenalty;

    @Option(names = "--presence-penalty", paramLabel = "X", defaultValue = "0", description = "Subtracted once from tokens in the last --repeat-last-n tokens; 0 = off (default: ${DEFAULT-VALUE}).")
    double presencePenalty;

    @Option(names = "--repeat-last-n", paramLabel = "N", defaultValue = "" + SamplingOptions.DEFAULT_PENALTY_WINDOW, description = "Tokens the penalties look back over (default: ${DEFAULT-VALUE}).")
    int penaltyWindow;

    @Option(names = "--seed", paramLabel = "S", description = "Random seed (default: time-based).")
    Long seed;

    /** The options; an out-of-range value is an IllegalArgumentException naming the flag (exit code 2). */
    SamplingOptions options() {
        try {
            return SamplingOptions.builder().temperature(temperature).topK(topK).topP(topP).minP(minP)
                    .repetitionPenalty(repetitionPenalty).frequencyPenalty(frequencyPenalty).presencePenalty(presencePenalty)
                    .penaltyWindow(penaltyWindow).seed(seed != null ? seed : System.nanoTime()).build();
        } catch (IllegalArgumentException e) {
            String message = e.getMessage();
            for (Map.Entry<String, String> f : FLAGS.entrySet()) {
                if (message.startsWith(f.getKey() + " ")) {
                    throw new IllegalArgumentException(f.getValue() + message.substring(f.getKey().length()), e);
                }
            }
            throw e;
        }
    }
}
