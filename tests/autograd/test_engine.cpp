// test_engine.cpp — the backward engine's structure: reuse, broadcasting, unused inputs, deep
// graphs, retain_graph, no-grad, detach, zero_grad, and its error messages; the profiler's laps.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>

#include "autograd/op_registry.h"
#include "autograd/ops.h"
#include "tensor/profiler.h"

using namespace tg;
using namespace tg::ag;

namespace {
Variable param(std::vector<double> v, Shape shape) {
  return Variable(from_vector(v, shape, DType::F64), true);
}
std::vector<double> vec(const Tensor& t) { return t.to_vector(); }
}  // namespace

TEST_CASE("a node used twice receives both contributions (b = a + a; c = b + b)") {
  Variable a = param({3}, {1});
  Variable b = a + a;
  Variable c = b + b;
  c.backward();
  CHECK(vec(a.grad()) == std::vector<double>{4});
  // and through a product: d = a * a  ->  dd/da = 2a
  Variable a2 = param({3}, {1});
  (a2 * a2).backward();
  CHECK(vec(a2.grad()) == std::vector<double>{6});
}

TEST_CASE("a broadcast operand's gradient is summed back to its shape") {
  Variable x = param({1, 2, 3, 4, 5, 6}, {2, 3});
  Variable bias = param({10, 20, 30}, {3});
  Variable col = param({1, 2}, {2, 1});
  Variable y = sum((x + bias) * col);
  y.backward();
  CHECK(bias.grad().shape() == Shape{3});
  CHECK(vec(bias.grad()) == std::vector<double>{3, 3, 3});  // sum over rows of col
  CHECK(col.grad().shape() == Shape{2, 1});
  CHECK(vec(col.grad()) == std::vector<double>{1 + 2 + 3 + 60, 4 + 5 + 6 + 60});
  CHECK(vec(x.grad()) == std::vector<double>{1, 1, 1, 2, 2, 2});
}

TEST_CASE("an input that does not reach the output gets no gradient") {
  Variable a = param({1, 2}, {2});
  Variable unused = param({5}, {1});
  Variable y = sum(a * 2.0);
  y.backward();
  CHECK(a.grad().defined());
  CHECK_FALSE(unused.grad().defined());
  // An input that is in the graph only through a branch that is dropped: c = a * 0-weight path
  Variable b = param({1, 2}, {2});
  Variable side = exp(b);  // computed, never used by the loss
  Variable loss = sum(b);
  loss.backward();
  CHECK(vec(b.grad()) == std::vector<double>{1, 1});
  CHECK(side.requires_grad());
}

TEST_CASE("a 10,000-deep chain backpropagates and is freed without recursion") {
  Variable x = param({0.5}, {1});
  Variable y = x;
  for (int i = 0; i < 10000; ++i) y = y * 1.0001 + 0.0;
  y.backward();
  CHECK(x.grad().item() == doctest::Approx(std::pow(1.0001, 10000)).epsilon(1e-9));
  // A deeper one that is dropped without backward (destructors must not recurse either).
  {
    Variable z = x;
    for (int i = 0; i < 200000; ++i) z = z + 1.0;
  }
  CHECK(true);
}

TEST_CASE("backward twice: an error without retain_graph, accumulation with it") {
  Variable x = param({2}, {1});
  Variable y = x * x;
  y.backward(true);
  y.backward();
  CHECK(vec(x.grad()) == std::vector<double>{8});  // 4 + 4
  CHECK_THROWS_WITH_AS(
      y.backward(),
      "backward: the graph through 'mul' was already released by an earlier "
      "backward(); pass retain_graph=true to the first call to backpropagate twice",
      std::runtime_error);
  // A new graph on the same leaf accumulates into its grad until zero_grad.
  (x * 3.0).backward();
  CHECK(vec(x.grad()) == std::vector<double>{11});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("the graph is released after backward (saved tensors freed)") {
  Variable x = param({1, 2, 3}, {3});
  Variable y = exp(x);
  Variable loss = sum(y);
  CHECK(loss.node()->inputs.size() == 1);
  loss.backward();
  CHECK(loss.node()->inputs.empty());
  CHECK_FALSE(loss.node()->backward);
  CHECK(y.node()->inputs.empty());
}

TEST_CASE("no-grad guard and detach build no graph") {
  Variable x = param({1, 2}, {2});
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    Variable y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
  }
  CHECK(grad_enabled());
  Variable d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.value().storage() == x.value().storage());
  Variable y = sum(d * x);  // only x requires grad
  y.backward();
  CHECK(vec(x.grad()) == std::vector<double>{1, 2});
  CHECK_FALSE(d.grad().defined());
}

TEST_CASE("leaf gradients own their memory (in-place edits do not leak between leaves)") {
  Variable a = param({1}, {1});
  Variable b = param({1}, {1});
  sum(a + b).backward();  // add's rule returns the same tensor for both inputs
  Tensor ga = a.grad();
  mul_(ga, 10.0);
  CHECK(vec(a.grad()) == std::vector<double>{10});
  CHECK(vec(b.grad()) == std::vector<double>{1});
}

TEST_CASE("backward with an explicit upstream gradient, and its errors") {
  Variable x = param({1, 2, 3}, {3});
  Variable y = x * x;
  y.backward(from_vector({1, 0, -1}, {3}, DType::F64));
  CHECK(vec(x.grad()) == std::vector<double>{2, 0, -6});
  Variable z = x * 2.0;
  CHECK_THROWS_WITH_AS(z.backward(),
                       "backward: output of shape (3) is not a scalar; pass the gradient of the "
                       "output",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(z.backward(zeros({2}, DType::F64)),
                       "backward: gradient f64 (2) cpu does not match output f64 (3) cpu",
                       std::invalid_argument);
  Variable c(from_vector({1}, {1}), false);
  CHECK_THROWS_AS((c * 2.0).backward(), std::invalid_argument);
  CHECK_THROWS_WITH_AS(Variable(from_indices({1}), true),
                       "Variable: only floating tensors can require grad, got i64 (1) cpu",
                       std::invalid_argument);
}

TEST_CASE("backward on a leaf itself accumulates the upstream gradient") {
  Variable x = param({1, 2}, {2});
  x.backward(from_vector({3, 4}, {2}, DType::F64));
  CHECK(vec(x.grad()) == std::vector<double>{3, 4});
}

TEST_CASE("an unregistered op name is refused") {
  Variable x = param({1}, {1});
  CHECK_THROWS_WITH_AS(make_op("mystery", x.value(), {x}, nullptr),
                       "make_op: 'mystery' is not in autograd/op_registry.h (and so has no "
                       "gradcheck)",
                       std::logic_error);
}

TEST_CASE("the profiler charges each op's forward and backward to the op's registered family") {
  CHECK(std::string(op_family("linear")) == "matmul (GEMM)");
  CHECK(std::string(op_family("attention")) == "softmax / attention");
  CHECK(std::string(op_family("add")) == "elementwise");
  CHECK(std::string(op_family("reshape")) == "views and copies");
  CHECK(std::string(op_family("something new")) == "other");
  for (const RegisteredOp& op : registered_ops()) CHECK(std::string(op.family) != "other");

  profile::reset();
  profile::enable(true);
  Variable w = param({1, 2, 3, 4, 5, 6}, {3, 2});
  sum(reshape(linear(Variable(ones({4, 2}, DType::F64)), w, Variable()), {-1})).backward();
  profile::enable(false);
  std::map<std::string, std::string> family;
  for (const auto& b : profile::buckets()) family[b.name] = b.family;
  profile::reset();
  CHECK(family["linear"] == "matmul (GEMM)");
  CHECK(family["linear backward"] == "matmul (GEMM)");
  CHECK(family["reshape backward"] == "views and copies");
  CHECK(family["sum"] == "reductions");
  CHECK(family["backward setup"] == "loss and engine");
}
