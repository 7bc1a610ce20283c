package io.transfuse.quantize;

import io.transfuse.tensor.DType;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The file types of {@code transfuse quantize} and the per-tensor type each gives, following llama.cpp's
 * presets (llama-quant.cpp, llama_tensor_get_type) as users know them:
 * <ul>
 *   <li>vectors (norms, biases: rank 1) stay F32;</li>
 *   <li>the output head ({@code output.weight}, or {@code token_embd.weight} when the embeddings are tied)
 *       is Q6_K, except in Q8_0 files, where it stays Q8_0;</li>
 *   <li>Q4_K_M and Q5_K_M give {@code attn_v} and {@code ffn_down} Q6_K in the layers where llama.cpp's
 *       use_more_bits holds (the first and last eighth of the layers, and every third one between); a fused
 *       {@code attn_qkv} is in llama.cpp's attn_v category (category_is_attn_v), so it follows the attn_v rule.
 *       (llama-quant.cpp still has an older branch giving attn_qkv Q5_K/Q6_K, but the attn_v branch is tested
 *       first and catches it: llama.cpp's own Q4_K_M of phi3-tiny has attn_qkv Q4_K in layer 0 and Q6_K in
 *       layer 1, LlamaCppTensorTypesTest);</li>
 *   <li>everything else is the preset's base type;</li>
 *   <li>a K-quant on rows not divisible by 256 falls back as llama.cpp does: Q4_K to Q5_0, Q5_K to Q5_1,
 *       Q6_K to Q8_0; rows not divisible by 32 then fall back to F16.</li>
 * </ul>
 */
public enum QuantPreset {
    Q8_0(DType.Q8_0),
    Q4_0(DType.Q4_0),
    Q4_K_M(DType.Q4_K),
    Q5_K_M(DType.Q5_K),
    Q6_K(DType.Q6_K);

    private final DType base;

    QuantPreset(DType base) { this.base = base; }

    public DType base() { return base; }

    /** The preset named {@code s} (q8_0, q4_0, q4_k_m, q5_k_m, q6_k; case-insensitive), naming the valid ones on error. */
    public static QuantPreset parse(String s) {
        for (QuantPreset p : values()) if (p.name().equalsIgnoreCase(s)) return p;
        throw new IllegalArgumentException("unknown quantisation type '" + s + "' (valid: "
                + String.join(", ", java.util.Arrays.stream(values()).map(p -> p.name().toLowerCase(Locale.ROOT)).toList()) + ")");
    }

    /** One tensor to plan: its name and shape (outermost first). */
    public record TensorSpec(String name, long[] shape) {}

    private static final Pattern LAYER = Pattern.compile("^blk\\.(\\d+)\\.");

    /** The type of every tensor, in the order given. */
    public Map<String, DType> plan(List<TensorSpec> tensors) {
        Map<String, Integer> layers = new HashMap<>(); // tensor kind -> how many layers have it
        boolean hasOutput = false;
        for (TensorSpec t : tensors) {
            if (t.name.equals("output.weight")) hasOutput = true;
            String kind = kind(t.name);
            if (kind != null) layers.merge(kind, 1, Integer::sum);
        }
        Map<String, DType> plan = new LinkedHashMap<>();
        for (TensorSpec t : tensors) plan.put(t.name, typeOf(t, hasOutput, layers));
        return plan;
    }

    private DType typeOf(TensorSpec t, boolean hasOutput, Map<String, Integer> layers) {
        if (t.shape.length < 2 || !t.name.endsWith(".weight")) return DType.F32;
        DType type = base;
        boolean head = t.name.equals("output.weight") || (!hasOutput && t.name.equals("token_embd.weight"));
        String kind = kind(t.name);
        if (head) {
            if (base != DType.Q8_0) type = DType.Q6_K;
        } else if (kind != null && (this == Q4_K_M || this == Q5_K_M)) {
            int layer = layer(t.name), n = layers.get(kind);
            switch (kind) {
                case "attn_v.weight", "attn_qkv.weight", "ffn_down.weight" -> { if (useMoreBits(layer, n)) type = DType.Q6_K; }
                default -> { }
            }
        }
        return fallback(type, t.shape[t.shape.length - 1]);
    }

    /** llama.cpp's choice for rows of {@code cols} elements that {@code type}'s blocks do not divide. */
    static DType fallback(DType type, long cols) {
        if (cols % type.blockSize() == 0) return type;
        DType f = switch (type) {
            case Q4_K -> DType.Q5_0;
            case Q5_K -> DType.Q5_1;
            case Q6_K -> DType.Q8_0;
            default -> DType.F16;
        };
        return cols % f.blockSize() == 0 ? f : DType.F16;
    }

    /** llama.cpp's use_more_bits(i, n): the first and last eighth of the layers, and every third layer between. */
    static boolean useMoreBits(int i, int n) {
        return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
    }

    /** "attn_v.weight" for "blk.3.attn_v.weight"; null for tensors outside the layers. */
    private static String kind(String name) {
        Matcher m = LAYER.matcher(name);
        return m.find() ? name.substring(m.end()) : null;
    }

    private static int layer(String name) {
        Matcher m = LAYER.matcher(name);
        if (!m.find()) throw new IllegalStateException(name);
        return Integer.parseInt(m.group(1));
    }
}
