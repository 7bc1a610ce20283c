// host_cuda_stub/cuda_runtime.h: the few CUDA runtime calls gpu_test_memory.cu makes, on plain host memory, so
// ctest checks its pool, its "each" mode and its operator new/delete on a machine without a GPU
// (gpu_test_memory_on_host.*: emu_norm.cpp on the emulator with every heap buffer from gpu_test_memory.cu).
// "Managed" allocations are remembered in an open-addressing table so cudaPointerGetAttributes can answer.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
typedef int cudaError_t;
constexpr cudaError_t cudaSuccess = 0;
constexpr unsigned cudaMemAttachGlobal = 1;
struct cudaDeviceProp { char name[256]; int major, minor; };
enum cudaMemoryType { cudaMemoryTypeUnregistered = 0, cudaMemoryTypeManaged = 3 };
struct cudaPointerAttributes { cudaMemoryType type; };
constexpr size_t kSlots = size_t(1) << 22;
inline const void** stub_slots() { static const void** s = (const void**)calloc(kSlots, sizeof(void*)); return s; }
inline size_t stub_find(const void* p) { size_t h = (uintptr_t(p) >> 4) * 0x9E3779B97F4A7C15ull >> 42; while (stub_slots()[h] && stub_slots()[h] != p) h = (h + 1) % kSlots; return h; }
inline cudaError_t cudaMallocManaged(void** p, size_t n, unsigned) { int rc = posix_memalign(p, 256, n); stub_slots()[stub_find(*p)] = *p; return rc; }
inline cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* a, const void* p) {
  const void* base = (const char*)p - 16;  // "each" mode's offset for alignments <= 16
  a->type = stub_slots()[stub_find(base)] == base ? cudaMemoryTypeManaged : cudaMemoryTypeUnregistered; return 0; }
inline cudaError_t cudaFree(void* p) { stub_slots()[stub_find(p)] = (const void*)1; free(p); return 0; }  // tombstone
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) { std::strcpy(p->name, "host stub"); p->major = 0; p->minor = 0; return 0; }
inline cudaError_t cudaDeviceSynchronize() { return 0; }
inline const char* cudaGetErrorName(cudaError_t) { return "stub"; }
inline const char* cudaGetErrorString(cudaError_t) { return "stub"; }
