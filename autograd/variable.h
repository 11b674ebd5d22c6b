// variable.h — a Tensor that remembers how it was computed, so gradients can flow back.
//
// Reverse-mode autodiff in the micrograd shape, over tensors:
//   * A Variable is a handle to a Node: the value (a Tensor), the gradient accumulated into it,
//     the op that made it, that op's inputs, and the op's backward rule.
//   * Every differentiable op (ops.h) computes its value with tensor/ kernels and records a
//     backward rule: a function from dL/d(output) to dL/d(each input).
//   * backward() orders the graph topologically with an explicit stack (no recursion, so a
//     10,000-op chain is fine), then walks it in reverse, calling each rule and adding (+=) the
//     results into the inputs — a node used twice receives both contributions. A gradient that
//     came out broadcast is summed back down to its input's shape by the engine, once, for all
//     ops. Leaves that require grad keep their gradient in grad(); intermediates do not.
//   * Afterwards the graph is released (rules and input links dropped, freeing saved tensors)
//     unless retain_graph is set.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "tensor/tensor.h"

namespace tg::ag {

// A backward rule gets dL/d(output) and which inputs need a gradient, and returns one gradient
// per input (an undefined Tensor where none is needed). It may return a gradient of the
// output's broadcast shape; the engine reduces it to the input's shape.
using BackwardFn =
    std::function<std::vector<Tensor>(const Tensor& grad_output, const std::vector<bool>& needs)>;

struct Node {
  Tensor value;
  Tensor grad;  // leaves: accumulated gradient; intermediates: pending, then freed
  bool requires_grad = false;
  const char* op = "leaf";  // a name from op_registry.h, or "leaf"
  std::vector<std::shared_ptr<Node>> inputs;
  BackwardFn backward;    // empty for leaves and after release
  bool released = false;  // set when backward dropped this node's rule

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Releases input links iteratively, so dropping a very deep graph cannot overflow the stack.
  ~Node();
};

class Variable {
 public:
  Variable() = default;  // undefined
  // A leaf. requires_grad = true makes it a parameter/input whose gradient backward() fills.
  explicit Variable(Tensor value, bool requires_grad = false);
  explicit Variable(std::shared_ptr<Node> node) : node_(std::move(node)) {}

  bool defined() const { return node_ != nullptr; }
  const Tensor& value() const;
  // The accumulated gradient (undefined until a backward reached this leaf).
  const Tensor& grad() const;
  void set_grad(Tensor grad);
  bool requires_grad() const;
  // Only for leaves (parameters, inputs).
  void set_requires_grad(bool requires_grad);
  bool is_leaf() const;
  const char* op() const;

  const Shape& shape() const { return value().shape(); }
  int64_t dim() const { return value().dim(); }
  int64_t size(int64_t d) const { return value().size(d); }
  int64_t numel() const { return value().numel(); }
  DType dtype() const { return value().dtype(); }
  Device device() const { return value().device(); }
  double item() const { return value().item(); }

  // For a one-element output: backward with dL/d(out) = 1.
  void backward(bool retain_graph = false) const;
  // dL/d(out) = grad_output (out's shape, dtype, device).
  void backward(const Tensor& grad_output, bool retain_graph = false) const;
  // Drop the gradient (set to undefined, as PyTorch's set_to_none).
  void zero_grad() const;
  // The same value, cut from the graph (shares storage; requires_grad false).
  Variable detach() const;
  // Replace the value of a leaf in place (optimisers, loading checkpoints). Same shape and dtype.
  void assign(const Tensor& value) const;
  // The leaf's value for in-place updates by optimisers (no graph is recorded).
  Tensor& mutable_value() const;

  const std::shared_ptr<Node>& node() const { return node_; }

 private:
  std::shared_ptr<Node> node_;
};

// Record an op: its value, its inputs and its backward rule. When gradients are disabled or no
// input requires one, the result is a plain constant (no graph, the rule is dropped).
// `op` must be listed in op_registry.h (unlisted ops throw std::logic_error).
Variable make_op(const char* op, Tensor value, const std::vector<Variable>& inputs,
                 BackwardFn backward);

// Gradient recording on/off for this thread (RAII). Inside, ops build no graph.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace tg::ag
