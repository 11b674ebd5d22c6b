// elementwise.cpp — CPU loops for unary, binary and scalar elementwise ops.
//
// Two paths per op: when every operand is contiguous (the common case in a training step) a flat
// loop the compiler vectorises, split across OpenMP threads above kParallelGrain elements;
// otherwise the StridedLoop walk (broadcast operands have stride 0).
#include "tensor/cpu/elementwise.h"

#include <algorithm>

#include "tensor/cpu/strided.h"

namespace tg::cpu {

namespace {

// out[i] = f(x[i]) and out[i] = f(a[i], b[i]) over flat contiguous ranges, in parallel when large.
// Written over plain pointers (not an index lambda capturing them by reference): given the
// latter, GCC vectorised the loop with gather/scatter instructions, 3-4x slower than plain
// vector loads (perf, tiny TGMM step). `out` may equal an input (in-place ops): each element
// is read before it is written, which `omp simd` permits.
template <class T, class F>
void flat_map1(int64_t n, const T* x, T* out, F f) {
  if (n >= kParallelGrain) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
  }
}

template <class T, class F>
void flat_map2(int64_t n, const T* a, const T* b, T* out, F f) {
  if (n >= kParallelGrain) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  }
}

// Map `f` over (x) -> out with any strides.
template <class T, class F>
void map1(const Tensor& x, Tensor& out, F&& f) {
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  if (x.is_contiguous() && out.is_contiguous()) {
    flat_map1(out.numel(), xp, op, f);
    return;
  }
  StridedLoop<2> loop(out.shape(), {out.strides(), x.strides()});
  for_each_row(loop, [&](auto off, int64_t n, auto st) {
    T* o = op + off[0];
    const T* a = xp + off[1];
    for (int64_t k = 0; k < n; ++k) o[k * st[0]] = f(a[k * st[1]]);
  });
}

// Map `f` over (a, b) -> out with any strides.
template <class T, class F>
void map2(const Tensor& a, const Tensor& b, Tensor& out, F&& f) {
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  T* op = out.data<T>();
  if (a.is_contiguous() && b.is_contiguous() && out.is_contiguous()) {
    flat_map2(out.numel(), ap, bp, op, f);
    return;
  }
  StridedLoop<3> loop(out.shape(), {out.strides(), a.strides(), b.strides()});
  for_each_row(loop, [&](auto off, int64_t n, auto st) {
    T* o = op + off[0];
    const T* x = ap + off[1];
    const T* y = bp + off[2];
    if (st[0] == 1 && st[1] == 1 && st[2] == 0) {  // row op scalar: the bias-add shape
      const T s = y[0];
      for (int64_t k = 0; k < n; ++k) o[k] = f(x[k], s);
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t k = 0; k < n; ++k) o[k] = f(x[k], y[k]);
    } else {
      for (int64_t k = 0; k < n; ++k) o[k * st[0]] = f(x[k * st[1]], y[k * st[2]]);
    }
  });
}

}  // namespace

void unary_kernel(UnaryOp op, const Tensor& x, Tensor& out) {
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
      TG_UNARY_CASE(Gelu)
#undef TG_UNARY_CASE
    }
  });
}

void binary_kernel(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
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

void affine_kernel(const Tensor& x, double scale, double shift, Tensor& out) {
  dispatch_float(x.dtype(), "affine", [&](auto tag) {
    using T = decltype(tag);
    const T s = T(scale), c = T(shift);
    map1<T>(x, out, [s, c](T v) { return v * s + c; });
  });
}

void pow_scalar_kernel(const Tensor& x, double p, Tensor& out) {
  dispatch_float(x.dtype(), "pow_scalar", [&](auto tag) {
    using T = decltype(tag);
    const T e = T(p);
    if (p == 2.0) {
      map1<T>(x, out, [](T v) { return v * v; });
    } else {
      map1<T>(x, out, [e](T v) { return std::pow(v, e); });
    }
  });
}

void clamp_kernel(const Tensor& x, double low, double high, Tensor& out) {
  dispatch_float(x.dtype(), "clamp", [&](auto tag) {
    using T = decltype(tag);
    const T lo = T(low), hi = T(high);
    map1<T>(x, out, [lo, hi](T v) { return v < lo ? lo : (v > hi ? hi : v); });
  });
}

void gelu_backward_kernel(const Tensor& grad, const Tensor& x, Tensor& out) {
  dispatch_float(x.dtype(), "gelu_backward", [&](auto tag) {
    using T = decltype(tag);
    map2<T>(grad, x, out, [](T g, T v) { return g * gelu_derivative(v); });
  });
}

void add_inplace_kernel(Tensor& a, const Tensor& b, double alpha) {
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

void mul_inplace_kernel(Tensor& a, double c) {
  dispatch_float(a.dtype(), "mul_", [&](auto tag) {
    using T = decltype(tag);
    const T s = T(c);
    map1<T>(a, a, [s](T x) { return x * s; });
  });
}

}  // namespace tg::cpu
