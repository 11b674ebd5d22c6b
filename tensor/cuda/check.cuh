// check.cuh — CUDA_CHECK: every CUDA runtime call checked, with file and line in the message.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#define CUDA_CHECK(call)                                                                    \
  do {                                                                                      \
    cudaError_t err_ = (call);                                                              \
    if (err_ != cudaSuccess) {                                                              \
      throw std::runtime_error(std::string("CUDA error at ") + __FILE__ + ":" +             \
                               std::to_string(__LINE__) + ": " + cudaGetErrorString(err_) + \
                               " (" #call ")");                                             \
    }                                                                                       \
  } while (0)

// After every kernel launch: launch-configuration errors surface here, not at a later sync.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
