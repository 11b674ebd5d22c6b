// storage.h — a reference-counted block of memory that Tensors view.
//
// Several Tensors (a tensor and its transposes, slices, reshapes) share one Storage through a
// std::shared_ptr; the memory is freed when the last view goes away. CPU memory is 64-byte
// aligned (one cache line, wide enough for AVX-512 loads). CPU and device memory are each recycled
// by a caching allocator (size_class_cache.h: storage.cpp, cuda/allocator.cu), so a training step
// that allocates the same buffer sizes every step stops calling malloc after the first one.
#pragma once
#include <cstdint>
#include <memory>

#include "tensor/device.h"

namespace tg {

class Storage {
 public:
  Storage(int64_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  int64_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  int64_t nbytes_ = 0;
  Device device_ = Device::CPU;
};

// Statistics of the CPU and CUDA caching allocators (for tests and benchmarks).
struct AllocatorStats {
  int64_t live_bytes = 0;    // held by live Storages
  int64_t cached_bytes = 0;  // freed by Storages, kept for reuse
  int64_t peak_bytes = 0;    // max of live_bytes
  int64_t mallocs = 0;       // calls that reached the system allocator
};
AllocatorStats cpu_allocator_stats();
// Give every cached block back to the system.
void cpu_allocator_release_cache();
// The same for device memory (tensor/cuda/allocator.cu; blocks of at least 512 bytes). All zero
// in a build without CUDA.
AllocatorStats cuda_allocator_stats();
void cuda_allocator_release_cache();

}  // namespace tg
