// tf_emu_runtime.h: the interface between emulated kernel code (tf_device.cuh) and the emulator
// runtime (emu_*.cpp). Kernel code never calls these directly; the CUDA built-ins do.
//
// Execution model: a grid runs synchronously inside launch_grid. Blocks are spread over a pool
// of OS threads; the threads of one block run as fibers on one OS thread, switching only at
// barriers and warp collectives (cooperative). __shared__ is thread_local, so each OS thread has
// one copy, shared by the fibers of the block running on it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <tuple>
#include <type_traits>
#include <utility>

#include "tf_emu_vector_types.h"

namespace tf_emu {

using Loc = std::source_location;

// What kernel code reads of its emulated thread: the CUDA index variables.
struct ThreadIndex {
  dim3 thread_idx, block_idx, block_dim, grid_dim;
};
// Every fiber stack is a kFiberStackBytes region aligned to its size; its last 64 bytes hold a
// pointer to the fiber's ThreadIndex. So kernel code finds its indices from the stack pointer:
// no thread_local (an initial-exec TLS variable would make the library fail to dlopen from the
// JVM, "cannot allocate memory in static TLS block"; a dynamic one costs a call per access).
constexpr uintptr_t kFiberStackBytes = uintptr_t(256) << 10;
inline uintptr_t fiber_stack_header(uintptr_t sp) { return (sp | (kFiberStackBytes - 1)) + 1 - 64; }
inline const ThreadIndex* current_index() {
  uintptr_t sp;
  asm("movq %%rsp, %0" : "=r"(sp));  // not volatile: the value is constant for a fiber
  return *reinterpret_cast<const ThreadIndex* const*>(fiber_stack_header(sp));
}

// Warp collectives. Every lane deposits a LaneIn and waits; the last lane to arrive computes all
// lanes' LaneOut and releases the warp. The op and mask must agree across the lanes.
enum class WarpOp : uint8_t {
  Shfl, ShflUp, ShflDown, ShflXor, Ballot, Any, All, SyncWarp,
  MmaF16, MmaBf16, Ldm1, Ldm2, Ldm4, Ldm1T, Ldm2T, Ldm4T,
};
struct LaneIn {
  uint64_t value = 0;   // shuffle payload or predicate
  int32_t arg = 0;      // shuffle source lane / delta / xor mask
  int32_t width = 32;   // shuffle segment width
  uint32_t a[4] = {}, b[2] = {};
  float c[4] = {};
  const void* ptr = nullptr;  // ldmatrix row address
};
struct LaneOut {
  uint64_t value = 0;
  uint32_t r[4] = {};
  float d[4] = {};
};
void warp_collective(WarpOp op, unsigned mask, const LaneIn& in, LaneOut& out, const Loc& loc);

void block_barrier(const Loc& loc);       // __syncthreads
unsigned char* dynamic_shared();          // this block's dynamic shared memory (NaN bytes at start)

// cp.async: the destination is poisoned (0xFF bytes) at the issue; the copy is queued per thread
// and performed only at the wait that covers it.
void cp_async_issue(void* dst, const void* src, bool valid, const Loc& loc);
void cp_async_commit();
void cp_async_wait(int newest_groups_left_pending);

// Runs a whole grid; returns 0 or a nonzero error code after printing the error (with its line).
using KernelThunk = void (*)(void* ctx);
int launch_grid(const char* kernel_name, dim3 grid, dim3 block, size_t dynamic_smem_bytes,
                KernelThunk thunk, void* ctx, const char* file, int line);

// Error codes returned by launch_grid (nonzero, distinct from 0 = success).
enum ErrorCode : int {
  kErrDivergentBarrier = 1001,
  kErrWarpMismatch = 1002,   // different ops or masks in one warp collective, lane not in mask
  kErrDeadlock = 1003,
  kErrBadLaunch = 1004,      // empty grid, more than 1024 threads, ...
  kErrMisaligned = 1005,     // a cp.async address that is not 16-byte aligned
};
const char* last_error_message();  // text of the last error printed by launch_grid ("" if none)

// Schedules (the order in which runnable fibers of a block run; see README.md). The environment
// sets them (TRANSFUSE_EMU_SCHEDULE=inorder|random|warp-ahead, TRANSFUSE_EMU_SEED); tests may
// override them per process with set_schedule.
enum class Schedule { InOrder, Random, WarpAhead };
void set_schedule(Schedule schedule, uint64_t seed);
Schedule current_schedule();
uint64_t current_seed();
const char* schedule_name(Schedule schedule);

// Evaluates the kernel arguments once (as a real launch does), then every emulated thread calls
// the kernel with its own copies.
template <typename... KParams, typename... Args>
int launch_kernel(const char* name, void (*kernel)(KParams...), dim3 grid, dim3 block, size_t smem,
                  const char* file, int line, Args&&... args) {
  static_assert(sizeof...(KParams) == sizeof...(Args), "wrong number of kernel arguments");
  using Params = std::tuple<std::decay_t<KParams>...>;
  struct Ctx { void (*kernel)(KParams...); Params params; };
  Ctx ctx{kernel, Params(std::forward<Args>(args)...)};
  return launch_grid(name, grid, block, smem,
                     [](void* p) { auto* c = static_cast<Ctx*>(p); std::apply(c->kernel, c->params); },
                     &ctx, file, line);
}

}  // namespace tf_emu

extern "C" const char* tf_emu_last_error(void);
