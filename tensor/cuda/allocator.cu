// allocator.cu — the caching device allocator behind Storage on Device::CUDA.
//
// cudaMalloc and cudaFree are slow (cudaFree synchronises the whole device), and a training step
// allocates the same buffer sizes every step. So, as on the CPU (storage.cpp), blocks are rounded
// up to a power of two (at least 512 bytes) and kept, when freed, in a free list per size class;
// after the first step a step calls cudaMalloc no more. Reuse is exact per class: no splitting, no
// coalescing, up to 2x slack per block.
//
// Why reuse is safe without events: all work runs on one stream, in order. A block freed by the
// host while kernels that read it are still queued can be handed out at once, because any kernel
// that writes the new owner's data is queued after them.
//
// When cudaMalloc fails, the cache is released and the call retried once before giving up.
#include <cstdint>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/cuda/check.cuh"
#include "tensor/storage.h"

namespace tg {

namespace {

constexpr int kMinClass = 9;  // 512 bytes
constexpr int kClasses = 48;

struct DeviceCache {
  std::mutex mutex;
  std::vector<void*> free_lists[kClasses];
  AllocatorStats stats;
};

DeviceCache& cache() {
  static DeviceCache* c = new DeviceCache();  // never destroyed: Storages may outlive teardown
  return *c;
}

int size_class(int64_t nbytes) {
  int c = kMinClass;
  while ((int64_t{1} << c) < nbytes) ++c;
  return c;
}

// Give every cached block back to the driver; the caller holds the lock.
void release_locked(DeviceCache& k) {
  for (auto& list : k.free_lists) {
    for (void* p : list) CUDA_CHECK(cudaFree(p));
    list.clear();
  }
  k.stats.cached_bytes = 0;
}

}  // namespace

void* cuda_malloc(int64_t nbytes) {
  const int c = size_class(nbytes);
  if (c >= kClasses) throw std::bad_alloc();
  const int64_t block = int64_t{1} << c;
  DeviceCache& k = cache();
  std::lock_guard<std::mutex> lock(k.mutex);
  void* p = nullptr;
  if (!k.free_lists[c].empty()) {
    p = k.free_lists[c].back();
    k.free_lists[c].pop_back();
    k.stats.cached_bytes -= block;
  } else {
    const cudaError_t first = cudaMalloc(&p, static_cast<size_t>(block));
    if (first == cudaErrorMemoryAllocation) {
      // Out of memory: clear the error, wait until no queued kernel can still read a cached
      // block, free the cache, and try once more.
      cudaGetLastError();
      CUDA_CHECK(cudaDeviceSynchronize());
      release_locked(k);
      CUDA_CHECK(cudaMalloc(&p, static_cast<size_t>(block)));
    } else {
      CUDA_CHECK(first);  // any other error (e.g. a sticky fault from an earlier kernel)
    }
    ++k.stats.mallocs;
  }
  k.stats.live_bytes += block;
  if (k.stats.live_bytes > k.stats.peak_bytes) k.stats.peak_bytes = k.stats.live_bytes;
  return p;
}

void cuda_free(void* p, int64_t nbytes) {
  const int c = size_class(nbytes);
  const int64_t block = int64_t{1} << c;
  DeviceCache& k = cache();
  std::lock_guard<std::mutex> lock(k.mutex);
  k.stats.live_bytes -= block;
  k.free_lists[c].push_back(p);
  k.stats.cached_bytes += block;
}

AllocatorStats cuda_allocator_stats() {
  std::lock_guard<std::mutex> lock(cache().mutex);
  return cache().stats;
}

void cuda_allocator_release_cache() {
  DeviceCache& k = cache();
  std::lock_guard<std::mutex> lock(k.mutex);
  CUDA_CHECK(cudaDeviceSynchronize());  // no queued kernel may still use a block we free
  release_locked(k);
}

}  // namespace tg
