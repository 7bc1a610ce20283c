package io.transfuse.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.transfuse.LoadOptions;
import io.transfuse.ObjectDetector;
import io.transfuse.Transfuse;
import io.transfuse.model.vit.ImagePreprocessor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code transfuse detect}: the objects a DETR model finds in each image, one JSON line per detection
 * ({@code {"image", "label", "score", "box": [x0, y0, x1, y1]}}, boxes in the image's pixels), and with {@code --out}
 * the image with the boxes drawn ({@link DetectionDrawing}).
 */
@Command(name = "detect", mixinStandardHelpOptions = true,
        description = {"Detects objects in images with a DETR model (Hugging Face DetrForObjectDetection directory): one JSON line per"
                + " detection {image, label, score, box: [x0, y0, x1, y1]} in image pixels; --out draws the boxes onto the image."})
final class DetectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DeviceFlags where;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "Image files (PNG, JPEG, BMP, GIF).")
    List<Path> images;

    @Option(names = "--model", paramLabel = "DIR", required = true,
            description = "Hugging Face directory: config.json (model_type detr), safetensors, preprocessor_config.json.")
    Path model;

    @Option(names = "--threshold", paramLabel = "T", defaultValue = "0.5",
            description = "Keep detections whose score is above T, in [0, 1) (default: ${DEFAULT-VALUE}, as Hugging Face's post-processing).")
    double threshold;

    @Option(names = "--out", paramLabel = "FILE",
            description = "Write the image with labelled boxes to FILE (PNG or JPEG by its extension); with several images,"
                    + " FILE's name gets each image's name added (annotated.png -> annotated-cat.png).")
    Path out;

    @Override
    public Integer call() {
        if (!(threshold >= 0 && threshold < 1)) throw new IllegalArgumentException("--threshold must be in [0, 1), got " + threshold);
        if (out != null) DetectionDrawing.checkFormat(out);
        LoadOptions load = where.loadOptions();
        PrintWriter w = spec.commandLine().getOut();
        ObjectMapper json = new ObjectMapper();
        try (ObjectDetector det = Transfuse.loadDetector(model, load)) {
            for (Path image : images) {
                ImagePreprocessor.Rgb rgb = ImagePreprocessor.read(image);
                java.awt.image.BufferedImage img = DetectionDrawing.toImage(rgb);
                List<ObjectDetector.Detection> found = det.detect(img, threshold);
                for (ObjectDetector.Detection d : found) {
                    ObjectNode line = json.createObjectNode();
                    line.put("image", image.toString());
                    line.put("label", d.label());
                    line.put("score", Math.round(d.score() * 1e4) / 1e4);
                    var box = line.putArray("box");
                    for (double v : new double[] {d.x0(), d.y0(), d.x1(), d.y1()}) box.add(Math.round(v * 100) / 100.0);
                    w.println(line);
                }
                w.flush();
                if (out != null) DetectionDrawing.write(img, found, images.size() == 1 ? out : DetectionDrawing.perImage(out, image));
            }
        }
        return 0;
    }
}
