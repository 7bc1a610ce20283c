package io.transfuse.model.vit;

import io.transfuse.LoadOptions;
import io.transfuse.backend.Backend;
import io.transfuse.loader.ModelSource;
import io.transfuse.model.ClassifierFamily;

/**
 * Registry entry: ViT and DeiT image classifiers, Hugging Face {@code ViTForImageClassification} /
 * {@code DeiTForImageClassification(WithTeacher)} directories (config.json with id2label, safetensors,
 * preprocessor_config.json; ViT's defaults when it is absent).
 */
public final class ViTFamily implements ClassifierFamily {
    @Override
    public String name() { return "vit"; }

    @Override
    public boolean recognizes(ModelSource source) {
        return source.format() == ModelSource.Format.HF_DIRECTORY && ViTConfig.MODEL_TYPES.contains(source.architecture());
    }

    @Override
    public Parts load(ModelSource source, Backend backend, LoadOptions options) {
        ViTConfig c = ViTConfig.read(source.config(), source.configPath());
        ViTWeights w = ViTWeights.from(source.safetensors(), c);
        ImagePreprocessor pre = ImagePreprocessor.forModel(source.directory(), c.imageSize());
        // Plan for the largest image the processor makes (its crop or fixed size), else the config's size.
        int side = Math.max(c.imageSize(), pre.maxOutputSide());
        return new Parts(new ViTModel(c, w, backend, side, source.arena()), pre);
    }
}
