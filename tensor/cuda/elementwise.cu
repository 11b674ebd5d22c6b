// elementwise.cu — copy, fill, unary, binary, scalar and in-place elementwise ops on the GPU.
//
// One kernel shape serves them all (map.cuh): a grid-stride loop over the output's elements, each
// operand addressed through its strides. The op is a small functor; the unary and binary ops pass
// their enum and switch inside (the same op for every thread), which keeps the number of
// instantiations to one per dtype. Their formulas are tensor/scalar_ops.h's, shared with the CPU.
#include <cstdint>

#include "tensor/cuda/launch.cuh"
#include "tensor/cuda/map.cuh"
#include "tensor/kernels.h"
#include "tensor/scalar_ops.h"

namespace tg::cuda {

namespace {

// ---------------------------------------------------------------- functors
template <class Out>
struct Cast {
  template <class In>
  __device__ Out operator()(In v) const {
    return static_cast<Out>(v);
  }
};
template <class T>
struct Unary {
  UnaryOp op;
  __device__ T operator()(T x) const { return apply_unary(op, x); }
};
template <class T>
struct Binary {
  BinaryOp op;
  __device__ T operator()(T a, T b) const { return apply_binary(op, a, b); }
};
template <class T>
struct Affine {  // x * scale + shift
  T scale, shift;
  __device__ T operator()(T x) const { return x * scale + shift; }
};
template <class T>
struct PowScalar {  // x^p, and x*x for p = 2 exactly as the CPU does
  T p;
  bool square;
  __device__ T operator()(T x) const { return square ? x * x : pow_of(x, p); }
};
template <class T>
struct Clamp {
  T low, high;
  __device__ T operator()(T x) const { return x < low ? low : (x > high ? high : x); }
};
template <class T>
struct AddScaled {  // a + alpha * b, and a + b for alpha = 1 exactly as the CPU does
  T alpha;
  bool plain;
  __device__ T operator()(T a, T b) const { return plain ? a + b : a + alpha * b; }
};
template <class T>
struct Scale {
  T c;
  __device__ T operator()(T x) const { return x * c; }
};

template <class T>
__global__ void fill_kernel(Strided<1> s, int64_t n, T* out, T value) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    int64_t off[1];
    s.offsets(i, off);
    out[off[0]] = value;
  }
}

}  // namespace

void copy(const Tensor& src, Tensor& dst) {
  dispatch_all(dst.dtype(), [&](auto dst_tag) {
    using D = decltype(dst_tag);
    dispatch_all(src.dtype(), [&](auto src_tag) {
      using S = decltype(src_tag);
      map1<D, S>(src, dst, Cast<D>{});
    });
  });
}

void fill(Tensor& t, double value) {
  const int64_t n = t.numel();
  if (n == 0) return;
  const Strided<1> s = make_strided<1>(t.shape(), {t.strides()});
  dispatch_all(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    fill_kernel<<<blocks_for(n), kThreads>>>(s, n, t.device_data<T>(), static_cast<T>(value));
    CUDA_CHECK_LAUNCH();
  });
}

void unary(UnaryOp op, const Tensor& x, Tensor& out) {
  dispatch_float(x.dtype(), unary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    map1<T, T>(x, out, Unary<T>{op});
  });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  dispatch_float(a.dtype(), binary_op_name(op), [&](auto tag) {
    using T = decltype(tag);
    map2<T>(a, b, out, Binary<T>{op});
  });
}

void affine(const Tensor& x, double scale, double shift, Tensor& out) {
  dispatch_float(x.dtype(), "affine", [&](auto tag) {
    using T = decltype(tag);
    map1<T, T>(x, out, Affine<T>{T(scale), T(shift)});
  });
}

void pow_scalar(const Tensor& x, double p, Tensor& out) {
  dispatch_float(x.dtype(), "pow_scalar", [&](auto tag) {
    using T = decltype(tag);
    map1<T, T>(x, out, PowScalar<T>{T(p), p == 2.0});
  });
}

void clamp(const Tensor& x, double low, double high, Tensor& out) {
  dispatch_float(x.dtype(), "clamp", [&](auto tag) {
    using T = decltype(tag);
    map1<T, T>(x, out, Clamp<T>{T(low), T(high)});
  });
}

void add_inplace(Tensor& a, const Tensor& b, double alpha) {
  dispatch_float(a.dtype(), "add_", [&](auto tag) {
    using T = decltype(tag);
    map2<T>(a, b, a, AddScaled<T>{T(alpha), alpha == 1.0});
  });
}

void mul_inplace(Tensor& a, double c) {
  dispatch_float(a.dtype(), "mul_", [&](auto tag) {
    using T = decltype(tag);
    map1<T, T>(a, a, Scale<T>{T(c)});
  });
}

}  // namespace tg::cuda
