package io.transfuse.model;

import io.transfuse.LoadOptions;
import io.transfuse.backend.Backend;
import io.transfuse.loader.ModelSource;
import io.transfuse.model.vit.ImagePreprocessor;

/** A family of object detectors. */
public non-sealed interface DetectorFamily extends ModelFamily {
    /** As {@link DecoderFamily#load}: the graph owns {@code backend} from then on. */
    Parts load(ModelSource source, Backend backend, LoadOptions options);

    @Override
    default String task() { return "object detection"; }

    record Parts(DetectorGraph graph, ImagePreprocessor preprocessor) {}
}
