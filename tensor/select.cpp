// select.cpp — where / masked_fill, concat / stack, gather / scatter_add, index_select /
// index_add, embedding: argument checks, then the kernels in cpu/select.cpp or cuda/select.cu.
//
// Index tensors are i64 and every index is checked against its bound before a kernel runs, so an
// out-of-range index is an exception naming the index and the bound, never a wild read. (For an
// index tensor on the GPU that check copies it to the host: the one host synchronisation these
// ops make.) Masks and indices may be CPU tensors when the data is on the GPU (copied there). The
// *_add ops are the adjoints of gather / index_select (their gradients) and are deterministic.
#include <stdexcept>
#include <string>

#include "tensor/check.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

namespace tg {

namespace {

// Throw std::out_of_range(message(i)) for the first index i (row-major) outside [0, bound).
template <class Message>
void check_range(const Tensor& index, int64_t bound, Message message) {
  const Tensor c = index.to(Device::CPU).contiguous();
  const int64_t* p = c.data<int64_t>();
  for (int64_t k = 0, n = c.numel(); k < n; ++k) {
    if (p[k] < 0 || p[k] >= bound) throw std::out_of_range(message(p[k]));
  }
}

// "<op>: index 5 out of range for dim 0 of size 3"
void check_range_along(const Tensor& index, int64_t dim, int64_t size, const char* op) {
  check_range(index, size, [&](int64_t i) {
    return std::string(op) + ": index " + std::to_string(i) + " out of range for dim " +
           std::to_string(dim) + " of size " + std::to_string(size);
  });
}

// For gather / scatter_add: same rank, and index no larger than `shape` outside dim.
void check_index_fits(const Tensor& index, const Shape& shape, int64_t dim, const char* op,
                      const char* what) {
  for (int64_t d = 0; d < index.dim(); ++d) {
    if (d != dim && index.size(d) > shape[d]) {
      throw std::invalid_argument(std::string(op) + ": index " + shape_str(index.shape()) +
                                  " is larger than " + what + " " + shape_str(shape) +
                                  " outside dim " + std::to_string(dim));
    }
  }
}

void check_rank(const Tensor& index, const Shape& shape, const char* op, const char* what) {
  if (index.dim() != static_cast<int64_t>(shape.size())) {
    throw std::invalid_argument(std::string(op) + ": index " + shape_str(index.shape()) + " and " +
                                what + " " + shape_str(shape) + " differ in rank");
  }
}

// A mask or index tensor on the data's device. One on the CPU with data on the GPU is copied
// there (PyTorch likewise accepts CPU indices for GPU data); any other device mix is an error.
Tensor on_device_of(const Tensor& t, const Tensor& data, const char* op) {
  if (t.device() == data.device()) return t;
  if (t.device() == Device::CPU) return t.to(data.device());
  check_same_device(t, data, op);  // throws, naming both
  return t;
}

void check_one_dim(const Tensor& index, const char* op) {
  if (index.dim() != 1) {
    throw std::invalid_argument(std::string(op) + ": index must be 1-D, got shape " +
                                shape_str(index.shape()));
  }
}

}  // namespace

Tensor where(const Tensor& cond_arg, const Tensor& a, const Tensor& b) {
  check_defined(cond_arg, "where");
  check_same(a, b, "where");
  const Tensor cond = on_device_of(cond_arg, a, "where");
  const Shape shape =
      broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out(shape, a.dtype(), a.device());
  if (a.device() == Device::CUDA) {
    cuda::where(cond.expand(shape), a.expand(shape), b.expand(shape), out);
  } else {
    cpu::where(cond.expand(shape), a.expand(shape), b.expand(shape), out);
  }
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask_arg, double value) {
  check_defined(x, "masked_fill");
  check_defined(mask_arg, "masked_fill");
  const Tensor mask = on_device_of(mask_arg, x, "masked_fill");
  if (broadcast_shapes(x.shape(), mask.shape(), "masked_fill") != x.shape()) {
    throw std::invalid_argument("masked_fill: mask " + shape_str(mask.shape()) +
                                " cannot be broadcast to x " + shape_str(x.shape()));
  }
  return where(mask, full({}, value, x.dtype(), x.device()), x);
}

Tensor concat(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) throw std::invalid_argument("concat: no tensors given");
  const Tensor& first = tensors[0];
  check_defined(first, "concat");
  const int64_t d = normalize_dim(dim, first.dim(), "concat");
  Shape shape = first.shape();
  shape[d] = 0;
  for (const Tensor& t : tensors) {
    check_same(first, t, "concat");
    bool fits = t.dim() == first.dim();
    for (int64_t k = 0; fits && k < t.dim(); ++k) fits = k == d || t.size(k) == first.size(k);
    if (!fits) {
      throw std::invalid_argument("concat: shapes " + shape_str(first.shape()) + " and " +
                                  shape_str(t.shape()) + " differ outside dim " +
                                  std::to_string(d));
    }
    shape[d] += t.size(d);
  }
  Tensor out(shape, first.dtype(), first.device());
  int64_t start = 0;
  for (const Tensor& t : tensors) {
    out.narrow(d, start, t.size(d)).copy_(t);
    start += t.size(d);
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) throw std::invalid_argument("stack: no tensors given");
  const Tensor& first = tensors[0];
  check_defined(first, "stack");
  const int64_t d = normalize_dim(dim, first.dim() + 1, "stack");
  std::vector<Tensor> parts;
  for (const Tensor& t : tensors) {
    check_same(first, t, "stack");
    if (t.shape() != first.shape()) {
      throw std::invalid_argument("stack: shapes " + shape_str(first.shape()) + " and " +
                                  shape_str(t.shape()) + " differ");
    }
    parts.push_back(t.unsqueeze(d));
  }
  return concat(parts, d);
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index_arg) {
  check_defined(x, "gather");
  check_index(index_arg, "gather");
  const Tensor index = on_device_of(index_arg, x, "gather");
  check_rank(index, x.shape(), "gather", "x");
  const int64_t d = normalize_dim(dim, x.dim(), "gather");
  check_index_fits(index, x.shape(), d, "gather", "x");
  check_range_along(index_arg, d, x.size(d), "gather");
  Tensor out(index.shape(), x.dtype(), x.device());
  if (x.device() == Device::CUDA) {
    cuda::gather(x, d, index, out);
  } else {
    cpu::gather(x, d, index, out);
  }
  return out;
}

Tensor scatter_add(const Shape& shape, int64_t dim, const Tensor& index_arg, const Tensor& src) {
  check_index(index_arg, "scatter_add");
  check_defined(src, "scatter_add");
  const Tensor index = on_device_of(index_arg, src, "scatter_add");
  if (index.shape() != src.shape()) {
    throw std::invalid_argument("scatter_add: index " + shape_str(index.shape()) + " and src " +
                                shape_str(src.shape()) + " differ in shape");
  }
  check_rank(index, shape, "scatter_add", "shape");
  const int64_t d = normalize_dim(dim, index.dim(), "scatter_add");
  check_index_fits(index, shape, d, "scatter_add", "shape");
  check_range_along(index_arg, d, shape[d], "scatter_add");
  Tensor out = zeros(shape, src.dtype(), src.device());
  if (src.device() == Device::CUDA) {
    cuda::scatter_add(out, d, index, src);
  } else {
    cpu::scatter_add(out, d, index, src);
  }
  return out;
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index_arg) {
  check_defined(x, "index_select");
  check_index(index_arg, "index_select");
  const Tensor index = on_device_of(index_arg, x, "index_select");
  check_one_dim(index, "index_select");
  const int64_t d = normalize_dim(dim, x.dim(), "index_select");
  check_range_along(index_arg, d, x.size(d), "index_select");
  Shape shape = x.shape();
  shape[d] = index.numel();
  Tensor out(shape, x.dtype(), x.device());
  if (x.device() == Device::CUDA) {
    cuda::index_select(x.contiguous(), d, index.contiguous(), out);
  } else {
    cpu::index_select(x.contiguous(), d, index.contiguous(), out);
  }
  return out;
}

Tensor index_add(const Shape& shape, int64_t dim, const Tensor& index_arg, const Tensor& src) {
  check_index(index_arg, "index_add");
  check_defined(src, "index_add");
  const Tensor index = on_device_of(index_arg, src, "index_add");
  check_one_dim(index, "index_add");
  const int64_t d = normalize_dim(dim, static_cast<int64_t>(shape.size()), "index_add");
  Shape expected = shape;
  expected[d] = index.numel();
  if (src.shape() != expected) {
    throw std::invalid_argument("index_add: src " + shape_str(src.shape()) + " should be " +
                                shape_str(expected) + " for " + std::to_string(index.numel()) +
                                " indices into shape " + shape_str(shape) + " along dim " +
                                std::to_string(d));
  }
  check_range_along(index_arg, d, shape[d], "index_add");
  Tensor out = zeros(shape, src.dtype(), src.device());
  if (src.device() == Device::CUDA) {
    cuda::index_add(out, d, index.contiguous(), src.contiguous());
  } else {
    cpu::index_add(out, d, index.contiguous(), src.contiguous());
  }
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& ids_arg) {
  check_defined(weight, "embedding");
  check_index(ids_arg, "embedding");
  const Tensor ids = on_device_of(ids_arg, weight, "embedding");
  if (weight.dim() != 2) {
    throw std::invalid_argument("embedding: weight must be 2-D (V,E), got shape " +
                                shape_str(weight.shape()));
  }
  const int64_t vocab = weight.size(0), width = weight.size(1);
  check_range(ids_arg, vocab, [&](int64_t id) {
    return "embedding: id " + std::to_string(id) + " out of range for V=" + std::to_string(vocab) +
           " (weight " + shape_str(weight.shape()) + ")";
  });
  Shape shape = ids.shape();
  shape.push_back(width);
  Tensor out(shape, weight.dtype(), weight.device());  // ids.shape + (E)
  const Tensor flat_ids = ids.contiguous().reshape({ids.numel()});
  if (weight.device() == Device::CUDA) {
    cuda::index_select(weight.contiguous(), 0, flat_ids, out);
  } else {
    cpu::index_select(weight.contiguous(), 0, flat_ids, out);
  }
  return out;
}

}  // namespace tg
