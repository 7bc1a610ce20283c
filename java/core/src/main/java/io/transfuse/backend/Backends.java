package io.transfuse.backend;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.TransfuseException;
import io.transfuse.backend.cpu.CpuBackend;

import java.util.ServiceLoader;

/** Runtime selection: the device a load runs on, and a new backend there. */
public final class Backends {
    private Backends() {}

    /** AUTO becomes CUDA when a provider sees a GPU, else CPU; other devices stay. */
    public static Device resolve(Device device) {
        if (device != Device.AUTO) return device;
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            if (p.supports(Device.CUDA) && p.available(Device.CUDA)) return Device.CUDA;
        }
        return Device.CPU;
    }

    /** Fails (one line naming the cause) when {@code device} cannot run here: call it before reading a model. */
    public static void requireAvailable(Device device) {
        if (device != Device.CPU) provider(device).requireAvailable(device);
    }

    /** A new backend on {@code device} (resolved, not AUTO) for one model. */
    public static Backend open(Device device, LoadOptions options) {
        return switch (device) {
            case CPU -> CpuBackend.create(options.threads());
            case CUDA, CUDA_EMU -> provider(device).open(device, options);
            case AUTO -> throw new IllegalArgumentException("resolve AUTO to a device first");
        };
    }

    private static BackendProvider provider(Device device) {
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            if (p.supports(device)) return p;
        }
        throw new TransfuseException("device " + device.cliName() + " needs the transfuse-cuda module on the class path");
    }
}
