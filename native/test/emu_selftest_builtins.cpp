// emu_selftest_builtins: the emulated CUDA built-ins against host models of their documented
// semantics (CUDA C++ Programming Guide: warp shuffle, vote, atomic functions; PTX ISA:
// cp.async groups), and the emulator's error reports (divergent barrier, deadlock, mismatched
// masks), which must fail the launch and name the kernel's source line.
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tf_device.cuh"
#include "tf_test.h"

namespace {

// ---- indices ----
__global__ void index_kernel(unsigned* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  out[block * threads + thread] = (blockIdx.x << 24) | (blockIdx.y << 20) | (blockIdx.z << 16) | (threadIdx.x << 8) |
                                  (threadIdx.y << 4) | threadIdx.z;
}

TF_TEST(indices_3d) {
  const dim3 grid(3, 2, 2), block(5, 4, 3);
  std::vector<unsigned> out(12 * 60, 0xFFFFFFFFu), want(out.size());
  for (unsigned bz = 0; bz < 2; ++bz)
    for (unsigned by = 0; by < 2; ++by)
      for (unsigned bx = 0; bx < 3; ++bx)
        for (unsigned tz = 0; tz < 3; ++tz)
          for (unsigned ty = 0; ty < 4; ++ty)
            for (unsigned tx = 0; tx < 5; ++tx)
              want[(bx + 3 * (by + 2 * bz)) * 60 + tx + 5 * (ty + 4 * tz)] =
                  (bx << 24) | (by << 20) | (bz << 16) | (tx << 8) | (ty << 4) | tz;
  EXPECT_EQ(TF_LAUNCH(index_kernel, grid, block, 0, nullptr, out.data()), 0);
  EXPECT(out == want);
}

// ---- shuffles and votes ----
constexpr int kShflCases = 9;
__global__ void shuffle_kernel(float* out, unsigned* votes) {
  const int t = threadIdx.x, lane = t % 32;
  const float v = 1000.f * (t / 32) + lane;
  float* o = out + t * kShflCases;
  o[0] = __shfl_sync(0xffffffffu, v, (lane * 7) % 32);
  o[1] = __shfl_sync(0xffffffffu, v, lane + 3, 8);          // src wraps inside each group of 8
  o[2] = __shfl_up_sync(0xffffffffu, v, 3, 16);
  o[3] = __shfl_down_sync(0xffffffffu, v, 5);
  o[4] = __shfl_xor_sync(0xffffffffu, v, 1);
  o[5] = __shfl_xor_sync(0xffffffffu, v, 16);
  o[6] = __shfl_xor_sync(0xffffffffu, v, 6, 4);              // later group: own value; earlier: allowed
  o[7] = (float)__shfl_down_sync(0xffffffffu, lane * 3, 2, 32);  // int payload
  o[8] = -1.f;
  if (lane < 16) o[8] = __shfl_down_sync(0x0000ffffu, v, 1, 16);   // a partial-warp shuffle
  votes[t * 3 + 0] = __ballot_sync(0xffffffffu, lane % 3 == 0 || t == 40);
  votes[t * 3 + 1] = (unsigned)__any_sync(0xffffffffu, t == 37);
  votes[t * 3 + 2] = (unsigned)__all_sync(0xffffffffu, lane < 31 || t >= 32);
}

TF_TEST(shuffles_and_votes) {
  std::vector<float> out(64 * kShflCases);
  std::vector<unsigned> votes(64 * 3);
  EXPECT_EQ(TF_LAUNCH(shuffle_kernel, 1, 64, 0, nullptr, out.data(), votes.data()), 0);
  auto val = [](int warp, int lane) { return 1000.f * warp + lane; };
  int bad = 0;
  for (int t = 0; t < 64; ++t) {
    const int w = t / 32, l = t % 32;
    const float want[kShflCases] = {
        val(w, (l * 7) % 32),
        val(w, (l / 8) * 8 + (l + 3) % 8),
        (l % 16) >= 3 ? val(w, l - 3) : val(w, l),
        l + 5 < 32 ? val(w, l + 5) : val(w, l),
        val(w, l ^ 1),
        val(w, l ^ 16),
        (l ^ 6) >= (l / 4) * 4 + 4 ? val(w, l) : val(w, l ^ 6),
        float(l + 2 < 32 ? (l + 2) * 3 : l * 3),
        l < 16 ? (l + 1 < 16 ? val(w, l + 1) : val(w, l)) : -1.f,
    };
    for (int c = 0; c < kShflCases; ++c)
      if (out[t * kShflCases + c] != want[c] && bad++ < 8)
        std::fprintf(stderr, "  shuffle case %d thread %d: got %g want %g\n", c, t, out[t * kShflCases + c], want[c]);
    unsigned ballot = 0;
    for (int i = 0; i < 32; ++i) ballot |= unsigned(i % 3 == 0 || w * 32 + i == 40) << i;
    if (votes[t * 3] != ballot) bad++;
    if (votes[t * 3 + 1] != unsigned(w == 1)) bad++;
    if (votes[t * 3 + 2] != unsigned(w == 1)) bad++;
  }
  EXPECT_EQ(bad, 0);
}

// ---- atomics, from blocks running on several OS threads ----
__global__ void atomic_kernel(float* fsum, int* isum, unsigned* usum, int* imax, int* cas_counter) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(fsum, 0.5f);
  atomicAdd(isum, t);
  atomicAdd(usum, 2u);
  atomicMax(imax, (t * 7919) % 10007);
  int old = atomicAdd(cas_counter, 0), assumed;  // (a plain load would race with the CAS)
  do { assumed = old; old = atomicCAS(cas_counter, assumed, assumed + 1); } while (old != assumed);
}

TF_TEST(atomics_across_blocks) {
  const int blocks = 48, threads = 128, n = blocks * threads;
  float fsum = 0;
  int isum = 0, imax = -1, cas = 0;
  unsigned usum = 0;
  EXPECT_EQ(TF_LAUNCH(atomic_kernel, blocks, threads, 0, nullptr, &fsum, &isum, &usum, &imax, &cas), 0);
  int want_max = 0;
  for (int t = 0; t < n; ++t) want_max = std::max(want_max, (t * 7919) % 10007);
  EXPECT_EQ(fsum, 0.5f * n);
  EXPECT_EQ(isum, n * (n - 1) / 2);
  EXPECT_EQ(usum, 2u * n);
  EXPECT_EQ(imax, want_max);
  EXPECT_EQ(cas, n);
}

// ---- shared memory: static per block, dynamic filled with NaN bytes ----
__global__ void block_sum_kernel(const float* x, float* out) {
  __shared__ float partial[8];
  const int t = threadIdx.x, lane = t % 32, warp = t / 32;
  float v = x[blockIdx.x * blockDim.x + t];
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (t == 0) {
    float s = 0;
    for (int w = 0; w < (int)blockDim.x / 32; ++w) s += partial[w];
    out[blockIdx.x] = s;
  }
}

TF_TEST(block_reduction_static_shared) {
  const int blocks = 37, threads = 256;
  std::vector<float> x(blocks * threads), out(blocks), ref(blocks);
  fill_uniform(x.data(), x.size(), 11);
  for (int b = 0; b < blocks; ++b) {
    double s = 0;
    for (int i = 0; i < threads; ++i) s += x[b * threads + i];
    ref[b] = float(s);
  }
  EXPECT_EQ(TF_LAUNCH(block_sum_kernel, blocks, threads, 0, nullptr, x.data(), out.data()), 0);
  expect_close("block sum 37x256", out, ref, 1e-4, 1e-5);
}

__global__ void dynamic_shared_kernel(unsigned* first_word, int words) {
  TF_DYNAMIC_SHARED(unsigned, smem);
  // Read before anyone writes: a kernel that forgets to initialise sees NaN bytes.
  if (threadIdx.x == 0) first_word[blockIdx.x] = smem[words - 1];
  __syncthreads();
  smem[threadIdx.x] = 7;  // dirty it: the next block must again start from NaN bytes
}

TF_TEST(dynamic_shared_starts_as_nan_bytes) {
  std::vector<unsigned> first(16, 0);
  EXPECT_EQ(TF_LAUNCH(dynamic_shared_kernel, 16, 64, 64 * 4, nullptr, first.data(), 64), 0);
  for (unsigned w : first) EXPECT_EQ(w, 0xFFFFFFFFu);
  float f;
  const unsigned nan_bits = 0xFFFFFFFFu;
  std::memcpy(&f, &nan_bits, 4);
  EXPECT(std::isnan(f));
}

// ---- cp.async: copies land at the wait that covers their group ----
// mode 0: wait_group 0; mode 1: no wait (bug); mode 2: zfill odd threads; mode 3: two groups,
// wait_group 1 (first landed, second pending).
__global__ void cp_async_kernel(const float4* src, float* out, int mode) {
  TF_DYNAMIC_SHARED(float4, buf);
  const int t = threadIdx.x, n = blockDim.x;
  if (mode == 3) {
    tf::cp_async_16(&buf[t], &src[t]);
    tf::cp_async_commit();
    tf::cp_async_16(&buf[n + t], &src[n + t]);
    tf::cp_async_commit();
    tf::cp_async_wait<1>();
  } else {
    tf::cp_async_16_zfill(&buf[t], &src[t], mode != 2 || t % 2 == 0);
    tf::cp_async_commit();
    if (mode != 1) tf::cp_async_wait<0>();
  }
  __syncthreads();
  out[t] = buf[(t + 1) % n].y;            // another thread's copy
  if (mode == 3) out[n + t] = buf[n + (t + 1) % n].y;
  // (no final wait: a thread that finished early must not land copies others still read)
}

TF_TEST(cp_async_groups_and_missing_wait) {
  const int n = 64;
  std::vector<float4> src(2 * n);
  for (int i = 0; i < 2 * n; ++i) src[i] = make_float4(i, i + 0.5f, -i, 1);
  std::vector<float> out(2 * n);
  auto y = [&](int i) { return src[i].y; };
  // correct wait: every value arrives
  EXPECT_EQ(TF_LAUNCH(cp_async_kernel, 1, n, 2 * n * 16, nullptr, src.data(), out.data(), 0), 0);
  for (int t = 0; t < n; ++t) EXPECT_EQ(out[t], y((t + 1) % n));
  // missing wait: nothing has landed, the NaN bytes show
  EXPECT_EQ(TF_LAUNCH(cp_async_kernel, 1, n, 2 * n * 16, nullptr, src.data(), out.data(), 1), 0);
  int nan_count = 0;
  for (int t = 0; t < n; ++t) nan_count += std::isnan(out[t]);
  EXPECT_EQ(nan_count, n);
  // zfill: odd threads' destinations are zero
  EXPECT_EQ(TF_LAUNCH(cp_async_kernel, 1, n, 2 * n * 16, nullptr, src.data(), out.data(), 2), 0);
  for (int t = 0; t < n; ++t) EXPECT_EQ(out[t], ((t + 1) % n) % 2 == 0 ? y((t + 1) % n) : 0.f);
  // wait_group 1 with two groups: the older group landed, the newer did not
  EXPECT_EQ(TF_LAUNCH(cp_async_kernel, 1, n, 2 * n * 16, nullptr, src.data(), out.data(), 3), 0);
  for (int t = 0; t < n; ++t) {
    EXPECT_EQ(out[t], y((t + 1) % n));
    EXPECT(std::isnan(out[n + t]));
  }
}

__global__ void cp_async_offset_kernel(const char* src, int offset) {
  TF_DYNAMIC_SHARED(float4, buf);
  tf::cp_async_16(&buf[threadIdx.x], src + 16 * threadIdx.x + offset);
  tf::cp_async_commit();
  tf::cp_async_wait<0>();
}

// A 16-byte cp.async from a source that is not 16-byte aligned faults on the GPU: an error here.
TF_TEST(cp_async_misaligned_source_is_an_error) {
  std::vector<float4> src(40);
  const char* base = reinterpret_cast<const char*>(src.data());
  EXPECT_EQ(TF_LAUNCH(cp_async_offset_kernel, 1, 32, 32 * 16, nullptr, base, 0), 0);
  EXPECT_EQ(TF_LAUNCH(cp_async_offset_kernel, 1, 32, 32 * 16, nullptr, base, 4), int(tf_emu::kErrMisaligned));
  EXPECT(std::string(tf_emu_last_error()).find("not 16-byte aligned") != std::string::npos);
}

// ---- errors that name the source line ----
// (each kLine constant is the line of the built-in call it names, counted from its own line)
constexpr int kDivergentLineA = __LINE__ + 3;
constexpr int kDivergentLineB = __LINE__ + 3;
__global__ void divergent_barrier_kernel(float* x) {
  if (threadIdx.x % 2 == 0) __syncthreads();
  else __syncthreads();
  x[threadIdx.x] = 1;
}

bool message_names_line(int line) {
  const std::string msg = tf_emu_last_error();
  return msg.find("emu_selftest_builtins.cpp:" + std::to_string(line)) != std::string::npos;
}

TF_TEST(divergent_barrier_is_an_error_naming_both_lines) {
  std::vector<float> x(64, 0);
  const int err = TF_LAUNCH(divergent_barrier_kernel, 2, 64, 0, nullptr, x.data());
  EXPECT_EQ(err, int(tf_emu::kErrDivergentBarrier));
  EXPECT(message_names_line(kDivergentLineA));
  EXPECT(message_names_line(kDivergentLineB));
  EXPECT(std::string(tf_emu_last_error()).find("divergent_barrier_kernel") != std::string::npos);
}

constexpr int kDeadlockLine = __LINE__ + 3;
__global__ void early_exit_deadlock_kernel(float* x, int n) {
  if ((int)threadIdx.x >= n) return;          // some threads leave...
  __syncthreads();                            // ...the others wait for them forever
  x[threadIdx.x] = 1;
}

TF_TEST(barrier_after_early_exit_is_a_deadlock_naming_the_line) {
  std::vector<float> x(128, 0);
  const int err = TF_LAUNCH(early_exit_deadlock_kernel, 1, 128, 0, nullptr, x.data(), 100);
  EXPECT_EQ(err, int(tf_emu::kErrDeadlock));
  EXPECT(message_names_line(kDeadlockLine));
  EXPECT(std::string(tf_emu_last_error()).find("deadlock") != std::string::npos);
  // With every thread present the same kernel runs.
  EXPECT_EQ(TF_LAUNCH(early_exit_deadlock_kernel, 1, 128, 0, nullptr, x.data(), 128), 0);
}

__global__ void warp_waits_for_exited_lane_kernel(float* x) {
  if (threadIdx.x == 3) return;
  // The mask names lane 3, which has exited: allowed by CUDA (exited lanes are not waited for).
  x[threadIdx.x] = __shfl_xor_sync(0xffffffffu, float(threadIdx.x), 1);
}

TF_TEST(exited_lanes_do_not_block_a_shuffle) {
  std::vector<float> x(32, -5);
  EXPECT_EQ(TF_LAUNCH(warp_waits_for_exited_lane_kernel, 1, 32, 0, nullptr, x.data()), 0);
  EXPECT_EQ(x[0], 1.f);
  EXPECT(std::isnan(x[2]));  // its partner, lane 3, had exited: poison, not a stale value
  EXPECT_EQ(x[3], -5.f);
}

constexpr int kMismatchLine = __LINE__ + 4;
__global__ void mismatched_mask_kernel(float* x) {
  const unsigned lane = threadIdx.x % 32;
  const unsigned mask = lane == 5 ? 0xfffffffeu : 0xffffffffu;
  x[threadIdx.x] = __shfl_xor_sync(mask, x[threadIdx.x], 2);
}

TF_TEST(mismatched_shuffle_masks_are_an_error_naming_the_line) {
  std::vector<float> x(64, 1);
  const int err = TF_LAUNCH(mismatched_mask_kernel, 1, 64, 0, nullptr, x.data());
  EXPECT_EQ(err, int(tf_emu::kErrWarpMismatch));
  EXPECT(message_names_line(kMismatchLine));
}

constexpr int kOutsideMaskLine = __LINE__ + 2;
__global__ void mask_without_self_kernel(float* x) {
  x[threadIdx.x] = __shfl_sync(0x1u, x[threadIdx.x], 0);  // lanes 1..31 are not in the mask
}

TF_TEST(lane_outside_its_mask_is_an_error) {
  std::vector<float> x(32, 1);
  EXPECT_EQ(TF_LAUNCH(mask_without_self_kernel, 1, 32, 0, nullptr, x.data()), int(tf_emu::kErrWarpMismatch));
  EXPECT(message_names_line(kOutsideMaskLine));
}

constexpr int kShuffleHalfLine = __LINE__ + 3;
constexpr int kSyncwarpHalfLine = __LINE__ + 3;
__global__ void different_collectives_kernel(float* x) {
  if (threadIdx.x < 16) x[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.f, 1);
  else __syncwarp();
}

TF_TEST(different_collectives_in_one_warp_are_an_error) {
  std::vector<float> x(32, 1);
  EXPECT_EQ(TF_LAUNCH(different_collectives_kernel, 1, 32, 0, nullptr, x.data()), int(tf_emu::kErrWarpMismatch));
  EXPECT(message_names_line(kShuffleHalfLine));
  EXPECT(message_names_line(kSyncwarpHalfLine));
}

TF_TEST(invalid_launch_is_an_error) {
  std::vector<unsigned> out(4);
  EXPECT_EQ(TF_LAUNCH(index_kernel, 1, 2048, 0, nullptr, out.data()), int(tf_emu::kErrBadLaunch));
  EXPECT_EQ(TF_LAUNCH(index_kernel, 0, 32, 0, nullptr, out.data()), int(tf_emu::kErrBadLaunch));
}

}  // namespace
