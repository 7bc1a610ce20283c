package io.transfuse.cuda.mamba;

import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.model.MambaConfig;

import java.lang.foreign.MemorySegment;

/**
 * The activations of one forward call of up to {@code maxTokens} tokens, planned at load. The
 * residual stream ({@code res}, {@code xb}, {@code delta}) is token-major [n][dModel]; the mixer's
 * activations are channel-major [width][n] (n = the call's token count), the layout the scan and
 * conv kernels take: {@code xz} the in_proj output (x rows, then z rows), {@code u} the conv output,
 * {@code xDbl} the x_proj output (dt_low, B, C rows), {@code dt} the dt_proj output. The scan writes
 * its output over the x half of {@code xz} (x is dead once the conv has read it).
 */
final class MambaWorkspace {
    final DeviceBuffer res, xb, delta, xz, u, xDbl, dt, ones, logits, ids;
    final MemorySegment hostInts, hostLogits;

    MambaWorkspace(DeviceArena a, MambaConfig c, ElemType t, int maxTokens, int vocabRows) {
        long n = maxTokens, e = t.bytes();
        res = a.allocate("residual stream", n * c.dModel() * e);
        xb = a.allocate("normed activations", n * c.dModel() * e);
        delta = a.allocate("block outputs", n * c.dModel() * e);
        xz = a.allocate("in_proj outputs (x, z; then the scan output)", n * 2 * c.dInner() * e);
        u = a.allocate("conv outputs", n * c.dInner() * e);
        xDbl = a.allocate("x_proj outputs (dt_low, B, C)", n * (c.dtRank() + 2L * c.dState()) * e);
        dt = a.allocate("dt_proj outputs", n * c.dInner() * e);
        // A column of ones: bias adds are rank-1 GEMMs (ones x bias) accumulated onto the projection.
        ones = c.useBias() ? a.allocate("ones for bias adds", n * e) : null;
        logits = a.allocate("logits", (long) vocabRows * Float.BYTES);
        ids = a.allocate("token ids", n * Integer.BYTES);
        hostInts = a.allocatePinned(n * Integer.BYTES);
        hostLogits = a.allocatePinned((long) vocabRows * Float.BYTES);
    }
}
