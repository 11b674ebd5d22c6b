// test_linear.cpp — tg::linear and tg::linear_backward against matmul-based references, on one
// thread and on two (where the GEMMs are split by rows, and dW is a split-K sum), and the packed
// GEMM under them (cpu/packed_gemm.h) against a plain triple loop.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/cpu/packed_gemm.h"
#include "tensor/ops.h"

using namespace tg;

namespace {

void check_linear(const Tensor& x, const Tensor& w, const Tensor& b, double tol) {
  const Tensor y = linear(x, w, b);
  Tensor ref = matmul(x, w.transpose(0, 1));
  if (b.defined()) ref = ref + b;
  CHECK(y.shape() == ref.shape());
  CHECK(max_abs_diff(y, ref) < tol);
  Generator gen(11);
  const Tensor g = randn(y.shape(), gen, x.dtype());
  const LinearGrads d = linear_backward(g, x, w, true, true, b.defined());
  const int64_t O = w.size(0), K = w.size(1);
  const Tensor g2 = g.reshape({-1, O}), x2 = x.contiguous().reshape({-1, K});
  CHECK(max_abs_diff(d.dx, matmul(g, w)) < tol);
  CHECK(max_abs_diff(d.dweight, matmul(g2.transpose(0, 1), x2)) < tol * 10);
  if (b.defined()) CHECK(max_abs_diff(d.dbias, sum(g2, {0})) < tol * 10);
  // Only what is asked for is computed.
  const LinearGrads only_w = linear_backward(g, x, w, false, true, false);
  CHECK(!only_w.dx.defined());
  CHECK(!only_w.dbias.defined());
  CHECK(max_abs_diff(only_w.dweight, d.dweight) == 0.0);
}

}  // namespace

TEST_CASE("linear and its backward match matmul + add, on one thread and split over two") {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    CAPTURE(threads);
    for (DType dt : {DType::F64, DType::F32}) {
      const double tol = dt == DType::F64 ? 1e-10 : 2e-3;
      Generator gen(5);
      // Large enough to take the threaded path (M * O * K >= 2^21), with an odd row count.
      const Tensor x = randn({3, 1365, 32}, gen, dt), w = randn({65, 32}, gen, dt);
      const Tensor b = randn({65}, gen, dt);
      check_linear(x, w, b, tol);
      check_linear(x, w, Tensor(), tol);
      // A small one (one thread always) and a transposed (non-contiguous) x.
      check_linear(randn({5, 7}, gen, dt), randn({3, 7}, gen, dt), randn({3}, gen, dt), tol);
      check_linear(randn({2, 32, 1365}, gen, dt).transpose(1, 2), w, b, tol);
    }
  }
  set_num_threads(2);
}

TEST_CASE("linear matches the reference with K over one packing block, on one and two threads") {
  // K = 300 spans two K blocks of the packed GEMM (the second adds into C); O = 37 ends in a cut
  // panel; 2001 rows end in a 3-row edge tile and split unevenly over two threads.
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    CAPTURE(threads);
    for (DType dt : {DType::F64, DType::F32}) {
      const double tol = dt == DType::F64 ? 1e-10 : 2e-3;
      Generator gen(7);
      const Tensor x = randn({2001, 300}, gen, dt), w = randn({37, 300}, gen, dt);
      check_linear(x, w, randn({37}, gen, dt), tol);
      check_linear(x, w, Tensor(), tol);
    }
  }
  set_num_threads(2);
}

TEST_CASE("packed_gemm matches a plain triple loop at odd sizes, both B layouts, bias, residual") {
  // M = 1..13 covers the 6-row tiles and every edge tile; N every mix of whole and cut panels;
  // K = 260 two K blocks. B is read row-contiguous (b_cs = 1) and column-contiguous (b_rs = 1).
  Generator gen(17);
  for (int64_t M : {1, 5, 6, 13}) {
    for (int64_t N : {1, 7, 16, 19, 40}) {
      for (int64_t K : {0, 1, 9, 260}) {
        for (bool b_transposed : {false, true}) {
          for (int extras = 0; extras < 4; ++extras) {  // bias: bit 0, residual: bit 1
            const bool with_bias = extras & 1, with_residual = extras & 2;
            const int64_t lda = K + 1, ldc = N + 3;
            const std::vector<double> a = randn({M * lda}, gen, DType::F64).to_vector();
            const std::vector<double> b =
                randn({std::max<int64_t>(K * N, 1)}, gen, DType::F64).to_vector();
            const std::vector<double> bias = randn({N}, gen, DType::F64).to_vector();
            const std::vector<double> res = randn({M * ldc}, gen, DType::F64).to_vector();
            const int64_t b_rs = b_transposed ? 1 : N, b_cs = b_transposed ? K : 1;
            std::vector<double> c(M * ldc, 7.0);
            cpu::packed_gemm<double>(M, N, K, a.data(), lda, 1, b.data(), b_rs, b_cs,
                                     with_bias ? bias.data() : nullptr,
                                     with_residual ? res.data() : nullptr, c.data(), ldc);
            const std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end());
            const std::vector<float> biasf(bias.begin(), bias.end()), resf(res.begin(), res.end());
            std::vector<float> cf(M * ldc, 7.0f);
            cpu::packed_gemm<float>(M, N, K, af.data(), lda, 1, bf.data(), b_rs, b_cs,
                                    with_bias ? biasf.data() : nullptr,
                                    with_residual ? resf.data() : nullptr, cf.data(), ldc);
            double worst = 0, worst_f = 0;
            for (int64_t i = 0; i < M; ++i) {
              for (int64_t j = 0; j < N; ++j) {
                double s = (with_bias ? bias[j] : 0.0) + (with_residual ? res[i * ldc + j] : 0.0);
                for (int64_t k = 0; k < K; ++k) s += a[i * lda + k] * b[k * b_rs + j * b_cs];
                worst = std::max(worst, std::abs(c[i * ldc + j] - s));
                worst_f = std::max(worst_f, std::abs(cf[i * ldc + j] - s));
              }
              for (int64_t j = N; j < ldc; ++j) CHECK(c[i * ldc + j] == 7.0);  // untouched
            }
            CAPTURE(M);
            CAPTURE(N);
            CAPTURE(K);
            CAPTURE(extras);
            CHECK(worst < 1e-11);
            CHECK(worst_f < 1e-3);
          }
        }
      }
    }
  }
}

TEST_CASE("linear with a residual equals residual + linear, bitwise, on one and two threads") {
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    CAPTURE(threads);
    for (DType dt : {DType::F64, DType::F32}) {
      Generator gen(19);
      for (int64_t K : {64, 300}) {  // one K block, and two
        const Tensor x = randn({4, 517, K}, gen, dt), w = randn({70, K}, gen, dt);
        const Tensor b = randn({70}, gen, dt), r = randn({4, 517, 70}, gen, dt);
        const Tensor fused = linear(x, w, b, r);
        CHECK(fused.shape() == r.shape());
        const Tensor separate = r + linear(x, w, b);
        if (K <= 256) {
          CHECK(max_abs_diff(fused, separate) == 0.0);
        } else {
          CHECK(max_abs_diff(fused, separate) < (dt == DType::F64 ? 1e-10 : 1e-3));
        }
        // A non-contiguous residual is read correctly.
        const Tensor rt = randn({70, 517, 4}, gen, dt).permute({2, 1, 0});
        CHECK(max_abs_diff(linear(x, w, b, rt), rt + linear(x, w, b)) < 1e-3);
      }
    }
  }
  set_num_threads(2);
  CHECK_THROWS_WITH(linear(zeros({4, 3}), zeros({5, 3}), zeros({5}), zeros({4, 4})),
                    "linear: expected x (..., K), weight (O, K), bias (O), residual (..., O); got "
                    "x (4,3), weight (5,3), bias (5), residual (4,4)");
}

TEST_CASE("linear: shape errors name the op and the shapes") {
  CHECK_THROWS_WITH(linear(zeros({4, 3}), zeros({5, 2}), Tensor()),
                    "linear: expected x (..., K), weight (O, K), bias (O); got x (4,3), weight "
                    "(5,2)");
  CHECK_THROWS_WITH(linear(zeros({4, 3}), zeros({5, 3}), zeros({4})),
                    "linear: expected x (..., K), weight (O, K), bias (O); got x (4,3), weight "
                    "(5,3), bias (4)");
}
