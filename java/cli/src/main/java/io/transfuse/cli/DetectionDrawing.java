package io.transfuse.cli;

import io.transfuse.ObjectDetector;
import io.transfuse.TransfuseException;
import io.transfuse.model.vit.ImagePreprocessor;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Draws detections onto an image (java.awt, headless): per detection a rectangle in its label's colour and a filled tag
 * above it with "label score". Line width and font follow the image size so that boxes stay visible on large photos.
 */
final class DetectionDrawing {
    /** Colours by label id (Tableau 10, readable on photos); ids beyond wrap around. */
    private static final int[] PALETTE = {0x4E79A7, 0xF28E2B, 0xE15759, 0x76B7B2, 0x59A14F, 0xEDC948, 0xB07AA1, 0xFF9DA7, 0x9C755F, 0xBAB0AC};

    private DetectionDrawing() {}

    /** An RGB image of the pixels (the detector sees the same pixels as the drawing). */
    static BufferedImage toImage(ImagePreprocessor.Rgb rgb) {
        BufferedImage img = new BufferedImage(rgb.width(), rgb.height(), BufferedImage.TYPE_INT_RGB);
        byte[] p = rgb.pixels();
        for (int y = 0; y < rgb.height(); y++)
            for (int x = 0; x < rgb.width(); x++) {
                int i = (y * rgb.width() + x) * 3;
                img.setRGB(x, y, (p[i] & 0xFF) << 16 | (p[i + 1] & 0xFF) << 8 | (p[i + 2] & 0xFF));
            }
        return img;
    }

    /** The image format of {@code file} by its extension: png or jpg; anything else is an error naming the file. */
    static String checkFormat(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".png")) return "png";
        if (name.endsWith(".jpg") || name.endsWith(".jpeg")) return "jpg";
        throw new IllegalArgumentException("--out " + file + ": the annotated image is written as PNG or JPEG, name it .png, .jpg or .jpeg");
    }

    /** {@code out} with {@code image}'s base name added before the extension: annotated.png + cat.jpg -> annotated-cat.png. */
    static Path perImage(Path out, Path image) {
        String o = out.getFileName().toString(), i = image.getFileName().toString();
        int dot = o.lastIndexOf('.'), idot = i.lastIndexOf('.');
        String base = idot > 0 ? i.substring(0, idot) : i;
        return out.resolveSibling(o.substring(0, dot) + "-" + base + o.substring(dot));
    }

    /** Draws {@code found} on a copy of {@code image} and writes it to {@code file}. */
    static void write(BufferedImage image, List<ObjectDetector.Detection> found, Path file) {
        System.setProperty("java.awt.headless", "true");
        BufferedImage img = new BufferedImage(image.getWidth(), image.getHeight(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.drawImage(image, 0, 0, null);
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            int side = Math.max(img.getWidth(), img.getHeight());
            float stroke = Math.max(1f, side / 300f);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, Math.max(9, side / 50)));
            FontMetrics fm = g.getFontMetrics();
            for (ObjectDetector.Detection d : found) {
                Color c = new Color(PALETTE[Math.floorMod(d.labelId(), PALETTE.length)]);
                int x0 = (int) Math.round(d.x0()), y0 = (int) Math.round(d.y0());
                int w = (int) Math.round(d.x1() - d.x0()), h = (int) Math.round(d.y1() - d.y0());
                g.setColor(c);
                g.setStroke(new BasicStroke(stroke));
                g.drawRect(x0, y0, Math.max(1, w), Math.max(1, h));
                String tag = String.format(Locale.ROOT, "%s %.2f", d.label(), d.score());
                int tw = fm.stringWidth(tag) + 4, th = fm.getHeight();
                int ty = y0 - th >= 0 ? y0 - th : y0; // above the box, or inside it at the top edge
                g.fillRect(x0, ty, tw, th);
                g.setColor(luminance(c) > 150 ? Color.BLACK : Color.WHITE);
                g.drawString(tag, x0 + 2, ty + fm.getAscent());
            }
        } finally {
            g.dispose();
        }
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            if (!ImageIO.write(img, checkFormat(file), file.toFile())) {
                throw new TransfuseException(file + ": no image writer for " + checkFormat(file));
            }
        } catch (IOException e) {
            throw new TransfuseException(file + ": cannot write the annotated image: " + e.getMessage(), e);
        }
    }

    private static int luminance(Color c) { return (299 * c.getRed() + 587 * c.getGreen() + 114 * c.getBlue()) / 1000; }
}
