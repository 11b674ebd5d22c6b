// gelu.cu — GELU in its tanh form, forward and backward, on the GPU: the twin of cpu/gelu.cpp,
// where the derivation is.
//
//   forward   y = gelu(x) = 0.5 x (1 + tanh u),  u = sqrt(2/pi) (x + 0.044715 x^3)
//   backward  dL/dx = dL/dy * gelu'(x), element by element, fused
//
// Both formulas are tensor/scalar_ops.h's (gelu_value, gelu_derivative), shared with the CPU; here
// tanh is CUDA's tanhf / tanh. The kernels are map.cuh's elementwise loops.
#include <cstdint>

#include "tensor/cuda/map.cuh"
#include "tensor/kernels.h"
#include "tensor/scalar_ops.h"

namespace tg::cuda {

namespace {

template <class T>
struct Gelu {
  __device__ T operator()(T x) const { return gelu_value(x); }
};
template <class T>
struct GeluBackward {  // grad * gelu'(x)
  __device__ T operator()(T g, T x) const { return g * gelu_derivative(x); }
};

}  // namespace

void gelu(const Tensor& x, Tensor& out) {
  dispatch_float(x.dtype(), "gelu", [&](auto tag) {
    using T = decltype(tag);
    map1<T, T>(x, out, Gelu<T>{});
  });
}

void gelu_backward(const Tensor& grad, const Tensor& x, Tensor& out) {
  dispatch_float(x.dtype(), "gelu_backward", [&](auto tag) {
    using T = decltype(tag);
    map2<T>(grad, x, out, GeluBackward<T>{});
  });
}

}  // namespace tg::cuda
