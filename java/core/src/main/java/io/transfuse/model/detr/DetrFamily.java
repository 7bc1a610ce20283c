package io.transfuse.model.detr;

import io.transfuse.LoadOptions;
import io.transfuse.backend.Backend;
import io.transfuse.loader.ModelSource;
import io.transfuse.model.DetectorFamily;
import io.transfuse.model.vit.ImagePreprocessor;
import io.transfuse.model.vit.ImageResize;

import java.nio.file.Files;

/**
 * Registry entry: DETR object detectors, Hugging Face {@code DetrForObjectDetection} directories (config.json model_type
 * "detr" with a ResNet-50 backbone, safetensors, preprocessor_config.json; without one, DetrImageProcessor's defaults:
 * shortest edge 800 within 1333, bilinear, ImageNet mean and std).
 */
public final class DetrFamily implements DetectorFamily {
    @Override
    public String name() { return "detr"; }

    @Override
    public boolean recognizes(ModelSource source) {
        return source.format() == ModelSource.Format.HF_DIRECTORY && source.architecture().equals("detr");
    }

    @Override
    public Parts load(ModelSource source, Backend backend, LoadOptions options) {
        DetrConfig c = DetrConfig.read(source.config(), source.configPath());
        DetrWeights w = DetrWeights.from(source.safetensors(), c);
        ImagePreprocessor pre = preprocessor(source);
        int[] max = largestImage(pre);
        return new Parts(new DetrModel(c, w, backend, max[0], max[1]), pre);
    }

    static ImagePreprocessor preprocessor(ModelSource source) {
        if (Files.exists(source.directory().resolve("preprocessor_config.json"))) {
            return ImagePreprocessor.forModel(source.directory(), 800);
        }
        return new ImagePreprocessor(true, 0, 0, 800, 1333, ImageResize.Filter.BILINEAR, 0, 0, true, 1 / 255.0, true,
                new double[] {0.485, 0.456, 0.406}, new double[] {0.229, 0.224, 0.225});
    }

    /**
     * {shorter side, longer side} of the largest image the preprocessor makes: the workspace is planned for it (in
     * either orientation). A processor that does not resize gets DETR's usual 800 x 1333; larger inputs are refused.
     */
    static int[] largestImage(ImagePreprocessor p) {
        if (p.resize() && p.shortestEdge() > 0 && p.longestEdge() > 0) return new int[] {p.shortestEdge(), p.longestEdge()};
        if (p.resize() && p.shortestEdge() == 0 && p.resizeWidth() > 0) {
            return new int[] {Math.min(p.resizeWidth(), p.resizeHeight()), Math.max(p.resizeWidth(), p.resizeHeight())};
        }
        if (p.cropWidth() > 0) return new int[] {Math.min(p.cropWidth(), p.cropHeight()), Math.max(p.cropWidth(), p.cropHeight())};
        return new int[] {800, 1333};
    }
}
