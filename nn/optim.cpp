// optim.cpp — AdamW and SGD: the per-parameter update loops and their state export/import.
//
// Each update is one pass over a parameter's contiguous elements, with every operand read and
// written once (no temporary tensors), split across OpenMP threads above kParallelGrain elements.
// AdamW's pass is the tensor op adamw_step_ (tensor/optim.cpp), which also runs on the GPU; SGD's
// is here, CPU only.
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
// Parameters on the GPU are accepted only by optimisers with a device kernel (`cuda_ok`).
Tensor usable_grad(const std::string& name, const ag::Variable& p, const char* op, bool cuda_ok) {
  const Tensor& g = p.grad();
  if (!g.defined()) return g;
  const Tensor& value = p.value();
  if (g.shape() != value.shape() || g.dtype() != value.dtype()) {
    throw std::invalid_argument(std::string(op) + ": gradient of '" + name + "' is " +
                                g.describe() + ", parameter is " + value.describe());
  }
  if (g.device() != value.device()) {
    throw std::invalid_argument(std::string(op) + ": gradient of '" + name + "' is " +
                                g.describe() + ", parameter is " + value.describe());
  }
  if (value.device() != Device::CPU && !cuda_ok) {
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
  if (!t.defined() || t.shape() != p.shape() || t.dtype() != p.dtype()) {
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
    Tensor g = usable_grad(name, p, "AdamW.step", /*cuda_ok=*/true);
    if (!g.defined()) continue;
    State& st = state_[i];
    if (st.step == 0) {
      st.m = zeros_like(p.value());
      st.v = zeros_like(p.value());
    }
    st.step += 1;
    const AdamWScalars s =
        adamw_scalars(lr_, options_.beta1, options_.beta2, options_.eps, decay_[i], st.step);
    adamw_step_(p.mutable_value(), g, st.m, st.v, s);  // one fused kernel (CPU or CUDA)
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
      (kind == "m" ? st.m : st.v) = t.to(params_[i].second.device()).clone();
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
    Tensor g = usable_grad(name, p, "SGD.step", /*cuda_ok=*/false);
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
    fresh[i] = t.to(params_[i].second.device()).clone();
  }
  momentum_ = std::move(fresh);
}

}  // namespace tg::nn
