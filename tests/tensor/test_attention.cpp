// test_attention.cpp — the fused CPU attention kernel against its composed reference.
//
// tg::attention / attention_backward run the fused kernel (cpu/attention.cpp) on the CPU;
// attention_reference / attention_backward_reference compute the same thing from matmul, softmax
// and elementwise ops (the path other devices take). They must agree, in f64 to rounding and in
// f32 to a few ulps of the scores, with and without masks, on contiguous and strided inputs.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/cpu/small_gemm.h"
#include "tensor/ops.h"

using namespace tg;

namespace {

void check_against_reference(const Tensor& qkv, int64_t heads, const Tensor& valid, bool causal,
                             double tol) {
  const double scale = 0.4;
  const AttentionResult fused = attention(qkv, heads, valid, causal, scale);
  const AttentionResult ref = attention_reference(qkv, heads, valid, causal, scale);
  CHECK(fused.y.shape() == ref.y.shape());
  CHECK(fused.probs.shape() == ref.probs.shape());
  CHECK(max_abs_diff(fused.y, ref.y) < tol);
  CHECK(max_abs_diff(fused.probs, ref.probs) < tol);
  Generator gen(9);
  const Tensor g = randn(fused.y.shape(), gen, qkv.dtype());
  const Tensor d_fused = attention_backward(g, qkv, fused.probs, heads, scale, causal);
  const Tensor d_ref = attention_backward_reference(g, qkv, ref.probs, heads, scale);
  CHECK(d_fused.shape() == qkv.shape());
  CHECK(max_abs_diff(d_fused, d_ref) < tol);
}

}  // namespace

TEST_CASE("fused attention matches the composed reference (f64 and f32, masks, strides)") {
  Generator gen(3);
  const int64_t B = 3, T = 7, H = 2, S = 4;
  std::vector<double> v(B * T, 1.0);
  v[0] = 0;                         // task 0: key 0 padded (its causal query 0 sees nothing)
  v[1 * T + 5] = v[1 * T + 6] = 0;  // task 1: the last two keys padded
  for (int64_t j = 0; j < T; ++j) v[2 * T + j] = 0;  // task 2: no valid key at all
  for (DType dt : {DType::F64, DType::F32}) {
    const double tol = dt == DType::F64 ? 1e-12 : 2e-5;
    const Tensor valid = from_vector(v, {B, T}, dt);
    const Tensor qkv = randn({B, T, 3 * H * S}, gen, dt);
    for (bool causal : {false, true}) {
      CAPTURE(causal);
      check_against_reference(qkv, H, Tensor(), causal, tol);
      check_against_reference(qkv, H, valid, causal, tol);
      check_against_reference(qkv, 1, valid, causal, tol);
      // A non-contiguous qkv (a transposed view) gives the same result as its copy.
      const Tensor qkv_t = randn({B, 3 * H * S, T}, gen, dt).transpose(1, 2);
      check_against_reference(qkv_t, H, valid, causal, tol);
    }
  }
}

TEST_CASE("fused attention matches the reference across row blocks and vector remainders") {
  // T = 37 spans three 16-row blocks (the causal key ranges differ per block) with a remainder;
  // S = 5, 12, 16, 24 exercise the micro-kernel's scalar columns, one-vector and two-vector tiles
  // (f32 and f64, 16- 32- or 64-byte vectors).
  Generator gen(5);
  for (int64_t S : {5, 12, 16, 24}) {
    for (DType dt : {DType::F64, DType::F32}) {
      const double tol = dt == DType::F64 ? 1e-12 : 3e-5;
      std::vector<double> v(2 * 37, 1.0);
      for (int64_t t = 30; t < 37; ++t) v[37 + t] = 0;
      const Tensor valid = from_vector(v, {2, 37}, dt);
      const Tensor qkv = randn({2, 37, 3 * 2 * S}, gen, dt);
      for (bool causal : {false, true}) {
        CAPTURE(S);
        CAPTURE(causal);
        check_against_reference(qkv, 2, valid, causal, tol);
        check_against_reference(qkv, 2, Tensor(), causal, tol);
      }
    }
  }
}

TEST_CASE("fused attention matches the reference on one thread and split over two") {
  // 15 (task, head) problems of 37 x 37 x 24: above the parallel threshold, and with two threads
  // the split falls inside task 2 (problems 6, 7, 8), whose K^T and V^T both threads then build.
  Generator gen(13);
  const int64_t B = 5, T = 37, H = 3, S = 24;
  std::vector<double> v(B * T, 1.0);
  for (int64_t t = 20; t < T; ++t) v[2 * T + t] = 0;
  for (DType dt : {DType::F64, DType::F32}) {
    const double tol = dt == DType::F64 ? 1e-12 : 3e-5;
    const Tensor valid = from_vector(v, {B, T}, dt);
    const Tensor qkv = randn({B, T, 3 * H * S}, gen, dt);
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      CAPTURE(threads);
      for (bool causal : {false, true}) {
        CAPTURE(causal);
        check_against_reference(qkv, H, valid, causal, tol);
      }
    }
  }
  set_num_threads(2);
}

TEST_CASE("small_gemm matches a plain triple loop at odd sizes, strides and with accumulate") {
  // M = 1..9 covers the 4-row tiles and the single-row remainder; N up to 37 every mix of
  // two-vector, one-vector and scalar columns; A read transposed (a_rs = 1) and not.
  Generator gen(11);
  for (int64_t M : {1, 4, 7, 9}) {
    for (int64_t N : {3, 8, 13, 16, 24, 37}) {
      for (int64_t K : {1, 6, 17}) {
        for (bool transposed : {false, true}) {
          for (bool accumulate : {false, true}) {
            const std::vector<double> a = randn({M * K}, gen, DType::F64).to_vector();
            const std::vector<double> b = randn({K * (N + 2)}, gen, DType::F64).to_vector();
            const std::vector<double> c0 = randn({M * (N + 1)}, gen, DType::F64).to_vector();
            const int64_t a_rs = transposed ? 1 : K, a_cs = transposed ? M : 1;
            const int64_t ldb = N + 2, ldc = N + 1;
            std::vector<double> c = c0;
            cpu::small_gemm<double>(M, N, K, a.data(), a_rs, a_cs, b.data(), ldb, c.data(), ldc,
                                    accumulate);
            std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end());
            std::vector<float> cf(c0.begin(), c0.end());
            cpu::small_gemm<float>(M, N, K, af.data(), a_rs, a_cs, bf.data(), ldb, cf.data(), ldc,
                                   accumulate);
            double worst = 0, worst_f = 0;
            for (int64_t i = 0; i < M; ++i) {
              for (int64_t j = 0; j < N; ++j) {
                double s = accumulate ? c0[i * ldc + j] : 0.0;
                for (int64_t k = 0; k < K; ++k) s += a[i * a_rs + k * a_cs] * b[k * ldb + j];
                worst = std::max(worst, std::abs(c[i * ldc + j] - s));
                worst_f = std::max(worst_f, std::abs(cf[i * ldc + j] - s));
              }
              CHECK(c[i * ldc + N] == c0[i * ldc + N]);  // the padding column is untouched
            }
            CAPTURE(M);
            CAPTURE(N);
            CAPTURE(K);
            CHECK(worst < 1e-12);
            CHECK(worst_f < 1e-4);
          }
        }
      }
    }
  }
}

TEST_CASE("fused attention: masked probabilities are exactly 0 and rows sum to 1") {
  Generator gen(4);
  const Tensor qkv = randn({2, 5, 12}, gen, DType::F32);
  const Tensor valid = from_vector({0, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5}, DType::F32);
  const AttentionResult r = attention(qkv, 2, valid, true, 0.5);
  const std::vector<double> p = r.probs.to_vector();  // (2, 2, 5, 5)
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t h = 0; h < 2; ++h) {
      for (int64_t i = 0; i < 5; ++i) {
        double row = 0;
        bool any = false;
        for (int64_t j = 0; j < 5; ++j) {
          const double x = p[((b * 2 + h) * 5 + i) * 5 + j];
          const bool allowed = j <= i && valid.to_vector()[b * 5 + j] != 0;
          any = any || allowed;
          if (!allowed) CHECK(x == 0.0);
          row += x;
        }
        CHECK(row == doctest::Approx(any ? 1.0 : 0.0).epsilon(1e-6));
      }
    }
  }
  // Task 0, query 0 sees no key: its output row is exactly 0.
  const std::vector<double> y = r.y.to_vector();
  for (int64_t c = 0; c < 4; ++c) CHECK(y[c] == 0.0);
}

TEST_CASE("fused attention: shape errors name the op") {
  const Tensor bad = zeros({2, 5, 10});
  CHECK_THROWS_WITH(attention(bad, 2, Tensor(), false, 1.0),
                    "attention: expected qkv (B, T, 3 * heads * S) with 2 heads, got (2,5,10)");
  CHECK_THROWS_WITH(attention(zeros({2, 5, 12}), 2, zeros({2, 4}), false, 1.0),
                    "attention: valid must be (B, T) = (2,5), got (2,4)");
}
