// gradcheck.cpp — finite-difference check of backward rules (see gradcheck.h).
#include "autograd/gradcheck.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

namespace tg::ag {

namespace {
std::set<std::string>& covered() {
  static std::set<std::string> ops;
  return ops;
}

void collect_ops(const Variable& out, std::set<std::string>& ops) {
  std::vector<Node*> stack{out.node().get()};
  std::set<Node*> seen;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    if (!n || !seen.insert(n).second) continue;
    if (std::string(n->op) != "leaf") ops.insert(n->op);
    for (auto& in : n->inputs) stack.push_back(in.get());
  }
}

// The inputs on `device` (the same tensors when it is the CPU, so in-place edits show through).
std::vector<Tensor> on_device(const std::vector<Tensor>& xs, Device device) {
  std::vector<Tensor> out;
  for (const auto& t : xs) out.push_back(t.to(device));
  return out;
}

// L = sum(G * f(inputs)) in f64, without recording a graph; G on the inputs' device.
double loss_value(const GradcheckFn& fn, const std::vector<Tensor>& inputs, const Tensor& G) {
  NoGradGuard guard;
  std::vector<Variable> vars;
  for (const auto& t : inputs) vars.emplace_back(t, false);
  const Tensor y = fn(vars).value().to(DType::F64);
  return sum(mul(y, G)).item();
}
}  // namespace

const std::set<std::string>& gradchecked_ops() { return covered(); }

Device gradcheck_device() {
  const char* env = std::getenv("TG_TEST_DEVICE");
  if (!env || !*env) return Device::CPU;
  const Device device = parse_device(env);
  require_device(device, "gradcheck (TG_TEST_DEVICE)");  // asked for CUDA without one: an error
  return device;
}

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  GradcheckResult result;
  const Device device = gradcheck_device();
  // Own CPU copies: the numeric pass perturbs elements in place (and copies them to `device`
  // for every evaluation when that is not the CPU).
  std::vector<Tensor> xs;
  for (const auto& t : inputs) {
    if (is_floating(t.dtype()) && t.dtype() != DType::F64) {
      throw std::invalid_argument("gradcheck: floating inputs must be f64, got " + t.describe());
    }
    xs.push_back(t.to(Device::CPU).clone());
  }
  std::vector<Variable> vars;
  for (const auto& t : on_device(xs, device)) vars.emplace_back(t, is_floating(t.dtype()));

  // Analytic: one backward with a random upstream gradient.
  Variable out = fn(vars);
  collect_ops(out, result.ops_seen);
  for (const auto& op : result.ops_seen) covered().insert(op);
  Generator gen(options.seed);
  const Tensor G = randn(out.shape(), gen, DType::F64).to(device);
  if (!out.requires_grad()) {
    result.ok = false;
    result.message = "output does not require grad";
    return result;
  }
  if (out.device() != device) {
    result.ok = false;
    result.message =
        "output is " + out.value().describe() + ", inputs were on " + device_name(device);
    return result;
  }
  out.backward(G.to(out.dtype()));

  // Numeric: central differences, one element at a time.
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!is_floating(xs[i].dtype())) continue;
    Tensor analytic = vars[i].grad().defined() ? vars[i].grad() : zeros_like(xs[i]);
    const std::vector<double> a = analytic.to_vector();
    double* p = xs[i].data<double>();  // xs[i] is contiguous (a clone)
    for (int64_t e = 0; e < xs[i].numel(); ++e) {
      const double saved = p[e];
      p[e] = saved + options.eps;
      const double plus = loss_value(fn, on_device(xs, device), G);
      p[e] = saved - options.eps;
      const double minus = loss_value(fn, on_device(xs, device), G);
      p[e] = saved;
      const double numeric = (plus - minus) / (2 * options.eps);
      const double err = std::abs(a[e] - numeric);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (!(err <= options.atol + options.rtol * std::abs(numeric)) && result.ok) {
        result.ok = false;
        std::ostringstream os;
        os.precision(10);
        os << "input " << i << " element " << e << ": analytic " << a[e] << " numeric " << numeric
           << " (abs error " << err << ")";
        result.message = os.str();
      }
    }
  }
  return result;
}

}  // namespace tg::ag
