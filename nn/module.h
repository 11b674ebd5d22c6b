// module.h — the base of every layer: named parameters, buffers, children, train/eval.
//
// A module registers its parameters (Variables that require grad) and its child modules under
// short names; the full name of a parameter is the dotted path from the root, as in PyTorch:
// "backbone.h.0.attn.c_attn.weight". Registration order is kept, so names and parameter order
// are stable across runs (checkpoints and optimiser state rely on it).
//
// Subclasses expose a non-virtual `forward(...)` with their own signature that checks input
// shapes and names the module in its error messages. ModuleList is a list of children numbered
// "0", "1", ..., as PyTorch's nn.ModuleList.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace tg::nn {

using NamedParameters = std::vector<std::pair<std::string, ag::Variable>>;
// A list of named tensors: a module's buffers, an optimiser's exported state, the contents of a
// safetensors file.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Every parameter of this module and its descendants, with dotted names, in registration order.
  NamedParameters named_parameters() const;
  std::vector<ag::Variable> parameters() const;
  NamedTensors named_buffers() const;
  int64_t parameter_count() const;

  // Train / eval mode, recursively (TGMM has no dropout, but the flag is part of the contract).
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  void zero_grad();

  // Move every parameter and buffer of this module and its descendants to `device`, in place
  // (the parameters stay the same Variables, so optimisers built before or after see the move);
  // gradients are dropped. Build the optimiser after moving if it already holds state.
  void to(Device device);

  // The parameter with this dotted name; throws "Module: no parameter named 'x'" if absent.
  ag::Variable parameter(const std::string& name) const;

 protected:
  // Register a trainable leaf and return it (keep the returned handle as a member).
  ag::Variable register_parameter(const std::string& name, Tensor value);
  void register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    check_name(name);
    children_.emplace_back(name, module);
    return module;
  }

 private:
  void check_name(const std::string& name) const;
  void collect(const std::string& prefix, NamedParameters& out) const;
  void collect_buffers(const std::string& prefix, NamedTensors& out) const;

  NamedParameters params_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Children named "0", "1", ... (PyTorch's nn.ModuleList), for names like
// h.3.attn.c_attn.weight (the GPT-2 blocks) or readouts.0.queries (TGMM's readouts).
class ModuleList : public Module {
 public:
  template <class M>
  std::shared_ptr<M> append(std::shared_ptr<M> module) {
    register_module(std::to_string(size_++), module);
    return module;
  }
  int64_t size() const { return size_; }

 private:
  int64_t size_ = 0;
};

}  // namespace tg::nn
