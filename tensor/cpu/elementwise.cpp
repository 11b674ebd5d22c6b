// cpu/elementwise.cpp — unary, binary, scalar and in-place elementwise ops on the CPU.
//
// Each op maps a scalar function over its operands with cpu/map.h's loops; the formulas of the
// unary and binary ops are tensor/scalar_ops.h's, shared with the CUDA kernels.
#include <cmath>

#include "tensor/cpu/map.h"
#include "tensor/kernels.h"
#include "tensor/scalar_ops.h"

namespace tg::cpu {

void unary(UnaryOp op, const Tensor& x, Tensor& out) {
  dispatch_float(x.dtype(), unary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    // One instantiation per op so that each inner loop is a straight-line, vectorisable body.
    switch (op) {
#define TG_UNARY_CASE(name)                                             \
  case UnaryOp::name:                                                   \
    map1<T>(x, out, [](T v) { return apply_unary(UnaryOp::name, v); }); \
    break;
      TG_UNARY_CASE(Neg)
      TG_UNARY_CASE(Exp)
      TG_UNARY_CASE(Log)
      TG_UNARY_CASE(Sqrt)
      TG_UNARY_CASE(Rsqrt)
      TG_UNARY_CASE(Tanh)
      TG_UNARY_CASE(Sigmoid)
      TG_UNARY_CASE(Relu)
      TG_UNARY_CASE(Abs)
      TG_UNARY_CASE(Square)
      TG_UNARY_CASE(Reciprocal)
      TG_UNARY_CASE(Sign)
#undef TG_UNARY_CASE
    }
  });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  dispatch_float(a.dtype(), binary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    switch (op) {
#define TG_BINARY_CASE(name)                                                         \
  case BinaryOp::name:                                                               \
    map2<T>(a, b, out, [](T x, T y) { return apply_binary(BinaryOp::name, x, y); }); \
    break;
      TG_BINARY_CASE(Add)
      TG_BINARY_CASE(Sub)
      TG_BINARY_CASE(Mul)
      TG_BINARY_CASE(Div)
      TG_BINARY_CASE(Maximum)
      TG_BINARY_CASE(Minimum)
      TG_BINARY_CASE(Pow)
      TG_BINARY_CASE(Eq)
      TG_BINARY_CASE(Ne)
      TG_BINARY_CASE(Lt)
      TG_BINARY_CASE(Le)
      TG_BINARY_CASE(Gt)
      TG_BINARY_CASE(Ge)
#undef TG_BINARY_CASE
    }
  });
}

void affine(const Tensor& x, double scale, double shift, Tensor& out) {
  dispatch_float(x.dtype(), "affine", [&](auto tag) {
    using T = decltype(tag);
    const T s = T(scale), c = T(shift);
    map1<T>(x, out, [s, c](T v) { return v * s + c; });
  });
}

void pow_scalar(const Tensor& x, double p, Tensor& out) {
  dispatch_float(x.dtype(), "pow_scalar", [&](auto tag) {
    using T = decltype(tag);
    const T e = T(p);
    if (p == 2.0) {
      map1<T>(x, out, [](T v) { return v * v; });
    } else {
      map1<T>(x, out, [e](T v) { return pow_of(v, e); });
    }
  });
}

void clamp(const Tensor& x, double low, double high, Tensor& out) {
  dispatch_float(x.dtype(), "clamp", [&](auto tag) {
    using T = decltype(tag);
    const T lo = T(low), hi = T(high);
    map1<T>(x, out, [lo, hi](T v) { return v < lo ? lo : (v > hi ? hi : v); });
  });
}

void add_inplace(Tensor& a, const Tensor& b, double alpha) {
  dispatch_float(a.dtype(), "add_", [&](auto tag) {
    using T = decltype(tag);
    const T s = T(alpha);
    if (alpha == 1.0) {
      map2<T>(a, b, a, [](T x, T y) { return x + y; });
    } else {
      map2<T>(a, b, a, [s](T x, T y) { return x + s * y; });
    }
  });
}

void mul_inplace(Tensor& a, double c) {
  dispatch_float(a.dtype(), "mul_", [&](auto tag) {
    using T = decltype(tag);
    const T s = T(c);
    map1<T>(a, a, [s](T x) { return x * s; });
  });
}

}  // namespace tg::cpu
