// emu_launch.cpp: runs grids. Blocks are handed out one at a time (an atomic counter) to the
// calling thread and to a pool of worker OS threads; each block runs to completion on one
// OS thread (its fibers never migrate, so thread_local __shared__ arrays stay the block's).
// The launch returns when all blocks finished or one failed; the first error is printed with
// the kernel name, the launch site and the block, and its code returned.
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "emu_internal.h"

namespace tf_emu {

namespace {

std::mutex g_config_mutex;
bool g_config_loaded = false;
Config g_config;

Schedule parse_schedule(const char* s) {
  if (!s || !*s) return Schedule::Random;
  if (!std::strcmp(s, "inorder")) return Schedule::InOrder;
  if (!std::strcmp(s, "random")) return Schedule::Random;
  if (!std::strcmp(s, "warp-ahead") || !std::strcmp(s, "warpahead")) return Schedule::WarpAhead;
  std::fprintf(stderr, "tf_emu: unknown TRANSFUSE_EMU_SCHEDULE=%s (inorder|random|warp-ahead); using random\n", s);
  return Schedule::Random;
}

void load_config_locked() {
  if (g_config_loaded) return;
  g_config.schedule = parse_schedule(std::getenv("TRANSFUSE_EMU_SCHEDULE"));
  if (const char* s = std::getenv("TRANSFUSE_EMU_SEED")) g_config.seed = std::strtoull(s, nullptr, 0);
  unsigned threads = std::thread::hardware_concurrency();
  if (const char* s = std::getenv("TRANSFUSE_EMU_THREADS")) threads = static_cast<unsigned>(std::atoi(s));
  g_config.threads = threads < 1 ? 1 : (threads > 256 ? 256 : threads);
  g_config_loaded = true;
}

// ---- worker pool ----
struct LaunchState {
  GridJob job;
  uint64_t total_blocks = 0;
  std::atomic<uint64_t> next_block{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  int error_code = 0;
  std::string error;
  dim3 error_block;
};

void run_blocks(LaunchState& st) {
  std::string error;
  const dim3 g = st.job.grid;
  while (!st.failed.load(std::memory_order_relaxed)) {
    const uint64_t i = st.next_block.fetch_add(1, std::memory_order_relaxed);
    if (i >= st.total_blocks) break;
    const dim3 idx(static_cast<unsigned>(i % g.x), static_cast<unsigned>((i / g.x) % g.y),
                   static_cast<unsigned>(i / (uint64_t(g.x) * g.y)));
    const int rc = run_block(st.job, idx, &error);
    if (rc) {
      std::lock_guard<std::mutex> lock(st.error_mutex);
      if (!st.error_code) {
        st.error_code = rc;
        st.error = error;
        st.error_block = idx;
      }
      st.failed.store(true);
    }
  }
}

class Pool {
 public:
  // Runs run_blocks(st) on the calling thread and on `helpers` workers; returns when all are done.
  void run(LaunchState& st, unsigned helpers) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      while (workers_.size() < helpers) workers_.emplace_back([this, id = workers_.size()] { loop(id); });
      state_ = &st;
      active_ = helpers;
      busy_ = helpers;
      ++generation_;
    }
    wake_.notify_all();
    run_blocks(st);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return busy_ == 0; });
    state_ = nullptr;
  }

 private:
  void loop(size_t id) {
    uint64_t seen = 0;
    for (;;) {
      LaunchState* st;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (id >= active_) continue;
        st = state_;
      }
      run_blocks(*st);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_ == 0) done_.notify_all();
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  LaunchState* state_ = nullptr;
  size_t active_ = 0, busy_ = 0;
  uint64_t generation_ = 0;
};

// Leaked on purpose: worker threads block in the pool until the process exits.
Pool& pool() {
  static Pool* p = new Pool;
  return *p;
}
std::mutex g_launch_mutex;  // one grid at a time (the emulator is synchronous)
std::mutex g_error_mutex;
std::string g_last_error;
std::atomic<uint64_t> g_launch_count{0};

}  // namespace

Config config() {
  std::lock_guard<std::mutex> lock(g_config_mutex);
  load_config_locked();
  return g_config;
}

void set_schedule(Schedule schedule, uint64_t seed) {
  std::lock_guard<std::mutex> lock(g_config_mutex);
  load_config_locked();
  g_config.schedule = schedule;
  g_config.seed = seed;
}
Schedule current_schedule() { return config().schedule; }
uint64_t current_seed() { return config().seed; }
const char* schedule_name(Schedule s) {
  switch (s) {
    case Schedule::InOrder: return "inorder";
    case Schedule::Random: return "random";
    case Schedule::WarpAhead: return "warp-ahead";
  }
  return "?";
}

const char* last_error_message() {
  std::lock_guard<std::mutex> lock(g_error_mutex);
  thread_local std::string copy;
  copy = g_last_error;
  return copy.c_str();
}

static int report(const char* kernel, const char* file, int line, const std::string& what, int code) {
  const char* slash = std::strrchr(file, '/');
  std::string msg = std::string("tf_emu: kernel ") + kernel + " (launched at " + (slash ? slash + 1 : file) + ":" +
                    std::to_string(line) + "): " + what;
  std::fprintf(stderr, "%s\n", msg.c_str());
  std::lock_guard<std::mutex> lock(g_error_mutex);
  g_last_error = msg;
  return code;
}

int launch_grid(const char* kernel_name, dim3 grid, dim3 block, size_t smem, KernelThunk thunk, void* ctx,
                const char* file, int line) {
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  const uint64_t blocks = uint64_t(grid.x) * grid.y * grid.z;
  if (threads == 0 || threads > 1024 || block.z > 64)
    return report(kernel_name, file, line, "invalid block size " + std::to_string(block.x) + "x" +
                                               std::to_string(block.y) + "x" + std::to_string(block.z), kErrBadLaunch);
  if (blocks == 0 || grid.y > 65535 || grid.z > 65535)
    return report(kernel_name, file, line, "invalid grid size " + std::to_string(grid.x) + "x" +
                                               std::to_string(grid.y) + "x" + std::to_string(grid.z), kErrBadLaunch);
  if (smem > (227u << 10))
    return report(kernel_name, file, line, "dynamic shared memory of " + std::to_string(smem) +
                                               " bytes exceeds the 227 KiB of sm_90", kErrBadLaunch);
  const Config cfg = config();
  std::lock_guard<std::mutex> launch_lock(g_launch_mutex);
  LaunchState st;
  st.job = GridJob{kernel_name, grid, block, smem, thunk, ctx, cfg.schedule,
                   cfg.seed * 0x9E3779B97F4A7C15ull + g_launch_count.fetch_add(1)};
  st.total_blocks = blocks;
  const uint64_t helpers = std::min<uint64_t>(cfg.threads, blocks) - 1;
  if (helpers == 0) run_blocks(st);
  else pool().run(st, static_cast<unsigned>(helpers));
  if (st.error_code) {
    const std::string where = "block (" + std::to_string(st.error_block.x) + "," + std::to_string(st.error_block.y) +
                              "," + std::to_string(st.error_block.z) + "), schedule " +
                              schedule_name(cfg.schedule) + ": ";
    return report(kernel_name, file, line, where + st.error, st.error_code);
  }
  return 0;
}

}  // namespace tf_emu

extern "C" const char* tf_emu_last_error(void) { return tf_emu::last_error_message(); }
