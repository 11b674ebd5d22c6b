// checkpoint_testing.h — helpers shared by the checkpoint tests: a scratch directory, a tiny
// trainable model, one training step, bit-for-bit tensor comparison, and file utilities.
#pragma once
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "autograd/ops.h"
#include "nn/module.h"
#include "nn/optim.h"

namespace tg::nn::testing {

// A fresh directory for one test, removed at the end.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("tg_test_checkpoint_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

inline bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor x = a.contiguous(), y = b.contiguous();
  return std::memcmp(x.raw_data(), y.raw_data(), size_t(x.numel() * dtype_size(x.dtype()))) == 0;
}

// A tiny model built from ag ops: y = tanh(x W^T + b) v, with a buffer.
class TinyModel : public Module {
 public:
  explicit TinyModel(uint64_t seed, int64_t hidden = 4) {
    Generator gen(seed);
    w = register_parameter("w", randn({hidden, 3}, gen, DType::F32, 0.0, 0.5));
    b = register_parameter("b", zeros({hidden}));
    v = register_parameter("v", randn({hidden, 1}, gen, DType::F32, 0.0, 0.5));
    register_buffer("scale", full({1}, 2.0));
  }
  ag::Variable forward(const Tensor& x) const {
    ag::Variable h = ag::tanh(ag::matmul(ag::Variable(x), ag::transpose(w, 0, 1)) + b);
    return ag::matmul(h, v);
  }
  ag::Variable w, b, v;
};

// One training step on a random regression batch drawn from `gen`.
inline void train_step(TinyModel& model, Optimizer& opt, Generator& gen, int64_t step) {
  Tensor x = randn({8, 3}, gen);
  Tensor target = sum(x, {1}, true);
  opt.zero_grad();
  ag::Variable loss = ag::mean(ag::square(model.forward(x) - ag::Variable(target)));
  loss.backward();
  opt.set_lr(0.05 / double(1 + step));
  opt.step();
}

}  // namespace tg::nn::testing
