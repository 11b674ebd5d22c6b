// test_select.cpp — where, masked_fill, concat, stack, gather, scatter_add, index_select,
// index_add, embedding.
//
// Hand-computed cases in both dtypes and on non-contiguous inputs; the *_add ops are also checked
// as the adjoints of gather / index_select (<op(x), y> == <x, adjoint(y)>) and for determinism
// on inputs large enough to run in parallel; every validation error is checked by its message.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "tensor/ops.h"
#include "testing.h"

using namespace tg;
using tg::testing::random_tensor;
using tg::testing::with_threads;

namespace {

using V = std::vector<double>;
const double kInf = std::numeric_limits<double>::infinity();

Tensor random_indices(const Shape& shape, int64_t bound, uint64_t seed = 2) {
  Generator g(seed);
  std::vector<int64_t> v(shape_numel(shape));
  for (auto& i : v) i = g.randint(0, bound);
  return from_indices(v, shape);
}

double dot(const Tensor& a, const Tensor& b) {
  const V x = a.to_vector(), y = b.to_vector();
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

}  // namespace

// ------------------------------------------------------------------------------- where, masks

TEST_CASE("where picks a where cond is nonzero and b elsewhere, broadcasting all three") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor cond = from_vector({1, 0}, {2, 1}, DType::F64);  // any dtype; nonzero = true
    const Tensor a = from_vector({1, 2, 3}, {1, 3}, dt);
    const Tensor b = scalar_tensor(-1, dt);
    const Tensor out = where(cond, a, b);
    CHECK(out.shape() == Shape{2, 3});
    CHECK(out.dtype() == dt);
    CHECK(out.to_vector() == V{1, 2, 3, -1, -1, -1});
    const Tensor c2 = from_indices({0, 5, -2}, {3});  // i64 condition, negative counts as true
    CHECK(where(c2, a, b).to_vector() == V{-1, 2, 3});
  }
  const Tensor x = from_vector({1, 2, 3, 4}, {2, 2}).transpose(0, 1);  // [[1,3],[2,4]]
  const Tensor cond = from_vector({0, 1, 1, 0}, {2, 2});
  CHECK(where(cond, x, zeros({2, 2})).to_vector() == V{0, 3, 2, 0});
  CHECK_THROWS_WITH_AS(where(cond, zeros({2}), zeros({2}, DType::F64)),
                       "where: dtype mismatch: f32 (2) cpu vs f64 (2) cpu", std::invalid_argument);
  CHECK_THROWS_WITH_AS(where(zeros({3}), zeros({2}), zeros({2})),
                       "where: shapes (3) and (2) cannot be broadcast", std::invalid_argument);
}

TEST_CASE("where on a large broadcast input runs in parallel and matches elementwise") {
  const Tensor cond = random_tensor({300, 1}, DType::F32, 3);  // negative/positive rows
  const Tensor a = random_tensor({300, 200}, DType::F32, 4);
  const Tensor out = where(cond, a, zeros({200}));
  const V c = cond.to_vector(), av = a.to_vector(), o = out.to_vector();
  bool ok = true;
  for (int i = 0; i < 300; ++i) {
    for (int j = 0; j < 200; ++j) ok &= o[i * 200 + j] == (c[i] != 0 ? av[i * 200 + j] : 0.0);
  }
  CHECK(ok);
}

TEST_CASE("masked_fill writes the value where the broadcast mask is nonzero") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor x = from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, dt);
    const Tensor mask = from_vector({0, 1, 1}, {1, 3});
    const Tensor out = masked_fill(x, mask, -kInf);
    CHECK(out.dtype() == dt);
    CHECK(out.to_vector() == V{1, -kInf, -kInf, 4, -kInf, -kInf});
    CHECK(x.to_vector() == V{1, 2, 3, 4, 5, 6});  // not in place
  }
  CHECK_THROWS_WITH_AS(masked_fill(zeros({1, 3}), zeros({3, 3}), 0),
                       "masked_fill: mask (3,3) cannot be broadcast to x (1,3)",
                       std::invalid_argument);
}

// ------------------------------------------------------------------------------- concat, stack

TEST_CASE("concat joins along any dim, including transposed and empty pieces") {
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    const Tensor a = from_vector({1, 2, 3, 4}, {2, 2}, dt);
    const Tensor b = from_vector({5, 6}, {1, 2}, dt);
    CHECK(concat({a, b}, 0).to_vector() == V{1, 2, 3, 4, 5, 6});
    CHECK(concat({a, b}, 0).shape() == Shape{3, 2});
    const Tensor bt = b.transpose(0, 1);  // (2,1): [[5],[6]]
    const Tensor c = concat({a, bt, a.transpose(0, 1)}, -1);
    CHECK(c.shape() == Shape{2, 5});
    CHECK(c.to_vector() == V{1, 2, 5, 1, 3, 3, 4, 6, 2, 4});
    CHECK(concat({a, zeros({0, 2}, dt)}, 0).to_vector() == a.to_vector());
  }
}

TEST_CASE("concat names the mismatching shapes, dtypes and bad dims") {
  CHECK_THROWS_WITH_AS(concat({zeros({2, 3}), zeros({2, 4})}, 0),
                       "concat: shapes (2,3) and (2,4) differ outside dim 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(concat({zeros({2, 3}), zeros({2, 3, 1})}, 1),
                       "concat: shapes (2,3) and (2,3,1) differ outside dim 1",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(concat({zeros({2}), zeros({2}, DType::F64)}, 0),
                       "concat: dtype mismatch: f32 (2) cpu vs f64 (2) cpu", std::invalid_argument);
  CHECK_THROWS_WITH_AS(concat({}, 0), "concat: no tensors given", std::invalid_argument);
  CHECK_THROWS_WITH_AS(concat({zeros({2})}, 1), "concat: dim 1 out of range for a tensor of rank 1",
                       std::out_of_range);
}

TEST_CASE("stack adds a new dim at the given position") {
  const Tensor a = from_vector({1, 2, 3}, {3}, DType::F64);
  const Tensor b = from_vector({4, 5, 6}, {3}, DType::F64);
  CHECK(stack({a, b}, 0).shape() == Shape{2, 3});
  CHECK(stack({a, b}, 0).to_vector() == V{1, 2, 3, 4, 5, 6});
  CHECK(stack({a, b}, -1).shape() == Shape{3, 2});
  CHECK(stack({a, b}, -1).to_vector() == V{1, 4, 2, 5, 3, 6});
  CHECK_THROWS_WITH_AS(stack({a, zeros({2}, DType::F64)}, 0), "stack: shapes (3) and (2) differ",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(stack({a, b}, 2), "stack: dim 2 out of range for a tensor of rank 2",
                       std::out_of_range);
}

// ------------------------------------------------------------------------------- gather, scatter

TEST_CASE("gather picks x[index[i][j]][j] along dim 0 and x[i][index[i][j]] along dim 1") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor x = from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, dt);  // [[1,2,3],[4,5,6]]
    const Tensor i1 = from_indices({2, 0, 1, 1}, {2, 2});
    CHECK(gather(x, 1, i1).to_vector() == V{3, 1, 5, 5});
    CHECK(gather(x, -1, i1).dtype() == dt);
    const Tensor i0 = from_indices({1, 0, 1}, {1, 3});
    CHECK(gather(x, 0, i0).to_vector() == V{4, 2, 6});
    // a transposed x: xt = [[1,4],[2,5],[3,6]]
    CHECK(gather(x.transpose(0, 1), 1, from_indices({1, 0, 1}, {3, 1})).to_vector() == V{4, 2, 6});
  }
}

TEST_CASE("scatter_add accumulates repeated indices and is the adjoint of gather") {
  const Tensor index = from_indices({0, 0, 2, 1}, {1, 4});
  const Tensor src = from_vector({1, 2, 3, 4}, {1, 4}, DType::F64);
  CHECK(scatter_add({1, 3}, 1, index, src).to_vector() == V{3, 4, 3});
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor x = random_tensor({5, 7, 3}, dt);
    for (int64_t dim : {0, 1, 2}) {
      Shape ishape{4, 6, 3};
      const Tensor idx = random_indices(ishape, x.size(dim), 10 + dim);
      const Tensor y = random_tensor(ishape, dt, 20 + dim);
      const double lhs = dot(gather(x, dim, idx), y);
      const double rhs = dot(x, scatter_add(x.shape(), dim, idx, y));
      CHECK(lhs == doctest::Approx(rhs).epsilon(dt == DType::F32 ? 1e-5 : 1e-12));
    }
  }
}

TEST_CASE("large scatter_add is deterministic across thread counts") {
  const Tensor idx = random_indices({2000, 64}, 50);
  const Tensor src = random_tensor({2000, 64}, DType::F32);
  const V one = with_threads(1, [&] { return scatter_add({50, 64}, 0, idx, src).to_vector(); });
  const V two = with_threads(2, [&] { return scatter_add({50, 64}, 0, idx, src).to_vector(); });
  CHECK(one == two);
  const V iv = idx.to_vector(), sv = src.to_vector();
  V want(50 * 64, 0.0);
  for (int r = 0; r < 2000; ++r) {
    for (int c = 0; c < 64; ++c) want[static_cast<int>(iv[r * 64 + c]) * 64 + c] += sv[r * 64 + c];
  }
  double worst = 0;
  for (size_t k = 0; k < want.size(); ++k) worst = std::max(worst, std::abs(one[k] - want[k]));
  CHECK(worst < 1e-4);
}

TEST_CASE("gather and scatter_add validate indices and shapes") {
  const Tensor x = zeros({2, 3});
  CHECK_THROWS_WITH_AS(gather(x, 1, from_indices({0, 3}, {1, 2})),
                       "gather: index 3 out of range for dim 1 of size 3", std::out_of_range);
  CHECK_THROWS_WITH_AS(gather(x, 0, from_indices({-1}, {1, 1})),
                       "gather: index -1 out of range for dim 0 of size 2", std::out_of_range);
  CHECK_THROWS_WITH_AS(gather(x, 0, from_indices({0, 1})),
                       "gather: index (2) and x (2,3) differ in rank", std::invalid_argument);
  CHECK_THROWS_WITH_AS(gather(x, 0, from_indices({0, 0, 0, 0}, {1, 4})),
                       "gather: index (1,4) is larger than x (2,3) outside dim 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(gather(x, 0, zeros({1, 1})), "gather: index tensor must be i64, got f32",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(scatter_add({2, 3}, 0, from_indices({2}, {1, 1}), zeros({1, 1})),
                       "scatter_add: index 2 out of range for dim 0 of size 2", std::out_of_range);
  CHECK_THROWS_WITH_AS(scatter_add({2, 3}, 0, from_indices({0}, {1, 1}), zeros({1, 2})),
                       "scatter_add: index (1,1) and src (1,2) differ in shape",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(scatter_add({2}, 0, from_indices({0}, {1, 1}), zeros({1, 1})),
                       "scatter_add: index (1,1) and shape (2) differ in rank",
                       std::invalid_argument);
}

// ------------------------------------------------------------------------------- index_select

TEST_CASE("index_select takes whole slices along a dim, repeats allowed") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor x = from_vector({1, 2, 3, 4, 5, 6}, {3, 2}, dt);  // [[1,2],[3,4],[5,6]]
    CHECK(index_select(x, 0, from_indices({2, 0, 2})).to_vector() == V{5, 6, 1, 2, 5, 6});
    CHECK(index_select(x, 0, from_indices({2, 0, 2})).shape() == Shape{3, 2});
    CHECK(index_select(x, -1, from_indices({1})).to_vector() == V{2, 4, 6});
    CHECK(index_select(x.transpose(0, 1), 1, from_indices({1, 1})).to_vector() == V{3, 3, 4, 4});
    CHECK(index_select(x, 0, from_indices({})).shape() == Shape{0, 2});
    CHECK(index_select(zeros({3, 0}, dt), 0, from_indices({1})).shape() == Shape{1, 0});
  }
}

TEST_CASE("index_add accumulates slices and is the adjoint of index_select") {
  const Tensor src = from_vector({1, 2, 3, 4, 5, 6}, {3, 2}, DType::F64);
  CHECK(index_add({2, 2}, 0, from_indices({1, 1, 0}), src).to_vector() == V{5, 6, 4, 6});
  CHECK(index_add({2, 2}, 0, from_indices({}), zeros({0, 2})).to_vector() == V{0, 0, 0, 0});
  CHECK(index_add({2, 3}, 1, from_indices({2, 2}), src.view({2, 3}).narrow(1, 0, 2)).to_vector() ==
        V{0, 0, 3, 0, 0, 9});
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor x = random_tensor({4, 9, 5}, dt);
    for (int64_t dim : {0, 1, 2}) {
      const Tensor idx = random_indices({11}, x.size(dim), 30 + dim);
      Shape yshape = x.shape();
      yshape[dim] = 11;
      const Tensor y = random_tensor(yshape, dt, 40 + dim);
      const double lhs = dot(index_select(x, dim, idx), y);
      const double rhs = dot(x, index_add(x.shape(), dim, idx, y));
      CHECK(lhs == doctest::Approx(rhs).epsilon(dt == DType::F32 ? 1e-5 : 1e-12));
    }
  }
}

TEST_CASE("large index_add (an embedding gradient) is deterministic across thread counts") {
  const Tensor ids = random_indices({4096}, 100);
  const Tensor grad = random_tensor({4096, 384}, DType::F32);
  const V one = with_threads(1, [&] { return index_add({100, 384}, 0, ids, grad).to_vector(); });
  const V two = with_threads(2, [&] { return index_add({100, 384}, 0, ids, grad).to_vector(); });
  CHECK(one == two);
  const V iv = ids.to_vector(), gv = grad.to_vector();
  V want(100 * 384, 0.0);
  for (int r = 0; r < 4096; ++r) {
    for (int c = 0; c < 384; ++c) want[static_cast<int>(iv[r]) * 384 + c] += gv[r * 384 + c];
  }
  double worst = 0;
  for (size_t k = 0; k < want.size(); ++k) worst = std::max(worst, std::abs(one[k] - want[k]));
  CHECK(worst < 1e-4);
}

TEST_CASE("index_select and index_add validate indices and shapes") {
  const Tensor x = zeros({3, 4});
  CHECK_THROWS_WITH_AS(index_select(x, 1, from_indices({0, 4})),
                       "index_select: index 4 out of range for dim 1 of size 4", std::out_of_range);
  CHECK_THROWS_WITH_AS(index_select(x, 0, from_indices({0, 1}, {1, 2})),
                       "index_select: index must be 1-D, got shape (1,2)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(index_select(x, 0, zeros({2})),
                       "index_select: index tensor must be i64, got f32", std::invalid_argument);
  CHECK_THROWS_WITH_AS(index_add({3, 4}, 0, from_indices({0, 3}), zeros({2, 4})),
                       "index_add: index 3 out of range for dim 0 of size 3", std::out_of_range);
  CHECK_THROWS_WITH_AS(index_add({3, 4}, 0, from_indices({0, 1}), zeros({2, 5})),
                       "index_add: src (2,5) should be (2,4) for 2 indices into shape (3,4) "
                       "along dim 0",
                       std::invalid_argument);
}

// ------------------------------------------------------------------------------- embedding

TEST_CASE("embedding looks up rows of weight for ids of any shape") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor w = from_vector({0, 1, 10, 11, 20, 21, 30, 31}, {4, 2}, dt);  // (V=4, E=2)
    const Tensor out = embedding(w, from_indices({3, 0, 1, 1}, {2, 2}));
    CHECK(out.shape() == Shape{2, 2, 2});
    CHECK(out.dtype() == dt);
    CHECK(out.to_vector() == V{30, 31, 0, 1, 10, 11, 10, 11});
    CHECK(embedding(w, from_indices({2}, {1}).view({})).to_vector() == V{20, 21});  // 0-d ids
    CHECK(embedding(w, from_indices({})).shape() == Shape{0, 2});
    // a transposed weight (E, V)^T and a non-contiguous ids view
    const Tensor wt = from_vector({0, 10, 20, 30, 1, 11, 21, 31}, {2, 4}, dt).transpose(0, 1);
    const Tensor ids = from_indices({1, 9, 2, 9}, {2, 2}).narrow(1, 0, 1);  // [[1],[2]]
    CHECK(embedding(wt, ids).to_vector() == V{10, 11, 20, 21});
  }
}

TEST_CASE("embedding names the bad id and the vocabulary size") {
  const Tensor w = zeros({4, 3});
  CHECK_THROWS_WITH_AS(embedding(w, from_indices({1, 4})),
                       "embedding: id 4 out of range for V=4 (weight (4,3))", std::out_of_range);
  CHECK_THROWS_WITH_AS(embedding(w, from_indices({-1})),
                       "embedding: id -1 out of range for V=4 (weight (4,3))", std::out_of_range);
  CHECK_THROWS_WITH_AS(embedding(zeros({4}), from_indices({0})),
                       "embedding: weight must be 2-D (V,E), got shape (4)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(embedding(w, zeros({2})), "embedding: index tensor must be i64, got f32",
                       std::invalid_argument);
}
