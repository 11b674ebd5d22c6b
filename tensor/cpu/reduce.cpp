// cpu/reduce.cpp — sum, mean, max, min, logsumexp and argmax over the reduced dims of a
// ReduceGeometry (kernels.h), walking x in place.
//
// Two walks cover the common layouts without copying x:
//   rows     the reduced elements of one output lie on one run (e.g. the last dim): each output
//            reduces its run, outputs in parallel; long runs are cut into fixed-size chunks whose
//            partial results are combined in a fixed order (same answer for any thread count).
//   columns  the kept elements are contiguous (e.g. sum over dim 0 of (N, C)): rows of x are
//            accumulated into a block of output columns; column blocks and fixed-size parts of the
//            reduced rows in parallel, the parts' partial results combined in a fixed order.
// Any other layout is first made "reduced dims last, contiguous" by the caller (reduce_needs_copy).
//
// Both walks first simplify each group of dims with StridedLoop<1> (size-1 dims dropped, chained
// dims merged): K = the kept dims, R = the reduced dims. Output o is K's element o (row-major),
// i.e. outer row o / K.inner, inner position o % K.inner. `count` = number of reduced elements.
//
// Every op is written as a fold into a Partial (accumulated in double), so pieces of one
// reduction computed separately can be combined:
//   Sum, Mean   a = sum
//   Max, Min    a = the extreme so far (NaN wins: once seen it stays)
//   LogSumExp   a = max so far, b = sum of exp(x - a)   -> result a + log(b)
#include "tensor/kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/cpu/strided.h"

namespace tg::cpu {

namespace {

constexpr int64_t kChunk = 16384;      // reduced elements per partial result in the row walk
constexpr int64_t kColumnBlock = 64;   // output columns per task in the column walk
constexpr int64_t kColumnPart = 2048;  // reduced positions per task in the column walk
constexpr int64_t kMinColumns = 16;    // fewer contiguous outputs than this: use the row walk
constexpr int64_t kMinRun = 16;        // shorter scattered runs than this: copy first
constexpr int kLanes = 16;             // independent accumulators in a contiguous run
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Partial {
  double a = 0.0, b = 0.0;
};

// Folding steps, as closures so that fold_run inlines them. `|` rather than `||`: no branch, so
// the lanes in fold_run vectorise.
constexpr auto max_step = [](double a, double v) { return (v > a) | (v != v) ? v : a; };
constexpr auto min_step = [](double a, double v) { return (v < a) | (v != v) ? v : a; };
constexpr auto sum_step = [](double a, double v) { return a + v; };

template <ReduceOp OP>
Partial identity() {
  if constexpr (OP == ReduceOp::Max || OP == ReduceOp::LogSumExp) return {-kInf, 0.0};
  if constexpr (OP == ReduceOp::Min) return {kInf, 0.0};
  return {0.0, 0.0};
}

template <ReduceOp OP>
Partial combine(Partial p, Partial q) {
  if constexpr (OP == ReduceOp::Sum || OP == ReduceOp::Mean) return {p.a + q.a, 0.0};
  if constexpr (OP == ReduceOp::Max) return {max_step(p.a, q.a), 0.0};
  if constexpr (OP == ReduceOp::Min) return {min_step(p.a, q.a), 0.0};
  // LogSumExp: rescale both sums to the larger max. A part whose max is -inf holds only exp(-inf)
  // = 0; a non-finite overall max (+inf, NaN, or -inf for "all -inf") is the answer by itself.
  const double m = max_step(p.a, q.a);
  if (!std::isfinite(m)) return {m, m == -kInf ? 0.0 : 1.0};
  double s = 0.0;
  if (p.a != -kInf) s += p.b * std::exp(p.a - m);
  if (q.a != -kInf) s += q.b * std::exp(q.a - m);
  return {m, s};
}

template <ReduceOp OP, class T>
T finish(Partial p, int64_t count) {
  if constexpr (OP == ReduceOp::Mean) return static_cast<T>(p.a / static_cast<double>(count));
  if constexpr (OP == ReduceOp::LogSumExp) {
    return static_cast<T>(std::isfinite(p.a) ? p.a + std::log(p.b) : p.a);
  }
  return static_cast<T>(p.a);
}

// Fold n elements p[0], p[stride], ... with `step`. A contiguous run uses kLanes independent
// accumulators (one SIMD loop over the lanes; the sum is also more accurate than one chain).
template <class T, class Step>
double fold_run(const T* p, int64_t n, int64_t stride, double init, Step step) {
  if (stride != 1) {
    double a = init;
    for (int64_t i = 0; i < n; ++i) a = step(a, static_cast<double>(p[i * stride]));
    return a;
  }
  double lane[kLanes];
  std::fill(lane, lane + kLanes, init);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
#pragma omp simd
    for (int j = 0; j < kLanes; ++j) lane[j] = step(lane[j], static_cast<double>(p[i + j]));
  }
  for (; i < n; ++i) lane[0] = step(lane[0], static_cast<double>(p[i]));
  double a = lane[0];
  for (int j = 1; j < kLanes; ++j) a = step(a, lane[j]);
  return a;
}

template <ReduceOp OP, class T>
Partial reduce_run(const T* p, int64_t n, int64_t stride) {
  if constexpr (OP == ReduceOp::Sum || OP == ReduceOp::Mean) {
    return {fold_run(p, n, stride, 0.0, sum_step), 0.0};
  } else if constexpr (OP == ReduceOp::Max) {
    return {fold_run(p, n, stride, -kInf, max_step), 0.0};
  } else if constexpr (OP == ReduceOp::Min) {
    return {fold_run(p, n, stride, kInf, min_step), 0.0};
  } else {  // LogSumExp: max first, then the sum of exp(x - max)
    const double m = fold_run(p, n, stride, -kInf, max_step);
    if (!std::isfinite(m)) return {m, m == -kInf ? 0.0 : 1.0};
    // exp in T's precision (expf is faster; each term is still accurate to T's epsilon)
    const T mt = static_cast<T>(m);  // exact: m is one of the elements
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(std::exp(p[i * stride] - mt));
    return {m, s};
  }
}

// The reduced elements number [p0, p1) (in R's row-major order) of the output based at x.
template <ReduceOp OP, class T>
Partial reduce_range(const T* x, const StridedLoop<1>& R, int64_t p0, int64_t p1) {
  Partial acc = identity<OP>();
  while (p0 < p1) {
    const int64_t row = p0 / R.inner, col = p0 % R.inner;
    const int64_t len = std::min(R.inner - col, p1 - p0);
    const int64_t off = R.row_offsets(row)[0] + col * R.inner_stride[0];
    acc = combine<OP>(acc, reduce_run<OP>(x + off, len, R.inner_stride[0]));
    p0 += len;
  }
  return acc;
}

inline int64_t kept_offset(const StridedLoop<1>& K, int64_t o) {
  return K.row_offsets(o / K.inner)[0] + (o % K.inner) * K.inner_stride[0];
}

// Row walk: each output folds its own reduced elements, in chunks of kChunk.
template <ReduceOp OP, class T>
void reduce_rows(const T* x, const StridedLoop<1>& K, const StridedLoop<1>& R, int64_t count,
                 T* out) {
  const int64_t outputs = K.rows * K.inner;
  const int64_t chunks = std::max<int64_t>(1, (count + kChunk - 1) / kChunk);
  const bool parallel = outputs * count >= kParallelGrain;
  if (chunks == 1) {
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t o = 0; o < outputs; ++o) {
      out[o] = finish<OP, T>(reduce_range<OP>(x + kept_offset(K, o), R, 0, count), count);
    }
    return;
  }
  std::vector<Partial> partial(outputs * chunks);  // (outputs, chunks)
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t t = 0; t < outputs * chunks; ++t) {
    const int64_t o = t / chunks, c = t % chunks;
    partial[t] =
        reduce_range<OP>(x + kept_offset(K, o), R, c * kChunk, std::min(count, (c + 1) * kChunk));
  }
  for (int64_t o = 0; o < outputs; ++o) {
    Partial acc = partial[o * chunks];
    for (int64_t c = 1; c < chunks; ++c) acc = combine<OP>(acc, partial[o * chunks + c]);
    out[o] = finish<OP, T>(acc, count);
  }
}

// Column walk: K's inner run is contiguous (stride 1); for every reduced position, a block of up
// to kColumnBlock consecutive outputs reads consecutive elements of x. A task is one (outer row,
// part of the reduced positions, column block); with several parts, their partial results are
// combined in order afterwards.
template <ReduceOp OP, class T>
void reduce_columns(const T* x, const StridedLoop<1>& K, const StridedLoop<1>& R, int64_t count,
                    T* out) {
  const int64_t columns = K.inner;
  const int64_t blocks = (columns + kColumnBlock - 1) / kColumnBlock;
  const int64_t parts = std::max<int64_t>(1, (count + kColumnPart - 1) / kColumnPart);
  // (K.rows, parts, columns), when there is more than one part
  std::vector<Partial> partial(parts > 1 ? K.rows * parts * columns : 0);
  const bool parallel = K.rows * columns * count >= kParallelGrain;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t t = 0; t < K.rows * parts * blocks; ++t) {
    const int64_t row = t / (parts * blocks), part = t / blocks % parts;
    const int64_t c0 = t % blocks * kColumnBlock, width = std::min(kColumnBlock, columns - c0);
    const int64_t p0 = part * kColumnPart, p1 = std::min(count, p0 + kColumnPart);
    const T* base = x + K.row_offsets(row)[0] + c0;
    auto for_each_reduced = [&](auto visit) {  // visit(q): this block's elements at one position
      for (int64_t p = p0; p < p1;) {
        const int64_t r = p / R.inner, i0 = p % R.inner, len = std::min(R.inner - i0, p1 - p);
        const T* q = base + R.row_offsets(r)[0] + i0 * R.inner_stride[0];
        for (int64_t i = 0; i < len; ++i) visit(q + i * R.inner_stride[0]);
        p += len;
      }
    };
    double a[kColumnBlock], b[kColumnBlock];  // (width) Partial.a, Partial.b per column
    std::fill(a, a + width, identity<OP>().a);
    std::fill(b, b + width, 0.0);
    if constexpr (OP == ReduceOp::Sum || OP == ReduceOp::Mean) {
      for_each_reduced([&](const T* q) {
        for (int64_t c = 0; c < width; ++c) a[c] += static_cast<double>(q[c]);
      });
    } else if constexpr (OP == ReduceOp::Min) {
      for_each_reduced([&](const T* q) {
        for (int64_t c = 0; c < width; ++c) a[c] = min_step(a[c], static_cast<double>(q[c]));
      });
    } else {  // Max, and the first pass of LogSumExp
      for_each_reduced([&](const T* q) {
        for (int64_t c = 0; c < width; ++c) a[c] = max_step(a[c], static_cast<double>(q[c]));
      });
    }
    if constexpr (OP == ReduceOp::LogSumExp) {
      for (int64_t c = 0; c < width; ++c) b[c] = std::isfinite(a[c]) ? 0.0 : 1.0;
      for_each_reduced([&](const T* q) {
        for (int64_t c = 0; c < width; ++c) {
          if (std::isfinite(a[c])) b[c] += std::exp(q[c] - static_cast<T>(a[c]));
        }
      });
    }
    if (parts == 1) {
      T* o = out + row * columns + c0;
      for (int64_t c = 0; c < width; ++c) o[c] = finish<OP, T>({a[c], b[c]}, count);
    } else {
      Partial* o = partial.data() + (row * parts + part) * columns + c0;
      for (int64_t c = 0; c < width; ++c) o[c] = {a[c], b[c]};
    }
  }
  if (parts == 1) return;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t o = 0; o < K.rows * columns; ++o) {
    const Partial* p = partial.data() + (o / columns) * parts * columns + o % columns;
    Partial acc = p[0];
    for (int64_t part = 1; part < parts; ++part) acc = combine<OP>(acc, p[part * columns]);
    out[o] = finish<OP, T>(acc, count);
  }
}

bool use_columns(const StridedLoop<1>& K, const StridedLoop<1>& R) {
  return K.inner_stride[0] == 1 && K.inner >= kMinColumns && R.inner_stride[0] != 1;
}

template <ReduceOp OP, class T>
void reduce_op(const T* x, const ReduceGeometry& g, T* out) {
  const StridedLoop<1> K(g.kept, {g.kept_strides});
  const StridedLoop<1> R(g.reduced, {g.reduced_strides});
  const int64_t count = shape_numel(g.reduced);
  if (K.rows == 0) return;  // empty output
  if (use_columns(K, R)) {
    reduce_columns<OP>(x, K, R, count, out);
  } else {
    reduce_rows<OP>(x, K, R, count, out);
  }
}

}  // namespace

bool reduce_needs_copy(const ReduceGeometry& g) {
  const StridedLoop<1> K(g.kept, {g.kept_strides});
  const StridedLoop<1> R(g.reduced, {g.reduced_strides});
  if (K.rows == 0 || R.rows == 0) return false;  // nothing to walk
  return !use_columns(K, R) && R.rows > 1 && R.inner < kMinRun;
}

template <class T>
void reduce(ReduceOp op, const T* x, const ReduceGeometry& g, T* out) {
  switch (op) {
    case ReduceOp::Sum:
      return reduce_op<ReduceOp::Sum>(x, g, out);
    case ReduceOp::Mean:
      return reduce_op<ReduceOp::Mean>(x, g, out);
    case ReduceOp::Max:
      return reduce_op<ReduceOp::Max>(x, g, out);
    case ReduceOp::Min:
      return reduce_op<ReduceOp::Min>(x, g, out);
    case ReduceOp::LogSumExp:
      return reduce_op<ReduceOp::LogSumExp>(x, g, out);
  }
}

template <class T>
void argmax(const T* x, const ReduceGeometry& g, int64_t* out) {
  const StridedLoop<1> K(g.kept, {g.kept_strides});
  const int64_t n = g.reduced.at(0), stride = g.reduced_strides.at(0);
  const int64_t outputs = K.rows * K.inner;
#pragma omp parallel for schedule(static) if (outputs * n >= kParallelGrain)
  for (int64_t o = 0; o < outputs; ++o) {
    const T* p = x + kept_offset(K, o);
    T best = p[0];
    int64_t at = 0;
    for (int64_t j = 1; j < n && best == best; ++j) {  // stop at a NaN: it is the maximum
      const T v = p[j * stride];
      if (v > best || v != v) {
        best = v;
        at = j;
      }
    }
    out[o] = at;
  }
}

template void reduce<float>(ReduceOp, const float*, const ReduceGeometry&, float*);
template void reduce<double>(ReduceOp, const double*, const ReduceGeometry&, double*);
template void argmax<float>(const float*, const ReduceGeometry&, int64_t*);
template void argmax<double>(const double*, const ReduceGeometry&, int64_t*);

}  // namespace tg::cpu
