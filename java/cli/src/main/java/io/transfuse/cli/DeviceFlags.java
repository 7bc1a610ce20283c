package io.transfuse.cli;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import picocli.CommandLine.Option;

/**
 * Where a command runs its model ({@code --device}, {@code --threads}), as a picocli mixin: every command that loads
 * a model takes the same two flags with the same meaning and defaults.
 */
final class DeviceFlags {
    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "auto", description = "auto, cpu, cuda or cuda-emu (the CUDA backend on the host emulator); auto picks cuda when a GPU is present (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "CPU threads; 0 = one per core (default: ${DEFAULT-VALUE}).")
    int threads;

    /** The device named by {@code --device}; an unknown name is an IllegalArgumentException listing the known ones. */
    Device device() {
        return Device.parse(device);
    }

    /** The load options for {@code --device} and {@code --threads}, the rest at their defaults. */
    LoadOptions loadOptions() {
        return LoadOptions.defaults().withDevice(device()).withThreads(threads);
    }
}
