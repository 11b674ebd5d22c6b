// pooling.cpp — AttentivePooling (see pooling.h). Dimension letters B, N, D, Q, O as there.
#include "nn/pooling.h"

#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/ops.h"

namespace tg::nn {

namespace {

// From mask (B, N): the additive score mask (B, 1, N), 0 at valid positions and -inf at padding
// (all 0 for a sequence without valid positions, to keep its scores finite), and, when such a
// sequence exists, (B, 1, 1): 1 where the sequence has a valid position, else 0.
struct PoolingMasks {
  Tensor additive, has_valid;
};

PoolingMasks build_masks(const Tensor& mask, DType dtype, Device device) {
  const int64_t B = mask.size(0), N = mask.size(1);
  const std::vector<double> valid = mask.to_vector();
  std::vector<double> additive(static_cast<size_t>(B * N)), has_valid(static_cast<size_t>(B));
  bool any_empty = false;
  for (int64_t b = 0; b < B; ++b) {
    int64_t n = 0;
    for (int64_t i = 0; i < N; ++i) n += valid[b * N + i] != 0.0;
    has_valid[b] = n > 0 ? 1.0 : 0.0;
    any_empty = any_empty || n == 0;
    for (int64_t i = 0; i < N; ++i) {
      const bool keep = valid[b * N + i] != 0.0 || n == 0;
      additive[b * N + i] = keep ? 0.0 : -std::numeric_limits<double>::infinity();
    }
  }
  PoolingMasks masks;
  masks.additive = from_vector(additive, {B, 1, N}, dtype).to(device);
  if (any_empty) masks.has_valid = from_vector(has_valid, {B, 1, 1}, dtype).to(device);
  return masks;
}

}  // namespace

AttentivePooling::AttentivePooling(int64_t in_dim, int64_t n_queries, int64_t out_dim,
                                   Generator& gen, DType dtype)
    : in_dim_(in_dim) {
  if (in_dim <= 0 || n_queries <= 0 || out_dim <= 0) {
    throw std::invalid_argument("AttentivePooling: sizes must be positive, got in " +
                                std::to_string(in_dim) + ", queries " + std::to_string(n_queries) +
                                ", out " + std::to_string(out_dim));
  }
  queries_ = register_parameter("queries", randn({n_queries, out_dim}, gen, dtype));
  const LinearOptions projection = LinearOptions::uniform(dtype, /*bias=*/false);
  k_proj_ = register_module("k_proj", std::make_shared<Linear>(in_dim, out_dim, gen, projection));
  v_proj_ = register_module("v_proj", std::make_shared<Linear>(in_dim, out_dim, gen, projection));
}

ag::Variable AttentivePooling::forward(const ag::Variable& h, const Tensor& mask) const {
  if (h.dim() != 3 || h.size(2) != in_dim_) {
    throw std::invalid_argument("AttentivePooling: expected input (B, N, " +
                                std::to_string(in_dim_) + "), got " + shape_str(h.shape()));
  }
  const int64_t B = h.size(0), N = h.size(1);
  if (mask.defined() && mask.shape() != Shape{B, N}) {
    throw std::invalid_argument("AttentivePooling: mask must be (B, N) = " + shape_str({B, N}) +
                                ", got " + shape_str(mask.shape()));
  }
  const ag::Variable keys = k_proj_->forward(h);    // (B, N, O)
  const ag::Variable values = v_proj_->forward(h);  // (B, N, O)
  // s[b, j, n] = q_j . k_n: (Q, O) @ (B, O, N), the queries broadcast over B.
  ag::Variable scores = ag::matmul(queries_, ag::transpose(keys, 1, 2));  // (B, Q, N)
  PoolingMasks masks;
  if (mask.defined()) {
    masks = build_masks(mask, h.dtype(), h.device());
    scores = scores + ag::Variable(masks.additive);  // + (B, 1, N)
  }
  ag::Variable pooled = ag::matmul(ag::softmax(scores, -1), values);  // (B, Q, N) @ (B, N, O)
  if (masks.has_valid.defined()) pooled = pooled * ag::Variable(masks.has_valid);
  return pooled;  // (B, Q, O)
}

}  // namespace tg::nn
