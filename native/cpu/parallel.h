/*
 * parallel.h: the one way libtransfuse_cpu splits an op over threads (thread_pool.cpp runs it).
 *
 * The work [0, n) is cut into chunks that the calling thread and the pool's workers claim one at a time
 * from a shared counter, so a thread the OS has descheduled (another process on its core) only delays
 * the chunk it holds: the others take the rest. Each chunk is a contiguous range, and every index is
 * covered exactly once whatever thread runs it, so results do not depend on the split (an op's outputs
 * are the same bits with 1 or N threads, as before with OpenMP's static split).
 *
 * Small work stays on the calling thread: a dispatch costs about a microsecond, and stories260K's rows
 * are 64 floats.
 *
 * Usable from the per-ISA units (cpu_internal.h's rule): the templates below are static, so each unit
 * gets its own copy of the trampoline, and the pool itself is one extern function compiled with
 * baseline flags.
 */
#ifndef TRANSFUSE_CPU_PARALLEL_H
#define TRANSFUSE_CPU_PARALLEL_H

#include "cpu_internal.h"

/* One chunk: fn(ctx, begin, end, worker), worker 0 = the calling thread, 1..threads-1 = pool workers
 * (for per-thread scratch; a worker id is used by one thread at a time within a call). */
typedef void (*tf_chunk_fn)(void* ctx, long begin, long end, int worker);

/* Runs fn over `chunks` near-equal contiguous chunks of [0, n) on up to `threads` threads (the caller
 * included) and returns when all are done. chunks is clamped to [1, n]. When another thread is already
 * using the pool (two Java threads running ops at once), the call runs every chunk on the caller. */
void tf_pool_run(int threads, long n, long chunks, tf_chunk_fn fn, void* ctx);

/* Chunks per thread: enough that most of a descheduled thread's share can move to the others
 * (ci/bench.sh --contention), few enough that each chunk is long contiguous runs of row tiles (weights
 * streamed in order, as with the static split) and the shared counter is touched rarely. */
enum { TF_CHUNKS_PER_THREAD = 4 };

template <class F>
static void tf_chunk_trampoline(void* ctx, long begin, long end, int worker) {
    (*(F*)ctx)(begin, end, worker);
}

/* f(begin, end, worker) over [0, n) in threads * TF_CHUNKS_PER_THREAD chunks (one call on the
 * calling thread when threads <= 1 or n < 2). */
template <class F>
static inline void tf_parallel_chunks(int threads, long n, F f) {
    if (threads <= 1 || n < 2) {
        f(0L, n, 0);
        return;
    }
    tf_pool_run(threads, n, (long)threads * TF_CHUNKS_PER_THREAD, tf_chunk_trampoline<F>, &f);
}

/* f(begin, end) over [0, n): one call on the calling thread when the work (about one unit per
 * multiply-add or element operation) is below TF_PARALLEL_MIN_WORK, else chunks over
 * tf_cpu_get_threads() threads. Also for items of uneven cost (causal attention rows): a thread that
 * drew cheap chunks simply claims more. */
template <class F>
static inline void tf_parallel_ranges(long n, long work, F f) {
    const int threads = work < TF_PARALLEL_MIN_WORK ? 1 : tf_cpu_get_threads();
    tf_parallel_chunks(threads, n, [&](long a, long b, int) { f(a, b); });
}

/* Like tf_parallel_ranges, in chunks of a few items each (up to 32 per thread), for items whose cost grows
 * with the index (causal prefill attention): the costly last chunks are small, so no thread is left with
 * a long one at the end. */
template <class F>
static inline void tf_parallel_fine(long n, long work, F f) {
    const int threads = work < TF_PARALLEL_MIN_WORK ? 1 : tf_cpu_get_threads();
    if (threads <= 1 || n < 2) {
        f(0L, n);
        return;
    }
    auto g = [&](long a, long b, int) { f(a, b); };
    tf_pool_run(threads, n, (long)threads * 32, tf_chunk_trampoline<decltype(g)>, &g);
}

#endif
