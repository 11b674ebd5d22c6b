// nccl.cpp — this rank's GPU and NCCL's allreduce on device buffers (see nccl.h). Built only in
// a CUDA build; the NCCL calls only when NCCL was found (TG_HAVE_NCCL), the way llm.c does it:
// one process per GPU, rank 0 calls ncclGetUniqueId, MPI broadcasts the id, every rank calls
// ncclCommInitRank, then ncclAllReduce on the default stream.
#include "nn/nccl.h"

#include <cuda_runtime.h>

#include <cstring>
#include <stdexcept>
#include <string>

#ifdef TG_HAVE_NCCL
#include <nccl.h>
#endif

namespace tg::nn::detail {

namespace {

void cuda_check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
  }
}

#ifdef TG_HAVE_NCCL
void nccl_check(ncclResult_t status, const char* what) {
  if (status != ncclSuccess) {
    throw std::runtime_error(std::string(what) + ": " + ncclGetErrorString(status));
  }
}

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return ncclFloat32;
    case DType::F64:
      return ncclFloat64;
    case DType::I64:
      return ncclInt64;
  }
  return ncclFloat32;
}
#endif

}  // namespace

int gpu_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return count;
}

void select_gpu(int local_rank) {
  const int count = gpu_count();
  if (count == 0) {
    throw std::runtime_error("use_device: no CUDA device is available on this machine");
  }
  cuda_check(cudaSetDevice(local_rank % count), "cudaSetDevice");
}

std::unique_ptr<Communicator::Nccl> nccl_connect(const Communicator& world) {
#ifdef TG_HAVE_NCCL
  ncclUniqueId id;
  std::string bytes(sizeof id, '\0');
  if (world.is_root()) {
    nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    bytes.assign(reinterpret_cast<const char*>(&id), sizeof id);
  }
  world.broadcast(bytes);
  std::memcpy(&id, bytes.data(), sizeof id);
  ncclComm_t comm;
  nccl_check(ncclCommInitRank(&comm, world.size(), id, world.rank()), "ncclCommInitRank");
  auto nccl = std::make_unique<Communicator::Nccl>();
  nccl->comm = comm;
  return nccl;
#else
  (void)world;
  return nullptr;
#endif
}

void nccl_allreduce_sum(const Communicator::Nccl& nccl, const void* send, void* recv, int64_t count,
                        DType dtype) {
#ifdef TG_HAVE_NCCL
  nccl_check(ncclAllReduce(send, recv, static_cast<size_t>(count), nccl_type(dtype), ncclSum,
                           static_cast<ncclComm_t>(nccl.comm), /*stream=*/0),
             "ncclAllReduce");
#else
  (void)nccl, (void)send, (void)recv, (void)count, (void)dtype;
  throw std::logic_error("nccl_allreduce_sum: built without NCCL");
#endif
}

}  // namespace tg::nn::detail
