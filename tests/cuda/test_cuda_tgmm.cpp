// test_cuda_tgmm.cpp — TGMM trains on CUDA as on the CPU (what `tools/train --device cuda` runs):
// the same initial weights and batches, a few optimiser steps of gmm::train_step (forward /
// backward / clipping / AdamW on the device), same losses. The sorted loss: with the Hungarian
// one a near-tie in a cost matrix could flip a matching between the two summation orders.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "cuda_testing.h"
#include "gmm/tgmm/train_step.h"

using namespace tg;
using namespace tg::gmm;

namespace {

std::vector<double> train_losses(Device device, int steps) {
  TgmmConfig c;
  c.d = 2;
  c.ks = {2, 3};
  c.k_max = 3;
  c.embd = 16;
  c.layers = 2;
  c.heads = 2;
  c.n_positions = 16;
  c.backbone = "gpt2";
  c.dtype = DType::F64;  // tight comparison: only summation order differs
  Generator init(1), data(2);
  TgmmModel model(c, init);
  if (device != Device::CPU) model.to(device);
  nn::AdamWOptions adam;
  adam.lr = 3e-3;
  nn::AdamW optimizer(model.named_parameters(), adam);
  TaskConfig tasks;
  tasks.d = c.d;
  tasks.ks = c.ks;
  tasks.k_max = c.k_max;
  tasks.tasks_per_k = 3;
  tasks.n = 16;
  tasks.random_lengths = true;
  tasks.dtype = c.dtype;
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    const TaskBatch batch = sample_tasks(tasks, data);
    const StepResult r = train_step(model, optimizer, batch, LossKind::Sorted, 1.0);
    REQUIRE(r.status == StepResult::Ok);
    losses.push_back(r.loss);
  }
  return losses;
}

}  // namespace

TEST_CASE("TGMM trains on CUDA as on the CPU (f64, clipping, AdamW)") {
  SKIP_WITHOUT_CUDA("TGMM training on cuda");
  const std::vector<double> cpu = train_losses(Device::CPU, 5);
  const std::vector<double> gpu = train_losses(Device::CUDA, 5);
  for (size_t i = 0; i < cpu.size(); ++i) {
    INFO("step " << i << ": cpu " << cpu[i] << " cuda " << gpu[i]);
    CHECK(std::abs(cpu[i] - gpu[i]) <= 1e-9 * std::abs(cpu[i]) + 1e-12);
  }
}
