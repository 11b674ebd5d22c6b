// storage.cpp — CPU allocation with a size-bucketed cache (see storage.h).
//
// Blocks are rounded up to a power of two (at least 64 bytes) and kept, when freed, in a free list
// per size class. Reuse is exact per class, so there is no splitting or coalescing to reason about;
// the price is up to 2x slack on a block, which is fine for tensors. The cache is bounded by half
// the machine's memory (max_cached_bytes()); past that, freed blocks go straight back to the
// system. The bound must exceed a training step's working set: in a training loop the cache holds
// what one step freed for the next, so memory stays at the step's peak. (At the paper's size a step's
// activations are ~5 GB; with the earlier fixed 2 GiB bound every step re-faulted its pages and
// took 9.6 s instead of 7.6, docs/performance.md.)
#include "tensor/storage.h"

#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace tg {

void* cuda_malloc(int64_t nbytes);  // tensor/cuda/ (or its stub)
void cuda_free(void* ptr, int64_t nbytes);

namespace {

constexpr int64_t kAlignment = 64;
int64_t max_cached_bytes() {
  static const int64_t bytes = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page / 2 : int64_t{2} << 30;
  }();
  return bytes;
}
constexpr int kClasses = 48;

struct CpuCache {
  std::mutex mutex;
  std::vector<void*> free_lists[kClasses];
  AllocatorStats stats;
};

CpuCache& cache() {
  static CpuCache* c = new CpuCache();  // never destroyed: Storages may outlive static teardown
  return *c;
}

int size_class(int64_t nbytes) {
  int c = 6;  // 64 bytes
  while ((int64_t{1} << c) < nbytes) ++c;
  return c;
}

void* cpu_malloc(int64_t nbytes) {
  const int c = size_class(nbytes);
  if (c >= kClasses) throw std::bad_alloc();
  CpuCache& k = cache();
  std::lock_guard<std::mutex> lock(k.mutex);
  const int64_t block = int64_t{1} << c;
  void* p = nullptr;
  if (!k.free_lists[c].empty()) {
    p = k.free_lists[c].back();
    k.free_lists[c].pop_back();
    k.stats.cached_bytes -= block;
  } else {
    p = std::aligned_alloc(kAlignment, static_cast<size_t>(block));
    if (!p) throw std::bad_alloc();
    ++k.stats.mallocs;
  }
  k.stats.live_bytes += block;
  if (k.stats.live_bytes > k.stats.peak_bytes) k.stats.peak_bytes = k.stats.live_bytes;
  return p;
}

void cpu_free(void* p, int64_t nbytes) {
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer every block goes back to the system, so a use after free is caught
  // instead of landing in a recycled block.
  const int64_t block0 = int64_t{1} << size_class(nbytes);
  std::lock_guard<std::mutex> lock0(cache().mutex);
  cache().stats.live_bytes -= block0;
  std::free(p);
  return;
#endif
  const int c = size_class(nbytes);
  const int64_t block = int64_t{1} << c;
  CpuCache& k = cache();
  std::lock_guard<std::mutex> lock(k.mutex);
  k.stats.live_bytes -= block;
  if (k.stats.cached_bytes + block <= max_cached_bytes()) {
    k.free_lists[c].push_back(p);
    k.stats.cached_bytes += block;
  } else {
    std::free(p);
  }
}

}  // namespace

Storage::Storage(int64_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (nbytes < 0) throw std::invalid_argument("Storage: negative size " + std::to_string(nbytes));
  const int64_t n = nbytes > 0 ? nbytes : 1;  // never a null pointer, even for empty tensors
  data_ = device == Device::CPU ? cpu_malloc(n) : cuda_malloc(n);
}

Storage::~Storage() {
  if (device_ == Device::CPU) {
    cpu_free(data_, nbytes_ > 0 ? nbytes_ : 1);
  } else {
    cuda_free(data_, nbytes_ > 0 ? nbytes_ : 1);
  }
}

AllocatorStats cpu_allocator_stats() {
  std::lock_guard<std::mutex> lock(cache().mutex);
  return cache().stats;
}

void cpu_allocator_release_cache() {
  CpuCache& k = cache();
  std::lock_guard<std::mutex> lock(k.mutex);
  for (auto& list : k.free_lists) {
    for (void* p : list) std::free(p);
    list.clear();
  }
  k.stats.cached_bytes = 0;
}

}  // namespace tg
