package io.transfuse.loader.onnx;

import java.util.List;
import java.util.Map;

/**
 * An ONNX NodeProto (onnx.proto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5).
 * Only the attributes Transfuse reads are kept: float (f = 2), int (i = 3), tensor (t = 5) and
 * ints (8), by AttributeProto.name (1).
 */
public record OnnxNode(String opType, String name, List<String> inputs, List<String> outputs, Map<String, Object> attributes) {
    public String input(int i) { return i < inputs.size() ? inputs.get(i) : ""; }

    public String output(int i) { return i < outputs.size() ? outputs.get(i) : ""; }
}
