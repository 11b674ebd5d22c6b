// elementwise.h — the scalar functions behind unary and binary ops, and their CPU loops.
//
// Each op is a small functor on one scalar type T; the loops in elementwise.cpp apply it over
// strided operands (StridedLoop), with a flat fast path when every operand is contiguous.
#pragma once
#include <cmath>

#include "tensor/cpu/fast_math.h"
#include "tensor/ops.h"

namespace tg::cpu {

// GELU, tanh form, and its derivative (shared by gelu and gelu_backward).
//   u = sqrt(2/pi) (x + 0.044715 x^3),  gelu(x) = 0.5 x (1 + tanh u)
//   gelu'(x) = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
template <class T>
inline T gelu_value(T x) {
  const T k = T(0.7978845608028654), c = T(0.044715);
  return T(0.5) * x * (T(1) + fast_tanh(k * (x + c * x * x * x)));
}
template <class T>
inline T gelu_derivative(T x) {
  const T k = T(0.7978845608028654), c = T(0.044715);
  const T t = fast_tanh(k * (x + c * x * x * x));
  return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * k * (T(1) + T(3) * c * x * x);
}

template <class T>
inline T apply_unary(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::Neg:
      return -x;
    case UnaryOp::Exp:
      return fast_exp(x);
    case UnaryOp::Log:
      return std::log(x);
    case UnaryOp::Sqrt:
      return std::sqrt(x);
    case UnaryOp::Rsqrt:
      return T(1) / std::sqrt(x);
    case UnaryOp::Tanh:
      return fast_tanh(x);
    case UnaryOp::Sigmoid:
      return fast_sigmoid(x);
    case UnaryOp::Relu:
      return x > T(0) ? x : T(0);
    case UnaryOp::Abs:
      return std::abs(x);
    case UnaryOp::Square:
      return x * x;
    case UnaryOp::Reciprocal:
      return T(1) / x;
    case UnaryOp::Sign:
      return T((x > T(0)) - (x < T(0)));
    case UnaryOp::Gelu:
      return gelu_value(x);
  }
  return x;
}

template <class T>
inline T apply_binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add:
      return a + b;
    case BinaryOp::Sub:
      return a - b;
    case BinaryOp::Mul:
      return a * b;
    case BinaryOp::Div:
      return a / b;
    case BinaryOp::Maximum:
      return a > b ? a : b;
    case BinaryOp::Minimum:
      return a < b ? a : b;
    case BinaryOp::Pow:
      return std::pow(a, b);
    case BinaryOp::Eq:
      return T(a == b);
    case BinaryOp::Ne:
      return T(a != b);
    case BinaryOp::Lt:
      return T(a < b);
    case BinaryOp::Le:
      return T(a <= b);
    case BinaryOp::Gt:
      return T(a > b);
    case BinaryOp::Ge:
      return T(a >= b);
  }
  return a;
}

// out = op(x) over the broadcast-free shape of out (x may be strided).
void unary_kernel(UnaryOp op, const Tensor& x, Tensor& out);
// out = op(a, b); a and b already expanded to out's shape (stride 0 on broadcast dims).
void binary_kernel(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out);
// out = x * scale + shift
void affine_kernel(const Tensor& x, double scale, double shift, Tensor& out);
void pow_scalar_kernel(const Tensor& x, double p, Tensor& out);
void clamp_kernel(const Tensor& x, double low, double high, Tensor& out);
// out = grad * gelu'(x)
void gelu_backward_kernel(const Tensor& grad, const Tensor& x, Tensor& out);
// a += alpha * b (b expanded to a's shape), a *= c
void add_inplace_kernel(Tensor& a, const Tensor& b, double alpha);
void mul_inplace_kernel(Tensor& a, double c);

}  // namespace tg::cpu
