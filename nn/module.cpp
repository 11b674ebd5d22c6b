// module.cpp — parameter registration and the recursive walks over the module tree (names,
// train/eval, zero_grad, moving to a device).
#include "nn/module.h"

#include <stdexcept>

namespace tg::nn {

void Module::check_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos) {
    throw std::invalid_argument("Module: invalid name '" + name + "' (non-empty, no dots)");
  }
  for (const auto& [n, _] : params_) {
    if (n == name) throw std::invalid_argument("Module: name '" + name + "' registered twice");
  }
  for (const auto& [n, _] : buffers_) {
    if (n == name) throw std::invalid_argument("Module: name '" + name + "' registered twice");
  }
  for (const auto& [n, _] : children_) {
    if (n == name) throw std::invalid_argument("Module: name '" + name + "' registered twice");
  }
}

ag::Variable Module::register_parameter(const std::string& name, Tensor value) {
  check_name(name);
  ag::Variable v(std::move(value), true);
  params_.emplace_back(name, v);
  return v;
}

void Module::register_buffer(const std::string& name, Tensor value) {
  check_name(name);
  buffers_.emplace_back(name, std::move(value));
}

void Module::collect(const std::string& prefix, NamedParameters& out) const {
  for (const auto& [name, p] : params_) out.emplace_back(prefix + name, p);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

void Module::collect_buffers(const std::string& prefix, NamedTensors& out) const {
  for (const auto& [name, b] : buffers_) out.emplace_back(prefix + name, b);
  for (const auto& [name, child] : children_) child->collect_buffers(prefix + name + ".", out);
}

NamedParameters Module::named_parameters() const {
  NamedParameters out;
  collect("", out);
  return out;
}

std::vector<ag::Variable> Module::parameters() const {
  std::vector<ag::Variable> out;
  for (auto& [_, p] : named_parameters()) out.push_back(p);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect_buffers("", out);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const auto& [_, p] : named_parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& [_, p] : named_parameters()) p.zero_grad();
}

void Module::to(Device device) {
  require_device(device, "Module::to");
  for (auto& [_, p] : params_) {
    p.zero_grad();
    p.mutable_value() = p.value().to(device);
  }
  for (auto& [_, b] : buffers_) b = b.to(device);
  for (auto& [_, child] : children_) child->to(device);
}

ag::Variable Module::parameter(const std::string& name) const {
  for (auto& [n, p] : named_parameters()) {
    if (n == name) return p;
  }
  throw std::invalid_argument("Module: no parameter named '" + name + "'");
}

}  // namespace tg::nn
