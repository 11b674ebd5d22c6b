// spectral.cpp — the spectral baseline, step by step (the math and the letters are in spectral.h).
//
// Steps 1-3 and 6 are a few small matmuls and one eigh each. Step 4 and the power method work
// on the raw f64 entries of T with plain loops: K <= 5 in the experiments, so T has at most 125
// entries and a Tensor op per power step would cost more in dispatch than in arithmetic.
// Layout: T (K,K,K) row-major, T[i][j][m] at t[(i*K + j)*K + m].
#include "gmm/mixture/spectral.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "tensor/check.h"
#include "tensor/linalg.h"

namespace tg::gmm {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// f64, on the CPU, contiguous: the form every step computes in.
Tensor as_f64(const Tensor& t) { return t.to(Device::CPU).to(DType::F64).contiguous(); }

void check_shape(const Tensor& t, const Shape& shape, const char* op, const char* name) {
  check_floating(t, op);
  if (t.shape() != shape) {
    throw std::invalid_argument(std::string(op) + ": " + name + " must have shape " +
                                shape_str(shape) + ", got " + t.describe());
  }
}

void check_rank(const Tensor& t, int64_t rank, const char* op, const char* name) {
  check_floating(t, op);
  if (t.dim() != rank) {
    throw std::invalid_argument(std::string(op) + ": " + name + " must have " +
                                std::to_string(rank) + " dims, got " + t.describe());
  }
}

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", value);
  return buffer;
}

SpectralFit failed(std::string why) {
  SpectralFit fit;
  fit.failure = std::move(why);
  return fit;
}

// ---- kernels on T (K,K,K) ------------------------------------------------------------------

// out = T(I,v,v): out_i = sum_j v_j sum_m T[i][j][m] v_m.
void apply_kernel(const double* t, const double* v, double* out, int64_t K) {
  for (int64_t i = 0; i < K; ++i) {
    double sum = 0.0;
    for (int64_t j = 0; j < K; ++j) {
      const double* row = t + (i * K + j) * K;  // T[i][j][:]
      double inner = 0.0;
      for (int64_t m = 0; m < K; ++m) inner += row[m] * v[m];
      sum += v[j] * inner;
    }
    out[i] = sum;
  }
}

double dot(const double* a, const double* b, int64_t K) {
  return std::inner_product(a, a + K, b, 0.0);
}

// T(v,v,v) = v . T(I,v,v); `scratch` has K entries.
double value_kernel(const double* t, const double* v, double* scratch, int64_t K) {
  apply_kernel(t, v, scratch, K);
  return dot(v, scratch, K);
}

// `steps` times v <- T(I,v,v)/||T(I,v,v)||; stops, leaving v, if T(I,v,v) is zero or not finite.
void power_steps(const double* t, double* v, double* scratch, int64_t K, int steps) {
  for (int step = 0; step < steps; ++step) {
    apply_kernel(t, v, scratch, K);
    const double norm = std::sqrt(dot(scratch, scratch, K));
    if (!(norm > 0.0) || !std::isfinite(norm)) return;
    for (int64_t i = 0; i < K; ++i) v[i] = scratch[i] / norm;
  }
}

// T -= lambda v(x)v(x)v
void deflate(double* t, double lambda, const double* v, int64_t K) {
  for (int64_t i = 0; i < K; ++i) {
    for (int64_t j = 0; j < K; ++j) {
      double* row = t + (i * K + j) * K;
      const double scale = lambda * v[i] * v[j];
      for (int64_t m = 0; m < K; ++m) row[m] -= scale * v[m];
    }
  }
}

// A uniformly random direction: a standard normal vector, normalised.
void random_unit_vector(Generator& gen, double* v, int64_t K) {
  double norm2 = 0.0;
  while (!(norm2 > 0.0)) {
    for (int64_t i = 0; i < K; ++i) v[i] = gen.normal();
    norm2 = dot(v, v, K);
  }
  const double norm = std::sqrt(norm2);
  for (int64_t i = 0; i < K; ++i) v[i] /= norm;
}

// Step 6: mu_k = lambda_k B v_k, pi_k ∝ lambda_k^-2, components sorted by ascending weight.
SpectralFit unwhiten(const TensorEigenpairs& pairs, const Tensor& b /* (d,K) */) {
  const int64_t K = pairs.values.size(0);
  const Tensor scaled = matmul(b, pairs.vectors) * pairs.values.unsqueeze(0);  // (d,K)
  const Tensor inverse_square = pow_scalar(pairs.values, -2.0);                // (K)
  const Tensor weights = inverse_square / sum(inverse_square);                 // (K)
  if (!all_finite(weights) || !all_finite(scaled)) {
    return failed("spectral: the unwhitened weights or means are not finite");
  }
  const double* w = weights.data<double>();
  std::vector<int64_t> order(K);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return w[i] < w[j]; });
  const Tensor index = from_indices(order);
  SpectralFit fit;
  fit.ok = true;
  fit.weights = index_select(weights, 0, index);                            // (K)
  fit.means = index_select(scaled.transpose(0, 1).contiguous(), 0, index);  // (K,d)
  return fit;
}

}  // namespace

// ---- steps 1-3: moments ---------------------------------------------------------------------

SpectralMoments spectral_moments(const Tensor& x_in) {
  check_rank(x_in, 2, "spectral_moments", "x");
  if (x_in.size(0) < 1) throw std::invalid_argument("spectral_moments: no points in x");
  const Tensor x = as_f64(x_in);  // (N,d)
  const int64_t d = x.size(1);
  const double n = static_cast<double>(x.size(0));
  SpectralMoments m;
  m.mean = mean(x, {0});                                                   // (d)
  const Tensor centred = x - m.mean;                                       // (N,d)
  const Tensor covariance = matmul(centred.transpose(0, 1), centred) / n;  // (d,d)
  if (all_finite(covariance)) {
    const Eigh e = eigh(covariance);
    m.sigma2 = e.values.at({0});
    m.direction = e.vectors.select(1, 0).contiguous();  // (d)
  } else {  // overflow: everything after this is NaN, which spectral_fit reports
    m.sigma2 = kNaN;
    m.direction = full({d}, kNaN, DType::F64);
  }
  const Tensor projection = matmul(centred, m.direction);  // (N)  (x_n - m).v
  m.m1 = matmul(square(projection), x) / n;                // (d)
  m.m2 = matmul(x.transpose(0, 1), x) / n;                 // (d,d)  E[x x^T] ...
  double* m2 = m.m2.data<double>();
  for (int64_t i = 0; i < d; ++i) m2[i * d + i] -= m.sigma2;  // ... - sigma^2 I
  return m;
}

Whitening spectral_whitening(const Tensor& m2_in, int64_t k) {
  check_rank(m2_in, 2, "spectral_whitening", "m2");
  const int64_t d = m2_in.size(0);
  if (m2_in.size(1) != d || k < 1 || k > d) {
    throw std::invalid_argument("spectral_whitening: need a square M2 and 1 <= K <= d, got K = " +
                                std::to_string(k) + " and M2 " + m2_in.describe());
  }
  Whitening out;
  const Tensor m2 = as_f64(m2_in);
  if (!all_finite(m2)) {
    out.failure = "spectral: M2 is not finite";
    return out;
  }
  const Eigh e = eigh(m2);  // ascending
  // Top K, descending: column d-1-j of e.vectors.
  const Tensor top = from_indices([&] {
    std::vector<int64_t> idx(k);
    for (int64_t j = 0; j < k; ++j) idx[j] = d - 1 - j;
    return idx;
  }());
  out.eigenvalues = index_select(e.values, 0, top);  // (K)
  const Tensor v = index_select(e.vectors, 1, top);  // (d,K)
  // Eigenvalues within LAPACK's rounding error of zero count as zero.
  const double scale = std::max(std::abs(e.values.at({0})), std::abs(e.values.at({d - 1})));
  const double tolerance =
      16.0 * static_cast<double>(d) * std::numeric_limits<double>::epsilon() * scale;
  for (int64_t j = 0; j < k; ++j) {
    const double s = out.eigenvalues.at({j});
    if (!(s > tolerance)) {
      out.failure = "spectral: eigenvalue " + std::to_string(j + 1) + " of M2 is " + number(s) +
                    ", not positive (the top K = " + std::to_string(k) +
                    " must be; data of rank < K?)";
      return out;
    }
  }
  out.w = v * rsqrt(out.eigenvalues).unsqueeze(0);  // (d,K)  V S^(-1/2)
  out.b = v * sqrt(out.eigenvalues).unsqueeze(0);   // (d,K)  V S^(1/2)
  return out;
}

// ---- step 4: the whitened third moment ------------------------------------------------------

Tensor whitened_third_moment(const Tensor& x_in, const Tensor& w_in, const Tensor& m1_in) {
  const char* op = "whitened_third_moment";
  check_rank(x_in, 2, op, "x");
  check_rank(w_in, 2, op, "w");
  const int64_t N = x_in.size(0), d = x_in.size(1), K = w_in.size(1);
  check_shape(w_in, {d, K}, op, "w");
  check_shape(m1_in, {d}, op, "m1");
  if (N < 1) throw std::invalid_argument(std::string(op) + ": no points in x");
  const Tensor x = as_f64(x_in), w = as_f64(w_in), m1 = as_f64(m1_in);
  const Tensor y = matmul(x, w);                  // (N,K)  y_n = W^T x_n
  const Tensor a = matmul(m1, w);                 // (K)    W^T M1
  const Tensor g = matmul(w.transpose(0, 1), w);  // (K,K)  sum_i w_i w_i^T = W^T W
  Tensor t = zeros({K, K, K}, DType::F64);        // (K,K,K)
  double* pt = t.data<double>();
  const double* py = y.data<double>();
  for (int64_t n = 0; n < N; ++n) {  // sum_n y_n(x)y_n(x)y_n
    const double* yn = py + n * K;
    for (int64_t p = 0; p < K; ++p) {
      for (int64_t q = 0; q < K; ++q) {
        double* row = pt + (p * K + q) * K;
        const double ypq = yn[p] * yn[q];
        for (int64_t r = 0; r < K; ++r) row[r] += ypq * yn[r];
      }
    }
  }
  const double* pa = a.data<double>();
  const double* pg = g.data<double>();
  for (int64_t p = 0; p < K; ++p) {  // mean, minus a_p G_qr + a_q G_pr + a_r G_pq
    for (int64_t q = 0; q < K; ++q) {
      for (int64_t r = 0; r < K; ++r) {
        const double correction =
            pa[p] * pg[q * K + r] + pa[q] * pg[p * K + r] + pa[r] * pg[p * K + q];
        pt[(p * K + q) * K + r] = pt[(p * K + q) * K + r] / static_cast<double>(N) - correction;
      }
    }
  }
  return t;
}

// ---- step 5: the robust tensor power method -------------------------------------------------

Tensor tensor_apply(const Tensor& t_in, const Tensor& v_in) {
  check_rank(t_in, 3, "tensor_apply", "T");
  const int64_t K = t_in.size(0);
  check_shape(t_in, {K, K, K}, "tensor_apply", "T");
  check_shape(v_in, {K}, "tensor_apply", "v");
  const Tensor t = as_f64(t_in), v = as_f64(v_in);
  Tensor out({K}, DType::F64);  // (K)
  apply_kernel(t.data<double>(), v.data<double>(), out.data<double>(), K);
  return out;
}

double tensor_value(const Tensor& t, const Tensor& v) {
  const Tensor applied = tensor_apply(t, v);  // (K) T(I,v,v)
  return dot(as_f64(v).data<double>(), applied.data<double>(), applied.numel());
}

TensorEigenpairs tensor_power_iteration(const Tensor& t_in, Generator& gen,
                                        const SpectralOptions& options) {
  const char* op = "tensor_power_iteration";
  check_rank(t_in, 3, op, "T");
  const int64_t K = t_in.size(0);
  check_shape(t_in, {K, K, K}, op, "T");
  if (options.restarts < 1 || options.iterations < 0) {
    throw std::invalid_argument(std::string(op) + ": need restarts >= 1 and iterations >= 0, got " +
                                std::to_string(options.restarts) + " and " +
                                std::to_string(options.iterations));
  }
  Tensor residual = as_f64(t_in).clone();  // (K,K,K), deflated component by component
  double* r = residual.data<double>();
  TensorEigenpairs out{Tensor({K}, DType::F64), Tensor({K, K}, DType::F64)};
  double* values = out.values.data<double>();     // (K)
  double* vectors = out.vectors.data<double>();   // (K,K), v_c in column c
  std::vector<double> v(K), best(K), scratch(K);  // scratch: T(I,v,v)
  for (int64_t c = 0; c < K; ++c) {
    double best_value = kNaN;
    for (int start = 0; start < options.restarts; ++start) {
      random_unit_vector(gen, v.data(), K);
      power_steps(r, v.data(), scratch.data(), K, options.iterations);
      const double value = value_kernel(r, v.data(), scratch.data(), K);
      if (start == 0 || value > best_value) {
        best = v;
        best_value = value;
      }
    }
    power_steps(r, best.data(), scratch.data(), K, options.iterations);
    const double lambda = value_kernel(r, best.data(), scratch.data(), K);
    deflate(r, lambda, best.data(), K);
    values[c] = lambda;
    for (int64_t i = 0; i < K; ++i) vectors[i * K + c] = best[i];
  }
  return out;
}

// ---- the whole method -----------------------------------------------------------------------

SpectralFit spectral_fit(const Tensor& x_in, int64_t k, Generator& gen,
                         const SpectralOptions& options) {
  check_rank(x_in, 2, "spectral_fit", "x");
  const int64_t N = x_in.size(0), d = x_in.size(1);
  if (N < 1 || k < 1) {
    throw std::invalid_argument("spectral_fit: need at least one point and K >= 1, got K = " +
                                std::to_string(k) + " and x " + x_in.describe());
  }
  if (k >= d) {
    return failed("spectral: needs K < d (a noise direction outside the means' span), got K = " +
                  std::to_string(k) + ", d = " + std::to_string(d));
  }
  const Tensor x = as_f64(x_in);  // (N,d)
  if (!all_finite(x)) return failed("spectral: the points contain non-finite values");

  const SpectralMoments moments = spectral_moments(x);
  if (!std::isfinite(moments.sigma2) || !all_finite(moments.m1) || !all_finite(moments.m2)) {
    return failed("spectral: the moments are not finite (values too large)");
  }
  const Whitening whitening = spectral_whitening(moments.m2, k);
  if (!whitening.failure.empty()) return failed(whitening.failure);

  const Tensor t = whitened_third_moment(x, whitening.w, moments.m1);  // (K,K,K)
  if (!all_finite(t)) return failed("spectral: the whitened third moment is not finite");

  const TensorEigenpairs pairs = tensor_power_iteration(t, gen, options);
  for (int64_t c = 0; c < k; ++c) {
    const double lambda = pairs.values.at({c});
    if (!(lambda > 0.0) || !std::isfinite(lambda)) {
      return failed("spectral: tensor eigenvalue " + std::to_string(c + 1) + " is " +
                    number(lambda) + ", not a positive number");
    }
  }
  return unwhiten(pairs, whitening.b);
}

}  // namespace tg::gmm
