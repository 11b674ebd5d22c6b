// optim.h — optimisers: AdamW and SGD with momentum, with PyTorch's exact update rules.
//
// An optimiser holds a list of named parameters (Module::named_parameters()) and, per parameter,
// the state it needs (Adam's moments, SGD's momentum buffer). step() updates every parameter
// whose gradient is defined, in place, and skips the others (as PyTorch skips grad None; their
// state is not created or advanced). State is created lazily on a parameter's first update.
//
// The names matter: export_state() returns the state as named tensors, keyed by the parameter's
// dotted name ("adamw.m.backbone.h.0.attn.c_attn.weight"), so a checkpoint can be written to
// safetensors and loaded back into an optimiser built over the same model.
//
// Conventions: parameters are tensors of dtype f32 or f64, contiguous (as Module registers them),
// on the CPU (AdamW also on CUDA: its update is the fused tensor op adamw_step_); gradients share
// the parameter's dtype, shape and device; state lives on the parameter's device. Per-element
// arithmetic is done in the parameter's dtype, with the per-step scalars (bias corrections, step
// size) computed in double and rounded once, in the same order as PyTorch 1.13's
// `_single_tensor_adamw` /
// `_single_tensor_sgd`.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"

namespace tg::nn {

class Optimizer {
 public:
  Optimizer(NamedParameters params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient.
  virtual void step() = 0;
  // Drop every parameter's gradient (set to undefined, like PyTorch's set_to_none).
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);
  const NamedParameters& parameters() const { return params_; }
  // "adamw" or "sgd": the prefix of the exported state names.
  virtual const char* name() const = 0;

  // The state as named tensors ("<name()>.<kind>.<parameter name>"). The tensors share storage
  // with the live state: write them out (or clone them) before the next step().
  virtual NamedTensors export_state() const = 0;
  // Replace the whole state by `state` (as exported by an optimiser over the same parameters).
  // Validates everything first (known kinds and parameter names, shapes, dtypes) and throws
  // without changing anything on a mismatch. A parameter absent from `state` starts fresh.
  virtual void import_state(const NamedTensors& state) = 0;

 protected:
  // Index of the parameter called `name`, or throws "<op>: no parameter named '<name>'".
  size_t parameter_index(const std::string& name, const char* op) const;
  // Throws unless `t` has p's shape and dtype (names the tensor in the message); any device.
  void check_like_parameter(const Tensor& t, size_t index, const std::string& what,
                            const char* op) const;

  NamedParameters params_;
  double lr_;
};

// --------------------------------------------------------------------------------------- AdamW
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // torch.optim.AdamW's default
  // Which parameters get weight decay (by dotted name); empty = all of them.
  std::function<bool(const std::string&)> decay = nullptr;
};

// torch.optim.AdamW (amsgrad off), per parameter p with gradient g, at its step t = 1, 2, ...:
//   p <- p * (1 - lr * wd)                            decoupled weight decay, before the update
//   m <- beta1 * m + (1 - beta1) * g
//   v <- beta2 * v + (1 - beta2) * g * g
//   p <- p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// One fused pass over the contiguous elements (tg::adamw_step_: OpenMP above a size threshold on
// the CPU, one kernel on CUDA), no temporaries.
// Exported state: "adamw.step.<p>" (i64, shape ()), "adamw.m.<p>", "adamw.v.<p>".
class AdamW : public Optimizer {
 public:
  AdamW(NamedParameters params, AdamWOptions options = {});
  void step() override;
  const char* name() const override { return "adamw"; }
  NamedTensors export_state() const override;
  void import_state(const NamedTensors& state) override;
  const AdamWOptions& options() const { return options_; }

 private:
  struct State {
    int64_t step = 0;  // 0 = never updated (m and v undefined)
    Tensor m, v;       // first and second moments, the parameter's shape and dtype
  };
  std::vector<State> state_;   // one per parameter, in parameter order
  std::vector<double> decay_;  // weight decay per parameter (0 where options.decay said no)
  AdamWOptions options_;
};

// ----------------------------------------------------------------------------------------- SGD
struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // L2 added to the gradient (coupled), as torch.optim.SGD
  bool nesterov = false;
};

// torch.optim.SGD, per parameter p with gradient g:
//   d = g + wd * p
//   b = d on the first step, else b <- momentum * b + (1 - dampening) * d   (when momentum != 0)
//   d = nesterov ? d + momentum * b : b
//   p <- p - lr * d
// Exported state: "sgd.momentum.<p>" (only when momentum != 0 and p was updated).
class SGD : public Optimizer {
 public:
  SGD(NamedParameters params, SGDOptions options = {});
  void step() override;
  const char* name() const override { return "sgd"; }
  NamedTensors export_state() const override;
  void import_state(const NamedTensors& state) override;
  const SGDOptions& options() const { return options_; }

 private:
  std::vector<Tensor> momentum_;  // one per parameter; undefined until its first update
  SGDOptions options_;
};

}  // namespace tg::nn
