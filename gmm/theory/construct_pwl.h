// construct_pwl.h — shared pieces of the hand-built transformers (docs/theory.md):
// piecewise-linear (PWL) approximations, the exact ReLU identities, and builders that assemble the
// weights of one attention layer or one ReLU MLP slot by slot and load them into the project's nn
// modules.
//
// Conventions. A token is a row h (D) of the residual stream; named "slots" are coordinate
// ranges of h (each construction has a layout table). A block is nn::TransformerBlock with
// layer_norm = false:  h += attn(h);  h += mlp(h),  mlp(h) = W2 relu(W1 h + b1) + b2.
//
// The exact ReLU identities (every one is exact in floating point, not only in exact arithmetic):
//   copy        z = relu(z) - relu(-z)                                   (2 hidden units)
//   gate        g z = relu(z - B ng) - relu(-z - B ng)   for |z| < B, g in {0, 1}, ng = 1 - g
//               stored in its own slot. With ng = 0 the pre-activation is z + (-B) * 0 = z
//               exactly; with ng = 1 it is below 0. (The textbook form relu(z + B g - B) rounds
//               z to the ulp of B; keeping the complement ng in a slot avoids that.)
//   PWL         f(z) ~ f(b_T) - s_{T-1} relu(b_T - z) + sum_{0<t<T} (s_t - s_{t-1}) relu(b_t - z)
//               [+ s_0 relu(b_0 - z) to clamp left of b_0], s_t the slope on [b_t, b_{t+1}]: the
//               interpolant, constant right of b_T. Anchored at the right end, where log and
//               s^-1/2 are flat, every coefficient has the same sign (concave increasing: all
//               negative; convex decreasing: all positive), so no large terms cancel — anchored
//               at the left, f32 lost every digit of log (slopes there are 1/eps).
//               Gated: every relu(b_t - z) becomes relu(b_t - z - B ng), and the constant
//               f(b_T) is multiplied by the gate slot g (>= 0, so relu(g) = g).
//   even PWL    z^2 ~ sum_t c_t (relu(z - b_t) + relu(-z - b_t)), knots 0 = b_0 < ... on [0, R]:
//               every coefficient is positive, so no large terms cancel (this matters in f32).
//
// Dimension letters: D = model width, H = heads, S = head dim, F = MLP hidden width.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nn/attention.h"
#include "nn/gpt2.h"
#include "nn/mlp.h"
#include "tensor/ops.h"

namespace tg::gmm {

// ---------------------------------------------------------------- piecewise-linear functions

// Knots b_0 < ... < b_T and values f(b_t) of a PWL interpolant. evaluate() is the reference the
// MLP units reproduce (tests compare the two).
struct PiecewiseLinear {
  std::vector<double> knots;
  std::vector<double> values;
  bool clamp_left = true;  // constant left of b_0 (else the first slope continues); the right
                           // of b_T is always constant

  double slope(size_t t) const;  // on [b_t, b_{t+1}]
  double evaluate(double z) const;
};

// count + 1 knots lo, lo + h, ..., hi (count cells).
std::vector<double> uniform_knots(double lo, double hi, int64_t count);
// count + 1 knots lo, lo r, lo r^2, ..., hi (r = (hi/lo)^(1/count)); needs 0 < lo < hi.
std::vector<double> geometric_knots(double lo, double hi, int64_t count);
// count + 1 knots evenly spaced in sqrt(z): (sqrt(lo) + t (sqrt(hi) - sqrt(lo)) / count)^2.
// Spacing h ~ sqrt(z): the interpolant of log z then errs by ~ h^2 / (8 z^2) relative, which
// costs ~ z * h^2 / (8 z^2) = const when the error is weighted by z itself (a responsibility
// or a mixture weight) — the weighting that EM's averages apply.
std::vector<double> sqrt_knots(double lo, double hi, int64_t count);
// The interpolant of f on the knots, plus a constant shift of every value.
PiecewiseLinear interpolate(const std::function<double(double)>& f,
                            const std::vector<double>& knots, double shift = 0.0);

// ---------------------------------------------------------------- MLP builder

// Accumulates the weights of one ReLU MLP, h += W2 relu(W1 h + b1) + b2, one hidden unit at a
// time. W1 (F, D), b1 (F), W2 (D, F), b2 (D), with F = the number of units added. b2 holds the
// constants that every token receives (ungated PWL constants).
class MlpBuilder {
 public:
  static constexpr int64_t kNoSlot = -1;

  explicit MlpBuilder(int64_t width) : width_(width), b2_(static_cast<size_t>(width), 0.0) {}

  // One unit: pre-activation sum_{(s, c) in in} c h[s] + bias; adds relu(.) * c to h[s] for
  // every (s, c) in out. Returns the unit's index.
  int64_t add_unit(const std::vector<std::pair<int64_t, double>>& in, double bias,
                   const std::vector<std::pair<int64_t, double>>& out);

  // h[dst] += scale * h[src], exactly (copy identity, 2 units).
  void add_linear(int64_t src, int64_t dst, double scale = 1.0);
  // h[slot] = 0: add_linear(slot, slot, -1).
  void erase(int64_t slot) { add_linear(slot, slot, -1.0); }
  // h[dst] += scale * (1 - h[not_gate]) * h[src], exactly while |h[src]| < bound (2 units).
  void add_gated_linear(int64_t src, int64_t dst, double scale, int64_t not_gate, double bound);
  // h[dst] += scale * h[src] for h[src] >= 0 (1 unit: relu(z) = z). Gated as above when
  // not_gate != kNoSlot.
  void add_nonnegative(int64_t src, int64_t dst, double scale, int64_t not_gate = kNoSlot,
                       double bound = 0.0);
  // h[dst] += scale * g * pwl(h[src]) where g = h[gate] (kNoSlot: g = 1, the constant via b2)
  // and 1 - g = h[not_gate] (kNoSlot: ungated). Units: one per knot above b_0 (+1 to clamp
  // left, +1 for a gated constant).
  void add_pwl(int64_t src, int64_t dst, double scale, const PiecewiseLinear& pwl,
               int64_t gate = kNoSlot, int64_t not_gate = kNoSlot, double bound = 0.0);
  // h[dst] += scale * g * q(|h[src]|), q the PWL on knots 0 = b_0 < ... < b_T (an even
  // function of h[src]; q(0) = values[0] must be 0). Beyond b_T the last slope continues
  // (unlike add_pwl). Units: 2 per knot below b_T.
  void add_even_pwl(int64_t src, int64_t dst, double scale, const PiecewiseLinear& pwl,
                    int64_t not_gate = kNoSlot, double bound = 0.0);

  // h[dst] += value on every token (b2).
  void add_constant(int64_t dst, double value) { b2_.at(static_cast<size_t>(dst)) += value; }

  int64_t hidden() const { return std::max<int64_t>(1, static_cast<int64_t>(bias_.size())); }
  int64_t width() const { return width_; }
  // W1 (F, D), b1 (F), W2 (D, F), f64; F >= 1 (an all-zero unit when none was added).
  Tensor w1() const;
  Tensor b1() const;
  Tensor w2() const;
  // Assign the weights to mlp (its hidden width must be hidden(), at least 1), in its dtype.
  void load(const nn::MLP& mlp) const;

 private:
  int64_t width_;
  std::vector<std::vector<std::pair<int64_t, double>>> in_, out_;
  std::vector<double> bias_, b2_;
};

// ---------------------------------------------------------------- attention builder

// Accumulates c_attn (3 H S, D) + bias and c_proj (D, H S) of one SelfAttention layer.
// q / k / v of head h, component c in [0, S): row (part * H + h) * S + c of c_attn.
class AttentionBuilder {
 public:
  AttentionBuilder(int64_t width, int64_t heads, int64_t head_dim);

  // q[h][c] += coeff * h[slot]  (slot = kBias: += coeff, the bias)
  static constexpr int64_t kBias = -1;
  void query(int64_t head, int64_t c, int64_t slot, double coeff = 1.0);
  void key(int64_t head, int64_t c, int64_t slot, double coeff = 1.0);
  void value(int64_t head, int64_t c, int64_t slot, double coeff = 1.0);
  // The head's mixed value component c is added to h[dst] (times coeff) by c_proj.
  void output(int64_t head, int64_t c, int64_t dst, double coeff = 1.0);

  int64_t heads() const { return heads_; }
  int64_t head_dim() const { return head_dim_; }
  // Assign the weights to attn (n_head and head_dim must match), in its dtype.
  void load(const nn::SelfAttention& attn) const;

 private:
  void add(int64_t part, int64_t head, int64_t c, int64_t slot, double coeff);

  int64_t width_, heads_, head_dim_;
  Tensor c_attn_w_, c_attn_b_, c_proj_w_;  // f64 (3I, D), (3I), (D, I)
};

// ---------------------------------------------------------------- blocks

// A block with the given attention and MLP weights: layer_norm off, scores unscaled, ReLU MLP.
std::shared_ptr<nn::TransformerBlock> make_block(const AttentionBuilder& attn,
                                                 nn::ScoreActivation activation,
                                                 const MlpBuilder& mlp, DType dtype);

// Move every parameter of a module to `device` (nn::Module has no .to(device) yet).
void move_parameters(const nn::Module& module, Device device);

// Run blocks in order on tokens h (B, T, D) without recording a graph; returns (B, T, D).
Tensor run_blocks(const std::vector<std::shared_ptr<nn::TransformerBlock>>& blocks,
                  const Tensor& h);

// The size of a construction, for tools/verify and the docs.
struct ConstructionSize {
  int64_t layers = 0;        // transformer blocks (attention + MLP each)
  int64_t heads = 0;         // attention heads summed over the blocks (non-zero heads only)
  int64_t width = 0;         // D, the residual width
  int64_t max_head_dim = 0;  // S
  int64_t mlp_hidden = 0;    // the widest MLP hidden layer, F
  int64_t parameters = 0;    // sum of the blocks' parameter counts
};

}  // namespace tg::gmm
