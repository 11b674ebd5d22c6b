// check.h — the argument checks shared by all ops; each throws a message naming the op.
#pragma once
#include <stdexcept>
#include <string>

#include "tensor/tensor.h"

namespace tg {

inline void check_defined(const Tensor& t, const char* op) {
  if (!t.defined()) throw std::invalid_argument(std::string(op) + ": undefined tensor");
}

inline void check_floating(const Tensor& t, const char* op) {
  check_defined(t, op);
  if (!is_floating(t.dtype())) {
    throw std::invalid_argument(std::string(op) + ": dtype " + dtype_name(t.dtype()) +
                                " is not supported (expected f32 or f64)");
  }
}

inline void check_index(const Tensor& t, const char* op) {
  check_defined(t, op);
  if (t.dtype() != DType::I64) {
    throw std::invalid_argument(std::string(op) + ": index tensor must be i64, got " +
                                dtype_name(t.dtype()));
  }
}

// Same device (for operands that may differ in dtype, such as a mask or an index tensor).
inline void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  check_defined(a, op);
  check_defined(b, op);
  if (a.device() != b.device()) {
    throw std::invalid_argument(std::string(op) + ": device mismatch: " + a.describe() + " vs " +
                                b.describe());
  }
}

// Same dtype and same device, or a message like
//   "add: dtype mismatch: f32 (2,3) cpu vs f64 (3) cpu".
inline void check_same(const Tensor& a, const Tensor& b, const char* op) {
  check_defined(a, op);
  check_defined(b, op);
  if (a.dtype() != b.dtype()) {
    throw std::invalid_argument(std::string(op) + ": dtype mismatch: " + a.describe() + " vs " +
                                b.describe());
  }
  check_same_device(a, b, op);
}

// For the ops only the CPU backend implements (linalg.cpp's eigh): throws on any other device.
inline void check_cpu(const Tensor& t, const char* op) {
  if (t.device() != Device::CPU) {
    require_device(t.device(), op);
    throw std::runtime_error(std::string(op) + ": not implemented on " + device_name(t.device()));
  }
}

}  // namespace tg
