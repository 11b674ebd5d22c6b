// variable.cpp — Variable handles, recording ops into the graph, the no-grad guard.
// The backward sweep itself is in engine.cpp.
#include "autograd/variable.h"

#include <stdexcept>
#include <string>

#include "autograd/op_registry.h"
#include "tensor/profiler.h"

namespace tg::ag {

namespace {
thread_local bool g_grad_enabled = true;

Node& checked(const std::shared_ptr<Node>& node, const char* what) {
  if (!node) throw std::invalid_argument(std::string(what) + ": undefined Variable");
  return *node;
}
}  // namespace

Node::~Node() {
  // Dropping the last handle to the head of a long chain would otherwise destroy the chain
  // recursively (one stack frame per node). Instead, steal the inputs of every node that is
  // about to die and destroy them from an explicit stack.
  std::vector<std::shared_ptr<Node>> stack = std::move(inputs);
  backward = nullptr;
  while (!stack.empty()) {
    std::shared_ptr<Node> node = std::move(stack.back());
    stack.pop_back();
    if (node && node.use_count() == 1) {
      for (auto& input : node->inputs) stack.push_back(std::move(input));
      node->inputs.clear();
      node->backward = nullptr;  // rules capture Tensors only, never Variables: no cycles
    }
  }
}

const RegisteredOp* find_registered_op(std::string_view name) {
  for (const RegisteredOp& op : registered_ops()) {
    if (op.name == name) return &op;
  }
  return nullptr;
}
bool is_registered_op(std::string_view name) { return find_registered_op(name) != nullptr; }
const char* op_family(std::string_view name) {
  const RegisteredOp* op = find_registered_op(name);
  return op ? op->family : "other";
}

Variable::Variable(Tensor value, bool requires_grad) : node_(std::make_shared<Node>()) {
  if (!value.defined()) throw std::invalid_argument("Variable: undefined value");
  if (requires_grad && !is_floating(value.dtype())) {
    throw std::invalid_argument(std::string("Variable: only floating tensors can require grad, "
                                            "got ") +
                                value.describe());
  }
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

const Tensor& Variable::value() const { return checked(node_, "value").value; }
const Tensor& Variable::grad() const { return checked(node_, "grad").grad; }

void Variable::set_grad(Tensor grad) {
  Node& n = checked(node_, "set_grad");
  if (grad.defined() && grad.shape() != n.value.shape()) {
    throw std::invalid_argument("set_grad: gradient " + shape_str(grad.shape()) +
                                " does not match value " + shape_str(n.value.shape()));
  }
  n.grad = std::move(grad);
}

bool Variable::requires_grad() const { return checked(node_, "requires_grad").requires_grad; }

void Variable::set_requires_grad(bool requires_grad) {
  Node& n = checked(node_, "set_requires_grad");
  if (!is_leaf()) {
    throw std::invalid_argument(std::string("set_requires_grad: only leaves can change it, this "
                                            "Variable is the output of ") +
                                n.op);
  }
  if (requires_grad && !is_floating(n.value.dtype())) {
    throw std::invalid_argument("set_requires_grad: " + n.value.describe() + " is not floating");
  }
  n.requires_grad = requires_grad;
}

bool Variable::is_leaf() const { return std::string_view(checked(node_, "is_leaf").op) == "leaf"; }
const char* Variable::op() const { return checked(node_, "op").op; }

void Variable::zero_grad() const { checked(node_, "zero_grad").grad = Tensor(); }

Variable Variable::detach() const { return Variable(value(), false); }

void Variable::assign(const Tensor& value) const {
  Node& n = checked(node_, "assign");
  if (value.shape() != n.value.shape() || value.dtype() != n.value.dtype()) {
    throw std::invalid_argument("assign: " + value.describe() + " does not match " +
                                n.value.describe());
  }
  n.value.copy_(value);
}

Tensor& Variable::mutable_value() const { return checked(node_, "mutable_value").value; }

Variable make_op(const char* op, Tensor value, const std::vector<Variable>& inputs,
                 BackwardFn backward) {
  const RegisteredOp* registered = find_registered_op(op);
  // The time since the previous lap was this op's forward.
  profile::lap(op, registered ? registered->family : "other");
  if (!registered) {
    throw std::logic_error(std::string("make_op: '") + op +
                           "' is not in autograd/op_registry.h (and so has no gradcheck)");
  }
  bool any = false;
  if (g_grad_enabled) {
    for (const auto& v : inputs) any |= v.defined() && v.requires_grad();
  }
  auto node = std::make_shared<Node>();
  node->value = std::move(value);
  if (!any) return Variable(std::move(node));  // a constant: no graph, op stays "leaf"
  node->requires_grad = true;
  node->op = op;
  node->inputs.reserve(inputs.size());
  for (const auto& v : inputs) node->inputs.push_back(v.defined() ? v.node() : nullptr);
  node->backward = std::move(backward);
  return Variable(std::move(node));
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

}  // namespace tg::ag
