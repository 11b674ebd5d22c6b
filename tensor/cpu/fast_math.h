// fast_math.h — f32 exp and tanh as straight-line code that vectorises.
//
// std::exp / std::tanh are scalar library calls per element; in a training step GELU alone (a
// tanh per element forward and backward) took ~40% of the time through them (perf, tiny TGMM
// config). These versions compile to SIMD code inside `#pragma omp simd` loops. The CPU kernels
// reach them through exp_of / tanh_of (tensor/scalar_ops.h), which keep the library functions for
// f64: it is the type of reference checks.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace tg::cpu {

// e^c in f32 for c in [-87, 88], to about 2 ulp, in straight-line code so that a loop over it
// vectorises (std::exp is a scalar call per element and dominated softmax's time). Cephes' expf:
//   e^c = 2^n * e^r,  n = round(c / ln 2),  r = c - n ln 2 in [-ln2/2, ln2/2]
// (n ln 2 subtracted in two parts so r stays exact), e^r by a degree-7 polynomial, and 2^n
// built directly in the exponent bits. Measured: relative error <= 7.9e-8 (1.3 ulp) over [-87, 88].
inline float exp_in_range_f32(float c) {
  const float round = 12582912.0f;                             // 1.5 * 2^23
  const float n = (c * 1.44269504088896341f + round) - round;  // round to nearest
  const float r = (c - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;  // e^r - 1 - r = r^2 (0.5 + r/6 + ...), Horner's rule
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);  // * 2^n
}

// e^x in f32 for any x: below -87 the result is 0 (e^-87 = 1.6e-38, near the smallest normal
// f32), above 88 it is +inf; NaN stays NaN. Selects, not branches.
inline float exp_f32(float x) {
  const float c = x > -87.0f ? (x < 88.0f ? x : 88.0f) : -87.0f;  // NaN -> -87, fixed below
  const float inf = std::numeric_limits<float>::infinity();
  const float e = x < -87.0f ? 0.0f : (x > 88.0f ? inf : exp_in_range_f32(c));
  return x == x ? e : x;
}

// tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2|x|), which cannot overflow. Near 0 that form
// loses relative precision to cancellation, so |x| < 0.125 uses the Taylor series
// x - x^3/3 + 2x^5/15 - 17x^7/315 (next term < 2e-10 there). Relative error <= ~4e-7.
// -2|x| <= 0 needs only the lower clamp, and below -87 (where exp_f32 would give 0) the clamped
// e^-87 gives the same quotient, exactly 1; so exp_f32's other selects are left out, which made
// GELU 15-25% faster (measured, AVX2). Without the select after it, the compiler may fuse e's last
// multiply into 1 - e and 1 + e (one rounding fewer): a last-bit difference at most.
inline float tanh_f32(float x) {
  const float a = std::fabs(x);
  const float minus_2a = -2.0f * a;
  const float e = exp_in_range_f32(minus_2a > -87.0f ? minus_2a : -87.0f);
  const float large = (1.0f - e) / (1.0f + e);
  const float a2 = a * a;
  const float small = a * (1.0f + a2 * (-1.0f / 3 + a2 * (2.0f / 15 + a2 * (-17.0f / 315))));
  const float t = std::copysign(a < 0.125f ? small : large, x);
  return x == x ? t : x;  // NaN stays NaN
}

}  // namespace tg::cpu
