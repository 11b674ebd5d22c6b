// clip.cpp — the global gradient norm (double, chunked, thread-count independent) and scaling.
#include "nn/clip.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tg::nn {

namespace {

constexpr int64_t kChunk = 65536;

// sum(x * x) over a contiguous CPU tensor, in double.
template <class T>
double sum_of_squares(const T* x, int64_t n) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk, end = std::min(n, begin + kChunk);
    double s = 0.0;
    for (int64_t i = begin; i < end; ++i)
      s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    partial[static_cast<size_t>(c)] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

double tensor_sum_of_squares(const Tensor& g) {
  Tensor c = g.contiguous();
  return dispatch_float(c.dtype(), "clip_grad_norm", [&](auto tag) {
    return sum_of_squares(c.data<decltype(tag)>(), c.numel());
  });
}

}  // namespace

double grad_norm(const std::vector<ag::Variable>& params) {
  double total = 0.0;
  Tensor on_device;  // sum of squares of the device gradients, kept there: one sync at the end
  for (const auto& p : params) {
    if (!p.defined() || !p.grad().defined()) continue;
    const Tensor& g = p.grad();
    if (g.device() == Device::CPU) {
      total += tensor_sum_of_squares(g);
    } else {
      const Tensor s = sum(square(g.to(DType::F64)));  // () on the device, in f64
      on_device = on_device.defined() ? on_device + s : s;
    }
  }
  if (on_device.defined()) total += on_device.item();
  return std::sqrt(total);
}

double clip_grad_norm(const std::vector<ag::Variable>& params, double max_norm) {
  if (!(max_norm > 0)) {
    throw std::invalid_argument("clip_grad_norm: max_norm must be > 0, got " +
                                std::to_string(max_norm));
  }
  const double total = grad_norm(params);
  if (!std::isfinite(total)) return total;
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0) {
    for (const auto& p : params) {
      if (!p.defined() || !p.grad().defined()) continue;
      Tensor g = p.grad();  // a handle on the leaf's own gradient buffer
      mul_(g, coef);
    }
  }
  return total;
}

double clip_grad_norm(const NamedParameters& params, double max_norm) {
  std::vector<ag::Variable> vars;
  vars.reserve(params.size());
  for (const auto& [_, p] : params) vars.push_back(p);
  return clip_grad_norm(vars, max_norm);
}

std::string first_nonfinite_grad(const NamedParameters& params) {
  for (const auto& [name, p] : params) {
    if (p.defined() && p.grad().defined() && !all_finite(p.grad())) return name;
  }
  return "";
}

}  // namespace tg::nn
