// storage.cpp — Storage, and CPU allocation through the size-class cache (size_class_cache.h).
//
// CPU blocks are at least 64 bytes, 64-byte aligned. The cache is bounded by half the machine's
// memory (max_cached_bytes()); past that, freed blocks go straight back to the system. The bound
// must exceed a training step's working set: in a training loop the cache holds what one step
// freed for the next, so memory stays at the step's peak. (At the paper's size a step's
// activations are ~5 GB; with a fixed 2 GiB bound every step re-faulted its pages and took 9.6 s
// instead of 7.6, docs/performance.md.)
#include "tensor/storage.h"

#include <unistd.h>

#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

#include "tensor/size_class_cache.h"

namespace tg {

void* cuda_malloc(int64_t nbytes);  // tensor/cuda/ (or its stub)
void cuda_free(void* ptr, int64_t nbytes);

namespace {

constexpr int64_t kAlignment = 64;

// Half the machine's memory.
int64_t max_cached_bytes() {
  static const int64_t bytes = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page / 2 : int64_t{2} << 30;
  }();
  return bytes;
}

// Under AddressSanitizer nothing is cached: every block goes back to the system, so a use after
// free is caught instead of landing in a recycled block.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCache = false;
#else
constexpr bool kCache = true;
#endif

SizeClassCache& cache() {
  // 64-byte blocks and up. Never destroyed: Storages may outlive static teardown.
  static SizeClassCache* c = new SizeClassCache(6);
  return *c;
}

void* cpu_malloc(int64_t nbytes) {
  return cache().allocate(nbytes, [](int64_t block) {
    void* p = std::aligned_alloc(kAlignment, static_cast<size_t>(block));
    if (!p) throw std::bad_alloc();
    return p;
  });
}

void cpu_free(void* p, int64_t nbytes) {
  cache().deallocate(p, nbytes, kCache ? max_cached_bytes() : 0, [](void* q) { std::free(q); });
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

AllocatorStats cpu_allocator_stats() { return cache().stats(); }

void cpu_allocator_release_cache() {
  cache().release([](void* p) { std::free(p); });
}

}  // namespace tg
