// test_gradcheck_nn_select_view.cpp — finite-difference gradchecks of matmul, the nn ops
// (softmax, log_softmax, layer_norm), the selection ops and the views.
//
// Every case runs ag::gradcheck in f64 with its built-in random (non-uniform) upstream gradient,
// so a rule that swaps or drops elements cannot pass by symmetry. Besides the plain case, each op
// is checked in the structural variants where backward rules usually break: strided (transposed)
// operands, broadcast batch dims, 1-D operands, a non-last softmax dim, absent layer-norm
// parameters, a Variable used twice, and repeated indices (the gradient must accumulate).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"

using namespace tg;

namespace {

Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, gen, DType::F64);
}

// Runs one gradcheck and reports which case failed and where.
void expect_gradients_match(const std::string& name, const ag::GradcheckFn& fn,
                            const std::vector<Tensor>& inputs) {
  const ag::GradcheckResult r = ag::gradcheck(fn, inputs);
  INFO(name);
  CHECK_MESSAGE(r.ok, r.message);
}

}  // namespace

// ----------------------------------------------------------------------------------------- matmul

TEST_CASE("matmul gradients: 2-D, transposed views, one operand constant, reused operand") {
  expect_gradients_match("(3,4) @ (4,2)", [](const auto& v) { return ag::matmul(v[0], v[1]); },
                         {randn64({3, 4}, 1), randn64({4, 2}, 2)});
  // Transposed views reach tg::matmul as strided operands (BLAS transpose flags) in the forward
  // and in both backward products.
  expect_gradients_match("(4,3)^T @ (4,2)",
                         [](const auto& v) { return ag::matmul(ag::transpose(v[0], 0, 1), v[1]); },
                         {randn64({4, 3}, 3), randn64({4, 2}, 4)});
  expect_gradients_match("(3,4) @ (2,4)^T",
                         [](const auto& v) { return ag::matmul(v[0], ag::transpose(v[1], 0, 1)); },
                         {randn64({3, 4}, 5), randn64({2, 4}, 6)});
  expect_gradients_match("(4,3)^T @ (2,4)^T",
                         [](const auto& v) {
                           return ag::matmul(ag::transpose(v[0], -1, -2),
                                             ag::transpose(v[1], 0, 1));
                         },
                         {randn64({4, 3}, 7), randn64({2, 4}, 8)});
  const Tensor constant = randn64({2, 3}, 9);
  expect_gradients_match(
      "constant (2,3) @ (3,4)",
      [constant](const auto& v) { return ag::matmul(ag::Variable(constant), v[0]); },
      {randn64({3, 4}, 10)});
  expect_gradients_match("x @ x", [](const auto& v) { return ag::matmul(v[0], v[0]); },
                         {randn64({3, 3}, 11)});
  expect_gradients_match("x @ x^T",
                         [](const auto& v) { return ag::matmul(v[0], ag::transpose(v[0], 0, 1)); },
                         {randn64({3, 4}, 12)});
}

TEST_CASE("matmul gradients: batched, with broadcast batch dims") {
  const auto mm = [](const auto& v) { return ag::matmul(v[0], v[1]); };
  expect_gradients_match("(2,3,4) @ (2,4,5)", mm, {randn64({2, 3, 4}, 13), randn64({2, 4, 5}, 14)});
  // b shared by the batch: dB sums over it (the folded single-GEMM path).
  expect_gradients_match("(2,3,4) @ (4,5)", mm, {randn64({2, 3, 4}, 15), randn64({4, 5}, 16)});
  // a shared by the batch: the engine sums dA's batch dim away.
  expect_gradients_match("(3,4) @ (2,4,5)", mm, {randn64({3, 4}, 17), randn64({2, 4, 5}, 18)});
  expect_gradients_match("(2,1,3,4) @ (3,4,2)", mm,
                         {randn64({2, 1, 3, 4}, 19), randn64({3, 4, 2}, 20)});
  expect_gradients_match("(1,3,4) @ (2,4,5)", mm, {randn64({1, 3, 4}, 21), randn64({2, 4, 5}, 22)});
  // A non-contiguous batched a with a 2-D b: the folded path must reshape (copy) it correctly.
  expect_gradients_match("(3,2,4)^T01 @ (4,5)",
                         [](const auto& v) { return ag::matmul(ag::transpose(v[0], 0, 1), v[1]); },
                         {randn64({3, 2, 4}, 23), randn64({4, 5}, 24)});
  expect_gradients_match("(2,4,3)^T @ (2,5,4)^T",
                         [](const auto& v) {
                           return ag::matmul(ag::transpose(v[0], -1, -2),
                                             ag::transpose(v[1], -1, -2));
                         },
                         {randn64({2, 4, 3}, 25), randn64({2, 5, 4}, 26)});
}

TEST_CASE("matmul gradients: 1-D operands") {
  const auto mm = [](const auto& v) { return ag::matmul(v[0], v[1]); };
  expect_gradients_match("(4) @ (4)", mm, {randn64({4}, 27), randn64({4}, 28)});
  expect_gradients_match("(4) @ (4,3)", mm, {randn64({4}, 29), randn64({4, 3}, 30)});
  expect_gradients_match("(3,4) @ (4)", mm, {randn64({3, 4}, 31), randn64({4}, 32)});
  expect_gradients_match("(4) @ (2,4,3)", mm, {randn64({4}, 33), randn64({2, 4, 3}, 34)});
  expect_gradients_match("(2,3,4) @ (4)", mm, {randn64({2, 3, 4}, 35), randn64({4}, 36)});
}

// ------------------------------------------------------------------------------------------- nn

TEST_CASE("softmax and log_softmax gradients, on the last and on other dims") {
  for (const int64_t dim : {-1, 0, 1}) {
    const std::string d = std::to_string(dim);
    expect_gradients_match("softmax (2,4,3) dim " + d,
                           [dim](const auto& v) { return ag::softmax(v[0], dim); },
                           {randn64({2, 4, 3}, 40)});
    expect_gradients_match("log_softmax (2,4,3) dim " + d,
                           [dim](const auto& v) { return ag::log_softmax(v[0], dim); },
                           {randn64({2, 4, 3}, 41)});
  }
  // On a strided (transposed) input.
  expect_gradients_match("softmax of (5,3)^T dim -1",
                         [](const auto& v) { return ag::softmax(ag::transpose(v[0], 0, 1), -1); },
                         {randn64({5, 3}, 42)});
  expect_gradients_match(
      "log_softmax of (5,3)^T dim -2",
      [](const auto& v) { return ag::log_softmax(ag::transpose(v[0], 0, 1), -2); },
      {randn64({5, 3}, 43)});
}

TEST_CASE("linear gradients: with and without bias, batched, transposed x, reused, constant W") {
  const Tensor x = randn64({2, 3, 4}, 70), w = randn64({5, 4}, 71), b = randn64({5}, 72);
  expect_gradients_match("x (2,3,4), W (5,4), b (5)",
                         [](const auto& v) { return ag::linear(v[0], v[1], v[2]); }, {x, w, b});
  expect_gradients_match(
      "no bias", [](const auto& v) { return ag::linear(v[0], v[1], ag::Variable()); }, {x, w});
  expect_gradients_match("1-D x", [](const auto& v) { return ag::linear(v[0], v[1], v[2]); },
                         {randn64({4}, 73), w, b});
  expect_gradients_match(
      "x^T view (2,4,3)->(2,3,4)",
      [](const auto& v) { return ag::linear(ag::transpose(v[0], 1, 2), v[1], v[2]); },
      {randn64({2, 4, 3}, 74), w, b});
  expect_gradients_match("x reused as the weight",
                         [](const auto& v) { return ag::linear(v[0], v[0], v[1]); },
                         {randn64({4, 4}, 75), randn64({4}, 76)});
  expect_gradients_match("constant weight",
                         [w](const auto& v) { return ag::linear(v[0], ag::Variable(w), v[1]); },
                         {x, b});
}

TEST_CASE("linear gradients with a residual: with and without bias, residual from the same x") {
  const Tensor x = randn64({2, 3, 4}, 70), w = randn64({5, 4}, 71), b = randn64({5}, 72);
  const Tensor r = randn64({2, 3, 5}, 77);
  expect_gradients_match("with a residual (2,3,5)",
                         [](const auto& v) { return ag::linear(v[0], v[1], v[2], v[3]); },
                         {x, w, b, r});
  expect_gradients_match("residual, no bias",
                         [](const auto& v) { return ag::linear(v[0], v[1], {}, v[2]); }, {x, w, r});
  expect_gradients_match("the residual is x's own projection (reused twice)",
                         [](const auto& v) {
                           const ag::Variable h = ag::linear(v[0], v[1], v[2]);
                           return ag::linear(v[0], v[1], v[2], h);
                         },
                         {randn64({3, 4}, 78), randn64({4, 4}, 79), randn64({4}, 80)});
}

TEST_CASE("attention gradients: plain, masked + causal with an empty row, strided, reused") {
  // qkv (B=2, T=5, 3 * H * S) with H = 2 heads of S = 3.
  const Tensor qkv = randn64({2, 5, 18}, 60);
  expect_gradients_match(
      "no mask", [](const auto& v) { return ag::attention(v[0], 2, Tensor(), false, 0.6); }, {qkv});
  // Task 0 has its key 0 padded, so under the causal mask its query 0 sees no key at all (output
  // 0); task 1 has its last two keys padded.
  const Tensor valid = from_vector({0, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5}, DType::F64);
  expect_gradients_match(
      "valid + causal", [valid](const auto& v) { return ag::attention(v[0], 2, valid, true, 0.6); },
      {qkv});
  expect_gradients_match(
      "valid, not causal, one head",
      [valid](const auto& v) { return ag::attention(v[0], 1, valid, false, 1.3); }, {qkv});
  // A transposed (non-contiguous) qkv, and qkv used twice (attention output added to itself).
  expect_gradients_match("qkv^T view",
                         [valid](const auto& v) {
                           return ag::attention(ag::transpose(v[0], 1, 2), 2, valid, true, 0.6);
                         },
                         {randn64({2, 18, 5}, 61)});
  expect_gradients_match("reused",
                         [](const auto& v) {
                           const ag::Variable y =
                               ag::attention(v[0], 2, Tensor(), true, 0.6);  // (2, 5, 6)
                           return y * ag::narrow(v[0], 2, 0, 6);
                         },
                         {qkv});
}

TEST_CASE("layer_norm gradients, with and without weight and bias") {
  const Tensor x = randn64({2, 3, 5}, 50), w = randn64({5}, 51), b = randn64({5}, 52);
  expect_gradients_match("x, weight, bias",
                         [](const auto& v) { return ag::layer_norm(v[0], v[1], v[2]); }, {x, w, b});
  expect_gradients_match(
      "x only", [](const auto& v) { return ag::layer_norm(v[0], ag::Variable(), ag::Variable()); },
      {x});
  expect_gradients_match("x, weight",
                         [](const auto& v) { return ag::layer_norm(v[0], v[1], ag::Variable()); },
                         {x, w});
  expect_gradients_match(
      "x, bias", [](const auto& v) { return ag::layer_norm(v[0], ag::Variable(), v[1]); }, {x, b});
  // Parameters that need no gradient, and a strided x.
  expect_gradients_match(
      "constant weight and bias",
      [w, b](const auto& v) { return ag::layer_norm(v[0], ag::Variable(w), ag::Variable(b)); },
      {x});
  expect_gradients_match(
      "x^T (2,5,3)->(2,3,5)",
      [](const auto& v) { return ag::layer_norm(ag::transpose(v[0], 1, 2), v[1], v[2], 1e-3); },
      {randn64({2, 5, 3}, 53), w, b});
}

// -------------------------------------------------------------------------------------- select

TEST_CASE("where and masked_fill gradients, broadcast") {
  const Tensor cond = from_vector({1, 0, 0}, {3, 1}, DType::F64);     // (3,1)
  const Tensor mask = from_vector({0, 1, 1, 0}, {1, 4}, DType::F64);  // (1,4)
  expect_gradients_match("where cond (3,1), a (3,4), b (4)",
                         [cond](const auto& v) { return ag::where(cond, v[0], v[1]); },
                         {randn64({3, 4}, 60), randn64({4}, 61)});
  expect_gradients_match(
      "where with the same Variable on both sides",
      [mask](const auto& v) { return ag::where(mask, v[0], ag::mul(v[0], v[0])); },
      {randn64({3, 4}, 62)});
  expect_gradients_match("masked_fill x (3,4) mask (1,4)",
                         [mask](const auto& v) { return ag::masked_fill(v[0], mask, 5.0); },
                         {randn64({3, 4}, 63)});
}

TEST_CASE("concat and stack gradients, more than two inputs, one used twice") {
  const Tensor a = randn64({2, 3}, 70), b = randn64({2, 1}, 71), c = randn64({2, 4}, 72);
  expect_gradients_match("concat dim 1 {a, b, a, c}",
                         [](const auto& v) {
                           return ag::concat({v[0], v[1], v[0], v[2]}, 1);
                         },
                         {a, b, c});
  expect_gradients_match("concat dim -1 {a, b, c}",
                         [](const auto& v) {
                           return ag::concat({v[0], v[1], v[2]}, -1);
                         },
                         {a, b, c});
  expect_gradients_match("concat dim 0 {a^T, b^T, a^T}",
                         [](const auto& v) {
                           const ag::Variable at = ag::transpose(v[0], 0, 1);
                           return ag::concat({at, ag::transpose(v[1], 0, 1), at}, 0);
                         },
                         {a, b});
  const Tensor p = randn64({2, 3}, 73), q = randn64({2, 3}, 74);
  for (const int64_t dim : {0, 1, 2, -1}) {
    expect_gradients_match("stack dim " + std::to_string(dim) + " {p, q, p}",
                           [dim](const auto& v) {
                             return ag::stack({v[0], v[1], v[0]}, dim);
                           },
                           {p, q});
  }
}

TEST_CASE("gather, index_select and embedding gradients accumulate over repeated indices") {
  const Tensor x = randn64({3, 4}, 80);
  expect_gradients_match(
      "gather dim 0, index (5,4) with repeats",
      [](const auto& v) {
        const Tensor index =
            from_indices({2, 0, 1, 1, 2, 2, 2, 0, 0, 0, 0, 0, 2, 1, 2, 1, 2, 2, 1, 0}, {5, 4});
        return ag::gather(v[0], 0, index);
      },
      {x});
  // The index may also be passed as an i64 input (a constant to gradcheck).
  expect_gradients_match(
      "gather dim 1, index (3,6) with repeats",
      [](const auto& v) { return ag::gather(v[0], 1, v[1].value()); },
      {x, from_indices({3, 3, 0, 1, 3, 3, 0, 0, 0, 2, 2, 1, 1, 2, 3, 0, 3, 1}, {3, 6})});
  expect_gradients_match("index_select dim 0, index {2,0,2,2,1}",
                         [](const auto& v) {
                           return ag::index_select(v[0], 0, from_indices({2, 0, 2, 2, 1}));
                         },
                         {x});
  expect_gradients_match("index_select dim -1, index {1,1,3}",
                         [](const auto& v) {
                           return ag::index_select(v[0], -1, from_indices({1, 1, 3}));
                         },
                         {x});
  // Row 2 is never looked up: its gradient must be exactly zero (gradcheck compares it too).
  expect_gradients_match(
      "embedding (5,3), ids (2,4) with repeats",
      [](const auto& v) {
        return ag::embedding(v[0], from_indices({1, 3, 1, 0, 4, 1, 3, 3}, {2, 4}));
      },
      {randn64({5, 3}, 81)});
  expect_gradients_match("embedding, 1-D ids",
                         [](const auto& v) {
                           return ag::embedding(v[0], from_indices({0, 0, 4}));
                         },
                         {randn64({5, 3}, 82)});
}

// --------------------------------------------------------------------------------------- views

TEST_CASE("view gradients: each view alone") {
  const Tensor x = randn64({2, 3, 4}, 90);
  expect_gradients_match("reshape (2,3,4)->(6,4)",
                         [](const auto& v) {
                           return ag::reshape(v[0], {6, 4});
                         },
                         {x});
  expect_gradients_match("reshape (2,3,4)->(4,-1)",
                         [](const auto& v) {
                           return ag::reshape(v[0], {4, -1});
                         },
                         {x});
  expect_gradients_match("permute {2,0,1}",
                         [](const auto& v) {
                           return ag::permute(v[0], {2, 0, 1});
                         },
                         {x});
  expect_gradients_match("permute {-1,0,1}",
                         [](const auto& v) {
                           return ag::permute(v[0], {-1, 0, 1});
                         },
                         {x});
  expect_gradients_match("permute {1,2,0}",
                         [](const auto& v) {
                           return ag::permute(v[0], {1, 2, 0});
                         },
                         {x});
  expect_gradients_match("transpose 0,2", [](const auto& v) { return ag::transpose(v[0], 0, 2); },
                         {x});
  expect_gradients_match("narrow dim 1 [1,3)",
                         [](const auto& v) { return ag::narrow(v[0], 1, 1, 2); }, {x});
  expect_gradients_match("narrow dim -1 [0,3)",
                         [](const auto& v) { return ag::narrow(v[0], -1, 0, 3); }, {x});
  expect_gradients_match("select dim 1 index 2",
                         [](const auto& v) { return ag::select(v[0], 1, 2); }, {x});
  expect_gradients_match("select dim -1 index -1",
                         [](const auto& v) { return ag::select(v[0], -1, -1); }, {x});
  expect_gradients_match("expand (3,1)->(2,3,4)",
                         [](const auto& v) {
                           return ag::expand(v[0], {2, 3, 4});
                         },
                         {randn64({3, 1}, 91)});
  expect_gradients_match("expand (1,4)->(3,-1)",
                         [](const auto& v) {
                           return ag::expand(v[0], {3, -1});
                         },
                         {randn64({1, 4}, 92)});
  expect_gradients_match("squeeze dim 1 of (3,1,4)",
                         [](const auto& v) { return ag::squeeze(v[0], 1); },
                         {randn64({3, 1, 4}, 93)});
  expect_gradients_match("squeeze of a non-unit dim (no-op)",
                         [](const auto& v) { return ag::squeeze(v[0], 0); },
                         {randn64({3, 1, 4}, 94)});
  for (const int64_t dim : {0, 2, -1}) {
    expect_gradients_match("unsqueeze dim " + std::to_string(dim),
                           [dim](const auto& v) { return ag::unsqueeze(v[0], dim); },
                           {randn64({3, 4}, 95)});
  }
  expect_gradients_match("contiguous of a transposed view",
                         [](const auto& v) { return ag::contiguous(ag::transpose(v[0], 0, 1)); },
                         {x});
  expect_gradients_match("contiguous of a contiguous tensor",
                         [](const auto& v) { return ag::contiguous(v[0]); }, {x});
}

TEST_CASE("view gradients: chained views and overlapping windows") {
  const Tensor x = randn64({2, 3, 4}, 100);
  // permute (2,3,4)->(4,2,3), reshape (non-contiguous: a copy) ->(8,3), narrow rows [2,7).
  expect_gradients_match(
      "permute -> reshape -> narrow",
      [](const auto& v) {
        return ag::narrow(ag::reshape(ag::permute(v[0], {2, 0, 1}), {8, 3}), 0, 2, 5);
      },
      {x});
  expect_gradients_match(
      "transpose -> narrow -> contiguous -> select -> unsqueeze -> expand",
      [](const auto& v) {
        const ag::Variable t = ag::narrow(ag::transpose(v[0], 0, 2), 0, 1, 2);  // (2,3,2)
        return ag::expand(ag::unsqueeze(ag::select(ag::contiguous(t), 1, 0), 1), {2, 5, 2});
      },
      {x});
  // Two overlapping windows of the same Variable: rows 1..2 receive both contributions.
  expect_gradients_match(
      "concat of overlapping narrows",
      [](const auto& v) {
        return ag::concat({ag::narrow(v[0], 0, 0, 3), ag::narrow(v[0], 0, 1, 3)}, 0);
      },
      {randn64({4, 3}, 101)});
  // Views feeding matmul, whose backward then receives strided gradients.
  expect_gradients_match("select and squeeze into matmul",
                         [](const auto& v) {
                           return ag::matmul(ag::select(v[0], 0, 1),
                                             ag::squeeze(ag::unsqueeze(v[1], 0), 0));
                         },
                         {randn64({2, 3, 4}, 102), randn64({4, 2}, 103)});
}

// -------------------------------------------------------------------------------------- errors

TEST_CASE("concat and stack reject empty and undefined inputs with a message naming the op") {
  const ag::Variable a(randn64({2, 3}, 110), true);
  CHECK_THROWS_WITH_AS(ag::concat({}, 0), doctest::Contains("concat: no inputs"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ag::stack({}, 0), doctest::Contains("stack: no inputs"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ag::concat({a, ag::Variable()}, 0),
                       doctest::Contains("concat: input 1 is an undefined Variable"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ag::stack({ag::Variable(), a}, 0),
                       doctest::Contains("stack: input 0 is an undefined Variable"),
                       std::invalid_argument);
}

TEST_CASE("shape errors of the tensor kernels surface through the autograd ops") {
  const ag::Variable a(randn64({4, 3}, 111), true), b(randn64({5, 2}, 112), true);
  CHECK_THROWS_WITH(ag::matmul(a, b), doctest::Contains("matmul"));
  CHECK_THROWS_WITH(ag::concat({a, b}, 0), doctest::Contains("concat"));
  CHECK_THROWS_WITH(ag::layer_norm(a, b, ag::Variable()), doctest::Contains("layer_norm"));
  CHECK_THROWS_WITH(ag::permute(a, {0, 0}), doctest::Contains("permute"));
  CHECK_THROWS_WITH(ag::narrow(a, 0, 2, 3), doctest::Contains("narrow"));
  CHECK_THROWS_WITH(ag::unsqueeze(a, 3), doctest::Contains("unsqueeze"));
}

TEST_CASE("ops on inputs that need no gradient record no graph") {
  const ag::Variable a(randn64({3, 4}, 120)), b(randn64({4, 2}, 121));
  CHECK_FALSE(ag::matmul(a, b).requires_grad());
  CHECK_FALSE(ag::concat({a, a}, 0).requires_grad());
  const ag::Variable w(randn64({3, 4}, 122), true);
  {
    ag::NoGradGuard guard;
    CHECK_FALSE(ag::softmax(w, -1).requires_grad());
    CHECK_FALSE(ag::reshape(w, {12}).requires_grad());
  }
  CHECK(ag::reshape(w, {12}).requires_grad());
}
