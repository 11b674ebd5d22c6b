// distributed.cpp — the communicator on MPI, NCCL for GPU buffers (see distributed.h).
//
// Without TG_HAVE_MPI only the one-process communicator exists (every collective the identity);
// world() then refuses a launch by mpirun with more than one rank rather than run P copies that
// each think they are alone.
#include "nn/distributed.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "nn/nccl.h"
#include "tensor/ops.h"

#ifdef TG_HAVE_MPI
#include <mpi.h>
#endif

namespace tg::nn {

namespace {

// The integer in environment variable `name`, or nothing.
bool env_int(const char* name, int& value) {
  const char* text = std::getenv(name);
  if (!text || !*text) return false;
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (*end != '\0') return false;
  value = static_cast<int>(v);
  return true;
}

// Contiguous buffers of the same size, dtype and device, or std::invalid_argument.
void check_pair(const Tensor& send, const Tensor& recv, const char* op) {
  if (!send.is_contiguous() || !recv.is_contiguous() || send.numel() != recv.numel() ||
      send.dtype() != recv.dtype() || send.device() != recv.device()) {
    throw std::invalid_argument(std::string(op) + ": send " + send.describe() + " and receive " +
                                recv.describe() + " must be contiguous and alike");
  }
}

#ifdef TG_HAVE_MPI
MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return MPI_FLOAT;
    case DType::F64:
      return MPI_DOUBLE;
    case DType::I64:
      return MPI_INT64_T;
  }
  return MPI_BYTE;
}

// MPI counts are int: long buffers go in chunks of at most 2^30 elements.
constexpr int64_t kChunk = int64_t{1} << 30;

void mpi_allreduce(const void* send, void* recv, int64_t count, DType dtype, MPI_Op op) {
  const int64_t width = dtype_size(dtype);
  for (int64_t first = 0; first < count; first += kChunk) {
    const int n = static_cast<int>(std::min(kChunk, count - first));
    char* r = static_cast<char*>(recv) + first * width;
    const void* s = send == recv ? MPI_IN_PLACE : static_cast<const char*>(send) + first * width;
    MPI_Allreduce(s, r, n, mpi_type(dtype), op, MPI_COMM_WORLD);
  }
}

void mpi_broadcast(void* data, int64_t bytes, int root) {
  for (int64_t first = 0; first < bytes; first += kChunk) {
    const int n = static_cast<int>(std::min(kChunk, bytes - first));
    MPI_Bcast(static_cast<char*>(data) + first, n, MPI_BYTE, root, MPI_COMM_WORLD);
  }
}
#endif

}  // namespace

Launch launch_from_environment() {
  Launch l;
  if (env_int("OMPI_COMM_WORLD_SIZE", l.size)) {  // Open MPI's mpirun
    l.by_launcher = true;
    env_int("OMPI_COMM_WORLD_RANK", l.rank);
    env_int("OMPI_COMM_WORLD_LOCAL_RANK", l.local_rank);
    env_int("OMPI_COMM_WORLD_LOCAL_SIZE", l.local_size);
  } else if (env_int("PMI_SIZE", l.size)) {  // MPICH's hydra
    l.by_launcher = true;
    env_int("PMI_RANK", l.rank);
    env_int("MPI_LOCALRANKID", l.local_rank);
    env_int("MPI_LOCALNRANKS", l.local_size);
  } else if (env_int("PMIX_RANK", l.rank)) {  // a PMIx launcher (size known after MPI_Init)
    l.by_launcher = true;
  }
  return l;
}

bool mpi_built() {
#ifdef TG_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool nccl_built() {
#ifdef TG_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

int visible_gpus() {
#ifdef TG_HAVE_CUDA
  return detail::gpu_count();
#else
  return 0;
#endif
}

Communicator& Communicator::world() {
  static Communicator world = [] {
    const Launch launch = launch_from_environment();
    if (launch.by_launcher && launch.size > 1 && !mpi_built()) {
      throw std::runtime_error("started by an MPI launcher as one of " +
                               std::to_string(launch.size) +
                               " processes, but this build has no MPI (install libopenmpi-dev "
                               "and configure again)");
    }
    return Communicator(launch.by_launcher && mpi_built());
  }();
  return world;
}

Communicator& Communicator::single_process() {
  static Communicator single(false);
  return single;
}

Communicator::Communicator(bool use_mpi) : mpi_(use_mpi) {
#ifdef TG_HAVE_MPI
  if (!mpi_) return;
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    int provided = 0;  // only the main thread calls MPI; OpenMP threads never do
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
#endif
}

// The NCCL communicator is left to the end of the process: at static destruction the CUDA
// runtime is already gone, and ncclCommDestroy would fail there.
Communicator::~Communicator() {
  if (nccl_) nccl_.release();
#ifdef TG_HAVE_MPI
  if (!mpi_) return;
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (!finalised) MPI_Finalize();
#endif
}

void Communicator::allreduce_sum(const Tensor& send, Tensor& recv) const {
  check_pair(send, recv, "allreduce_sum");
  const bool in_place = send.raw_data() == recv.raw_data();
  if (!mpi_ || size_ == 1) {
    if (!in_place) recv.copy_(send);
    return;
  }
  if (send.device() == Device::CUDA) {
#ifdef TG_HAVE_CUDA  // nn/nccl.cpp is compiled (without CUDA, nccl_ is never set)
    if (nccl_) {
      detail::nccl_allreduce_sum(*nccl_, send.raw_device_data(), recv.raw_device_data(),
                                 send.numel(), send.dtype());
      return;
    }
#endif
    Tensor host = send.to(Device::CPU).contiguous().clone();  // staged through the host
    allreduce_sum(host);
    recv.copy_(host);
    return;
  }
#ifdef TG_HAVE_MPI
  mpi_allreduce(send.raw_data(), recv.raw_data(), send.numel(), send.dtype(), MPI_SUM);
#endif
}

void Communicator::allreduce_sum(std::vector<double>& values) const {
#ifdef TG_HAVE_MPI
  if (mpi_ && size_ > 1) {
    mpi_allreduce(values.data(), values.data(), static_cast<int64_t>(values.size()), DType::F64,
                  MPI_SUM);
  }
#else
  (void)values;
#endif
}

int64_t Communicator::allreduce_min(int64_t value) const {
#ifdef TG_HAVE_MPI
  if (mpi_ && size_ > 1) mpi_allreduce(&value, &value, 1, DType::I64, MPI_MIN);
#endif
  return value;
}

int64_t Communicator::allreduce_max(int64_t value) const {
#ifdef TG_HAVE_MPI
  if (mpi_ && size_ > 1) mpi_allreduce(&value, &value, 1, DType::I64, MPI_MAX);
#endif
  return value;
}

void Communicator::broadcast(Tensor& buffer, int root) const {
  if (!mpi_ || size_ == 1) return;
  if (!buffer.is_contiguous()) {
    throw std::invalid_argument("broadcast: " + buffer.describe() + " is not contiguous");
  }
  Tensor host = buffer.device() == Device::CPU ? buffer : buffer.to(Device::CPU).contiguous();
#ifdef TG_HAVE_MPI
  mpi_broadcast(host.raw_data(), host.numel() * dtype_size(host.dtype()), root);
#else
  (void)root;
#endif
  if (buffer.device() != Device::CPU) buffer.copy_(host);
}

void Communicator::broadcast(std::string& text, int root) const {
  if (!mpi_ || size_ == 1) return;
#ifdef TG_HAVE_MPI
  int64_t length = static_cast<int64_t>(text.size());
  MPI_Bcast(&length, 1, MPI_INT64_T, root, MPI_COMM_WORLD);
  text.resize(static_cast<size_t>(length));
  mpi_broadcast(text.data(), length, root);
#else
  (void)root;
#endif
}

std::vector<double> Communicator::gather(const std::vector<double>& values, int root) const {
  if (!mpi_ || size_ == 1) return values;
  std::vector<double> all;
#ifdef TG_HAVE_MPI
  if (values.size() > static_cast<size_t>(INT_MAX)) {
    throw std::invalid_argument("gather: more than INT_MAX values from one rank");
  }
  const int count = static_cast<int>(values.size());
  std::vector<int> counts(rank_ == root ? size_ : 0), offsets(counts.size());
  MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, root, MPI_COMM_WORLD);
  int64_t total = 0;
  for (size_t r = 0; r < counts.size(); ++r) {
    offsets[r] = static_cast<int>(total);
    total += counts[r];
  }
  all.resize(static_cast<size_t>(total));
  MPI_Gatherv(values.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(),
              MPI_DOUBLE, root, MPI_COMM_WORLD);
#else
  (void)root;
#endif
  return all;
}

std::vector<uint64_t> Communicator::all_gather(uint64_t value) const {
  std::vector<uint64_t> all(static_cast<size_t>(size_), value);
#ifdef TG_HAVE_MPI
  if (mpi_ && size_ > 1) {
    MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
  }
#endif
  return all;
}

void Communicator::barrier() const {
#ifdef TG_HAVE_MPI
  if (mpi_ && size_ > 1) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

void Communicator::idle_barrier() const {
#ifdef TG_HAVE_MPI
  if (!mpi_ || size_ == 1) return;
  MPI_Request request;
  MPI_Ibarrier(MPI_COMM_WORLD, &request);
  for (int done = 0;;) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
#endif
}

void Communicator::use_device(Device device) {
  if (device == Device::CPU) return;
#ifdef TG_HAVE_CUDA
  detail::select_gpu(local_rank_);
  if (mpi_ && size_ > 1 && !nccl_) nccl_ = detail::nccl_connect(*this);
#else
  throw std::runtime_error("use_device: tgmm was built without CUDA");
#endif
}

void Communicator::abort(int exit_code) const {
  std::fflush(stdout);
  std::fflush(stderr);
#ifdef TG_HAVE_MPI
  if (mpi_) MPI_Abort(MPI_COMM_WORLD, exit_code);
#endif
  std::exit(exit_code);
}

}  // namespace tg::nn
