package io.transfuse.cuda.cudnn;

import io.transfuse.backend.Conv2d;
import io.transfuse.tensor.DType;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.transfuse.cuda.cudnn.CudnnConvGraph.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cuDNN operation graph of a convolution, checked as data without the library: tensor dims and NHWC strides,
 * uids, virtual fp32 intermediates, the conv attributes, the op chain (conv, bias ADD, RELU_FWD) and the links
 * between descriptors. Expected values are written out from the conv's definition and cudnn_graph.h's codes.
 */
class CudnnConvGraphTest {
    private static long[] ints(Descriptor d, int attr) {
        return ((Value.Int64) d.attribute(attr).value()).v();
    }

    private static int enumOf(Descriptor d, int attr) {
        return ((Value.Enum) d.attribute(attr).value()).v();
    }

    private static List<String> refs(Descriptor d, int attr) {
        return ((Value.Refs) d.attribute(attr).value()).labels();
    }

    private static boolean virtual(Descriptor d) {
        return ((Value.Bool) d.attribute(ATTR_TENSOR_IS_VIRTUAL).value()).v();
    }

    @Test
    void resnetBottleneckConvWithBiasAndRelu() {
        Conv2d c = Conv2d.square(2, 56, 56, 256, 128, 3, 2, 1, 1, 1); // -> 28x28
        CudnnConvGraph g = CudnnConvGraph.of(c, DType.F16, true, true);
        Descriptor x = g.descriptor("X"), w = g.descriptor("W"), b = g.descriptor("B"), y = g.descriptor("Y");
        assertArrayEquals(new long[] {2, 256, 56, 56}, ints(x, ATTR_TENSOR_DIMENSIONS));
        assertArrayEquals(new long[] {56 * 56 * 256, 1, 56 * 256, 256}, ints(x, ATTR_TENSOR_STRIDES), "NHWC strides");
        assertArrayEquals(new long[] {128, 256, 3, 3}, ints(w, ATTR_TENSOR_DIMENSIONS));
        assertArrayEquals(new long[] {3 * 3 * 256, 1, 3 * 256, 256}, ints(w, ATTR_TENSOR_STRIDES), "OHWI strides");
        assertArrayEquals(new long[] {1, 128, 1, 1}, ints(b, ATTR_TENSOR_DIMENSIONS));
        assertArrayEquals(new long[] {2, 128, 28, 28}, ints(y, ATTR_TENSOR_DIMENSIONS));
        assertArrayEquals(new long[] {28 * 28 * 128, 1, 28 * 128, 128}, ints(y, ATTR_TENSOR_STRIDES));
        for (Descriptor t : List.of(x, w, b, y)) {
            assertEquals(DATA_HALF, enumOf(t, ATTR_TENSOR_DATA_TYPE), t.label());
            assertEquals(false, virtual(t), t.label());
            assertEquals(TENSOR_DESCRIPTOR, t.type());
            assertArrayEquals(new long[] {16}, ints(t, ATTR_TENSOR_BYTE_ALIGNMENT));
        }
        assertArrayEquals(new long[] {UID_X}, ints(x, ATTR_TENSOR_UNIQUE_ID));
        assertArrayEquals(new long[] {UID_Y}, ints(y, ATTR_TENSOR_UNIQUE_ID));
        for (String v : List.of("convOut", "biasOut")) {
            assertTrue(virtual(g.descriptor(v)), v + " is virtual");
            assertEquals(DATA_FLOAT, enumOf(g.descriptor(v), ATTR_TENSOR_DATA_TYPE), v + " is fp32");
        }
        Descriptor conv = g.descriptor("conv");
        assertEquals(CONVOLUTION_DESCRIPTOR, conv.type());
        assertEquals(DATA_FLOAT, enumOf(conv, ATTR_CONVOLUTION_COMP_TYPE));
        assertEquals(CROSS_CORRELATION, enumOf(conv, ATTR_CONVOLUTION_CONV_MODE), "PyTorch's Conv2d does not flip the kernel");
        assertArrayEquals(new long[] {2, 2}, ints(conv, ATTR_CONVOLUTION_FILTER_STRIDES));
        assertArrayEquals(new long[] {1, 1}, ints(conv, ATTR_CONVOLUTION_PRE_PADDINGS));
        assertArrayEquals(new long[] {1, 1}, ints(conv, ATTR_CONVOLUTION_POST_PADDINGS));
        assertArrayEquals(new long[] {1, 1}, ints(conv, ATTR_CONVOLUTION_DILATIONS));
        // the chain: conv -> convOut -> +B -> biasOut -> relu -> Y
        Descriptor convOp = g.descriptor("convOp"), biasOp = g.descriptor("biasOp"), reluOp = g.descriptor("reluOp");
        assertEquals(List.of("X"), refs(convOp, ATTR_CONV_FWD_X));
        assertEquals(List.of("W"), refs(convOp, ATTR_CONV_FWD_W));
        assertEquals(List.of("convOut"), refs(convOp, ATTR_CONV_FWD_Y));
        assertEquals(List.of("convOut"), refs(biasOp, ATTR_POINTWISE_XDESC));
        assertEquals(List.of("B"), refs(biasOp, ATTR_POINTWISE_BDESC));
        assertEquals(List.of("biasOut"), refs(biasOp, ATTR_POINTWISE_YDESC));
        assertEquals(List.of("biasOut"), refs(reluOp, ATTR_POINTWISE_XDESC));
        assertEquals(List.of("Y"), refs(reluOp, ATTR_POINTWISE_YDESC));
        assertEquals(POINTWISE_ADD, enumOf(g.descriptor("add"), ATTR_POINTWISE_MODE));
        assertEquals(POINTWISE_RELU_FWD, enumOf(g.descriptor("relu"), ATTR_POINTWISE_MODE));
        Descriptor graph = g.descriptors().getLast();
        assertEquals(GRAPH, graph.label());
        assertEquals(List.of("convOp", "biasOp", "reluOp"), refs(graph, ATTR_OPERATIONGRAPH_OPS));
        assertEquals(List.of(UID_X, UID_W, UID_B, UID_Y), g.boundUids());
    }

    @Test
    void everyReferenceNamesAnEarlierDescriptor() {
        for (boolean bias : new boolean[] {false, true})
            for (boolean relu : new boolean[] {false, true}) {
                CudnnConvGraph g = CudnnConvGraph.of(Conv2d.square(1, 9, 9, 4, 8, 1, 1, 0, 1, 1), DType.BF16, bias, relu);
                java.util.Set<String> seen = new java.util.HashSet<>();
                for (Descriptor d : g.descriptors()) {
                    for (Attribute a : d.attributes())
                        if (a.value() instanceof Value.Refs r)
                            for (String l : r.labels()) assertTrue(seen.contains(l), d.label() + " refers to " + l + " before it exists");
                    assertTrue(seen.add(d.label()), "label " + d.label() + " is unique");
                }
            }
    }

    @Test
    void plainConvWritesYDirectlyAndReluAloneSkipsTheBias() {
        Conv2d c = Conv2d.square(1, 8, 8, 8, 8, 3, 1, 1, 1, 1);
        CudnnConvGraph plain = CudnnConvGraph.of(c, DType.F32, false, false);
        assertEquals(List.of("Y"), refs(plain.descriptor("convOp"), ATTR_CONV_FWD_Y));
        assertEquals(List.of("convOp"), refs(plain.descriptors().getLast(), ATTR_OPERATIONGRAPH_OPS));
        assertEquals(List.of(UID_X, UID_W, UID_Y), plain.boundUids());
        assertEquals(DATA_FLOAT, enumOf(plain.descriptor("X"), ATTR_TENSOR_DATA_TYPE));
        assertThrows(IllegalArgumentException.class, () -> plain.descriptor("convOut"));

        CudnnConvGraph relu = CudnnConvGraph.of(c, DType.BF16, false, true);
        assertEquals(List.of("convOp", "reluOp"), refs(relu.descriptors().getLast(), ATTR_OPERATIONGRAPH_OPS));
        assertEquals(List.of("convOut"), refs(relu.descriptor("reluOp"), ATTR_POINTWISE_XDESC));
        assertEquals(DATA_BFLOAT16, enumOf(relu.descriptor("Y"), ATTR_TENSOR_DATA_TYPE));
        assertNull(relu.descriptor("reluOp").attribute(ATTR_POINTWISE_BDESC));
    }

    @Test
    void groupsShowInTheWeightChannelsAndDilationInTheConv() {
        Conv2d depthwise = new Conv2d(1, 10, 12, 6, 12, 3, 3, 1, 2, 2, 1, 2, 1, 6);
        CudnnConvGraph g = CudnnConvGraph.of(depthwise, DType.F16, true, false);
        assertArrayEquals(new long[] {12, 1, 3, 3}, ints(g.descriptor("W"), ATTR_TENSOR_DIMENSIONS), "cuDNN infers 6 groups from C / (C/g)");
        assertArrayEquals(new long[] {2, 1}, ints(g.descriptor("conv"), ATTR_CONVOLUTION_DILATIONS));
        assertArrayEquals(new long[] {1, 2}, ints(g.descriptor("conv"), ATTR_CONVOLUTION_FILTER_STRIDES));
        assertArrayEquals(new long[] {2, 1}, ints(g.descriptor("conv"), ATTR_CONVOLUTION_PRE_PADDINGS));
        assertArrayEquals(new long[] {1, 12, depthwise.outHeight(), depthwise.outWidth()}, ints(g.descriptor("Y"), ATTR_TENSOR_DIMENSIONS));
        assertEquals(List.of("Y"), refs(g.descriptor("biasOp"), ATTR_POINTWISE_YDESC), "bias alone writes Y");
    }

    @Test
    void onlyFloatTypes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CudnnConvGraph.of(Conv2d.square(1, 4, 4, 1, 1, 1, 1, 0, 1, 1), DType.I32, false, false));
        assertTrue(e.getMessage().contains("F32, F16 or BF16"), e.getMessage());
    }
}
