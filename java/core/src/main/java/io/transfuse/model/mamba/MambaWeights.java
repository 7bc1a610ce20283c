package io.transfuse.model.mamba;

import io.transfuse.loader.ModelFormatException;
import io.transfuse.loader.WeightFile;
import io.transfuse.tensor.Tensor;

import java.util.Arrays;

/**
 * The tensors of a Mamba-1 language model in Hugging Face's MambaForCausalLM layout, checked
 * against its config. Views into the mapped file.
 *
 * @param embedding [vocabRows][dModel], vocabRows >= vocab_size (checkpoints pad it to a multiple of 8)
 * @param head      the output head, [vocabRows][dModel]: lm_head.weight, or the embedding when tied
 */
public record MambaWeights(Tensor embedding, Layer[] layers, Tensor normF, Tensor head) {

    /**
     * One residual block: {@code norm} then the mixer. inProj [2 dInner][dModel] (x rows, then z rows);
     * conv [dInner][1][dConv]; xProj [dtRank + 2 dState][dInner] (delta, B, C rows); dtProj
     * [dInner][dtRank]; aLog [dInner][dState]; outProj [dModel][dInner]. Biases null when absent.
     */
    public record Layer(Tensor norm, Tensor inProj, Tensor inProjBias, Tensor convWeight, Tensor convBias,
                        Tensor xProj, Tensor dtProj, Tensor dtBias, Tensor aLog, Tensor d,
                        Tensor outProj, Tensor outProjBias) {}

    public static final String EMBEDDING = "backbone.embeddings.weight";
    /** The name mamba_ssm's own checkpoints use. */
    public static final String EMBEDDING_MAMBA_SSM = "backbone.embedding.weight";
    public static final String NORM_F = "backbone.norm_f.weight";
    public static final String LM_HEAD = "lm_head.weight";

    /** The name of tensor {@code suffix} of layer {@code l} ("norm.weight", "mixer.in_proj.weight", ...). */
    public static String layerTensor(int l, String suffix) {
        return "backbone.layers." + l + "." + suffix;
    }

    public static MambaWeights from(WeightFile file, MambaConfig c) {
        String embName = !file.tensors().containsKey(EMBEDDING) && file.tensors().containsKey(EMBEDDING_MAMBA_SSM)
                ? EMBEDDING_MAMBA_SSM : EMBEDDING;
        Tensor embedding = file.tensor(embName);
        long rows = embedding.rank() == 2 ? embedding.dim(0) : -1;
        if (rows < c.vocabSize() || rows > Integer.MAX_VALUE) {
            throw new ModelFormatException(file.path() + ": tensor '" + embName + "' has shape " + Arrays.toString(embedding.shape())
                    + " but the model config implies [>= " + c.vocabSize() + " (vocab_size), " + c.dModel() + "]");
        }
        file.tensor(embName, rows, c.dModel());
        Layer[] layers = new Layer[c.layers()];
        int di = c.dInner(), n = c.dState();
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer(
                    file.tensor(layerTensor(l, "norm.weight"), c.dModel()),
                    file.tensor(layerTensor(l, "mixer.in_proj.weight"), 2L * di, c.dModel()),
                    c.useBias() ? file.tensor(layerTensor(l, "mixer.in_proj.bias"), 2L * di) : null,
                    file.tensor(layerTensor(l, "mixer.conv1d.weight"), di, 1, c.dConv()),
                    c.useConvBias() ? file.tensor(layerTensor(l, "mixer.conv1d.bias"), di) : null,
                    file.tensor(layerTensor(l, "mixer.x_proj.weight"), c.dtRank() + 2L * n, di),
                    file.tensor(layerTensor(l, "mixer.dt_proj.weight"), di, c.dtRank()),
                    file.tensor(layerTensor(l, "mixer.dt_proj.bias"), di),
                    file.tensor(layerTensor(l, "mixer.A_log"), di, n),
                    file.tensor(layerTensor(l, "mixer.D"), di),
                    file.tensor(layerTensor(l, "mixer.out_proj.weight"), c.dModel(), di),
                    c.useBias() ? file.tensor(layerTensor(l, "mixer.out_proj.bias"), c.dModel()) : null);
        }
        Tensor normF = file.tensor(NORM_F, c.dModel());
        Tensor head;
        if (file.tensors().containsKey(LM_HEAD)) {
            head = file.tensor(LM_HEAD, rows, c.dModel());
        } else if (c.tiedEmbeddings()) {
            head = embedding;
        } else {
            throw new ModelFormatException(file.path() + ": tensor '" + LM_HEAD + "' is missing (tie_word_embeddings is false)");
        }
        return new MambaWeights(embedding, layers, normF, head);
    }
}
