// cuda/ops.h — the CUDA backend's entry points, as plain C++ (no CUDA headers), for the dispatch
// files in tensor/*.cpp.
//
// Each function is the CUDA twin of a CPU kernel in tensor/cpu/: the caller (an op in ops.h) has
// already checked shapes, dtypes and devices, made the inputs contiguous where the comment says
// so, and allocated the output on the GPU. Nothing here synchronises with the host: kernels and
// cuBLAS calls are queued on one stream, in order, and a value reaches the host only through a
// device-to-host copy (Tensor::to(Device::CPU), item(), to_vector()).
//
// Implemented in tensor/cuda/*.cu when the build has CUDA (TG_HAVE_CUDA); otherwise
// tensor/cuda/stubs.cpp defines every function to throw "built without CUDA" (unreachable in
// practice: no CUDA tensor can be created in such a build).
//
// Dimension letters: R = rows, C = the length of one row (reduced, normalised or softmax dim).
#pragma once
#include <cstdint>

#include "tensor/ops.h"
#include "tensor/tensor.h"

namespace tg::cuda {

// ---------------------------------------------------------------- elementwise.cu
// dst = src (src already expanded to dst's shape), converting the dtype; any strides on both.
void copy(const Tensor& src, Tensor& dst);
void fill(Tensor& t, double value);
// out = op(x) / op(a, b); inputs expanded to out's shape, any strides; out may be strided too.
void unary(UnaryOp op, const Tensor& x, Tensor& out);
void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out);
void affine(const Tensor& x, double scale, double shift, Tensor& out);
void pow_scalar(const Tensor& x, double p, Tensor& out);
void clamp(const Tensor& x, double low, double high, Tensor& out);
void gelu_backward(const Tensor& grad, const Tensor& x, Tensor& out);
// a += alpha * b (b expanded to a's shape); a *= c.
void add_inplace(Tensor& a, const Tensor& b, double alpha);
void mul_inplace(Tensor& a, double c);
// out = cond != 0 ? a : b; all expanded to out's shape; cond of any dtype.
void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out);

// ---------------------------------------------------------------- reduce.cu
enum class Reduction { Sum, Mean, Max, Min, LogSumExp };
// x contiguous, seen as (R, C): out (R elements, contiguous) = reduction of each row.
// C may be 0 (sum 0, mean NaN, logsumexp -inf; the caller rejects max/min of nothing).
void reduce_rows(Reduction op, const Tensor& x, int64_t C, Tensor& out);
// Sum or Mean only. x contiguous, seen as (R, K) (the reduced dims leading): out (K elements,
// contiguous) = the sum (or mean) of each column. R may be 0 (sum 0, mean NaN).
void reduce_columns(Reduction op, const Tensor& x, int64_t R, Tensor& out);
// x contiguous (R, C) with C >= 1: out (R, i64) = index of the first maximum (NaN counts as max).
void argmax_rows(const Tensor& x, int64_t C, Tensor& out);

// ---------------------------------------------------------------- matmul.cu
// out (B..., M, N) = a (..., M, K) @ b (..., K, N), batch dims broadcast to out's, any strides;
// the same contract as cpu::matmul. cuBLAS, strided-batched.
void matmul(const Tensor& a, const Tensor& b, Tensor& out);

// ---------------------------------------------------------------- nn_kernels.cu
// As cpu::softmax / cpu::softmax_backward: rows along `dim`, any strides, outputs contiguous.
void softmax(const Tensor& x, int64_t dim, bool log, Tensor& y);
void softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim, bool log, Tensor& grad_x);
// As cpu::layer_norm / cpu::layer_norm_backward: every input contiguous, weight/bias optional.
void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor& y,
                Tensor& mean, Tensor& rstd);
void layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                         const Tensor& mean, const Tensor& rstd, Tensor& dx, Tensor& dweight,
                         Tensor& dbias);

// ---------------------------------------------------------------- select.cu
// As cpu::gather_kernel / scatter_add_kernel (index in range, any strides; out zeroed for the
// add) and cpu::index_select_kernel / index_add_kernel (x, src, index contiguous).
void gather(const Tensor& x, int64_t dim, const Tensor& index, Tensor& out);
void scatter_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);
void index_select(const Tensor& x, int64_t dim, const Tensor& index, Tensor& out);
void index_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);

// ---------------------------------------------------------------- optim.cu
// One fused AdamW update of contiguous param, grad, m, v (see tg::adamw_step_ in ops.h).
void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWScalars& s);

}  // namespace tg::cuda
