// emu_fiber.cpp: fiber stacks and the context switch (x86-64 System V).
//
// Why hand-written: ucontext's swapcontext makes a sigprocmask syscall per switch; this switch
// saves only the callee-saved registers on the outgoing stack and swaps stack pointers, about
// twice as fast overall (measured on the prototype). Emulated kernels switch at every barrier
// and warp collective, i.e. up to 64 switches per mma, so this is the emulator's hot path.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "emu_internal.h"

#if !defined(__x86_64__)
#error "the Transfuse emulator's context switch is written for x86-64"
#endif

// tf_emu_switch_context(void** save_sp, void* load_sp):
//   push the callee-saved registers, store rsp in *save_sp, load rsp, pop them, return into
//   the resumed context. A fresh fiber's stack is prepared to "return" into the trampoline.
// tf_emu_fiber_trampoline: first code of a new fiber; r12 holds the Fiber*.
asm(R"(
  .text
  .globl tf_emu_switch_context
  .hidden tf_emu_switch_context
  .type tf_emu_switch_context, @function
  .p2align 4
tf_emu_switch_context:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size tf_emu_switch_context, .-tf_emu_switch_context

  .globl tf_emu_fiber_trampoline
  .hidden tf_emu_fiber_trampoline
  .type tf_emu_fiber_trampoline, @function
  .p2align 4
tf_emu_fiber_trampoline:
  movq %r12, %rdi
  call tf_emu_fiber_entry
  ud2
  .size tf_emu_fiber_trampoline, .-tf_emu_fiber_trampoline
)");

extern "C" void tf_emu_fiber_trampoline();
extern "C" __attribute__((visibility("hidden"), used)) void tf_emu_fiber_entry(tf_emu::Fiber* f) {
  tf_emu::fiber_main(f);
}

namespace tf_emu {

FiberStack allocate_stack() {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t size = kFiberStackBytes;
  // Map twice the size, keep the aligned middle, give back the rest.
  char* raw = static_cast<char*>(
      mmap(nullptr, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  if (raw == MAP_FAILED) {
    std::perror("tf_emu: mmap of a fiber stack");
    std::abort();
  }
  char* base = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(raw) + size - 1) & ~(size - 1));
  if (base > raw) munmap(raw, static_cast<size_t>(base - raw));
  if (raw + 2 * size > base + size) munmap(base + size, static_cast<size_t>(raw + 2 * size - (base + size)));
  mprotect(base, page, PROT_NONE);  // guard page: a stack overflow faults instead of corrupting
  return FiberStack{base, size};
}

Fiber* current_fiber() {
  uintptr_t sp;
  asm volatile("movq %%rsp, %0" : "=r"(sp));
  return *reinterpret_cast<Fiber* const*>(fiber_stack_header(sp));
}

void prepare_fiber(Fiber* f) {
  // Frame popped by the first switch: r15 r14 r13 r12 rbx rbp, then the return address.
  // After the ret, rsp must be 16-byte aligned so that the trampoline's call sees the ABI's
  // entry alignment (rsp % 16 == 8 inside tf_emu_fiber_entry).
  const uintptr_t header = fiber_stack_header(reinterpret_cast<uintptr_t>(f->stack.base));
  *reinterpret_cast<Fiber**>(header) = f;       // Fiber starts with its ThreadIndex
  const uintptr_t top = header - 64;            // 16-byte aligned, below the header
  auto* frame = reinterpret_cast<uintptr_t*>(top - 7 * sizeof(uintptr_t));
  frame[0] = 0;                                  // r15
  frame[1] = 0;                                  // r14
  frame[2] = 0;                                  // r13
  frame[3] = reinterpret_cast<uintptr_t>(f);     // r12 -> first argument of the entry
  frame[4] = 0;                                  // rbx
  frame[5] = 0;                                  // rbp
  frame[6] = reinterpret_cast<uintptr_t>(&tf_emu_fiber_trampoline);
  f->sp = frame;
}

}  // namespace tf_emu
