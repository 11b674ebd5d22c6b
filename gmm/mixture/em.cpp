// em.cpp — batched EM (see em.h for the model, the variants and the batching).
//
// A Job is one (task, restart): its points, its parameters and its progress. advance() performs
// one EM iteration on one job; em_iterate() calls it on every unfinished job, in parallel, until
// all are done. The E-step works on the task's points transposed (d, N), so that its loops run
// over points and vectorise, and accumulates the sufficient statistics around the current means
// (sum r, sum r (x - mu), sum r (x - mu)^2), which keeps the diagonal variance free of the
// cancellation of E[x^2] - E[x]^2. The diagonal and spherical variants share the E-step ("scaled":
// a variance per component and coordinate; a spherical job keeps its d entries equal) and differ
// only in the M-step, which averages the spherical variance over the coordinates.
#include "gmm/mixture/em.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace tg::gmm {

namespace {

constexpr double kLog2Pi = 1.8378770664093453;  // log(2 pi)
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Job {
  const double* x = nullptr;   // (L, d) the task's valid points, one row per point
  const double* xt = nullptr;  // (d, L) the same points transposed; row c at xt + c * stride
  int64_t stride = 0;          // N, the padded length
  int64_t length = 0, k = 0, d = 0;
  std::vector<double> weights;    // (K)
  std::vector<double> means;      // (K, d)
  std::vector<double> variances;  // (K, d), diagonal and spherical only (spherical: rows constant)
  double log_likelihood = -kInf;  // average per point, of the current parameters once done
  int64_t iterations = 0;         // M-steps taken
  bool converged = false, done = false;
  std::vector<double> trace;
};

struct Statistics {
  std::vector<double> count;   // (K)     sum_n r_nk
  std::vector<double> first;   // (K, d)  sum_n r_nk (x_n - mu_k)
  std::vector<double> second;  // (K, d)  sum_n r_nk (x_n - mu_k)^2, scaled variants only
};

// E-step: the average log-likelihood per point of the job's parameters, and the statistics.
// Every inner loop runs over the points n, contiguous in the transposed copy xt, so that the
// compiler turns it into SIMD code (`omp simd reduction` lets it reorder the sums over points);
// the (K, L) array `resp` holds log-joints, then responsibilities.
double e_step(const Job& job, bool scaled, Statistics& s) {
  const int64_t K = job.k, d = job.d, L = job.length;
  s.count.assign(K, 0.0);
  s.first.assign(K * d, 0.0);
  if (scaled) s.second.assign(K * d, 0.0);
  std::vector<double> resp(K * L);    // (K, L)
  std::vector<double> top(L, -kInf);  // (L) max_k of the log-joint
  std::vector<double> z(L, 0.0);      // (L) sum_k exp(log-joint - top)

  // log r~_nk = log pi_k - (1/2) sum_c (x_nc - mu_kc)^2 / sigma_kc^2 - (1/2) sum_c log sigma_kc^2
  for (int64_t k = 0; k < K; ++k) {
    double* lp = resp.data() + k * L;
    double log_prior = std::log(job.weights[k]);  // -inf for an emptied component: r = 0 below
    for (int64_t n = 0; n < L; ++n) lp[n] = 0.0;
    for (int64_t c = 0; c < d; ++c) {
      const double mu = job.means[k * d + c], *xc = job.xt + c * job.stride;
      const double precision = scaled ? 1.0 / job.variances[k * d + c] : 1.0;
      if (scaled) log_prior -= 0.5 * std::log(job.variances[k * d + c]);
      for (int64_t n = 0; n < L; ++n) lp[n] += (xc[n] - mu) * (xc[n] - mu) * precision;
    }
    for (int64_t n = 0; n < L; ++n) {
      lp[n] = log_prior - 0.5 * lp[n];
      top[n] = std::max(top[n], lp[n]);
    }
  }
  for (int64_t k = 0; k < K; ++k) {
    double* e = resp.data() + k * L;
    for (int64_t n = 0; n < L; ++n) z[n] += (e[n] = detail::exp_nonpositive(e[n] - top[n]));
  }
  // The log-likelihood is sum_n (top_n + log z_n) with z_n in [1, K]. The z_n are multiplied up
  // and the product's log taken only when it grows large: one log per many points, not per point.
  double total = 0.0, z_product = 1.0;
  for (int64_t n = 0; n < L; ++n) {
    total += top[n];
    z_product *= z[n];
    if (z_product > 1e200) {
      total += std::log(z_product);
      z_product = 1.0;
    }
    z[n] = 1.0 / z[n];
  }
  total += std::log(z_product);
  // Responsibilities and the statistics around the current means.
  for (int64_t k = 0; k < K; ++k) {
    double* r = resp.data() + k * L;
    double count = 0.0;
#pragma omp simd reduction(+ : count)
    for (int64_t n = 0; n < L; ++n) count += (r[n] *= z[n]);
    s.count[k] = count;
    for (int64_t c = 0; c < d; ++c) {
      const double mu = job.means[k * d + c], *xc = job.xt + c * job.stride;
      double first = 0.0, second = 0.0;
      if (scaled) {
#pragma omp simd reduction(+ : first, second)
        for (int64_t n = 0; n < L; ++n) {
          first += r[n] * (xc[n] - mu);
          second += r[n] * (xc[n] - mu) * (xc[n] - mu);
        }
        s.second[k * d + c] = second;
      } else {
#pragma omp simd reduction(+ : first)
        for (int64_t n = 0; n < L; ++n) first += r[n] * (xc[n] - mu);
      }
      s.first[k * d + c] = first;
    }
  }
  return total / static_cast<double>(L) - 0.5 * static_cast<double>(d) * kLog2Pi;
}

// M-step from the statistics. A component with no responsibility at all keeps its mean.
void m_step(Job& job, Covariance covariance, const Statistics& s) {
  const int64_t d = job.d;
  for (int64_t k = 0; k < job.k; ++k) {
    const double nk = s.count[k];
    job.weights[k] = nk / static_cast<double>(job.length);
    if (nk <= 0.0) continue;
    double mean_variance = 0.0;  // spherical: (1/d) sum_c of the coordinate variances
    for (int64_t c = 0; c < d; ++c) {
      const double shift = s.first[k * d + c] / nk;  // new mean - old mean
      job.means[k * d + c] += shift;
      if (covariance == Covariance::Unit) continue;
      const double var = s.second[k * d + c] / nk - shift * shift;
      job.variances[k * d + c] = std::max(var, kVarianceFloor);
      mean_variance += var / static_cast<double>(d);
    }
    if (covariance == Covariance::Spherical) {
      const double var = std::max(mean_variance, kVarianceFloor);
      std::fill(job.variances.begin() + k * d, job.variances.begin() + (k + 1) * d, var);
    }
  }
}

// One iteration: E-step; stop if converged or out of iterations, else M-step.
void advance(Job& job, const EmOptions& options) {
  const bool scaled = options.covariance != Covariance::Unit;
  Statistics s;
  const double ll = e_step(job, scaled, s);
  if (options.record_trace) job.trace.push_back(ll);
  const bool converged =
      job.iterations > 0 && std::abs(ll - job.log_likelihood) < options.tolerance;
  job.log_likelihood = ll;
  if (converged || job.iterations >= options.max_iterations) {
    job.converged = converged;
    job.done = true;
    return;
  }
  m_step(job, options.covariance, s);
  ++job.iterations;
}

void em_iterate(std::vector<Job>& jobs, const EmOptions& options) {
  std::vector<int64_t> active(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) active[j] = static_cast<int64_t>(j);
  while (!active.empty()) {
    const int64_t count = static_cast<int64_t>(active.size());
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t i = 0; i < count; ++i) advance(jobs[active[i]], options);
    std::erase_if(active, [&](int64_t j) { return jobs[j].done; });
  }
}

// Means (K, d) chosen by k-means++: the first a uniform point, each next one a point drawn with
// probability proportional to its squared distance to the nearest mean chosen so far.
void kmeans_plus_plus(Job& job, Generator& gen) {
  const int64_t L = job.length, d = job.d;
  std::vector<double> nearest(L, kInf);  // (L) squared distance to the nearest chosen mean
  int64_t pick = gen.randint(0, L);
  for (int64_t k = 0; k < job.k; ++k) {
    std::copy(job.x + pick * d, job.x + (pick + 1) * d, job.means.begin() + k * d);
    double total = 0.0;
    for (int64_t n = 0; n < L; ++n) {
      double q = 0.0;
      for (int64_t c = 0; c < d; ++c) {
        q += (job.x[n * d + c] - job.means[k * d + c]) * (job.x[n * d + c] - job.means[k * d + c]);
      }
      total += (nearest[n] = std::min(nearest[n], q));
    }
    if (total <= 0.0) {  // every point coincides with a chosen mean
      pick = gen.randint(0, L);
      continue;
    }
    const double target = gen.uniform() * total;
    double cumulative = 0.0;
    for (pick = 0; pick < L - 1; ++pick) {
      if ((cumulative += nearest[pick]) > target) break;
    }
  }
}

struct Inputs {
  Tensor x;   // (B, N, d) f64 contiguous
  Tensor xt;  // (B, d, N) f64 contiguous, the points transposed
  std::vector<int64_t> lengths, ks;
  int64_t k_max = 0;
};

Inputs check_inputs(const char* op, const Tensor& x, const Tensor& lengths, const Tensor& ks,
                    int64_t k_max) {
  const std::string name(op);
  if (!x.defined() || x.dim() != 3 || !is_floating(x.dtype())) {
    throw std::invalid_argument(name + ": expected points x (B, N, d) f32/f64, got " +
                                (x.defined() ? x.describe() : "undefined"));
  }
  const int64_t B = x.size(0), N = x.size(1);
  for (const Tensor* t : {&lengths, &ks}) {
    if (!t->defined() || t->dtype() != DType::I64 || t->dim() != 1 || t->size(0) != B) {
      throw std::invalid_argument(name + ": lengths and ks must be i64 (" + std::to_string(B) +
                                  "), got " + (t->defined() ? t->describe() : "undefined"));
    }
  }
  Inputs in{x.to(DType::F64).contiguous(), Tensor(), {}, {}, k_max};
  for (int64_t b = 0; b < B; ++b) {
    const int64_t L = static_cast<int64_t>(lengths.at({b})), K = static_cast<int64_t>(ks.at({b}));
    if (L < 1 || L > N) {
      throw std::invalid_argument(name + ": task " + std::to_string(b) + " has length " +
                                  std::to_string(L) + ", expected 1.." + std::to_string(N));
    }
    if (K < 1 || K > k_max) {
      throw std::invalid_argument(name + ": task " + std::to_string(b) +
                                  " has K=" + std::to_string(K) +
                                  ", expected 1..Kmax=" + std::to_string(k_max));
    }
    in.lengths.push_back(L);
    in.ks.push_back(K);
  }
  if (!all_finite(in.x)) throw std::invalid_argument(name + ": x has non-finite values");
  in.xt = in.x.transpose(1, 2).contiguous();
  return in;
}

Job make_job(const Inputs& in, int64_t b, bool scaled) {
  const int64_t N = in.x.size(1), d = in.x.size(2);
  Job job;
  job.x = in.x.data<double>() + b * N * d;
  job.xt = in.xt.data<double>() + b * d * N;
  job.stride = N;
  job.length = in.lengths[b];
  job.k = in.ks[b];
  job.d = d;
  job.weights.assign(job.k, 1.0 / static_cast<double>(job.k));
  job.means.assign(job.k * d, 0.0);
  if (scaled) job.variances.assign(job.k * d, 1.0);
  return job;
}

// Component k's starting variances from its scales (d): their squares, floored; a spherical
// job starts from their mean, so that its row is constant.
void set_start_variances(Job& job, int64_t k, const double* scales, Covariance covariance) {
  const int64_t d = job.d;
  double mean_square = 0.0;
  for (int64_t c = 0; c < d; ++c) mean_square += scales[c] * scales[c] / static_cast<double>(d);
  for (int64_t c = 0; c < d; ++c) {
    const double square = covariance == Covariance::Spherical ? mean_square : scales[c] * scales[c];
    job.variances[k * d + c] = std::max(square, kVarianceFloor);
  }
}

// Pick each task's best restart and lay the results out as padded tensors.
EmResult collect(const Inputs& in, std::vector<Job>& jobs, int64_t restarts, bool scaled,
                 bool trace) {
  const int64_t B = static_cast<int64_t>(in.ks.size()), d = in.x.size(2), Kmax = in.k_max;
  EmResult r;
  r.weights = zeros({B, Kmax}, DType::F64);
  r.means = zeros({B, Kmax, d}, DType::F64);
  if (scaled) r.scales = zeros({B, Kmax, d}, DType::F64);
  r.log_likelihood = empty({B}, DType::F64);
  r.iterations = empty({B}, DType::I64);
  r.converged = empty({B}, DType::I64);
  for (int64_t b = 0; b < B; ++b) {
    int64_t best = b * restarts;
    for (int64_t j = best + 1; j < (b + 1) * restarts; ++j) {
      if (jobs[j].log_likelihood > jobs[best].log_likelihood) best = j;
    }
    const Job& job = jobs[best];
    std::copy(job.weights.begin(), job.weights.end(), r.weights.data<double>() + b * Kmax);
    std::copy(job.means.begin(), job.means.end(), r.means.data<double>() + b * Kmax * d);
    if (scaled) {
      double* s = r.scales.data<double>() + b * Kmax * d;
      for (size_t i = 0; i < job.variances.size(); ++i) s[i] = std::sqrt(job.variances[i]);
    }
    r.log_likelihood.data<double>()[b] = job.log_likelihood;
    r.iterations.data<int64_t>()[b] = job.iterations;
    r.converged.data<int64_t>()[b] = job.converged ? 1 : 0;
  }
  if (trace) {
    for (auto& job : jobs) r.trace.push_back(std::move(job.trace));
  }
  return r;
}

}  // namespace

const char* covariance_name(Covariance covariance) {
  switch (covariance) {
    case Covariance::Unit:
      return "unit";
    case Covariance::Spherical:
      return "spherical";
    case Covariance::Diagonal:
      return "diag";
  }
  return "?";
}

Covariance parse_covariance(const std::string& name) {
  for (Covariance c : {Covariance::Unit, Covariance::Spherical, Covariance::Diagonal}) {
    if (name == covariance_name(c)) return c;
  }
  throw std::invalid_argument("unknown covariance '" + name +
                              "' (expected unit, spherical or diag)");
}

EmResult em_fit(const Tensor& x, const Tensor& lengths, const Tensor& ks, int64_t k_max,
                const EmOptions& options, Generator& gen) {
  const Inputs in = check_inputs("em_fit", x, lengths, ks, k_max);
  if (options.restarts < 1) throw std::invalid_argument("em_fit: restarts must be >= 1");
  const bool scaled = options.covariance != Covariance::Unit;
  const int64_t B = static_cast<int64_t>(in.ks.size()), R = options.restarts;
  std::vector<uint64_t> seeds(B * R);
  for (auto& s : seeds) s = gen.next_u64();  // in job order: independent of the thread count
  std::vector<Job> jobs(B * R);
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t j = 0; j < B * R; ++j) {
    jobs[j] = make_job(in, j / R, scaled);
    Generator job_gen(seeds[j]);
    if (options.init == EmInit::KMeansPlusPlus) {
      kmeans_plus_plus(jobs[j], job_gen);
    } else {
      for (auto& m : jobs[j].means) m = job_gen.normal();
    }
  }
  em_iterate(jobs, options);
  return collect(in, jobs, R, scaled, options.record_trace);
}

EmResult em_fit(const TaskBatch& batch, const EmOptions& options, Generator& gen) {
  return em_fit(batch.x, batch.lengths, batch.ks, batch.k_max(), options, gen);
}

EmResult em_run(const Tensor& x, const Tensor& lengths, const Tensor& ks, const Tensor& weights0,
                const Tensor& means0, const Tensor& scales0, const EmOptions& options) {
  if (!weights0.defined() || weights0.dim() != 2 || !means0.defined() || means0.dim() != 3) {
    throw std::invalid_argument("em_run: expected weights0 (B, Kmax) and means0 (B, Kmax, d)");
  }
  const Inputs in = check_inputs("em_run", x, lengths, ks, weights0.size(1));
  const int64_t B = x.size(0), d = x.size(2), Kmax = weights0.size(1);
  const Shape means_shape{B, Kmax, d};
  if (weights0.size(0) != B || means0.shape() != means_shape ||
      (scales0.defined() && scales0.shape() != means_shape)) {
    throw std::invalid_argument("em_run: start shapes " + weights0.describe() + ", " +
                                means0.describe() + " do not match x " + x.describe());
  }
  const bool scaled = options.covariance != Covariance::Unit;
  const Tensor w0 = weights0.to(DType::F64).contiguous(), m0 = means0.to(DType::F64).contiguous();
  const Tensor s0 = scales0.defined() ? scales0.to(DType::F64).contiguous() : Tensor();
  std::vector<Job> jobs;
  for (int64_t b = 0; b < B; ++b) {
    Job job = make_job(in, b, scaled);
    for (int64_t k = 0; k < job.k; ++k) {
      job.weights[k] = w0.data<double>()[b * Kmax + k];
      for (int64_t c = 0; c < d; ++c) {
        job.means[k * d + c] = m0.data<double>()[(b * Kmax + k) * d + c];
      }
      if (scaled && s0.defined()) {
        set_start_variances(job, k, s0.data<double>() + (b * Kmax + k) * d, options.covariance);
      }
    }
    jobs.push_back(std::move(job));
  }
  em_iterate(jobs, options);
  return collect(in, jobs, 1, scaled, options.record_trace);
}

}  // namespace tg::gmm
