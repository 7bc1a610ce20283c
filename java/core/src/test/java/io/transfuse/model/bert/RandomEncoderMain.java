package io.transfuse.model.bert;

import io.transfuse.tensor.DType;

import java.nio.file.Path;

/**
 * Writes a random-weight BERT variant of a given shape, for benchmarks ({@code transfuse bench --model DIR}):
 * <pre>
 *   java -cp CLASSPATH io.transfuse.model.bert.RandomEncoderMain VARIANT DIR HIDDEN LAYERS HEADS INTERMEDIATE EMBEDDING GROUPS
 * </pre>
 * e.g. {@code DISTILBERT build/distilbert-base 768 6 12 3072 768 6} (distilbert-base-uncased's shape),
 * {@code ALBERT build/albert-base 768 12 12 3072 128 1}, {@code ELECTRA build/electra-small 256 12 4 1024 128 12}.
 */
public final class RandomEncoderMain {
    private RandomEncoderMain() {}

    public static void main(String[] a) {
        RandomEncoder.Variant v = RandomEncoder.Variant.valueOf(a[0]);
        int hidden = Integer.parseInt(a[2]), layers = Integer.parseInt(a[3]), heads = Integer.parseInt(a[4]),
                inter = Integer.parseInt(a[5]), emb = Integer.parseInt(a[6]), groups = Integer.parseInt(a[7]);
        new RandomEncoder(v, hidden, layers, heads, inter, 514, emb, groups, v == RandomEncoder.Variant.ALBERT ? "gelu_new" : "gelu")
                .write(Path.of(a[1]), 1, DType.F32);
    }
}
