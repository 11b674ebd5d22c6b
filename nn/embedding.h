// embedding.h — a lookup table: row i of `weight` is the vector of token id i.
//
// Dimension letters: V = number of rows (num_embeddings), E = embedding_dim.
//
// Initialisation: weight ~ N(0, std^2) from a tg::Generator. TGMM's task embedding uses std 1
// (the default, as PyTorch's nn.Embedding), GPT-2's position table std 0.02.
#pragma once
#include <cstdint>

#include "nn/module.h"
#include "tensor/random.h"

namespace tg::nn {

struct EmbeddingOptions {
  double std = 1.0;
  DType dtype = DType::F32;
};

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator& gen,
            EmbeddingOptions options = {});

  // ids: i64 of any shape with values in [0, V) -> ids.shape + (E).
  ag::Variable forward(const Tensor& ids) const;

  const ag::Variable& weight() const { return weight_; }  // (V, E)
  int64_t num_embeddings() const { return num_; }
  int64_t embedding_dim() const { return dim_; }

 private:
  int64_t num_, dim_;
  ag::Variable weight_;
};

}  // namespace tg::nn
