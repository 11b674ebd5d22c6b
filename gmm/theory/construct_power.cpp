// construct_power.cpp — the tensor power iteration construction (construct_power.h).
//
// Dimension letters: B tensors, d size (= tokens), D width, S head dim.
#include "gmm/theory/construct_power.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "gmm/mixture/spectral.h"

namespace tg::gmm {

PowerLayout::PowerLayout(int64_t d_) : d(d_) {
  int64_t next = 0;
  auto take = [&](int64_t size) {
    const int64_t start = next;
    next += size;
    return start;
  };
  slice = take(d * d);
  v = take(d);
  own = take(1);
  e = take(d);
  ne = take(d);
  u = take(d);
  uown = take(1);
  s = take(1);
  r = take(1);
  vn = take(d);
  one = take(1);
  width = next;  // d^2 + 5 d + 5
}

namespace {

int64_t power_head_count(const PowerConstructionOptions& o) {
  return o.heads == PowerHeads::Signed ? 2 * o.d : o.d + 1;
}

// The heads that add T(I, v, v) to u (see the header).
AttentionBuilder power_heads(const PowerLayout& L, const PowerConstructionOptions& o) {
  const int64_t d = L.d, S = std::max<int64_t>(d, 2);
  const double n = static_cast<double>(d);  // tokens: ReluOverN divides by it
  AttentionBuilder attn(L.width, power_head_count(o), S);
  if (o.heads == PowerHeads::Signed) {
    for (int64_t m = 0; m < d; ++m) {
      for (int64_t sign = 0; sign < 2; ++sign) {
        const int64_t h = 2 * m + sign;
        const double sigma = sign == 0 ? 1.0 : -1.0;
        attn.query(h, 0, L.v + m, sigma);  // score sigma v_m v_j
        attn.key(h, 0, L.own);
        for (int64_t i = 0; i < d; ++i) {
          attn.value(h, i, L.slice + i * d + m, sigma * n);  // sigma d T[i, j, m]
          attn.output(h, i, L.u + i);
        }
      }
    }
  } else {
    for (int64_t m = 0; m < d; ++m) {  // score v_m v_j + C
      attn.query(m, 0, L.v + m);
      attn.key(m, 0, L.own);
      attn.query(m, 1, L.one);
      attn.key(m, 1, AttentionBuilder::kBias, o.shift);
      for (int64_t i = 0; i < d; ++i) {
        attn.value(m, i, L.slice + i * d + m, n);
        attn.output(m, i, L.u + i);
      }
    }
    const int64_t h = d;  // score C, value -d sum_m T[:, j, m]: removes C sum_{j,m} T[:, j, m]
    attn.query(h, 0, L.one);
    attn.key(h, 0, AttentionBuilder::kBias, o.shift);
    for (int64_t i = 0; i < d; ++i) {
      for (int64_t m = 0; m < d; ++m) attn.value(h, i, L.slice + i * d + m, -n);
      attn.output(h, i, L.u + i);
    }
  }
  return attn;
}

// v <- src, own <- src_j (exact gate by ne), src erased.
void move_into_v(MlpBuilder& mlp, const PowerLayout& L, int64_t src, double bound) {
  mlp.erase(L.own);
  for (int64_t i = 0; i < L.d; ++i) {
    mlp.erase(L.v + i);
    mlp.add_linear(src + i, L.v + i);
    mlp.add_gated_linear(src + i, L.own, 1.0, L.ne + i, bound);
    mlp.erase(src + i);
  }
}

// s^-1/2 on geometric knots, every value scaled by 1 / (1 + delta / 2) where delta is the largest
// relative overestimate of the interpolant (the same in every cell: the knots are geometric and
// s^-1/2 is a power), so that the relative error lies in [-delta/2, delta/2].
PiecewiseLinear isqrt_pwl(const PowerConstructionOptions& o) {
  auto f = [](double s) { return 1.0 / std::sqrt(s); };
  PiecewiseLinear pwl = interpolate(f, geometric_knots(o.isqrt_lo, o.isqrt_hi, o.isqrt_knots));
  double delta = 0.0;
  const double b0 = pwl.knots[0], b1 = pwl.knots[1];
  for (int q = 1; q < 1000; ++q) {
    const double z = b0 + (b1 - b0) * q / 1000.0;
    delta = std::max(delta, pwl.evaluate(z) / f(z) - 1.0);
  }
  for (double& value : pwl.values) value /= 1.0 + delta / 2.0;
  return pwl;
}

Tensor as_f64(const Tensor& t) { return t.to(Device::CPU).to(DType::F64).contiguous(); }

}  // namespace

PowerTransformer::PowerTransformer(const PowerConstructionOptions& options)
    : options_(options), layout_(options.d) {
  const PowerLayout& L = layout_;
  if (options.d < 1 || options.isqrt_knots < 1) {
    throw std::invalid_argument("PowerTransformer: d and isqrt_knots must be positive");
  }
  const DType dtype = options.dtype;
  const double B = options.gate_bound;
  const auto relu = nn::ScoreActivation::ReluOverN;

  {  // plain: the heads, then v, own <- u
    MlpBuilder mlp(L.width);
    move_into_v(mlp, L, L.u, B);
    plain_ = register_module("plain", make_block(power_heads(L, options), relu, mlp, dtype));
  }
  {  // N1: u = T(I, v, v); uown <- u_j
    MlpBuilder mlp(L.width);
    for (int64_t i = 0; i < L.d; ++i) mlp.add_gated_linear(L.u + i, L.uown, 1.0, L.ne + i, B);
    n1_ = register_module("n1", make_block(power_heads(L, options), relu, mlp, dtype));
  }
  {  // N2: s = |u|^2 (two heads); r <- PWL(s^-1/2)
    AttentionBuilder attn(L.width, 2, L.d);
    const double n = static_cast<double>(L.d);
    for (int64_t h = 0; h < 2; ++h) {
      const double sigma = h == 0 ? 1.0 : -1.0;
      for (int64_t i = 0; i < L.d; ++i) {
        attn.query(h, i, L.u + i, sigma);  // score sigma u_j
        attn.key(h, i, L.e + i);
      }
      attn.value(h, 0, L.uown, sigma * n);  // sigma d u_j
      attn.output(h, 0, L.s);
    }
    MlpBuilder mlp(L.width);
    mlp.add_pwl(L.s, L.r, 1.0, isqrt_pwl(options));
    n2_ = register_module("n2", make_block(attn, relu, mlp, dtype));
  }
  {  // N3: vn = r u; v, own <- vn; scratch erased
    AttentionBuilder attn(L.width, 1, L.d);
    attn.query(0, 0, L.r);
    attn.key(0, 0, L.one);
    for (int64_t i = 0; i < L.d; ++i) {
      attn.value(0, i, L.u + i);
      attn.output(0, i, L.vn + i);
    }
    MlpBuilder mlp(L.width);
    move_into_v(mlp, L, L.vn, B);
    for (int64_t i = 0; i < L.d; ++i) mlp.erase(L.u + i);
    mlp.erase(L.uown);
    mlp.add_nonnegative(L.s, L.s, -1.0);
    mlp.add_nonnegative(L.r, L.r, -1.0);
    n3_ = register_module("n3", make_block(attn, relu, mlp, dtype));
  }
}

Tensor PowerTransformer::embed(const Tensor& t, const Tensor& v) const {
  const PowerLayout& L = layout_;
  const int64_t d = L.d;
  if (t.dim() != 4 || t.size(1) != d || t.size(2) != d || t.size(3) != d || v.dim() != 2 ||
      v.size(0) != t.size(0) || v.size(1) != d) {
    throw std::invalid_argument("PowerTransformer::embed: expected t (B, " + std::to_string(d) +
                                ", d, d) and v (B, d), got " + t.describe() + " and " +
                                v.describe());
  }
  const int64_t B = t.size(0), D = L.width;
  const Tensor ts = as_f64(t), vs = as_f64(v);
  Tensor tokens = zeros({B, d, D}, DType::F64);  // (B, d, D)
  for (int64_t b = 0; b < B; ++b) {
    const double* tb = ts.data<double>() + b * d * d * d;
    const double* vb = vs.data<double>() + b * d;
    for (int64_t j = 0; j < d; ++j) {
      double* row = tokens.data<double>() + (b * d + j) * D;
      for (int64_t i = 0; i < d; ++i) {
        for (int64_t m = 0; m < d; ++m) row[L.slice + i * d + m] = tb[(i * d + j) * d + m];
        row[L.v + i] = vb[i];
        row[L.ne + i] = 1.0;
      }
      row[L.own] = vb[j];
      row[L.e + j] = 1.0;
      row[L.ne + j] = 0.0;
      row[L.one] = 1.0;
    }
  }
  return tokens.to(options_.dtype);
}

Tensor PowerTransformer::step(const Tensor& tokens) const { return run_blocks({plain_}, tokens); }

Tensor PowerTransformer::normalized_step(const Tensor& tokens) const {
  return run_blocks({n1_, n2_, n3_}, tokens);
}

Tensor PowerTransformer::read(const Tensor& tokens) const {
  const Tensor h = as_f64(tokens);  // (B, d, D)
  const int64_t B = h.size(0), d = layout_.d, D = layout_.width;
  Tensor v = zeros({B, d}, DType::F64);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < d; ++j) {
      v.data<double>()[b * d + j] = h.data<double>()[(b * d + j) * D + layout_.own];
    }
  }
  return v;
}

Tensor PowerTransformer::read_copy(const Tensor& tokens) const {
  const Tensor h = as_f64(tokens);
  const int64_t B = h.size(0), d = layout_.d, D = layout_.width;
  Tensor v = zeros({B, d}, DType::F64);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < d; ++i) {
      v.data<double>()[b * d + i] = h.data<double>()[b * d * D + layout_.v + i];
    }
  }
  return v;
}

ConstructionSize PowerTransformer::plain_size(int64_t steps) const {
  ConstructionSize s;
  s.layers = steps;
  s.heads = steps * power_head_count(options_);
  s.width = layout_.width;
  s.max_head_dim = plain_->attn().head_dim();
  s.mlp_hidden = plain_->mlp().options().hidden;
  s.parameters = steps * plain_->parameter_count();
  return s;
}

ConstructionSize PowerTransformer::normalized_size(int64_t steps) const {
  ConstructionSize s;
  s.layers = 3 * steps;
  s.heads = steps * (power_head_count(options_) + 2 + 1);
  s.width = layout_.width;
  s.max_head_dim = std::max(n1_->attn().head_dim(), n2_->attn().head_dim());
  s.mlp_hidden = std::max(
      {n1_->mlp().options().hidden, n2_->mlp().options().hidden, n3_->mlp().options().hidden});
  s.parameters = steps * (n1_->parameter_count() + n2_->parameter_count() + n3_->parameter_count());
  return s;
}

Tensor power_reference_step(const Tensor& t, const Tensor& v) {
  return tensor_apply(as_f64(t), as_f64(v));
}

Tensor power_reference_normalized_step(const Tensor& t, const Tensor& v) {
  const Tensor u = power_reference_step(t, v);
  double norm2 = 0.0;
  for (double x : u.to_vector()) norm2 += x * x;
  return u * (1.0 / std::sqrt(norm2));
}

}  // namespace tg::gmm
