package io.transfuse.model.vit;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.TransfuseException;
import io.transfuse.loader.Json;
import io.transfuse.loader.ModelFormatException;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Turns an image into the model's input tensor as Hugging Face's image processors do
 * ({@code preprocessor_config.json}): resize (to a fixed size, or the shortest edge to a length, within a
 * longest edge as DETR's processor does), centre crop, rescale to [0, 1], normalise per channel. Output is
 * F32 [3][height][width]. Images of different sizes go into one batch with {@link #pad} (HF's do_pad and
 * pixel_mask).
 *
 * @param resizeWidth    target width, or 0 when resizing by {@code shortestEdge} (or not at all)
 * @param shortestEdge   resize the shorter side to this, keeping the aspect ratio (0 = not used)
 * @param longestEdge    with shortestEdge: the longer side stays within this (0 = no limit)
 * @param cropWidth      centre-crop size (0 = no crop)
 */
public record ImagePreprocessor(boolean resize, int resizeWidth, int resizeHeight, int shortestEdge, int longestEdge,
                                ImageResize.Filter filter, int cropWidth, int cropHeight,
                                boolean rescale, double rescaleFactor,
                                boolean normalize, double[] mean, double[] std) {

    /** The processor a model directory describes; ViT's defaults (224x224 bilinear, mean = std = 0.5) when it has no file. */
    public static ImagePreprocessor forModel(Path dir, int imageSize) {
        Path file = dir.resolve("preprocessor_config.json");
        if (!Files.exists(file)) {
            return new ImagePreprocessor(true, imageSize, imageSize, 0, 0, ImageResize.Filter.BILINEAR, 0, 0,
                    true, 1 / 255.0, true, new double[] {0.5, 0.5, 0.5}, new double[] {0.5, 0.5, 0.5});
        }
        JsonNode c = Json.read(file);
        boolean resize = c.path("do_resize").asBoolean(true);
        int w = 0, h = 0, shortest = 0, longest = 0;
        JsonNode size = c.path("size");
        if (size.isInt() && c.has("max_size")) { // DETR's older files: "size": 800, "max_size": 1333
            shortest = size.asInt();
            longest = Json.requireInt(c, "max_size", file);
        } else if (size.isInt()) {
            w = h = size.asInt();
        } else if (size.has("shortest_edge")) {
            shortest = Json.requireInt(size, "shortest_edge", file);
            if (size.has("longest_edge")) longest = Json.requireInt(size, "longest_edge", file);
        } else if (size.has("height") || size.has("width")) {
            w = Json.requireInt(size, "width", file);
            h = Json.requireInt(size, "height", file);
        } else {
            w = h = imageSize;
        }
        int cropW = 0, cropH = 0;
        if (c.path("do_center_crop").asBoolean(false)) {
            JsonNode crop = c.path("crop_size");
            if (crop.isInt()) {
                cropW = cropH = crop.asInt();
            } else {
                cropW = Json.requireInt(crop, "width", file);
                cropH = Json.requireInt(crop, "height", file);
            }
        }
        double[] mean = triple(c, "image_mean", 0.5, file), std = triple(c, "image_std", 0.5, file);
        for (double s : std) if (!(s > 0)) throw new ModelFormatException(file + ": image_std values must be positive");
        if (shortest < 0 || longest < 0 || (longest > 0 && longest < shortest)) {
            throw new ModelFormatException(file + ": size needs 0 < shortest_edge <= longest_edge, got " + shortest + " and " + longest);
        }
        return new ImagePreprocessor(resize, w, h, shortest, longest,
                ImageResize.Filter.fromPillowCode(c.path("resample").asInt(2), file.toString()), cropW, cropH,
                c.path("do_rescale").asBoolean(true), Json.optionalNumber(c, "rescale_factor", 1 / 255.0, file),
                c.path("do_normalize").asBoolean(true), mean, std);
    }

    private static double[] triple(JsonNode c, String key, double fallback, Path file) {
        JsonNode v = c.path(key);
        if (v.isMissingNode() || v.isNull()) return new double[] {fallback, fallback, fallback};
        if (v.isNumber()) return new double[] {v.asDouble(), v.asDouble(), v.asDouble()};
        if (!v.isArray() || v.size() != 3) throw new ModelFormatException(file + ": '" + key + "' must be a number or 3 numbers, got " + v);
        return new double[] {v.get(0).asDouble(), v.get(1).asDouble(), v.get(2).asDouble()};
    }

    /** Reads an image file (PNG, JPEG, BMP, GIF: what javax.imageio reads) as RGB, dropping alpha. */
    public static Rgb read(Path image) {
        if (!Files.isRegularFile(image)) throw new TransfuseException(image + ": no such image file");
        BufferedImage img;
        try {
            img = ImageIO.read(image.toFile());
        } catch (IOException e) {
            throw new TransfuseException(image + ": cannot read image: " + e.getMessage(), e);
        }
        if (img == null) throw new TransfuseException(image + ": not an image format Java can read (PNG, JPEG, BMP, GIF)");
        return Rgb.of(img);
    }

    /** 8-bit RGB pixels [height][width][3]. */
    public record Rgb(byte[] pixels, int width, int height) {
        public static Rgb of(BufferedImage img) {
            int w = img.getWidth(), h = img.getHeight();
            byte[] p = new byte[w * h * 3];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int argb = img.getRGB(x, y), i = (y * w + x) * 3;
                    p[i] = (byte) (argb >> 16);
                    p[i + 1] = (byte) (argb >> 8);
                    p[i + 2] = (byte) argb;
                }
            }
            return new Rgb(p, w, h);
        }
    }

    /**
     * The largest image side this processor outputs, or 0 when the output size depends on the input
     * (resizing the shortest edge without a crop).
     */
    public int maxOutputSide() {
        if (cropWidth > 0) return Math.max(cropWidth, cropHeight);
        if (resize && shortestEdge == 0) return Math.max(resizeWidth, resizeHeight);
        if (resize && longestEdge > 0) return longestEdge; // sizeWithin keeps the longer side within it
        return 0;
    }

    /** The model input for {@code image}: F32 [3][H][W], channel-major. */
    public Pixels apply(Rgb image) {
        Rgb img = image;
        if (resize) {
            int w = resizeWidth, h = resizeHeight;
            if (shortestEdge > 0 && longestEdge > 0) {
                int[] wh = sizeWithin(img.width(), img.height(), shortestEdge, longestEdge);
                w = wh[0];
                h = wh[1];
            } else if (shortestEdge > 0) {
                boolean wide = img.width() >= img.height();
                int shortSide = Math.min(img.width(), img.height()), longSide = Math.max(img.width(), img.height());
                int newLong = (int) ((long) shortestEdge * longSide / shortSide);
                w = wide ? newLong : shortestEdge;
                h = wide ? shortestEdge : newLong;
            }
            if (w != img.width() || h != img.height()) {
                img = new Rgb(ImageResize.resize(img.pixels(), img.width(), img.height(), w, h, filter), w, h);
            }
        }
        if (cropWidth > 0) img = centreCrop(img, cropWidth, cropHeight);
        int w = img.width(), h = img.height();
        float[] out = new float[3 * w * h];
        for (int ch = 0; ch < 3; ch++) {
            for (int i = 0; i < w * h; i++) {
                double v = img.pixels()[i * 3 + ch] & 0xFF;
                if (rescale) v *= rescaleFactor;
                if (normalize) v = (v - mean[ch]) / std[ch];
                out[ch * w * h + i] = (float) v;
            }
        }
        return new Pixels(out, w, h);
    }

    /** Channel-major F32 pixels [3][height][width]. */
    public record Pixels(float[] data, int width, int height) {}

    /**
     * The size {width, height} DETR's processor resizes a {@code width} x {@code height} image to: the shorter side
     * to {@code shortest}, unless the longer side would then exceed {@code longest}, in which case the longer side
     * goes to about {@code longest} (Hugging Face's get_size_with_aspect_ratio, in the same double arithmetic, so
     * that the sizes agree to the pixel: a 640 x 480 image with 800 / 1333 becomes 1066 x 800).
     */
    public static int[] sizeWithin(int width, int height, int shortest, int longest) {
        double minSide = Math.min(width, height), maxSide = Math.max(width, height);
        int size = shortest;
        double raw = Double.NaN;
        if (maxSide / minSide * size > longest) {
            raw = longest * minSide / maxSide;
            size = (int) Math.rint(raw); // Python's round: ties to even
        }
        if ((height <= width && height == size) || (width <= height && width == size)) return new int[] {width, height};
        boolean limited = !Double.isNaN(raw);
        if (width < height) return new int[] {size, (int) (limited ? raw * height / width : (double) (size * height) / width)};
        return new int[] {(int) (limited ? raw * width / height : (double) (size * width) / height), size};
    }

    /**
     * Images of different sizes as one batch, as Hugging Face's do_pad: each image at the top left of
     * [3][height][width] (the largest height and width in the batch), zeros to its right and below, and
     * {@code mask[i][y][x]} = 1 where image i has a pixel, 0 in the padding (HF's pixel_mask).
     */
    public static Batch pad(List<Pixels> images) {
        if (images.isEmpty()) throw new IllegalArgumentException("pad needs at least one image");
        int w = 0, h = 0;
        for (Pixels p : images) {
            w = Math.max(w, p.width());
            h = Math.max(h, p.height());
        }
        float[] data = new float[images.size() * 3 * h * w];
        byte[] mask = new byte[images.size() * h * w];
        for (int i = 0; i < images.size(); i++) {
            Pixels p = images.get(i);
            for (int ch = 0; ch < 3; ch++) {
                for (int y = 0; y < p.height(); y++) {
                    System.arraycopy(p.data(), (ch * p.height() + y) * p.width(), data, ((i * 3 + ch) * h + y) * w, p.width());
                }
            }
            for (int y = 0; y < p.height(); y++) Arrays.fill(mask, (i * h + y) * w, (i * h + y) * w + p.width(), (byte) 1);
        }
        return new Batch(data, mask, images.size(), w, h);
    }

    /** Padded images [count][3][height][width] and their pixel mask [count][height][width] (1 = image, 0 = padding). */
    public record Batch(float[] data, byte[] mask, int count, int width, int height) {}

    /** Crops the centre (padding with black where the image is smaller, as HF's center_crop does). */
    static Rgb centreCrop(Rgb img, int cw, int ch) {
        int top = Math.floorDiv(img.height() - ch, 2), left = Math.floorDiv(img.width() - cw, 2);
        byte[] out = new byte[cw * ch * 3];
        for (int y = 0; y < ch; y++) {
            int sy = top + y;
            if (sy < 0 || sy >= img.height()) continue;
            for (int x = 0; x < cw; x++) {
                int sx = left + x;
                if (sx < 0 || sx >= img.width()) continue;
                System.arraycopy(img.pixels(), (sy * img.width() + sx) * 3, out, (y * cw + x) * 3, 3);
            }
        }
        return new Rgb(out, cw, ch);
    }
}
