package io.transfuse.model.mamba;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.WeightFile;
import io.transfuse.tensor.Tensor;

import java.util.Arrays;

/**
 * The tensors of a Mamba-2 language model in Hugging Face's Mamba2ForCausalLM layout, checked against its
 * config. Views into the mapped file.
 *
 * @param embedding [vocabRows][dModel], vocabRows >= vocab_size
 * @param head      the output head, [vocabRows][dModel]: lm_head.weight, or the embedding when tied
 */
public record Mamba2Weights(Tensor embedding, Layer[] layers, Tensor normF, Tensor head) {

    /**
     * One residual block: {@code norm} then the mixer. inProj [2 dInner + 2 groups dState + heads][dModel], rows z,
     * x, B, C, dt in that order; conv [dInner + 2 groups dState][1][dConv] over x, B, C; dtBias, aLog, d [heads];
     * gateNorm [dInner] (the gated RMSNorm); outProj [dModel][dInner]. Biases null when absent.
     */
    public record Layer(Tensor norm, Tensor inProj, Tensor inProjBias, Tensor convWeight, Tensor convBias, Tensor dtBias,
                        Tensor aLog, Tensor d, Tensor gateNorm, Tensor outProj, Tensor outProjBias) {}

    public static Mamba2Weights from(WeightFile file, Mamba2Config c) {
        String embName = MambaWeights.EMBEDDING;
        Tensor embedding = file.tensor(embName);
        long rows = embedding.rank() == 2 ? embedding.dim(0) : -1;
        if (rows < c.vocabSize() || rows > Integer.MAX_VALUE) {
            throw new ModelFormatException(file.path() + ": tensor '" + embName + "' has shape " + Arrays.toString(embedding.shape())
                    + " but the model config implies [>= " + c.vocabSize() + " (vocab_size), " + c.dModel() + "]");
        }
        file.tensor(embName, rows, c.dModel());
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer(
                    file.tensor(MambaWeights.layerTensor(l, "norm.weight"), c.dModel()),
                    file.tensor(MambaWeights.layerTensor(l, "mixer.in_proj.weight"), c.inProjRows(), c.dModel()),
                    c.useBias() ? file.tensor(MambaWeights.layerTensor(l, "mixer.in_proj.bias"), c.inProjRows()) : null,
                    file.tensor(MambaWeights.layerTensor(l, "mixer.conv1d.weight"), c.convDim(), 1, c.dConv()),
                    c.useConvBias() ? file.tensor(MambaWeights.layerTensor(l, "mixer.conv1d.bias"), c.convDim()) : null,
                    file.tensor(MambaWeights.layerTensor(l, "mixer.dt_bias"), c.heads()),
                    file.tensor(MambaWeights.layerTensor(l, "mixer.A_log"), c.heads()),
                    file.tensor(MambaWeights.layerTensor(l, "mixer.D"), c.heads()),
                    file.tensor(MambaWeights.layerTensor(l, "mixer.norm.weight"), c.dInner()),
                    file.tensor(MambaWeights.layerTensor(l, "mixer.out_proj.weight"), c.dModel(), c.dInner()),
                    c.useBias() ? file.tensor(MambaWeights.layerTensor(l, "mixer.out_proj.bias"), c.dModel()) : null);
        }
        Tensor normF = file.tensor(MambaWeights.NORM_F, c.dModel());
        Tensor head;
        if (file.tensors().containsKey(MambaWeights.LM_HEAD)) {
            head = file.tensor(MambaWeights.LM_HEAD, rows, c.dModel());
        } else if (c.tiedEmbeddings()) {
            head = embedding;
        } else {
            throw new ModelFormatException(file.path() + ": tensor '" + MambaWeights.LM_HEAD + "' is missing (tie_word_embeddings is false)");
        }
        return new Mamba2Weights(embedding, layers, normF, head);
    }
}
