// runtime.cu — the CUDA side of device.h: is there a GPU, host<->device copies, synchronisation.
//
// Everything runs on the legacy default stream (stream 0): one stream, so kernels, cuBLAS calls
// and copies execute in the order they are issued. A device-to-host cudaMemcpy waits for the
// queued work that produced its source; that is the only place the host waits.
#include <cstdint>

#include "tensor/cuda/check.cuh"
#include "tensor/device.h"

namespace tg {

bool cuda_available() {
  static const bool available = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky "no device" error
      return false;
    }
    return count > 0;
  }();
  return available;
}

void cuda_copy(void* dst, const void* src, int64_t nbytes, Device dst_device, Device src_device) {
  if (nbytes == 0) return;
  cudaMemcpyKind kind = cudaMemcpyDeviceToDevice;
  if (dst_device == Device::CPU) kind = cudaMemcpyDeviceToHost;
  if (src_device == Device::CPU) kind = cudaMemcpyHostToDevice;
  CUDA_CHECK(cudaMemcpy(dst, src, static_cast<size_t>(nbytes), kind));
}

void cuda_synchronize() {
  if (cuda_available()) CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace tg
