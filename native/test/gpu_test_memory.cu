// gpu_test_memory.cu: lets the emulated kernel tests (emu_*.cpp) run unchanged on a real GPU.
//
// On the emulator "device memory" is host memory, so the tests hand the kernels pointers into
// std::vector and DBuf storage and read the results right after the call. For the GPU build
// (TRANSFUSE_GPU_TESTS=ON, linked into every gpu_emu_* executable only) two things make that true:
//  1. Every heap allocation made after main() starts comes from one pool of CUDA managed memory
//     (replaced global operator new/delete), so the same pointers are valid on the device and the
//     host. Allocations made before main (the test registry) stay ordinary malloc memory; delete
//     tells the two apart by address.
//  2. Kernel launches are synchronous (CUDA_LAUNCH_BLOCKING=1, set before the first CUDA call), so
//     results are complete when a launcher returns, as on the emulator.
// Stack variables are not device-visible: the tests pass them only to argument checks that fail
// before any launch. At exit a pending device error (illegal address, ...) fails the executable.
//
// The pool: one cudaMallocManaged reservation (TF_GPU_TEST_POOL_MB, default 2048; pages are
// populated on first touch), power-of-two size classes with free lists, bump allocation for new
// blocks. Simple, never returns memory, wastes at most half: enough for test processes.
// TF_GPU_TEST_ALLOC=each gives every allocation a cudaMallocManaged of its own instead (slow), so
// compute-sanitizer memcheck sees each buffer's exact bounds (ci/gpu-test.sh sets it for memcheck).
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unistd.h>

namespace {

constexpr int kClasses = 48;        // block sizes 2^4 .. 2^51
constexpr size_t kHeader = 16;      // keeps user pointers 16-byte aligned

struct Header {
  uint32_t size_class;
  uint32_t offset;  // bytes from the block's start to the user pointer
  uint64_t unused;
};
static_assert(sizeof(Header) == kHeader);

struct Pool {
  std::mutex lock;
  char* base = nullptr;
  size_t size = 0, used = 0;
  void* free_list[kClasses] = {};
  bool ready = false;
  bool each = false;  // TF_GPU_TEST_ALLOC=each: one managed allocation per operator new
};
Pool& pool() {
  static Pool p;  // constant-initialised: usable before any static constructor runs
  return p;
}

int size_class(size_t bytes) {
  int c = 4;
  while (c < kClasses && (size_t(1) << c) < bytes) ++c;
  return c;
}

void* pool_allocate(size_t bytes, size_t align) {
  Pool& p = pool();
  if (align < kHeader) align = kHeader;
  const size_t need = bytes + kHeader + (align - kHeader);
  const int c = size_class(need);
  if (c >= kClasses) return nullptr;
  const size_t block_size = size_t(1) << c;
  char* block;
  {
    std::lock_guard<std::mutex> g(p.lock);
    if (p.free_list[c]) {
      block = static_cast<char*>(p.free_list[c]);
      p.free_list[c] = *reinterpret_cast<void**>(block);
    } else {
      if (p.used + block_size > p.size) return nullptr;
      block = p.base + p.used;
      p.used += block_size;
    }
  }
  const uintptr_t user = (reinterpret_cast<uintptr_t>(block) + kHeader + align - 1) & ~uintptr_t(align - 1);
  Header* h = reinterpret_cast<Header*>(user - kHeader);
  h->size_class = uint32_t(c);
  h->offset = uint32_t(user - reinterpret_cast<uintptr_t>(block));
  return reinterpret_cast<void*>(user);
}

bool in_pool(const void* ptr) {
  const Pool& p = pool();
  return p.ready && ptr >= p.base && ptr < p.base + p.size;
}

void pool_free(void* ptr) {
  Pool& p = pool();
  const Header* h = reinterpret_cast<const Header*>(static_cast<char*>(ptr) - kHeader);
  char* block = static_cast<char*>(ptr) - h->offset;
  const uint32_t c = h->size_class;
  std::lock_guard<std::mutex> g(p.lock);
  *reinterpret_cast<void**>(block) = p.free_list[c];
  p.free_list[c] = block;
}

// One managed allocation for this buffer alone: [base, user) holds the offset, user + bytes is its exact end.
void* each_allocate(size_t bytes, size_t align) {
  const size_t off = align < kHeader ? kHeader : align;
  void* base = nullptr;
  if (cudaMallocManaged(&base, bytes + off, cudaMemAttachGlobal) != cudaSuccess) throw std::bad_alloc();
  char* user = static_cast<char*>(base) + off;
  reinterpret_cast<uint64_t*>(user)[-1] = off;
  return user;
}

bool is_managed(const void* ptr) {
  cudaPointerAttributes attr{};
  return cudaPointerGetAttributes(&attr, ptr) == cudaSuccess && attr.type == cudaMemoryTypeManaged;
}

void* allocate(size_t bytes, size_t align) {
  if (bytes == 0) bytes = 1;
  if (pool().each) return each_allocate(bytes, align);
  if (pool().ready) {
    if (void* p = pool_allocate(bytes, align)) return p;
    std::fprintf(stderr, "gpu test memory: managed pool exhausted (%zu bytes asked; raise TF_GPU_TEST_POOL_MB)\n", bytes);
    throw std::bad_alloc();
  }
  void* p = nullptr;
  if (posix_memalign(&p, align < sizeof(void*) ? sizeof(void*) : align, bytes) != 0) throw std::bad_alloc();
  return p;
}

void release(void* ptr) {
  if (!ptr) return;
  if (pool().each && is_managed(ptr)) {
    cudaFree(static_cast<char*>(ptr) - static_cast<uint64_t*>(ptr)[-1]);
    return;
  }
  if (in_pool(ptr)) pool_free(ptr);
  else std::free(ptr);
}

void check_device_at_exit() {
  const cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess) {
    std::fprintf(stderr, "FAIL device error pending at exit: %s (%s)\n", cudaGetErrorName(e), cudaGetErrorString(e));
    std::fflush(stdout);
    _exit(1);
  }
}

}  // namespace

// Called by tf_test.h's main() (TF_TEST_GPU) before any test runs.
void tf_test_gpu_init() {
  setenv("CUDA_LAUNCH_BLOCKING", "1", 1);
  const char* mb = std::getenv("TF_GPU_TEST_POOL_MB");
  const size_t bytes = size_t(mb ? std::strtoull(mb, nullptr, 10) : 2048) << 20;
  void* base = nullptr;
  const cudaError_t e = cudaMallocManaged(&base, bytes, cudaMemAttachGlobal);
  if (e != cudaSuccess) {
    std::fprintf(stderr, "FAIL gpu test setup: cudaMallocManaged(%zu MiB) failed: %s (%s)\n", bytes >> 20,
                 cudaGetErrorName(e), cudaGetErrorString(e));
    std::exit(2);
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("gpu: %s (sm_%d%d), managed test pool %zu MiB, synchronous launches\n", prop.name, prop.major, prop.minor,
              bytes >> 20);
  Pool& p = pool();
  const char* mode = std::getenv("TF_GPU_TEST_ALLOC");
  p.each = mode && std::strcmp(mode, "each") == 0;
  if (p.each) std::printf("gpu: one managed allocation per buffer (TF_GPU_TEST_ALLOC=each)\n");
  p.base = static_cast<char*>(base);
  p.size = bytes;
  p.ready = true;
  std::atexit(check_device_at_exit);
}

void* operator new(size_t n) { return allocate(n, kHeader); }
void* operator new[](size_t n) { return allocate(n, kHeader); }
void* operator new(size_t n, std::align_val_t a) { return allocate(n, size_t(a)); }
void* operator new[](size_t n, std::align_val_t a) { return allocate(n, size_t(a)); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try { return allocate(n, kHeader); } catch (...) { return nullptr; }
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  try { return allocate(n, kHeader); } catch (...) { return nullptr; }
}
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, size_t) noexcept { release(p); }
void operator delete[](void* p, size_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { release(p); }
