// gpt2.h — the GPT-2 transformer: the pre-LN block and the backbone TGMM runs on.
//
// Dimension letters: B = batch (sequences), T = tokens, D = width (n_embd), L = layers,
// P = n_positions (the longest T the position table covers).
//
//   TransformerBlock:  h = h + attn(ln_1(h));  h = h + mlp(ln_2(h))
//                      (with layer_norm = false: h = h + attn(h); h = h + mlp(h), docs/theory.md)
//   GPT2Backbone:      h = inputs_embeds + wpe[0:T]      (when use_positions)
//                      h = block_{L-1}(... block_0(h))
//                      y = ln_f(h)                      (when layer_norm)
//
// Parameter names, as in HuggingFace's GPT2Model (without its token table wte):
//   wpe.weight (P, D)
//   h.{i}.ln_1.{weight,bias} (D)       h.{i}.attn.c_attn.weight (3D, D), .bias (3D)
//   h.{i}.attn.c_proj.weight (D, D), .bias (D)
//   h.{i}.ln_2.{weight,bias} (D)       h.{i}.mlp.c_fc.weight (4D, D), .bias (4D)
//   h.{i}.mlp.c_proj.weight (D, 4D), .bias (D)
//   ln_f.{weight,bias} (D)
// The `set` variant of docs/tgmm.md (causal = false, use_positions = false) has no wpe.
//
// GPT-2 initialisation, drawn from one tg::Generator in parameter order (wpe, then per block
// c_attn, attn.c_proj, c_fc, mlp.c_proj), so a seed fixes every weight: linear weights and wpe
// ~ N(0, 0.02^2), the two output projections (attn.c_proj, mlp.c_proj) ~ N(0, (0.02/sqrt(2L))^2),
// biases 0, LayerNorm weight 1 and bias 0.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/attention.h"
#include "nn/embedding.h"
#include "nn/layer_norm.h"
#include "nn/mlp.h"
#include "nn/module.h"

namespace tg::nn {

// attention.dtype and mlp.dtype must agree (the LayerNorms take that dtype too).
struct BlockOptions {
  AttentionOptions attention;
  MLPOptions mlp;
  bool layer_norm = true;  // false: no ln_1 / ln_2 (the hand-built constructions)
  double ln_eps = 1e-5;
};

class TransformerBlock : public Module {
 public:
  TransformerBlock(int64_t n_embd, Generator& gen, BlockOptions options = {});

  // h (B, T, D), key_padding_mask (B, T) (1 = valid, 0 = padding) or undefined -> (B, T, D).
  ag::Variable forward(const ag::Variable& h, const Tensor& key_padding_mask = Tensor()) const;

  const SelfAttention& attn() const { return *attn_; }
  const MLP& mlp() const { return *mlp_; }

 private:
  std::shared_ptr<LayerNorm> ln_1_, ln_2_;  // null when layer_norm = false
  std::shared_ptr<SelfAttention> attn_;
  std::shared_ptr<MLP> mlp_;
};

struct GPT2Config {
  int64_t n_embd = 128;
  int64_t n_layer = 12;
  int64_t n_head = 4;
  int64_t n_positions = 128;
  bool causal = true;         // false for the `set` variant
  bool use_positions = true;  // false for the `set` variant (then there is no wpe)
  bool layer_norm = true;     // false: no ln_1, ln_2, ln_f (the constructions)
  ScoreActivation score_activation = ScoreActivation::Softmax;
  bool scale_scores = true;  // 1/sqrt(D/H)
  Activation mlp_activation = Activation::Gelu;
  int64_t mlp_hidden = 0;  // 0 means 4 D
  double init_std = 0.02;
  double ln_eps = 1e-5;
  DType dtype = DType::F32;
};

class GPT2Backbone : public Module {
 public:
  GPT2Backbone(const GPT2Config& config, Generator& gen);

  // inputs_embeds (B, T, D) with T <= n_positions (when use_positions), key_padding_mask (B, T)
  // (1 = valid, 0 = padding) or undefined -> (B, T, D).
  ag::Variable forward(const ag::Variable& inputs_embeds,
                       const Tensor& key_padding_mask = Tensor()) const;

  const GPT2Config& config() const { return config_; }
  const TransformerBlock& block(int64_t i) const { return *blocks_.at(static_cast<size_t>(i)); }

 private:
  GPT2Config config_;
  std::shared_ptr<Embedding> wpe_;  // weight (P, D); null when use_positions = false
  std::shared_ptr<ModuleList> h_;
  std::vector<std::shared_ptr<TransformerBlock>> blocks_;  // h_'s children, typed
  std::shared_ptr<LayerNorm> ln_f_;                        // null when layer_norm = false
};

}  // namespace tg::nn
