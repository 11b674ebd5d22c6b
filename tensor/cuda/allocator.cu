// allocator.cu — the caching device allocator behind Storage on Device::CUDA.
//
// cudaMalloc and cudaFree are slow (cudaFree synchronises the whole device), and a training step
// allocates the same buffer sizes every step. So, as on the CPU (storage.cpp), freed blocks are
// kept by size class (size_class_cache.h; at least 512 bytes) and reused: after the first step a
// step calls cudaMalloc no more.
//
// Why reuse is safe without events: all work runs on one stream, in order. A block freed by the
// host while kernels that read it are still queued can be handed out at once, because any kernel
// that writes the new owner's data is queued after them.
//
// When cudaMalloc fails, the cache is released and the call retried once before giving up.
#include <cstdint>
#include <limits>

#include "tensor/cuda/check.cuh"
#include "tensor/size_class_cache.h"
#include "tensor/storage.h"

namespace tg {

namespace {

void free_block(void* p) { CUDA_CHECK(cudaFree(p)); }

SizeClassCache& cache() {
  // 512-byte blocks and up. Never destroyed: Storages may outlive static teardown.
  static SizeClassCache* c = new SizeClassCache(9);
  return *c;
}

// cudaMalloc; when it runs out of memory, clear the error, wait until no queued kernel can still
// read a cached block, free the cache, and try once more. Runs under the cache's lock.
void* device_malloc(int64_t block) {
  void* p = nullptr;
  const cudaError_t first = cudaMalloc(&p, static_cast<size_t>(block));
  if (first == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    CUDA_CHECK(cudaDeviceSynchronize());
    cache().release_locked(free_block);
    CUDA_CHECK(cudaMalloc(&p, static_cast<size_t>(block)));
  } else {
    CUDA_CHECK(first);  // any other error (e.g. a sticky fault from an earlier kernel)
  }
  return p;
}

}  // namespace

void* cuda_malloc(int64_t nbytes) { return cache().allocate(nbytes, device_malloc); }

void cuda_free(void* p, int64_t nbytes) {
  // Unbounded: when device memory runs out, device_malloc releases the cache instead.
  cache().deallocate(p, nbytes, std::numeric_limits<int64_t>::max(), free_block);
}

AllocatorStats cuda_allocator_stats() { return cache().stats(); }

void cuda_allocator_release_cache() {
  CUDA_CHECK(cudaDeviceSynchronize());  // no queued kernel may still use a block we free
  cache().release(free_block);
}

}  // namespace tg
