// creation.cpp — tensors made from nothing: constants, ranges, host vectors, random numbers.
//
// Every result is a fresh contiguous tensor. Constants (empty, zeros, ones, full) are made on
// their device; ranges, host vectors and random numbers are written on the CPU (move them with
// .to(device); creation is never the hot path). Random tensors are filled sequentially in
// row-major order from one Generator, so the same seed gives the same tensor whatever the thread
// count.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "tensor/check.h"
#include "tensor/ops.h"

namespace tg {

namespace {

// Fill a fresh CPU tensor element by element: value(i) for the i-th element in row-major order.
template <class ValueAt>
Tensor filled(const Shape& shape, DType dtype, Device device, ValueAt value) {
  Tensor out(shape, dtype, Device::CPU);
  const int64_t n = out.numel();
  dispatch_all(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = out.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(value(i));
  });
  return device == Device::CPU ? out : out.to(device);
}

}  // namespace

Tensor empty(const Shape& shape, DType dtype, Device device) {
  return Tensor(shape, dtype, device);
}

Tensor zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}

Tensor ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  require_device(device, "full");
  Tensor out(shape, dtype, device);
  out.fill_(value);  // on the device itself (a fill kernel on CUDA)
  return out;
}

Tensor zeros_like(const Tensor& t) {
  check_defined(t, "zeros_like");
  return zeros(t.shape(), t.dtype(), t.device());
}

Tensor ones_like(const Tensor& t) {
  check_defined(t, "ones_like");
  return ones(t.shape(), t.dtype(), t.device());
}

Tensor full_like(const Tensor& t, double value) {
  check_defined(t, "full_like");
  return full(t.shape(), value, t.dtype(), t.device());
}

Tensor arange(int64_t n, DType dtype) {
  if (n < 0) throw std::invalid_argument("arange: negative length " + std::to_string(n));
  return filled({n}, dtype, Device::CPU, [](int64_t i) { return static_cast<double>(i); });
}

Tensor arange(double start, double end, double step, DType dtype) {
  if (step == 0.0 || !std::isfinite(step) || !std::isfinite(start) || !std::isfinite(end)) {
    throw std::invalid_argument("arange: start, end and step must be finite and step nonzero");
  }
  // As in NumPy/PyTorch: ceil((end - start) / step) elements, start + i * step.
  const double count = std::ceil((end - start) / step);
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  return filled({n}, dtype, Device::CPU,
                [=](int64_t i) { return start + static_cast<double>(i) * step; });
}

namespace {
// The shape of n values given as `shape` ({} = 1-D of n), or an error naming `op` when the count
// differs.
Shape values_shape(int64_t n, const Shape& shape, const char* op) {
  const Shape s = shape.empty() ? Shape{n} : shape;
  if (shape_numel(s) != n) {
    throw std::invalid_argument(std::string(op) + ": " + std::to_string(n) + " values for shape " +
                                shape_str(s) + " (" + std::to_string(shape_numel(s)) +
                                " elements)");
  }
  return s;
}
}  // namespace

Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype) {
  const int64_t n = static_cast<int64_t>(values.size());
  const Shape s = values_shape(n, shape, "from_vector");
  return filled(s, dtype, Device::CPU, [&](int64_t i) { return values[i]; });
}

Tensor from_indices(const std::vector<int64_t>& values, const Shape& shape) {
  const int64_t n = static_cast<int64_t>(values.size());
  const Shape s = values_shape(n, shape, "from_indices");
  // Copied directly (not through double) so indices beyond 2^53 survive.
  Tensor out(s, DType::I64);
  int64_t* p = out.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = values[i];
  return out;
}

Tensor scalar_tensor(double value, DType dtype) {
  return filled({}, dtype, Device::CPU, [=](int64_t) { return value; });
}

Tensor randn(const Shape& shape, Generator& gen, DType dtype, double mean, double std) {
  if (!is_floating(dtype)) {
    throw std::invalid_argument(std::string("randn: dtype ") + dtype_name(dtype) +
                                " is not supported (expected f32 or f64)");
  }
  return filled(shape, dtype, Device::CPU, [&](int64_t) { return mean + std * gen.normal(); });
}

Tensor rand(const Shape& shape, Generator& gen, DType dtype, double low, double high) {
  if (!is_floating(dtype)) {
    throw std::invalid_argument(std::string("rand: dtype ") + dtype_name(dtype) +
                                " is not supported (expected f32 or f64)");
  }
  if (!(low <= high)) {
    throw std::invalid_argument("rand: low " + std::to_string(low) + " > high " +
                                std::to_string(high));
  }
  Tensor out(shape, dtype);
  const int64_t n = out.numel();
  dispatch_float(dtype, "rand", [&](auto tag) {
    using T = decltype(tag);
    T* p = out.data<T>();
    // Rounding a double just below `high` to f32 can give `high` itself; keep the interval open.
    const T top = low < high ? std::nextafter(static_cast<T>(high), static_cast<T>(low))
                             : static_cast<T>(high);
    for (int64_t i = 0; i < n; ++i) p[i] = std::min(static_cast<T>(gen.uniform(low, high)), top);
  });
  return out;
}

}  // namespace tg
