// ops_view.cpp — differentiable views: reshape, permute, transpose, narrow, select, expand,
// squeeze, unsqueeze, and contiguous.
//
// A view moves no data: y shares x's storage under other shape/strides/offset. Its gradient
// moves no arithmetic either: dL/dx is g put back into x's layout — the inverse view where
// there is one (reshape, permute, transpose, squeeze, unsqueeze), zeros with g copied into the
// viewed window (narrow, select), or a sum over the broadcast dims (expand).
//
// Notation: x the input, y the output, g = dL/dy (y's shape).

#include "autograd/ops.h"

namespace tg::ag {

using Grads = std::vector<Tensor>;
using Needs = std::vector<bool>;

// ---- reshape: y = x under a new shape (a view when x's strides allow, else a copy)
Variable reshape(const Variable& x, Shape shape) {
  const Tensor xv = x.value();
  return make_op("reshape", xv.reshape(std::move(shape)), {x},
                 [x_shape = xv.shape()](const Tensor& g, const Needs&) -> Grads {
                   return {g.reshape(x_shape)};  // the same elements in x's shape
                 });
}

// ---- permute: y.shape[i] = x.shape[dims[i]]
Variable permute(const Variable& x, std::vector<int64_t> dims) {
  const Tensor xv = x.value();
  Tensor y = xv.permute(dims);  // checks dims is a permutation
  std::vector<int64_t> inverse(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    inverse[static_cast<size_t>(normalize_dim(dims[i], xv.dim(), "permute"))] =
        static_cast<int64_t>(i);
  }
  return make_op("permute", std::move(y), {x}, [inverse](const Tensor& g, const Needs&) -> Grads {
    return {g.permute(inverse)};  // dx.shape[dims[i]] = g.shape[i]: the inverse permutation
  });
}

// ---- transpose: y = x with dims dim0 and dim1 swapped
Variable transpose(const Variable& x, int64_t dim0, int64_t dim1) {
  return make_op("transpose", x.value().transpose(dim0, dim1), {x},
                 [dim0, dim1](const Tensor& g, const Needs&) -> Grads {
                   return {g.transpose(dim0, dim1)};  // a swap is its own inverse
                 });
}

// ---- narrow: y = x[..., start : start + length, ...] along dim
Variable narrow(const Variable& x, int64_t dim, int64_t start, int64_t length) {
  const Tensor xv = x.value();
  return make_op("narrow", xv.narrow(dim, start, length), {x},
                 [x_shape = xv.shape(), dtype = xv.dtype(), device = xv.device(), dim, start,
                  length](const Tensor& g, const Needs&) -> Grads {
                   Tensor dx = zeros(x_shape, dtype, device);  // elements outside the window: 0
                   dx.narrow(dim, start, length).copy_(g);
                   return {dx};
                 });
}

// ---- select: y = x[..., index, ...] along dim (that dim dropped)
Variable select(const Variable& x, int64_t dim, int64_t index) {
  const Tensor xv = x.value();
  return make_op("select", xv.select(dim, index), {x},
                 [x_shape = xv.shape(), dtype = xv.dtype(), device = xv.device(), dim, index](
                     const Tensor& g, const Needs&) -> Grads {
                   Tensor dx = zeros(x_shape, dtype, device);  // other positions along dim: 0
                   dx.select(dim, index).copy_(g);
                   return {dx};
                 });
}

// ---- expand: y = x broadcast to shape (size-1 and new leading dims repeated, stride 0)
Variable expand(const Variable& x, Shape shape) {
  const Tensor xv = x.value();
  return make_op("expand", xv.expand(std::move(shape)), {x},
                 [x_shape = xv.shape()](const Tensor& g, const Needs&) -> Grads {
                   return {sum_to_shape(g, x_shape)};  // each x element got every copy's grad
                 });
}

// ---- squeeze: y = x without dim (when that dim has size 1; otherwise y = x)
Variable squeeze(const Variable& x, int64_t dim) {
  const Tensor xv = x.value();
  return make_op("squeeze", xv.squeeze(dim), {x},
                 [x_shape = xv.shape()](const Tensor& g, const Needs&) -> Grads {
                   return {g.reshape(x_shape)};  // put the unit dim back (a view)
                 });
}

// ---- unsqueeze: y = x with a new unit dim at position dim
Variable unsqueeze(const Variable& x, int64_t dim) {
  const Tensor xv = x.value();
  const int64_t d = normalize_dim(dim, xv.dim() + 1, "unsqueeze");
  return make_op("unsqueeze", xv.unsqueeze(d), {x}, [d](const Tensor& g, const Needs&) -> Grads {
    return {g.squeeze(d)};  // drop the unit dim again
  });
}

// ---- contiguous: y = x with row-major strides (x itself when already contiguous)
Variable contiguous(const Variable& x) {
  return make_op("contiguous", x.value().contiguous(), {x},
                 [](const Tensor& g, const Needs&) -> Grads { return {g}; });  // same elements
}

}  // namespace tg::ag
