// size_class_cache.h — the caching allocator shared by CPU memory (storage.cpp) and device memory
// (cuda/allocator.cu): blocks rounded up to a power of two and recycled by size class.
//
// A training step allocates the same buffer sizes every step, so a freed block is kept, in a free
// list per size class (2^c bytes), and the next request of that class reuses it: after the first
// step a step calls the system allocator no more. Reuse is exact per class, so there is no
// splitting or coalescing to reason about; the price is up to 2x slack on a block, which is fine
// for tensors. Each backend supplies its system allocation and release (malloc / cudaMalloc and
// their frees) and its bound on cached bytes. Thread-safe: one mutex guards the lists and stats.
#pragma once
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

#include "tensor/storage.h"

namespace tg {

class SizeClassCache {
 public:
  static constexpr int kClasses = 48;  // blocks up to 2^47 bytes

  // Blocks of at least 2^min_class bytes.
  explicit SizeClassCache(int min_class) : min_class_(min_class) {}

  // A block of at least nbytes: a cached one of its class, else system_alloc(block bytes).
  // system_alloc runs under the lock and may call release_locked (to retry after freeing the
  // cache).
  template <class SystemAlloc>
  void* allocate(int64_t nbytes, SystemAlloc&& system_alloc) {
    const int c = size_class(nbytes);
    if (c >= kClasses) throw std::bad_alloc();
    const int64_t block = int64_t{1} << c;
    std::lock_guard<std::mutex> lock(mutex_);
    void* p = nullptr;
    if (!free_lists_[c].empty()) {
      p = free_lists_[c].back();
      free_lists_[c].pop_back();
      stats_.cached_bytes -= block;
    } else {
      p = system_alloc(block);
      ++stats_.mallocs;
    }
    stats_.live_bytes += block;
    if (stats_.live_bytes > stats_.peak_bytes) stats_.peak_bytes = stats_.live_bytes;
    return p;
  }

  // Take back p (allocated for nbytes): cached while the cache stays within max_cached bytes,
  // else given to system_free at once.
  template <class SystemFree>
  void deallocate(void* p, int64_t nbytes, int64_t max_cached, SystemFree&& system_free) {
    const int c = size_class(nbytes);
    const int64_t block = int64_t{1} << c;
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.live_bytes -= block;
    if (stats_.cached_bytes + block <= max_cached) {
      free_lists_[c].push_back(p);
      stats_.cached_bytes += block;
    } else {
      system_free(p);
    }
  }

  // Give every cached block to system_free.
  template <class SystemFree>
  void release(SystemFree&& system_free) {
    std::lock_guard<std::mutex> lock(mutex_);
    release_locked(system_free);
  }
  // The same, for a caller that already holds the lock (a system_alloc retrying).
  template <class SystemFree>
  void release_locked(SystemFree&& system_free) {
    for (auto& list : free_lists_) {
      for (void* p : list) system_free(p);
      list.clear();
    }
    stats_.cached_bytes = 0;
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  int size_class(int64_t nbytes) const {
    int c = min_class_;
    while ((int64_t{1} << c) < nbytes) ++c;
    return c;
  }

  const int min_class_;
  std::mutex mutex_;
  std::vector<void*> free_lists_[kClasses];
  AllocatorStats stats_;
};

}  // namespace tg
