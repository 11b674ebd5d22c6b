// nccl.h — the GPU side of the communicator (distributed.h), private to nn/: picking this rank's
// GPU, and NCCL's allreduce on device buffers. Compiled from nn/nccl.cpp in a CUDA build (NCCL
// parts when NCCL was found too); without CUDA, distributed.cpp refuses GPU collectives itself.
#pragma once
#include <cstdint>
#include <memory>

#include "nn/distributed.h"

namespace tg::nn {

// An NCCL communicator over the same ranks as the MPI one (ncclComm_t, kept opaque here).
struct Communicator::Nccl {
  void* comm = nullptr;
};

namespace detail {

// cudaGetDeviceCount (0 when it fails).
int gpu_count();
// cudaSetDevice(local_rank % number of GPUs); throws when there is no GPU.
void select_gpu(int local_rank);
// NCCL over the ranks of `world` (MPI up, size > 1): rank 0 makes the unique id, world
// broadcasts it, every rank joins. Null when this build has no NCCL.
std::unique_ptr<Communicator::Nccl> nccl_connect(const Communicator& world);
// recv = sum over ranks of send: `count` elements of f32 / f64 / i64 on this rank's GPU, on the
// default stream (ordered after the kernels that produced send).
void nccl_allreduce_sum(const Communicator::Nccl& nccl, const void* send, void* recv, int64_t count,
                        DType dtype);

}  // namespace detail
}  // namespace tg::nn
