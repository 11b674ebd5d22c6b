// gpt2_block.cpp — forward + backward of one GPT-2 block at TGMM's shapes, for the comparison
// with the same block in PyTorch (bench/torch_gpt2_block.py; both run by bench/compare_block).
//
//   build/bin/bench_gpt2_block [--threads N] [--reps N] [--batch B] [--tokens T] [--width D]
//                              [--heads H] [--activation gelu|relu]
//
// Defaults: B = 256 sequences x T = 64 tokens x D = 128, H = 4 heads, causal, with a key-padding
// mask (sequence b keeps its first T/2 + (b mod T/2) + 1 tokens, a tail of padding as TGMM's
// training lengths L ~ U{T/2, ..., T}). One timed step = block.forward(x, mask), then
// backward(G) with a fixed random upstream gradient G into x and every parameter. Printed: the
// median wall-clock seconds over --reps steps (default 20) after 3 warm-up steps, and the median
// process CPU seconds per step (less sensitive to other load on the machine: with one thread it
// is the fairer figure on a busy machine). --threads sets our OpenMP loops and OpenBLAS together
// (default 1). --activation relu swaps the MLP's tanh-GELU for ReLU (in both programs), to see
// how much of the step the GELU kernels take. --help lists the flags with their types and
// defaults; a bad flag or value is one line on stderr and exit code 2.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "nn/gpt2.h"
#include "tools/lib/cli.h"

using namespace tg;

namespace {

struct Options {
  int threads = 1, reps = 20;
  int64_t batch = 256, tokens = 64, width = 128, heads = 4;
  nn::Activation activation = nn::Activation::Gelu;
};

const char* activation_name(nn::Activation a) {
  return a == nn::Activation::Relu ? "relu" : "gelu";
}

nn::Activation parse_activation(const std::string& text) {
  if (text == "gelu") return nn::Activation::Gelu;
  if (text == "relu") return nn::Activation::Relu;
  throw CLI::ValidationError("--activation: unknown activation " + tools::cli::quote(text) +
                             " (expected gelu or relu)");
}

void add_options(CLI::App& app, Options& o) {
  namespace cli = tools::cli;
  cli::configure(app);
  const CLI::Validator positive = cli::at_least(0, true, "POSITIVE");
  cli::add_number(app, "--threads", o.threads, "threads of our OpenMP loops and OpenBLAS")
      ->check(positive);
  cli::add_number(app, "--reps", o.reps, "timed steps, after 3 warm-up steps (median)")
      ->check(positive);
  cli::add_number(app, "--batch", o.batch, "sequences B")->check(positive);
  cli::add_number(app, "--tokens", o.tokens, "tokens T per sequence")->check(positive);
  cli::add_number(app, "--width", o.width, "width D of the block")->check(positive);
  cli::add_number(app, "--heads", o.heads, "attention heads H")->check(positive);
  cli::add_choice(app, "--activation", o.activation, parse_activation, activation_name, "gelu|relu",
                  "the MLP's activation (tanh-GELU or ReLU)");
}

// (B, T): 1 for the first T/2 + (b mod T/2) + 1 tokens of sequence b, then 0.
Tensor tail_padding_mask(int64_t B, int64_t T) {
  std::vector<double> mask(static_cast<size_t>(B * T), 0.0);
  const int64_t half = std::max<int64_t>(T / 2, 1);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t length = std::min(T, half + b % half + 1);
    for (int64_t t = 0; t < length; ++t) mask[b * T + t] = 1.0;
  }
  return from_vector(mask, {B, T});
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"bench_gpt2_block: forward + backward of one GPT-2 block"};
  add_options(app, o);
  if (auto code = tools::cli::parse(app, argc, argv, "bench_gpt2_block")) return *code;
  set_num_threads(o.threads);
  Generator gen(1);
  nn::BlockOptions block_options;
  block_options.attention.n_head = o.heads;
  block_options.attention.causal = true;
  block_options.mlp.activation = o.activation;
  nn::TransformerBlock block(o.width, gen, block_options);
  const ag::Variable x(randn({o.batch, o.tokens, o.width}, gen), true);  // (B, T, D)
  const Tensor upstream = randn({o.batch, o.tokens, o.width}, gen);      // (B, T, D)
  const Tensor mask = tail_padding_mask(o.batch, o.tokens);              // (B, T)

  const auto step = [&] {
    block.zero_grad();
    x.zero_grad();
    block.forward(x, mask).backward(upstream);
  };
  for (int i = 0; i < 3; ++i) step();
  std::vector<double> wall, cpu;  // seconds per step
  for (int r = 0; r < o.reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    step();
    cpu.push_back(static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC);
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::printf(
      "tgmm++ gpt2 block fwd+bwd B=%lld T=%lld D=%lld H=%lld %s threads=%d: "
      "median %.6f s (min %.6f, max %.6f, %d reps); cpu median %.6f s\n",
      static_cast<long long>(o.batch), static_cast<long long>(o.tokens),
      static_cast<long long>(o.width), static_cast<long long>(o.heads),
      activation_name(o.activation), o.threads, median(wall),
      *std::min_element(wall.begin(), wall.end()), *std::max_element(wall.begin(), wall.end()),
      o.reps, median(cpu));
  return 0;
}
