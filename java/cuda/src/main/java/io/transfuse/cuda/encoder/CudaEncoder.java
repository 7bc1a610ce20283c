package io.transfuse.cuda.encoder;

import io.transfuse.cuda.llama.HalfConvert;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.cuda.runtime.GpuStream;
import io.transfuse.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * A stack of encoder layers on a GPU runtime with its own device memory: the weights (uploaded
 * once), one workspace planned for {@code maxTokens} tokens in {@code maxBatch} sequences, and the
 * pinned staging buffer of the host-side entry points. What a BERT or ViT model class needs between
 * its (CPU) embeddings and its (CPU) pooling / classifier head:
 * <pre>
 *   try (CudaEncoder enc = new CudaEncoder(rt, "bert-base", config, layerWeights, finalNorm, dtype, 512, 8)) {
 *       enc.forward(hostEmbeddings, EncoderBatch.of(lens), hostOut);   // packed [tokens][dim] f32 in and out
 *   }
 * </pre>
 * The optional final LayerNorm ({@code finalNorm}, {@code finalNormBias}; ViT's {@code layernorm})
 * is applied after the last layer. Not thread-safe. Closing frees every device byte it took.
 */
public final class CudaEncoder implements AutoCloseable {
    private final EncoderConfig c;
    private final ElemType t;
    private final GpuRuntime rt;
    private final GpuStream stream;
    private final DeviceArena arena;
    private final CudaEncoderLayer[] layers;
    private final DeviceBuffer finalNorm, finalNormBias;
    private final EncoderWorkspace ws;
    private final MemorySegment staging;

    /**
     * @param finalNorm     weight of a LayerNorm after the last layer, or null for none (BERT)
     * @param finalNormBias its bias (required with {@code finalNorm})
     */
    public CudaEncoder(GpuRuntime runtime, String name, EncoderConfig config, List<EncoderLayerWeights> layerWeights,
                       Tensor finalNorm, Tensor finalNormBias, ElemType dtype, int maxTokens, int maxBatch) {
        if (layerWeights == null || layerWeights.isEmpty()) throw new IllegalArgumentException(name + ": an encoder needs at least one layer");
        if ((finalNorm == null) != (finalNormBias == null)) throw new IllegalArgumentException(name + ": the final LayerNorm needs both weight and bias");
        this.c = config;
        this.t = dtype;
        this.rt = runtime;
        this.stream = runtime.defaultStream();
        this.arena = new DeviceArena(runtime, "CUDA encoder " + name);
        try {
            ws = new EncoderWorkspace(arena, config, dtype, maxTokens, maxBatch);
            layers = new CudaEncoderLayer[layerWeights.size()];
            for (int l = 0; l < layers.length; l++) {
                layers[l] = CudaEncoderLayer.upload(arena, config, layerWeights.get(l), dtype, name + " layer " + l + " ");
            }
            if (finalNorm != null) {
                checkVector(finalNorm, "final LayerNorm weight");
                checkVector(finalNormBias, "final LayerNorm bias");
                this.finalNorm = CudaEncoderLayer.vector(arena, name + " final LayerNorm weight", dtype, finalNorm, config.dim());
                this.finalNormBias = CudaEncoderLayer.vector(arena, name + " final LayerNorm bias", dtype, finalNormBias, config.dim());
            } else {
                this.finalNorm = this.finalNormBias = null;
            }
            staging = arena.allocatePinned((long) maxTokens * config.dim() * dtype.bytes());
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public EncoderConfig config() { return c; }

    public int layers() { return layers.length; }

    /** Device bytes held (weights, workspace, staging). */
    public long deviceBytes() { return arena.bytes(); }

    /** The workspace, for callers that build the input on the device (write {@link EncoderWorkspace#stream()}). */
    public EncoderWorkspace workspace() { return ws; }

    /**
     * Runs every layer (and the final norm) on {@code in}, packed f32 [batch.tokens()][dim] on the host
     * (sequence b in rows {@code batch.offset(b)} ..), and writes the result to {@code out} in the same
     * layout. {@code out} may be {@code in}.
     */
    public void forward(MemorySegment in, EncoderBatch batch, MemorySegment out) {
        checkHost(out, "output", (long) batch.tokens() * c.dim() * Float.BYTES);  // before any work
        upload(in, batch);
        forwardOnDevice();
        download(batch, out);
    }

    /**
     * Sets {@code batch} on the workspace and copies its packed f32 input {@code in} ([tokens][dim]) to
     * the residual stream, rounded to the dtype.
     */
    public void upload(MemorySegment in, EncoderBatch batch) {
        long need = (long) batch.tokens() * c.dim() * Float.BYTES;
        checkHost(in, "input", need);
        ws.setBatch(stream, batch);
        long count = (long) batch.tokens() * c.dim(), bytes = count * t.bytes();
        for (long i = 0; i < count; i++) HalfConvert.put(staging, i, in.getAtIndex(ValueLayout.JAVA_FLOAT, i), t);
        rt.copyHostToDevice(stream, staging.asSlice(0, bytes), ws.x.address(0, bytes), bytes);
    }

    /** Copies the residual stream's first {@code batch.tokens()} rows to {@code out} as f32 [tokens][dim]. */
    public void download(EncoderBatch batch, MemorySegment out) {
        long count = (long) batch.tokens() * c.dim(), bytes = count * t.bytes();
        checkHost(out, "output", count * Float.BYTES);
        if (batch.tokens() > ws.maxTokens()) throw new IllegalArgumentException(batch.tokens() + " tokens exceed the encoder workspace of " + ws.maxTokens() + " tokens");
        rt.copyDeviceToHost(stream, ws.x.address(0, bytes), staging.asSlice(0, bytes), bytes);
        rt.synchronize(stream);
        for (long i = 0; i < count; i++) out.setAtIndex(ValueLayout.JAVA_FLOAT, i, HalfConvert.get(staging, i, t));
    }

    /**
     * The padded form: {@code in} and {@code out} f32 [lengths.length][maxLen][dim], sequence b's tokens
     * in its first {@code lengths[b]} rows. The rows are packed on the way in (padding never reaches the
     * device, so no attention mask is needed) and unpacked on the way out; padding rows of {@code out}
     * are set to 0.
     */
    public void forwardPadded(MemorySegment in, int[] lengths, int maxLen, MemorySegment out) {
        EncoderBatch b = EncoderBatch.of(lengths);
        if (b.maxLength() > maxLen) throw new IllegalArgumentException("a sequence of length " + b.maxLength() + " does not fit the padded length " + maxLen);
        int dim = c.dim();
        long rowBytes = (long) dim * Float.BYTES, need = (long) lengths.length * maxLen * rowBytes;
        checkHost(in, "padded input", need);
        checkHost(out, "padded output", need);
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment packed = a.allocate((long) b.tokens() * rowBytes, 64);
            for (int s = 0; s < b.size(); s++) {
                MemorySegment.copy(in, (long) s * maxLen * rowBytes, packed, (long) b.offset(s) * rowBytes, b.length(s) * rowBytes);
            }
            forward(packed, b, packed);
            out.asSlice(0, need).fill((byte) 0);
            for (int s = 0; s < b.size(); s++) {
                MemorySegment.copy(packed, (long) b.offset(s) * rowBytes, out, (long) s * maxLen * rowBytes, b.length(s) * rowBytes);
            }
        }
    }

    /**
     * Runs every layer and the final norm in place on the workspace's residual stream, for the batch
     * last set with {@link EncoderWorkspace#setBatch} (the caller wrote its input to {@link EncoderWorkspace#stream()},
     * e.g. with {@link CudaTokenEmbeddings#embed}); {@link #download} reads the result.
     */
    public void forwardOnDevice() {
        for (CudaEncoderLayer l : layers) l.forward(stream, ws);
        if (finalNorm != null) {
            int n = ws.batch().tokens();
            rt.kernels().layernorm(stream, ws.x.address(), 0, ws.x.address(), finalNorm.address(), finalNormBias.address(), n,
                    c.dim(), c.eps(), t);
        }
    }

    private void checkVector(Tensor v, String role) {
        if (v.elementCount() != c.dim()) throw new IllegalArgumentException(role + " " + v.describe() + " should hold " + c.dim() + " values");
    }

    private static void checkHost(MemorySegment s, String what, long bytes) {
        if (s == null) throw new IllegalArgumentException("encoder " + what + " must not be null");
        if (s.byteSize() < bytes) throw new IllegalArgumentException("encoder " + what + " holds " + s.byteSize() + " bytes; the batch needs " + bytes);
    }

    @Override
    public void close() {
        arena.close();
    }
}
