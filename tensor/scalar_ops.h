// scalar_ops.h — the per-element formulas of the elementwise ops, written once for both backends.
//
// The CPU loops (cpu/*.cpp) and the CUDA kernels (cuda/*.cu) apply these same functions, so the
// two backends cannot drift apart: unary and binary ops, GELU and its derivative, one AdamW update.
// TG_HOST_DEVICE marks a function for both compilers: `__host__ __device__` under nvcc, nothing
// under the host compiler.
//
// The transcendental functions (exp_of, tanh_of, ...) are the one thing that differs:
//   CPU  f32 exp and tanh are cpu/fast_math.h's straight-line versions, which vectorise inside
//        `omp simd` loops; f64 keeps the C library (it is the type of reference checks);
//   GPU  CUDA's accurate libm (no --use_fast_math).
// So f32 results differ between the backends by a few ulp, f64 results by an ulp or two.
// Conventions: sign(NaN) = 0, relu(NaN) = 0, comparisons give 1 or 0 in T.
#pragma once
#include <cmath>

#include "tensor/ops.h"

#if defined(__CUDACC__)
#define TG_HOST_DEVICE __host__ __device__
#else
#define TG_HOST_DEVICE
#include "tensor/cpu/fast_math.h"
#endif

namespace tg {

// ---------------------------------------------------------------- the transcendental functions
#if defined(__CUDACC__)
TG_HOST_DEVICE inline float exp_of(float x) { return expf(x); }
TG_HOST_DEVICE inline double exp_of(double x) { return ::exp(x); }
TG_HOST_DEVICE inline float tanh_of(float x) { return tanhf(x); }
TG_HOST_DEVICE inline double tanh_of(double x) { return ::tanh(x); }
TG_HOST_DEVICE inline float log_of(float x) { return logf(x); }
TG_HOST_DEVICE inline double log_of(double x) { return ::log(x); }
TG_HOST_DEVICE inline float sqrt_of(float x) { return sqrtf(x); }
TG_HOST_DEVICE inline double sqrt_of(double x) { return ::sqrt(x); }
TG_HOST_DEVICE inline float pow_of(float x, float y) { return powf(x, y); }
TG_HOST_DEVICE inline double pow_of(double x, double y) { return ::pow(x, y); }
TG_HOST_DEVICE inline float abs_of(float x) { return fabsf(x); }
TG_HOST_DEVICE inline double abs_of(double x) { return ::fabs(x); }
#else
inline float exp_of(float x) { return cpu::exp_f32(x); }
inline double exp_of(double x) { return std::exp(x); }
inline float tanh_of(float x) { return cpu::tanh_f32(x); }
inline double tanh_of(double x) { return std::tanh(x); }
template <class T>
inline T log_of(T x) {
  return std::log(x);
}
template <class T>
inline T sqrt_of(T x) {
  return std::sqrt(x);
}
template <class T>
inline T pow_of(T x, T y) {
  return std::pow(x, y);
}
template <class T>
inline T abs_of(T x) {
  return std::abs(x);
}
#endif

// ---------------------------------------------------------------- unary and binary ops
// `op` is a constant in each CPU loop (one instantiation per op, so the switch folds away) and the
// same for every thread of a CUDA launch (so the switch does not diverge).
template <class T>
TG_HOST_DEVICE inline T apply_unary(UnaryOp op, T x) {
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
  }
  return x;
}

template <class T>
TG_HOST_DEVICE inline T apply_binary(BinaryOp op, T a, T b) {
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

// ---------------------------------------------------------------- GELU (derivation: cpu/gelu.cpp)
//   u = sqrt(2/pi) (x + 0.044715 x^3),  gelu(x) = 0.5 x (1 + tanh u)
//   gelu'(x) = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
template <class T>
TG_HOST_DEVICE inline T gelu_value(T x) {
  const T k = T(0.7978845608028654), c = T(0.044715);
  return T(0.5) * x * (T(1) + tanh_of(k * (x + c * x * x * x)));
}
template <class T>
TG_HOST_DEVICE inline T gelu_derivative(T x) {
  const T k = T(0.7978845608028654), c = T(0.044715);
  const T t = tanh_of(k * (x + c * x * x * x));
  return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * k * (T(1) + T(3) * c * x * x);
}

// ---------------------------------------------------------------- AdamW (tg::adamw_step_, ops.h)
// One element's update, in T, operation by operation as PyTorch 1.13's _single_tensor_adamw; the
// per-step scalars come from adamw_scalars() (computed once in double, then rounded to T).
template <class T>
struct AdamWUpdate {
  T decay, beta1, beta2, one_minus_beta1, one_minus_beta2, bias2_sqrt, eps, neg_step;

  explicit AdamWUpdate(const AdamWScalars& s)
      : decay(T(s.decay)),
        beta1(T(s.beta1)),
        beta2(T(s.beta2)),
        one_minus_beta1(T(1.0 - s.beta1)),
        one_minus_beta2(T(1.0 - s.beta2)),
        bias2_sqrt(T(s.bias2_sqrt)),
        eps(T(s.eps)),
        neg_step(T(s.neg_step_size)) {}

  TG_HOST_DEVICE void operator()(T& p, T g, T& m, T& v) const {
    const T pi = p * decay;                            // param.mul_(1 - lr * wd)
    const T mi = m * beta1 + one_minus_beta1 * g;      // exp_avg.mul_(b1).add_(g, 1 - b1)
    const T vi = v * beta2 + one_minus_beta2 * g * g;  // exp_avg_sq.mul_(b2).addcmul_(g, g)
    const T denom = sqrt_of(vi) / bias2_sqrt + eps;    // (v.sqrt() / bc2_sqrt).add_(eps)
    p = pi + neg_step * mi / denom;                    // param.addcdiv_(m, denom, -step)
    m = mi;
    v = vi;
  }
};

}  // namespace tg
