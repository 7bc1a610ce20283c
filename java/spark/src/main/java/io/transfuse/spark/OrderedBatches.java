package io.transfuse.spark;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;

/**
 * A partition's output rows, computed in batches: rows are read ahead into batches of up to
 * {@link PartitionRunner.Batcher#budget()} tokens, up to {@link PartitionRunner.Batcher#window()} batches are
 * submitted at once, and the results come out in the input's order. A bad row is not submitted: it gets null
 * and its reason (or, in strict mode, fails the task). When a whole batch fails, its rows are run one by one
 * so that only the row at fault gets the error.
 */
final class OrderedBatches implements Iterator<Row> {
    /** A read row: its number in the partition, its input, cost, and the outcome known before running (a bad row), if any. */
    private record Pending(Row row, long number, Object input, int cost, Outcome early) {}

    /** Submitted rows and the future of their outcomes (null when every row was bad). */
    private record Batch(List<Pending> rows, CompletableFuture<List<Outcome>> result) {}

    private final Iterator<Row> in;
    private final PartitionRunner.Batcher batcher;
    private final PartitionRunner runner;
    private final int partition;
    private final ArrayDeque<Batch> inFlight = new ArrayDeque<>();
    private final ArrayDeque<Row> ready = new ArrayDeque<>();
    /** Rows read so far (the next row's number within the partition). */
    private long read;
    private Pending carried; // read but did not fit the previous batch

    OrderedBatches(Iterator<Row> in, PartitionRunner.Batcher batcher, PartitionRunner runner, int partition) {
        this.in = in;
        this.batcher = batcher;
        this.runner = runner;
        this.partition = partition;
    }

    @Override
    public boolean hasNext() {
        while (ready.isEmpty()) {
            boolean more = carried != null || in.hasNext();
            if (more && inFlight.size() < batcher.window()) inFlight.add(submit(nextBatch()));
            else if (!inFlight.isEmpty()) collect(inFlight.poll());
            else return false;
        }
        return true;
    }

    @Override
    public Row next() {
        if (!hasNext()) throw new NoSuchElementException();
        return ready.poll();
    }

    private List<Pending> nextBatch() {
        List<Pending> batch = new ArrayList<>();
        long tokens = 0;
        int budget = Math.max(1, batcher.budget());
        while (batch.size() < batcher.maxRows()) {
            Pending p = carried != null ? carried : in.hasNext() ? read(in.next()) : null;
            carried = null;
            if (p == null) break;
            if (p.early() == null && !batch.isEmpty() && tokens + p.cost() > budget) {
                carried = p;
                break;
            }
            batch.add(p);
            if (p.early() == null) tokens += p.cost();
        }
        return batch;
    }

    private Pending read(Row row) {
        long number = read++;
        Object input = row.isNullAt(runner.inputIndex) ? null : row.get(runner.inputIndex);
        try {
            return new Pending(row, number, input, Math.max(1, batcher.cost(input)), null);
        } catch (PartitionRunner.BadRow e) {
            if (runner.strict) throw new IllegalArgumentException(where(number) + e.getMessage());
            return new Pending(row, number, input, 0, Outcome.failed(e.getMessage()));
        }
    }

    private String where(long rowNumber) {
        return "row " + rowNumber + " of partition " + partition + ": ";
    }

    private Batch submit(List<Pending> rows) {
        List<Object> inputs = new ArrayList<>();
        for (Pending p : rows) if (p.early() == null) inputs.add(p.input());
        if (inputs.isEmpty()) return new Batch(rows, null);
        CompletableFuture<List<Outcome>> result;
        try {
            result = batcher.submit(inputs);
        } catch (RuntimeException e) {
            result = CompletableFuture.failedFuture(e);
        }
        return new Batch(rows, result);
    }

    private void collect(Batch b) {
        List<Outcome> outcomes = null;
        if (b.result() != null) {
            try {
                outcomes = b.result().join();
            } catch (RuntimeException e) {
                outcomes = oneByOne(b.rows()); // find the row at fault
            }
        }
        int at = 0;
        for (Pending p : b.rows()) {
            Outcome o = p.early() != null ? p.early() : outcomes.get(at++);
            if (o.error() != null && runner.strict) {
                throw new IllegalArgumentException(where(p.number()) + o.error());
            }
            ready.add(append(p.row(), o));
        }
    }

    private List<Outcome> oneByOne(List<Pending> rows) {
        List<Outcome> out = new ArrayList<>();
        for (Pending p : rows) {
            if (p.early() != null) continue;
            try {
                out.add(batcher.submit(List.of(p.input())).join().getFirst());
            } catch (RuntimeException e) {
                out.add(Outcome.failed(e));
            }
        }
        return out;
    }

    private Row append(Row row, Outcome o) {
        int n = row.length();
        Object[] values = new Object[n + (runner.errorColumn ? 2 : 1)];
        for (int i = 0; i < n; i++) values[i] = row.get(i);
        values[n] = o.value();
        if (runner.errorColumn) values[n + 1] = o.error();
        return RowFactory.create(values);
    }
}
