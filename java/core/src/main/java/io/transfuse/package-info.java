/**
 * Transfuse's API: load a model ({@link io.transfuse.Transfuse}) and generate text ({@link io.transfuse.LanguageModel},
 * options built with {@link io.transfuse.GenerateOptions#builder()}, greedy by default), compute embeddings
 * ({@link io.transfuse.EmbeddingModel}) or classify images ({@link io.transfuse.ImageClassifier}). With
 * {@code io.transfuse.engine} (many requests at once) and {@code io.transfuse.chat} (chat templates) this is the
 * whole API: the other packages of the jar are internal and may change without notice.
 */
package io.transfuse;
