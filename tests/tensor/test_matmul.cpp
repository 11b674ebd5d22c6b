// test_matmul.cpp — tg::matmul against a naive triple loop in double.
//
// Covers both dtypes, every operand layout the BLAS path distinguishes (row-major, transposed
// view, sliced rows, a copy-needing column step or stride-0 dim), batch broadcasting (including
// the batch-folded and the parallel-over-batch paths), 1-D operands, degenerate sizes and the
// error messages.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "tensor/ops.h"

using namespace tg;

namespace {

Tensor random_tensor(const Shape& shape, DType dtype, Generator& gen) {
  Tensor t(shape, dtype);
  dispatch_float(dtype, "random_tensor", [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(gen.normal());
  });
  return t;
}

// NumPy's matmul, spelled out: 1-D operands promoted, batch dims broadcast, a triple loop in
// double over the operands' values.
Tensor reference_matmul(const Tensor& a, const Tensor& b) {
  Shape as = a.shape(), bs = b.shape();
  const bool a_vector = as.size() == 1, b_vector = bs.size() == 1;
  if (a_vector) as.insert(as.begin(), 1);
  if (b_vector) bs.push_back(1);
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  Shape batch_a(as.begin(), as.end() - 2), batch_b(bs.begin(), bs.end() - 2);
  const size_t rank = std::max(batch_a.size(), batch_b.size());
  batch_a.insert(batch_a.begin(), rank - batch_a.size(), 1);
  batch_b.insert(batch_b.begin(), rank - batch_b.size(), 1);
  Shape batch(rank);
  for (size_t d = 0; d < rank; ++d) batch[d] = std::max(batch_a[d], batch_b[d]);
  const std::vector<double> va = a.to_vector(), vb = b.to_vector();
  const int64_t B = shape_numel(batch);
  std::vector<double> out(B * M * N, 0.0);
  for (int64_t i = 0; i < B; ++i) {
    int64_t rest = i, ia = 0, ib = 0, sa = 1, sb = 1;  // matrix index in a and in b
    for (size_t d = rank; d-- > 0;) {
      const int64_t idx = rest % batch[d];
      rest /= batch[d];
      ia += (batch_a[d] == 1 ? 0 : idx) * sa;
      ib += (batch_b[d] == 1 ? 0 : idx) * sb;
      sa *= batch_a[d];
      sb *= batch_b[d];
    }
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t n = 0; n < N; ++n) {
        double s = 0.0;
        for (int64_t k = 0; k < K; ++k) {
          s += va[ia * M * K + m * K + k] * vb[ib * K * N + k * N + n];
        }
        out[(i * M + m) * N + n] = s;
      }
    }
  }
  Shape shape = batch;
  if (!a_vector) shape.push_back(M);
  if (!b_vector) shape.push_back(N);
  Tensor t(shape, DType::F64);
  std::copy(out.begin(), out.end(), t.data<double>());
  return t;
}

// matmul(a, b) has the reference's shape and values (tolerance scaled by K and the dtype).
void check_matmul(const Tensor& a, const Tensor& b) {
  const Tensor got = matmul(a, b);
  const Tensor want = reference_matmul(a, b);
  REQUIRE(got.shape() == want.shape());
  CHECK(got.dtype() == a.dtype());
  CHECK(got.is_contiguous());
  const int64_t K = a.size(-1);
  const double tol = (a.dtype() == DType::F32 ? 1e-5 : 1e-13) * (K + 1);
  const std::vector<double> g = got.to_vector(), w = want.to_vector();
  double worst = 0.0;
  for (size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::abs(g[i] - w[i]));
  INFO("a ", a.describe(), " strides ", shape_str(a.strides()), " @ b ", b.describe(), " strides ",
       shape_str(b.strides()), ": max abs diff ", worst);
  CHECK(worst <= tol);
}

}  // namespace

TEST_CASE("matmul of 2-D matrices matches the naive loop in f32 and f64") {
  Generator gen(1);
  for (DType dt : {DType::F32, DType::F64}) {
    check_matmul(random_tensor({5, 7}, dt, gen), random_tensor({7, 3}, dt, gen));
    check_matmul(random_tensor({64, 128}, dt, gen), random_tensor({128, 96}, dt, gen));
    check_matmul(random_tensor({1, 1}, dt, gen), random_tensor({1, 1}, dt, gen));
  }
}

TEST_CASE("matmul reads transposed views of either operand") {
  Generator gen(2);
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor a = random_tensor({7, 5}, dt, gen).transpose(0, 1);  // (5, 7), strides (1, 5)
    const Tensor b = random_tensor({3, 7}, dt, gen).transpose(0, 1);  // (7, 3), strides (1, 7)
    CHECK_FALSE(a.is_contiguous());
    check_matmul(a, random_tensor({7, 3}, dt, gen));
    check_matmul(random_tensor({5, 7}, dt, gen), b);
    check_matmul(a, b);
    // attention's q @ k^T: batched, the right operand transposed in its last two dims
    const Tensor q = random_tensor({4, 6, 8}, dt, gen);
    const Tensor k = random_tensor({4, 6, 8}, dt, gen);
    check_matmul(q, k.transpose(-1, -2));
  }
}

TEST_CASE("matmul reads sliced operands with non-unit row stride, copies the rest") {
  Generator gen(3);
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor wide = random_tensor({6, 10}, dt, gen);
    check_matmul(wide.slice(1, 2, 9), random_tensor({7, 4}, dt, gen));      // strides (10, 1)
    check_matmul(wide.slice(0, 0, 6, 2), random_tensor({10, 4}, dt, gen));  // strides (20, 1)
    check_matmul(random_tensor({3, 6}, dt, gen), wide.slice(1, 1, 8));      // b strides (10, 1)
    // a column step (strides (10, 2)) and a stride-0 column cannot go to BLAS as they are
    check_matmul(wide.slice(1, 0, 10, 2), random_tensor({5, 4}, dt, gen));
    check_matmul(random_tensor({2, 3}, dt, gen), random_tensor({3, 1}, dt, gen).expand({3, 4}));
    // a transposed slice: strides (1, 10) with ld = 10 >= rows
    check_matmul(wide.slice(1, 0, 5).transpose(0, 1), random_tensor({6, 2}, dt, gen));
  }
}

TEST_CASE("matmul broadcasts batch dims") {
  Generator gen(4);
  for (DType dt : {DType::F32, DType::F64}) {
    check_matmul(random_tensor({3, 4, 5}, dt, gen), random_tensor({3, 5, 2}, dt, gen));
    check_matmul(random_tensor({2, 1, 4, 3}, dt, gen), random_tensor({5, 3, 2}, dt, gen));
    // a 2-D operand against a 3-D one, on either side (the right-hand case folds into M)
    check_matmul(random_tensor({4, 3}, dt, gen), random_tensor({6, 3, 2}, dt, gen));
    check_matmul(random_tensor({6, 4, 3}, dt, gen), random_tensor({3, 2}, dt, gen));
    check_matmul(random_tensor({2, 3, 4, 3}, dt, gen), random_tensor({3, 2}, dt, gen));
    check_matmul(random_tensor({1, 4, 3}, dt, gen), random_tensor({6, 3, 2}, dt, gen));
    check_matmul(random_tensor({6, 4, 3}, dt, gen), random_tensor({1, 3, 2}, dt, gen));
    // batch dims that do not collapse to one stride (a permuted batch) and a strided batch
    const Tensor permuted = random_tensor({3, 2, 4, 5}, dt, gen).permute({1, 0, 2, 3});
    check_matmul(permuted, random_tensor({2, 3, 5, 2}, dt, gen));
    const Tensor every_other = random_tensor({12, 4, 3}, dt, gen).slice(0, 0, 12, 2);
    check_matmul(every_other, random_tensor({3, 2}, dt, gen));  // (6, 4, 3): cannot fold
    // a user-expanded batch (stride 0) on either side
    check_matmul(random_tensor({1, 4, 3}, dt, gen).expand({5, 4, 3}),
                 random_tensor({5, 3, 2}, dt, gen));
    check_matmul(random_tensor({5, 4, 3}, dt, gen),
                 random_tensor({3, 2}, dt, gen).expand({5, 3, 2}));
  }
}

TEST_CASE("matmul with 1-D operands drops the added dim") {
  Generator gen(5);
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor v = random_tensor({3}, dt, gen);
    CHECK(matmul(v, random_tensor({3}, dt, gen)).shape() == Shape{});
    check_matmul(v, random_tensor({3}, dt, gen));        // dot product -> ()
    check_matmul(v, random_tensor({3, 4}, dt, gen));     // -> (4)
    check_matmul(random_tensor({4, 3}, dt, gen), v);     // -> (4)
    check_matmul(random_tensor({2, 4, 3}, dt, gen), v);  // -> (2, 4)
    check_matmul(v, random_tensor({2, 3, 4}, dt, gen));  // -> (2, 4)
    check_matmul(random_tensor({6}, dt, gen).slice(0, 0, 6, 2), random_tensor({3, 2}, dt, gen));
  }
}

TEST_CASE("matmul handles K = 1 and empty sizes") {
  Generator gen(6);
  for (DType dt : {DType::F32, DType::F64}) {
    check_matmul(random_tensor({5, 1}, dt, gen), random_tensor({1, 4}, dt, gen));  // outer product
    check_matmul(random_tensor({3, 5, 1}, dt, gen), random_tensor({3, 1, 4}, dt, gen));
    CHECK(matmul(random_tensor({0, 3}, dt, gen), random_tensor({3, 4}, dt, gen)).shape() ==
          Shape{0, 4});
    CHECK(matmul(random_tensor({0, 2, 3}, dt, gen), random_tensor({3, 4}, dt, gen)).shape() ==
          Shape{0, 2, 4});
    const Tensor zero_k = matmul(random_tensor({2, 0}, dt, gen), random_tensor({0, 3}, dt, gen));
    REQUIRE(zero_k.shape() == Shape{2, 3});
    for (double v : zero_k.to_vector()) CHECK(v == 0.0);
  }
}

TEST_CASE("matmul of many small matrices (parallel over the batch) and few large ones") {
  Generator gen(7);
  for (DType dt : {DType::F32, DType::F64}) {
    // attention shapes: (B*nh, T, hs) @ (B*nh, hs, T), and the weighted sum of values
    const Tensor att = random_tensor({64, 32, 16}, dt, gen);
    check_matmul(att, random_tensor({64, 16, 32}, dt, gen));
    check_matmul(att, random_tensor({64, 32, 16}, dt, gen).transpose(-1, -2));
    check_matmul(random_tensor({64, 32, 32}, dt, gen), random_tensor({64, 32, 16}, dt, gen));
    // 160^3 multiply-adds per matrix: above the small-matrix limit, BLAS threads each gemm
    check_matmul(random_tensor({2, 160, 160}, dt, gen), random_tensor({2, 160, 160}, dt, gen));
  }
}

TEST_CASE("matmul errors name the op and the shapes") {
  Generator gen(8);
  const Tensor a = random_tensor({4, 3}, DType::F32, gen);
  CHECK_THROWS_WITH_AS(matmul(a, random_tensor({5, 2}, DType::F32, gen)),
                       "matmul: inner dimensions differ: (4,3) @ (5,2)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      matmul(random_tensor({3}, DType::F32, gen), random_tensor({4}, DType::F32, gen)),
      "matmul: inner dimensions differ: (3) @ (4)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      matmul(random_tensor({2, 3}, DType::F32, gen), random_tensor({3, 2}, DType::F64, gen)),
      "matmul: dtype mismatch: f32 (2,3) cpu vs f64 (3,2) cpu", std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      matmul(random_tensor({2, 4, 3}, DType::F32, gen), random_tensor({3, 3, 5}, DType::F32, gen)),
      "matmul: batch dimensions cannot be broadcast: (2,4,3) @ (3,3,5)", std::invalid_argument);
  CHECK_THROWS_WITH_AS(matmul(Tensor(Shape{}, DType::F32), a),
                       "matmul: operands need at least one dim, got () @ (4,3)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(matmul(Tensor({2, 2}, DType::I64), Tensor({2, 2}, DType::I64)),
                       "matmul: dtype i64 is not supported (expected f32 or f64)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(matmul(Tensor(), a), "matmul: undefined tensor", std::invalid_argument);
}
