// math.cuh — the scalar functions of the elementwise ops on the GPU, one overload per dtype.
//
// The same formulas as the CPU's cpu/elementwise.h (GELU in its tanh form and its derivative,
// sign(NaN) = 0, relu(NaN) = 0), with CUDA's accurate libm (no --use_fast_math): f32 results
// differ from the CPU's vectorised exp/tanh by a few ulp, f64 results by at most an ulp or two.
#pragma once
#include "tensor/ops.h"

namespace tg::cuda {

__device__ inline float exp_of(float x) { return expf(x); }
__device__ inline double exp_of(double x) { return ::exp(x); }
__device__ inline float log_of(float x) { return logf(x); }
__device__ inline double log_of(double x) { return ::log(x); }
__device__ inline float sqrt_of(float x) { return sqrtf(x); }
__device__ inline double sqrt_of(double x) { return ::sqrt(x); }
__device__ inline float tanh_of(float x) { return tanhf(x); }
__device__ inline double tanh_of(double x) { return ::tanh(x); }
__device__ inline float pow_of(float x, float y) { return powf(x, y); }
__device__ inline double pow_of(double x, double y) { return ::pow(x, y); }
__device__ inline float abs_of(float x) { return fabsf(x); }
__device__ inline double abs_of(double x) { return ::fabs(x); }

//   u = sqrt(2/pi) (x + 0.044715 x^3),  gelu(x) = 0.5 x (1 + tanh u)
//   gelu'(x) = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
template <class T>
__device__ T gelu_value(T x) {
  const T k = T(0.7978845608028654), c = T(0.044715);
  return T(0.5) * x * (T(1) + tanh_of(k * (x + c * x * x * x)));
}
template <class T>
__device__ T gelu_derivative(T x) {
  const T k = T(0.7978845608028654), c = T(0.044715);
  const T t = tanh_of(k * (x + c * x * x * x));
  return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * k * (T(1) + T(3) * c * x * x);
}

// `op` is the same for every thread of a launch, so the switch does not diverge.
template <class T>
__device__ T apply_unary(UnaryOp op, T x) {
  switch (op) {
    case UnaryOp::Neg:
      return -x;
    case UnaryOp::Exp:
      return exp_of(x);
    case UnaryOp::Log:
      return log_of(x);
    case UnaryOp::Sqrt:
      return sqrt_of(x);
    case UnaryOp::Rsqrt:
      return T(1) / sqrt_of(x);
    case UnaryOp::Tanh:
      return tanh_of(x);
    case UnaryOp::Sigmoid:
      return T(1) / (T(1) + exp_of(-x));
    case UnaryOp::Relu:
      return x > T(0) ? x : T(0);
    case UnaryOp::Abs:
      return abs_of(x);
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
__device__ T apply_binary(BinaryOp op, T a, T b) {
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
      return pow_of(a, b);
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

}  // namespace tg::cuda
