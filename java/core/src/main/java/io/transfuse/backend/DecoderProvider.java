package io.transfuse.backend;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.model.Decoder;
import io.transfuse.model.LlamaConfig;
import io.transfuse.model.LlamaWeights;
import io.transfuse.model.MambaConfig;
import io.transfuse.model.MambaWeights;
import io.transfuse.model.bert.BertConfig;
import io.transfuse.model.bert.BertWeights;
import io.transfuse.model.bert.EncoderGraph;
import io.transfuse.model.vit.ClassifierGraph;
import io.transfuse.model.vit.ViTModel;

/**
 * A backend that lives outside transfuse-core (the CUDA module) and builds model graphs for some
 * devices. Core finds implementations through {@link java.util.ServiceLoader} (registered in the
 * provider's {@code META-INF/services}), so core never depends on them. Besides the decoders it
 * serves the encoder families' transformer stacks (BERT, ViT), whose tokenisation, pooling,
 * preprocessing and heads stay in core.
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

    /**
     * A BERT-family encoder stack on {@code device} for at most {@code maxTokens} rows per call,
     * holding its own device memory until closed; fails as {@link #llama} does.
     */
    EncoderGraph bert(Device device, BertConfig config, BertWeights weights, int maxTokens, LoadOptions options);

    /**
     * A ViT/DeiT classifier whose transformer blocks run on {@code device}; {@code host} (the CPU graph
     * over the same weights) does the patch embedding and the classifier head. Holds its own device
     * memory until closed (closing it also closes {@code host}'s workspace); fails as {@link #llama} does.
     */
    ClassifierGraph vit(Device device, ViTModel host, LoadOptions options);
}
