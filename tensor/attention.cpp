// attention.cpp — fused multi-head self-attention: checks, and dispatch to the CPU kernel or,
// on other devices, to the same computation composed of ordinary ops (attention_reference).
#include <limits>
#include <stdexcept>
#include <string>

#include "tensor/check.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

namespace tg {

namespace {

// (B, T, 3I) -> (B, T, I) with 3I divisible by 3 and I by heads, else a message naming `op`.
void check_qkv(const Tensor& qkv, int64_t heads, const char* op) {
  check_floating(qkv, op);
  if (qkv.dim() != 3 || qkv.size(2) % 3 != 0 || heads <= 0 || (qkv.size(2) / 3) % heads != 0) {
    throw std::invalid_argument(std::string(op) + ": expected qkv (B, T, 3 * heads * S) with " +
                                std::to_string(heads) + " heads, got " + shape_str(qkv.shape()));
  }
}

// (B, T, 3I) -> one of q, k, v as (B, H, T, S), a view.
Tensor head_view(const Tensor& qkv, int64_t part, int64_t heads) {
  const int64_t B = qkv.size(0), T = qkv.size(1), I = qkv.size(2) / 3;
  return qkv.narrow(2, part * I, I).reshape({B, T, heads, I / heads}).permute({0, 2, 1, 3});
}

// (B, H, T, S) -> (B, T, H * S), contiguous.
Tensor merge_heads(const Tensor& x) {
  return x.permute({0, 2, 1, 3}).contiguous().reshape({x.size(0), x.size(2), -1});
}

}  // namespace

AttentionResult attention(const Tensor& qkv, int64_t heads, const Tensor& valid, bool causal,
                          double scale) {
  check_qkv(qkv, heads, "attention");
  const int64_t B = qkv.size(0), T = qkv.size(1), I = qkv.size(2) / 3;
  if (valid.defined()) {
    check_defined(valid, "attention");
    if (valid.shape() != Shape{B, T}) {
      throw std::invalid_argument("attention: valid must be (B, T) = " + shape_str({B, T}) +
                                  ", got " + shape_str(valid.shape()));
    }
  }
  if (qkv.device() != Device::CPU) return attention_reference(qkv, heads, valid, causal, scale);
  AttentionResult r;
  r.y = empty({B, T, I}, qkv.dtype());
  r.probs = empty({B, heads, T, T}, qkv.dtype());
  cpu::attention(qkv.contiguous(), heads, valid, causal, scale, r.y, r.probs);
  return r;
}

Tensor attention_backward(const Tensor& grad_y, const Tensor& qkv, const Tensor& probs,
                          int64_t heads, double scale, bool causal) {
  check_qkv(qkv, heads, "attention_backward");
  check_same(grad_y, qkv, "attention_backward");
  check_same(probs, qkv, "attention_backward");
  const int64_t B = qkv.size(0), T = qkv.size(1), I = qkv.size(2) / 3;
  if (grad_y.shape() != Shape{B, T, I} || probs.shape() != Shape{B, heads, T, T}) {
    throw std::invalid_argument("attention_backward: expected grad_y " + shape_str({B, T, I}) +
                                " and probs " + shape_str({B, heads, T, T}) + ", got " +
                                shape_str(grad_y.shape()) + " and " + shape_str(probs.shape()));
  }
  if (qkv.device() != Device::CPU) {
    return attention_backward_reference(grad_y, qkv, probs, heads, scale);
  }
  Tensor dqkv = empty(qkv.shape(), qkv.dtype());
  cpu::attention_backward(grad_y.contiguous(), qkv.contiguous(), probs.contiguous(), heads, scale,
                          causal, dqkv);
  return dqkv;
}

AttentionResult attention_reference(const Tensor& qkv, int64_t heads, const Tensor& valid,
                                    bool causal, double scale) {
  check_qkv(qkv, heads, "attention_reference");
  const int64_t B = qkv.size(0), T = qkv.size(1);
  // allowed (B, 1, T, T) and the additive mask: 0 where allowed or in a row allowing nothing
  // (kept finite, zeroed by `allowed` afterwards), -inf elsewhere. Built on the host: B * T^2.
  const std::vector<double> v = valid.defined() ? valid.to_vector() : std::vector<double>();
  std::vector<double> allowed(B * T * T), additive(B * T * T);
  const double inf = std::numeric_limits<double>::infinity();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < T; ++i) {
      bool any = false;
      for (int64_t j = 0; j < T; ++j) {
        const bool ok = (!causal || j <= i) && (v.empty() || v[b * T + j] != 0.0);
        allowed[(b * T + i) * T + j] = ok;
        any = any || ok;
      }
      for (int64_t j = 0; j < T; ++j) {
        const double ok = allowed[(b * T + i) * T + j];
        additive[(b * T + i) * T + j] = ok != 0.0 || !any ? 0.0 : -inf;
      }
    }
  }
  const Tensor allowed_t = from_vector(allowed, {B, 1, T, T}, qkv.dtype()).to(qkv.device());
  const Tensor additive_t = from_vector(additive, {B, 1, T, T}, qkv.dtype()).to(qkv.device());
  const Tensor q = head_view(qkv, 0, heads), k = head_view(qkv, 1, heads);
  const Tensor vv = head_view(qkv, 2, heads);
  const Tensor scores = matmul(q, k.transpose(-1, -2)) * scale + additive_t;  // (B, H, T, T)
  AttentionResult r;
  r.probs = softmax(scores, -1) * allowed_t;
  r.y = merge_heads(matmul(r.probs, vv));  // (B, T, I)
  return r;
}

Tensor attention_backward_reference(const Tensor& grad_y, const Tensor& qkv, const Tensor& probs,
                                    int64_t heads, double scale) {
  check_qkv(qkv, heads, "attention_backward_reference");
  const int64_t B = qkv.size(0), T = qkv.size(1), I = qkv.size(2) / 3;
  const Tensor q = head_view(qkv, 0, heads), k = head_view(qkv, 1, heads);
  const Tensor v = head_view(qkv, 2, heads);
  const Tensor g = grad_y.reshape({B, T, heads, I / heads}).permute({0, 2, 1, 3});  // (B,H,T,S)
  const Tensor dv = matmul(probs.transpose(-1, -2), g);
  const Tensor dp = matmul(g, v.transpose(-1, -2));
  const Tensor ds = probs * (dp - sum(probs * dp, {-1}, true)) * scale;
  const Tensor dq = matmul(ds, k);
  const Tensor dk = matmul(ds.transpose(-1, -2), q);
  return concat({merge_heads(dq), merge_heads(dk), merge_heads(dv)}, 2);
}

}  // namespace tg
