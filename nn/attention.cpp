// attention.cpp — SelfAttention: the QKV projections, the masks, the two score activations.
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

// The masks of one forward pass, as small tensors that broadcast against the scores (B, H, T, T):
// shape (Bm, 1, Tq, T) with Bm = B when there is a key-padding mask (else 1) and Tq = T when
// causal (else 1: every query sees the same keys).
struct ScoreMasks {
  // softmax: 0 where query i may see key j, -inf where not. A row that sees no key is all 0
  // (finite scores, no NaN) and is zeroed afterwards through `sees_a_key`.
  Tensor additive;
  // softmax: (Bm, 1, Tq, 1), 1 where the row sees at least one key, else 0. Undefined when every
  // row sees a key (then nothing needs zeroing).
  Tensor sees_a_key;
  // relu: c / n_i where query i may see key j, 0 elsewhere (a row that sees nothing is all 0).
  Tensor weights;
};

ScoreMasks build_masks(int64_t B, int64_t T, bool causal, const Tensor& key_padding_mask,
                       ScoreActivation activation, double c, DType dtype, Device device) {
  ScoreMasks masks;
  const bool padded = key_padding_mask.defined();
  const bool softmax = activation == ScoreActivation::Softmax;
  if (softmax && !padded && !causal) return masks;  // every query sees every key
  const std::vector<double> valid = padded ? key_padding_mask.to_vector() : std::vector<double>();
  const int64_t Bm = padded ? B : 1, Tq = causal ? T : 1;
  Tensor table({Bm, 1, Tq, T}, dtype);  // (Bm, 1, Tq, T)
  Tensor sees({Bm, 1, Tq, 1}, dtype);   // (Bm, 1, Tq, 1)
  bool any_empty = false;
  dispatch_float(dtype, "SelfAttention", [&](auto tag) {
    using F = decltype(tag);
    F* p = table.data<F>();
    F* s = sees.data<F>();
    for (int64_t b = 0; b < Bm; ++b) {
      for (int64_t i = 0; i < Tq; ++i) {
        F* row = p + (b * Tq + i) * T;
        const int64_t last = causal ? i : T - 1;  // keys j <= last may be seen
        int64_t n = 0;
        for (int64_t j = 0; j < T; ++j) {
          const bool allowed = j <= last && (!padded || valid[b * T + j] != 0.0);
          n += allowed;
          row[j] = allowed ? F(1) : F(0);
        }
        s[b * Tq + i] = n > 0 ? F(1) : F(0);
        any_empty = any_empty || n == 0;
        for (int64_t j = 0; j < T; ++j) {
          if (softmax) {
            row[j] = row[j] != F(0) || n == 0 ? F(0) : -std::numeric_limits<F>::infinity();
          } else {
            row[j] = n > 0 ? row[j] * static_cast<F>(c / static_cast<double>(n)) : F(0);
          }
        }
      }
    }
  });
  if (device != Device::CPU) {
    table = table.to(device);
    sees = sees.to(device);
  }
  if (softmax) {
    masks.additive = table;
    if (any_empty) masks.sees_a_key = sees;
  } else {
    masks.weights = table;
  }
  return masks;
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

ag::Variable SelfAttention::forward(const ag::Variable& x, const Tensor& key_padding_mask) const {
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
  const ScoreMasks masks = build_masks(B, T, options_.causal, key_padding_mask, options_.activation,
                                       c, x.dtype(), x.device());
  ag::Variable q = heads(x, 0);                                 // (B, H, T, S)
  const ag::Variable k_t = ag::transpose(heads(x, 1), -1, -2);  // (B, H, S, T), a view
  const ag::Variable v = heads(x, 2);                           // (B, H, T, S)

  ag::Variable mixed;  // (B, H, T, S)
  if (options_.activation == ScoreActivation::Softmax) {
    if (c != 1.0) q = q * c;  // scaling q (B, H, T, S) is cheaper than the scores (B, H, T, T)
    ag::Variable scores = ag::matmul(q, k_t);  // (B, H, T, T)
    if (masks.additive.defined()) scores = scores + ag::Variable(masks.additive);
    mixed = ag::matmul(ag::softmax(scores, -1), v);  // (B, H, T, S)
    if (masks.sees_a_key.defined()) mixed = mixed * ag::Variable(masks.sees_a_key);
  } else {
    const ag::Variable scores = ag::matmul(q, k_t);                               // (B, H, T, T)
    const ag::Variable weights = ag::relu(scores) * ag::Variable(masks.weights);  // c / n_i
    mixed = ag::matmul(weights, v);                                               // (B, H, T, S)
  }
  const ag::Variable merged = ag::reshape(ag::permute(mixed, {0, 2, 1, 3}), {B, T, H * S});
  return c_proj_->forward(merged);  // (B, T, I) -> (B, T, D)
}

}  // namespace tg::nn
