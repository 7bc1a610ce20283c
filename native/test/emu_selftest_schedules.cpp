// emu_selftest_schedules: the schedules find what they are meant to find.
//
// The broken kernel is the classic missing end-of-loop __syncthreads: every iteration loads a
// tile into shared memory, synchronises, and reads the whole tile; without the barrier at the
// loop end, a fast thread overwrites the tile with the next one while slower threads still read
// the current one (a write-after-read race). Each thread reads only the tile entries at or after
// its own index, so the in-order schedule (thread 0 first) never exposes the race: it misses it.
// The random and warp-ahead schedules must catch it (a wrong result) on every run, and the fixed
// kernel must pass under all three. In the ThreadSanitizer build, TSan must also name both
// racing lines (checked in a child process, since the report fails the process that has it).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tf_device.cuh"
#include "tf_test.h"

extern char** environ;

#ifdef TF_EMU_TSAN
// The schedule tests run the racy kernel on purpose; TSan reports only racy_tile_kernel (child).
extern "C" const char* __tsan_default_suppressions() { return "race:tiled_suffix_sum_kernel\n"; }
#endif

namespace {

__global__ void tiled_suffix_sum_kernel(const float* x, float* out, int tiles, int with_end_barrier) {
  __shared__ float tile[256];
  const int t = threadIdx.x, n = blockDim.x;
  float acc = 0.f;
  for (int i = 0; i < tiles; ++i) {
    tile[t] = x[(blockIdx.x * tiles + i) * n + t];
    __syncthreads();
    for (int j = t; j < n; ++j) acc += tile[j];
    if (with_end_barrier) __syncthreads();  // the barrier the broken variant lacks
  }
  out[blockIdx.x * n + t] = acc;
}

// Runs the kernel under `schedule` and says whether the result matched the reference.
bool suffix_sum_correct(tf_emu::Schedule schedule, uint64_t seed, bool with_end_barrier) {
  const int blocks = 3, tiles = 6, n = 128;
  std::vector<float> x(blocks * tiles * n), out(blocks * n), ref(blocks * n);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float((i * 37) % 11);  // small integers: sums are exact
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < n; ++t) {
      double s = 0;
      for (int i = 0; i < tiles; ++i)
        for (int j = t; j < n; ++j) s += x[(b * tiles + i) * n + j];
      ref[b * n + t] = float(s);
    }
  tf_emu::set_schedule(schedule, seed);
  const int err = TF_LAUNCH(tiled_suffix_sum_kernel, blocks, n, 0, nullptr, x.data(), out.data(), tiles,
                            with_end_barrier ? 1 : 0);
  EXPECT_EQ(err, 0);
  return out == ref;
}

struct RestoreSchedule {
  tf_emu::Schedule s = tf_emu::current_schedule();
  uint64_t seed = tf_emu::current_seed();
  ~RestoreSchedule() { tf_emu::set_schedule(s, seed); }
};

TF_TEST(fixed_kernel_passes_under_every_schedule) {
  RestoreSchedule restore;
  for (auto s : {tf_emu::Schedule::InOrder, tf_emu::Schedule::Random, tf_emu::Schedule::WarpAhead})
    for (uint64_t seed : {1, 2, 3}) EXPECT(suffix_sum_correct(s, seed, true));
}

TF_TEST(missing_end_of_loop_barrier_caught_by_random_and_warp_ahead) {
  RestoreSchedule restore;
  for (uint64_t seed : {1, 2, 3, 12345, 20241123}) {
    EXPECT(!suffix_sum_correct(tf_emu::Schedule::Random, seed, false));
    EXPECT(!suffix_sum_correct(tf_emu::Schedule::WarpAhead, seed, false));
  }
}

TF_TEST(inorder_schedule_misses_the_race) {
  // Documents why in-order is not used in CI: the same broken kernel passes.
  RestoreSchedule restore;
  EXPECT(suffix_sum_correct(tf_emu::Schedule::InOrder, 1, false));
}

// The same race through the schedule of the environment (what ctest runs twice): caught.
TF_TEST(environment_schedule_catches_the_race) {
  const auto s = tf_emu::current_schedule();
  if (s == tf_emu::Schedule::InOrder) return;
  EXPECT(!suffix_sum_correct(s, tf_emu::current_seed(), false));
}

// ---- ThreadSanitizer names the racing lines ----
constexpr int kWriteLine = __LINE__ + 6;  // the two racing accesses below
constexpr int kReadLine = __LINE__ + 7;
__global__ void racy_tile_kernel(const float* x, float* out, int tiles) {
  __shared__ float tile[256];
  float acc = 0.f;
  for (int i = 0; i < tiles; ++i) {
    tile[threadIdx.x] = x[i * blockDim.x + threadIdx.x];
    __syncthreads();
    for (unsigned j = threadIdx.x; j < blockDim.x; ++j) acc += tile[j];
    // missing __syncthreads() here
  }
  out[threadIdx.x] = acc;
}

TF_TEST(tsan_child_race) {
  if (!std::getenv("TF_TSAN_CHILD")) return;  // only in the child started below
  std::vector<float> x(4 * 64, 1.f), out(64);
  EXPECT_EQ(TF_LAUNCH(racy_tile_kernel, 1, 64, 0, nullptr, x.data(), out.data(), 4), 0);
}

TF_TEST(tsan_names_the_racing_lines) {
#ifndef TF_EMU_TSAN
  std::printf("  (not a ThreadSanitizer build: nothing to check)\n");
#else
  char log[] = "/tmp/tf_emu_tsan_XXXXXX";
  const int fd = mkstemp(log);
  CHECK(fd >= 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fd, 2);
  posix_spawn_file_actions_adddup2(&actions, fd, 1);
  std::vector<std::string> env_strings = {"TF_TSAN_CHILD=1", "TSAN_OPTIONS=exitcode=66"};
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "TSAN_OPTIONS=", 13) && std::strncmp(*e, "TF_TSAN_CHILD=", 14)) env_strings.push_back(*e);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  char self[] = "/proc/self/exe", filter[] = "tsan_child_race";
  char* argv[] = {self, filter, nullptr};
  pid_t pid;
  CHECK(posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, envp.data()) == 0);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fd);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  unlink(log);
  const std::string report = text.str();
  EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 66);
  EXPECT(report.find("ThreadSanitizer: data race") != std::string::npos);
  EXPECT(report.find("emu_selftest_schedules.cpp:" + std::to_string(kWriteLine)) != std::string::npos);
  EXPECT(report.find("emu_selftest_schedules.cpp:" + std::to_string(kReadLine)) != std::string::npos);
  if (tf_test::current_failures()) std::fprintf(stderr, "%s\n", report.substr(0, 4000).c_str());
#endif
}

}  // namespace
