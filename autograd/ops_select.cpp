// ops_select.cpp — differentiable selection: where, masked_fill, concat, stack, gather,
// index_select, embedding.
//
// Notation: x, a, b inputs; y the output; g = dL/dy (y's shape). Conditions, masks and indices
// are plain Tensors: they are not differentiable and the rules capture them as they are.
// Every backward is the adjoint of its forward's data movement: what the forward copied from
// position p of x to position q of y, the backward adds from q of g back to p of dx. Where the
// forward reads one x element several times (repeated indices), the backward accumulates
// (scatter_add / index_add), never overwrites.
#include <stdexcept>
#include <string>

#include "autograd/ops.h"

namespace tg::ag {

using Grads = std::vector<Tensor>;
using Needs = std::vector<bool>;

namespace {
std::vector<Tensor> values_of(const std::vector<Variable>& xs, const char* op) {
  if (xs.empty()) throw std::invalid_argument(std::string(op) + ": no inputs");
  std::vector<Tensor> values;
  values.reserve(xs.size());
  for (size_t k = 0; k < xs.size(); ++k) {
    if (!xs[k].defined()) {
      throw std::invalid_argument(std::string(op) + ": input " + std::to_string(k) +
                                  " is an undefined Variable");
    }
    values.push_back(xs[k].value());
  }
  return values;
}
}  // namespace

// ---- where: y = cond ? a : b  (cond, a, b broadcast together)
Variable where(const Tensor& cond, const Variable& a, const Variable& b) {
  Tensor y = tg::where(cond, a.value(), b.value());
  return make_op("where", std::move(y), {a, b},
                 [cond](const Tensor& g, const Needs& needs) -> Grads {
                   const Tensor zero = zeros({}, g.dtype(), g.device());
                   // dL/da = g where cond, else 0; dL/db = g where not cond, else 0
                   return {needs[0] ? tg::where(cond, g, zero) : Tensor(),
                           needs[1] ? tg::where(cond, zero, g) : Tensor()};
                 });
}

// ---- masked_fill: y = mask ? value : x  (mask broadcast to x)
Variable masked_fill(const Variable& x, const Tensor& mask, double value) {
  Tensor y = tg::masked_fill(x.value(), mask, value);
  return make_op("masked_fill", std::move(y), {x}, [mask](const Tensor& g, const Needs&) -> Grads {
    return {tg::masked_fill(g, mask, 0.0)};  // filled positions do not depend on x
  });
}

// ---- concat: y = [x0 | x1 | ...] along dim
Variable concat(const std::vector<Variable>& xs, int64_t dim) {
  const std::vector<Tensor> values = values_of(xs, "concat");
  Tensor y = tg::concat(values, dim);  // checks ranks and the other dims
  const int64_t d = normalize_dim(dim, y.dim(), "concat");
  std::vector<int64_t> sizes;  // each input's extent along d
  for (const auto& v : values) sizes.push_back(v.size(d));
  return make_op("concat", std::move(y), xs,
                 [d, sizes](const Tensor& g, const Needs& needs) -> Grads {
                   // dL/dx_k = g's slice [start_k, start_k + size_k) along d (a view)
                   Grads grads(sizes.size());
                   int64_t start = 0;
                   for (size_t k = 0; k < sizes.size(); ++k) {
                     if (needs[k]) grads[k] = g.narrow(d, start, sizes[k]);
                     start += sizes[k];
                   }
                   return grads;
                 });
}

// ---- stack: y[..., k, ...] = x_k  (a new dim at position dim)
Variable stack(const std::vector<Variable>& xs, int64_t dim) {
  const std::vector<Tensor> values = values_of(xs, "stack");
  Tensor y = tg::stack(values, dim);  // checks that all shapes agree
  const int64_t d = normalize_dim(dim, y.dim(), "stack");
  return make_op("stack", std::move(y), xs, [d](const Tensor& g, const Needs& needs) -> Grads {
    Grads grads(needs.size());
    for (size_t k = 0; k < needs.size(); ++k) {
      if (needs[k]) grads[k] = g.select(d, static_cast<int64_t>(k));  // dL/dx_k = g[..., k, ...]
    }
    return grads;
  });
}

// ---- gather: y[i][j][k] = x[index[i][j][k]][j][k]  (dim 0; likewise for other dims)
Variable gather(const Variable& x, int64_t dim, const Tensor& index) {
  const Tensor xv = x.value();
  Tensor y = tg::gather(xv, dim, index);
  return make_op("gather", std::move(y), {x},
                 [x_shape = xv.shape(), dim, index](const Tensor& g, const Needs&) -> Grads {
                   // dx[index[i][j][k]][j][k] += g[i][j][k]
                   return {tg::scatter_add(x_shape, dim, index, g)};
                 });
}

// ---- index_select: y's slice i along dim = x's slice index[i]
Variable index_select(const Variable& x, int64_t dim, const Tensor& index) {
  const Tensor xv = x.value();
  Tensor y = tg::index_select(xv, dim, index);
  return make_op("index_select", std::move(y), {x},
                 [x_shape = xv.shape(), dim, index](const Tensor& g, const Needs&) -> Grads {
                   // dx's slice index[i] along dim += g's slice i
                   return {tg::index_add(x_shape, dim, index, g)};
                 });
}

// ---- embedding: y[t] = weight[ids[t]] for every position t of ids; weight (V, E), y ids.shape +
// (E)
Variable embedding(const Variable& weight, const Tensor& ids) {
  const Tensor wv = weight.value();
  Tensor y = tg::embedding(wv, ids);  // checks weight is 2-D and ids are i64 in range
  return make_op("embedding", std::move(y), {weight},
                 [w_shape = wv.shape(), ids](const Tensor& g, const Needs&) -> Grads {
                   // dweight[ids[t]] += g[t]: rows of g (N, E) added into rows of (V, E),
                   // with the N = ids.numel() positions flattened
                   const int64_t N = ids.numel(), E = w_shape[1];
                   return {tg::index_add(w_shape, 0, ids.reshape({N}), g.reshape({N, E}))};
                 });
}

}  // namespace tg::ag
