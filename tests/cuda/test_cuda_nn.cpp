// test_cuda_nn.cpp — modules on the GPU: Module::to, and a GPT-2 block trained a few AdamW steps
// on CUDA matching the same run on the CPU (losses and every parameter).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "cuda_testing.h"
#include "nn/gpt2.h"
#include "nn/optim.h"

using namespace tg;
using namespace tg::nn;

namespace {

struct Run {
  std::vector<double> losses;
  NamedParameters params;
};

// Train a pre-LN GPT-2 block (D = 16, H = 2, causal, one padded key) for `steps` AdamW steps
// on a regression target, on `device`.
Run train_block(Device device, int steps) {
  Generator gen(1);
  BlockOptions o;
  o.attention = {.n_head = 2, .causal = true, .dtype = DType::F32};
  o.mlp = {.dtype = DType::F32};
  auto block = std::make_shared<TransformerBlock>(16, gen, o);
  block->to(device);
  AdamWOptions ao;
  ao.lr = 1e-3;
  ao.weight_decay = 0.1;
  AdamW opt(block->named_parameters(), ao);
  Generator data(2);
  const Tensor x = randn({2, 5, 16}, data).to(device);                                 // (B, T, D)
  const Tensor target = randn({2, 5, 16}, data).to(device);                            // (B, T, D)
  const Tensor mask = from_vector({1, 1, 1, 1, 0, 1, 1, 1, 1, 1}, {2, 5}).to(device);  // (B, T)
  Run run;
  for (int step = 0; step < steps; ++step) {
    opt.zero_grad();
    const ag::Variable y = block->forward(ag::Variable(x), mask);
    const ag::Variable loss = ag::mean(ag::square(ag::sub(y, ag::Variable(target))));
    loss.backward();
    opt.step();
    run.losses.push_back(loss.value().item());
  }
  run.params = block->named_parameters();
  return run;
}

}  // namespace

TEST_CASE("Module::to moves parameters in place; CUDA without a device is a clear error") {
  Generator gen(1);
  BlockOptions o;
  o.attention.n_head = 2;
  TransformerBlock block(8, gen, o);
  const ag::Variable w = block.parameter("attn.c_attn.weight");
  block.to(Device::CPU);
  CHECK(w.device() == Device::CPU);
  if (!cuda_available()) {
    CHECK_THROWS_WITH_AS(block.to(Device::CUDA), doctest::Contains("CUDA"), std::runtime_error);
    MESSAGE("Module::to(cuda): skipped: no CUDA device");
    return;
  }
  const Tensor before = w.value().clone();
  block.to(Device::CUDA);
  CHECK(w.device() == Device::CUDA);  // the same Variable, moved
  for (const auto& [name, p] : block.named_parameters()) {
    INFO(name);
    CHECK(p.device() == Device::CUDA);
  }
  CHECK(max_abs_diff(w.value(), before) == 0.0);
}

TEST_CASE("gradcheck runs on TG_TEST_DEVICE (cpu when unset)") {
  const char* env = std::getenv("TG_TEST_DEVICE");
  if (!env || !*env) CHECK(ag::gradcheck_device() == Device::CPU);
  SKIP_WITHOUT_CUDA("gradcheck on cuda");
  setenv("TG_TEST_DEVICE", "cuda", 1);
  Generator gen(1);
  const Tensor a = randn({3, 4}, gen, DType::F64), b = randn({4, 5}, gen, DType::F64);
  const ag::GradcheckResult res = ag::gradcheck(
      [](const std::vector<ag::Variable>& v) { return ag::softmax(ag::matmul(v[0], v[1]), -1); },
      {a, b});
  if (env) {
    setenv("TG_TEST_DEVICE", env, 1);
  } else {
    unsetenv("TG_TEST_DEVICE");
  }
  INFO(res.message);
  CHECK(res.ok);
}

TEST_CASE("a GPT-2 block trains 4 AdamW steps on CUDA as on the CPU") {
  SKIP_WITHOUT_CUDA("GPT-2 block training on cuda");
  const Run cpu = train_block(Device::CPU, 4);
  const Run gpu = train_block(Device::CUDA, 4);
  REQUIRE(cpu.losses.size() == gpu.losses.size());
  for (size_t i = 0; i < cpu.losses.size(); ++i) {
    INFO("step " << i << ": cpu " << cpu.losses[i] << " cuda " << gpu.losses[i]);
    CHECK(std::abs(cpu.losses[i] - gpu.losses[i]) <= 1e-5 * std::abs(cpu.losses[i]) + 1e-6);
  }
  CHECK(cpu.losses.back() < cpu.losses.front());  // it did train
  REQUIRE(cpu.params.size() == gpu.params.size());
  for (size_t i = 0; i < cpu.params.size(); ++i) {
    // AdamW normalises each update to about lr = 1e-3 per step; parameters agree far closer.
    cuda_testing::check_close(gpu.params[i].second.value(), cpu.params[i].second.value(),
                              {1e-4, 1e-5}, cpu.params[i].first);
  }
}
