package io.transfuse.cuda.cudnn;

import io.transfuse.backend.Conv2d;
import io.transfuse.backend.NativeLibrary;
import io.transfuse.cuda.memory.DeviceArena;
import io.transfuse.cuda.memory.DeviceBuffer;
import io.transfuse.tensor.DType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * conv2d (+ bias + ReLU, fused) on cuDNN 9's graph API. Per distinct (geometry, type, bias, relu) the
 * {@link CudnnConvGraph} is replayed into backend descriptors once, the engine heuristics (INSTANT mode, then
 * FALLBACK) are asked for configurations, and the first that finalises into an execution plan is kept with its
 * workspace, allocated from the caller's {@link DeviceArena}; each call then binds the tensors' addresses in a
 * variant pack and executes the plan on the caller's stream. GPU-only: a machine without one never reaches the
 * library calls ({@code ci/gpu-test.sh} runs this against the CUDA-dialect kernel).
 */
public final class CudnnConv2d implements AutoCloseable {
    /** System property: {@code on} lets the cuda backend run convolutions on cuDNN (off by default until ci/gpu-test.sh has
     * checked it on a GPU; the CUDA-dialect kernel runs otherwise). Also {@code $TRANSFUSE_CUDNN_CONV=on}. */
    public static final String ENABLE_PROPERTY = "transfuse.cudnn";

    /** Whether {@link #ENABLE_PROPERTY} (or {@code $TRANSFUSE_CUDNN_CONV}) says {@code on}. */
    public static boolean enabled() {
        String p = System.getProperty(ENABLE_PROPERTY, System.getenv("TRANSFUSE_CUDNN_CONV"));
        return "on".equalsIgnoreCase(p) || "true".equalsIgnoreCase(p);
    }

    private record Key(Conv2d conv, DType type, boolean bias, boolean relu) {}

    /** A finalised execution plan, the descriptors it keeps alive, and its workspace. */
    private record Plan(MemorySegment plan, List<MemorySegment> owned, DeviceBuffer workspace, List<Long> uids) {}

    private final CudnnLibrary lib;
    private final DeviceArena arena;
    private final MemorySegment handle;
    private final Map<Key, Plan> plans = new HashMap<>();
    private boolean closed;

    /** A cuDNN handle on the calling thread's current device; workspaces come from {@code arena}. */
    public CudnnConv2d(CudnnLibrary lib, DeviceArena arena) {
        this.lib = lib;
        this.arena = arena;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment h = a.allocate(ADDRESS);
            lib.check("cudnnCreate", NativeLibrary.callInt(() -> (int) lib.create.invokeExact(h)));
            handle = h.get(ADDRESS, 0);
        }
    }

    /**
     * {@code y = relu?(conv(x, w) + b)} on {@code stream} (a cudaStream_t), NHWC, tensors of {@code type} at the given
     * device addresses (b 0 for none), as {@link io.transfuse.backend.Backend#conv2d} describes.
     *
     * @throws CudnnNotSupportedException when cuDNN has no engine for this graph (the caller runs its own kernel)
     */
    public synchronized void run(MemorySegment stream, Conv2d conv, DType type, long y, long x, long w, long b, boolean relu) {
        if (closed) throw new IllegalStateException("cuDNN conv: the handle is closed");
        for (long p : new long[] {y, x, w, b}) {
            if (p % CudnnConvGraph.ALIGNMENT != 0) {
                throw new CudnnNotSupportedException("cuDNN conv: a tensor at 0x" + Long.toHexString(p) + " is not "
                        + CudnnConvGraph.ALIGNMENT + "-byte aligned", 3000);
            }
        }
        if (y == 0 || x == 0 || w == 0) throw new IllegalArgumentException("cuDNN conv: null device address");
        Plan plan = plans.get(new Key(conv, type, b != 0, relu));
        if (plan == null) {
            plan = build(CudnnConvGraph.of(conv, type, b != 0, relu));
            plans.put(new Key(conv, type, b != 0, relu), plan);
        }
        lib.check("cudnnSetStream", NativeLibrary.callInt(() -> (int) lib.setStream.invokeExact(handle, stream)));
        List<Long> uids = plan.uids();
        long[] pointers = b != 0 ? new long[] {x, w, b, y} : new long[] {x, w, y};
        try (Arena a = Arena.ofConfined()) {
            MemorySegment pack = create(a, CudnnConvGraph.VARIANT_PACK_DESCRIPTOR, "variant pack");
            try {
                MemorySegment ids = a.allocate(JAVA_LONG, uids.size()), ptrs = a.allocate(ADDRESS, pointers.length);
                for (int i = 0; i < uids.size(); i++) ids.setAtIndex(JAVA_LONG, i, uids.get(i));
                for (int i = 0; i < pointers.length; i++) ptrs.setAtIndex(ADDRESS, i, MemorySegment.ofAddress(pointers[i]));
                MemorySegment ws = a.allocate(ADDRESS);
                ws.set(ADDRESS, 0, MemorySegment.ofAddress(plan.workspace() == null ? 0 : plan.workspace().address()));
                set(pack, CudnnConvGraph.ATTR_VARIANT_PACK_UNIQUE_IDS, CudnnConvGraph.TYPE_INT64, uids.size(), ids);
                set(pack, CudnnConvGraph.ATTR_VARIANT_PACK_DATA_POINTERS, CudnnConvGraph.TYPE_VOID_PTR, pointers.length, ptrs);
                set(pack, CudnnConvGraph.ATTR_VARIANT_PACK_WORKSPACE, CudnnConvGraph.TYPE_VOID_PTR, 1, ws);
                finish(pack, "variant pack");
                MemorySegment p = plan.plan();
                lib.check("cudnnBackendExecute", NativeLibrary.callInt(() -> (int) lib.execute.invokeExact(handle, p, pack)));
            } finally {
                destroy(pack);
            }
        }
    }

    /** Creates and finalises every descriptor of {@code graph}, then the first execution plan the heuristics offer that finalises. */
    private Plan build(CudnnConvGraph graph) {
        List<MemorySegment> owned = new ArrayList<>();
        boolean done = false;
        try (Arena a = Arena.ofConfined()) {
            Map<String, MemorySegment> made = new LinkedHashMap<>();
            for (CudnnConvGraph.Descriptor d : graph.descriptors()) {
                MemorySegment desc = create(a, d.type(), d.label());
                owned.add(desc);
                for (CudnnConvGraph.Attribute attr : d.attributes()) setValue(a, desc, d.label(), attr, made);
                finish(desc, d.label());
                made.put(d.label(), desc);
            }
            MemorySegment opGraph = made.get(CudnnConvGraph.GRAPH);
            for (int mode : new int[] {CudnnConvGraph.HEUR_MODE_INSTANT, CudnnConvGraph.HEUR_MODE_FALLBACK}) {
                MemorySegment plan = firstPlan(a, opGraph, mode, owned);
                if (plan == null) continue;
                MemorySegment size = a.allocate(JAVA_LONG), count = a.allocate(JAVA_LONG);
                lib.check("cudnnBackendGetAttribute(EXECUTION_PLAN_WORKSPACE_SIZE)", NativeLibrary.callInt(() -> (int) lib.getAttribute.invokeExact(
                        plan, CudnnConvGraph.ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CudnnConvGraph.TYPE_INT64, 1L, count, size)));
                long bytes = size.get(JAVA_LONG, 0);
                DeviceBuffer ws = bytes > 0 ? arena.allocate("cuDNN conv workspace", bytes) : null;
                done = true;
                return new Plan(plan, owned, ws, graph.boundUids());
            }
            throw new CudnnNotSupportedException("cuDNN conv: no engine configuration finalises for this graph", 3000);
        } finally {
            if (!done) for (MemorySegment d : owned) destroy(d);
        }
    }

    /** The first engine configuration of heuristic {@code mode} that finalises into a plan, or null. */
    private MemorySegment firstPlan(Arena a, MemorySegment opGraph, int mode, List<MemorySegment> owned) {
        MemorySegment heur = create(a, CudnnConvGraph.ENGINEHEUR_DESCRIPTOR, "engine heuristics");
        owned.add(heur);
        set(heur, CudnnConvGraph.ATTR_ENGINEHEUR_OPERATION_GRAPH, CudnnConvGraph.TYPE_BACKEND_DESCRIPTOR, 1, pointerArray(a, List.of(opGraph)));
        MemorySegment m = a.allocate(JAVA_INT);
        m.set(JAVA_INT, 0, mode);
        set(heur, CudnnConvGraph.ATTR_ENGINEHEUR_MODE, CudnnConvGraph.TYPE_HEUR_MODE, 1, m);
        finish(heur, "engine heuristics");
        MemorySegment count = a.allocate(JAVA_LONG);
        lib.check("cudnnBackendGetAttribute(ENGINEHEUR_RESULTS count)", NativeLibrary.callInt(() -> (int) lib.getAttribute.invokeExact(
                heur, CudnnConvGraph.ATTR_ENGINEHEUR_RESULTS, CudnnConvGraph.TYPE_BACKEND_DESCRIPTOR, 0L, count, MemorySegment.NULL)));
        int n = (int) Math.min(count.get(JAVA_LONG, 0), 64);
        if (n <= 0) return null;
        List<MemorySegment> cfgs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            MemorySegment c = create(a, CudnnConvGraph.ENGINECFG_DESCRIPTOR, "engine config");
            owned.add(c);
            cfgs.add(c);
        }
        MemorySegment array = pointerArray(a, cfgs);
        long requested = n;
        lib.check("cudnnBackendGetAttribute(ENGINEHEUR_RESULTS)", NativeLibrary.callInt(() -> (int) lib.getAttribute.invokeExact(
                heur, CudnnConvGraph.ATTR_ENGINEHEUR_RESULTS, CudnnConvGraph.TYPE_BACKEND_DESCRIPTOR, requested, count, array)));
        int got = (int) Math.min(count.get(JAVA_LONG, 0), n);
        MemorySegment handleArg = a.allocate(ADDRESS);
        handleArg.set(ADDRESS, 0, handle);
        for (int i = 0; i < got; i++) {
            MemorySegment plan = create(a, CudnnConvGraph.EXECUTION_PLAN_DESCRIPTOR, "execution plan");
            set(plan, CudnnConvGraph.ATTR_EXECUTION_PLAN_HANDLE, CudnnConvGraph.TYPE_HANDLE, 1, handleArg);
            set(plan, CudnnConvGraph.ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CudnnConvGraph.TYPE_BACKEND_DESCRIPTOR, 1,
                    pointerArray(a, List.of(cfgs.get(i))));
            int rc = NativeLibrary.callInt(() -> (int) lib.finalizeDescriptor.invokeExact(plan));
            if (rc == 0) {
                owned.add(plan);
                return plan;
            }
            destroy(plan); // this engine cannot run the graph here; try the next
        }
        return null;
    }

    private void setValue(Arena a, MemorySegment desc, String label, CudnnConvGraph.Attribute attr, Map<String, MemorySegment> made) {
        MemorySegment data;
        long count;
        switch (attr.value()) {
            case CudnnConvGraph.Value.Int64 v -> {
                data = a.allocate(JAVA_LONG, v.v().length);
                for (int i = 0; i < v.v().length; i++) data.setAtIndex(JAVA_LONG, i, v.v()[i]);
                count = v.v().length;
            }
            case CudnnConvGraph.Value.Enum v -> {
                data = a.allocate(JAVA_INT);
                data.set(JAVA_INT, 0, v.v());
                count = 1;
            }
            case CudnnConvGraph.Value.Bool v -> {
                data = a.allocate(JAVA_BOOLEAN);
                data.set(JAVA_BOOLEAN, 0, v.v());
                count = 1;
            }
            case CudnnConvGraph.Value.F32 v -> {
                data = a.allocate(JAVA_FLOAT);
                data.set(JAVA_FLOAT, 0, v.v());
                count = 1;
            }
            case CudnnConvGraph.Value.Refs v -> {
                List<MemorySegment> ds = new ArrayList<>();
                for (String l : v.labels()) {
                    MemorySegment d = made.get(l);
                    if (d == null) throw new IllegalStateException("cuDNN conv graph: " + label + " refers to " + l + " before it is made");
                    ds.add(d);
                }
                data = pointerArray(a, ds);
                count = ds.size();
            }
            case CudnnConvGraph.Value.Handle v -> {
                data = a.allocate(ADDRESS);
                data.set(ADDRESS, 0, handle);
                count = 1;
            }
        }
        set(desc, attr.name(), attr.type(), count, data, label);
    }

    private static MemorySegment pointerArray(Arena a, List<MemorySegment> ps) {
        MemorySegment s = a.allocate(ADDRESS, ps.size());
        for (int i = 0; i < ps.size(); i++) s.setAtIndex(ADDRESS, i, ps.get(i));
        return s;
    }

    private MemorySegment create(Arena a, int type, String what) {
        MemorySegment out = a.allocate(ADDRESS);
        lib.check("cudnnBackendCreateDescriptor(" + what + ")",
                NativeLibrary.callInt(() -> (int) lib.createDescriptor.invokeExact(type, out)));
        return out.get(ADDRESS, 0);
    }

    private void set(MemorySegment desc, int name, int type, long count, MemorySegment data) {
        set(desc, name, type, count, data, "descriptor");
    }

    private void set(MemorySegment desc, int name, int type, long count, MemorySegment data, String what) {
        lib.check("cudnnBackendSetAttribute(" + what + ", attribute " + name + ")",
                NativeLibrary.callInt(() -> (int) lib.setAttribute.invokeExact(desc, name, type, count, data)));
    }

    private void finish(MemorySegment desc, String what) {
        lib.check("cudnnBackendFinalize(" + what + ")", NativeLibrary.callInt(() -> (int) lib.finalizeDescriptor.invokeExact(desc)));
    }

    private void destroy(MemorySegment desc) {
        NativeLibrary.callInt(() -> (int) lib.destroyDescriptor.invokeExact(desc));
    }

    /** One line for reports: which cuDNN runs the convolutions. */
    public String describe() {
        long v = lib.version();
        return "cuDNN " + (v / 10000) + "." + (v / 100 % 100) + "." + (v % 100) + " (" + lib.library() + ")";
    }

    /** Destroys every plan and descriptor, frees the workspaces and the handle. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (Plan p : plans.values()) {
            for (MemorySegment d : p.owned()) destroy(d);
            if (p.workspace() != null) arena.release(p.workspace());
        }
        plans.clear();
        NativeLibrary.callInt(() -> (int) lib.destroy.invokeExact(handle));
    }

    static {
        // ValueLayout.JAVA_BOOLEAN is one byte, as C's bool (cudnnBackendSetAttribute reads CUDNN_TYPE_BOOLEAN as bool).
        assert ValueLayout.JAVA_BOOLEAN.byteSize() == 1;
    }
}
