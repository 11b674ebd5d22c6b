// ops_nn.cpp — differentiable softmax, log-softmax, attention and layer norm.
//
// Each forward calls one fused tensor kernel and each backward the matching fused backward kernel;
// the math, derived, is in tensor/cpu/softmax.cpp, tensor/cpu/layer_norm.cpp and
// tensor/cpu/attention.cpp. What is saved is only what that kernel needs: the output y for
// the two softmaxes; x, weight, and the per-row mean and rstd for layer norm (not the normalised
// activations — llm.c's choice, recomputing x_hat is cheaper than storing it).
//
// Notation: x the input, y the output, g = dL/dy (y's shape). Layer norm: x (..., C) normalised
// over its last dim C; weight and bias (C); mean and rstd (...).
#include "autograd/ops.h"

namespace tg::ag {

using Grads = std::vector<Tensor>;
using Needs = std::vector<bool>;

// ---- softmax: y = exp(x) / sum(exp(x), dim)
Variable softmax(const Variable& x, int64_t dim) {
  Tensor y = tg::softmax(x.value(), dim);
  return make_op("softmax", y, {x}, [y, dim](const Tensor& g, const Needs&) -> Grads {
    return {tg::softmax_backward(g, y, dim)};  // dL/dx = y * (g - sum(g * y, dim))
  });
}

// ---- attention: multi-head self-attention on a packed qkv (tg::attention, fused on the CPU)
//   P = softmax_allowed(scale q k^T), y = P v per head. Backward (tg::attention_backward):
//   dv = P^T g, dP = g v^T, dS = P * (dP - rowsum(P * dP)), dq = scale dS k, dk = scale dS^T q.
Variable attention(const Variable& qkv, int64_t heads, const Tensor& valid, bool causal,
                   double scale) {
  const Tensor x = qkv.value();
  AttentionResult r = tg::attention(x, heads, valid, causal, scale);
  const Tensor probs = r.probs;
  return make_op("attention", std::move(r.y), {qkv},
                 [x, probs, heads, scale, causal](const Tensor& g, const Needs&) -> Grads {
                   return {tg::attention_backward(g, x, probs, heads, scale, causal)};
                 });
}

// ---- log_softmax: y = x - logsumexp(x, dim)
Variable log_softmax(const Variable& x, int64_t dim) {
  Tensor y = tg::log_softmax(x.value(), dim);
  return make_op("log_softmax", y, {x}, [y, dim](const Tensor& g, const Needs&) -> Grads {
    return {tg::log_softmax_backward(g, y, dim)};  // dL/dx = g - exp(y) * sum(g, dim)
  });
}

// ---- layer_norm: y = (x - mean) * rstd * weight + bias, rstd = 1 / sqrt(var + eps)
Variable layer_norm(const Variable& x, const Variable& weight, const Variable& bias, double eps) {
  const Tensor xv = x.value();
  const Tensor wv = weight.defined() ? weight.value() : Tensor();  // (C) or undefined = 1
  const Tensor bv = bias.defined() ? bias.value() : Tensor();      // (C) or undefined = 0
  LayerNormResult r = tg::layer_norm(xv, wv, bv, eps);             // checks the shapes
  const Shape bias_shape = bv.defined() ? bv.shape() : Shape{};
  return make_op("layer_norm", std::move(r.y), {x, weight, bias},
                 [xv, wv, mean = r.mean, rstd = r.rstd, bias_shape](const Tensor& g,
                                                                    const Needs& needs) -> Grads {
                   // x_hat = (x - mean) rstd:
                   // dx = rstd * (g w - mean_C(g w) - x_hat * mean_C(g w x_hat)),
                   // dweight = sum over rows of g x_hat, dbias = sum over rows of g.
                   LayerNormGrads d = tg::layer_norm_backward(g, xv, wv, mean, rstd);
                   Tensor dbias = d.dbias;
                   if (needs[2] && !dbias.defined()) {
                     dbias = sum_to_shape(g, bias_shape);  // a bias without a weight
                   }
                   return {needs[0] ? d.dx : Tensor(), needs[1] ? d.dweight : Tensor(),
                           needs[2] ? dbias : Tensor()};
                 });
}

}  // namespace tg::ag
