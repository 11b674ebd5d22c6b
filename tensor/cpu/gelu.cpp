// cpu/gelu.cpp — GELU in its tanh form (GPT-2's activation), forward and backward, on the CPU.
//
// Forward. GELU is x Phi(x), Phi the standard normal CDF; the tanh form approximates Phi:
//   u = k (x + c x^3),   y = gelu(x) = 0.5 x (1 + tanh u)        k = sqrt(2/pi), c = 0.044715
//
// Backward. y is the product of 0.5 x and (1 + tanh u), so by the product rule
//   dy/dx = 0.5 (1 + tanh u) + 0.5 x d(tanh u)/dx,
// and by the chain rule, with d(tanh u)/du = 1 - tanh^2 u and du/dx = k (1 + 3 c x^2),
//   gelu'(x) = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) k (1 + 3 c x^2).
// The gradient is dL/dx = dL/dy * gelu'(x), element by element, in one pass: gelu' is never stored.
// The backward needs the forward's input x (not y): u and tanh u are recomputed, which costs less
// than keeping them.
//
// Both formulas are gelu_value and gelu_derivative in tensor/scalar_ops.h, shared with the GPU
// (cuda/gelu.cu); here tanh is the vectorised tanh_f32 for f32 (cpu/fast_math.h). The loops are
// cpu/map.h's: any strides, a flat vectorised loop when everything is contiguous.
#include "tensor/cpu/map.h"
#include "tensor/kernels.h"
#include "tensor/scalar_ops.h"

namespace tg::cpu {

void gelu(const Tensor& x, Tensor& out) {
  dispatch_float(x.dtype(), "gelu", [&](auto tag) {
    using T = decltype(tag);
    map1<T>(x, out, [](T v) { return gelu_value(v); });
  });
}

void gelu_backward(const Tensor& grad, const Tensor& x, Tensor& out) {
  dispatch_float(x.dtype(), "gelu_backward", [&](auto tag) {
    using T = decltype(tag);
    map2<T>(grad, x, out, [](T g, T v) { return g * gelu_derivative(v); });
  });
}

}  // namespace tg::cpu
