// construct_power.h — explicit transformer weights for cubic tensor power iteration with ReLU
// attention (docs/theory.md (b)), loaded into the project's nn::TransformerBlock (layer_norm off,
// unscaled scores, ScoreActivation::ReluOverN: out_i = (1/n) sum_j relu(<q_i, k_j>) v_j).
//
//   plain step       v <- T(I, v, v),   T(I, v, v)_i = sum_{j,m} T[i,j,m] v_j v_m   (exact)
//   normalised step  v <- T(I, v, v) / |T(I, v, v)|                (only the norm approximated)
//
// Tokens: d tokens, one per index j of T (any real (d,d,d) tensor; no symmetry needed). Token j,
// D = d^2 + 5 d + 5 coordinates:
//
//   | slot  | size | content                                                          |
//   |-------|------|------------------------------------------------------------------|
//   | slice | d^2  | T[:, j, :], row-major: slice[i d + m] = T[i, j, m]               |
//   | v     | d    | a copy of the current v (the same on every token)                |
//   | own   | 1    | v_j, this token's own coordinate                                 |
//   | e, ne | d, d | one-hot e_j and its complement 1 - e_j (the exact gate)          |
//   | u     | d    | scratch: T(I, v, v)                                              |
//   | uown  | 1    | scratch: u_j                                                     |
//   | s, r  | 1, 1 | scratch: |u|^2 and PWL(s^-1/2)                                    |
//   | vn    | d    | scratch: r u                                                     |
//   | one   | 1    | 1                                                                |
//
// Plain step (1 block). For each m, two heads sigma = +-1: query sigma v_m (from the copy),
// key own (= v_j), value sigma d T[:, j, m] -> u. relu(z) - relu(-z) = z and the factor d cancels
// the 1/n (n = d tokens): u = sum_m sum_j v_m v_j T[:, j, m] = T(I, v, v) exactly, with 2d heads.
// Variant PowerHeads::Shifted, d + 1 heads: head m scores v_m v_j + C (>= 0 while |v| <= sqrt(C))
// and one more head (score C, value -d sum_m T[:, j, m]) removes the shift.
// MLP: v <- u (copy identity), own <- sum_i (1 - ne_i) u_i (exact gate), u erased.
//
// Normalised step (3 blocks). N1: the same heads -> u; MLP uown <- u_j (gate). N2: two heads,
// query +-u, key e_j (score +-u_j), value +-d uown -> s: s = sum_j u_j u_j = |u|^2 EXACTLY; MLP
// r <- PWL(s^-1/2) on geometric knots, scaled so that its relative error is +-delta/2 instead of
// [0, delta]. N3: one head, query r, key one (score r > 0), value u -> vn = r u; MLP v, own <- vn,
// scratch erased. The direction of v is exact; only |v| - 1 carries the PWL error.
//
// Dimension letters: B tensors (batch), d tensor size = tokens per sequence, D width.
#pragma once
#include <cstdint>
#include <memory>

#include "gmm/theory/construct_pwl.h"

namespace tg::gmm {

struct PowerLayout {
  int64_t d = 0;
  int64_t slice = 0, v = 0, own = 0, e = 0, ne = 0, u = 0, uown = 0, s = 0, r = 0, vn = 0, one = 0;
  int64_t width = 0;  // D

  PowerLayout() = default;
  explicit PowerLayout(int64_t d);
};

enum class PowerHeads { Signed, Shifted };  // 2d heads, or d + 1 heads with a score shift

struct PowerConstructionOptions {
  int64_t d = 4;
  PowerHeads heads = PowerHeads::Signed;
  double shift = 1.0;          // C of PowerHeads::Shifted: needs |v_m v_j| <= C
  int64_t isqrt_knots = 4000;  // cells of PWL(s^-1/2), geometric on [isqrt_lo, isqrt_hi]
  double isqrt_lo = 1e-3;      // s below it is treated as isqrt_lo
  double isqrt_hi = 1e3;       // s above it as isqrt_hi
  double gate_bound = 1e30;    // B: |u_i| < B (exact gates: B costs no precision)
  DType dtype = DType::F64;
};

class PowerTransformer : public nn::Module {
 public:
  explicit PowerTransformer(const PowerConstructionOptions& options);

  // Tokens (B, d, D) in the options' dtype from tensors t (B, d, d, d) and vectors v (B, d).
  Tensor embed(const Tensor& t, const Tensor& v) const;
  // v <- T(I, v, v): one block. (B, d, D) -> (B, d, D).
  Tensor step(const Tensor& tokens) const;
  // v <- T(I, v, v) / |T(I, v, v)|: three blocks.
  Tensor normalized_step(const Tensor& tokens) const;
  // v (B, d) f64 on the CPU, from each token's own coordinate (own of token j = v_j).
  Tensor read(const Tensor& tokens) const;
  // v (B, d) from the copy slot of token 0 (must agree with read()).
  Tensor read_copy(const Tensor& tokens) const;

  const PowerLayout& layout() const { return layout_; }
  const PowerConstructionOptions& options() const { return options_; }
  // Sizes of `steps` plain steps (1 block each) and of `steps` normalised ones (3 each).
  ConstructionSize plain_size(int64_t steps) const;
  ConstructionSize normalized_size(int64_t steps) const;
  void to(Device device) const { move_parameters(*this, device); }

 private:
  PowerConstructionOptions options_;
  PowerLayout layout_;
  std::shared_ptr<nn::TransformerBlock> plain_, n1_, n2_, n3_;
};

// The reference steps in f64: t (d, d, d), v (d) -> (d).
Tensor power_reference_step(const Tensor& t, const Tensor& v);
Tensor power_reference_normalized_step(const Tensor& t, const Tensor& v);

}  // namespace tg::gmm
