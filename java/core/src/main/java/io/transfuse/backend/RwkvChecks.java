package io.transfuse.backend;

import io.transfuse.tensor.DType;
import io.transfuse.tensor.Tensor;

/**
 * Argument checks of the RWKV ops of {@link Backend} (token shift, token mix, pointwise, WKV-6/7), shared by every
 * backend so that a bad call is an {@link IllegalArgumentException} naming the argument before any native call.
 */
public final class RwkvChecks {
    /**
     * Largest head size the WKV ops take on every backend: the CUDA kernels keep a head's state row per thread in
     * registers, and RWKV-7's spills beyond 64 (rwkv.cuh). Every released RWKV-6/7 model has heads of 64.
     */
    public static final int MAX_HEAD_SIZE = 64;

    private RwkvChecks() {}

    /** out, x contiguous [n][dim]; state a contiguous vector of dim. */
    public static void tokenShift(String op, Tensor out, Tensor x, Tensor state) {
        OpChecks.sameShape(op, out, x);
        OpChecks.contiguous(op, out, x);
        OpChecks.vector(op, "state", state, x.cols(), false);
    }

    /** out, x, sx contiguous [n][dim]; mix [n][dim] or [1][dim]; mixBias a vector of dim or null. */
    public static void tokenMix(String op, Tensor out, Tensor x, Tensor sx, Tensor mix, Tensor mixBias) {
        OpChecks.sameShape(op, out, x, sx);
        OpChecks.contiguous(op, out, x, sx, mix);
        if (mix == null) throw new IllegalArgumentException(op + ": mix is null");
        if (mix.cols() != x.cols() || (mix.rows() != 1 && mix.rows() != x.rows())) {
            throw new IllegalArgumentException(op + ": mix " + mix.describe() + " must be [" + x.rows() + " or 1][" + x.cols() + "]");
        }
        OpChecks.vector(op, "mixBias", mixBias, x.cols(), true);
    }

    /** x contiguous, fn given. */
    public static void pointwise(String op, Tensor x, Pointwise fn) {
        if (x == null || fn == null) throw new IllegalArgumentException(op + ": " + (x == null ? "x" : "fn") + " is null");
        OpChecks.contiguous(op, x);
    }

    /** The head size (state's cols) of a WKV op, checked against the state and the [n][heads * S] inputs. */
    public static int wkv(String op, Tensor out, Tensor state, Tensor lnWeight, Tensor lnBias, Tensor... perToken) {
        if (state == null) throw new IllegalArgumentException(op + ": state is null");
        long s = state.cols(), dim = out.cols();
        if (s <= 0 || s > MAX_HEAD_SIZE || dim % s != 0) {
            throw new IllegalArgumentException(op + ": head size " + s + " (state " + state.describe() + "'s columns) must be in [1, "
                    + MAX_HEAD_SIZE + "] and divide the width " + dim + " of out " + out.describe());
        }
        if (state.dtype() != DType.F32) throw new IllegalArgumentException(op + ": state " + state.describe() + " must be F32");
        OpChecks.width(op, "state", state, dim, s);
        OpChecks.sameShape(op, out, perToken);
        for (Tensor t : perToken) {
            if (t == null) throw new IllegalArgumentException(op + ": a per-token input is null (out " + out.describe() + ")");
        }
        OpChecks.contiguous(op, out, state);
        OpChecks.contiguous(op, perToken);
        OpChecks.vector(op, "lnWeight", lnWeight, dim, false);
        OpChecks.vector(op, "lnBias", lnBias, dim, false);
        return (int) s;
    }

    /** wkv6's u: [heads][S], F32. */
    public static void wkv6(String op, Tensor out, Tensor state, Tensor r, Tensor k, Tensor v, Tensor w, Tensor u, Tensor lnWeight,
                            Tensor lnBias) {
        wkv(op, out, state, lnWeight, lnBias, r, k, v, w);
        OpChecks.vector(op, "u", u, out.cols(), false);
        if (u.dtype() != DType.F32) throw new IllegalArgumentException(op + ": u " + u.describe() + " must be F32");
    }

    /** wkv7's per-token inputs, the value residual given in full or not at all, the per-channel vectors. */
    public static void wkv7(String op, Tensor out, Tensor state, Tensor r, Tensor w, Tensor k, Tensor v, Tensor a, Tensor vFirst,
                            Tensor vMix, Tensor kK, Tensor kA, Tensor rK, Tensor lnWeight, Tensor lnBias) {
        if ((vFirst == null) != (vMix == null)) {
            throw new IllegalArgumentException(op + ": vFirst and vMix must both be given or both be null (layer 0)");
        }
        if (vFirst != null) wkv(op, out, state, lnWeight, lnBias, r, w, k, v, a, vFirst, vMix);
        else wkv(op, out, state, lnWeight, lnBias, r, w, k, v, a);
        OpChecks.vector(op, "kK", kK, out.cols(), false);
        OpChecks.vector(op, "kA", kA, out.cols(), false);
        OpChecks.vector(op, "rK", rK, out.cols(), false);
    }
}
