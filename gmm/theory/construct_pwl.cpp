// construct_pwl.cpp — PWL interpolants, the MLP / attention weight builders (construct_pwl.h).
#include "gmm/theory/construct_pwl.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "autograd/variable.h"

namespace tg::gmm {

// ---------------------------------------------------------------- piecewise-linear functions

double PiecewiseLinear::slope(size_t t) const {
  return (values[t + 1] - values[t]) / (knots[t + 1] - knots[t]);
}

double PiecewiseLinear::evaluate(double z) const {
  const size_t last = knots.size() - 1;
  if (z >= knots[last]) return values[last];
  if (z <= knots[0]) return clamp_left ? values[0] : values[0] + slope(0) * (z - knots[0]);
  size_t lo = 0, hi = last;  // knots[lo] <= z < knots[hi]
  while (hi - lo > 1) {
    const size_t mid = (lo + hi) / 2;
    (knots[mid] <= z ? lo : hi) = mid;
  }
  return values[lo] + slope(lo) * (z - knots[lo]);
}

std::vector<double> uniform_knots(double lo, double hi, int64_t count) {
  if (count < 1 || !(lo < hi))
    throw std::invalid_argument("uniform_knots: need count >= 1, lo < hi");
  std::vector<double> knots(static_cast<size_t>(count) + 1);
  for (int64_t t = 0; t <= count; ++t) {
    knots[static_cast<size_t>(t)] =
        lo + (hi - lo) * static_cast<double>(t) / static_cast<double>(count);
  }
  return knots;
}

std::vector<double> geometric_knots(double lo, double hi, int64_t count) {
  if (count < 1 || !(0.0 < lo && lo < hi)) {
    throw std::invalid_argument("geometric_knots: need count >= 1, 0 < lo < hi");
  }
  std::vector<double> knots(static_cast<size_t>(count) + 1);
  const double log_ratio = std::log(hi / lo) / static_cast<double>(count);
  for (int64_t t = 0; t <= count; ++t) {
    knots[static_cast<size_t>(t)] = lo * std::exp(log_ratio * static_cast<double>(t));
  }
  knots.back() = hi;
  return knots;
}

std::vector<double> sqrt_knots(double lo, double hi, int64_t count) {
  if (count < 1 || !(0.0 <= lo && lo < hi)) {
    throw std::invalid_argument("sqrt_knots: need count >= 1, 0 <= lo < hi");
  }
  const std::vector<double> roots = uniform_knots(std::sqrt(lo), std::sqrt(hi), count);
  std::vector<double> knots;
  for (double r : roots) knots.push_back(r * r);
  knots.front() = lo;
  knots.back() = hi;
  return knots;
}

PiecewiseLinear interpolate(const std::function<double(double)>& f,
                            const std::vector<double>& knots, double shift) {
  PiecewiseLinear pwl;
  pwl.knots = knots;
  for (double b : knots) pwl.values.push_back(f(b) + shift);
  return pwl;
}

// ---------------------------------------------------------------- MLP builder

int64_t MlpBuilder::add_unit(const std::vector<std::pair<int64_t, double>>& in, double bias,
                             const std::vector<std::pair<int64_t, double>>& out) {
  for (const auto& [slot, c] : in) {
    if (slot < 0 || slot >= width_) throw std::out_of_range("MlpBuilder: input slot out of range");
  }
  for (const auto& [slot, c] : out) {
    if (slot < 0 || slot >= width_) throw std::out_of_range("MlpBuilder: output slot out of range");
  }
  in_.push_back(in);
  out_.push_back(out);
  bias_.push_back(bias);
  return static_cast<int64_t>(bias_.size()) - 1;
}

void MlpBuilder::add_linear(int64_t src, int64_t dst, double scale) {
  add_unit({{src, 1.0}}, 0.0, {{dst, scale}});    // relu(z)
  add_unit({{src, -1.0}}, 0.0, {{dst, -scale}});  // - relu(-z)
}

void MlpBuilder::add_gated_linear(int64_t src, int64_t dst, double scale, int64_t not_gate,
                                  double bound) {
  add_unit({{src, 1.0}, {not_gate, -bound}}, 0.0, {{dst, scale}});    // relu(z - B ng)
  add_unit({{src, -1.0}, {not_gate, -bound}}, 0.0, {{dst, -scale}});  // - relu(-z - B ng)
}

void MlpBuilder::add_nonnegative(int64_t src, int64_t dst, double scale, int64_t not_gate,
                                 double bound) {
  if (not_gate == kNoSlot) {
    add_unit({{src, 1.0}}, 0.0, {{dst, scale}});
  } else {
    add_unit({{src, 1.0}, {not_gate, -bound}}, 0.0, {{dst, scale}});
  }
}

void MlpBuilder::add_pwl(int64_t src, int64_t dst, double scale, const PiecewiseLinear& pwl,
                         int64_t gate, int64_t not_gate, double bound) {
  const size_t last = pwl.knots.size() - 1;
  // The constant f(b_T), times the gate.
  if (gate == kNoSlot) {
    add_constant(dst, scale * pwl.values[last]);
  } else {
    add_unit({{gate, 1.0}}, 0.0, {{dst, scale * pwl.values[last]}});
  }
  auto hinge = [&](double knot, double coeff) {  // coeff * relu(knot - z [- B ng])
    std::vector<std::pair<int64_t, double>> in = {{src, -1.0}};
    if (not_gate != kNoSlot) in.push_back({not_gate, -bound});
    add_unit(in, knot, {{dst, scale * coeff}});
  };
  hinge(pwl.knots[last], -pwl.slope(last - 1));
  for (size_t t = last - 1; t >= 1; --t) hinge(pwl.knots[t], pwl.slope(t) - pwl.slope(t - 1));
  if (pwl.clamp_left) hinge(pwl.knots[0], pwl.slope(0));
}

void MlpBuilder::add_even_pwl(int64_t src, int64_t dst, double scale, const PiecewiseLinear& pwl,
                              int64_t not_gate, double bound) {
  if (pwl.knots[0] != 0.0 || pwl.values[0] != 0.0) {
    throw std::invalid_argument("MlpBuilder::add_even_pwl: needs b_0 = 0 and q(0) = 0");
  }
  const size_t last = pwl.knots.size() - 1;
  double previous = 0.0;
  for (size_t t = 0; t < last; ++t) {
    const double s = pwl.slope(t);
    for (double sign : {1.0, -1.0}) {  // relu(+-z - b_t [- B ng])
      std::vector<std::pair<int64_t, double>> in = {{src, sign}};
      if (not_gate != kNoSlot) in.push_back({not_gate, -bound});
      add_unit(in, -pwl.knots[t], {{dst, scale * (s - previous)}});
    }
    previous = s;
  }
}

Tensor MlpBuilder::w1() const {
  Tensor w = zeros({hidden(), width_}, DType::F64);  // (F, D)
  double* p = w.data<double>();
  for (size_t u = 0; u < in_.size(); ++u) {
    for (const auto& [slot, c] : in_[u]) p[static_cast<int64_t>(u) * width_ + slot] += c;
  }
  return w;
}

Tensor MlpBuilder::b1() const {
  Tensor b = zeros({hidden()}, DType::F64);  // (F)
  for (size_t u = 0; u < bias_.size(); ++u) b.data<double>()[u] = bias_[u];
  return b;
}

Tensor MlpBuilder::w2() const {
  const int64_t F = hidden();
  Tensor w = zeros({width_, F}, DType::F64);  // (D, F)
  double* p = w.data<double>();
  for (size_t u = 0; u < out_.size(); ++u) {
    for (const auto& [slot, c] : out_[u]) p[slot * F + static_cast<int64_t>(u)] += c;
  }
  return w;
}

void MlpBuilder::load(const nn::MLP& mlp) const {
  const DType dtype = mlp.c_fc().weight().dtype();
  mlp.c_fc().weight().assign(w1().to(dtype));
  mlp.c_fc().bias().assign(b1().to(dtype));
  mlp.c_proj().weight().assign(w2().to(dtype));
  mlp.c_proj().bias().assign(from_vector(b2_, {width_}, DType::F64).to(dtype));
}

// ---------------------------------------------------------------- attention builder

AttentionBuilder::AttentionBuilder(int64_t width, int64_t heads, int64_t head_dim)
    : width_(width), heads_(heads), head_dim_(head_dim) {
  const int64_t inner = heads * head_dim;  // I
  c_attn_w_ = zeros({3 * inner, width}, DType::F64);
  c_attn_b_ = zeros({3 * inner}, DType::F64);
  c_proj_w_ = zeros({width, inner}, DType::F64);
}

void AttentionBuilder::add(int64_t part, int64_t head, int64_t c, int64_t slot, double coeff) {
  if (head < 0 || head >= heads_ || c < 0 || c >= head_dim_ || slot < kBias || slot >= width_) {
    throw std::out_of_range("AttentionBuilder: head " + std::to_string(head) + ", component " +
                            std::to_string(c) + " or slot " + std::to_string(slot) +
                            " out of range");
  }
  const int64_t row = (part * heads_ + head) * head_dim_ + c;
  if (slot == kBias) {
    c_attn_b_.data<double>()[row] += coeff;
  } else {
    c_attn_w_.data<double>()[row * width_ + slot] += coeff;
  }
}

void AttentionBuilder::query(int64_t head, int64_t c, int64_t slot, double coeff) {
  add(0, head, c, slot, coeff);
}
void AttentionBuilder::key(int64_t head, int64_t c, int64_t slot, double coeff) {
  add(1, head, c, slot, coeff);
}
void AttentionBuilder::value(int64_t head, int64_t c, int64_t slot, double coeff) {
  add(2, head, c, slot, coeff);
}

void AttentionBuilder::output(int64_t head, int64_t c, int64_t dst, double coeff) {
  if (head < 0 || head >= heads_ || c < 0 || c >= head_dim_ || dst < 0 || dst >= width_) {
    throw std::out_of_range("AttentionBuilder::output: index out of range");
  }
  c_proj_w_.data<double>()[dst * heads_ * head_dim_ + head * head_dim_ + c] += coeff;
}

void AttentionBuilder::load(const nn::SelfAttention& attn) const {
  if (attn.options().n_head != heads_ || attn.head_dim() != head_dim_ || attn.n_embd() != width_) {
    throw std::invalid_argument("AttentionBuilder::load: the layer's shape differs");
  }
  const DType dtype = attn.c_attn().weight().dtype();
  attn.c_attn().weight().assign(c_attn_w_.to(dtype));
  attn.c_attn().bias().assign(c_attn_b_.to(dtype));
  attn.c_proj().weight().assign(c_proj_w_.to(dtype));
  attn.c_proj().bias().assign(zeros({width_}, dtype));
}

// ---------------------------------------------------------------- blocks

std::shared_ptr<nn::TransformerBlock> make_block(const AttentionBuilder& attn,
                                                 nn::ScoreActivation activation,
                                                 const MlpBuilder& mlp, DType dtype) {
  nn::BlockOptions options;
  options.layer_norm = false;
  options.attention.n_head = attn.heads();
  options.attention.head_dim = attn.head_dim();
  options.attention.activation = activation;
  options.attention.scale = false;
  options.attention.init_std = 0.0;  // overwritten below
  options.attention.proj_std = 0.0;
  options.attention.dtype = dtype;
  options.mlp.hidden = mlp.hidden();
  options.mlp.activation = nn::Activation::Relu;
  options.mlp.init_std = 0.0;
  options.mlp.proj_std = 0.0;
  options.mlp.dtype = dtype;
  Generator gen(0);
  auto block = std::make_shared<nn::TransformerBlock>(mlp.width(), gen, options);
  attn.load(block->attn());
  mlp.load(block->mlp());
  return block;
}

void move_parameters(const nn::Module& module, Device device) {
  for (const auto& [name, p] : module.named_parameters()) {
    if (p.device() != device) p.mutable_value() = p.value().to(device);
  }
}

Tensor run_blocks(const std::vector<std::shared_ptr<nn::TransformerBlock>>& blocks,
                  const Tensor& h) {
  ag::NoGradGuard no_grad;
  ag::Variable x(h);
  for (const auto& block : blocks) x = block->forward(x);
  return x.value();
}

}  // namespace tg::gmm
