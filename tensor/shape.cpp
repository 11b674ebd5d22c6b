// shape.cpp — see shape.h.
#include "tensor/shape.h"

#include <stdexcept>

namespace tg {

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + ")";
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Strides contiguous_strides(const Shape& shape) {
  Strides strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i] > 0 ? shape[i] : 1;
  }
  return strides;
}

int64_t normalize_dim(int64_t dim, int64_t rank, const char* op) {
  int64_t d = dim < 0 ? dim + rank : dim;
  if (d < 0 || d >= rank) {
    throw std::out_of_range(std::string(op) + ": dim " + std::to_string(dim) +
                            " out of range for a tensor of rank " + std::to_string(rank));
  }
  return d;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Align from the right: a missing leading dim counts as size 1.
    int64_t sa = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t sb = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (sa != sb && sa != 1 && sb != 1) {
      throw std::invalid_argument(std::string(op) + ": shapes " + shape_str(a) + " and " +
                                  shape_str(b) + " cannot be broadcast");
    }
    out[i] = sa == 1 ? sb : sa;
  }
  return out;
}

std::vector<int64_t> broadcast_reduce_dims(const Shape& shape, const Shape& target,
                                           const char* op) {
  if (target.size() > shape.size()) {
    throw std::invalid_argument(std::string(op) + ": cannot reduce shape " + shape_str(shape) +
                                " to " + shape_str(target));
  }
  std::vector<int64_t> dims;
  const size_t lead = shape.size() - target.size();
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      dims.push_back(static_cast<int64_t>(i));
    } else if (target[i - lead] == 1 && shape[i] != 1) {
      dims.push_back(static_cast<int64_t>(i));
    } else if (target[i - lead] != shape[i]) {
      throw std::invalid_argument(std::string(op) + ": cannot reduce shape " + shape_str(shape) +
                                  " to " + shape_str(target));
    }
  }
  return dims;
}

Around around(const Shape& shape, int64_t dim) {
  Around s;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    (d < dim ? s.outer : d == dim ? s.at : s.inner) *= shape[d];
  }
  return s;
}

}  // namespace tg
