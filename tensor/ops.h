// ops.h — everything that computes on Tensors: the numeric ops of the library.
//
// This layer knows numbers, not graphs. It holds the forward ops and also the backward kernels
// that autograd calls (softmax_backward, layer_norm_backward, gelu_backward, linear_backward,
// attention_backward): each computes one op's input gradient from the output gradient and what the
// forward kept, fused into one pass. Which of them to call, in what order, and how gradients add
// up — the chain rule — is autograd/'s job; nothing here records a graph.
//
// Each op checks its inputs (shapes, dtypes, devices) and throws with a message that names the op
// and the offending shapes, then makes one device switch to its kernel (kernels.h): cpu/ or cuda/.
// Results are fresh contiguous tensors unless the name ends in '_' (in place).
//
// Conventions: dims may be negative (-1 = last). Floating ops accept f32 and f64; indices are i64.
// Binary ops broadcast as NumPy does. Boolean results (comparisons) are 0/1 in the input dtype,
// and masks are "nonzero = true".
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace tg {

// ---------------------------------------------------------------- creation (creation.cpp)
Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
Tensor full(const Shape& shape, double value, DType dtype = DType::F32,
            Device device = Device::CPU);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
// 0, 1, ..., n-1 and start, start+step, ... < end.
Tensor arange(int64_t n, DType dtype = DType::F32);
Tensor arange(double start, double end, double step, DType dtype = DType::F32);
// Values in row-major order; shape {} means 1-D of values.size(). Throws if the count differs.
Tensor from_vector(const std::vector<double>& values, const Shape& shape = {},
                   DType dtype = DType::F32);
Tensor from_indices(const std::vector<int64_t>& values, const Shape& shape = {});
Tensor scalar_tensor(double value, DType dtype = DType::F32);  // shape ()
Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::F32, double mean = 0.0,
             double std = 1.0);
Tensor rand(const Shape& shape, Generator& gen, DType dtype = DType::F32, double low = 0.0,
            double high = 1.0);

// ---------------------------------------------------------------- elementwise (elementwise.cpp)
enum class UnaryOp {
  Neg,
  Exp,
  Log,
  Sqrt,
  Rsqrt,
  Tanh,
  Sigmoid,
  Relu,
  Abs,
  Square,
  Reciprocal,
  Sign
};
enum class BinaryOp { Add, Sub, Mul, Div, Maximum, Minimum, Pow, Eq, Ne, Lt, Le, Gt, Ge };
const char* unary_op_name(UnaryOp op);
const char* binary_op_name(BinaryOp op);

Tensor unary(UnaryOp op, const Tensor& x);
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);

inline Tensor neg(const Tensor& x) { return unary(UnaryOp::Neg, x); }
inline Tensor exp(const Tensor& x) { return unary(UnaryOp::Exp, x); }
inline Tensor log(const Tensor& x) { return unary(UnaryOp::Log, x); }
inline Tensor sqrt(const Tensor& x) { return unary(UnaryOp::Sqrt, x); }
inline Tensor rsqrt(const Tensor& x) { return unary(UnaryOp::Rsqrt, x); }
inline Tensor tanh(const Tensor& x) { return unary(UnaryOp::Tanh, x); }
inline Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::Sigmoid, x); }
inline Tensor relu(const Tensor& x) { return unary(UnaryOp::Relu, x); }
inline Tensor abs(const Tensor& x) { return unary(UnaryOp::Abs, x); }
inline Tensor square(const Tensor& x) { return unary(UnaryOp::Square, x); }
inline Tensor reciprocal(const Tensor& x) { return unary(UnaryOp::Reciprocal, x); }
inline Tensor sign(const Tensor& x) { return unary(UnaryOp::Sign, x); }
inline Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Add, a, b); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Sub, a, b); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Mul, a, b); }
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Div, a, b); }
inline Tensor maximum(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Maximum, a, b); }
inline Tensor minimum(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Minimum, a, b); }
inline Tensor pow(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Pow, a, b); }
inline Tensor eq(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Eq, a, b); }
inline Tensor ne(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Ne, a, b); }
inline Tensor lt(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Lt, a, b); }
inline Tensor le(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Le, a, b); }
inline Tensor gt(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Gt, a, b); }
inline Tensor ge(const Tensor& a, const Tensor& b) { return binary(BinaryOp::Ge, a, b); }

// x * scale + shift, and x^p, in one pass (no scalar tensor, no broadcast machinery).
Tensor affine(const Tensor& x, double scale, double shift);
inline Tensor add_scalar(const Tensor& x, double c) { return affine(x, 1.0, c); }
inline Tensor mul_scalar(const Tensor& x, double c) { return affine(x, c, 0.0); }
Tensor pow_scalar(const Tensor& x, double p);
Tensor clamp(const Tensor& x, double low, double high);

// In place: a += alpha * b (b broadcast to a's shape); a *= c. `a` must own its elements (no
// expanded dims).
Tensor& add_(Tensor& a, const Tensor& b, double alpha = 1.0);
Tensor& mul_(Tensor& a, double c);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double c);
Tensor operator-(const Tensor& a, double c);
Tensor operator*(const Tensor& a, double c);
Tensor operator/(const Tensor& a, double c);
Tensor operator*(double c, const Tensor& a);

// ---------------------------------------------------------------- reductions (reduce.cpp)
// `dims` empty = all dims. keepdim keeps reduced dims as size 1.
Tensor sum(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor max(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor min(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
// log(sum(exp(x))) computed stably (max subtracted first).
Tensor logsumexp(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
// Index (i64) of the first maximum along one dim.
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
// Sum a broadcast result back down to `shape` (the gradient of a broadcast).
Tensor sum_to_shape(const Tensor& x, const Shape& shape);

// ---------------------------------------------------------------- linear algebra (matmul.cpp)
// (M,K) @ (K,N) -> (M,N); (...,M,K) @ (...,K,N) -> (...,M,N) with the batch dims broadcast;
// a 1-D operand is treated as a row (left) or column (right) vector and that dim is dropped.
// On OpenBLAS: transposed or strided operands become BLAS transpose flags, not copies.
Tensor matmul(const Tensor& a, const Tensor& b);

// y = x W^T + b (+ residual): x (..., K), weight (O, K) as nn.Linear stores it, bias (O) or
// undefined, residual (..., O) or undefined (the skip connection a transformer adds to its
// projections). On the CPU one GEMM writes the product, the bias and the residual together
// (linear.cpp); y equals residual + (x W^T + b), added in that order.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Tensor& residual = Tensor());
// Its gradients from dL/dy (..., O): dx = g W (x's shape), dweight = g^T x (O, K) summed over
// every leading dim, dbias = g summed likewise (O); each computed only when asked for.
struct LinearGrads {
  Tensor dx, dweight, dbias;
};
LinearGrads linear_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                            bool need_x, bool need_weight, bool need_bias);

// ---------------------------------------------------------------- gelu (gelu.cpp)
// GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
Tensor gelu(const Tensor& x);
// Given x and dL/dy: dL/dx = grad * gelu'(x), fused.
Tensor gelu_backward(const Tensor& grad, const Tensor& x);

// ---------------------------------------------------------------- softmax (softmax.cpp)
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// Given y = softmax(x) and dL/dy: dL/dx = y * (g - sum(g * y)).
Tensor softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim);
// Given y = log_softmax(x) and dL/dy: dL/dx = g - exp(y) * sum(g).
Tensor log_softmax_backward(const Tensor& grad_y, const Tensor& y, int64_t dim);

// ---------------------------------------------------------------- layer norm (layer_norm.cpp)
// Layer norm over the last dim: y = (x - mean) * rstd * weight + bias. weight and bias may be
// undefined (then 1 and 0). mean and rstd have x's shape without the last dim.
struct LayerNormResult {
  Tensor y, mean, rstd;
};
LayerNormResult layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           double eps = 1e-5);
// Given dL/dy and the forward's x, weight, mean and rstd: dL/dx, dL/dweight and dL/dbias.
struct LayerNormGrads {
  Tensor dx, dweight, dbias;  // dweight/dbias undefined when weight was undefined
};
LayerNormGrads layer_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd);

// ---------------------------------------------------------------- fused attention (attention.cpp)
// Multi-head self-attention on a packed qkv (B, T, 3I), I = heads * S: per token the queries of
// every head, then the keys, then the values (c_attn's output layout). Key j is allowed for
// query i when valid[b, j] != 0 (valid undefined: every key) and, if causal, j <= i.
//   probs (B, H, T, T) = softmax over the allowed keys of scale * q k^T, 0 elsewhere (a row that
//                        allows no key is all 0, and its output is 0);
//   y (B, T, I)        = probs @ v, heads side by side.
// CPU: one fused kernel (cpu/attention.cpp). Other devices: attention_reference, the same
// computation composed of matmul / softmax / elementwise ops — also the CPU kernel's test oracle.
struct AttentionResult {
  Tensor y, probs;
};
AttentionResult attention(const Tensor& qkv, int64_t heads, const Tensor& valid, bool causal,
                          double scale);
// dL/d(qkv) (B, T, 3I) from dL/dy (B, T, I), the forward's qkv, probs and causal flag.
Tensor attention_backward(const Tensor& grad_y, const Tensor& qkv, const Tensor& probs,
                          int64_t heads, double scale, bool causal);
AttentionResult attention_reference(const Tensor& qkv, int64_t heads, const Tensor& valid,
                                    bool causal, double scale);
Tensor attention_backward_reference(const Tensor& grad_y, const Tensor& qkv, const Tensor& probs,
                                    int64_t heads, double scale);

// ---------------------------------------------------------------- selection (select.cpp)
// cond ? a : b elementwise, all three broadcast together.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// x with `value` where mask (broadcast to x) is nonzero.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
Tensor concat(const std::vector<Tensor>& tensors, int64_t dim);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim);
// out[i][j][k] = x[index[i][j][k]][j][k] (dim 0), etc.; index is i64 with x's rank.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// zeros(shape) with out[index[i][j][k]][j][k] += src[i][j][k] (dim 0): gather's adjoint.
Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src);
// Entries index[0..n) of x along dim; index is 1-D i64.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// zeros(shape) with slice index[i] along dim += src's slice i: index_select's adjoint.
Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index, const Tensor& src);
// Rows of weight (V, E) picked by integer ids of any shape: out shape = ids.shape + (E).
Tensor embedding(const Tensor& weight, const Tensor& ids);

// ---------------------------------------------------------------- optimiser steps (optim.cpp)
// One fused AdamW update, in place, of a contiguous parameter p with its
// gradient g and moments m, v (all one shape, dtype and device), element by element in p's dtype:
//   p <- p * decay;  m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g g;
//   p <- p + neg_step_size * m / (sqrt(v) / bias2_sqrt + eps)
// in exactly that order (PyTorch 1.13's _single_tensor_adamw). adamw_scalars() computes the
// per-step scalars in double for step t = 1, 2, ...
struct AdamWScalars {
  double decay;  // 1 - lr * weight_decay
  double beta1, beta2;
  double bias2_sqrt;  // sqrt(1 - beta2^t)
  double eps;
  double neg_step_size;  // -lr / (1 - beta1^t)
};
AdamWScalars adamw_scalars(double lr, double beta1, double beta2, double eps, double weight_decay,
                           int64_t step);
void adamw_step_(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWScalars& s);

// ---------------------------------------------------------------- utilities (utilities.cpp)
double max_abs_diff(const Tensor& a, const Tensor& b);
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
bool all_finite(const Tensor& x);
// Threads for our OpenMP loops and OpenBLAS together (one shared OpenMP pool).
void set_num_threads(int n);
int num_threads();

}  // namespace tg
