package io.transfuse.model;

import io.transfuse.EncoderOptions;
import io.transfuse.LoadOptions;
import io.transfuse.backend.Backend;
import io.transfuse.loader.ModelSource;
import io.transfuse.model.bert.Pooling;
import io.transfuse.tokenizer.hf.HfTokenizer;

/** A family of text encoders (embeddings). */
public non-sealed interface EncoderFamily extends ModelFamily {
    /** As {@link DecoderFamily#load}: the graph owns {@code backend} from then on. */
    Parts load(ModelSource source, Backend backend, LoadOptions options, EncoderOptions encoder);

    @Override
    default String task() { return "text embeddings"; }

    /**
     * @param maxTokens tokens per text after truncation (special tokens included)
     */
    record Parts(EncoderGraph graph, HfTokenizer tokenizer, Pooling pooling, int maxTokens) {}
}
