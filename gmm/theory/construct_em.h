// construct_em.h — explicit transformer weights that carry out EM for an isotropic unit-variance
// Gaussian mixture (docs/theory.md (a)): one EM step = 2 blocks (Block E, Block M) with 3 softmax
// heads, loaded into the project's own nn::TransformerBlock (layer_norm off, unscaled scores, ReLU
// MLP).
//
// EM step (pi, mu) -> (pi', mu') on points x_1..x_N in R^d, K components:
//   w_ik = softmax_k(log pi_k - ||x_i - mu_k||^2 / 2),   pi'_k = (1/N) sum_i w_ik,
//   mu'_k = sum_i w_ik x_i / sum_i w_ik.
//
// Tokens (rows): N sample tokens then K0 component tokens; the same weights serve every d <= d0
// and K <= K0 (x and mu are zero-padded to d0; components k >= K are "inactive"). Layout of one
// token, D = 3 d0 + 5 K0 + 7 coordinates:
//
//   | slot       | size | sample token i      | active component k     | inactive component  |
//   |------------|------|---------------------|------------------------|---------------------|
//   | x          | d0   | x_i (zero-padded)   | 0                      | 0                   |
//   | mu         | d0   | 0                   | mu_k (zero-padded)     | 0                   |
//   | a          | 1    | 0                   | log pi_k - |mu_k|^2/2  | -C                  |
//   | e          | K0   | 0                   | one-hot e_k            | 0                   |
//   | ne         | K0   | 1                   | 1 - e_k                | 1                   |
//   | act, nact  | 1, 1 | 0, 1                | 1, 0                   | 0, 1                |
//   | w, lw      | K0   | scratch: w_i, log w_i | 0                    | 0                   |
//   | pi         | K0   | scratch             | scratch                | scratch             |
//   | pik        | 1    | 0                   | pi_k                   | 0                   |
//   | munew      | d0   | scratch             | scratch                | scratch             |
//   | is_s, is_c, one | 3 | 1, 0, 1          | 0, 1, 1                | 0, 1, 1             |
//
// Block E. Head (softmax): query [x; one], key [mu; a - C is_s], value e -> w. Sample i scores
// component k with <x_i, mu_k> + a_k = log pi_k - |x_i - mu_k|^2/2 + |x_i|^2/2 (the last term is
// the same for every k) and every sample with -C: w_i is the E-step responsibility vector.
// MLP: lw <- is_s * PWL_log(w) (log(max(w, eps)), geometric knots on [eps, 1]).
// Block M. Head 1: query [e; one], key [lw; -C is_c], value x -> munew: component k weighs sample
// i by softmax_i(log w_ik) = w_ik / sum_i w_ik, so munew_k is the M-step mean. Head 2: query one,
// key -C is_c (uniform over the samples), value w -> pi = (1/N) sum_i w_i.
// MLP (exact gates by act / e_k, see construct_pwl.h): mu <- act munew; pik <- sum_k' e_k' pi_k';
// a <- act (log pi_k - (1/2) sum_t PWL_sq(munew_t)) on active tokens (inactive keep -C);
// w, pi, munew erased.
//
// Errors come only from PWL_log (the M-step weights and log pi), PWL_sq (|mu|^2) and e^-C
// leakage; docs/theory.md has the measured tables (tools/verify).
//
// Dimension letters: B tasks, N points, d <= d0 dimension, K <= K0 components, D width.
#pragma once
#include <cstdint>
#include <memory>

#include "gmm/theory/construct_pwl.h"

namespace tg::gmm {

struct EmLayout {
  int64_t d0 = 0, k0 = 0;
  int64_t x = 0, mu = 0, a = 0, e = 0, ne = 0, act = 0, nact = 0, w = 0, lw = 0, pi = 0, pik = 0,
          munew = 0, is_s = 0, is_c = 0, one = 0;
  int64_t width = 0;  // D

  EmLayout() = default;
  EmLayout(int64_t d0, int64_t k0);
};

// Where the knots of PWL_log sit on [eps, 1]: geometric (the usual choice: equal relative error
// everywhere) or evenly spaced in sqrt(z) (equal error once weighted by z; measured ~10x smaller
// EM error for the same width, docs/theory.md).
enum class LogKnots { Geometric, Sqrt };

struct EmConstructionOptions {
  int64_t d0 = 8;              // padded dimension
  int64_t k0 = 5;              // padded component count
  int64_t log_knots = 800;     // cells of PWL_log, geometric on [log_floor, 1]
  int64_t square_knots = 800;  // cells of PWL_sq, uniform on [0, square_range] (z^2 is even)
  LogKnots log_spacing = LogKnots::Sqrt;
  double log_floor = 1e-9;     // eps: responsibilities below it count as eps
  double square_range = 10.0;  // R: |mu_t| beyond it uses the last cell's slope
  double score_gap = 1000.0;   // C: the score that hides a token from a softmax head
  double gate_bound = 1e6;     // B: |z| < B for every gated value
  DType dtype = DType::F64;

  // Both knot counts set to n.
  EmConstructionOptions with_knots(int64_t n) const {
    EmConstructionOptions o = *this;
    o.log_knots = n;
    o.square_knots = n;
    return o;
  }
};

// Mixture parameters for a batch of tasks (f64 on the CPU): weights (B, K), means (B, K, d).
struct MixtureEstimate {
  Tensor weights;
  Tensor means;
};

// One exact EM step (the reference; f64): x (B, N, d).
MixtureEstimate em_reference_step(const Tensor& x, const MixtureEstimate& current);

class EmTransformer : public nn::Module {
 public:
  explicit EmTransformer(const EmConstructionOptions& options = {});

  // Tokens (B, N + K0, D) in the options' dtype from x (B, N, d) and a start (weights (B, K),
  // means (B, K, d)), with d <= d0, K <= K0.
  Tensor embed(const Tensor& x, const MixtureEstimate& start) const;
  // One EM step: Block E then Block M. tokens (B, N + K0, D) -> (B, N + K0, D).
  Tensor step(const Tensor& tokens) const;
  // (pi, mu) from the component tokens, f64 on the CPU: weights (B, K), means (B, K, d).
  MixtureEstimate read(const Tensor& tokens, int64_t d, int64_t k) const;

  const EmLayout& layout() const { return layout_; }
  const EmConstructionOptions& options() const { return options_; }
  const nn::TransformerBlock& block_e() const { return *block_e_; }
  const nn::TransformerBlock& block_m() const { return *block_m_; }
  // Size of the transformer that runs `steps` EM steps (2 blocks each; the steps share weights).
  ConstructionSize size(int64_t steps) const;
  // Move the weights to a device (then embed(...).to(device) to run there).
  void to(Device device) const { move_parameters(*this, device); }

 private:
  EmConstructionOptions options_;
  EmLayout layout_;
  std::shared_ptr<nn::TransformerBlock> block_e_, block_m_;
};

}  // namespace tg::gmm
