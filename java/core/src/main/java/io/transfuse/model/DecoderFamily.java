package io.transfuse.model;

import io.transfuse.LoadOptions;
import io.transfuse.backend.Backend;
import io.transfuse.loader.ModelSource;
import io.transfuse.tokenizer.Tokenizer;

/** A family of causal language models (text generation). */
public non-sealed interface DecoderFamily extends ModelFamily {
    /**
     * Reads the config and weights from {@code source} and builds the graph on {@code backend}, which the
     * graph owns from then on. When this throws, the caller closes the backend.
     */
    Parts load(ModelSource source, Backend backend, LoadOptions options);

    @Override
    default String task() { return "text generation"; }

    /** The graph, and the tokenizer the files carry (null when they carry none). */
    record Parts(Decoder graph, Tokenizer tokenizer) {}
}
