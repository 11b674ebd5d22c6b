// utilities.cpp — comparisons for tests (max_abs_diff, allclose, all_finite) and the thread count.
//
// The comparisons accept tensors of any dtypes and devices (values are compared as doubles on the
// CPU) but insist on equal shapes: a shape mismatch in a comparison is almost always a bug, so it
// is reported rather than broadcast away. A NaN anywhere makes tensors differ.
#include <omp.h>

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "tensor/check.h"
#include "tensor/cpu/strided.h"
#include "tensor/ops.h"

namespace tg {

namespace {

// Call f(a_i, b_i) for every element pair, sequentially (row-major per row); stop when f
// returns false. Returns false if it stopped.
template <class F>
bool all_pairs(const Tensor& a, const Tensor& b, const char* op, F f) {
  check_defined(a, op);
  check_defined(b, op);
  if (a.shape() != b.shape()) {
    throw std::invalid_argument(std::string(op) + ": shapes " + shape_str(a.shape()) + " and " +
                                shape_str(b.shape()) + " differ");
  }
  const Tensor ca = a.to(Device::CPU), cb = b.to(Device::CPU);
  const cpu::StridedLoop<2> loop(ca.shape(), {ca.strides(), cb.strides()});
  return dispatch_all(ca.dtype(), [&](auto ta) {
    using A = decltype(ta);
    const A* pa = ca.data<A>();
    return dispatch_all(cb.dtype(), [&](auto tb) {
      using B = decltype(tb);
      const B* pb = cb.data<B>();
      for (int64_t r = 0; r < loop.rows; ++r) {
        const auto off = loop.row_offsets(r);
        for (int64_t k = 0; k < loop.inner; ++k) {
          const double x = static_cast<double>(pa[off[0] + k * loop.inner_stride[0]]);
          const double y = static_cast<double>(pb[off[1] + k * loop.inner_stride[1]]);
          if (!f(x, y)) return false;
        }
      }
      return true;
    });
  });
}

}  // namespace

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double worst = 0.0;
  all_pairs(a, b, "max_abs_diff", [&](double x, double y) {
    if (x == y) return true;  // equal infinities differ by 0, not NaN
    const double d = std::abs(x - y);
    if (std::isnan(d)) {
      worst = std::numeric_limits<double>::quiet_NaN();
      return false;
    }
    worst = std::max(worst, d);
    return true;
  });
  return worst;
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  return all_pairs(a, b, "allclose", [&](double x, double y) {
    return x == y || std::abs(x - y) <= atol + rtol * std::abs(y);  // false for NaN
  });
}

bool all_finite(const Tensor& x) {
  check_defined(x, "all_finite");
  if (!is_floating(x.dtype())) return true;
  return all_pairs(x, x, "all_finite", [](double v, double) { return std::isfinite(v); });
}

void set_num_threads(int n) {
  if (n < 1) {
    throw std::invalid_argument("set_num_threads: need at least 1 thread, got " +
                                std::to_string(n));
  }
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace tg
