package io.transfuse.cuda.encoder;

import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.cuda.runtime.GpuStream;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The activations of an encoder forward call, planned for at most {@code maxTokens} tokens in at most
 * {@code maxBatch} sequences and shared by every layer (they run one after another): nothing is
 * allocated per call. {@code x} is the residual stream ([tokens][dim], the layers' input and output);
 * the rest is scratch reused by liveness inside a layer: {@code normed} (pre-LN inputs of the two
 * blocks), {@code qkv} ([3][tokens][heads * D]: Q, K, V one after another), {@code attn}, {@code hidden}
 * (the FFN's [tokens][ffn]) and {@code proj} (each block's output projection before its residual add).
 */
public final class EncoderWorkspace {
    final DeviceBuffer x, normed, qkv, attn, hidden, proj, cuSeqlens;
    private final MemorySegment hostInts;
    private final GpuRuntime rt;
    final EncoderConfig config;
    final ElemType dtype;
    final int maxTokens, maxBatch;
    private EncoderBatch current;

    public EncoderWorkspace(DeviceArena arena, EncoderConfig c, ElemType t, int maxTokens, int maxBatch) {
        if (maxTokens < 1 || maxBatch < 1 || maxBatch > maxTokens) {
            throw new IllegalArgumentException("encoder workspace: max tokens " + maxTokens + " and max batch " + maxBatch
                    + " must be positive, with max batch <= max tokens");
        }
        if (t == ElemType.F32) throw new IllegalArgumentException("encoder activations are f16 or bf16 (the attention kernels), not f32");
        this.rt = arena.runtime();
        this.config = c;
        this.dtype = t;
        this.maxTokens = maxTokens;
        this.maxBatch = maxBatch;
        long n = maxTokens, e = t.bytes(), w = c.paddedWidth();
        x = arena.allocate("encoder residual stream", n * c.dim() * e);
        normed = arena.allocate("encoder normed inputs", n * c.dim() * e);
        qkv = arena.allocate("encoder queries, keys and values", 3 * n * w * e);
        attn = arena.allocate("encoder attention outputs", n * w * e);
        hidden = arena.allocate("encoder FFN activations", n * c.ffn() * e);
        proj = arena.allocate("encoder block outputs", n * c.dim() * e);
        cuSeqlens = arena.allocate("encoder cumulative sequence lengths", (maxBatch + 1L) * Integer.BYTES);
        hostInts = arena.allocatePinned((maxBatch + 1L) * Integer.BYTES);
    }

    GpuRuntime runtime() { return rt; }

    /** The residual stream buffer: write the layer stack's input here, read its output from here. */
    public DeviceBuffer stream() { return x; }

    public int maxTokens() { return maxTokens; }

    public int maxBatch() { return maxBatch; }

    /** Checks that {@code b} fits the plan and uploads its sequence boundaries (before the layers run). */
    public void setBatch(GpuStream s, EncoderBatch b) {
        if (b.tokens() > maxTokens) throw new IllegalArgumentException(b.tokens() + " tokens exceed the encoder workspace of " + maxTokens + " tokens per call");
        if (b.size() > maxBatch) throw new IllegalArgumentException("batch of " + b.size() + " sequences exceeds the planned maximum of " + maxBatch);
        int[] cu = b.cuSeqlens();
        long bytes = (long) cu.length * Integer.BYTES;
        long dst = cuSeqlens.address(0, bytes);  // first: after close this names the released buffer
        MemorySegment.copy(cu, 0, hostInts, ValueLayout.JAVA_INT, 0, cu.length);
        rt.copyHostToDevice(s, hostInts.asSlice(0, bytes), dst, bytes);
        current = b;
    }

    /** The batch whose boundaries are on the device (set by {@link #setBatch}). */
    EncoderBatch batch() {
        if (current == null) throw new IllegalStateException("no batch was set on the encoder workspace (call setBatch first)");
        return current;
    }
}
