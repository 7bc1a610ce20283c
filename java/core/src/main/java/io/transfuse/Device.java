package io.transfuse;

import java.util.Locale;

/**
 * Where a model runs. {@code AUTO} picks {@code CUDA} when a GPU is present (and the transfuse-cuda
 * module is on the class path), else {@code CPU}. {@code CUDA_EMU} runs the CUDA backend on the host
 * emulator (tests, CI).
 */
public enum Device {
    AUTO, CPU, CUDA, CUDA_EMU;

    /** The name as given on the command line ("cuda-emu"). */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** Parses a device name as given on the command line ("auto", "cpu", "cuda", "cuda-emu"), naming the valid ones on error. */
    public static Device parse(String name) {
        for (Device d : values()) {
            if (d.cliName().equals(name)) return d;
        }
        throw new IllegalArgumentException("unknown device '" + name + "' (valid: auto, cpu, cuda, cuda-emu)");
    }
}
