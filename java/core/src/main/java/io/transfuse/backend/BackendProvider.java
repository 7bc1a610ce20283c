package io.transfuse.backend;

import io.transfuse.Device;
import io.transfuse.LoadOptions;

/**
 * A backend that lives outside transfuse-core (the CUDA module's, for {@code cuda} and {@code cuda-emu}).
 * Core finds implementations through {@link java.util.ServiceLoader} (registered in the provider's
 * {@code META-INF/services}), so it never depends on them. Model graphs are core's; a provider only
 * supplies the op set.
 */
public interface BackendProvider {
    /** Whether this provider runs models on {@code device}. */
    boolean supports(Device device);

    /** Whether {@code device} is usable right now (e.g. a GPU and its driver are present); cheap, never throws. */
    boolean available(Device device);

    /** Throws {@link io.transfuse.TransfuseException} with one line naming the cause when {@code device} is not usable. */
    void requireAvailable(Device device);

    /** A new backend on {@code device} for one model (its memory is freed when it is closed); fails as {@link #requireAvailable}. */
    Backend open(Device device, LoadOptions options);
}
