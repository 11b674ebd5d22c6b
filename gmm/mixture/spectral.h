// spectral.h — the spectral (method-of-moments) baseline for an isotropic Gaussian mixture:
// Hsu & Kakade (2013) moments, whitening and the robust tensor power method of Anandkumar et
// al. (2014), in the six steps below (docs/gmm-baselines.md has its measured errors).
//
// Dimension letters: N points, d coordinates, K components (K < d).
// Model: x = mu_z + sigma * eps, z ~ Cat(pi), eps ~ N(0, I_d). The method never uses sigma = 1;
// it estimates sigma^2 from the data.
//   1. m = mean_n x_n; C = (1/N) sum_n (x_n - m)(x_n - m)^T; sigma^2 = smallest eigenvalue of
//      C, v its eigenvector (a direction the means do not span, so only noise varies along it).
//   2. M1 = mean_n x_n ((x_n - m).v)^2                       ~ sigma^2 E[x]
//   3. M2 = mean_n x_n x_n^T - sigma^2 I                        ~ sum_k pi_k mu_k mu_k^T (rank K)
//      (V, S) = top-K eigenpairs of M2; W = V S^(-1/2) (d,K) whitens it: W^T M2 W = I_K;
//      B = V S^(1/2) (d,K) undoes the whitening.
//   4. T = mean_n y_n(x)y_n(x)y_n - sum_i [a(x)w_i(x)w_i + w_i(x)a(x)w_i + w_i(x)w_i(x)a] (K,K,K)
//      with y_n = W^T x_n, a = W^T M1, w_i = W^T e_i (i = 1..d). Since sum_i w_i w_i^T = W^T W,
//      the correction is a_p G_qr + a_q G_pr + a_r G_pq with G = W^T W (K,K).
//      Then T ~ sum_k lambda_k u_k(x)u_k(x)u_k with u_k = sqrt(pi_k) W^T mu_k orthonormal and
//      lambda_k = pi_k^(-1/2): an orthogonally decomposable tensor.
//   5. Robust tensor power method (tensor_power_iteration): the pairs (lambda_k, u_k).
//   6. mu_k = lambda_k B u_k; pi_k = lambda_k^-2 / sum_j lambda_j^-2.
// T is built from the whitened points in one pass (K^3 per point): no d^3 tensor is formed.
//
// Failure is a result, not an exception: spectral_fit returns ok = false with a reason (and
// undefined weights and means) when K >= d, when a top-K eigenvalue of M2 is not positive
// (numerically: <= 16 d eps max|eig(M2)|), when a tensor eigenvalue lambda is not positive, or
// when anything non-finite appears. It throws only for malformed arguments (rank, sizes, K < 1).
#pragma once
#include <cstdint>
#include <string>

#include "tensor/ops.h"

namespace tg::gmm {

struct SpectralOptions {
  int restarts = 10;    // random unit starts per component
  int iterations = 30;  // power steps per start, and again for the chosen start
};

struct SpectralFit {
  bool ok = false;
  std::string failure;  // why, when !ok
  Tensor weights;       // (K)   f64, ascending (the tasks' canonical slot order); undefined if !ok
  Tensor means;         // (K,d) f64, row k goes with weights[k]; undefined if !ok
};

// The whole method on one task's points x (N,d) (f32 or f64; computed in f64).
SpectralFit spectral_fit(const Tensor& x, int64_t k, Generator& gen,
                         const SpectralOptions& options = {});

// ---- the steps, each usable on its own (tests, tools/verify, the theory constructions) ------

// Steps 1-3 up to M2. Every tensor f64.
struct SpectralMoments {
  Tensor mean;        // (d)    m
  double sigma2 = 0;  //        smallest eigenvalue of the covariance
  Tensor direction;   // (d)    v, its unit eigenvector (sign arbitrary)
  Tensor m1;          // (d)    M1
  Tensor m2;          // (d,d)  M2
};
SpectralMoments spectral_moments(const Tensor& x /* (N,d) */);

// Step 3: whitening from the top-K eigenpairs of M2. `failure` is empty on success; otherwise
// it says which eigenvalue is not positive and w, b are undefined.
struct Whitening {
  std::string failure;
  Tensor eigenvalues;  // (K)    top K eigenvalues of M2, descending
  Tensor w;            // (d,K)  V S^(-1/2)
  Tensor b;            // (d,K)  V S^(1/2)
};
Whitening spectral_whitening(const Tensor& m2 /* (d,d) */, int64_t k);

// Step 4: the whitened, corrected third moment T (K,K,K) from the points x (N,d), the whitening
// w (d,K) and M1 (d).
Tensor whitened_third_moment(const Tensor& x, const Tensor& w, const Tensor& m1);

// T(I,v,v)_i = sum_{j,m} T[i,j,m] v_j v_m for T (K,K,K) f64 and v (K) f64: the plain step of
// the power method (the one the transformer construction of docs/theory.md (b) carries out).
// (K) f64.
Tensor tensor_apply(const Tensor& t, const Tensor& v);
// T(v,v,v) = v . T(I,v,v).
double tensor_value(const Tensor& t, const Tensor& v);

// Step 5: the robust tensor power method on T (K,K,K) f64. For each of K components: `restarts`
// random unit starts, `iterations` steps v <- T(I,v,v)/||T(I,v,v)|| each; the start with the
// largest T(v,v,v) gets `iterations` more steps; lambda = T(v,v,v); deflate T -= lambda v(x)v(x)v.
// Pairs come out in the order found (usually decreasing lambda). A step whose T(I,v,v) is zero or
// non-finite leaves v as it was. NaN in T gives NaN pairs (no exception).
struct TensorEigenpairs {
  Tensor values;   // (K)    lambda_k
  Tensor vectors;  // (K,K)  v_k in COLUMN k (as eigh returns eigenvectors), unit norm
};
TensorEigenpairs tensor_power_iteration(const Tensor& t, Generator& gen,
                                        const SpectralOptions& options = {});

}  // namespace tg::gmm
