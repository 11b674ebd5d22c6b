// test_cuda_autograd.cpp — every differentiable op (autograd/op_registry.h): forward value and
// input gradients on CUDA against the CPU, f32 and f64, with the same inputs and the same random
// (non-uniform) upstream gradient.
//
// Each case runs its CPU side everywhere (so the case itself is checked, and its op names are
// recorded); the CUDA side runs only with a GPU, else the case prints "skipped: no CUDA device".
// The last test fails if some registered op appears in no case.
#include <doctest/doctest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "autograd/op_registry.h"
#include "autograd/ops.h"
#include "cuda_testing.h"

using namespace tg;
using namespace tg::cuda_testing;

namespace {

using Fn = std::function<ag::Variable(const std::vector<ag::Variable>&)>;

std::set<std::string>& ops_seen() {
  static std::set<std::string> ops;
  return ops;
}

void collect_ops(const ag::Variable& out) {
  std::vector<ag::Node*> stack{out.node().get()};
  std::set<ag::Node*> seen;
  while (!stack.empty()) {
    ag::Node* n = stack.back();
    stack.pop_back();
    if (!n || !seen.insert(n).second) continue;
    if (std::string(n->op) != "leaf") ops_seen().insert(n->op);
    for (auto& in : n->inputs) stack.push_back(in.get());
  }
}

// Variables over `inputs` on `device`: floating ones require grad, i64 ones are constants.
std::vector<ag::Variable> variables(const std::vector<Tensor>& inputs, Device device) {
  std::vector<ag::Variable> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t.to(device), is_floating(t.dtype()));
  return vars;
}

// The forward and backward of `fn` on the CPU and on CUDA, compared. `inputs` are f64 on the
// CPU; each dtype run casts the floating ones.
void backward_parity(const std::string& name, const std::vector<Tensor>& inputs, const Fn& fn,
                     Tolerance tol32) {
  for (DType dt : {DType::F32, DType::F64}) {
    const std::string what = name + " " + dtype_name(dt);
    std::vector<Tensor> xs;
    for (const Tensor& t : inputs) xs.push_back(is_floating(t.dtype()) ? t.to(dt) : t);
    const std::vector<ag::Variable> cpu_vars = variables(xs, Device::CPU);
    const ag::Variable cpu_out = fn(cpu_vars);
    collect_ops(cpu_out);
    Generator gen(99);
    const Tensor G = randn(cpu_out.shape(), gen, dt);  // the upstream gradient
    cpu_out.backward(G);
    if (!cuda_available()) {
      MESSAGE((what + ": skipped: no CUDA device"));
      continue;
    }
    const std::vector<ag::Variable> cuda_vars = variables(xs, Device::CUDA);
    const ag::Variable cuda_out = fn(cuda_vars);
    cuda_out.backward(G.to(Device::CUDA));
    const Tolerance tol = dt == DType::F64 ? kF64 : tol32;
    check_close(cuda_out.value(), cpu_out.value(), tol, what + " forward");
    for (size_t i = 0; i < xs.size(); ++i) {
      if (!is_floating(xs[i].dtype())) continue;
      const Tensor& want = cpu_vars[i].grad();
      const Tensor& got = cuda_vars[i].grad();
      INFO(what << " input " << i);
      REQUIRE(want.defined() == got.defined());
      if (want.defined()) check_close(got, want, tol, what + " grad of input " + std::to_string(i));
    }
  }
}

Tensor r(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return randn(s, gen, DType::F64);
}
Tensor positive(const Shape& s, uint64_t seed) { return add_scalar(abs(r(s, seed)), 0.5); }

constexpr Tolerance kElementwise32{2e-5, 1e-6};
constexpr Tolerance kSum32{1e-5, 1e-5};
constexpr Tolerance kMatmul32{1e-4, 1e-5};

}  // namespace

TEST_CASE("cuda autograd parity: elementwise ops") {
  using V = std::vector<ag::Variable>;
  const Tensor x = r({4, 6}, 1), y = r({6}, 2), p = positive({4, 6}, 3);
  backward_parity(
      "neg", {x}, [](const V& v) { return ag::neg(v[0]); }, kElementwise32);
  backward_parity(
      "exp", {x}, [](const V& v) { return ag::exp(v[0]); }, kElementwise32);
  backward_parity(
      "log", {p}, [](const V& v) { return ag::log(v[0]); }, kElementwise32);
  backward_parity(
      "sqrt", {p}, [](const V& v) { return ag::sqrt(v[0]); }, kElementwise32);
  backward_parity(
      "tanh", {x}, [](const V& v) { return ag::tanh(v[0]); }, kElementwise32);
  backward_parity(
      "sigmoid", {x}, [](const V& v) { return ag::sigmoid(v[0]); }, kElementwise32);
  backward_parity(
      "relu", {x}, [](const V& v) { return ag::relu(v[0]); }, kElementwise32);
  backward_parity(
      "abs", {x}, [](const V& v) { return ag::abs(v[0]); }, kElementwise32);
  backward_parity(
      "square", {x}, [](const V& v) { return ag::square(v[0]); }, kElementwise32);
  backward_parity(
      "gelu", {x}, [](const V& v) { return ag::gelu(v[0]); }, kElementwise32);
  backward_parity(
      "pow_scalar", {p}, [](const V& v) { return ag::pow_scalar(v[0], 1.5); }, kElementwise32);
  backward_parity(
      "affine", {x}, [](const V& v) { return ag::affine(v[0], 2.0, -1.0); }, kElementwise32);
  backward_parity(
      "clamp", {x}, [](const V& v) { return ag::clamp(v[0], -0.5, 0.5); }, kElementwise32);
  // binary ops broadcast y (6) over x (4, 6): y's gradient is a sum over rows
  backward_parity(
      "add", {x, y}, [](const V& v) { return ag::add(v[0], v[1]); }, kSum32);
  backward_parity(
      "sub", {x, y}, [](const V& v) { return ag::sub(v[0], v[1]); }, kSum32);
  backward_parity(
      "mul", {x, y}, [](const V& v) { return ag::mul(v[0], v[1]); }, kSum32);
  backward_parity(
      "div", {x, positive({6}, 4)}, [](const V& v) { return ag::div(v[0], v[1]); }, kSum32);
  backward_parity(
      "maximum", {x, y}, [](const V& v) { return ag::maximum(v[0], v[1]); }, kSum32);
  backward_parity(
      "minimum", {x, y}, [](const V& v) { return ag::minimum(v[0], v[1]); }, kSum32);
}

TEST_CASE("cuda autograd parity: reductions and matmul") {
  using V = std::vector<ag::Variable>;
  const Tensor x = r({3, 5, 7}, 5);
  backward_parity(
      "sum", {x},
      [](const V& v) {
        return ag::sum(v[0], {0, 2});
      },
      kSum32);
  backward_parity(
      "mean", {x}, [](const V& v) { return ag::mean(v[0], {1}, true); }, kSum32);
  backward_parity(
      "max", {x}, [](const V& v) { return ag::max(v[0], {2}); }, kSum32);
  backward_parity(
      "logsumexp", {x}, [](const V& v) { return ag::logsumexp(v[0], {-1}); }, kSum32);
  backward_parity(
      "matmul", {r({2, 4, 9}, 6), r({9, 3}, 7)}, [](const V& v) { return ag::matmul(v[0], v[1]); },
      kMatmul32);
  backward_parity(
      "linear", {r({2, 4, 9}, 21), r({3, 9}, 22), r({3}, 23)},
      [](const V& v) { return ag::linear(v[0], v[1], v[2]); }, kMatmul32);
  backward_parity(
      "batched matmul (attention shapes)", {r({2, 3, 5, 8}, 8), r({2, 3, 5, 8}, 9)},
      [](const V& v) { return ag::matmul(v[0], ag::transpose(v[1], -1, -2)); }, kMatmul32);
}

TEST_CASE("cuda autograd parity: fused attention (the composed reference on CUDA)") {
  using V = std::vector<ag::Variable>;
  // qkv (B=2, T=5, 3 * H * S) with H = 2 heads of S = 3; task 0's key 0 padded, so under the
  // causal mask its query 0 sees no key (output 0)
  const Tensor qkv = r({2, 5, 18}, 20);
  const Tensor valid = from_indices({0, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
  backward_parity(
      "attention", {qkv}, [](const V& v) { return ag::attention(v[0], 2, Tensor(), false, 0.6); },
      kMatmul32);
  backward_parity(
      "attention (valid, causal)", {qkv, valid},
      [](const V& v) { return ag::attention(v[0], 2, v[1].value(), true, 0.6); }, kMatmul32);
}

TEST_CASE("cuda autograd parity: softmax, log_softmax, layer_norm") {
  using V = std::vector<ag::Variable>;
  const Tensor x = r({3, 4, 10}, 10);
  backward_parity(
      "softmax", {x}, [](const V& v) { return ag::softmax(v[0], -1); }, kElementwise32);
  backward_parity(
      "softmax dim 1", {x}, [](const V& v) { return ag::softmax(v[0], 1); }, kElementwise32);
  backward_parity(
      "log_softmax", {x}, [](const V& v) { return ag::log_softmax(v[0], 0); }, kElementwise32);
  backward_parity(
      "layer_norm", {x, r({10}, 11), r({10}, 12)},
      [](const V& v) { return ag::layer_norm(v[0], v[1], v[2]); }, kSum32);
}

TEST_CASE("cuda autograd parity: selection ops") {
  using V = std::vector<ag::Variable>;
  const Tensor x = r({4, 5}, 13), y = r({4, 5}, 14);
  const Tensor cond = from_indices({1, 0, 0, 1, 1}, {5});
  backward_parity(
      "where", {x, y, cond}, [&](const V& v) { return ag::where(v[2].value(), v[0], v[1]); },
      kSum32);
  backward_parity(
      "masked_fill", {x, from_indices({0, 1, 1, 0}, {4, 1})},
      [](const V& v) { return ag::masked_fill(v[0], v[1].value(), -3.0); }, kSum32);
  backward_parity(
      "concat", {x, r({4, 2}, 15)},
      [](const V& v) {
        return ag::concat({v[0], v[1]}, 1);
      },
      kSum32);
  backward_parity(
      "stack", {x, y},
      [](const V& v) {
        return ag::stack({v[0], v[1]}, 0);
      },
      kSum32);
  backward_parity(
      "gather", {x, from_indices({0, 3, 1, 3, 2, 2, 0, 1, 3, 3}, {2, 5})},
      [](const V& v) { return ag::gather(v[0], 0, v[1].value()); }, kSum32);
  backward_parity(
      "index_select", {x, from_indices({3, 0, 3, 1})},
      [](const V& v) { return ag::index_select(v[0], 0, v[1].value()); }, kSum32);
  backward_parity(
      "embedding", {r({6, 8}, 16), from_indices({5, 0, 5, 2, 1, 4}, {2, 3})},
      [](const V& v) { return ag::embedding(v[0], v[1].value()); }, kSum32);
}

TEST_CASE("cuda autograd parity: views") {
  using V = std::vector<ag::Variable>;
  const Tensor x = r({2, 3, 4}, 17);
  backward_parity(
      "reshape", {x},
      [](const V& v) {
        return ag::reshape(v[0], {6, 4});
      },
      kSum32);
  backward_parity(
      "permute (used twice)", {x},
      [](const V& v) {
        const ag::Variable p = ag::permute(v[0], {2, 0, 1});
        return ag::mul(p, p);
      },
      kSum32);
  backward_parity(
      "transpose", {x}, [](const V& v) { return ag::transpose(v[0], 0, 2); }, kSum32);
  backward_parity(
      "narrow", {x}, [](const V& v) { return ag::narrow(v[0], 2, 1, 2); }, kSum32);
  backward_parity(
      "select", {x}, [](const V& v) { return ag::select(v[0], 1, 2); }, kSum32);
  backward_parity(
      "expand", {r({2, 1, 4}, 18)},
      [](const V& v) {
        return ag::expand(v[0], {2, 3, 4});
      },
      kSum32);
  backward_parity(
      "squeeze / unsqueeze", {r({2, 1, 4}, 19)},
      [](const V& v) { return ag::unsqueeze(ag::squeeze(v[0], 1), 0); }, kSum32);
  backward_parity(
      "contiguous", {x}, [](const V& v) { return ag::contiguous(ag::transpose(v[0], 0, 1)); },
      kSum32);
}

TEST_CASE("cuda autograd parity covers every registered differentiable op") {
  std::string missing;
  for (const auto& op : ag::registered_ops()) {
    if (!ops_seen().count(std::string(op.name))) {
      missing += ' ';
      missing += op.name;
    }
  }
  INFO("ops without a CUDA parity case:" << missing);
  CHECK(missing.empty());
}
