// cuda_testing.h — helpers of the CUDA suite: the visible skip, and CPU-vs-CUDA comparison.
//
// Every test that needs a GPU starts with SKIP_WITHOUT_CUDA(), which, on a machine or build
// without one, reports "<what>: skipped: no CUDA device" through doctest's MESSAGE (printed
// whether the test passes or not) and returns — so a run without a GPU says what it did not
// check, instead of passing silently.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tensor/ops.h"

#define SKIP_WITHOUT_CUDA(what)                     \
  do {                                              \
    if (!tg::cuda_available()) {                    \
      MESSAGE(what << ": skipped: no CUDA device"); \
      return;                                       \
    }                                               \
  } while (0)

namespace tg::cuda_testing {

// Per-op tolerance: |cuda - cpu| <= atol + rtol * |cpu| elementwise.
struct Tolerance {
  double rtol, atol;
};

// f64 kernels differ from the CPU's only in summation order (and libm's last ulp).
constexpr Tolerance kF64{1e-10, 1e-12};

// The worst violation of `tol` (<= 1 means within tolerance), and where, for a message.
inline double tolerance_ratio(const Tensor& got, const Tensor& want, Tolerance tol,
                              std::string* where = nullptr) {
  REQUIRE(got.shape() == want.shape());
  const std::vector<double> a = got.to_vector(), b = want.to_vector();
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]))) continue;
    const double r = std::abs(a[i] - b[i]) / (tol.atol + tol.rtol * std::abs(b[i]));
    if (!(r <= worst)) {
      worst = std::isnan(r) ? INFINITY : r;
      if (where) {
        *where = "element " + std::to_string(i) + ": cuda " + std::to_string(a[i]) + " cpu " +
                 std::to_string(b[i]);
      }
    }
  }
  return worst;
}

// CHECK that a CUDA result matches the CPU one within `tol`, naming `what` on failure.
inline void check_close(const Tensor& cuda, const Tensor& cpu, Tolerance tol,
                        const std::string& what) {
  INFO(what);
  CHECK(cuda.device() == Device::CUDA);
  CHECK(cuda.dtype() == cpu.dtype());
  REQUIRE(cuda.shape() == cpu.shape());
  std::string where;
  const double ratio = tolerance_ratio(cuda, cpu, tol, &where);
  INFO(where);
  CHECK(ratio <= 1.0);
}

}  // namespace tg::cuda_testing
