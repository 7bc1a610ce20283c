// emu_internal.h: the emulator runtime's private data structures (not seen by kernel code).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tf_emu_runtime.h"

namespace tf_emu {

struct Config {
  Schedule schedule = Schedule::Random;
  uint64_t seed = 1;
  unsigned threads = 1;        // OS threads that run blocks (TRANSFUSE_EMU_THREADS)
};
Config config();

// ---- fibers (emu_fiber.cpp) ----
struct Fiber;
struct FiberStack { void* base = nullptr; size_t size = 0; };
// A kFiberStackBytes region aligned to its size (see current_index), mmap'd, with a guard page
// at the bottom; the fiber pointer lives in its last 64 bytes.
FiberStack allocate_stack();
Fiber* current_fiber();  // from the stack pointer; only valid on a fiber stack
// Prepares `f->sp` so that the first switch to it calls fiber_main(f) on its own stack.
void prepare_fiber(Fiber* f);
// Saves the running context's stack pointer in *save_sp and resumes the one at load_sp.
extern "C" void tf_emu_switch_context(void** save_sp, void* load_sp);
[[noreturn]] void fiber_main(Fiber* f);  // emu_scheduler.cpp

// ---- one block (emu_scheduler.cpp) ----
enum class FiberState : uint8_t { Ready, Running, AtBarrier, AtWarp, Done };

struct PendingCopy { void* dst; const void* src; bool valid; };

struct Block;
struct Fiber {
  ThreadIndex index;           // what kernel code reads (threadIdx, blockIdx, ...)
  void* sp = nullptr;          // saved stack pointer while switched out
  FiberStack stack;
  Block* block = nullptr;
  int id = 0, warp = 0, lane = 0;
  FiberState state = FiberState::Done;
  Loc wait_loc;                // where it waits (barrier or warp collective)
  std::vector<PendingCopy> copies;      // cp.async issued, not yet performed
  std::vector<size_t> group_ends;       // cp.async committed groups: end index into copies
  void* tsan_fiber = nullptr;
};

// One warp collective in progress: the lanes that arrived wait until every lane of `mask`
// that has not exited arrives; the last one computes for all.
struct PendingCollective {
  WarpOp op = WarpOp::SyncWarp;
  uint32_t mask = 0;
  uint32_t arrived = 0;
  Loc loc;                     // where the first lane arrived
  int first_lane = 0;
  const LaneIn* in[32] = {};
  LaneOut* out[32] = {};
};

struct Warp {
  uint32_t present = 0;        // lanes that exist (a partial last warp has fewer)
  uint32_t exited = 0;
  // Usually zero or one; several when disjoint groups of lanes run different collectives
  // (lanes 0-15 shuffle among themselves while lanes 16-31 already wait at a full-warp ballot).
  std::vector<PendingCollective> pending;
};

// What the launcher hands to the block runner.
struct GridJob {
  const char* kernel_name;
  dim3 grid, block;
  size_t dynamic_smem;
  KernelThunk thunk;
  void* ctx;
  Schedule schedule;
  uint64_t seed;
};

// Runs block `block_idx` of the job on the calling OS thread. Returns 0 or an error code with
// the message in *error.
int run_block(const GridJob& job, dim3 block_idx, std::string* error);

// ---- warp collectives (emu_warp_ops.cpp) ----
// Computes the results of a completed collective for the lanes in `arrived`. Returns false
// with *error set for misuse that only shows with all operands at hand (misaligned ldmatrix
// rows, an mma or ldmatrix without the full warp).
bool compute_warp_op(WarpOp op, uint32_t arrived, const LaneIn* const in[32], LaneOut* const out[32],
                     std::string* error);
const char* warp_op_name(WarpOp op);

std::string format_loc(const Loc& loc);

}  // namespace tf_emu
