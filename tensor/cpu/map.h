// cpu/map.h — out[i] = f(x[i]) and out[i] = f(a[i], b[i]) over tensors: the loops of every
// elementwise kernel (cpu/elementwise.cpp, cpu/gelu.cpp).
//
// Two paths: when every operand is contiguous (the common case in a training step) a flat loop the
// compiler vectorises, split across OpenMP threads above kParallelGrain elements; otherwise the
// StridedLoop walk (broadcast operands have stride 0). `out` may be an input (in-place ops): each
// element is read before it is written, which `omp simd` permits.
#pragma once
#include <cstdint>

#include "tensor/cpu/parallel.h"
#include "tensor/cpu/strided.h"
#include "tensor/tensor.h"

namespace tg::cpu {

// Over flat contiguous ranges, in parallel when large. Written over plain pointers (not an index
// lambda capturing them by reference): given the latter, GCC vectorised the loop with
// gather/scatter instructions, 3-4x slower than plain vector loads (perf, tiny TGMM step).
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

// out = f(x), x expanded to out's shape, any strides on both.
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

// out = f(a, b), a and b expanded to out's shape, any strides on all three.
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

}  // namespace tg::cpu
