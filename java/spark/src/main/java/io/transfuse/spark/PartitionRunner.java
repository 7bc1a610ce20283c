package io.transfuse.spark;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;

import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The work of one transformer on one partition, sent to the executors: it gets the executor's shared model
 * ({@link #open}) and runs the rows through it in batches ({@link OrderedBatches}), appending the output and
 * error columns to each row in the input's order. Serializable: it holds only settings.
 */
abstract class PartitionRunner implements MapPartitionsFunction<Row, Row> {
    /** The input column's index in the rows. */
    final int inputIndex;
    /** Whether the rows get an error column. */
    final boolean errorColumn;
    /** Whether a bad row fails the task. */
    final boolean strict;

    PartitionRunner(int inputIndex, boolean errorColumn, boolean strict) {
        this.inputIndex = inputIndex;
        this.errorColumn = errorColumn;
        this.strict = strict;
    }

    /**
     * How one partition's rows reach the model: what a row costs, how many go together, how many batches may be in
     * flight, and the call that runs a batch.
     */
    interface Batcher {
        /**
         * Checks one row's input and says what it costs.
         *
         * @param input the input column's value (may be null)
         * @return its cost in tokens (at least 1)
         * @throws BadRow when the row is not to be run, with the reason for its error column
         */
        int cost(Object input) throws BadRow;

        /** Token budget of one batch (a batch has at least one row). */
        int budget();

        /** Rows in one batch at most. */
        int maxRows();

        /** Batches submitted and not yet collected, at most (so the engine sees this partition's next work early). */
        int window();

        /** Runs a batch: one outcome per input, in order (a failed future fails the whole batch). */
        CompletableFuture<List<Outcome>> submit(List<Object> inputs);
    }

    /** A row the model is not asked about, with the reason. */
    static final class BadRow extends Exception {
        BadRow(String message) {
            super(message, null, false, false);
        }
    }

    /** The executor's model for this transformer (loaded on first use in this JVM). */
    abstract Batcher open();

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        if (!rows.hasNext()) return rows; // an empty partition loads no model
        TaskContext task = TaskContext.get();
        int partition = task == null ? -1 : task.partitionId();
        return new OrderedBatches(rows, open(), this, partition);
    }
}
