// attention.h — multi-head self-attention with a fused QKV projection (GPT-2's layout).
//
// Dimension letters: B = batch (sequences), T = tokens per sequence, D = model width (n_embd),
// H = heads, S = head dim (D / H unless set), I = H * S (the inner width, = D by default).
//
// Parameters, named as in GPT-2 (HuggingFace):
//   c_attn.weight (3I, D), c_attn.bias (3I): rows [0, I) make the queries, [I, 2I) the keys,
//                                            [2I, 3I) the values; head h uses rows h*S .. h*S+S-1
//                                            of each block.
//   c_proj.weight (D, I),  c_proj.bias (D):  the output projection.
//
// For query token i of a sequence, head h (q, k, v the rows of that head):
//   softmax:        out_i = sum_j softmax_j(c <q_i, k_j>) v_j
//   relu-over-n:    out_i = (1/n_i) sum_j relu(c <q_i, k_j>) v_j
//                   (the ReLU head of docs/theory.md)
// where c = 1/sqrt(S) when options.scale, else 1; the sums run over the keys j that query i may
// see, and n_i is how many there are (= T without masks). The heads' outputs are concatenated
// (B, T, I) and projected by c_proj.
//
// Masks. key_padding_mask (B, T), any dtype: nonzero = a valid token, 0 = padding. A padding key
// is never seen by any query (its score is -inf before the softmax, its weight 0 for ReLU), so a
// padded position never influences a valid one. With causal = true, query i sees only keys
// j <= i. A query that sees no key at all (possible only for a padded query: a valid query always
// sees itself) gets all-zero attention weights: its mixed value is 0 and its output is
// c_proj.bias — never NaN, in the forward or the backward pass. Padded queries that do see keys
// are computed like any other (their outputs are defined, but meaningless to a valid token).
//
// Efficiency: with the softmax activation, c_attn's one GEMM gives the packed qkv (B, T, 3I) and
// the fused op ag::attention reads every head in place (no split or merge copies) and applies the
// masks inside its softmax (tensor/cpu/attention.cpp). ReluOverN is composed of ordinary ops: the
// queries, keys and values are three GEMMs against row blocks (views) of c_attn.weight, viewed as
// (B, H, T, S); the heads are one batched matmul over (B, H); the masks and the 1/n_i are one
// small broadcast tensor (B or 1, 1, T or 1, T) multiplied into the (B, H, T, T) scores.
#pragma once
#include <cstdint>
#include <memory>

#include "nn/linear.h"
#include "nn/module.h"

namespace tg::nn {

enum class ScoreActivation { Softmax, ReluOverN };

struct AttentionOptions {
  int64_t n_head = 1;
  int64_t head_dim = 0;  // S; 0 means D / n_head
  bool causal = false;
  ScoreActivation activation = ScoreActivation::Softmax;
  bool scale = true;       // multiply the scores by 1/sqrt(S)
  double init_std = 0.02;  // c_attn.weight ~ N(0, init_std^2), biases 0
  double proj_std = 0.02;  // c_proj.weight ~ N(0, proj_std^2) (GPT-2: 0.02 / sqrt(2 L))
  DType dtype = DType::F32;
};

class SelfAttention : public Module {
 public:
  SelfAttention(int64_t n_embd, Generator& gen, AttentionOptions options = {});

  // x (B, T, D), key_padding_mask (B, T) or undefined (no padding) -> (B, T, D); with a
  // residual (B, T, D), residual + attention(x), added inside c_proj's GEMM.
  ag::Variable forward(const ag::Variable& x, const Tensor& key_padding_mask = Tensor(),
                       const ag::Variable& residual = {}) const;

  const Linear& c_attn() const { return *c_attn_; }
  const Linear& c_proj() const { return *c_proj_; }
  const AttentionOptions& options() const { return options_; }
  int64_t n_embd() const { return n_embd_; }
  int64_t head_dim() const { return head_dim_; }

 private:
  ag::Variable heads(const ag::Variable& x, int64_t part) const;

  int64_t n_embd_, head_dim_;
  AttentionOptions options_;
  std::shared_ptr<Linear> c_attn_, c_proj_;
};

}  // namespace tg::nn
