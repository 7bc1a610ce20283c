package io.transfuse.cuda;

import io.transfuse.Device;
import io.transfuse.LoadOptions;
import io.transfuse.TransfuseException;
import io.transfuse.backend.DecoderProvider;
import io.transfuse.cuda.encoder.CudaBertModel;
import io.transfuse.cuda.encoder.CudaViTModel;
import io.transfuse.cuda.jcuda.GpuProbe;
import io.transfuse.cuda.jcuda.JCudaRuntime;
import io.transfuse.cuda.llama.CudaLlamaModel;
import io.transfuse.cuda.llama.CudaOptions;
import io.transfuse.cuda.mamba.CudaMambaModel;
import io.transfuse.cuda.runtime.ElemType;
import io.transfuse.cuda.runtime.EmulatedRuntime;
import io.transfuse.cuda.runtime.GpuRuntime;
import io.transfuse.model.Decoder;
import io.transfuse.model.LlamaConfig;
import io.transfuse.model.LlamaWeights;
import io.transfuse.model.MambaConfig;
import io.transfuse.model.MambaModel;
import io.transfuse.model.MambaWeights;
import io.transfuse.model.bert.BertConfig;
import io.transfuse.model.bert.BertWeights;
import io.transfuse.model.bert.EncoderGraph;
import io.transfuse.model.vit.ClassifierGraph;
import io.transfuse.model.vit.ViTModel;

/**
 * Serves {@code cuda} (a GPU through JCuda) and {@code cuda-emu} (the host emulator) to
 * {@link io.transfuse.Transfuse#load}; registered in META-INF/services. A GPU is detected through
 * Panama before any JCuda class is touched.
 */
public final class CudaDecoderProvider implements DecoderProvider {
    /** Tokens one Mamba prefill pass takes (the rest of a longer prompt runs through the decode step). */
    static final int MAMBA_PREFILL_TOKENS = 1024;

    @Override
    public boolean supports(Device device) {
        return device == Device.CUDA || device == Device.CUDA_EMU;
    }

    @Override
    public boolean available(Device device) {
        return device == Device.CUDA_EMU || (device == Device.CUDA && GpuProbe.present());
    }

    @Override
    public void requireAvailable(Device device) {
        if (device == Device.CUDA && !GpuProbe.present()) throw new TransfuseException(GpuProbe.absenceReason());
        if (!supports(device)) throw new TransfuseException("the CUDA backend does not serve device " + device.cliName());
    }

    @Override
    public Decoder llama(Device device, LlamaConfig config, LlamaWeights weights, LoadOptions options) {
        requireAvailable(device);
        GpuRuntime rt = device == Device.CUDA ? new JCudaRuntime(0) : new EmulatedRuntime();
        try {
            int context = options.contextLength() == 0 ? config.contextLength() : Math.min(options.contextLength(), config.contextLength());
            return new CudaLlamaModel(config, weights, rt, CudaOptions.defaults(), context).owningRuntime();
        } catch (RuntimeException e) {
            rt.close();
            throw e;
        }
    }

    @Override
    public Decoder mamba(Device device, MambaConfig config, MambaWeights weights, LoadOptions options) {
        requireAvailable(device);
        GpuRuntime rt = device == Device.CUDA ? new JCudaRuntime(0) : new EmulatedRuntime();
        try {
            int context = options.contextLength() == 0 ? MambaModel.DEFAULT_CONTEXT : options.contextLength();
            // A Mamba token's activations are small (no attention, no KV cache: about 20 KB at mamba-130m's
            // width), so prefill takes longer prompts in one pass than Llama's default workspace does.
            CudaOptions d = CudaOptions.defaults();
            CudaOptions o = new CudaOptions(d.dtype(), MAMBA_PREFILL_TOKENS, d.maxBatch(), d.maxSequences(), d.blockSize());
            return new CudaMambaModel(config, weights, rt, o, context).owningRuntime();
        } catch (RuntimeException e) {
            rt.close();
            throw e;
        }
    }

    /** Encoders run in fp16 (fp32 accumulation): BERT and ViT activations stay well inside its range after each LayerNorm. */
    @Override
    public EncoderGraph bert(Device device, BertConfig config, BertWeights weights, int maxTokens, LoadOptions options) {
        requireAvailable(device);
        GpuRuntime rt = device == Device.CUDA ? new JCudaRuntime(0) : new EmulatedRuntime();
        try {
            return new CudaBertModel(rt, config, weights, ElemType.F16, maxTokens).owningRuntime();
        } catch (RuntimeException e) {
            rt.close();
            throw e;
        }
    }

    @Override
    public ClassifierGraph vit(Device device, ViTModel host, LoadOptions options) {
        requireAvailable(device);
        GpuRuntime rt = device == Device.CUDA ? new JCudaRuntime(0) : new EmulatedRuntime();
        try {
            return new CudaViTModel(rt, host, ElemType.F16).owningRuntime();
        } catch (RuntimeException e) {
            rt.close();
            throw e;
        }
    }
}
