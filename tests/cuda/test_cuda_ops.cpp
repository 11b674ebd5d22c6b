// test_cuda_ops.cpp — every tensor op (tensor/ops.h) on CUDA against the CPU, f32 and f64.
//
// Each case builds its inputs on the CPU, runs the op there and on copies moved to the GPU, and
// compares with a per-op tolerance (cuda_testing.h): f32 elementwise ops within a few ulp (the
// CPU's vectorised exp/tanh vs CUDA's libm), sums within their rounding (both accumulate in
// double; matmul is cuBLAS's own order), f64 within 1e-10 relative. Inputs are strided (permuted,
// sliced, broadcast) where the op accepts them, since the CUDA kernels index every operand through
// its strides. Without a GPU every case prints "skipped: no CUDA device".
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "cuda_testing.h"
#include "tensor/ops.h"

using namespace tg;
using namespace tg::cuda_testing;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

constexpr Tolerance kElementwise32{2e-5, 1e-6};
constexpr Tolerance kSum32{1e-5, 1e-5};
constexpr Tolerance kMatmul32{1e-4, 1e-5};

std::vector<Tensor> to_cuda(const std::vector<Tensor>& xs) {
  std::vector<Tensor> out;
  for (const Tensor& t : xs) out.push_back(t.to(Device::CUDA));
  return out;
}

// Run fn on the CPU inputs and on their CUDA copies; compare.
void forward_parity(const std::string& what, const std::vector<Tensor>& inputs, const Fn& fn,
                    Tolerance tol32) {
  const DType dtype = inputs.empty() ? DType::F32 : inputs[0].dtype();
  const Tensor want = fn(inputs);
  const Tensor got = fn(to_cuda(inputs));
  check_close(got, want, dtype == DType::F64 ? kF64 : tol32,
              what + " " + dtype_name(dtype) + " " + want.describe());
}

Tensor r(const Shape& s, uint64_t seed, DType dtype) {
  Generator gen(seed);
  return randn(s, gen, dtype);
}
Tensor positive(const Shape& s, uint64_t seed, DType dtype) {
  return add_scalar(abs(r(s, seed, dtype)), 0.5);
}

const DType kDtypes[] = {DType::F32, DType::F64};

}  // namespace

TEST_CASE("cuda memory: to(), copies across devices with dtype conversion and broadcast, fill") {
  SKIP_WITHOUT_CUDA("cuda memory");
  for (DType dt : kDtypes) {
    const Tensor x = r({3, 4, 5}, 1, dt);
    const Tensor g = x.to(Device::CUDA);
    CHECK(g.device() == Device::CUDA);
    CHECK(max_abs_diff(g.to(Device::CPU), x) == 0.0);
    // strided source on either side
    CHECK(max_abs_diff(x.permute({2, 0, 1}).to(Device::CUDA), x.permute({2, 0, 1})) == 0.0);
    CHECK(max_abs_diff(g.permute({2, 0, 1}).contiguous(), x.permute({2, 0, 1})) == 0.0);
    CHECK(max_abs_diff(g.narrow(1, 1, 2).clone(), x.narrow(1, 1, 2)) == 0.0);
    CHECK(max_abs_diff(g.reshape({5, 12}).transpose(0, 1).reshape({60}),
                       x.reshape({5, 12}).transpose(0, 1).reshape({60})) == 0.0);
    // dtype conversion on the GPU, and across devices into a strided destination
    const DType other = dt == DType::F32 ? DType::F64 : DType::F32;
    CHECK(max_abs_diff(g.to(other), x.to(other)) == 0.0);
    Tensor dst = zeros({5, 3, 4}, other, Device::CUDA);
    dst.permute({1, 2, 0}).copy_(x);  // CPU -> strided CUDA, converting
    CHECK(max_abs_diff(dst, x.to(other).permute({2, 0, 1})) == 0.0);
    Tensor host = zeros({3, 4, 5}, dt);
    host.copy_(g.narrow(2, 0, 1));  // CUDA (3,4,1) broadcast into a CPU (3,4,5)
    CHECK(max_abs_diff(host, x.narrow(2, 0, 1).expand({3, 4, 5})) == 0.0);
    // fill, constants, item/at/to_vector
    Tensor f = empty({2, 3}, dt, Device::CUDA);
    f.fill_(2.5);
    CHECK(f.to_vector() == std::vector<double>(6, 2.5));
    CHECK(full({2}, -1.0, dt, Device::CUDA).to_vector() == std::vector<double>{-1.0, -1.0});
    CHECK(zeros_like(g).device() == Device::CUDA);
    CHECK(ones({}, dt, Device::CUDA).item() == 1.0);
    CHECK(g.at({2, 3, 4}) == x.at({2, 3, 4}));
    // i64 round trip (indices beyond 2^53 survive: bytes move, not doubles)
    const Tensor big = from_indices({(int64_t{1} << 60) + 1, -3});
    CHECK(*big.to(Device::CUDA).to(Device::CPU).data<int64_t>() == (int64_t{1} << 60) + 1);
    CHECK(zeros({0, 3}, dt, Device::CUDA).to(Device::CPU).numel() == 0);
  }
}

TEST_CASE("cuda allocator: a repeated step reuses cached blocks instead of calling cudaMalloc") {
  SKIP_WITHOUT_CUDA("cuda allocator");
  auto step = [] {
    Tensor a = ones({256, 256}, DType::F32, Device::CUDA);
    Tensor b = matmul(a, a);
    return sum(b).item();
  };
  CHECK(step() == 256.0 * 256 * 256);
  const int64_t mallocs = cuda_allocator_stats().mallocs;
  for (int i = 0; i < 5; ++i) step();
  CHECK(cuda_allocator_stats().mallocs == mallocs);
  CHECK(cuda_allocator_stats().live_bytes >= 0);
  cuda_allocator_release_cache();
  CHECK(cuda_allocator_stats().cached_bytes == 0);
  CHECK(step() == 256.0 * 256 * 256);
}

TEST_CASE(
    "cuda device mixing: errors name both tensors; CPU scalars, masks and indices are moved") {
  SKIP_WITHOUT_CUDA("cuda errors");
  const Tensor a = ones({2, 3}), b = ones({2, 3}, DType::F32, Device::CUDA);
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("device mismatch"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(matmul(b, a.transpose(0, 1)), doctest::Contains("device mismatch"),
                       std::invalid_argument);
  // host code cannot take a GPU address by mistake
  CHECK_THROWS_WITH_AS(b.data<float>(), doctest::Contains("not on the CPU"), std::invalid_argument);
  CHECK(b.device_data<float>() != nullptr);
  // a CPU mask or index may meet CUDA data (it is copied there), not the other way round
  CHECK(index_select(b, 0, from_indices({1, 0})).device() == Device::CUDA);
  CHECK(max_abs_diff(masked_fill(b, from_indices({0, 1, 0}, {1, 3}), 5.0),
                     masked_fill(a, from_indices({0, 1, 0}, {1, 3}), 5.0)) == 0.0);
  CHECK_THROWS_WITH_AS(index_select(a, 0, from_indices({1}).to(Device::CUDA)),
                       doctest::Contains("device mismatch"), std::invalid_argument);
  // a 0-d CPU scalar may meet a CUDA tensor (PyTorch's rule)
  CHECK(add(b, scalar_tensor(2.0)).device() == Device::CUDA);
  CHECK(max_abs_diff(add(b, scalar_tensor(2.0)), full({2, 3}, 3.0)) == 0.0);
}

TEST_CASE("cuda unary ops, contiguous and strided") {
  SKIP_WITHOUT_CUDA("cuda unary ops");
  const UnaryOp ops[] = {UnaryOp::Neg,   UnaryOp::Exp,    UnaryOp::Log,        UnaryOp::Sqrt,
                         UnaryOp::Rsqrt, UnaryOp::Tanh,   UnaryOp::Sigmoid,    UnaryOp::Relu,
                         UnaryOp::Abs,   UnaryOp::Square, UnaryOp::Reciprocal, UnaryOp::Sign};
  for (DType dt : kDtypes) {
    for (UnaryOp op : ops) {
      const bool needs_positive = op == UnaryOp::Log || op == UnaryOp::Sqrt || op == UnaryOp::Rsqrt;
      const Tensor x = needs_positive ? positive({6, 7}, 2, dt) : r({6, 7}, 2, dt);
      auto f = [op](const std::vector<Tensor>& v) { return unary(op, v[0]); };
      forward_parity(unary_op_name(op), {x}, f, kElementwise32);
      auto ft = [op](const std::vector<Tensor>& v) { return unary(op, v[0].transpose(0, 1)); };
      forward_parity(std::string(unary_op_name(op)) + " (transposed)", {x}, ft, kElementwise32);
    }
    const Tensor x = r({6, 7}, 2, dt);
    forward_parity(
        "gelu", {x}, [](const auto& v) { return gelu(v[0]); }, kElementwise32);
    forward_parity(
        "gelu (transposed)", {x}, [](const auto& v) { return gelu(v[0].transpose(0, 1)); },
        kElementwise32);
    forward_parity(
        "gelu_backward", {r({5, 8}, 3, dt), r({5, 8}, 4, dt)},
        [](const auto& v) { return gelu_backward(v[0], v[1]); }, kElementwise32);
    forward_parity(
        "affine", {r({5, 8}, 3, dt)},
        [](const auto& v) { return affine(v[0].slice(1, 0, 8, 2), 1.5, -0.25); }, kElementwise32);
    forward_parity(
        "pow_scalar", {positive({5, 8}, 3, dt)},
        [](const auto& v) { return pow_scalar(v[0], 1.7); }, kElementwise32);
    forward_parity(
        "pow_scalar 2", {r({5, 8}, 3, dt)}, [](const auto& v) { return pow_scalar(v[0], 2.0); },
        kElementwise32);
    forward_parity(
        "clamp", {r({5, 8}, 3, dt)}, [](const auto& v) { return clamp(v[0], -0.5, 0.7); },
        kElementwise32);
    forward_parity(
        "operators", {r({5, 8}, 3, dt)},
        [](const auto& v) { return (2.0 * v[0] + 1.0) / 3.0 - (-v[0]) * 0.5; }, kElementwise32);
  }
}

TEST_CASE("cuda binary ops with broadcasting and strided operands") {
  SKIP_WITHOUT_CUDA("cuda binary ops");
  const BinaryOp ops[] = {BinaryOp::Add,     BinaryOp::Sub,     BinaryOp::Mul, BinaryOp::Div,
                          BinaryOp::Maximum, BinaryOp::Minimum, BinaryOp::Pow, BinaryOp::Eq,
                          BinaryOp::Ne,      BinaryOp::Lt,      BinaryOp::Le,  BinaryOp::Gt,
                          BinaryOp::Ge};
  for (DType dt : kDtypes) {
    for (BinaryOp op : ops) {
      const bool pow = op == BinaryOp::Pow;
      const Tensor a = pow ? positive({4, 1, 6}, 5, dt) : r({4, 1, 6}, 5, dt);
      Tensor b = r({3, 6}, 6, dt);
      if (op == BinaryOp::Eq || op == BinaryOp::Ne) b = a.select(0, 1).expand({3, 6}).clone();
      // (4,1,6) with (3,6) -> (4,3,6); then a permuted operand against a row
      forward_parity(
          binary_op_name(op), {a, b}, [op](const auto& v) { return binary(op, v[0], v[1]); },
          kElementwise32);
      forward_parity(
          std::string(binary_op_name(op)) + " (permuted)", {a, b},
          [op](const auto& v) {
            return binary(op, v[0].expand({4, 3, 6}).permute({2, 1, 0}),
                          v[1].transpose(0, 1).unsqueeze(2));
          },
          kElementwise32);
    }
  }
}

TEST_CASE("cuda in-place add_ and mul_, into strided tensors") {
  SKIP_WITHOUT_CUDA("cuda in-place ops");
  for (DType dt : kDtypes) {
    forward_parity(
        "add_", {r({4, 6}, 7, dt), r({6}, 8, dt)},
        [](const auto& v) {
          Tensor a = v[0].clone();
          Tensor view = a.transpose(0, 1);  // write through a strided view
          add_(view, v[1].unsqueeze(1), 0.5);
          add_(a, v[1]);
          return a;
        },
        kElementwise32);
    forward_parity(
        "mul_", {r({4, 6}, 7, dt)},
        [](const auto& v) {
          Tensor a = v[0].clone();
          Tensor half = a.narrow(1, 0, 3);
          mul_(half, -2.0);
          return a;
        },
        kElementwise32);
  }
}

TEST_CASE("cuda reductions over any dims, keepdim, empty, argmax, sum_to_shape") {
  SKIP_WITHOUT_CUDA("cuda reductions");
  using Reduce = Tensor (*)(const Tensor&, std::vector<int64_t>, bool);
  const std::pair<const char*, Reduce> ops[] = {
      {"sum", sum}, {"mean", mean}, {"max", max}, {"min", min}, {"logsumexp", logsumexp}};
  const std::vector<std::vector<int64_t>> dim_sets = {{}, {0}, {1}, {-1}, {0, 2}, {2, 1}};
  for (DType dt : kDtypes) {
    const Tensor x = r({5, 6, 7}, 9, dt);
    for (const auto& [name, op] : ops) {
      for (const auto& dims : dim_sets) {
        for (bool keepdim : {false, true}) {
          forward_parity(
              std::string(name) + " dims " + shape_str(dims), {x},
              [&](const auto& v) { return op(v[0], dims, keepdim); }, kSum32);
        }
      }
      forward_parity(
          std::string(name) + " (permuted)", {x},
          [&](const auto& v) {
            return op(v[0].permute({2, 0, 1}), {1}, false);
          },
          kSum32);
    }
    // over the leading dims of a contiguous x (the column walk: bias gradients)
    const Tensor bias_grad = r({4, 300, 24}, 12, dt);
    forward_parity(
        "sum over leading dims", {bias_grad},
        [](const auto& v) {
          return sum(v[0], {0, 1});
        },
        kSum32);
    forward_parity(
        "mean over leading dims", {bias_grad}, [](const auto& v) { return mean(v[0], {0}, true); },
        kSum32);
    forward_parity(
        "sum_to_shape (bias)", {bias_grad}, [](const auto& v) { return sum_to_shape(v[0], {24}); },
        kSum32);
    forward_parity(
        "sum over no rows", {r({0, 3}, 1, dt)}, [](const auto& v) { return sum(v[0], {0}); },
        kSum32);
    forward_parity(
        "sum of nothing", {r({3, 0}, 1, dt)}, [](const auto& v) { return sum(v[0], {1}); }, kSum32);
    forward_parity(
        "logsumexp of -inf", {full({2, 3}, -INFINITY, dt)},
        [](const auto& v) { return logsumexp(v[0], {1}); }, kSum32);
    const Tensor big = r({3, 5000}, 10, dt);  // rows longer than a block
    forward_parity(
        "sum long rows", {big}, [](const auto& v) { return sum(v[0], {1}); }, kSum32);
    forward_parity(
        "logsumexp long rows", {big}, [](const auto& v) { return logsumexp(v[0], {1}); }, kSum32);
    for (int64_t d : {0, 1, 2}) {
      forward_parity(
          "argmax dim " + std::to_string(d), {x},
          [d](const auto& v) { return argmax(v[0], d, d == 1); }, kSum32);
    }
    // first maximum on ties; NaN counts as the maximum
    Tensor ties = from_vector({1, 3, 3, 2, NAN, 5, 5, NAN}, {2, 4}, dt);
    forward_parity(
        "argmax ties and NaN", {ties}, [](const auto& v) { return argmax(v[0], 1); }, kSum32);
    forward_parity(
        "max with NaN", {ties}, [](const auto& v) { return max(v[0], {1}); }, kSum32);
    forward_parity(
        "sum_to_shape", {r({4, 3, 5}, 11, dt)},
        [](const auto& v) {
          return sum_to_shape(v[0], {3, 1});
        },
        kSum32);
  }
}

TEST_CASE("cuda matmul: transposed, sliced, batched and broadcast operands on cuBLAS") {
  SKIP_WITHOUT_CUDA("cuda matmul");
  for (DType dt : kDtypes) {
    uint64_t seed = 20;
    auto mm = [&](const char* what, const Shape& sa, const Shape& sb,
                  std::function<Tensor(const Tensor&)> fa,
                  std::function<Tensor(const Tensor&)> fb) {
      forward_parity(
          std::string("matmul ") + what, {r(sa, seed++, dt), r(sb, seed++, dt)},
          [&](const auto& v) { return matmul(fa(v[0]), fb(v[1])); }, kMatmul32);
    };
    auto id = [](const Tensor& t) { return t; };
    auto tr = [](const Tensor& t) { return t.transpose(-1, -2); };
    mm("plain", {7, 33}, {33, 9}, id, id);
    mm("a^T", {33, 7}, {33, 9}, tr, id);
    mm("b^T", {7, 33}, {9, 33}, id, tr);
    mm("a^T b^T", {33, 7}, {9, 33}, tr, tr);
    mm(
        "sliced", {7, 40}, {33, 12}, [](const Tensor& t) { return t.narrow(1, 3, 33); },
        [](const Tensor& t) { return t.narrow(1, 1, 9); });
    mm(
        "column step", {7, 33, 2}, {33, 9}, [](const Tensor& t) { return t.select(2, 0); }, id);
    mm("batched", {3, 7, 33}, {3, 33, 9}, id, id);
    mm("broadcast b", {3, 7, 33}, {33, 9}, id, id);
    mm("broadcast a", {7, 33}, {3, 33, 9}, id, id);
    mm(
        "attention", {7, 3, 16}, {3, 7, 16},
        [](const Tensor& t) {
          return t.permute({1, 0, 2});
        },
        tr);
    mm("batch broadcast both", {2, 1, 7, 33}, {1, 3, 33, 9}, id, id);
    mm("1-D left", {33}, {33, 9}, id, id);
    mm("1-D right", {7, 33}, {33}, id, id);
    mm("dot", {33}, {33}, id, id);
    mm("K = 0", {7, 0}, {0, 9}, id, id);
    forward_parity(
        "linear", {r({2, 7, 33}, seed++, dt), r({9, 33}, seed++, dt), r({9}, seed++, dt)},
        [](const auto& v) { return linear(v[0], v[1], v[2]); }, kMatmul32);
  }
}

TEST_CASE("cuda softmax, log_softmax (and backward) along any dim; layer norm (and backward)") {
  SKIP_WITHOUT_CUDA("cuda nn kernels");
  for (DType dt : kDtypes) {
    const Tensor x = r({4, 5, 300}, 30, dt);
    for (int64_t dim : {0, 1, 2}) {
      for (bool log : {false, true}) {
        const std::string name =
            std::string(log ? "log_softmax" : "softmax") + " dim " + std::to_string(dim);
        forward_parity(
            name, {x},
            [&](const auto& v) { return log ? log_softmax(v[0], dim) : softmax(v[0], dim); },
            kElementwise32);
        forward_parity(
            name + " backward", {x, r({4, 5, 300}, 31, dt)},
            [&](const auto& v) {
              const Tensor y = log ? log_softmax(v[0], dim) : softmax(v[0], dim);
              const Tensor g = v[1].permute({2, 1, 0}).contiguous().permute({2, 1, 0});
              return log ? log_softmax_backward(g, y, dim) : softmax_backward(g, y, dim);
            },
            kElementwise32);
      }
    }
    forward_parity(
        "softmax of a transposed view", {x},
        [](const auto& v) { return softmax(v[0].transpose(0, 2), -1); }, kElementwise32);
    forward_parity(
        "softmax with -inf", {from_vector({0, -INFINITY, 1, 2}, {2, 2}, dt)},
        [](const auto& v) { return softmax(v[0], 1); }, kElementwise32);
    const Tensor w = r({300}, 32, dt), b = r({300}, 33, dt), g = r({4, 5, 300}, 34, dt);
    for (bool affine_params : {true, false}) {
      const std::string name = affine_params ? "layer_norm" : "layer_norm (no weight)";
      auto params = [&](const std::vector<Tensor>& v, int i) {
        return affine_params ? v[i] : Tensor();
      };
      forward_parity(
          name, {x, w, b},
          [&](const auto& v) { return layer_norm(v[0], params(v, 1), params(v, 2)).y; },
          kElementwise32);
      forward_parity(
          name + " mean", {x, w, b},
          [&](const auto& v) { return layer_norm(v[0], params(v, 1), params(v, 2)).mean; }, kSum32);
      forward_parity(
          name + " rstd", {x, w, b},
          [&](const auto& v) { return layer_norm(v[0], params(v, 1), params(v, 2)).rstd; }, kSum32);
      for (int part = 0; part < (affine_params ? 3 : 1); ++part) {
        forward_parity(
            name + " backward " + std::to_string(part), {x, w, b, g},
            [&](const auto& v) {
              const LayerNormResult f = layer_norm(v[0], params(v, 1), params(v, 2));
              const LayerNormGrads d =
                  layer_norm_backward(v[3], v[0], params(v, 1), f.mean, f.rstd);
              return part == 0 ? d.dx : part == 1 ? d.dweight : d.dbias;
            },
            kSum32);
      }
    }
    // many rows (more than one partial block for dweight / dbias)
    forward_parity(
        "layer_norm backward, 5000 rows",
        {r({5000, 24}, 35, dt), r({24}, 36, dt), r({5000, 24}, 37, dt)},
        [](const auto& v) {
          const LayerNormResult f = layer_norm(v[0], v[1], Tensor());
          return layer_norm_backward(v[2], v[0], v[1], f.mean, f.rstd).dweight;
        },
        kSum32);
  }
}

TEST_CASE("cuda where, masked_fill, concat, stack, gather, scatter_add, index ops, embedding") {
  SKIP_WITHOUT_CUDA("cuda selection ops");
  for (DType dt : kDtypes) {
    const Tensor x = r({4, 5}, 40, dt), y = r({4, 5}, 41, dt);
    const Tensor cond = from_indices({1, 0, 0, 1, 1}, {5});  // broadcast over rows
    const Tensor mask_f = from_vector({1, 0, 1, 0}, {4, 1}, dt);
    forward_parity(
        "where", {x, y, cond},
        [](const auto& v) { return where(v[2], v[0], v[1].transpose(0, 1).transpose(0, 1)); },
        kElementwise32);
    forward_parity(
        "where (float cond)", {x, y, mask_f}, [](const auto& v) { return where(v[2], v[0], v[1]); },
        kElementwise32);
    forward_parity(
        "masked_fill", {x, mask_f}, [](const auto& v) { return masked_fill(v[0], v[1], -1e9); },
        kElementwise32);
    forward_parity(
        "concat", {x, r({4, 2}, 42, dt), r({5, 4}, 43, dt)},
        [](const auto& v) {
          return concat({v[0], v[1], v[2].transpose(0, 1)}, 1);
        },
        kElementwise32);
    forward_parity(
        "stack", {x, y},
        [](const auto& v) {
          return stack({v[0], v[1]}, 1);
        },
        kElementwise32);
    const Tensor index = from_indices({0, 3, 1, 3, 2, 2, 0, 1, 3, 3}, {2, 5});
    forward_parity(
        "gather dim 0", {x, index}, [](const auto& v) { return gather(v[0], 0, v[1]); },
        kElementwise32);
    forward_parity(
        "gather dim 1 (transposed x)", {x, index.narrow(1, 0, 4)},
        [](const auto& v) { return gather(v[0].transpose(0, 1), 1, v[1]); }, kElementwise32);
    forward_parity(
        "scatter_add", {r({2, 5}, 44, dt), index},
        [](const auto& v) {
          return scatter_add({4, 5}, 0, v[1], v[0]);
        },
        kSum32);
    const Tensor ids = from_indices({3, 0, 3, 1, 3});
    forward_parity(
        "index_select dim 0", {x, ids}, [](const auto& v) { return index_select(v[0], 0, v[1]); },
        kElementwise32);
    forward_parity(
        "index_select dim 1", {r({3, 4, 6}, 45, dt), ids},
        [](const auto& v) { return index_select(v[0], 1, v[1]); }, kElementwise32);
    forward_parity(
        "index_add", {r({3, 5, 6}, 46, dt), ids},
        [](const auto& v) {
          return index_add({3, 4, 6}, 1, v[1], v[0]);
        },
        kSum32);
    forward_parity(
        "embedding", {r({6, 8}, 47, dt), from_indices({5, 0, 5, 2, 1, 4}, {2, 3})},
        [](const auto& v) { return embedding(v[0], v[1]); }, kElementwise32);
  }
  // an out-of-range index on the GPU is caught before any kernel runs
  const Tensor w = ones({3, 2}, DType::F32, Device::CUDA);
  CHECK_THROWS_AS(embedding(w, from_indices({0, 3}).to(Device::CUDA)), std::out_of_range);
}

TEST_CASE("cuda utilities and the fused AdamW step") {
  SKIP_WITHOUT_CUDA("cuda utilities and adamw");
  const Tensor a = r({3, 4}, 50, DType::F32);
  const Tensor g = a.to(Device::CUDA);
  CHECK(max_abs_diff(g, a) == 0.0);
  CHECK(allclose(g, a));
  CHECK(all_finite(g));
  CHECK_FALSE(all_finite(full({2}, NAN, DType::F32, Device::CUDA)));
  for (DType dt : kDtypes) {
    for (int part = 0; part < 3; ++part) {
      forward_parity(
          "adamw_step_ " + std::to_string(part),
          {r({1000}, 51, dt), r({1000}, 52, dt), r({1000}, 53, dt), abs(r({1000}, 54, dt))},
          [part](const auto& v) {
            Tensor p = v[0].clone(), m = v[2].clone(), s = v[3].clone();
            for (int64_t t = 1; t <= 3; ++t) {
              adamw_step_(p, v[1], m, s, adamw_scalars(1e-2, 0.9, 0.999, 1e-8, 0.1, t));
            }
            return part == 0 ? p : part == 1 ? m : s;
          },
          kElementwise32);
    }
  }
}
