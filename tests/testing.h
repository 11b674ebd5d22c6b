// testing.h — small helpers shared by the suites of several layers: the relative error of a
// tensor against a reference, the message an expression throws, running at a given thread count.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "tensor/ops.h"

namespace tg::testing {

// max |got - want| / max |want| over the whole tensor, in f64 (one tolerance per tensor; an
// elementwise one hides a wrong small entry next to large ones). A zero reference must be matched
// exactly: the result is then max |got - want|. A NaN anywhere in got - want makes it NaN.
inline double max_relative_error(const Tensor& got, const Tensor& want) {
  REQUIRE(got.shape() == want.shape());
  const std::vector<double> a = got.to_vector(), b = want.to_vector();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(a[i] - b[i]);
    diff = std::isnan(d) ? d : std::max(diff, d);
    scale = std::max(scale, std::abs(b[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

// The message of the exception f throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

// Runs f with n threads, restoring the thread count after.
template <class F>
auto with_threads(int n, F f) {
  const int saved = num_threads();
  set_num_threads(n);
  auto result = f();
  set_num_threads(saved);
  return result;
}

// randn(shape) in `dtype` from its own generator.
inline Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed = 1) {
  Generator g(seed);
  return randn(shape, g, dtype);
}

}  // namespace tg::testing
