package io.transfuse.model.mamba;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.backend.Backend;
import io.transfuse.loader.Json;
import io.transfuse.loader.ShardedSafetensors;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.DecoderLimits;

import java.net.URISyntaxException;
import java.nio.file.Path;

/**
 * A random-weight Mamba-2 model of the test resources (mamba2/tiny, mamba2/variant) with the logits of the NumPy
 * reference (make_mamba2_fixture.py, which writes both and names its command in reference.json): the prompt, and
 * the logits after each of its positions.
 */
public record Mamba2Fixture(Path dir, int[] prompt, double[][] logits) {

    /** The fixture {@code name} (a folder under the test resources' mamba2/). */
    public static Mamba2Fixture load(String name) {
        Path dir;
        try {
            dir = Path.of(Mamba2Fixture.class.getResource("/mamba2/" + name + "/config.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        JsonNode ref = Json.read(dir.resolve("reference.json"));
        int[] prompt = new int[ref.get("prompt").size()];
        for (int i = 0; i < prompt.length; i++) prompt[i] = ref.get("prompt").get(i).asInt();
        double[][] logits = new double[prompt.length][];
        for (int t = 0; t < prompt.length; t++) {
            JsonNode row = ref.get("logits").get(t);
            logits[t] = new double[row.size()];
            for (int i = 0; i < logits[t].length; i++) logits[t][i] = row.get(i).asDouble();
        }
        return new Mamba2Fixture(dir, prompt, logits);
    }

    /** The graph on {@code backend}, forward passes of at most {@code passTokens} tokens, 4 sequences. */
    public Mamba2Model graph(TrackedArena arena, Backend backend, int passTokens) {
        Mamba2Config c = Mamba2Config.read(dir.resolve("config.json"));
        return new Mamba2Model(c, Mamba2Weights.from(ShardedSafetensors.open(dir, arena), c), backend,
                new DecoderLimits(passTokens, 4, 256, 16));
    }

    /** The largest |difference| between {@code got} and the reference's logits after position {@code t}. */
    public double diff(int t, float[] got) {
        double max = 0;
        for (int i = 0; i < logits[t].length; i++) max = Math.max(max, Math.abs(got[i] - logits[t][i]));
        return max;
    }

    /** The largest |logit| of the reference. */
    public double maxLogit() {
        double max = 0;
        for (double[] row : logits) for (double v : row) max = Math.max(max, Math.abs(v));
        return max;
    }
}
