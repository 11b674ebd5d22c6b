// ops.h — the differentiable ops. Each is defined in an ops_*.cpp file with its backward rule
// right below its forward, and each has a finite-difference gradcheck in tests/autograd/.
//
// Names and semantics follow tensor/ops.h (broadcasting, negative dims, keepdim).
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/variable.h"

namespace tg::ag {

// ---------------------------------------------------------------- ops_elementwise.cpp
Variable neg(const Variable& x);
Variable exp(const Variable& x);
Variable log(const Variable& x);
Variable sqrt(const Variable& x);
Variable tanh(const Variable& x);
Variable sigmoid(const Variable& x);
Variable relu(const Variable& x);
Variable abs(const Variable& x);
Variable square(const Variable& x);
Variable gelu(const Variable& x);  // tanh form
Variable pow_scalar(const Variable& x, double p);
Variable affine(const Variable& x, double scale, double shift);  // x * scale + shift
Variable clamp(const Variable& x, double low, double high);
Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable maximum(const Variable& a, const Variable& b);  // ties: gradient split evenly
Variable minimum(const Variable& a, const Variable& b);

Variable operator+(const Variable& a, const Variable& b);
Variable operator-(const Variable& a, const Variable& b);
Variable operator*(const Variable& a, const Variable& b);
Variable operator/(const Variable& a, const Variable& b);
Variable operator-(const Variable& x);
Variable operator+(const Variable& a, double c);
Variable operator-(const Variable& a, double c);
Variable operator*(const Variable& a, double c);
Variable operator/(const Variable& a, double c);
Variable operator*(double c, const Variable& a);

// ---------------------------------------------------------------- ops_reduce.cpp
Variable sum(const Variable& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Variable mean(const Variable& x, std::vector<int64_t> dims = {}, bool keepdim = false);
// Gradient goes to the maximal elements, split evenly among ties.
Variable max(const Variable& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Variable logsumexp(const Variable& x, std::vector<int64_t> dims = {}, bool keepdim = false);

// ---------------------------------------------------------------- ops_matmul.cpp
Variable matmul(const Variable& a, const Variable& b);
// y = x W^T + b (nn.Linear): x (..., K), weight (O, K), bias (O) or an undefined Variable; with
// a residual (..., O), y = residual + (x W^T + b) in the same pass (a transformer's skip
// connection around its projection).
Variable linear(const Variable& x, const Variable& weight, const Variable& bias,
                const Variable& residual = Variable());

// ---------------------------------------------------------------- ops_nn.cpp
Variable softmax(const Variable& x, int64_t dim);
Variable log_softmax(const Variable& x, int64_t dim);
// Multi-head self-attention on qkv (B, T, 3 * heads * S) -> (B, T, heads * S); see tg::attention
// for the layout and the masks (valid (B, T) or undefined; causal).
Variable attention(const Variable& qkv, int64_t heads, const Tensor& valid, bool causal,
                   double scale);
// Over the last dim; weight and bias may be undefined Variables.
Variable layer_norm(const Variable& x, const Variable& weight, const Variable& bias,
                    double eps = 1e-5);

// ---------------------------------------------------------------- ops_select.cpp
Variable where(const Tensor& cond, const Variable& a, const Variable& b);
Variable masked_fill(const Variable& x, const Tensor& mask, double value);
Variable concat(const std::vector<Variable>& xs, int64_t dim);
Variable stack(const std::vector<Variable>& xs, int64_t dim);
Variable gather(const Variable& x, int64_t dim, const Tensor& index);
Variable index_select(const Variable& x, int64_t dim, const Tensor& index);
Variable embedding(const Variable& weight, const Tensor& ids);

// ---------------------------------------------------------------- ops_view.cpp
Variable reshape(const Variable& x, Shape shape);
Variable permute(const Variable& x, std::vector<int64_t> dims);
Variable transpose(const Variable& x, int64_t dim0, int64_t dim1);
Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length);
Variable select(const Variable& x, int64_t dim, int64_t index);
Variable expand(const Variable& x, Shape shape);
Variable squeeze(const Variable& x, int64_t dim);
Variable unsqueeze(const Variable& x, int64_t dim);
Variable contiguous(const Variable& x);

}  // namespace tg::ag
