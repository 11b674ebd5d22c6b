// dtype.h — the element types a Tensor can hold.
//
// F32 is the training type, F64 the type of gradient checks, theory verification and baselines
// where precision matters. I64 holds indices (argmax results, gather / index_select / embedding
// indices); arithmetic kernels accept only the floating types and say so when given I64.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace tg {

enum class DType { F32, F64, I64 };

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::F64:
      return "f64";
    case DType::I64:
      return "i64";
  }
  return "?";
}

inline int64_t dtype_size(DType t) {
  switch (t) {
    case DType::F32:
      return 4;
    case DType::F64:
      return 8;
    case DType::I64:
      return 8;
  }
  return 0;
}

inline bool is_floating(DType t) { return t == DType::F32 || t == DType::F64; }

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::F32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::F64;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::I64;
}

// Call f with a value of the C++ type behind `t` (float{} or double{}); throw for I64.
//   dispatch_float(x.dtype(), "exp", [&](auto tag) { using T = decltype(tag); ... });
template <class F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::F32:
      return f(float{});
    case DType::F64:
      return f(double{});
    default:
      break;
  }
  throw std::invalid_argument(std::string(op) + ": dtype " + dtype_name(t) +
                              " is not supported (expected f32 or f64)");
}

// The same over all three dtypes (copies, views, gathers: anything that only moves elements).
template <class F>
decltype(auto) dispatch_all(DType t, F&& f) {
  switch (t) {
    case DType::F32:
      return f(float{});
    case DType::F64:
      return f(double{});
    case DType::I64:
      return f(int64_t{});
  }
  return f(float{});
}

}  // namespace tg
