package io.transfuse.spark;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The models loaded in this JVM (a Spark executor, or the driver in local mode), one per {@link ModelKey}:
 * loaded by the first task that needs it, shared by every later and concurrent task (their requests meet in
 * the model's engine, which batches them), and closed when the JVM shuts down. A failed load is not kept:
 * the next task tries again (and Spark's task retries report the error).
 */
public final class ExecutorModels {
    private ExecutorModels() {}

    /** One model's slot: the first caller loads, the others wait for it. */
    private static final class Slot {
        private AutoCloseable value;

        synchronized <T extends AutoCloseable> T get(ModelKey key, Supplier<T> load) {
            if (value == null) {
                value = load.get();
                LOADS.incrementAndGet();
                LOADS_BY_KEY.computeIfAbsent(key, k -> new AtomicLong()).incrementAndGet();
            }
            @SuppressWarnings("unchecked") T t = (T) value;
            return t;
        }

        synchronized void close() throws Exception {
            if (value != null) value.close();
            value = null;
        }
    }

    private static final Map<ModelKey, Slot> SLOTS = new ConcurrentHashMap<>();
    private static final AtomicLong LOADS = new AtomicLong();
    private static final Map<ModelKey, AtomicLong> LOADS_BY_KEY = new ConcurrentHashMap<>();

    static {
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("transfuse-spark-close").unstarted(ExecutorModels::closeAll));
    }

    /** The model for {@code key}, loaded with {@code load} if this JVM has none yet. */
    static <T extends AutoCloseable> T get(ModelKey key, Supplier<T> load) {
        return SLOTS.computeIfAbsent(key, k -> new Slot()).get(key, load);
    }

    /**
     * Models loaded in this JVM so far (every load counts, also one after {@link #closeAll}).
     *
     * @return the number of loads
     */
    public static long loads() { return LOADS.get(); }

    /** Loads of the model for {@code key} in this JVM so far. */
    static long loads(ModelKey key) {
        AtomicLong n = LOADS_BY_KEY.get(key);
        return n == null ? 0 : n.get();
    }

    /**
     * Closes every model this JVM holds (the shutdown hook does it at exit); a later task loads its model again.
     * Call it only when no transform is running in this JVM.
     */
    public static void closeAll() {
        for (Map.Entry<ModelKey, Slot> e : SLOTS.entrySet()) {
            try {
                e.getValue().close();
            } catch (Exception ex) {
                System.err.println("transfuse-spark: closing " + e.getKey() + " failed: " + ex);
            }
        }
        SLOTS.clear();
    }
}
