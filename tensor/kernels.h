// kernels.h — every kernel of the two backends, on one page: the layer below the ops of ops.h.
//
// An op in ops.h checks its arguments, allocates its outputs, and then makes one device switch:
// cpu::f(...) for a CPU tensor, cuda::f(...) for a CUDA one. The kernels trust their caller:
// shapes, dtypes, devices and index ranges are checked, and the layouts each comment names
// (contiguous, expanded to the output's shape) are in place. Results are written into the outputs
// given.
//
// Most kernels exist on both backends with one contract, so they are declared once, in
// kernels.inc, which this header includes into both namespaces. Below that, each backend lists
// what only it has: the CPU its fused attention and linear layer (on other devices those ops are
// composed of matmul, softmax and elementwise kernels) and its strided reductions; CUDA the
// copies and fills (on the CPU they are loops in tensor.cpp) and its row reductions.
//
// Plain C++ (no CUDA headers), so the dispatch files are ordinary .cpp files.
#pragma once
#include <cstdint>

#include "tensor/ops.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace tg {

// The reductions both backends know (their kernels differ: see each backend's section).
enum class ReduceOp { Sum, Mean, Max, Min, LogSumExp };

// ================================================================ CPU: tensor/cpu/
// OpenMP loops, and OpenBLAS for the GEMMs.
namespace cpu {

#include "tensor/kernels.inc"

// ---------------------------------------------------------------- fused attention (attention.cpp)
// Letters: B tasks, T tokens, H heads, S head size, I = H * S. qkv (B, T, 3I) contiguous holds, per
// token, the queries of every head, then the keys, then the values (c_attn's output).
// y (B, T, I) and probs (B, H, T, T) = softmax over allowed keys of scale * q k^T (0 where a key
// is not allowed, and in a row that allows none — whose y is then 0). Key j is allowed for query
// i when valid[b, j] != 0 (valid undefined: always) and, if causal, j <= i.
void attention(const Tensor& qkv, int64_t heads, const Tensor& valid, bool causal, double scale,
               Tensor& y, Tensor& probs);
// dqkv (B, T, 3I) from grad_y (B, T, I), the forward's qkv and probs (all contiguous); `causal`
// as in the forward lets the kernel skip the zero upper triangle of probs.
void attention_backward(const Tensor& grad_y, const Tensor& qkv, const Tensor& probs, int64_t heads,
                        double scale, bool causal, Tensor& dqkv);

// ---------------------------------------------------------------- nn.Linear (linear.cpp)
// x (M, K), w (O, K), b (O) or undefined, residual (M, O) or undefined, all contiguous:
// y (M, O) = residual + (x w^T + b).
void linear(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& residual, Tensor& y);
// From g (M, O), x (M, K), w (O, K), all contiguous: dx (M, K) = g w, dw (O, K) = g^T x, and
// db (O) = the column sums of g. Each output is computed only if it is defined (allocated).
void linear_backward(const Tensor& g, const Tensor& x, const Tensor& w, Tensor& dx, Tensor& dw,
                     Tensor& db);

// ---------------------------------------------------------------- reductions (reduce.cpp)
// A reduction is described by its geometry: the dims of x that are kept (they index the output,
// which is contiguous, in order) and the dims that are reduced, each with x's strides. f32 is
// accumulated in double.
struct ReduceGeometry {
  Shape kept;               // sizes of the kept dims, outermost first (the output's shape)
  Strides kept_strides;     // x's strides along them
  Shape reduced;            // sizes of the reduced dims
  Strides reduced_strides;  // x's strides along them
};
// True when the kernel's two walks do not suit this layout (reduced elements scattered in short
// runs, and the kept ones not contiguous either): the caller permutes the reduced dims last and
// copies first.
bool reduce_needs_copy(const ReduceGeometry& g);
// out (numel = prod(g.kept), contiguous) = op over the reduced dims of x. The reduced dims must
// hold at least one element for Max and Min (the caller checks).
template <class T>
void reduce(ReduceOp op, const T* x, const ReduceGeometry& g, T* out);
// out = index (along the single reduced dim) of the first maximum; NaN counts as the maximum.
template <class T>
void argmax(const T* x, const ReduceGeometry& g, int64_t* out);

}  // namespace cpu

// ================================================================ CUDA: tensor/cuda/
// Kernels, and cuBLAS for the GEMMs. Nothing here synchronises with the host: kernels and cuBLAS
// calls are queued on one stream, in order, and a value reaches the host only through a
// device-to-host copy (Tensor::to(Device::CPU), item(), to_vector()).
namespace cuda {

#include "tensor/kernels.inc"

// ---------------------------------------------------------------- copies (elementwise.cu)
// dst = src (src already expanded to dst's shape), converting the dtype; any strides on both.
void copy(const Tensor& src, Tensor& dst);
void fill(Tensor& t, double value);

// ---------------------------------------------------------------- reductions (reduce.cu)
// x contiguous, seen as (R, C): out (R elements, contiguous) = the reduction of each row.
// C may be 0 (sum 0, mean NaN, logsumexp -inf; the caller rejects max / min of nothing).
void reduce_rows(ReduceOp op, const Tensor& x, int64_t C, Tensor& out);
// Sum or Mean only. x contiguous, seen as (R, K) (the reduced dims leading): out (K elements,
// contiguous) = the sum (or mean) of each column. R may be 0 (sum 0, mean NaN).
void reduce_columns(ReduceOp op, const Tensor& x, int64_t R, Tensor& out);
// x contiguous (R, C) with C >= 1: out (R, i64) = index of the first maximum (NaN counts as max).
void argmax_rows(const Tensor& x, int64_t C, Tensor& out);

}  // namespace cuda

}  // namespace tg
