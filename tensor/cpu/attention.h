// cpu/attention.h — fused multi-head self-attention on a packed qkv, forward and backward.
//
// Letters: B tasks, T tokens, H heads, S head size, I = H * S. qkv (B, T, 3I) holds, per token,
// the queries of every head, then the keys, then the values (c_attn's output). The caller
// (attention.cpp) has checked shapes and made qkv, valid, grad_y and probs contiguous.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace tg::cpu {

// y (B, T, I) and probs (B, H, T, T) = softmax over allowed keys of scale * q k^T (0 where a key
// is not allowed, and in a row that allows none — whose y is then 0). Key j is allowed for query
// i when valid[b, j] != 0 (valid undefined: always) and, if causal, j <= i.
void attention(const Tensor& qkv, int64_t heads, const Tensor& valid, bool causal, double scale,
               Tensor& y, Tensor& probs);
// dqkv (B, T, 3I) from grad_y (B, T, I), the forward's qkv and probs; `causal` as in the
// forward lets the kernel skip the zero upper triangle of probs.
void attention_backward(const Tensor& grad_y, const Tensor& qkv, const Tensor& probs, int64_t heads,
                        double scale, bool causal, Tensor& dqkv);

}  // namespace tg::cpu
