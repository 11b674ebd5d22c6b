// reduce.cpp — sum, mean, max, min, logsumexp over any set of dims; argmax; sum_to_shape.
//
// Each op resolves its dims (negative allowed, empty = all, a repeat is an error), splits x's
// dims into kept and reduced ones (cpu::ReduceGeometry) and calls the CPU kernel, which walks x
// in place for the common layouts; for the rest, x is first permuted to (kept..., reduced...) and
// made contiguous. With keepdim the reduced dims stay as size 1. Results are contiguous.
// On CUDA, x is permuted to (kept..., reduced...) and made contiguous (a copy unless it already
// is), and cuda::reduce_rows reduces each row of that (R, C) layout; a sum or mean over the
// leading dims of a contiguous x (a bias gradient) sums its columns in place instead.
//   sum over no elements = 0, mean = NaN, logsumexp = -inf; max/min/argmax of nothing throw.
#include <stdexcept>
#include <string>

#include "tensor/check.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

namespace tg {

namespace {

// reduced[d] is true when dim d of x is reduced.
std::vector<bool> reduced_mask(const Tensor& x, const std::vector<int64_t>& dims, const char* op) {
  std::vector<bool> reduced(x.dim(), dims.empty());
  for (int64_t d : dims) {
    const int64_t k = normalize_dim(d, x.dim(), op);
    if (reduced[k]) {
      throw std::invalid_argument(std::string(op) + ": dim " + std::to_string(k) +
                                  " repeated in dims " + shape_str(dims) +
                                  " for a tensor of shape " + shape_str(x.shape()));
    }
    reduced[k] = true;
  }
  return reduced;
}

cpu::ReduceGeometry geometry(const Tensor& x, const std::vector<bool>& reduced) {
  cpu::ReduceGeometry g;
  for (int64_t d = 0; d < x.dim(); ++d) {
    (reduced[d] ? g.reduced : g.kept).push_back(x.size(d));
    (reduced[d] ? g.reduced_strides : g.kept_strides).push_back(x.stride(d));
  }
  return g;
}

Shape result_shape(const Tensor& x, const std::vector<bool>& reduced, bool keepdim) {
  Shape shape;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!reduced[d]) {
      shape.push_back(x.size(d));
    } else if (keepdim) {
      shape.push_back(1);
    }
  }
  return shape;
}

// x seen with its kept dims first and reduced dims last, contiguous; and the matching mask.
Tensor reduced_dims_last(const Tensor& x, std::vector<bool>& reduced) {
  std::vector<int64_t> order;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (!reduced[d]) order.push_back(d);
  }
  const size_t kept = order.size();
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (reduced[d]) order.push_back(d);
  }
  for (size_t i = 0; i < reduced.size(); ++i) reduced[i] = i >= kept;
  return x.permute(order).contiguous();
}

// x is contiguous, its first dims are reduced and the rest kept (at least one of each): x is
// (R, K) with the reduced elements of each output down a column (a bias gradient's layout).
bool reduces_leading_dims(const Tensor& x, const std::vector<bool>& reduced) {
  if (!x.is_contiguous() || x.dim() < 2 || !reduced.front() || reduced.back()) return false;
  int64_t d = 0;
  while (d < x.dim() && reduced[d]) ++d;
  while (d < x.dim() && !reduced[d]) ++d;
  return d == x.dim();
}

Tensor reduce(ReduceOp op, const char* name, const Tensor& x, const std::vector<int64_t>& dims,
              bool keepdim) {
  check_floating(x, name);
  std::vector<bool> reduced = reduced_mask(x, dims, name);
  Tensor out(result_shape(x, reduced, keepdim), x.dtype(), x.device());
  cpu::ReduceGeometry g = geometry(x, reduced);
  if ((op == ReduceOp::Max || op == ReduceOp::Min) && shape_numel(g.reduced) == 0 &&
      out.numel() > 0) {
    throw std::invalid_argument(std::string(name) + ": cannot reduce over zero elements (shape " +
                                shape_str(x.shape()) + ", dims " + shape_str(dims) + ")");
  }
  if (x.device() == Device::CUDA) {
    if (reduces_leading_dims(x, reduced) && (op == ReduceOp::Sum || op == ReduceOp::Mean)) {
      cuda::reduce_columns(op, x, shape_numel(g.reduced), out);  // x (R, K)
      return out;
    }
    const Tensor rows = reduced_dims_last(x, reduced);  // (R, C) contiguous
    cuda::reduce_rows(op, rows, shape_numel(g.reduced), out);
    return out;
  }
  Tensor src = x;
  if (cpu::reduce_needs_copy(g)) {
    src = reduced_dims_last(x, reduced);
    g = geometry(src, reduced);
  }
  dispatch_float(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    cpu::reduce<T>(op, src.data<T>(), g, out.data<T>());
  });
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return reduce(ReduceOp::Sum, "sum", x, dims, keepdim);
}

Tensor mean(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return reduce(ReduceOp::Mean, "mean", x, dims, keepdim);
}

Tensor max(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return reduce(ReduceOp::Max, "max", x, dims, keepdim);
}

Tensor min(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return reduce(ReduceOp::Min, "min", x, dims, keepdim);
}

Tensor logsumexp(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  return reduce(ReduceOp::LogSumExp, "logsumexp", x, dims, keepdim);
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  check_floating(x, "argmax");
  const int64_t d = normalize_dim(dim, x.dim(), "argmax");
  std::vector<bool> reduced(x.dim(), false);
  reduced[d] = true;
  Tensor out(result_shape(x, reduced, keepdim), DType::I64, x.device());
  if (x.size(d) == 0 && out.numel() > 0) {
    throw std::invalid_argument("argmax: cannot reduce over zero elements (shape " +
                                shape_str(x.shape()) + ", dim " + std::to_string(dim) + ")");
  }
  if (x.device() == Device::CUDA) {
    const Tensor rows = reduced_dims_last(x, reduced);  // (R, C) with C = x.size(d), contiguous
    cuda::argmax_rows(rows, x.size(d), out);
    return out;
  }
  const cpu::ReduceGeometry g = geometry(x, reduced);
  dispatch_float(x.dtype(), "argmax", [&](auto tag) {
    using T = decltype(tag);
    cpu::argmax<T>(x.data<T>(), g, out.data<int64_t>());
  });
  return out;
}

Tensor sum_to_shape(const Tensor& x, const Shape& shape) {
  check_defined(x, "sum_to_shape");
  if (x.shape() == shape) return x;
  const std::vector<int64_t> dims = broadcast_reduce_dims(x.shape(), shape, "sum_to_shape");
  if (dims.empty()) return x.reshape(shape);  // only size-1 dims differ; nothing to add up
  // keepdim leaves x's rank with 1s at the summed dims; dropping the leading ones gives `shape`.
  return sum(x, dims, /*keepdim=*/true).view(shape);
}

}  // namespace tg
