// data_parallel.cpp — replicas kept identical: broadcasts, the gradient sum, checksums (see
// data_parallel.h).
#include "nn/data_parallel.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tensor/ops.h"

namespace tg::nn {

void broadcast_parameters(const Module& model, const Communicator& comm, int root) {
  if (!comm.distributed()) return;
  for (const auto& [name, p] : model.named_parameters()) {
    Tensor value = p.value();
    comm.broadcast(value, root);
  }
  for (auto& [name, buffer] : model.named_buffers()) {
    Tensor value = buffer;
    comm.broadcast(value, root);
  }
}

// Root's state travels as a JSON list of (name, dtype, shape), then each tensor's bytes; the
// other ranks build tensors of that layout on the host and import them.
void broadcast_optimizer_state(Optimizer& optimizer, const Communicator& comm, int root) {
  if (!comm.distributed()) return;
  NamedTensors state;
  std::string layout;
  if (comm.rank() == root) {
    state = optimizer.export_state();
    nlohmann::json j = nlohmann::json::array();
    for (const auto& [name, t] : state) {
      j.push_back({{"name", name}, {"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}});
    }
    layout = j.dump();
  }
  comm.broadcast(layout, root);
  if (comm.rank() != root) {
    for (const auto& entry : nlohmann::json::parse(layout)) {
      const std::string dtype = entry["dtype"];
      const DType dt = dtype == "f32" ? DType::F32 : dtype == "f64" ? DType::F64 : DType::I64;
      state.emplace_back(entry["name"], empty(entry["shape"].get<Shape>(), dt));
    }
  }
  for (auto& [name, t] : state) {
    Tensor buffer = t.contiguous();
    comm.broadcast(buffer, root);
    t = buffer;
  }
  if (comm.rank() != root) optimizer.import_state(state);
}

void GradientReducer::reduce(const NamedParameters& params) {
  if (!comm_.distributed() || params.empty()) return;
  const Tensor& first = params.front().second.value();
  int64_t n = 0;
  for (const auto& [name, p] : params) {
    if (p.value().dtype() != first.dtype() || p.value().device() != first.device()) {
      throw std::invalid_argument("GradientReducer: parameter '" + name +
                                  "' differs in dtype or device from the first one");
    }
    n += p.value().numel();
  }
  const int64_t count = static_cast<int64_t>(params.size());
  if (!send_.defined() || send_.numel() != n + count) {
    send_ = empty({n + count}, first.dtype(), first.device());
  }
  int64_t offset = 0;
  for (int64_t i = 0; i < count; ++i) {
    const ag::Variable& p = params[static_cast<size_t>(i)].second;
    const int64_t numel = p.value().numel();
    Tensor slot = send_.narrow(0, offset, numel);
    if (p.grad().defined()) {
      slot.copy_(p.grad().reshape({numel}));
    } else {
      slot.fill_(0.0);
    }
    send_.narrow(0, n + i, 1).fill_(p.grad().defined() ? 1.0 : 0.0);
    offset += numel;
  }
  Tensor sum = empty({n + count}, first.dtype(), first.device());  // the new gradients' storage
  comm_.allreduce_sum(send_, sum);
  const std::vector<double> present = sum.narrow(0, n, count).to(Device::CPU).to_vector();
  offset = 0;
  for (int64_t i = 0; i < count; ++i) {
    ag::Variable p = params[static_cast<size_t>(i)].second;
    const int64_t numel = p.value().numel();
    p.set_grad(present[static_cast<size_t>(i)] > 0
                   ? sum.narrow(0, offset, numel).reshape(p.value().shape())
                   : Tensor());
    offset += numel;
  }
}

bool GradientReducer::local_gradients_finite() const {
  return !send_.defined() || all_finite(send_);
}

uint64_t parameter_checksum(const Module& model) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](const Tensor& t) {
    const Tensor c = t.to(Device::CPU).contiguous();
    const auto* bytes = static_cast<const unsigned char*>(c.raw_data());
    const int64_t size = c.numel() * dtype_size(c.dtype());
    for (int64_t i = 0; i < size; ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  };
  for (const auto& [name, p] : model.named_parameters()) mix(p.value());
  for (const auto& [name, b] : model.named_buffers()) mix(b);
  return h;
}

}  // namespace tg::nn
