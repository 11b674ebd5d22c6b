// distributed.h — the processes of a data-parallel run and the collectives between them, on MPI
// (host buffers) and NCCL (GPU buffers). We use those engines; nothing here moves bytes itself.
//
// Launch. A program started by a launcher (mpirun) is one rank of P: Communicator::world()
// initialises MPI at its first call (and finalises it at exit) and spans MPI_COMM_WORLD. A
// program started on its own gets a one-process communicator (rank 0 of 1) that makes no MPI call
// at all: every collective is then the identity, so a single process runs exactly as it would
// without this file. Whether a launcher started us is read from the environment
// (launch_from_environment: Open MPI's OMPI_COMM_WORLD_*, PMIx's PMIX_RANK, MPICH's PMI_*).
//
// Ranks. rank in [0, size); local_rank / local_size count the ranks on this machine (MPI's
// shared-memory split), which pick the GPU (use_device) and the default thread count.
//
// Collectives. Every rank must call the same collectives in the same order, with buffers of the
// same shape and dtype (the callers keep that contract; a mismatch is undefined, as in MPI).
// Buffers are contiguous tensors of f32, f64 or i64 (bool flags travel as i64). allreduce_sum on
// a GPU tensor goes through NCCL once use_device(CUDA) has set it up (else through the host).
// The result of a floating-point sum may depend on P and on the algorithm MPI picks (summation
// order); every rank gets the same bits in practice, and the training checks that its replicas
// stay identical (data_parallel.h, parameter_checksum).
//
// Failure. A rank that throws must not leave the others waiting in a collective: programs end
// the job with abort() (MPI_Abort: mpirun stops every rank), and mpirun itself ends the job when
// a rank dies. Waiting ranks spin on a core inside MPI; idle_barrier() waits asleep instead, for
// the places where one rank works alone for a while (the baselines, rank 0's benchmark).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace tg::nn {

// What the environment says about how this process was started (no MPI call).
struct Launch {
  bool by_launcher = false;  // started by mpirun (or another MPI launcher)
  int rank = 0, size = 1;
  int local_rank = 0, local_size = 1;  // on this machine; 0 and 1 when the launcher did not say
};
Launch launch_from_environment();

// True when this build has MPI (TG_HAVE_MPI) / NCCL (TG_HAVE_NCCL).
bool mpi_built();
bool nccl_built();
// The GPUs this process can see (0 without CUDA or without a GPU).
int visible_gpus();

class Communicator {
 public:
  // Every process of this launch (see above). The first call initialises MPI when launched.
  static Communicator& world();
  // This process alone, whatever the launch (rank 0 of 1, no MPI call).
  static Communicator& single_process();

  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  bool is_root() const { return rank_ == 0; }
  bool distributed() const { return size_ > 1; }

  // recv = the sum over ranks of send (in place when they are the same tensor). Same shape,
  // dtype and device on every rank; CPU through MPI, CUDA through NCCL (or the host).
  void allreduce_sum(const Tensor& send, Tensor& recv) const;
  void allreduce_sum(Tensor& buffer) const { allreduce_sum(buffer, buffer); }
  void allreduce_sum(std::vector<double>& values) const;
  int64_t allreduce_min(int64_t value) const;
  int64_t allreduce_max(int64_t value) const;
  bool any(bool flag) const { return allreduce_max(flag ? 1 : 0) != 0; }

  // root's contents into every rank's buffer (same shape and dtype everywhere; any device).
  void broadcast(Tensor& buffer, int root = 0) const;
  // root's text to every rank (any length: the length travels first).
  void broadcast(std::string& text, int root = 0) const;

  // On root: every rank's values concatenated in rank order (the counts may differ); elsewhere
  // empty.
  std::vector<double> gather(const std::vector<double>& values, int root = 0) const;
  // On every rank: every rank's value, in rank order.
  std::vector<uint64_t> all_gather(uint64_t value) const;

  void barrier() const;
  // A barrier that sleeps (1 ms at a time) instead of spinning while it waits.
  void idle_barrier() const;

  // For training on `device`. CUDA: this rank's GPU becomes local_rank % (GPUs on the machine)
  // and, with P > 1 and NCCL built, NCCL is set up (rank 0 makes the unique id, MPI broadcasts
  // it). Call before anything is allocated on the GPU. CPU: nothing.
  void use_device(Device device);
  // Whether allreduce_sum of a GPU buffer goes through NCCL (else it is staged through the host).
  bool device_collectives() const { return nccl_ != nullptr; }

  // Ends every rank of the job with `exit_code` (MPI_Abort); a single process just exits.
  [[noreturn]] void abort(int exit_code) const;

  struct Nccl;  // the NCCL communicator (nn/nccl.cpp), when set up

 private:
  Communicator(bool use_mpi);

  bool mpi_ = false;  // false: one process, no MPI call
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  std::unique_ptr<Nccl> nccl_;
};

}  // namespace tg::nn
