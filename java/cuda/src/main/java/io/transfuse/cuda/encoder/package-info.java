/**
 * Transformer encoders (BERT-family text encoders, ViT image encoders) on a GPU runtime (cuda or
 * cuda-emu). A model class needs four things from here:
 * <ol>
 *   <li>{@link io.transfuse.cuda.encoder.EncoderConfig}: the layer shape and the LayerNorm
 *       {@link io.transfuse.cuda.encoder.EncoderConvention} (POST_LN for BERT, PRE_LN for ViT);</li>
 *   <li>{@link io.transfuse.cuda.encoder.EncoderLayerWeights}: each layer's host tensors (the
 *       checkpoint's, any dtype the CPU backend widens);</li>
 *   <li>{@link io.transfuse.cuda.encoder.CudaEncoder}: uploads the stack once, plans one workspace,
 *       runs it on a packed batch ({@link io.transfuse.cuda.encoder.EncoderBatch}; padded batches via
 *       {@code forwardPadded});</li>
 *   <li>optionally the device-side inputs: {@link io.transfuse.cuda.encoder.CudaTokenEmbeddings}
 *       (word + position + token type, LayerNorm) or {@link io.transfuse.cuda.encoder.CudaPatchEmbeddings}
 *       (CLS + patch projection + positions), written straight into the encoder's residual stream.</li>
 * </ol>
 * One layer is {@link io.transfuse.cuda.encoder.CudaEncoderLayer}: GEMMs through the runtime
 * (cuBLAS semantics), tf_bias_act epilogues, varlen bidirectional flash attention and tf_layernorm.
 * Pooling and classifier heads stay with the model (on the CPU: they are small).
 * {@link io.transfuse.cuda.encoder.CudaBertModel} and {@link io.transfuse.cuda.encoder.CudaViTModel}
 * are the model classes built this way (core's EncoderGraph / ClassifierGraph, served by
 * {@link io.transfuse.cuda.CudaDecoderProvider}).
 */
package io.transfuse.cuda.encoder;
