package io.transfuse.model.llama;

import io.transfuse.backend.RopeLayout;
import io.transfuse.loader.ModelFormatException;

/**
 * Hyper-parameters of a Llama-family decoder, whichever file they came from.
 *
 * @param source       the file or directory they were read from, named in errors
 * @param ropeLayout   how rotary pairs are laid out in the Q/K weights of this source
 */
public record LlamaConfig(
        String source,
        int dim,
        int layers,
        int heads,
        int kvHeads,
        int hiddenDim,
        int vocabSize,
        int contextLength,
        float rmsEps,
        float ropeTheta,
        RopeLayout ropeLayout,
        int bosId,
        int eosId) {

    public LlamaConfig {
        ModelFormatException.requirePositive(source, "hidden size (dim)", dim);
        ModelFormatException.requirePositive(source, "number of layers", layers);
        ModelFormatException.requirePositive(source, "number of attention heads", heads);
        ModelFormatException.requirePositive(source, "number of key/value heads", kvHeads);
        ModelFormatException.requirePositive(source, "FFN hidden size", hiddenDim);
        ModelFormatException.requirePositive(source, "vocabulary size", vocabSize);
        ModelFormatException.requirePositive(source, "context length", contextLength);
        if (dim % heads != 0) throw new ModelFormatException(source + ": hidden size " + dim + " is not divisible by " + heads + " heads");
        if (heads % kvHeads != 0) throw new ModelFormatException(source + ": " + heads + " heads are not divisible by " + kvHeads + " key/value heads");
        if ((dim / heads) % 2 != 0) throw new ModelFormatException(source + ": head size " + dim / heads + " is odd; RoPE needs pairs");
        if (!(rmsEps > 0) || !(ropeTheta > 0)) throw new ModelFormatException(source + ": rms_norm_eps and rope_theta must be positive");
    }

    public int headDim() { return dim / heads; }

    public int kvDim() { return kvHeads * headDim(); }

    /** Rotary inverse frequencies theta^(-2i/d), i < headDim/2 (the unscaled Llama table). */
    public float[] ropeInverseFrequencies() {
        int half = headDim() / 2;
        float[] f = new float[half];
        for (int i = 0; i < half; i++) f[i] = (float) (1.0 / Math.pow(ropeTheta, (2.0 * i) / headDim()));
        return f;
    }
}
