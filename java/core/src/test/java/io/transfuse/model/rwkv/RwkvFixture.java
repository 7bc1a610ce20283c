package io.transfuse.model.rwkv;

import com.fasterxml.jackson.databind.JsonNode;
import io.transfuse.backend.Backend;
import io.transfuse.loader.GgufFile;
import io.transfuse.loader.Json;
import io.transfuse.loader.RandomRwkvModel;
import io.transfuse.memory.TrackedArena;
import io.transfuse.model.DecoderLimits;
import io.transfuse.tensor.DType;

import java.net.URISyntaxException;
import java.nio.file.Path;

/**
 * llama.cpp's outputs on a random-weight RWKV model (test resources rwkv/rwkvN-tiny.json, made by
 * make_rwkv_fixtures.mjs from the GGUF that {@link RandomRwkvModel} writes for the preset, seed 1, F32; the README
 * there has the command): the texts, llama.cpp's token ids for each, and its logits after every position of text 0.
 * The test writes the same model again ({@link #writeModel}) and runs it.
 */
public record RwkvFixture(String preset, RandomRwkvModel.Shape shape, String[] texts, int[][] tokens, double[][] logits) {

    /** The fixture of preset "rwkv6-tiny" or "rwkv7-tiny". */
    public static RwkvFixture load(String preset) {
        JsonNode ref;
        try {
            ref = Json.read(Path.of(RwkvFixture.class.getResource("/rwkv/" + preset + ".json").toURI()));
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        String[] texts = new String[ref.get("texts").size()];
        int[][] tokens = new int[texts.length][];
        for (int i = 0; i < texts.length; i++) {
            texts[i] = ref.get("texts").get(i).asText();
            JsonNode ids = ref.get("tokens").get(i);
            tokens[i] = new int[ids.size()];
            for (int j = 0; j < tokens[i].length; j++) tokens[i][j] = ids.get(j).asInt();
        }
        double[][] logits = new double[ref.get("logits").size()][];
        for (int t = 0; t < logits.length; t++) {
            JsonNode row = ref.get("logits").get(t);
            logits[t] = new double[row.size()];
            for (int i = 0; i < logits[t].length; i++) logits[t][i] = row.get(i).asDouble();
        }
        return new RwkvFixture(preset, RandomRwkvModel.Shape.preset(preset), texts, tokens, logits);
    }

    /** The prompt of the logits: llama.cpp's tokens of text 0. */
    public int[] prompt() { return tokens[0]; }

    /** Writes the fixture's model (the preset, seed 1, F32) into {@code dir}. */
    public Path writeModel(Path dir) {
        Path file = dir.resolve(preset + ".gguf");
        if (!file.toFile().exists()) RandomRwkvModel.writeGguf(file, shape, DType.F32, 1, msg -> { });
        return file;
    }

    /** The graph of the model at {@code file} on {@code backend}, passes of at most {@code passTokens} tokens, 4 sequences. */
    public static RwkvModel graph(Path file, TrackedArena arena, Backend backend, int passTokens) {
        GgufFile gguf = GgufFile.open(file, arena);
        RwkvConfig c = RwkvConfig.read(gguf, (int) gguf.tensor("token_embd.weight").dim(0));
        return new RwkvModel(c, RwkvWeights.from(gguf, c, arena), backend, new DecoderLimits(passTokens, 4, 256, 16));
    }

    /** The largest |difference| between {@code got} and llama.cpp's logits after position {@code t}. */
    public double diff(int t, float[] got) {
        double max = 0;
        for (int i = 0; i < logits[t].length; i++) max = Math.max(max, Math.abs(got[i] - logits[t][i]));
        return max;
    }

    public double maxLogit() {
        double max = 0;
        for (double[] row : logits) for (double v : row) max = Math.max(max, Math.abs(v));
        return max;
    }
}
