// test_collectives.cpp — the communicator (nn/distributed.h) and the data-parallel pieces
// (nn/data_parallel.h) across the processes of the launch: sums, minima, broadcasts of tensors and
// text, gathers of uneven counts, the gradient sum with gradients present on some processes only,
// the optimiser state and parameters sent from rank 0, checksums, and NCCL on GPU buffers where
// there are GPUs enough (a visible skip otherwise).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/data_parallel.h"
#include "nn/distributed.h"
#include "nn/linear.h"
#include "nn/optim.h"
#include "tensor/ops.h"

using namespace tg;
using namespace tg::nn;

namespace {

const Communicator& world() { return Communicator::world(); }

// 1 + 2 + ... + P: what P processes sum when each gives rank + 1.
double triangle(int p) { return p * (p + 1) / 2.0; }

// Variables are handles: a copy sets the parameter's own gradient.
void give_grad(ag::Variable p, const Tensor& grad) { p.set_grad(grad); }

}  // namespace

TEST_CASE("the world matches the launch, and its ranks are all different") {
  const Launch launch = launch_from_environment();
  const Communicator& w = world();
  CHECK(w.size() == (launch.by_launcher ? launch.size : 1));
  CHECK(w.rank() == (launch.by_launcher ? launch.rank : 0));
  CHECK(w.local_rank() < w.local_size());
  CHECK(w.local_size() <= w.size());
  const std::vector<uint64_t> ranks = w.all_gather(static_cast<uint64_t>(w.rank()));
  for (int r = 0; r < w.size(); ++r) CHECK(ranks[static_cast<size_t>(r)] == uint64_t(r));
  const Communicator& single = Communicator::single_process();
  CHECK(single.size() == 1);
  CHECK(single.rank() == 0);
  CHECK_FALSE(single.distributed());
}

TEST_CASE("allreduce_sum of tensors (in place and not), of values; min, max, any") {
  const Communicator& w = world();
  const double mine = w.rank() + 1;
  for (DType dtype : {DType::F32, DType::F64, DType::I64}) {
    CAPTURE(dtype_name(dtype));
    Tensor t = full({3, 5}, mine, dtype);
    w.allreduce_sum(t);
    CHECK(t.at({2, 4}) == triangle(w.size()));
    const Tensor send = full({7}, 2 * mine, dtype);
    Tensor recv = zeros({7}, dtype);
    w.allreduce_sum(send, recv);
    CHECK(recv.at({6}) == 2 * triangle(w.size()));
    CHECK(send.at({6}) == 2 * mine);  // the send buffer is left alone
  }
  std::vector<double> values = {mine, -mine, 0.5};
  w.allreduce_sum(values);
  CHECK(values == std::vector<double>{triangle(w.size()), -triangle(w.size()), 0.5 * w.size()});
  CHECK(w.allreduce_min(10 + w.rank()) == 10);
  CHECK(w.allreduce_max(10 + w.rank()) == 9 + w.size());
  CHECK(w.any(w.rank() == w.size() - 1));
  CHECK_FALSE(w.any(false));
  Tensor wrong = zeros({4});
  CHECK_THROWS_AS(w.allreduce_sum(full({3}, 1.0), wrong),
                  std::invalid_argument);  // unlike buffers are refused before any call
}

TEST_CASE("broadcast sends the root's tensor and text to every process") {
  const Communicator& w = world();
  for (int root : {0, w.size() - 1}) {
    CAPTURE(root);
    Tensor t = full({4, 2}, w.rank() == root ? 7.25 : -1.0, DType::F64);
    w.broadcast(t, root);
    CHECK(t.at({3, 1}) == 7.25);
    std::string text = w.rank() == root ? std::string(100000, 'x') + "end" : "short";
    w.broadcast(text, root);
    CHECK(text.size() == 100003);
    CHECK(text.substr(100000) == "end");
  }
}

TEST_CASE("gather concatenates uneven contributions in rank order on the root") {
  const Communicator& w = world();
  std::vector<double> mine(static_cast<size_t>(w.rank()), w.rank());  // rank r sends r values r
  const std::vector<double> all = w.gather(mine);
  if (w.is_root()) {
    std::vector<double> expected;
    for (int r = 0; r < w.size(); ++r) expected.insert(expected.end(), r, r);
    CHECK(all == expected);
  } else {
    CHECK(all.empty());
  }
  w.barrier();
  w.idle_barrier();
}

TEST_CASE("the gradient sum: present on some processes, none, or all; not finite named") {
  const Communicator& w = world();
  Generator gen(3);
  Linear a(4, 3, gen), b(2, 2, gen), c(2, 1, gen);
  NamedParameters params = a.named_parameters();
  for (const auto& p : b.named_parameters()) params.emplace_back("b." + p.first, p.second);
  for (const auto& p : c.named_parameters()) params.emplace_back("c." + p.first, p.second);
  // a: every rank's gradient is rank + 1; b: only the last rank has one; c: nobody.
  for (const auto& [name, p] : a.named_parameters()) {
    give_grad(p, full(p.value().shape(), w.rank() + 1.0));
  }
  for (const auto& [name, p] : b.named_parameters()) {
    give_grad(p, w.rank() == w.size() - 1 ? full(p.value().shape(), 0.5) : Tensor());
  }
  GradientReducer reducer(w);
  reducer.reduce(params);
  if (w.distributed()) {
    CHECK(a.weight().grad().at({2, 3}) == triangle(w.size()));
    CHECK(a.named_parameters()[1].second.grad().at({0}) == triangle(w.size()));
    CHECK(b.weight().grad().defined());
    CHECK(b.weight().grad().at({1, 1}) == 0.5);
    CHECK(b.weight().grad().shape() == Shape{2, 2});
  } else {
    CHECK(a.weight().grad().at({2, 3}) == 1.0);  // one process: nothing changes
  }
  CHECK_FALSE(c.weight().grad().defined());
  CHECK(reducer.local_gradients_finite());

  // A NaN in the last rank's gradient: the sum is NaN everywhere, and only that rank says its
  // own gradients were not finite.
  give_grad(a.weight(), full({3, 4}, w.rank() == w.size() - 1 ? std::nan("") : 1.0));
  reducer.reduce(params);
  CHECK(std::isnan(a.weight().grad().at({0, 0})));
  if (w.distributed()) CHECK(reducer.local_gradients_finite() == (w.rank() != w.size() - 1));
}

TEST_CASE("rank 0's parameters and optimiser state reach every process; checksums agree") {
  const Communicator& w = world();
  Generator gen(100 + w.rank());  // every process starts from different weights
  Linear model(3, 2, gen);
  AdamW adam(model.named_parameters(), AdamWOptions{});
  if (w.is_root()) {  // only rank 0 has taken a step
    for (const auto& [name, p] : model.named_parameters())
      give_grad(p, full(p.value().shape(), 0.1));
    adam.step();
  }
  broadcast_parameters(model, w);
  broadcast_optimizer_state(adam, w);
  const std::vector<uint64_t> sums = w.all_gather(parameter_checksum(model));
  for (uint64_t s : sums) CHECK(s == sums[0]);
  const NamedTensors state = adam.export_state();
  CHECK(state.size() == 6);  // step, m, v for the weight and the bias
  for (const auto& [name, t] : state) {
    Tensor copy = t.to(DType::F64);
    Tensor root_copy = copy.clone();
    w.broadcast(root_copy);
    CHECK(max_abs_diff(copy, root_copy) == 0.0);
  }
  // One more identical step everywhere keeps them identical.
  for (const auto& [name, p] : model.named_parameters()) give_grad(p, full(p.value().shape(), 0.2));
  adam.step();
  const std::vector<uint64_t> after = w.all_gather(parameter_checksum(model));
  for (uint64_t s : after) CHECK(s == after[0]);
  CHECK(after[0] != sums[0]);
}

TEST_CASE("NCCL sums GPU buffers, one GPU per process") {
  Communicator& w = Communicator::world();
  if (!cuda_available()) {
    MESSAGE("skipped: no CUDA device");
    return;
  }
  if (!nccl_built()) {
    MESSAGE("skipped: built without NCCL");
    return;
  }
  // NCCL needs a GPU of its own for every process of a machine (use_device: local_rank % GPUs).
  const bool gpus_short = visible_gpus() < w.local_size();
  if (w.any(gpus_short)) {
    MESSAGE("skipped: fewer GPUs than processes on a machine");
    return;
  }
  w.use_device(Device::CUDA);
  CHECK(w.device_collectives() == w.distributed());
  for (DType dtype : {DType::F32, DType::F64}) {
    Tensor t = full({1000}, w.rank() + 1.0, dtype, Device::CUDA);
    w.allreduce_sum(t);
    CHECK(t.to(Device::CPU).at({999}) == triangle(w.size()));
  }
}
