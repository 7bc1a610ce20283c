/**
 * Serving many requests at once (API): {@link io.transfuse.engine.Engine} batches generation requests continuously
 * over a paged KV cache with prefix caching, {@link io.transfuse.engine.EmbeddingEngine} joins concurrent embedding
 * calls into packed batches, and {@link io.transfuse.engine.ChatEngine} binds an engine to a chat template for the
 * framework adapters.
 */
package io.transfuse.engine;
