// cpu/reduce.h — CPU kernels for reductions (sum, mean, max, min, logsumexp, argmax).
//
// A reduction is described by its geometry: the dims of x that are kept (they index the output,
// which is contiguous, in order) and the dims that are reduced, each with x's strides. Two walks
// cover the common layouts without copying x:
//   rows     the reduced elements of one output lie on one run (e.g. the last dim): each output
//            reduces its run, outputs in parallel; long runs are cut into fixed-size chunks whose
//            partial results are combined in a fixed order (same answer for any thread count).
//   columns  the kept elements are contiguous (e.g. sum over dim 0 of (N, C)): rows of x are
//            accumulated into a block of output columns; column blocks and fixed-size parts of the
//            reduced rows in parallel, the parts' partial results combined in a fixed order.
// Any other layout is first made "reduced dims last, contiguous" by the caller (see
// reduce_needs_copy). f32 is accumulated in double.
#pragma once
#include <cstdint>

#include "tensor/shape.h"

namespace tg::cpu {

enum class ReduceOp { Sum, Mean, Max, Min, LogSumExp };

struct ReduceGeometry {
  Shape kept;               // sizes of the kept dims, outermost first (the output's shape)
  Strides kept_strides;     // x's strides along them
  Shape reduced;            // sizes of the reduced dims
  Strides reduced_strides;  // x's strides along them
};

// True when neither walk suits this layout (reduced elements scattered in short runs and the
// kept ones not contiguous either): the caller should permute the reduced dims last and copy.
bool reduce_needs_copy(const ReduceGeometry& g);

// out (numel = prod(g.kept), contiguous) = op over the reduced dims of x. The reduced dims must
// hold at least one element for Max and Min (the caller checks).
template <class T>
void reduce(ReduceOp op, const T* x, const ReduceGeometry& g, T* out);

// out = index (along the single reduced dim) of the first maximum; NaN counts as the maximum.
template <class T>
void argmax(const T* x, const ReduceGeometry& g, int64_t* out);

}  // namespace tg::cpu
