// attention.cpp — SelfAttention: the QKV projections, the masks, the two score activations.
//
// Softmax (GPT-2, TGMM): c_attn's one GEMM gives the packed qkv (B, T, 3I), and the fused op
// ag::attention (tensor/cpu/attention.cpp on the CPU) does masks, scores, softmax and mixing for
// every head without splitting or merging heads. ReluOverN (the theory constructions) is
// composed of ordinary ops below.
//
// Dimension letters as in attention.h: B, T, D, H, S, I = H * S.
#include "nn/attention.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/ops.h"

namespace tg::nn {

namespace {

// ReluOverN's weights, c / n_i where query i may see key j (n_i = how many keys it sees) and 0
// elsewhere, as a (Bm, 1, Tq, T) tensor that broadcasts against the scores (B, H, T, T): Bm = B
// with a key-padding mask (else 1), Tq = T when causal (else 1). A row that sees nothing is all 0.
Tensor relu_weights(int64_t B, int64_t T, bool causal, const Tensor& key_padding_mask, double c,
                    DType dtype, Device device) {
  const bool padded = key_padding_mask.defined();
  const std::vector<double> valid = padded ? key_padding_mask.to_vector() : std::vector<double>();
  const int64_t Bm = padded ? B : 1, Tq = causal ? T : 1;
  std::vector<double> table(Bm * Tq * T);
  for (int64_t b = 0; b < Bm; ++b) {
    for (int64_t i = 0; i < Tq; ++i) {
      double* row = table.data() + (b * Tq + i) * T;
      const int64_t last = causal ? i : T - 1;  // keys j <= last may be seen
      int64_t n = 0;
      for (int64_t j = 0; j < T; ++j) {
        row[j] = j <= last && (!padded || valid[b * T + j] != 0.0);
        n += row[j] != 0.0;
      }
      for (int64_t j = 0; j < T; ++j) row[j] = n > 0 ? row[j] * c / static_cast<double>(n) : 0.0;
    }
  }
  return from_vector(table, {Bm, 1, Tq, T}, dtype).to(device);
}

}  // namespace

SelfAttention::SelfAttention(int64_t n_embd, Generator& gen, AttentionOptions options)
    : n_embd_(n_embd), options_(options) {
  if (n_embd <= 0 || options.n_head <= 0) {
    throw std::invalid_argument("SelfAttention: n_embd and n_head must be positive, got " +
                                std::to_string(n_embd) + " and " + std::to_string(options.n_head));
  }
  if (options.head_dim == 0 && n_embd % options.n_head != 0) {
    throw std::invalid_argument("SelfAttention: n_embd " + std::to_string(n_embd) +
                                " is not divisible by n_head " + std::to_string(options.n_head));
  }
  head_dim_ = options.head_dim > 0 ? options.head_dim : n_embd / options.n_head;
  const int64_t inner = options.n_head * head_dim_;  // I
  c_attn_ = register_module(
      "c_attn", std::make_shared<Linear>(n_embd, 3 * inner, gen,
                                         LinearOptions::normal(options.init_std, options.dtype)));
  c_proj_ = register_module(
      "c_proj", std::make_shared<Linear>(inner, n_embd, gen,
                                         LinearOptions::normal(options.proj_std, options.dtype)));
}

// Queries (part 0), keys (1) or values (2) of every head: x (B, T, D) -> (B, H, T, S), from the
// row block [part * I, part * I + I) of c_attn (views of the weight and bias, no copy).
ag::Variable SelfAttention::heads(const ag::Variable& x, int64_t part) const {
  const int64_t B = x.size(0), T = x.size(1), H = options_.n_head, S = head_dim_, I = H * S;
  const ag::Variable w = ag::narrow(c_attn_->weight(), 0, part * I, I);  // (I, D)
  const ag::Variable b = ag::narrow(c_attn_->bias(), 0, part * I, I);    // (I)
  const ag::Variable y = ag::matmul(x, ag::transpose(w, 0, 1)) + b;      // (B, T, I)
  return ag::permute(ag::reshape(y, {B, T, H, S}), {0, 2, 1, 3});        // (B, H, T, S)
}

ag::Variable SelfAttention::forward(const ag::Variable& x, const Tensor& key_padding_mask,
                                    const ag::Variable& residual) const {
  if (x.dim() != 3 || x.size(2) != n_embd_) {
    throw std::invalid_argument("SelfAttention: expected input (B, T, " + std::to_string(n_embd_) +
                                "), got " + shape_str(x.shape()));
  }
  const int64_t B = x.size(0), T = x.size(1), H = options_.n_head, S = head_dim_;
  if (key_padding_mask.defined() && key_padding_mask.shape() != Shape{B, T}) {
    throw std::invalid_argument("SelfAttention: key_padding_mask must be (B, T) = " +
                                shape_str({B, T}) + ", got " + shape_str(key_padding_mask.shape()));
  }
  const double c = options_.scale ? 1.0 / std::sqrt(static_cast<double>(S)) : 1.0;
  if (options_.activation == ScoreActivation::Softmax) {
    // One GEMM for q, k and v of every head, then the fused kernel reads them in place.
    const ag::Variable qkv = c_attn_->forward(x);  // (B, T, 3I)
    return c_proj_->forward(ag::attention(qkv, H, key_padding_mask, options_.causal, c), residual);
  }
  // ReluOverN (the theory constructions): relu(q k^T) weighted by c / n_i, composed of ops.
  const ag::Variable q = heads(x, 0);                           // (B, H, T, S)
  const ag::Variable k_t = ag::transpose(heads(x, 1), -1, -2);  // (B, H, S, T), a view
  const ag::Variable v = heads(x, 2);                           // (B, H, T, S)
  const ag::Variable weights =
      ag::Variable(relu_weights(B, T, options_.causal, key_padding_mask, c, x.dtype(), x.device()));
  const ag::Variable mixed = ag::matmul(ag::relu(ag::matmul(q, k_t)) * weights, v);  // (B,H,T,S)
  const ag::Variable merged = ag::reshape(ag::permute(mixed, {0, 2, 1, 3}), {B, T, H * S});
  return c_proj_->forward(merged, residual);  // (B, T, I) -> (B, T, D)
}

}  // namespace tg::nn
