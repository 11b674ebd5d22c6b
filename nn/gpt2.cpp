// gpt2.cpp — TransformerBlock and GPT2Backbone (see gpt2.h).
#include "nn/gpt2.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "autograd/ops.h"

namespace tg::nn {

TransformerBlock::TransformerBlock(int64_t n_embd, Generator& gen, BlockOptions options) {
  if (options.attention.dtype != options.mlp.dtype) {
    throw std::invalid_argument(std::string("TransformerBlock: attention dtype ") +
                                dtype_name(options.attention.dtype) + " differs from mlp dtype " +
                                dtype_name(options.mlp.dtype));
  }
  const LayerNormOptions ln{options.ln_eps, options.attention.dtype};
  if (options.layer_norm) ln_1_ = register_module("ln_1", std::make_shared<LayerNorm>(n_embd, ln));
  attn_ = register_module("attn", std::make_shared<SelfAttention>(n_embd, gen, options.attention));
  if (options.layer_norm) ln_2_ = register_module("ln_2", std::make_shared<LayerNorm>(n_embd, ln));
  mlp_ = register_module("mlp", std::make_shared<MLP>(n_embd, gen, options.mlp));
}

ag::Variable TransformerBlock::forward(const ag::Variable& h,
                                       const Tensor& key_padding_mask) const {
  // The residual adds happen inside each c_proj's GEMM: h1 = h + attn(a), out = h1 + mlp(m).
  const ag::Variable a = ln_1_ ? ln_1_->forward(h) : h;  // (B, T, D)
  const ag::Variable h1 = attn_->forward(a, key_padding_mask, h);
  const ag::Variable m = ln_2_ ? ln_2_->forward(h1) : h1;
  return mlp_->forward(m, h1);
}

GPT2Backbone::GPT2Backbone(const GPT2Config& config, Generator& gen) : config_(config) {
  const GPT2Config& c = config;
  if (c.n_embd <= 0 || c.n_layer < 0 || c.n_head <= 0 || c.n_positions <= 0) {
    throw std::invalid_argument(
        "GPT2Backbone: n_embd, n_head, n_positions must be positive and "
        "n_layer non-negative");
  }
  if (c.use_positions) {
    wpe_ =
        register_module("wpe", std::make_shared<Embedding>(c.n_positions, c.n_embd, gen,
                                                           EmbeddingOptions{c.init_std, c.dtype}));
  }
  BlockOptions block;
  block.layer_norm = c.layer_norm;
  block.ln_eps = c.ln_eps;
  // The residual projections are scaled down by sqrt(2 L): 2 L of them add into the stream.
  const double proj_std =
      c.init_std / std::sqrt(2.0 * static_cast<double>(std::max<int64_t>(c.n_layer, 1)));
  block.attention = {.n_head = c.n_head,
                     .head_dim = 0,
                     .causal = c.causal,
                     .activation = c.score_activation,
                     .scale = c.scale_scores,
                     .init_std = c.init_std,
                     .proj_std = proj_std,
                     .dtype = c.dtype};
  block.mlp = {.hidden = c.mlp_hidden,
               .activation = c.mlp_activation,
               .init_std = c.init_std,
               .proj_std = proj_std,
               .dtype = c.dtype};
  h_ = register_module("h", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < c.n_layer; ++i) {
    blocks_.push_back(h_->append(std::make_shared<TransformerBlock>(c.n_embd, gen, block)));
  }
  if (c.layer_norm) {
    ln_f_ = register_module(
        "ln_f", std::make_shared<LayerNorm>(c.n_embd, LayerNormOptions{c.ln_eps, c.dtype}));
  }
}

ag::Variable GPT2Backbone::forward(const ag::Variable& inputs_embeds,
                                   const Tensor& key_padding_mask) const {
  const GPT2Config& c = config_;
  if (inputs_embeds.dim() != 3 || inputs_embeds.size(2) != c.n_embd) {
    throw std::invalid_argument("GPT2Backbone: expected inputs_embeds (B, T, " +
                                std::to_string(c.n_embd) + "), got " +
                                shape_str(inputs_embeds.shape()));
  }
  const int64_t T = inputs_embeds.size(1);
  if (c.use_positions && T > c.n_positions) {
    throw std::invalid_argument("GPT2Backbone: " + std::to_string(T) +
                                " tokens exceed n_positions " + std::to_string(c.n_positions) +
                                " in " + shape_str(inputs_embeds.shape()));
  }
  ag::Variable h = inputs_embeds;                         // (B, T, D)
  if (wpe_) h = h + ag::narrow(wpe_->weight(), 0, 0, T);  // + (T, D), broadcast over B
  for (const auto& block : blocks_) h = block->forward(h, key_padding_mask);
  return ln_f_ ? ln_f_->forward(h) : h;
}

}  // namespace tg::nn
