// construct_em.cpp — the EM construction (construct_em.h): layout, Block E and Block M weights,
// embedding, read-out, and the exact reference step.
//
// Dimension letters: B tasks, N points, d <= d0 dimension, K <= K0 components, D width,
// S head dim.
#include "gmm/theory/construct_em.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace tg::gmm {

EmLayout::EmLayout(int64_t d0_, int64_t k0_) : d0(d0_), k0(k0_) {
  int64_t next = 0;
  auto take = [&](int64_t size) {
    const int64_t start = next;
    next += size;
    return start;
  };
  x = take(d0);
  mu = take(d0);
  a = take(1);
  e = take(k0);
  ne = take(k0);
  act = take(1);
  nact = take(1);
  w = take(k0);
  lw = take(k0);
  pi = take(k0);
  pik = take(1);
  munew = take(d0);
  is_s = take(1);
  is_c = take(1);
  one = take(1);
  width = next;  // 3 d0 + 5 k0 + 7
}

namespace {

PiecewiseLinear log_pwl(const EmConstructionOptions& o) {
  return interpolate([](double z) { return std::log(z); },
                     o.log_spacing == LogKnots::Geometric
                         ? geometric_knots(o.log_floor, 1.0, o.log_knots)
                         : sqrt_knots(o.log_floor, 1.0, o.log_knots));
}

PiecewiseLinear square_pwl(const EmConstructionOptions& o) {
  return interpolate([](double z) { return z * z; },
                     uniform_knots(0.0, o.square_range, o.square_knots));
}

// Block E: the E-step head and the log MLP.
std::shared_ptr<nn::TransformerBlock> build_block_e(const EmLayout& L,
                                                    const EmConstructionOptions& o) {
  const int64_t S = std::max(L.d0, L.k0) + 1;
  AttentionBuilder attn(L.width, 1, S);
  for (int64_t t = 0; t < L.d0; ++t) {
    attn.query(0, t, L.x + t);  // q = [x; one]
    attn.key(0, t, L.mu + t);   // k = [mu; a - C is_s]
  }
  attn.query(0, L.d0, L.one);
  attn.key(0, L.d0, L.a);
  attn.key(0, L.d0, L.is_s, -o.score_gap);
  for (int64_t k = 0; k < L.k0; ++k) {
    attn.value(0, k, L.e + k);  // v = e -> w
    attn.output(0, k, L.w + k);
  }

  MlpBuilder mlp(L.width);
  const PiecewiseLinear log = log_pwl(o);
  for (int64_t k = 0; k < L.k0; ++k) {
    mlp.erase(L.lw + k);
    // lw_k += is_s * PWL_log(w_k): gate is_s, its complement is_c.
    mlp.add_pwl(L.w + k, L.lw + k, 1.0, log, L.is_s, L.is_c, o.gate_bound);
  }
  return make_block(attn, nn::ScoreActivation::Softmax, mlp, o.dtype);
}

// Block M: the M-step heads (means, weights) and the MLP that writes mu, pik, a and erases.
std::shared_ptr<nn::TransformerBlock> build_block_m(const EmLayout& L,
                                                    const EmConstructionOptions& o) {
  const int64_t S = std::max(L.d0, L.k0) + 1;
  AttentionBuilder attn(L.width, 2, S);
  // Head 0: q = [e; one], k = [lw; -C is_c], v = x -> munew.
  for (int64_t k = 0; k < L.k0; ++k) {
    attn.query(0, k, L.e + k);
    attn.key(0, k, L.lw + k);
  }
  attn.query(0, L.k0, L.one);
  attn.key(0, L.k0, L.is_c, -o.score_gap);
  for (int64_t t = 0; t < L.d0; ++t) {
    attn.value(0, t, L.x + t);
    attn.output(0, t, L.munew + t);
  }
  // Head 1: q = one, k = -C is_c, v = w -> pi.
  attn.query(1, 0, L.one);
  attn.key(1, 0, L.is_c, -o.score_gap);
  for (int64_t k = 0; k < L.k0; ++k) {
    attn.value(1, k, L.w + k);
    attn.output(1, k, L.pi + k);
  }

  MlpBuilder mlp(L.width);
  const double B = o.gate_bound;
  const PiecewiseLinear log = log_pwl(o), square = square_pwl(o);
  // a <- act (log pi_k - |munew|^2 / 2 - a) + a: only active component tokens change.
  mlp.add_gated_linear(L.a, L.a, -1.0, L.nact, B);
  for (int64_t t = 0; t < L.d0; ++t) {
    mlp.erase(L.mu + t);
    mlp.add_gated_linear(L.munew + t, L.mu + t, 1.0, L.nact, B);  // mu_t <- act munew_t
    mlp.add_even_pwl(L.munew + t, L.a, -0.5, square, L.nact, B);  // - PWL_sq(munew_t) / 2
    mlp.erase(L.munew + t);
  }
  mlp.add_nonnegative(L.pik, L.pik, -1.0);  // pik >= 0
  for (int64_t k = 0; k < L.k0; ++k) {
    mlp.add_nonnegative(L.pi + k, L.pik, 1.0, L.ne + k, B);      // pik += e_k pi_k
    mlp.add_pwl(L.pi + k, L.a, 1.0, log, L.e + k, L.ne + k, B);  // a += e_k PWL_log(pi_k)
    mlp.add_nonnegative(L.w + k, L.w + k, -1.0);                 // w >= 0
    mlp.add_nonnegative(L.pi + k, L.pi + k, -1.0);               // pi >= 0
  }
  return make_block(attn, nn::ScoreActivation::Softmax, mlp, o.dtype);
}

// x (B, N, d) as f64 contiguous on the CPU.
Tensor as_f64(const Tensor& t) { return t.to(Device::CPU).to(DType::F64).contiguous(); }

}  // namespace

EmTransformer::EmTransformer(const EmConstructionOptions& options)
    : options_(options), layout_(options.d0, options.k0) {
  if (options.d0 < 1 || options.k0 < 1 || options.log_knots < 1 || options.square_knots < 1) {
    throw std::invalid_argument("EmTransformer: d0, k0 and the knot counts must be positive");
  }
  block_e_ = register_module("e", build_block_e(layout_, options));
  block_m_ = register_module("m", build_block_m(layout_, options));
}

Tensor EmTransformer::embed(const Tensor& x, const MixtureEstimate& start) const {
  const EmLayout& L = layout_;
  if (x.dim() != 3 || start.weights.dim() != 2 || start.means.dim() != 3) {
    throw std::invalid_argument(
        "EmTransformer::embed: expected x (B, N, d), weights (B, K), "
        "means (B, K, d)");
  }
  const int64_t B = x.size(0), N = x.size(1), d = x.size(2), K = start.weights.size(1);
  if (d > L.d0 || K > L.k0 || start.weights.size(0) != B || start.means.shape() != Shape{B, K, d}) {
    throw std::invalid_argument("EmTransformer::embed: x " + x.describe() + ", weights " +
                                start.weights.describe() + ", means " + start.means.describe() +
                                " do not fit d0 = " + std::to_string(L.d0) +
                                ", K0 = " + std::to_string(L.k0));
  }
  const Tensor xs = as_f64(x), pi = as_f64(start.weights), mu = as_f64(start.means);
  const int64_t T = N + L.k0, D = L.width;
  Tensor tokens = zeros({B, T, D}, DType::F64);  // (B, T, D)
  double* h = tokens.data<double>();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < N; ++i) {
      double* row = h + (b * T + i) * D;
      for (int64_t t = 0; t < d; ++t) row[L.x + t] = xs.data<double>()[(b * N + i) * d + t];
      for (int64_t k = 0; k < L.k0; ++k) row[L.ne + k] = 1.0;
      row[L.nact] = 1.0;
      row[L.is_s] = 1.0;
      row[L.one] = 1.0;
    }
    for (int64_t k = 0; k < L.k0; ++k) {
      double* row = h + (b * T + N + k) * D;
      for (int64_t j = 0; j < L.k0; ++j) row[L.ne + j] = 1.0;
      row[L.is_c] = 1.0;
      row[L.one] = 1.0;
      if (k >= K) {  // inactive
        row[L.a] = -options_.score_gap;
        row[L.nact] = 1.0;
        continue;
      }
      double norm2 = 0.0;
      for (int64_t t = 0; t < d; ++t) {
        const double m = mu.data<double>()[(b * K + k) * d + t];
        row[L.mu + t] = m;
        norm2 += m * m;
      }
      const double weight = pi.data<double>()[b * K + k];
      row[L.a] = std::log(weight) - 0.5 * norm2;
      row[L.e + k] = 1.0;
      row[L.ne + k] = 0.0;
      row[L.act] = 1.0;
      row[L.pik] = weight;
    }
  }
  return tokens.to(options_.dtype);
}

Tensor EmTransformer::step(const Tensor& tokens) const {
  if (tokens.dim() != 3 || tokens.size(2) != layout_.width || tokens.size(1) <= layout_.k0) {
    throw std::invalid_argument("EmTransformer::step: expected tokens (B, N + " +
                                std::to_string(layout_.k0) + ", " + std::to_string(layout_.width) +
                                "), got " + tokens.describe());
  }
  return run_blocks({block_e_, block_m_}, tokens);
}

MixtureEstimate EmTransformer::read(const Tensor& tokens, int64_t d, int64_t k) const {
  const EmLayout& L = layout_;
  const Tensor h = as_f64(tokens);  // (B, T, D)
  const int64_t B = h.size(0), T = h.size(1), D = L.width, N = T - L.k0;
  MixtureEstimate out{zeros({B, k}, DType::F64), zeros({B, k, d}, DType::F64)};
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t c = 0; c < k; ++c) {
      const double* row = h.data<double>() + (b * T + N + c) * D;
      out.weights.data<double>()[b * k + c] = row[L.pik];
      for (int64_t t = 0; t < d; ++t) out.means.data<double>()[(b * k + c) * d + t] = row[L.mu + t];
    }
  }
  return out;
}

ConstructionSize EmTransformer::size(int64_t steps) const {
  ConstructionSize s;
  s.layers = 2 * steps;
  s.heads = 3 * steps;  // Block E: 1, Block M: 2
  s.width = layout_.width;
  s.max_head_dim = block_m_->attn().head_dim();
  s.mlp_hidden = std::max(block_e_->mlp().options().hidden, block_m_->mlp().options().hidden);
  s.parameters = steps * parameter_count();
  return s;
}

MixtureEstimate em_reference_step(const Tensor& x, const MixtureEstimate& current) {
  const Tensor xs = as_f64(x), pi = as_f64(current.weights), mu = as_f64(current.means);
  const int64_t B = xs.size(0), N = xs.size(1), d = xs.size(2), K = pi.size(1);
  MixtureEstimate next{zeros({B, K}, DType::F64), zeros({B, K, d}, DType::F64)};
  std::vector<double> logp(static_cast<size_t>(K)), mass(static_cast<size_t>(K));
  for (int64_t b = 0; b < B; ++b) {
    const double* xb = xs.data<double>() + b * N * d;
    const double* mb = mu.data<double>() + b * K * d;
    double* new_mu = next.means.data<double>() + b * K * d;
    std::fill(mass.begin(), mass.end(), 0.0);
    for (int64_t i = 0; i < N; ++i) {
      double top = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < K; ++k) {  // E-step: log pi_k - |x_i - mu_k|^2 / 2
        double dist2 = 0.0;
        for (int64_t t = 0; t < d; ++t)
          dist2 += (xb[i * d + t] - mb[k * d + t]) * (xb[i * d + t] - mb[k * d + t]);
        logp[k] = std::log(pi.data<double>()[b * K + k]) - 0.5 * dist2;
        top = std::max(top, logp[k]);
      }
      double total = 0.0;
      for (int64_t k = 0; k < K; ++k) total += (logp[k] = std::exp(logp[k] - top));
      for (int64_t k = 0; k < K; ++k) {  // accumulate the M-step sums
        const double r = logp[k] / total;
        mass[k] += r;
        for (int64_t t = 0; t < d; ++t) new_mu[k * d + t] += r * xb[i * d + t];
      }
    }
    for (int64_t k = 0; k < K; ++k) {
      next.weights.data<double>()[b * K + k] = mass[k] / static_cast<double>(N);
      for (int64_t t = 0; t < d; ++t) new_mu[k * d + t] /= mass[k];
    }
  }
  return next;
}

}  // namespace tg::gmm
