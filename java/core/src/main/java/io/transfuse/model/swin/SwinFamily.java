package io.transfuse.model.swin;

import io.transfuse.LoadOptions;
import io.transfuse.backend.Backend;
import io.transfuse.loader.ModelSource;
import io.transfuse.model.ClassifierFamily;
import io.transfuse.model.vit.ImagePreprocessor;

/**
 * Registry entry: Swin Transformer image classifiers, Hugging Face {@code SwinForImageClassification} directories
 * (config.json model_type "swin" with id2label; "swinv2" for Swinv2ForImageClassification, safetensors, preprocessor_config.json).
 */
public final class SwinFamily implements ClassifierFamily {
    @Override
    public String name() { return "swin"; }

    @Override
    public boolean recognizes(ModelSource source) {
        return source.format() == ModelSource.Format.HF_DIRECTORY && SwinConfig.MODEL_TYPES.contains(source.architecture());
    }

    @Override
    public Parts load(ModelSource source, Backend backend, LoadOptions options) {
        SwinConfig c = SwinConfig.read(source.config(), source.configPath());
        SwinWeights w = SwinWeights.from(source.safetensors(), c);
        ImagePreprocessor pre = ImagePreprocessor.forModel(source.directory(), c.imageSize());
        return new Parts(new SwinModel(c, w, backend, source.arena()), pre);
    }
}
