package io.transfuse.cuda.encoder;

import io.transfuse.cuda.llama.HalfConvert;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.Gemm;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.cuda.runtime.GpuStream;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * ViT's input side on the device, written straight into an encoder's residual stream: each image
 * becomes the sequence [CLS, patch 0 .. patch P-1] plus position embeddings,
 * <pre>
 *   x[0]     = cls + pos[0]
 *   x[1 + i] = W . patch_i + b + pos[1 + i]      (the stride-p convolution as a GEMM)
 * </pre>
 * Patches are cut on the host (row-major over the patch grid, each flattened as (channel, row,
 * column): the layout of a Conv2d weight [dim][channels][p][p], as Hugging Face's ViTPatchEmbeddings
 * flattens them) and uploaded rounded to the dtype. On the device: one copy of a pre-tiled table
 * {@code [cls + pos[0]; b + pos[1..P]]} per image (summed in fp32 on the host at load) into the stream,
 * then one strided-batched GEMM with beta = 1 that adds W . patches onto the patch rows of every image.
 * Fixed image size (no position interpolation). Owns its device memory until closed.
 */
public final class CudaPatchEmbeddings implements AutoCloseable {
    private final int dim, channels, imageSize, patchSize, grid, patches, patchLen, maxImages;
    private final ElemType t;
    private final GpuRuntime rt;
    private final DeviceArena arena;
    private final DeviceBuffer weight, prefix, patchRows;
    private final MemorySegment staging;

    /**
     * @param weight   the patch projection, [dim][channels][p][p] or [dim][channels * p * p]
     * @param bias     [dim]
     * @param cls      the CLS token, dim values ([dim] or [1][1][dim])
     * @param position [P + 1][dim] (or [1][P + 1][dim]), P = (imageSize / patchSize)^2
     */
    public CudaPatchEmbeddings(GpuRuntime runtime, String name, Tensor weight, Tensor bias, Tensor cls, Tensor position, int channels,
                               int imageSize, int patchSize, ElemType dtype, int maxImages) {
        if (weight == null || bias == null || cls == null || position == null) throw new IllegalArgumentException(name + ": patch weight, bias, CLS token and position embeddings are required");
        if (channels < 1 || patchSize < 1 || imageSize < patchSize || imageSize % patchSize != 0) {
            throw new IllegalArgumentException(name + ": image size " + imageSize + " must be a positive multiple of the patch size " + patchSize + " (channels " + channels + ")");
        }
        if (dtype == ElemType.F32) throw new IllegalArgumentException(name + ": embeddings are uploaded as f16 or bf16, not f32");
        if (maxImages < 1) throw new IllegalArgumentException(name + ": max images must be positive, got " + maxImages);
        this.dim = (int) weight.dim(0);
        this.channels = channels;
        this.imageSize = imageSize;
        this.patchSize = patchSize;
        this.grid = imageSize / patchSize;
        this.patches = grid * grid;
        this.patchLen = channels * patchSize * patchSize;
        this.maxImages = maxImages;
        if (weight.elementCount() != (long) dim * patchLen) throw new IllegalArgumentException(name + ": patch weight " + weight.describe() + " should hold " + dim + " x " + channels + " x " + patchSize + " x " + patchSize + " values");
        if (bias.elementCount() != dim || cls.elementCount() != dim) throw new IllegalArgumentException(name + ": patch bias " + bias.describe() + " and CLS token " + cls.describe() + " should hold " + dim + " values");
        if (position.elementCount() != (long) (patches + 1) * dim) throw new IllegalArgumentException(name + ": position embeddings " + position.describe() + " should be [" + (patches + 1) + "][" + dim + "] for " + patches + " patches");
        this.t = dtype;
        this.rt = runtime;
        this.arena = new DeviceArena(runtime, "CUDA patch embeddings " + name);
        try {
            this.weight = CudaEncoderLayer.matrix(arena, name + " patch projection", dtype, flat(weight, dim, patchLen), dim, patchLen);
            // [cls + pos[0]; b + pos[1..P]] in fp32, rounded once, tiled maxImages times.
            float[] b = row(bias, dim), c = row(cls, dim);
            float[][] pos = new float[patches + 1][];
            HalfConvert.forEachRow(flat(position, patches + 1, dim), patches + 1, dim, (r, f) -> pos[r] = f.toArray(ValueLayout.JAVA_FLOAT));
            long tableBytes = (long) maxImages * (patches + 1) * dim * dtype.bytes();
            this.prefix = arena.allocate(name + " CLS, patch bias and position embeddings", tableBytes);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment host = a.allocate(tableBytes, 64);
                for (int img = 0; img < maxImages; img++) {
                    for (int r = 0; r <= patches; r++) {
                        for (int j = 0; j < dim; j++) {
                            HalfConvert.put(host, ((long) img * (patches + 1) + r) * dim + j, pos[r][j] + (r == 0 ? c[j] : b[j]), dtype);
                        }
                    }
                }
                rt.copyHostToDevice(rt.defaultStream(), host, prefix.address(), tableBytes);
            }
            long patchBytes = (long) maxImages * patches * patchLen * dtype.bytes();
            this.patchRows = arena.allocate(name + " image patches", patchBytes);
            this.staging = arena.allocatePinned(patchBytes);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Tokens per image: the CLS token and the patches. */
    public int sequenceLength() { return patches + 1; }

    /**
     * Sets on {@code ws} the batch of {@code count} images (each a sequence of {@link #sequenceLength()}
     * tokens) and writes their embeddings into its residual stream. {@code images}: f32
     * [count][channels][imageSize][imageSize] on the host, already resized and normalised. Returns the batch.
     */
    public EncoderBatch embed(GpuStream s, EncoderWorkspace ws, MemorySegment images, int count) {
        if (count < 1 || count > maxImages) throw new IllegalArgumentException("embed: " + count + " images; between 1 and " + maxImages + " were planned for");
        long pixels = (long) channels * imageSize * imageSize;
        if (images == null || images.byteSize() < count * pixels * Float.BYTES) {
            throw new IllegalArgumentException("embed: " + count + " images of " + channels + "x" + imageSize + "x" + imageSize + " need "
                    + count * pixels * Float.BYTES + " bytes of f32, got " + (images == null ? "null" : images.byteSize()));
        }
        if (ws.config.dim() != dim || ws.dtype != t) throw new IllegalArgumentException("embed: workspace of " + ws.config.dim() + " " + ws.dtype + " does not match embeddings of " + dim + " " + t);
        patchRows.address();  // after close: an exception naming the released buffer, before any host staging write
        int[] lengths = new int[count];
        java.util.Arrays.fill(lengths, patches + 1);
        EncoderBatch batch = EncoderBatch.of(lengths);
        ws.setBatch(s, batch);
        // Cut the patches: row (img, py * grid + px), column (ch * p + ky) * p + kx.
        long at = 0;
        for (int img = 0; img < count; img++) {
            for (int py = 0; py < grid; py++) {
                for (int px = 0; px < grid; px++) {
                    for (int ch = 0; ch < channels; ch++) {
                        for (int ky = 0; ky < patchSize; ky++) {
                            long src = img * pixels + ((long) ch * imageSize + py * patchSize + ky) * imageSize + (long) px * patchSize;
                            for (int kx = 0; kx < patchSize; kx++) HalfConvert.put(staging, at++, images.getAtIndex(ValueLayout.JAVA_FLOAT, src + kx), t);
                        }
                    }
                }
            }
        }
        long patchBytes = at * t.bytes(), rows = (long) count * (patches + 1), e = t.bytes();
        rt.copyHostToDevice(s, staging.asSlice(0, patchBytes), patchRows.address(0, patchBytes), patchBytes);
        rt.copyDeviceToDevice(s, prefix.address(0, rows * dim * e), ws.x.address(0, rows * dim * e), rows * dim * e);
        // Image i: C (dim x P, column-major = row-major [P][dim] rows 1..P of its sequence) += W . patches_i.
        rt.gemm(s, new Gemm(true, false, dim, patches, patchLen, 1f, weight.address(), t, patchLen, 0,
                patchRows.address(), t, patchLen, (long) patches * patchLen, 1f,
                ws.x.address((long) dim * e, (rows - 1) * dim * e), t, dim, (long) (patches + 1) * dim, count));
        return batch;
    }

    /** Device bytes held. */
    public long deviceBytes() { return arena.bytes(); }

    @Override
    public void close() { arena.close(); }

    /** {@code t} viewed as [rows][cols] (same data, any leading shape). */
    private static Tensor flat(Tensor t, int rows, int cols) {
        return new Tensor(t.name(), t.dtype(), new long[] {rows, cols}, t.data());
    }

    private static float[] row(Tensor t, int n) {
        float[][] out = new float[1][];
        HalfConvert.forEachRow(flat(t, 1, n), 1, n, (r, f) -> out[0] = f.toArray(ValueLayout.JAVA_FLOAT));
        return out[0];
    }
}
