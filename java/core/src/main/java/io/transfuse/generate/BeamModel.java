package io.transfuse.generate;

/**
 * A decoder that {@link BeamSearch} and {@link GreedySearch} drive one token at a time over a set of
 * <em>rows</em>: each row is one sequence with its own cache (KV cache, recurrent state), and every call
 * returns the logits after the last token of each row it leaves.
 *
 * <h2>Contract</h2>
 * <ol>
 *   <li>{@link #start(int[][])} is called once. Row {@code i} is input {@code i}'s sequence: its prompt
 *       ({@code prompts[i]}) is run and the logits after its last token are returned as element {@code i}.
 *       For a decoder-only model the prompt is the prompt's tokens; for an encoder-decoder model it is the
 *       decoder's start ({@code [decoder_start_token_id]}), and input {@code i}'s encoder output, which the
 *       model was given beforehand, is the one row {@code i} and every row descended from it attend to.</li>
 *   <li>{@link #step(int[], int[])} is then called until the search ends. The rows of the previous call
 *       (start or step) are replaced by {@code parentRows.length} new rows: new row {@code j} is previous row
 *       {@code parentRows[j]}'s sequence with {@code tokens[j]} appended, and element {@code j} of the result
 *       is the logits after that token. All new rows are formed from the previous rows as they were: as if
 *       each new row first copied its parent's cache, then appended its token.
 *       <ul>
 *         <li>Several new rows may name the same parent (a beam forks). A paged-KV decoder implements this by
 *             copying the parent's block table: the full blocks are shared (one more holder each, as
 *             {@link io.transfuse.model.BlockPool} already counts holders for prefix caching) and only the
 *             partly filled last block is copied (or copied on the first write), so a fork costs one block. A
 *             recurrent state (Mamba, RWKV) is copied whole.</li>
 *         <li>A previous row that no new row names is finished with: its cache (its blocks' references) can be
 *             released.</li>
 *         <li>The rows descended from one input stay together and inputs keep their order: new rows of
 *             input {@code a} come before those of input {@code b > a}. An input whose search has ended has no
 *             rows any more, so the number of rows changes between calls; the input a row belongs to is its
 *             parent's.</li>
 *         <li>{@code parentRows} and {@code tokens} have the same length, at least 1; each parent is in
 *             {@code [0, rows of the previous call)}; the new row's position is its parent's length.</li>
 *       </ul></li>
 *   <li>{@link #close()} is called once when the search ends, normally or by an exception (also one thrown
 *       before {@code start}, for a refused config or prompt): every row's cache can be released.</li>
 * </ol>
 * The logits are read before the next call, so the model may reuse the arrays it returns. Each row's array has
 * the vocabulary's length (the model's output rows), the same for every row and call.
 */
public interface BeamModel extends AutoCloseable {
    /** Runs each prompt as row {@code i}; the logits after each prompt's last token, one array per row. */
    float[][] start(int[][] prompts);

    /** Replaces the rows: new row {@code j} is row {@code parentRows[j]} plus {@code tokens[j]}; its logits. */
    float[][] step(int[] parentRows, int[] tokens);

    /** Releases every row's cache; called once when the search ends (also after an exception, even before start). */
    @Override
    default void close() {}
}
