// embedding.cpp — Embedding: initialisation and lookup (see embedding.h).
#include "nn/embedding.h"

#include <stdexcept>
#include <string>

#include "autograd/ops.h"

namespace tg::nn {

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator& gen,
                     EmbeddingOptions options)
    : num_(num_embeddings), dim_(embedding_dim) {
  if (num_embeddings <= 0 || embedding_dim <= 0) {
    throw std::invalid_argument("Embedding: sizes must be positive, got (" +
                                std::to_string(num_embeddings) + "," +
                                std::to_string(embedding_dim) + ")");
  }
  weight_ = register_parameter("weight", randn({num_, dim_}, gen, options.dtype, 0.0, options.std));
}

ag::Variable Embedding::forward(const Tensor& ids) const {
  if (!ids.defined() || ids.dtype() != DType::I64) {
    throw std::invalid_argument("Embedding: ids must be an i64 tensor, got " +
                                (ids.defined() ? ids.describe() : std::string("undefined")));
  }
  return ag::embedding(weight_, ids);  // checks the range of the ids
}

}  // namespace tg::nn
