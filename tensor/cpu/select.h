// cpu/select.h — CPU kernels that pick elements: where, gather / scatter_add, index_select /
// index_add (embedding is index_select along dim 0).
//
// The callers (select.cpp) have checked shapes, dtypes and that every index is in range; the
// kernels trust them. `out` is a fresh contiguous tensor (zeroed for the *_add kernels).
// The adds are deterministic: each output element is updated by one thread only, in index order.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace tg::cpu {

// out = cond != 0 ? a : b; cond, a, b already expanded to out's shape (a, b of out's dtype).
void where_kernel(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out);

// out (index's shape): out[.., i, ..] = x[.., index[.., i, ..], ..], i along dim.
void gather_kernel(const Tensor& x, int64_t dim, const Tensor& index, Tensor& out);
// out[.., index[.., i, ..], ..] += src[.., i, ..]; index and src of one shape.
void scatter_add_kernel(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);

// With x seen as (O, V, I) around dim (O = product of the dims before it, I = after it) and
// index 1-D of length n: out (O, n, I) [o, i, :] = x[o, index[i], :]. x and index contiguous.
void index_select_kernel(const Tensor& x, int64_t dim, const Tensor& index, Tensor& out);
// out (O, V, I) [o, index[i], :] += src (O, n, I) [o, i, :]. src and index contiguous.
void index_add_kernel(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);

}  // namespace tg::cpu
