package io.transfuse.backend;

/**
 * The geometry of one 2-D convolution ({@link Backend#conv2d}), PyTorch's {@code Conv2d} with zero padding:
 * {@code batch} images of {@code height x width x inChannels} (NHWC), a {@code kernelH x kernelW} kernel,
 * strides, paddings, dilations and {@code groups} (output channel o reads the input channels of group
 * {@code o / (outChannels / groups)}; {@code groups == inChannels} is depthwise). Checked when made: each
 * bad value is an {@link IllegalArgumentException} naming the field.
 */
public record Conv2d(int batch, int height, int width, int inChannels, int outChannels, int kernelH, int kernelW,
                     int strideH, int strideW, int padH, int padW, int dilationH, int dilationW, int groups) {

    /** Ints in transfuse.h's {@code TF_CONV2D_*} order (the geometry array of tf_cpu_conv2d and tf_conv2d). */
    public static final int GEOMETRY_INTS = 14;

    public Conv2d {
        positive("batch", batch);
        positive("height", height);
        positive("width", width);
        positive("inChannels", inChannels);
        positive("outChannels", outChannels);
        positive("kernelH", kernelH);
        positive("kernelW", kernelW);
        positive("strideH", strideH);
        positive("strideW", strideW);
        positive("dilationH", dilationH);
        positive("dilationW", dilationW);
        positive("groups", groups);
        if (padH < 0 || padW < 0) throw new IllegalArgumentException("conv2d: padding must be >= 0, got " + padH + "x" + padW);
        if (inChannels % groups != 0 || outChannels % groups != 0) {
            throw new IllegalArgumentException("conv2d: groups " + groups + " must divide inChannels " + inChannels
                    + " and outChannels " + outChannels);
        }
        if (span(height, padH, dilationH, kernelH) < 0 || span(width, padW, dilationW, kernelW) < 0) {
            throw new IllegalArgumentException("conv2d: the " + kernelH + "x" + kernelW + " kernel (dilation " + dilationH + "x"
                    + dilationW + ") is larger than the " + height + "x" + width + " image padded by " + padH + "x" + padW);
        }
        // (the compact constructor sees its parameters, not yet the fields: sizes from the parameters)
        if ((long) batch * outHeightOf(height, padH, dilationH, kernelH, strideH) * outHeightOf(width, padW, dilationW, kernelW, strideW)
                > Integer.MAX_VALUE
                || (long) batch * height * width > Integer.MAX_VALUE
                || (long) kernelH * kernelW * (inChannels / groups) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("conv2d: more than 2^31 pixels or patch elements");
        }
    }

    /** A square kernel with one stride, padding and dilation for both axes. */
    public static Conv2d square(int batch, int height, int width, int inChannels, int outChannels, int kernel, int stride,
                                int pad, int dilation, int groups) {
        return new Conv2d(batch, height, width, inChannels, outChannels, kernel, kernel, stride, stride, pad, pad, dilation,
                dilation, groups);
    }

    /** Output rows: {@code (height + 2 padH - dilationH (kernelH - 1) - 1) / strideH + 1}. */
    public int outHeight() { return outHeightOf(height, padH, dilationH, kernelH, strideH); }

    /** Output columns, likewise. */
    public int outWidth() { return outHeightOf(width, padW, dilationW, kernelW, strideW); }

    /** Rows of x: {@code batch * height * width} pixels. */
    public long inPixels() { return (long) batch * height * width; }

    /** Rows of out: {@code batch * outHeight * outWidth} pixels. */
    public long outPixels() { return (long) batch * outHeight() * outWidth(); }

    /** Columns of the weight [outChannels][kernelH][kernelW][inChannels / groups]: one output channel's taps. */
    public long patch() { return (long) kernelH * kernelW * (inChannels / groups); }

    /** Multiply-adds times two. */
    public double flops() { return 2.0 * outPixels() * outChannels * patch(); }

    /** The {@value #GEOMETRY_INTS} ints of transfuse.h's {@code TF_CONV2D_*} order. */
    public int[] geometry() {
        return new int[] {batch, height, width, inChannels, outChannels, kernelH, kernelW, strideH, strideW, padH, padW,
                dilationH, dilationW, groups};
    }

    private static long span(int size, int pad, int dilation, int kernel) {
        return (long) size + 2L * pad - (long) dilation * (kernel - 1) - 1;
    }

    /** Output size along one axis (PyTorch's Conv2d formula). */
    private static int outHeightOf(int size, int pad, int dilation, int kernel, int stride) {
        return (int) (span(size, pad, dilation, kernel) / stride + 1);
    }

    private static void positive(String name, int v) {
        if (v < 1) throw new IllegalArgumentException("conv2d: " + name + " must be >= 1, got " + v);
    }
}
