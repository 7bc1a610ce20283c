/*
 * thread_pool.cpp: the workers behind tf_pool_run (parallel.h). Replaces OpenMP (issue 19).
 *
 * Why our own pool: with OpenMP's static split each thread owns a fixed share, and libgomp's threads
 * spin at the barriers; when another process occupies one of two cores the op waits a whole time slice
 * (milliseconds) for the descheduled thread, and decode ran 10-40x slower than with one thread. Here:
 *  - the work is cut into chunks claimed from one counter, the calling thread included: a slow thread
 *    delays at most the chunk it holds, and a worker that wakes late finds nothing left and goes back
 *    to sleep;
 *  - spinning is bounded: a worker spins about TF_SPIN_NS for the next op (decode issues ops
 *    microseconds apart), then sleeps on a futex; the caller, waiting for chunks held by others, spins
 *    the same bound and then sleeps too, leaving its core to the thread it waits for;
 *  - contention backs off: when the caller, done with its own chunks, waited for another thread longer
 *    than half its own work took plus TF_STRAGGLER_NS (that thread was descheduled, not merely slower), the
 *    next jobs run on the calling thread alone for a while (1 ms, doubling on each repeat up to 64 ms,
 *    back to 1 ms after a job without a straggler). A busy core then costs one late chunk per backoff
 *    period instead of one per op, and 2 threads stay about as fast as 1 (issue 19: "never slower");
 *  - no libgomp, so the shipped library needs nothing beyond glibc 2.28's own libraries
 *    (native/compat/glibc_2_28.cmake, ci/glibc-check.sh).
 *
 * Protocol. One job at a time (a second caller runs its chunks itself). The job's counter and its
 * sequence number share one 64-bit word, g_state = seq << 32 | next chunk, so a claim is one CAS that
 * fails when the job it was meant for has ended: a worker that slept through several jobs can never
 * claim a chunk of a job it did not read. Job fields live in two slots (seq & 1): the caller writes the
 * next job's slot while a stale worker may still read the other one, and a slot is rewritten only after
 * the job in it has ended, i.e. after every claim on it has completed. The caller returns once
 * `done` reaches the job's chunk count; it never waits for a worker that claimed nothing.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "parallel.h"

namespace {

/* About one decode op's gap: workers keep polling this long before sleeping, so back-to-back ops do
 * not pay a futex wake each (TRANSFUSE_CPU_SPIN_US overrides, for measurements). */
constexpr long TF_SPIN_NS = 50 * 1000;
/* A wait for others' chunks longer than half the caller's own work plus this means a thread that is not
 * running (on a balanced, quiet machine the wait is at most one chunk: a quarter of the caller's work). */
constexpr long TF_STRAGGLER_NS = 10 * 1000;
constexpr long TF_BACKOFF_MIN_NS = 1000 * 1000, TF_BACKOFF_MAX_NS = 64 * 1000 * 1000;
/* Workers the pool starts at most (tf_cpu_set_threads beyond this runs with this many). */
constexpr int TF_MAX_WORKERS = 255;

struct Slot {
    std::atomic<tf_chunk_fn> fn{nullptr};
    std::atomic<void*> ctx{nullptr};
    std::atomic<long> n{0};
    std::atomic<long> chunks{0};
    std::atomic<int> threads{0}; /* workers 1..threads-1 take part */
    std::atomic<uint32_t> done{0}; /* chunks finished; also the caller's futex word */
    std::atomic<uint32_t> caller_sleeps{0};
};

alignas(64) std::atomic<uint64_t> g_state{0};
alignas(64) std::atomic<uint32_t> g_seq{0}; /* the workers' futex word: low 32 bits of the last job's seq */
alignas(64) std::atomic<int> g_sleepers{0};
alignas(64) Slot g_slots[2];
std::atomic<bool> g_busy{false};
int g_workers = 0; /* started so far; only the caller holding g_busy starts more */
/* Contention backoff (written only by the caller holding g_busy; read racily by others: a stale value
 * only makes one job serial or parallel) */
std::atomic<long> g_serial_until{0};
long g_backoff_ns = TF_BACKOFF_MIN_NS;
long g_spin_ns = TF_SPIN_NS;

long futex_wait(std::atomic<uint32_t>* word, uint32_t expected) {
    return syscall(SYS_futex, (uint32_t*)word, FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>* word) {
    syscall(SYS_futex, (uint32_t*)word, FUTEX_WAKE_PRIVATE, 0x7fffffff, nullptr, nullptr, 0);
}

long now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

inline void cpu_relax() { __builtin_ia32_pause(); }

/* Claims and runs chunks of job `seq` until none is left or the job has ended. */
void work_on(uint32_t seq, int worker) {
    Slot& s = g_slots[seq & 1];
    uint64_t st = g_state.load(std::memory_order_acquire);
    for (;;) {
        if ((uint32_t)(st >> 32) != seq) return;
        const long next = (long)(uint32_t)st;
        const long chunks = s.chunks.load(std::memory_order_relaxed);
        if (next >= chunks) return;
        if (!g_state.compare_exchange_weak(st, st + 1, std::memory_order_acq_rel, std::memory_order_acquire))
            continue;
        /* the job cannot end before this chunk is done, so its slot holds this job's fields */
        const long n = s.n.load(std::memory_order_relaxed);
        s.fn.load(std::memory_order_relaxed)(s.ctx.load(std::memory_order_relaxed), n * next / chunks,
                                             n * (next + 1) / chunks, worker);
        if (s.done.fetch_add(1, std::memory_order_seq_cst) + 1 == (uint32_t)chunks &&
            s.caller_sleeps.load(std::memory_order_seq_cst))
            futex_wake_all(&s.done);
        st = g_state.load(std::memory_order_acquire);
    }
}

void* worker_main(void* arg) {
    const int id = (int)(long)arg;
    uint32_t seen = g_seq.load(std::memory_order_acquire);
    for (;;) {
        uint32_t seq = g_seq.load(std::memory_order_acquire);
        if (seq == seen) {
            const long until = now_ns() + g_spin_ns;
            int polls = 0;
            while ((seq = g_seq.load(std::memory_order_acquire)) == seen) {
                cpu_relax();
                if (++polls % 64 == 0) {
                    if (now_ns() > until) break;
                    sched_yield(); /* a thread sharing this core (the one we wait for, or the caller) runs first */
                }
            }
        }
        if (seq == seen) {
            g_sleepers.fetch_add(1, std::memory_order_seq_cst);
            if (g_seq.load(std::memory_order_seq_cst) == seen) futex_wait(&g_seq, seen);
            g_sleepers.fetch_sub(1, std::memory_order_seq_cst);
            continue;
        }
        seen = seq;
        if (id < g_slots[seq & 1].threads.load(std::memory_order_relaxed)) work_on(seq, id);
    }
    return nullptr;
}

/* Starts workers 1..want-1 not started yet; false when the OS refuses a thread (the job then runs with
 * those that exist). */
void start_workers(int want) {
    static bool spin_read = false;
    if (!spin_read) {
        spin_read = true;
        if (const char* env = getenv("TRANSFUSE_CPU_SPIN_US")) g_spin_ns = atol(env) * 1000;
    }
    while (g_workers + 1 < want && g_workers < TF_MAX_WORKERS) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        /* the kernels keep up to ~200 KiB of tiles on the stack (transfuse.h); 8 MiB like the main thread */
        pthread_attr_setstacksize(&attr, 8u << 20);
        pthread_t t;
        const int rc = pthread_create(&t, &attr, worker_main, (void*)(long)(g_workers + 1));
        pthread_attr_destroy(&attr);
        if (rc != 0) {
            static bool warned = false;
            if (!warned) fprintf(stderr, "transfuse: could not start CPU worker thread %d (error %d); running with %d\n",
                                 g_workers + 1, rc, g_workers + 1);
            warned = true;
            return;
        }
        g_workers++;
    }
}

void run_serial(long n, long chunks, tf_chunk_fn fn, void* ctx) {
    for (long c = 0; c < chunks; c++) fn(ctx, n * c / chunks, n * (c + 1) / chunks, 0);
}

}  // namespace

void tf_pool_run(int threads, long n, long chunks, tf_chunk_fn fn, void* ctx) {
    if (n <= 0) return;
    if (chunks > n) chunks = n;
    if (chunks < 1) chunks = 1;
    if (chunks > 0x7fffffffL) chunks = 0x7fffffffL;
    if (threads <= 1 || chunks == 1) {
        run_serial(n, chunks, fn, ctx);
        return;
    }
    const long t0 = now_ns();
    if (t0 < g_serial_until.load(std::memory_order_relaxed) || g_busy.exchange(true, std::memory_order_acquire)) {
        run_serial(n, chunks, fn, ctx);
        return;
    }
    start_workers(threads);
    if (threads > g_workers + 1) threads = g_workers + 1;
    const uint32_t seq = (uint32_t)(g_state.load(std::memory_order_relaxed) >> 32) + 1;
    Slot& s = g_slots[seq & 1];
    s.fn.store(fn, std::memory_order_relaxed);
    s.ctx.store(ctx, std::memory_order_relaxed);
    s.n.store(n, std::memory_order_relaxed);
    s.chunks.store(chunks, std::memory_order_relaxed);
    s.threads.store(threads, std::memory_order_relaxed);
    s.done.store(0, std::memory_order_relaxed);
    s.caller_sleeps.store(0, std::memory_order_relaxed);
    g_state.store((uint64_t)seq << 32, std::memory_order_release);
    g_seq.store(seq, std::memory_order_seq_cst);
    if (g_sleepers.load(std::memory_order_seq_cst) > 0) futex_wake_all(&g_seq);

    work_on(seq, 0);

    /* Chunks still held by workers: spin a little, then sleep until the last one wakes us. */
    uint32_t d = s.done.load(std::memory_order_acquire);
    if (d == (uint32_t)chunks) {
        g_backoff_ns = TF_BACKOFF_MIN_NS;
    } else {
        const long t1 = now_ns();
        const long until = now_ns() + g_spin_ns;
        int polls = 0;
        while ((d = s.done.load(std::memory_order_acquire)) != (uint32_t)chunks) {
            cpu_relax();
            if (++polls % 64 == 0) {
                if (now_ns() > until) break;
                sched_yield();
            }
        }
        while (d != (uint32_t)chunks) {
            s.caller_sleeps.store(1, std::memory_order_seq_cst);
            d = s.done.load(std::memory_order_seq_cst);
            if (d != (uint32_t)chunks) futex_wait(&s.done, d);
            d = s.done.load(std::memory_order_acquire);
        }
        const long t2 = now_ns();
        if (t2 - t1 > (t1 - t0) / 2 + TF_STRAGGLER_NS) {
            g_serial_until.store(t2 + g_backoff_ns, std::memory_order_relaxed);
            g_backoff_ns = g_backoff_ns * 2 > TF_BACKOFF_MAX_NS ? TF_BACKOFF_MAX_NS : g_backoff_ns * 2;
        } else {
            g_backoff_ns = TF_BACKOFF_MIN_NS;
        }
    }
    g_busy.store(false, std::memory_order_release);
}
