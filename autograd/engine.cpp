// engine.cpp — backward(): topological order, reverse sweep, accumulation, release.
//
//   1. Order: an iterative depth-first search from the output (explicit stack of (node, next
//      input index)), emitting a node after all its inputs: a topological order in which every
//      node comes after everything it depends on. Only nodes that require grad are visited.
//   2. Sweep: in reverse order, each node's pending gradient is complete (all its consumers
//      came later in the order, so were processed first). Call its rule; sum each input's
//      gradient back to the input's shape (broadcasting); add it to the input's pending
//      gradient. A leaf's pending gradient is added into its grad().
//   3. Release: unless retain_graph, every visited node drops its rule and input links, so the
//      saved tensors are freed now, and a second backward through it is an error.
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>

#include "autograd/op_registry.h"
#include "autograd/variable.h"
#include "tensor/profiler.h"

namespace tg::ag {

namespace {

// Strong references: releasing a node's input links during the sweep must not destroy nodes
// that are still to be visited.
std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> visited;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack;  // (node, next input to visit)
  stack.emplace_back(root, 0);
  visited.insert(root.get());
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      std::shared_ptr<Node> input = node->inputs[next++];
      if (input && input->requires_grad && visited.insert(input.get()).second) {
        stack.emplace_back(std::move(input), 0);  // invalidates node/next: not used after
      }
    } else {
      order.push_back(std::move(node));
      stack.pop_back();
    }
  }
  return order;  // inputs before the nodes that use them; root last
}

// pending += g, without ever writing into a tensor that a rule returned (rules may return
// their upstream gradient itself, or one tensor for two inputs).
void accumulate(Tensor& pending, const Tensor& g) {
  if (!pending.defined()) {
    pending = g;
  } else {
    pending = pending + g;
  }
}

}  // namespace

void Variable::backward(bool retain_graph) const {
  if (!defined()) throw std::invalid_argument("backward: undefined Variable");
  if (value().numel() != 1) {
    throw std::invalid_argument("backward: output of shape " + shape_str(shape()) +
                                " is not a scalar; pass the gradient of the output");
  }
  backward(ones(shape(), dtype(), device()), retain_graph);
}

void Variable::backward(const Tensor& grad_output, bool retain_graph) const {
  if (!defined()) throw std::invalid_argument("backward: undefined Variable");
  Node* root = node_.get();
  if (root->released) {
    throw std::runtime_error(std::string("backward: the graph through '") + root->op +
                             "' was already released by an earlier backward(); pass "
                             "retain_graph=true to the first call to backpropagate twice");
  }
  if (!root->requires_grad) {
    throw std::invalid_argument(
        "backward: this Variable does not require grad (no input of "
        "its graph requires grad, or it was computed under NoGradGuard)");
  }
  if (grad_output.shape() != root->value.shape() || grad_output.dtype() != root->value.dtype()) {
    throw std::invalid_argument("backward: gradient " + grad_output.describe() +
                                " does not match output " + root->value.describe());
  }
  const std::vector<std::shared_ptr<Node>> order = topological_order(node_);
  for (const auto& node : order) {
    if (node->released) {
      throw std::runtime_error(std::string("backward: the graph through '") + node->op +
                               "' was already released by an earlier backward(); pass "
                               "retain_graph=true to the first call to backpropagate twice");
    }
  }

  // Leaves accumulate into .grad; intermediates use a pending slot that is cleared after use.
  // Both live in Node::grad, told apart by whether the node has a rule.
  profile::lap("backward setup", "loss and engine");  // ordering the graph
  Tensor root_pending = grad_output;
  for (size_t i = order.size(); i-- > 0;) {
    Node* node = order[i].get();
    Tensor g = node == root ? root_pending : node->grad;
    const bool is_leaf = !node->backward;
    if (is_leaf) {
      if (node == root) {  // backward() called on a leaf itself
        accumulate(node->grad, g.clone());
      }
      continue;  // leaves' grads were accumulated as their consumers ran
    }
    if (node != root) node->grad = Tensor();  // intermediates keep no gradient
    if (!g.defined()) continue;               // nothing flowed here (an unused branch)

    std::vector<bool> needs(node->inputs.size());
    for (size_t k = 0; k < needs.size(); ++k) {
      needs[k] = node->inputs[k] && node->inputs[k]->requires_grad;
    }
    std::vector<Tensor> grads = node->backward(g, needs);
    if (grads.size() != needs.size()) {
      throw std::logic_error(std::string("backward rule of '") + node->op + "' returned " +
                             std::to_string(grads.size()) + " gradients for " +
                             std::to_string(needs.size()) + " inputs");
    }
    for (size_t k = 0; k < grads.size(); ++k) {
      if (!needs[k] || !grads[k].defined()) continue;
      Node* input = node->inputs[k].get();
      Tensor gk = sum_to_shape(grads[k], input->value.shape());
      if (!input->backward) {
        // A leaf: its .grad is user-visible and may be updated in place (clipping, optimisers),
        // so it must own its memory: copy on first arrival, add in place afterwards.
        if (!input->grad.defined()) {
          input->grad = gk.clone();
        } else {
          add_(input->grad, gk);
        }
      } else {
        accumulate(input->grad, gk);
      }
    }
    if (!retain_graph) {
      node->backward = nullptr;
      node->inputs.clear();
      node->released = true;
    }
    if (profile::enabled()) {  // (the family is looked up only then)
      profile::lap(node->op, op_family(node->op), /*backward=*/true);
    }
  }
}

}  // namespace tg::ag
