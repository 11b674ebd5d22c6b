// optim.cpp — AdamW and SGD: the per-parameter update loops and their state export/import.
//
// Each update is one pass over a parameter's contiguous elements, with every operand read and
// written once (no temporary tensors), split across OpenMP threads above kParallelGrain elements.
// The per-element arithmetic follows PyTorch 1.13's single-tensor implementations operation by
// operation (same order, scalars rounded to the parameter's dtype), so results agree with
// torch.optim to float rounding.
#include "nn/optim.h"

#include <cmath>
#include <stdexcept>

namespace tg::nn {

namespace {

constexpr int64_t kParallelGrain = 32768;  // below this, one thread is faster

// The gradient of parameter `name`, checked and made contiguous, or undefined if it has none.
Tensor usable_grad(const std::string& name, const ag::Variable& p, const char* op) {
  const Tensor& g = p.grad();
  if (!g.defined()) return g;
  const Tensor& value = p.value();
  if (g.shape() != value.shape() || g.dtype() != value.dtype()) {
    throw std::invalid_argument(std::string(op) + ": gradient of '" + name + "' is " +
                                g.describe() + ", parameter is " + value.describe());
  }
  if (value.device() != Device::CPU || g.device() != Device::CPU) {
    throw std::invalid_argument(std::string(op) + ": parameter '" + name + "' is " +
                                value.describe() + "; only CPU parameters are supported");
  }
  if (!value.is_contiguous()) {
    throw std::invalid_argument(std::string(op) + ": parameter '" + name + "' is not contiguous");
  }
  return g.contiguous();
}

Tensor step_tensor(int64_t step) {
  Tensor t(Shape{}, DType::I64);
  *t.data<int64_t>() = step;
  return t;
}

// Split "<prefix>.<kind>.<parameter name>" into kind and parameter name (names contain dots).
bool split_state_name(const std::string& full, const std::string& prefix, std::string& kind,
                      std::string& param) {
  if (full.rfind(prefix + ".", 0) != 0) return false;
  size_t dot = full.find('.', prefix.size() + 1);
  if (dot == std::string::npos) return false;
  kind = full.substr(prefix.size() + 1, dot - prefix.size() - 1);
  param = full.substr(dot + 1);
  return true;
}

// ---------------------------------------------------------------------------- AdamW kernel
struct AdamWScalars {
  double decay;  // 1 - lr * wd
  double beta1, beta2;
  double bias2_sqrt;  // sqrt(1 - beta2^t)
  double eps;
  double neg_step_size;  // -lr / (1 - beta1^t)
};

template <class T>
void adamw_kernel(T* p, const T* g, T* m, T* v, int64_t n, const AdamWScalars& s) {
  const T decay = T(s.decay), b1 = T(s.beta1), b2 = T(s.beta2);
  const T one_minus_b1 = T(1.0 - s.beta1), one_minus_b2 = T(1.0 - s.beta2);
  const T bias2_sqrt = T(s.bias2_sqrt), eps = T(s.eps), neg_step = T(s.neg_step_size);
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const T gi = g[i];
    const T pi = p[i] * decay;                         // param.mul_(1 - lr * wd)
    const T mi = m[i] * b1 + one_minus_b1 * gi;        // exp_avg.mul_(b1).add_(g, 1 - b1)
    const T vi = v[i] * b2 + one_minus_b2 * gi * gi;   // exp_avg_sq.mul_(b2).addcmul_(g, g)
    const T denom = std::sqrt(vi) / bias2_sqrt + eps;  // (v.sqrt() / bc2_sqrt).add_(eps)
    p[i] = pi + neg_step * mi / denom;                 // param.addcdiv_(m, denom, -step)
    m[i] = mi;
    v[i] = vi;
  }
}

// ------------------------------------------------------------------------------ SGD kernel
struct SGDScalars {
  double weight_decay, momentum, dampening, lr;
  bool nesterov, first;  // first: the momentum buffer is initialised to d
};

template <class T>
void sgd_kernel(T* p, const T* g, T* buf, int64_t n, const SGDScalars& s) {
  const T wd = T(s.weight_decay), mom = T(s.momentum), keep = T(1.0 - s.dampening);
  const T neg_lr = T(-s.lr);
  const bool use_wd = s.weight_decay != 0.0, use_mom = s.momentum != 0.0;
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if (use_wd) d = d + wd * p[i];  // d_p = d_p.add(param, alpha=wd)
    if (use_mom) {
      const T b = s.first ? d : buf[i] * mom + keep * d;  // buf.mul_(mom).add_(d_p, 1 - damp)
      buf[i] = b;
      d = s.nesterov ? d + mom * b : b;
    }
    p[i] = p[i] + neg_lr * d;  // param.add_(d_p, alpha=-lr)
  }
}

}  // namespace

// ------------------------------------------------------------------------------- Optimizer
Optimizer::Optimizer(NamedParameters params, double lr) : params_(std::move(params)), lr_(lr) {
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [name, p] = params_[i];
    if (!p.defined() || !p.is_leaf()) {
      throw std::invalid_argument("Optimizer: parameter '" + name + "' is not a defined leaf");
    }
    if (!is_floating(p.dtype())) {
      throw std::invalid_argument("Optimizer: parameter '" + name + "' is " + p.value().describe() +
                                  " (expected f32 or f64)");
    }
    for (size_t j = 0; j < i; ++j) {
      if (params_[j].first == name) {
        throw std::invalid_argument("Optimizer: parameter name '" + name + "' appears twice");
      }
    }
  }
  set_lr(lr);
}

void Optimizer::zero_grad() {
  for (auto& [_, p] : params_) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr)) {
    throw std::invalid_argument("Optimizer: learning rate must be finite and >= 0, got " +
                                std::to_string(lr));
  }
  lr_ = lr;
}

size_t Optimizer::parameter_index(const std::string& name, const char* op) const {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].first == name) return i;
  }
  throw std::invalid_argument(std::string(op) + ": no parameter named '" + name + "'");
}

void Optimizer::check_like_parameter(const Tensor& t, size_t index, const std::string& what,
                                     const char* op) const {
  const Tensor& p = params_[index].second.value();
  if (!t.defined() || t.shape() != p.shape() || t.dtype() != p.dtype() ||
      t.device() != Device::CPU) {
    throw std::invalid_argument(std::string(op) + ": state '" + what + "' is " +
                                (t.defined() ? t.describe() : "undefined") + ", parameter '" +
                                params_[index].first + "' is " + p.describe());
  }
}

// ----------------------------------------------------------------------------------- AdamW
AdamW::AdamW(NamedParameters params, AdamWOptions options)
    : Optimizer(std::move(params), options.lr), options_(std::move(options)) {
  const auto& o = options_;
  if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1) || !(o.eps >= 0) ||
      !(o.weight_decay >= 0)) {
    throw std::invalid_argument("AdamW: need 0 <= beta1, beta2 < 1, eps >= 0, weight_decay >= 0");
  }
  state_.resize(params_.size());
  for (const auto& [name, _] : params_) {
    decay_.push_back(!o.decay || o.decay(name) ? o.weight_decay : 0.0);
  }
}

void AdamW::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [name, p] = params_[i];
    Tensor g = usable_grad(name, p, "AdamW.step");
    if (!g.defined()) continue;
    State& st = state_[i];
    if (st.step == 0) {
      st.m = zeros_like(p.value());
      st.v = zeros_like(p.value());
    }
    st.step += 1;
    const double t = static_cast<double>(st.step);
    AdamWScalars s{1.0 - lr_ * decay_[i], options_.beta1,
                   options_.beta2,        std::sqrt(1.0 - std::pow(options_.beta2, t)),
                   options_.eps,          -lr_ / (1.0 - std::pow(options_.beta1, t))};
    Tensor& value = p.mutable_value();
    dispatch_float(value.dtype(), "AdamW.step", [&](auto tag) {
      using T = decltype(tag);
      adamw_kernel<T>(value.data<T>(), g.data<T>(), st.m.data<T>(), st.v.data<T>(), value.numel(),
                      s);
    });
  }
}

NamedTensors AdamW::export_state() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i) {
    const State& st = state_[i];
    if (st.step == 0) continue;
    const std::string& name = params_[i].first;
    out.emplace_back("adamw.step." + name, step_tensor(st.step));
    out.emplace_back("adamw.m." + name, st.m);
    out.emplace_back("adamw.v." + name, st.v);
  }
  return out;
}

void AdamW::import_state(const NamedTensors& state) {
  const char* op = "AdamW.import_state";
  std::vector<State> fresh(params_.size());
  for (const auto& [full, t] : state) {
    std::string kind, param;
    if (!split_state_name(full, "adamw", kind, param)) {
      throw std::invalid_argument(std::string(op) + ": unexpected state tensor '" + full + "'");
    }
    size_t i = parameter_index(param, op);
    State& st = fresh[i];
    if (kind == "step") {
      if (!t.defined() || t.dtype() != DType::I64 || t.numel() != 1 || t.dim() != 0 ||
          t.item() < 1) {
        throw std::invalid_argument(std::string(op) + ": '" + full +
                                    "' must be an i64 scalar >= 1");
      }
      st.step = *t.contiguous().data<int64_t>();
    } else if (kind == "m" || kind == "v") {
      check_like_parameter(t, i, full, op);
      (kind == "m" ? st.m : st.v) = t.clone();
    } else {
      throw std::invalid_argument(std::string(op) + ": unexpected state tensor '" + full + "'");
    }
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    const State& st = fresh[i];
    bool any = st.step != 0 || st.m.defined() || st.v.defined();
    if (any && (st.step == 0 || !st.m.defined() || !st.v.defined())) {
      throw std::invalid_argument(std::string(op) + ": incomplete state for parameter '" +
                                  params_[i].first + "' (needs adamw.step, adamw.m, adamw.v)");
    }
  }
  state_ = std::move(fresh);
}

// ------------------------------------------------------------------------------------- SGD
SGD::SGD(NamedParameters params, SGDOptions options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  const auto& o = options_;
  if (!(o.momentum >= 0) || !(o.weight_decay >= 0)) {
    throw std::invalid_argument("SGD: need momentum >= 0 and weight_decay >= 0");
  }
  if (o.nesterov && (o.momentum <= 0 || o.dampening != 0)) {
    throw std::invalid_argument("SGD: nesterov needs momentum > 0 and dampening 0");
  }
  momentum_.resize(params_.size());
}

void SGD::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [name, p] = params_[i];
    Tensor g = usable_grad(name, p, "SGD.step");
    if (!g.defined()) continue;
    const bool first = !momentum_[i].defined();
    if (options_.momentum != 0 && first) momentum_[i] = empty(p.shape(), p.dtype());
    SGDScalars s{options_.weight_decay, options_.momentum,
                 options_.dampening,    lr_,
                 options_.nesterov,     first};
    Tensor& value = p.mutable_value();
    dispatch_float(value.dtype(), "SGD.step", [&](auto tag) {
      using T = decltype(tag);
      T* buf = momentum_[i].defined() ? momentum_[i].data<T>() : nullptr;
      sgd_kernel<T>(value.data<T>(), g.data<T>(), buf, value.numel(), s);
    });
  }
}

NamedTensors SGD::export_state() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (momentum_[i].defined()) out.emplace_back("sgd.momentum." + params_[i].first, momentum_[i]);
  }
  return out;
}

void SGD::import_state(const NamedTensors& state) {
  const char* op = "SGD.import_state";
  std::vector<Tensor> fresh(params_.size());
  for (const auto& [full, t] : state) {
    std::string kind, param;
    if (!split_state_name(full, "sgd", kind, param) || kind != "momentum") {
      throw std::invalid_argument(std::string(op) + ": unexpected state tensor '" + full + "'");
    }
    size_t i = parameter_index(param, op);
    check_like_parameter(t, i, full, op);
    fresh[i] = t.clone();
  }
  momentum_ = std::move(fresh);
}

}  // namespace tg::nn
