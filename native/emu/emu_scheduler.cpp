// emu_scheduler.cpp: runs one block of emulated threads as fibers on the calling OS thread.
//
// A fiber runs until it must wait: at __syncthreads, at a warp collective whose lanes have not
// all arrived, or at its end. It then picks the next runnable fiber itself and switches to it
// directly (one switch, not two via a scheduler loop). The schedule decides the pick:
//   inorder     round robin in thread order (what a naive emulator does)
//   random      a seeded random runnable fiber at every switch, including after each barrier
//               release and each completed warp collective; half of the picks favour a warp
//               drawn at random at every barrier, so that warps also drift apart
//   warp-ahead  one "lead" warp runs as far as it can before any other; the lead rotates at
//               every barrier. Races between warps (a missing end-of-loop __syncthreads) show.
// When no fiber is runnable control returns to run_block, which reports a deadlock if not all
// threads finished. Misuse (divergent barrier, mismatched warp collective) fails the block at
// once with both source lines.
#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "emu_internal.h"

#ifdef TF_EMU_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace tf_emu {

static_assert(offsetof(Fiber, index) == 0, "current_index() reads the Fiber pointer as a ThreadIndex pointer");

std::string format_loc(const Loc& loc) {
  const char* file = loc.file_name();
  const char* slash = std::strrchr(file, '/');
  const char* native = std::strstr(file, "native/");
  const char* shown = native ? native : (slash ? slash + 1 : file);
  return std::string(shown) + ":" + std::to_string(loc.line());
}
static bool same_loc(const Loc& a, const Loc& b) {
  return a.line() == b.line() && std::strcmp(a.file_name(), b.file_name()) == 0;
}

struct Block {
  const GridJob* job = nullptr;
  dim3 block_idx;
  int nthreads = 0, nwarps = 0;
  Fiber* fibers = nullptr;
  std::vector<Warp> warps;
  // __syncthreads
  int barrier_arrived = 0;
  Loc barrier_loc;
  int barrier_first = 0;
  int done = 0;
  // runnable set: one bit per thread, per warp
  uint32_t ready[32] = {};
  int ready_count = 0;
  int cursor = -1;      // inorder: last fiber picked
  int lead_warp = 0;    // warp-ahead: the lead warp; random: the favoured warp
  uint64_t rng = 0;     // random
  void* scheduler_sp = nullptr;
  void* scheduler_tsan = nullptr;
  bool failed = false;
  int error_code = 0;
  std::string error;
  unsigned char* dyn_smem = nullptr;
  int finished_sync = 0;  // TSan: address of the fibers -> end of block edge
};

namespace {

// Per OS thread: fibers and stacks reused by every block this thread runs, and the dynamic
// shared memory buffer.
struct ThreadResources {
  std::vector<Fiber> fibers;
  unsigned char* dyn_smem = nullptr;
  size_t dyn_capacity = 0;
  ~ThreadResources() { std::free(dyn_smem); }
};
thread_local ThreadResources t_resources;

uint64_t next_random(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void make_ready(Block& b, Fiber* f) {
  f->state = FiberState::Ready;
  b.ready[f->warp] |= 1u << f->lane;
  ++b.ready_count;
}

Fiber* take(Block& b, int warp, int lane) {
  b.ready[warp] &= ~(1u << lane);
  --b.ready_count;
  Fiber* f = &b.fibers[warp * 32 + lane];
  f->state = FiberState::Running;
  b.cursor = f->id;
  return f;
}

// Removes and returns the next fiber to run, or nullptr when none is runnable.
Fiber* pick_next(Block& b) {
  if (b.ready_count == 0) return nullptr;
  switch (b.job->schedule) {
    case Schedule::InOrder: {
      // First ready thread after the cursor, cyclically.
      const int start = b.cursor + 1 >= b.nthreads ? 0 : b.cursor + 1;
      int w = start / 32;
      uint32_t bits = b.ready[w] & (~0u << (start % 32));
      for (int i = 0; i <= b.nwarps; ++i) {
        if (bits) return take(b, w, __builtin_ctz(bits));
        w = w + 1 == b.nwarps ? 0 : w + 1;
        bits = b.ready[w];
      }
      break;
    }
    case Schedule::Random: {
      const uint64_t r = next_random(b.rng);
      // Half of the picks favour one warp (re-drawn at every barrier): uniform picks alone keep
      // warps in near lockstep when they share many collectives, and hide races between warps.
      if ((r & 1) && b.ready[b.lead_warp]) {
        uint32_t bits = b.ready[b.lead_warp];
        for (int k = static_cast<int>((r >> 1) % static_cast<uint64_t>(__builtin_popcount(bits))); k > 0; --k)
          bits &= bits - 1;
        return take(b, b.lead_warp, __builtin_ctz(bits));
      }
      int k = static_cast<int>((r >> 8) % static_cast<uint64_t>(b.ready_count));
      for (int w = 0; w < b.nwarps; ++w) {
        const int n = __builtin_popcount(b.ready[w]);
        if (k >= n) { k -= n; continue; }
        uint32_t bits = b.ready[w];
        for (; k > 0; --k) bits &= bits - 1;
        return take(b, w, __builtin_ctz(bits));
      }
      break;
    }
    case Schedule::WarpAhead: {
      for (int i = 0, w = b.lead_warp; i < b.nwarps; ++i, w = w + 1 == b.nwarps ? 0 : w + 1)
        if (b.ready[w]) return take(b, w, __builtin_ctz(b.ready[w]));
      break;
    }
  }
  return nullptr;
}

// Switches from the running fiber `from` to `to` (nullptr: back to run_block).
void switch_to(Block& b, Fiber* from, Fiber* to) {
#ifdef TF_EMU_TSAN
  // Everything a fiber did happens before the end of its block (run_block acquires this), also
  // for fibers that never finish because the block failed.
  __tsan_release(&b.finished_sync);
  // no_sync: a switch is not a synchronisation between emulated threads; barriers and warp
  // collectives annotate their own happens-before edges.
  __tsan_switch_to_fiber(to ? to->tsan_fiber : b.scheduler_tsan, __tsan_switch_to_fiber_no_sync);
#endif
  tf_emu_switch_context(&from->sp, to ? to->sp : b.scheduler_sp);
}

// The running fiber waits (its state is already set); run someone else.
void wait_here(Block& b, Fiber* f) {
  Fiber* next = pick_next(b);
  switch_to(b, f, next);
}

// The running fiber stays runnable but lets the schedule choose who runs now.
void yield(Block& b, Fiber* f) {
  make_ready(b, f);
  Fiber* next = pick_next(b);
  if (next != f) switch_to(b, f, next);
}

[[noreturn]] void fail_block(Block& b, Fiber* f, int code, const std::string& message) {
  if (!b.failed) {
    b.failed = true;
    b.error_code = code;
    b.error = message;
  }
#ifdef TF_EMU_TSAN
  __tsan_release(&b);  // the error text is read by run_block
#endif
  switch_to(b, f, nullptr);
  std::abort();  // never resumed
}

std::string thread_name(const Block& b, const Fiber* f) {
  (void)b;
  char buf[96];
  std::snprintf(buf, sizeof buf, "thread (%u,%u,%u) [warp %d lane %d]", f->index.thread_idx.x, f->index.thread_idx.y,
                f->index.thread_idx.z, f->warp, f->lane);
  return buf;
}

bool collective_complete(const Warp& w, const PendingCollective& c) {
  const uint32_t required = c.mask & w.present & ~w.exited;
  return (c.arrived & required) == required;
}

// The last lane of a collective computes every lane's result and releases the others.
void finish_collective(Block& b, Fiber* f, Warp& w, size_t index) {
  PendingCollective& c = w.pending[index];
  std::string error;
  if (!compute_warp_op(c.op, c.arrived, c.in, c.out, &error))
    fail_block(b, f, kErrWarpMismatch, std::string(warp_op_name(c.op)) + " at " + format_loc(c.loc) + ": " + error);
#ifdef TF_EMU_TSAN
  __tsan_acquire(&w);
#endif
  uint32_t others = c.arrived & ~(1u << f->lane);
  const int base = static_cast<int>(&w - b.warps.data()) * 32;
  while (others) {
    const int lane = __builtin_ctz(others);
    others &= others - 1;
    make_ready(b, &b.fibers[base + lane]);
  }
  w.pending[index] = w.pending.back();
  w.pending.pop_back();
}

}  // namespace

// ---- the built-ins -------------------------------------------------------------------------

void block_barrier(const Loc& loc) {
  Fiber* f = current_fiber();
  Block& b = *f->block;
  if (b.barrier_arrived == 0) {
    b.barrier_loc = loc;
    b.barrier_first = f->id;
  } else if (!same_loc(loc, b.barrier_loc)) {
    fail_block(b, f, kErrDivergentBarrier,
               "divergent __syncthreads: " + thread_name(b, &b.fibers[b.barrier_first]) + " waits at " +
                   format_loc(b.barrier_loc) + " while " + thread_name(b, f) + " reached " + format_loc(loc));
  }
#ifdef TF_EMU_TSAN
  __tsan_release(&b.barrier_arrived);
#endif
  f->wait_loc = loc;
  if (++b.barrier_arrived < b.nthreads) {
    f->state = FiberState::AtBarrier;
    wait_here(b, f);
#ifdef TF_EMU_TSAN
    __tsan_acquire(&b.barrier_arrived);
#endif
    return;
  }
  // Last arrival: everyone else is waiting here; release them all.
  b.barrier_arrived = 0;
  for (int i = 0; i < b.nthreads; ++i)
    if (b.fibers[i].state == FiberState::AtBarrier) make_ready(b, &b.fibers[i]);
  if (b.job->schedule == Schedule::Random)
    b.lead_warp = static_cast<int>(next_random(b.rng) % static_cast<uint64_t>(b.nwarps));
  else
    b.lead_warp = b.lead_warp + 1 == b.nwarps ? 0 : b.lead_warp + 1;
#ifdef TF_EMU_TSAN
  __tsan_acquire(&b.barrier_arrived);
#endif
  yield(b, f);
}

void warp_collective(WarpOp op, unsigned mask, const LaneIn& in, LaneOut& out, const Loc& loc) {
  Fiber* f = current_fiber();
  Block& b = *f->block;
  Warp& w = b.warps[f->warp];
  const uint32_t bit = 1u << f->lane;
  char masks[64];
  if (!(mask & bit)) {
    std::snprintf(masks, sizeof masks, "0x%08x", mask);
    fail_block(b, f, kErrWarpMismatch,
               std::string(warp_op_name(op)) + " at " + format_loc(loc) + ": " + thread_name(b, f) +
                   " calls it with mask " + masks + ", which does not include its own lane");
  }
  // Join the collective this lane belongs to, or start one. It is a mismatch when another
  // pending collective waits for this lane while this one waits for lanes held there: neither
  // could ever complete (e.g. lane 5 passes a mask without lane 0 while the others pass the full
  // mask; or half the warp calls __shfl_xor_sync and the other half __syncwarp).
  size_t join = w.pending.size();
  for (size_t i = 0; i < w.pending.size(); ++i) {
    const PendingCollective& c = w.pending[i];
    if (join == w.pending.size() && c.op == op && c.mask == mask && (c.mask & bit)) {
      join = i;
      continue;
    }
    if ((c.mask & bit) && (mask & c.arrived)) {
      std::snprintf(masks, sizeof masks, "0x%08x vs 0x%08x", c.mask, mask);
      fail_block(b, f, kErrWarpMismatch,
                 "mismatched warp collective in warp " + std::to_string(f->warp) + ": lane " +
                     std::to_string(c.first_lane) + " is in " + warp_op_name(c.op) + " at " + format_loc(c.loc) +
                     ", lane " + std::to_string(f->lane) + " calls " + warp_op_name(op) + " at " + format_loc(loc) +
                     " (masks " + masks + ")");
    }
  }
  if (join == w.pending.size()) {
    w.pending.emplace_back();
    PendingCollective& c = w.pending.back();
    c.op = op;
    c.mask = mask;
    c.loc = loc;
    c.first_lane = f->lane;
  }
  PendingCollective& c = w.pending[join];
  c.in[f->lane] = &in;
  c.out[f->lane] = &out;
  c.arrived |= bit;
  f->wait_loc = loc;
#ifdef TF_EMU_TSAN
  __tsan_release(&w);
#endif
  if (!collective_complete(w, c)) {
    f->state = FiberState::AtWarp;
    wait_here(b, f);
#ifdef TF_EMU_TSAN
    __tsan_acquire(&w);
#endif
    return;
  }
  finish_collective(b, f, w, join);
  if (b.job->schedule == Schedule::Random) yield(b, f);
}

unsigned char* dynamic_shared() { return current_fiber()->block->dyn_smem; }

// cp.async lands somewhere between the issue and the wait. The emulator takes both extremes:
// the destination is poisoned (NaN bytes) at the issue, so a thread still reading the old
// contents (a missing barrier before the buffer is refilled) sees the overwrite at once; the data
// lands only at the wait, so a read before the wait (a missing wait) sees the poison.
// Both addresses of a 16-byte cp.async must be 16-byte aligned (PTX ISA); the source is checked only
// when it is read (the zero-fill form with src-size 0 reads nothing).
void cp_async_issue(void* dst, const void* src, bool valid, const Loc& loc) {
  const uintptr_t bad = (reinterpret_cast<uintptr_t>(dst) | (valid ? reinterpret_cast<uintptr_t>(src) : 0)) & 15;
  if (bad) {
    Fiber* f = current_fiber();
    char addrs[96];
    std::snprintf(addrs, sizeof addrs, " (shared %p, global %p)", dst, src);
    fail_block(*f->block, f, kErrMisaligned,
               "cp.async at " + format_loc(loc) + ": " + thread_name(*f->block, f) +
                   " passes an address that is not 16-byte aligned" + addrs);
  }
  std::memset(dst, 0xFF, 16);
  current_fiber()->copies.push_back(PendingCopy{dst, src, valid});
}

void cp_async_commit() {
  Fiber* f = current_fiber();
  f->group_ends.push_back(f->copies.size());
}

void cp_async_wait(int pending_allowed) {
  Fiber* f = current_fiber();
  const size_t groups = f->group_ends.size();
  if (groups <= static_cast<size_t>(pending_allowed < 0 ? 0 : pending_allowed)) return;
  const size_t complete_groups = groups - static_cast<size_t>(pending_allowed);
  const size_t upto = f->group_ends[complete_groups - 1];
  for (size_t i = 0; i < upto; ++i) {
    const PendingCopy& c = f->copies[i];
    if (c.valid) std::memcpy(c.dst, c.src, 16);
    else std::memset(c.dst, 0, 16);
  }
  f->copies.erase(f->copies.begin(), f->copies.begin() + static_cast<std::ptrdiff_t>(upto));
  f->group_ends.erase(f->group_ends.begin(), f->group_ends.begin() + static_cast<std::ptrdiff_t>(complete_groups));
  for (size_t& e : f->group_ends) e -= upto;
}

// ---- fiber life cycle ----------------------------------------------------------------------

[[noreturn]] void fiber_main(Fiber* f) {
  Block& b = *f->block;
#ifdef TF_EMU_TSAN
  __tsan_acquire(&b);  // the launch (arguments) and the block setup happen before this thread
#endif
  b.job->thunk(b.job->ctx);
  // The emulated thread returned from the kernel.
  f->state = FiberState::Done;
  ++b.done;
  f->copies.clear();
  f->group_ends.clear();
  Warp& w = b.warps[f->warp];
  w.exited |= 1u << f->lane;
#ifdef TF_EMU_TSAN
  __tsan_release(&b);
#endif
  for (size_t i = 0; i < w.pending.size();) {  // collectives that only waited for this lane
    if (collective_complete(w, w.pending[i])) finish_collective(b, f, w, i);
    else ++i;
  }
  switch_to(b, f, pick_next(b));
  std::abort();  // a finished fiber is never resumed
}

namespace {

std::string describe_deadlock(const Block& b) {
  // Group the waiting threads by where they wait.
  std::map<std::string, int> at;
  for (int i = 0; i < b.nthreads; ++i) {
    const Fiber& f = b.fibers[i];
    if (f.state == FiberState::AtBarrier) at["__syncthreads at " + format_loc(f.wait_loc)]++;
    else if (f.state == FiberState::AtWarp) {
      const Warp& w = b.warps[f.warp];
      for (const PendingCollective& c : w.pending)
        if (c.arrived >> f.lane & 1u) {
          char buf[64];
          std::snprintf(buf, sizeof buf, " (warp %d, mask 0x%08x)", f.warp, c.mask);
          at[std::string(warp_op_name(c.op)) + " at " + format_loc(f.wait_loc) + buf]++;
        }
    }
  }
  std::string s = "deadlock: no thread can run; ";
  bool first = true;
  for (const auto& [where, n] : at) {
    s += (first ? "" : "; ") + std::to_string(n) + " thread(s) wait in " + where;
    first = false;
  }
  s += "; " + std::to_string(b.done) + " of " + std::to_string(b.nthreads) + " thread(s) have exited";
  return s;
}

}  // namespace

int run_block(const GridJob& job, dim3 block_idx, std::string* error) {
  ThreadResources& res = t_resources;
  const int nthreads = static_cast<int>(job.block.x * job.block.y * job.block.z);
  const int nwarps = (nthreads + 31) / 32;
  if (res.fibers.size() < static_cast<size_t>(nwarps * 32)) {
    const size_t old = res.fibers.size();
    std::vector<Fiber> grown(static_cast<size_t>(nwarps * 32));
    for (size_t i = 0; i < old; ++i) std::swap(grown[i], res.fibers[i]);
    res.fibers.swap(grown);
  }
  if (job.dynamic_smem > res.dyn_capacity) {
    std::free(res.dyn_smem);
    res.dyn_capacity = (job.dynamic_smem + 127) / 128 * 128;
    res.dyn_smem = static_cast<unsigned char*>(std::aligned_alloc(128, res.dyn_capacity));
  }
  if (job.dynamic_smem) std::memset(res.dyn_smem, 0xFF, job.dynamic_smem);  // NaN bytes

  Block b;
  b.job = &job;
  b.block_idx = block_idx;
  b.nthreads = nthreads;
  b.nwarps = nwarps;
  b.fibers = res.fibers.data();
  b.warps.assign(static_cast<size_t>(nwarps), Warp{});
  b.dyn_smem = res.dyn_smem;
  const uint64_t linear = block_idx.x + uint64_t(job.grid.x) * (block_idx.y + uint64_t(job.grid.y) * block_idx.z);
  b.rng = job.seed ^ (linear * 0xD1B54A32D192ED03ull);
  next_random(b.rng);
  b.lead_warp = static_cast<int>((job.seed + linear) % static_cast<uint64_t>(nwarps));
#ifdef TF_EMU_TSAN
  b.scheduler_tsan = __tsan_get_current_fiber();
#endif

  for (int i = 0; i < nthreads; ++i) {
    Fiber* f = &b.fibers[i];
    if (!f->stack.base) f->stack = allocate_stack();
#ifdef TF_EMU_TSAN
    if (!f->tsan_fiber) f->tsan_fiber = __tsan_create_fiber(0);
#endif
    f->id = i;
    f->warp = i / 32;
    f->lane = i % 32;
    f->block = &b;
    f->index.thread_idx = dim3(i % job.block.x, (i / job.block.x) % job.block.y, i / (job.block.x * job.block.y));
    f->index.block_idx = block_idx;
    f->index.block_dim = job.block;
    f->index.grid_dim = job.grid;
    f->copies.clear();
    f->group_ends.clear();
    b.warps[f->warp].present |= 1u << f->lane;
    prepare_fiber(f);
    make_ready(b, f);
  }

#ifdef TF_EMU_TSAN
  __tsan_release(&b);
#endif
  while (!b.failed) {
    Fiber* next = pick_next(b);
    if (!next) break;
#ifdef TF_EMU_TSAN
    __tsan_switch_to_fiber(next->tsan_fiber, 0);  // block setup happens before the threads
#endif
    tf_emu_switch_context(&b.scheduler_sp, next->sp);
  }
#ifdef TF_EMU_TSAN
  __tsan_acquire(&b);  // the block's threads happen before the next block on this OS thread
  __tsan_acquire(&b.finished_sync);
#endif
  if (!b.failed && b.done < b.nthreads) {
    b.failed = true;
    b.error_code = kErrDeadlock;
    b.error = describe_deadlock(b);
  }
  if (b.failed) {
    *error = b.error;
    return b.error_code;
  }
  return 0;
}

}  // namespace tf_emu
