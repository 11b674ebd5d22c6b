// em.h — expectation–maximisation for Gaussian mixtures, batched over many tasks at once.
//
// Model (unit variance, the paper's setting): p(x) = sum_k pi_k N(x; mu_k, I).
//   E-step  log r_nk = log pi_k - ||x_n - mu_k||^2 / 2 - logsumexp_j(same for j)   (stable)
//   M-step  pi_k = (1/L) sum_n r_nk,  mu_k = sum_n r_nk x_n / sum_n r_nk
// Diagonal-covariance variant (anisotropic tasks): N(x; mu_k, diag(sigma_k^2)), with the extra
// M-step sigma_kj^2 = sum_n r_nk (x_nj - mu_kj)^2 / sum_n r_nk, floored at kVarianceFloor (a
// constrained maximisation, so the likelihood still never decreases).
// Spherical variant (one variance per component): N(x; mu_k, s_k^2 I), with the M-step
// s_k^2 = sum_n r_nk ||x_n - mu_k||^2 / (d sum_n r_nk) — the mean over coordinates of the diagonal
// variances — floored the same way. It is returned as scales with d equal entries per component.
//
// Variants (docs/gmm-baselines.md):
//   paper   means N(0, I), uniform weights, one start, <= 100 iterations, stop when the average
//           log-likelihood per point changes by < 1e-7 (ours: per point, as sklearn's tolerance)
//   strong  k-means++ initialisation (ours), R restarts (default 10), the best likelihood wins
//
// Batching: a batch of B tasks (each with its own K <= Kmax and length L <= N) becomes B*R
// independent jobs. Every iteration is one pass over all jobs that have not converged, in
// parallel over jobs (OpenMP); a converged job stops updating. Within a job the points are held
// transposed (d, N), so that each step of the E-step — the squared distances (the x . mu GEMM,
// N x d by d x K), the softmax over components, the accumulation r^T x (K x N by N x d) — is a
// loop over points that the compiler vectorises, with an exp written to vectorise too
// (detail::exp_nonpositive). At K=5, d=8, N=128 this runs 65x faster per task than sklearn
// (docs/gmm-baselines.md); glibc's scalar exp alone took half the time before.
//
// Random starts draw from one Generator per job, seeded in job order from the caller's
// generator: results do not depend on the number of threads.
//
// Dimension letters: B tasks, N points (padded length), d dimension, Kmax padded components.
#pragma once
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "gmm/mixture/tasks.h"
#include "tensor/ops.h"

namespace tg::gmm {

enum class EmInit { Standard, KMeansPlusPlus };  // Standard: means N(0, I), uniform weights
enum class Covariance { Unit, Spherical, Diagonal };
// "unit" | "spherical" | "diag" <-> Covariance; parse_covariance throws std::invalid_argument
// on other names.
const char* covariance_name(Covariance covariance);
Covariance parse_covariance(const std::string& name);

inline constexpr double kVarianceFloor = 1e-6;

struct EmOptions {
  EmInit init = EmInit::Standard;
  Covariance covariance = Covariance::Unit;
  int64_t restarts = 1;
  int64_t max_iterations = 100;
  double tolerance = 1e-7;    // on the change of the average log-likelihood per point
  bool record_trace = false;  // keep every job's log-likelihood at every iteration

  static EmOptions paper() { return {}; }
  static EmOptions strong(int64_t restarts = 10) {
    EmOptions o;
    o.init = EmInit::KMeansPlusPlus;
    o.restarts = restarts;
    return o;
  }
};

// All tensors f64 on the CPU; slots k >= K of a task are zero.
struct EmResult {
  Tensor weights;         // (B, Kmax)
  Tensor means;           // (B, Kmax, d)
  Tensor scales;          // (B, Kmax, d) per-coordinate std; Diagonal and Spherical only
  Tensor log_likelihood;  // (B)  average log-likelihood per point of the returned parameters
  Tensor iterations;      // (B)  i64, M-steps taken by the returned (best) start
  Tensor converged;       // (B)  i64, 1 if the tolerance was met before max_iterations
  // With record_trace: trace[b * R + r] lists job (task b, restart r)'s average log-likelihood
  // per point before each M-step, then that of its final parameters.
  std::vector<std::vector<double>> trace;
};

namespace detail {
// exp(v) for v <= 0 (in the E-step v = log-joint - its max over components), written so that the
// compiler vectorises a loop of it (glibc's exp is an opaque scalar call, and was half the E-step's
// time): v = m ln2 + t with m = round(v / ln2) and |t| <= ln2/2; exp(t) by its Taylor series to
// t^13 (truncation error < 1e-17 relative); 2^m written straight into the exponent bits. Adding 1.5
// * 2^52 rounds v / ln2 to the integer m, which then sits in the low bits of the sum's pattern.
// Accurate to about 2 ulp; 0 below -708 (where exp reaches the subnormals) and at -inf. (In the
// header so that em.cpp's loops can inline it, and the tests can check it.)
// Not tensor/cpu/fast_math.h's fast_exp: that one is f32 (its f64 overload is std::exp), and EM
// runs in f64; with std::exp here the E-step is the slow scalar call again and the results move
// in the last bits (one weight error of the d = 8 baselines table changes), so the numbers of
// docs/gmm-baselines.md are this function's.
inline double exp_nonpositive(double v) {
  constexpr double kLog2e = 1.4426950408889634, kShifter = 0x1.8p52;
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  const double clamped = v < -708.0 ? -708.0 : v;
  const double shifted = clamped * kLog2e + kShifter;
  const double m = shifted - kShifter;
  const double t = (clamped - m * kLn2Hi) - m * kLn2Lo;
  double p = 1.0 / 6227020800.0;  // 1/13!
  for (double inverse_factorial :
       {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0,
        1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0}) {
    p = p * t + inverse_factorial;
  }
  const uint64_t scale = (std::bit_cast<uint64_t>(shifted) + 1023) << 52;  // 2^m
  return v < -708.0 ? 0.0 : p * std::bit_cast<double>(scale);
}
}  // namespace detail

// Fit every task of a batch: x (B, N, d) f32/f64, lengths (B) i64, ks (B) i64, Kmax >= max(ks).
EmResult em_fit(const Tensor& x, const Tensor& lengths, const Tensor& ks, int64_t k_max,
                const EmOptions& options, Generator& gen);
EmResult em_fit(const TaskBatch& batch, const EmOptions& options, Generator& gen);

// Run EM from a given start (one start per task; options.init and restarts are ignored):
// weights0 (B, Kmax), means0 (B, Kmax, d), scales0 (B, Kmax, d) or undefined (= ones); a
// spherical run starts each component from the mean of its squared scales.
EmResult em_run(const Tensor& x, const Tensor& lengths, const Tensor& ks, const Tensor& weights0,
                const Tensor& means0, const Tensor& scales0, const EmOptions& options);

}  // namespace tg::gmm
