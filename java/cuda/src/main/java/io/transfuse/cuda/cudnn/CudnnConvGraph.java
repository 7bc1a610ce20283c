package io.transfuse.cuda.cudnn;

import io.transfuse.backend.Conv2d;
import io.transfuse.tensor.DType;

import java.util.ArrayList;
import java.util.List;

/**
 * The cuDNN 9 operation graph of one {@link io.transfuse.backend.Backend#conv2d} call, as plain data: the backend
 * descriptors to create, in dependency order, each with the attributes to set before it is finalised. Building it
 * needs no library, so the tests check every dimension, stride, uid and link without a GPU; {@link CudnnConv2d}
 * replays it through {@code cudnnBackendCreateDescriptor / SetAttribute / Finalize}.
 *
 * <p>The graph: {@code Y = relu(conv(X, W) + B)} as a convolution-forward op, a pointwise ADD with the bias
 * broadcast over [1][C][1][1], and a pointwise RELU_FWD, chained through virtual fp32 tensors (cuDNN fuses them
 * into one kernel); without bias or ReLU those ops are left out. Tensors are described NCHW-by-dimension with
 * NHWC strides (how cuDNN's backend API expresses channels-last), the weight as [K][C/groups][R][S] with OHWI
 * strides (cuDNN infers the group count from X's and W's channel dims). Codes are those of cudnn_graph.h
 * (cuDNN 9): enum values, attribute names and types.
 */
public final class CudnnConvGraph {
    // cudnnBackendDescriptorType_t
    static final int POINTWISE_DESCRIPTOR = 0, CONVOLUTION_DESCRIPTOR = 1, ENGINECFG_DESCRIPTOR = 3, ENGINEHEUR_DESCRIPTOR = 4,
            EXECUTION_PLAN_DESCRIPTOR = 5, OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR = 10, OPERATION_POINTWISE_DESCRIPTOR = 13,
            OPERATIONGRAPH_DESCRIPTOR = 15, VARIANT_PACK_DESCRIPTOR = 16, TENSOR_DESCRIPTOR = 17;
    // cudnnBackendAttributeType_t
    static final int TYPE_HANDLE = 0, TYPE_DATA_TYPE = 1, TYPE_BOOLEAN = 2, TYPE_INT64 = 3, TYPE_FLOAT = 4, TYPE_VOID_PTR = 6,
            TYPE_CONVOLUTION_MODE = 7, TYPE_HEUR_MODE = 8, TYPE_POINTWISE_MODE = 14, TYPE_BACKEND_DESCRIPTOR = 15;
    // cudnnBackendAttributeName_t
    static final int ATTR_POINTWISE_MODE = 0, ATTR_POINTWISE_MATH_PREC = 1,
            ATTR_CONVOLUTION_COMP_TYPE = 100, ATTR_CONVOLUTION_CONV_MODE = 101, ATTR_CONVOLUTION_DILATIONS = 102,
            ATTR_CONVOLUTION_FILTER_STRIDES = 103, ATTR_CONVOLUTION_POST_PADDINGS = 104, ATTR_CONVOLUTION_PRE_PADDINGS = 105,
            ATTR_CONVOLUTION_SPATIAL_DIMS = 106,
            ATTR_ENGINEHEUR_MODE = 200, ATTR_ENGINEHEUR_OPERATION_GRAPH = 201, ATTR_ENGINEHEUR_RESULTS = 202,
            ATTR_EXECUTION_PLAN_HANDLE = 400, ATTR_EXECUTION_PLAN_ENGINE_CONFIG = 401, ATTR_EXECUTION_PLAN_WORKSPACE_SIZE = 402,
            ATTR_CONV_FWD_ALPHA = 700, ATTR_CONV_FWD_BETA = 701, ATTR_CONV_FWD_CONV_DESC = 702, ATTR_CONV_FWD_W = 703,
            ATTR_CONV_FWD_X = 704, ATTR_CONV_FWD_Y = 705,
            ATTR_POINTWISE_PW_DESCRIPTOR = 750, ATTR_POINTWISE_XDESC = 751, ATTR_POINTWISE_BDESC = 752, ATTR_POINTWISE_YDESC = 753,
            ATTR_OPERATIONGRAPH_HANDLE = 800, ATTR_OPERATIONGRAPH_OPS = 801,
            ATTR_TENSOR_BYTE_ALIGNMENT = 900, ATTR_TENSOR_DATA_TYPE = 901, ATTR_TENSOR_DIMENSIONS = 902, ATTR_TENSOR_STRIDES = 903,
            ATTR_TENSOR_UNIQUE_ID = 906, ATTR_TENSOR_IS_VIRTUAL = 907,
            ATTR_VARIANT_PACK_UNIQUE_IDS = 1000, ATTR_VARIANT_PACK_DATA_POINTERS = 1001, ATTR_VARIANT_PACK_WORKSPACE = 1003;
    // cudnnDataType_t, cudnnConvolutionMode_t, cudnnPointwiseMode_t, cudnnBackendHeurMode_t
    static final int DATA_FLOAT = 0, DATA_HALF = 2, DATA_BFLOAT16 = 9, CROSS_CORRELATION = 1, POINTWISE_ADD = 0,
            POINTWISE_RELU_FWD = 100, HEUR_MODE_INSTANT = 0, HEUR_MODE_FALLBACK = 2;

    /** Unique ids of the tensors the caller binds to memory in the variant pack. */
    public static final long UID_X = 1, UID_W = 2, UID_B = 3, UID_Y = 4;
    static final long UID_CONV_OUT = 5, UID_BIAS_OUT = 6;
    /** Byte alignment promised for the real tensors: device allocations are 256-byte aligned; CudnnConv2d checks. */
    public static final long ALIGNMENT = 16;

    /** One attribute value: an array of one cuDNN attribute type. */
    public sealed interface Value {
        /** CUDNN_TYPE_INT64 elements. */
        record Int64(long... v) implements Value {}
        /** An enum-typed value (data type, convolution mode, pointwise mode, heuristic mode): a C int. */
        record Enum(int v) implements Value {}
        /** CUDNN_TYPE_BOOLEAN (a C bool, one byte). */
        record Bool(boolean v) implements Value {}
        /** CUDNN_TYPE_FLOAT. */
        record F32(float v) implements Value {}
        /** CUDNN_TYPE_BACKEND_DESCRIPTOR elements: labels of descriptors earlier in the plan. */
        record Refs(List<String> labels) implements Value {}
        /** CUDNN_TYPE_HANDLE: the cudnnHandle_t the graph is built for. */
        record Handle() implements Value {}
    }

    /** One setAttribute call: {@code name} and {@code type} are cudnn_graph.h's codes. */
    public record Attribute(int name, int type, Value value) {}

    /** One backend descriptor: created with {@code type}, its attributes set in order, then finalised. */
    public record Descriptor(String label, int type, List<Attribute> attributes) {
        /** The attribute called {@code name}, or null. */
        public Attribute attribute(int name) {
            for (Attribute a : attributes) if (a.name() == name) return a;
            return null;
        }
    }

    private final List<Descriptor> descriptors;
    private final List<Long> boundUids;

    private CudnnConvGraph(List<Descriptor> descriptors, List<Long> boundUids) {
        this.descriptors = List.copyOf(descriptors);
        this.boundUids = List.copyOf(boundUids);
    }

    /** Descriptors in creation order; the last is the operation graph. */
    public List<Descriptor> descriptors() { return descriptors; }

    /** The descriptor labelled {@code label}. */
    public Descriptor descriptor(String label) {
        for (Descriptor d : descriptors) if (d.label().equals(label)) return d;
        throw new IllegalArgumentException("no descriptor " + label + " in the conv graph");
    }

    /** The uids the variant pack binds, in order: X, W, then B when there is a bias, then Y. */
    public List<Long> boundUids() { return boundUids; }

    /** The label of the operation graph descriptor. */
    public static final String GRAPH = "graph";

    /**
     * The graph for {@code conv} over tensors of {@code type} (F32, F16 or BF16), with a bias and/or ReLU fused.
     */
    public static CudnnConvGraph of(Conv2d conv, DType type, boolean bias, boolean relu) {
        if (conv == null) throw new IllegalArgumentException("cuDNN conv graph: conv (the geometry) is null");
        int dataType = dataType(type);
        long n = conv.batch(), c = conv.inChannels(), h = conv.height(), w = conv.width(), k = conv.outChannels();
        long cg = c / conv.groups(), r = conv.kernelH(), s = conv.kernelW(), oh = conv.outHeight(), ow = conv.outWidth();
        List<Descriptor> ds = new ArrayList<>();
        List<Long> uids = new ArrayList<>(List.of(UID_X, UID_W));
        ds.add(tensor("X", UID_X, dataType, false, new long[] {n, c, h, w}, new long[] {h * w * c, 1, w * c, c}));
        ds.add(tensor("W", UID_W, dataType, false, new long[] {k, cg, r, s}, new long[] {r * s * cg, 1, s * cg, cg}));
        if (bias) {
            ds.add(tensor("B", UID_B, dataType, false, new long[] {1, k, 1, 1}, new long[] {k, 1, k, k}));
            uids.add(UID_B);
        }
        ds.add(tensor("Y", UID_Y, dataType, false, new long[] {n, k, oh, ow}, new long[] {oh * ow * k, 1, ow * k, k}));
        uids.add(UID_Y);
        long[] outDims = {n, k, oh, ow}, outStrides = {oh * ow * k, 1, ow * k, k};
        // the conv writes Y itself when nothing follows it, else a virtual fp32 tensor the next op reads
        String convOut = bias || relu ? "convOut" : "Y";
        if (bias || relu) ds.add(tensor("convOut", UID_CONV_OUT, DATA_FLOAT, true, outDims, outStrides));
        ds.add(new Descriptor("conv", CONVOLUTION_DESCRIPTOR, List.of(
                new Attribute(ATTR_CONVOLUTION_COMP_TYPE, TYPE_DATA_TYPE, new Value.Enum(DATA_FLOAT)),
                new Attribute(ATTR_CONVOLUTION_CONV_MODE, TYPE_CONVOLUTION_MODE, new Value.Enum(CROSS_CORRELATION)),
                new Attribute(ATTR_CONVOLUTION_SPATIAL_DIMS, TYPE_INT64, new Value.Int64(2)),
                new Attribute(ATTR_CONVOLUTION_DILATIONS, TYPE_INT64, new Value.Int64(conv.dilationH(), conv.dilationW())),
                new Attribute(ATTR_CONVOLUTION_FILTER_STRIDES, TYPE_INT64, new Value.Int64(conv.strideH(), conv.strideW())),
                new Attribute(ATTR_CONVOLUTION_PRE_PADDINGS, TYPE_INT64, new Value.Int64(conv.padH(), conv.padW())),
                new Attribute(ATTR_CONVOLUTION_POST_PADDINGS, TYPE_INT64, new Value.Int64(conv.padH(), conv.padW())))));
        ds.add(new Descriptor("convOp", OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, List.of(
                new Attribute(ATTR_CONV_FWD_ALPHA, TYPE_FLOAT, new Value.F32(1f)),
                new Attribute(ATTR_CONV_FWD_BETA, TYPE_FLOAT, new Value.F32(0f)),
                new Attribute(ATTR_CONV_FWD_CONV_DESC, TYPE_BACKEND_DESCRIPTOR, refs("conv")),
                new Attribute(ATTR_CONV_FWD_W, TYPE_BACKEND_DESCRIPTOR, refs("W")),
                new Attribute(ATTR_CONV_FWD_X, TYPE_BACKEND_DESCRIPTOR, refs("X")),
                new Attribute(ATTR_CONV_FWD_Y, TYPE_BACKEND_DESCRIPTOR, refs(convOut)))));
        List<String> ops = new ArrayList<>(List.of("convOp"));
        String last = convOut;
        if (bias) {
            String out = relu ? "biasOut" : "Y";
            if (relu) ds.add(tensor("biasOut", UID_BIAS_OUT, DATA_FLOAT, true, outDims, outStrides));
            ds.add(pointwiseMode("add", POINTWISE_ADD));
            ds.add(new Descriptor("biasOp", OPERATION_POINTWISE_DESCRIPTOR, List.of(
                    new Attribute(ATTR_POINTWISE_PW_DESCRIPTOR, TYPE_BACKEND_DESCRIPTOR, refs("add")),
                    new Attribute(ATTR_POINTWISE_XDESC, TYPE_BACKEND_DESCRIPTOR, refs(last)),
                    new Attribute(ATTR_POINTWISE_BDESC, TYPE_BACKEND_DESCRIPTOR, refs("B")),
                    new Attribute(ATTR_POINTWISE_YDESC, TYPE_BACKEND_DESCRIPTOR, refs(out)))));
            ops.add("biasOp");
            last = out;
        }
        if (relu) {
            ds.add(pointwiseMode("relu", POINTWISE_RELU_FWD));
            ds.add(new Descriptor("reluOp", OPERATION_POINTWISE_DESCRIPTOR, List.of(
                    new Attribute(ATTR_POINTWISE_PW_DESCRIPTOR, TYPE_BACKEND_DESCRIPTOR, refs("relu")),
                    new Attribute(ATTR_POINTWISE_XDESC, TYPE_BACKEND_DESCRIPTOR, refs(last)),
                    new Attribute(ATTR_POINTWISE_YDESC, TYPE_BACKEND_DESCRIPTOR, refs("Y")))));
            ops.add("reluOp");
        }
        ds.add(new Descriptor(GRAPH, OPERATIONGRAPH_DESCRIPTOR, List.of(
                new Attribute(ATTR_OPERATIONGRAPH_HANDLE, TYPE_HANDLE, new Value.Handle()),
                new Attribute(ATTR_OPERATIONGRAPH_OPS, TYPE_BACKEND_DESCRIPTOR, new Value.Refs(ops)))));
        return new CudnnConvGraph(ds, uids);
    }

    /** cudnnDataType_t of an activation type. */
    static int dataType(DType type) {
        if (type == DType.F32) return DATA_FLOAT;
        if (type == DType.F16) return DATA_HALF;
        if (type == DType.BF16) return DATA_BFLOAT16;
        throw new IllegalArgumentException("cuDNN conv: tensors must be F32, F16 or BF16, not " + type);
    }

    private static Descriptor tensor(String label, long uid, int dataType, boolean virtual, long[] dims, long[] strides) {
        return new Descriptor(label, TENSOR_DESCRIPTOR, List.of(
                new Attribute(ATTR_TENSOR_DATA_TYPE, TYPE_DATA_TYPE, new Value.Enum(dataType)),
                new Attribute(ATTR_TENSOR_DIMENSIONS, TYPE_INT64, new Value.Int64(dims)),
                new Attribute(ATTR_TENSOR_STRIDES, TYPE_INT64, new Value.Int64(strides)),
                new Attribute(ATTR_TENSOR_UNIQUE_ID, TYPE_INT64, new Value.Int64(uid)),
                new Attribute(ATTR_TENSOR_BYTE_ALIGNMENT, TYPE_INT64, new Value.Int64(ALIGNMENT)),
                new Attribute(ATTR_TENSOR_IS_VIRTUAL, TYPE_BOOLEAN, new Value.Bool(virtual))));
    }

    private static Descriptor pointwiseMode(String label, int mode) {
        return new Descriptor(label, POINTWISE_DESCRIPTOR, List.of(
                new Attribute(ATTR_POINTWISE_MODE, TYPE_POINTWISE_MODE, new Value.Enum(mode)),
                new Attribute(ATTR_POINTWISE_MATH_PREC, TYPE_DATA_TYPE, new Value.Enum(DATA_FLOAT))));
    }

    private static Value.Refs refs(String label) { return new Value.Refs(List.of(label)); }
}
