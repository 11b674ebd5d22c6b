// ops_reduce.cpp — differentiable reductions: sum, mean, max, logsumexp.
//
// Each backward first puts g (the reduced shape) back in line with the input: reduced dims that
// keepdim=false removed are re-inserted as size 1 and then broadcast (a stride-0 view, no copy).
#include <algorithm>
#include <stdexcept>

#include "autograd/ops.h"

namespace tg::ag {

using Grads = std::vector<Tensor>;
using Needs = std::vector<bool>;

namespace {

// The reduced dims, normalised and sorted; all dims when `dims` is empty.
std::vector<int64_t> reduced_dims(std::vector<int64_t> dims, int64_t rank, const char* op) {
  if (dims.empty()) {
    for (int64_t d = 0; d < rank; ++d) dims.push_back(d);
  }
  for (auto& d : dims) d = normalize_dim(d, rank, op);
  std::sort(dims.begin(), dims.end());
  return dims;
}

// g of the reduced shape -> a view of the input's shape.
Tensor expand_back(const Tensor& g, const Shape& input_shape, const std::vector<int64_t>& dims,
                   bool keepdim) {
  Tensor t = g;
  if (!keepdim) {
    for (int64_t d : dims) t = t.unsqueeze(d);  // ascending order keeps positions right
  }
  return t.expand(input_shape);
}

// The reduced value with keepdim, as a view of the input's shape.
Tensor keep(const Tensor& y, const Shape& input_shape, const std::vector<int64_t>& dims,
            bool keepdim) {
  return expand_back(y, input_shape, dims, keepdim);
}

int64_t reduced_count(const Shape& shape, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= shape[d];
  return n;
}

}  // namespace

// ---- sum: y = sum over dims of x
Variable sum(const Variable& x, std::vector<int64_t> dims, bool keepdim) {
  const Shape shape = x.shape();
  const auto rd = reduced_dims(dims, x.dim(), "sum");
  return make_op("sum", tg::sum(x.value(), dims, keepdim), {x},
                 [shape, rd, keepdim](const Tensor& g, const Needs&) -> Grads {
                   return {expand_back(g, shape, rd, keepdim)};  // dy/dx_i = 1
                 });
}

// ---- mean: y = sum over dims of x / n
Variable mean(const Variable& x, std::vector<int64_t> dims, bool keepdim) {
  const Shape shape = x.shape();
  const auto rd = reduced_dims(dims, x.dim(), "mean");
  const double n = static_cast<double>(reduced_count(shape, rd));
  return make_op("mean", tg::mean(x.value(), dims, keepdim), {x},
                 [shape, rd, keepdim, n](const Tensor& g, const Needs&) -> Grads {
                   return {expand_back(tg::mul_scalar(g, 1.0 / n), shape, rd, keepdim)};
                 });
}

// ---- max: y = max over dims of x; the gradient is shared evenly by the maximal elements
Variable max(const Variable& x, std::vector<int64_t> dims, bool keepdim) {
  const Tensor xv = x.value();
  const auto rd = reduced_dims(dims, x.dim(), "max");
  Tensor y = tg::max(xv, dims, keepdim);
  return make_op("max", y, {x}, [xv, y, rd, keepdim](const Tensor& g, const Needs&) -> Grads {
    const Tensor is_max = tg::eq(xv, keep(y, xv.shape(), rd, keepdim));  // 1 at the maxima
    const Tensor count = tg::sum(is_max, rd, true);                      // ties per slot
    const Tensor share = tg::div(is_max, count);
    return {tg::mul(expand_back(g, xv.shape(), rd, keepdim), share)};
  });
}

// ---- logsumexp: y = log sum exp x;  dy/dx = exp(x - y) = softmax(x) over the dims
Variable logsumexp(const Variable& x, std::vector<int64_t> dims, bool keepdim) {
  const Tensor xv = x.value();
  const auto rd = reduced_dims(dims, x.dim(), "logsumexp");
  Tensor y = tg::logsumexp(xv, dims, keepdim);
  return make_op("logsumexp", y, {x}, [xv, y, rd, keepdim](const Tensor& g, const Needs&) -> Grads {
    const Tensor p = tg::exp(tg::sub(xv, keep(y, xv.shape(), rd, keepdim)));
    return {tg::mul(expand_back(g, xv.shape(), rd, keepdim), p)};
  });
}

}  // namespace tg::ag
