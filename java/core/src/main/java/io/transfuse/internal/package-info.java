/**
 * Not API: the bridge through which the other Transfuse modules reach what the API does not show (the graph of a
 * loaded model, an encoder's tokenizer). Like every package outside {@code io.transfuse}, {@code io.transfuse.engine}
 * and {@code io.transfuse.chat}, it may change without notice.
 */
package io.transfuse.internal;
