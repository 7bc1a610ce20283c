package io.transfuse.backend;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.model.Decoder;
import io.transfuse.model.LlamaConfig;
import io.transfuse.model.LlamaWeights;
import io.transfuse.model.MambaConfig;
import io.transfuse.model.MambaWeights;

/**
 * A backend that lives outside transfuse-core (the CUDA module) and builds model graphs for some
 * devices. Core finds implementations through {@link java.util.ServiceLoader} (registered in the
 * provider's {@code META-INF/services}), so core never depends on them.
 */
public interface DecoderProvider {
    /** Whether this provider runs models on {@code device}. */
    boolean supports(Device device);

    /** Whether {@code device} is usable right now (e.g. a GPU and its driver are present); cheap, never throws. */
    boolean available(Device device);

    /** Throws {@link io.transfuse.TransfuseException} with one line naming the cause when {@code device} is not usable. */
    void requireAvailable(Device device);

    /**
     * The Llama graph on {@code device}, holding its own device memory until closed. Fails as
     * {@link #requireAvailable} when the device is not usable.
     */
    Decoder llama(Device device, LlamaConfig config, LlamaWeights weights, LoadOptions options);

    /** The Mamba-1 graph on {@code device}, holding its own device memory until closed; fails as {@link #llama} does. */
    Decoder mamba(Device device, MambaConfig config, MambaWeights weights, LoadOptions options);
}
