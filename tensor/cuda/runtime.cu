// runtime.cu — the CUDA side of device.h / storage.h: is there a GPU, device memory, copies.
//
// The caching device allocator and the kernels are the CUDA backend's issue; this file holds
// only what the CPU build needs to talk to a device: availability, malloc/free and host<->device
// copies, each call checked.
#include <cstdint>

#include "tensor/cuda/check.cuh"
#include "tensor/device.h"

namespace tg {

bool cuda_available() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return false;
  }
  return count > 0;
}

void* cuda_malloc(int64_t nbytes) {
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, static_cast<size_t>(nbytes)));
  return p;
}

void cuda_free(void* p) { cudaFree(p); }

void cuda_copy(void* dst, const void* src, int64_t nbytes, Device dst_device, Device src_device) {
  cudaMemcpyKind kind = cudaMemcpyDeviceToDevice;
  if (dst_device == Device::CPU) kind = cudaMemcpyDeviceToHost;
  if (src_device == Device::CPU) kind = cudaMemcpyHostToDevice;
  CUDA_CHECK(cudaMemcpy(dst, src, static_cast<size_t>(nbytes), kind));
}

}  // namespace tg
