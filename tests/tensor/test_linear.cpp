// test_linear.cpp — tg::linear and tg::linear_backward against matmul-based references, on one
// thread and on two (where the GEMMs are split by rows, and dW is a split-K sum).
#include <doctest/doctest.h>

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

TEST_CASE("linear: shape errors name the op and the shapes") {
  CHECK_THROWS_WITH(linear(zeros({4, 3}), zeros({5, 2}), Tensor()),
                    "linear: expected x (..., K), weight (O, K), bias (O); got x (4,3), weight "
                    "(5,2)");
  CHECK_THROWS_WITH(linear(zeros({4, 3}), zeros({5, 3}), zeros({4})),
                    "linear: expected x (..., K), weight (O, K), bias (O); got x (4,3), weight "
                    "(5,3), bias (4)");
}
