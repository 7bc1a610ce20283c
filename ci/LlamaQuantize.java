// ci/LlamaQuantize.java: quantises a GGUF file with llama.cpp's own quantizer (what its llama-quantize tool runs),
// called through Panama from the libllama that node-llama-cpp bundles, so tests can read files llama.cpp wrote.
// node-llama-cpp has no quantize API in JavaScript; its libllama exports the C API all the same.
//
// Usage: java --enable-native-access=ALL-UNNAMED ci/LlamaQuantize.java LIBLLAMA.so IN.gguf OUT.gguf TYPE [THREADS]
//   TYPE: q8_0, q4_k_m, q5_k_m or q6_k. Exit status 0 on success; llama.cpp logs its per-tensor choices to stderr.
//
// What this relies on (llama.cpp's include/llama.h; checked against the header of 2025/2026 releases):
//   uint32_t llama_model_quantize(const char * fname_inp, const char * fname_out,
//                                 const llama_model_quantize_params * params);   // 0 on success
//   llama_model_quantize_params llama_model_quantize_default_params(void);      // returned by value
//   struct llama_model_quantize_params { int32_t nthread; enum llama_ftype ftype; ... } -- only these two leading
//   fields are touched: the fields after them (output/token-embedding types, bools, pointers, dry_run, ...) change
//   between versions, so the defaults are taken whole from llama.cpp and passed back untouched.
//   enum llama_ftype: LLAMA_FTYPE_MOSTLY_Q8_0 = 7, Q4_K_M = 15, Q5_K_M = 17, Q6_K = 18 (stable values).
// The struct is returned by value. On x86-64 System V a struct larger than 16 bytes is of class MEMORY: the caller
// passes a buffer for it as a hidden first argument and the callee writes the struct there. The struct is about 64
// bytes today; the layout below is 512 bytes, so Panama passes a 512-byte buffer and whatever size the library's
// struct has (up to that), it is written into memory we own; the unused tail stays zero.
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

public class LlamaQuantize {
    static final Map<String, Integer> FTYPES = Map.of("q8_0", 7, "q4_k_m", 15, "q5_k_m", 17, "q6_k", 18);
    static final MemoryLayout PARAMS = MemoryLayout.structLayout(
            ValueLayout.JAVA_INT.withName("nthread"),
            ValueLayout.JAVA_INT.withName("ftype"),
            MemoryLayout.sequenceLayout(504, ValueLayout.JAVA_BYTE).withName("rest_as_llama_cpp_sets_it"));

    public static void main(String[] args) throws Throwable {
        if (args.length < 4 || args.length > 5) {
            System.err.println("usage: java --enable-native-access=ALL-UNNAMED ci/LlamaQuantize.java LIBLLAMA.so IN.gguf OUT.gguf TYPE [THREADS]");
            System.exit(2);
        }
        Path lib = Path.of(args[0]), in = Path.of(args[1]), out = Path.of(args[2]);
        Integer ftype = FTYPES.get(args[3].toLowerCase(Locale.ROOT));
        int threads = args.length == 5 ? Integer.parseInt(args[4]) : 2;
        if (ftype == null) fail("unknown TYPE '" + args[3] + "' (valid: q8_0, q4_k_m, q5_k_m, q6_k)");
        if (!Files.isRegularFile(lib)) fail("no libllama at " + lib);
        if (!Files.isRegularFile(in)) fail("no input GGUF file at " + in);
        if (threads < 1) fail("THREADS must be positive, got " + threads);

        Linker linker = Linker.nativeLinker();
        try (Arena arena = Arena.ofConfined()) {
            // dlopen resolves libggml*.so beside libllama through its RUNPATH ($ORIGIN)
            SymbolLookup llama = SymbolLookup.libraryLookup(lib, arena);
            MethodHandle defaults = linker.downcallHandle(find(llama, "llama_model_quantize_default_params"), FunctionDescriptor.of(PARAMS));
            MethodHandle quantize = linker.downcallHandle(find(llama, "llama_model_quantize"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
            MemorySegment params = (MemorySegment) defaults.invokeExact((java.lang.foreign.SegmentAllocator) arena);
            params.set(ValueLayout.JAVA_INT, 0, threads);
            params.set(ValueLayout.JAVA_INT, 4, ftype);
            int rc = (int) quantize.invokeExact(arena.allocateFrom(in.toString()), arena.allocateFrom(out.toString()), params);
            if (rc != 0) fail("llama_model_quantize(" + in + " -> " + out + ", " + args[3] + ") returned " + rc);
        }
        if (!Files.isRegularFile(out) || Files.size(out) == 0) fail("llama_model_quantize reported success but wrote no " + out);
        System.err.println("LlamaQuantize: " + out + " (" + args[3] + ", " + Files.size(out) + " bytes)");
    }

    static MemorySegment find(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new IllegalStateException("libllama does not export " + name));
    }

    static void fail(String message) {
        System.err.println("LlamaQuantize: " + message);
        System.exit(1);
    }
}
