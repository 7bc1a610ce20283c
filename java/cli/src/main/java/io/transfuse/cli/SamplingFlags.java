package io.transfuse.cli;

import io.transfuse.sampling.SamplingOptions;
import picocli.CommandLine.Option;

/** The sampling options of the commands that generate text ({@code generate}, {@code chat}), as a picocli mixin. */
final class SamplingFlags {
    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0.8", description = "Sampling temperature; 0 = greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "0", description = "Sample among the K most likely tokens; 0 = off (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "0.9", description = "Nucleus sampling threshold in (0, 1]; 1 = off (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--seed", paramLabel = "S", description = "Random seed (default: time-based).")
    Long seed;

    SamplingOptions options() {
        return new SamplingOptions(temperature, topK, topP, seed != null ? seed : System.nanoTime());
    }
}
