// cpu_parallel.cpp: the CPU backend's parallel helper (native/cpu/parallel.h, thread_pool.cpp), compiled
// into this test (its functions are hidden inside libtransfuse_cpu).
//
// The reference is plain counting: every index of [0, n) must be handed out exactly once, in chunks that
// are contiguous, non-empty and inside [0, n), whatever the thread count, chunk count and timing. Then the
// property the pool exists for (issue 19): a thread that stalls inside its chunk holds up only that chunk,
// the others are done by the remaining threads; two callers at once both complete.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "parallel.h"
#include "tf_test.h"

namespace {

struct Coverage {
  std::vector<std::atomic<int>> hits;
  std::atomic<long> chunks{0}, bad{0};
  int threads;
  explicit Coverage(long n, int threads) : hits(n), threads(threads) {}
  void add(long a, long b, int worker) {
    if (a < 0 || b > (long)hits.size() || a >= b || worker < 0 || worker >= threads) bad++;
    for (long i = a < 0 ? 0 : a; i < b && i < (long)hits.size(); i++) hits[i]++;
    chunks++;
  }
  long wrong() const {
    long w = 0;
    for (auto& h : hits) w += h.load() != 1;
    return w;
  }
};

void run_coverage(int threads, long n, long chunks) {
  Coverage c(n, threads);
  auto f = [&](long a, long b, int w) { c.add(a, b, w); };
  tf_pool_run(threads, n, chunks, tf_chunk_trampoline<decltype(f)>, &f);
  const long want = chunks < 1 ? 1 : chunks > n ? n : chunks;
  const std::string what = "threads=" + std::to_string(threads) + " n=" + std::to_string(n) +
                           " chunks=" + std::to_string(chunks);
  if (c.wrong() != 0) ::tf_test::fail(__FILE__, __LINE__, what + ": " + std::to_string(c.wrong()) + " indices not covered exactly once");
  if (c.bad != 0) ::tf_test::fail(__FILE__, __LINE__, what + ": empty or out-of-range chunk, or bad worker id");
  if (c.chunks != want) ::tf_test::fail(__FILE__, __LINE__, what + ": " + std::to_string(c.chunks.load()) + " chunks, want " + std::to_string(want));
}

}  // namespace

TF_TEST(every_index_once_for_1_to_8_threads) {
  for (int threads = 1; threads <= 8; threads++)
    for (long n : {1L, 2L, 3L, 7L, 64L, 1000L, 100003L})
      for (long chunks : {0L, 1L, 2L, 5L, (long)threads * TF_CHUNKS_PER_THREAD, 1000L, 1000000L})
        run_coverage(threads, n, chunks);
}

TF_TEST(parallel_chunks_and_ranges_cover_once) {
  for (int threads = 1; threads <= 4; threads++) {
    Coverage c(777, threads);
    tf_parallel_chunks(threads, 777, [&](long a, long b, int w) { c.add(a, b, w); });
    EXPECT_EQ(c.wrong(), 0L);
    EXPECT_EQ(c.bad.load(), 0L);
    EXPECT_EQ(c.chunks.load(), threads == 1 ? 1L : (long)threads * TF_CHUNKS_PER_THREAD);
  }
  tf_cpu_set_threads(3);
  Coverage big(5000, 1), fine(5000, 1);
  tf_parallel_ranges(5000, 1L << 30, [&](long a, long b) { big.add(a, b, 0); });
  tf_parallel_fine(5000, 1L << 30, [&](long a, long b) { fine.add(a, b, 0); });
  EXPECT_EQ(big.wrong() + fine.wrong(), 0L);
  EXPECT_EQ(big.chunks.load(), 3L * TF_CHUNKS_PER_THREAD);
  EXPECT_EQ(fine.chunks.load(), 3L * 32);
  Coverage small(5000, 1);  // below TF_PARALLEL_MIN_WORK: one call on the caller
  tf_parallel_ranges(5000, 10, [&](long a, long b) { small.add(a, b, 0); });
  EXPECT_EQ(small.chunks.load(), 1L);
  EXPECT_EQ(small.wrong(), 0L);
}

// Many small jobs back to back with varying sizes: workers that wake late for one job must never claim a
// chunk of the next (the job number in the claim word), and no job may end before its chunks are done.
TF_TEST(back_to_back_jobs) {
  tf_test::Rng rng(7);
  for (int i = 0; i < 20000; i++) {
    const int threads = 2 + (int)rng.below(3);
    const long n = 1 + rng.below(300);
    run_coverage(threads, n, 1 + rng.below(40));
  }
}

// A worker that stalls inside its first chunk (as if descheduled by another process) holds only that chunk:
// the caller does all the others and the job ends when the stalled chunk does, not later.
// A job that found a descheduled thread makes the pool run the next jobs on the caller alone for up to
// 64 ms (thread_pool.cpp, contention backoff): tests that need a parallel job wait that out.
void after_backoff() { std::this_thread::sleep_for(std::chrono::milliseconds(70)); }

TF_TEST(stalled_worker_holds_only_its_chunk) {
  const long chunks = 16;
  std::atomic<int> by_worker{0}, by_caller{0};
  std::atomic<bool> stalled{false};
  auto f = [&](long, long, int w) {
    if (w == 0) {
      by_caller++;
      // give the worker time to claim its first chunk before the caller takes everything
      if (by_caller == 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return;
    }
    by_worker++;
    if (!stalled.exchange(true)) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  };
  // warm the pool (its workers exist and spin or sleep), then the measured job
  tf_pool_run(2, chunks, chunks, tf_chunk_trampoline<decltype(f)>, &f);
  by_worker = 0;
  by_caller = 0;
  stalled = false;
  after_backoff();
  const auto t0 = std::chrono::steady_clock::now();
  tf_pool_run(2, chunks, chunks, tf_chunk_trampoline<decltype(f)>, &f);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(by_worker.load() + by_caller.load(), (int)chunks);
  if (by_worker.load() > 0) {
    // the worker stalled in its first chunk; everything else went to the caller meanwhile
    EXPECT_EQ(by_worker.load(), 1);
    EXPECT(ms >= 190.0);
  }
  EXPECT(ms < 2000.0);
  std::printf("  stalled worker: %d chunk(s) on the worker, %d on the caller, %.0f ms\n", by_worker.load(),
              by_caller.load(), ms);
}

// Whichever thread (caller or worker) draws the first chunk stalls in it: it must end up with that one chunk
// only, the other threads doing all the rest meanwhile.
TF_TEST(stalled_first_chunk_holds_only_itself) {
  const long chunks = 32;
  for (int threads : {2, 3}) {
    after_backoff();
    std::atomic<int> per_worker[3] = {0, 0, 0};
    std::atomic<int> stalled_worker{-1};
    auto f = [&](long a, long, int w) {
      per_worker[w]++;
      if (a == 0) {
        stalled_worker = w;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    };
    tf_pool_run(threads, chunks, chunks, tf_chunk_trampoline<decltype(f)>, &f);
    CHECK(stalled_worker.load() >= 0);
    EXPECT_EQ(per_worker[0] + per_worker[1] + per_worker[2], (int)chunks);
    EXPECT_EQ(per_worker[stalled_worker.load()].load(), 1);
  }
}

// The backoff: after a job in which the caller waited for a stalled worker far longer than its own work
// took, the next job runs on the caller alone; once the backoff has passed, workers take part again.
TF_TEST(a_stalled_worker_makes_the_next_jobs_serial_for_a_while) {
  const long chunks = 16;
  std::atomic<int> by_worker{0};
  std::atomic<bool> stall{true};
  auto f = [&](long, long, int w) {
    if (w == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(300));  // slow enough that the worker claims chunks
      return;
    }
    by_worker++;
    if (stall.exchange(false)) std::this_thread::sleep_for(std::chrono::milliseconds(30));
  };
  // The worker stalls in the first job, so the backoff starts and the second job runs on the caller alone.
  // On a busy machine the caller itself can be descheduled for longer than the stall (its own work then
  // looks as slow as the worker's, and no backoff starts), so the pair is tried a few times; a pool whose
  // second job never runs serially fails.
  bool serial = false;
  for (int attempt = 0; attempt < 5 && !serial; attempt++) {
    after_backoff();
    by_worker = 0;
    stall = true;
    tf_pool_run(2, chunks, chunks, tf_chunk_trampoline<decltype(f)>, &f);
    if (by_worker.load() == 0) continue;  // the worker was not scheduled at all: nothing stalled
    by_worker = 0;
    tf_pool_run(2, chunks, chunks, tf_chunk_trampoline<decltype(f)>, &f);
    serial = by_worker.load() == 0;  // within the backoff: all on the caller
  }
  EXPECT(serial);
  // Backoff over: the worker takes part again. On a busy machine the worker may not be scheduled during one
  // job (the caller then does every chunk, and a late wake-up can start a new backoff), so a few jobs may pass
  // before it is; one that never takes part again fails.
  for (int attempt = 0; attempt < 20 && by_worker.load() == 0; attempt++) {
    after_backoff();
    tf_pool_run(2, chunks, chunks, tf_chunk_trampoline<decltype(f)>, &f);
  }
  EXPECT(by_worker.load() > 0);
}

// Two threads calling at once (two Java threads running ops): one gets the pool, the other runs its
// chunks itself; both cover their ranges exactly once.
TF_TEST(concurrent_callers) {
  for (int round = 0; round < 200; round++) {
    Coverage a(5000, 4), b(3000, 4);
    std::thread other([&] {
      auto f = [&](long x, long y, int w) { b.add(x, y, w); };
      tf_pool_run(4, 3000, 50, tf_chunk_trampoline<decltype(f)>, &f);
    });
    auto f = [&](long x, long y, int w) { a.add(x, y, w); };
    tf_pool_run(4, 5000, 50, tf_chunk_trampoline<decltype(f)>, &f);
    other.join();
    CHECK(a.wrong() == 0 && b.wrong() == 0 && a.bad == 0 && b.bad == 0);
  }
}
