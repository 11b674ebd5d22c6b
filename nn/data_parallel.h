// data_parallel.h — data-parallel training over a Communicator (distributed.h): every rank holds
// a full replica of the model and optimiser and trains on its share of each step's batch; the
// pieces below keep the replicas identical. As PyTorch's DistributedDataParallel, but
// synchronous: the gradients are reduced once backward has finished.
//
//   broadcast_parameters       rank 0's parameters and buffers into every rank's model (at the
//                              start, so that every replica begins from the same bits)
//   broadcast_optimizer_state  rank 0's optimiser state into every rank's optimiser (after rank 0
//                              alone has loaded a checkpoint)
//   GradientReducer            after backward: every parameter's gradient becomes the SUM over
//                              ranks (the caller scales its loss so that the sum is the gradient
//                              it wants), in one allreduce over one flat buffer
//   parameter_checksum         a hash of the parameters' and buffers' bytes, compared across
//                              ranks to catch replicas that drifted apart
//
// The flat buffer (n + p) holds the n gradient elements in parameter order, then one presence
// flag per parameter (1 where this rank has a gradient). A parameter that has a gradient on some
// rank and none on another (a readout none of this rank's tasks used) gets the sum of those that
// exist; one without a gradient on every rank keeps none, so the optimiser skips it exactly as
// it would in one process. One buffer, not buckets: the reduction starts after backward ends,
// so there is nothing for buckets to overlap with, and one call moves the same bytes in the
// fewest messages.
#pragma once
#include <cstdint>

#include "nn/distributed.h"
#include "nn/module.h"
#include "nn/optim.h"

namespace tg::nn {

void broadcast_parameters(const Module& model, const Communicator& comm, int root = 0);
void broadcast_optimizer_state(Optimizer& optimizer, const Communicator& comm, int root = 0);

class GradientReducer {
 public:
  explicit GradientReducer(const Communicator& comm) : comm_(comm) {}

  // Every gradient of `params` summed over the ranks, in place (see above). The parameters must
  // share one dtype and device (std::invalid_argument otherwise); the same list on every rank.
  void reduce(const NamedParameters& params);
  // Whether this rank's own gradients, before the last reduce, were all finite (to name the rank
  // behind a sum that is not).
  bool local_gradients_finite() const;

 private:
  const Communicator& comm_;
  Tensor send_;  // (n + p) this rank's gradients, flattened, then the presence flags
};

// FNV-1a over the bytes of every parameter and buffer, in order (on the host).
uint64_t parameter_checksum(const Module& model);

}  // namespace tg::nn
