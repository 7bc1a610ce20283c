package io.transfuse.model;

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
        shaped(file, embName, rows, c.dModel());
        Layer[] layers = new Layer[c.layers()];
        int di = c.dInner(), n = c.dState();
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer(
                    shaped(file, layerTensor(l, "norm.weight"), c.dModel()),
                    shaped(file, layerTensor(l, "mixer.in_proj.weight"), 2L * di, c.dModel()),
                    c.useBias() ? shaped(file, layerTensor(l, "mixer.in_proj.bias"), 2L * di) : null,
                    shaped(file, layerTensor(l, "mixer.conv1d.weight"), di, 1, c.dConv()),
                    c.useConvBias() ? shaped(file, layerTensor(l, "mixer.conv1d.bias"), di) : null,
                    shaped(file, layerTensor(l, "mixer.x_proj.weight"), c.dtRank() + 2L * n, di),
                    shaped(file, layerTensor(l, "mixer.dt_proj.weight"), di, c.dtRank()),
                    shaped(file, layerTensor(l, "mixer.dt_proj.bias"), di),
                    shaped(file, layerTensor(l, "mixer.A_log"), di, n),
                    shaped(file, layerTensor(l, "mixer.D"), di),
                    shaped(file, layerTensor(l, "mixer.out_proj.weight"), c.dModel(), di),
                    c.useBias() ? shaped(file, layerTensor(l, "mixer.out_proj.bias"), c.dModel()) : null);
        }
        Tensor normF = shaped(file, NORM_F, c.dModel());
        Tensor head;
        if (file.tensors().containsKey(LM_HEAD)) {
            head = shaped(file, LM_HEAD, rows, c.dModel());
        } else if (c.tiedEmbeddings()) {
            head = embedding;
        } else {
            throw new ModelFormatException(file.path() + ": tensor '" + LM_HEAD + "' is missing (tie_word_embeddings is false)");
        }
        return new MambaWeights(embedding, layers, normF, head);
    }

    private static Tensor shaped(WeightFile file, String name, long... expected) {
        Tensor t = file.tensor(name);
        if (!Arrays.equals(t.shape(), expected)) {
            throw new ModelFormatException(file.path() + ": tensor '" + name + "' has shape " + Arrays.toString(t.shape())
                    + " but the model config implies " + Arrays.toString(expected));
        }
        return t;
    }
}
