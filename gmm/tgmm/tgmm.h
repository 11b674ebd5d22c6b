// tgmm.h — the TGMM model: a transformer that reads N points and outputs a mixture's (pi, mu),
// and with a diagonal covariance (`covariance = diag`) each component's per-coordinate scales.
//
// Dimension letters: B tasks, N points (padded), d dimension, D width, Kmax padded components,
// E = Kmax + d (unit covariance) or Kmax + 2d (diag): the readout's output width.
//
// docs/tgmm.md, "The model" — forward runs these steps, each a private member below:
//   read_in    [x_n ; task(K-1)] (B, N, d+128) -> Linear(d+128 -> D), where task is the task
//              embedding table (Kmax, 128), one row per K
//   backbone   GPT-2 (causal, learned positions) or `set` (bidirectional, none) (B, N, D)
//   readouts   one per K of the config: attentive pooling with Kmax queries over that K's tasks
//              -> o (B, Kmax, E), back in task order
//   heads      weight logits l (B, Kmax), masked beyond K; means mu_hat_j = o_j[Kmax:Kmax+d],
//              j < K; diag: scales sigma_hat_j = softplus(o_j[Kmax+d:]) (the official scale head)
// Weight heads: `average` (the official one) l = mean over the Kmax slots of o_j[:Kmax];
// `slot` (ours, an option) l_j = o_j[j], each slot's own logit, so a slot carries its weight
// when the loss matches slots to components (docs/tgmm.md, "The loss").
//
// Parameter names mirror the official PyTorch module tree (Linear weights (out, in)):
//   task_embedding.weight (Kmax, 128); read_in.{weight (D, d+128), bias (D)};
//   backbone.{wpe.weight, h.i.*, ln_f.*} (nn/gpt2.h); readouts.j.{queries (Kmax, E),
//   k_proj.weight (E, D), v_proj.weight (E, D)} for the j-th K of the list. A diagonal model has
//   the same parameters with the wider E, as the official anisotropic model does.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gmm/mixture/em.h"
#include "nn/embedding.h"
#include "nn/gpt2.h"
#include "nn/linear.h"
#include "nn/pooling.h"

namespace tg::gmm {

enum class WeightHead { Average, Slot };

struct TgmmConfig {
  int64_t d = 8;
  std::vector<int64_t> ks = {2, 3, 4, 5};
  // Padded component count (>= max of ks): the rows of the task embedding and the slots of
  // every readout (tools/train: max of ks unless --k-max says more).
  int64_t k_max = 5;
  int64_t embd = 128;             // D
  int64_t layers = 12;            // L
  int64_t heads = 4;              // H
  int64_t n_positions = 128;      // the longest N (position table size)
  std::string backbone = "gpt2";  // "gpt2" (causal, positions) or "set"
  WeightHead weight_head = WeightHead::Average;
  Covariance covariance = Covariance::Unit;  // Diagonal: the model also outputs scales
  DType dtype = DType::F32;                  // f64 for gradient checks
  static constexpr int64_t kTaskEmbedding = 128;

  // E, the readout's output width: Kmax weight logits, d means, and d scales when diagonal.
  int64_t readout_width() const;
  // Throws std::invalid_argument naming the bad field.
  void validate() const;
  // As strings for a checkpoint's metadata, and back. "covariance" is written only for a
  // diagonal model ("diag"); a checkpoint without the key is a unit-covariance model.
  std::map<std::string, std::string> to_metadata() const;
  static TgmmConfig from_metadata(const std::map<std::string, std::string>& metadata);
};

const char* weight_head_name(WeightHead head);
WeightHead parse_weight_head(const std::string& name);  // "average" | "slot"
// The covariances a TGMM model has: "unit" or "diag" (not spherical); throws on other names.
Covariance parse_model_covariance(const std::string& name);

// The model's raw outputs for a batch of tasks.
struct TgmmOutput {
  ag::Variable log_weights;  // (B, Kmax) log pi_hat; slots >= K are about -1e9 (weight 0)
  ag::Variable means;        // (B, Kmax, d) mu_hat; slots >= K are meaningless
  ag::Variable scales;       // (B, Kmax, d) sigma_hat > 0, diagonal models only (else undefined)
};

class TgmmModel : public nn::Module {
 public:
  TgmmModel(const TgmmConfig& config, Generator& gen);

  // x (B, N, d); ks (B) i64, each in config.ks; valid (B, N), nonzero = a real point.
  TgmmOutput forward(const Tensor& x, const Tensor& ks, const Tensor& valid) const;

  const TgmmConfig& config() const { return config_; }

 private:
  // The steps of forward, in order.
  void check_inputs(const Tensor& x, const Tensor& ks, const Tensor& valid) const;
  // groups[j] = the tasks b whose K is config.ks[j] (throws on a K the model has no readout for).
  std::vector<std::vector<int64_t>> tasks_per_readout(const Tensor& ks) const;
  ag::Variable read_in(const Tensor& x, const Tensor& ks) const;  // -> (B, N, D)
  // h (B, N, D) -> o (B, Kmax, E), each task through its K's readout.
  ag::Variable readouts(const ag::Variable& h, const Tensor& valid,
                        const std::vector<std::vector<int64_t>>& groups) const;
  TgmmOutput heads(const ag::Variable& o, const Tensor& ks) const;            // o (B, Kmax, E)
  ag::Variable weight_logits(const ag::Variable& o, const Tensor& ks) const;  // -> (B, Kmax)

  TgmmConfig config_;
  std::shared_ptr<nn::Embedding> task_embedding_;
  std::shared_ptr<nn::Linear> read_in_;
  std::shared_ptr<nn::GPT2Backbone> backbone_;
  std::vector<std::shared_ptr<nn::AttentivePooling>> readouts_;  // one per K of config.ks
};

}  // namespace tg::gmm
