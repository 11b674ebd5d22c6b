// tensor.cpp — the Tensor handle: metadata, views, copies, element access.
//
// Views only compute new (shape, strides, offset) over the same Storage. The one place elements
// move is copy_() (and contiguous/clone/to built on it), a strided copy that also converts dtype,
// on the CPU or the GPU (cuda::copy); across devices it moves contiguous bytes (cuda_copy).
#include "tensor/tensor.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "tensor/check.h"
#include "tensor/cpu/strided.h"
#include "tensor/kernels.h"

namespace tg {

void cuda_copy(void* dst, const void* src, int64_t nbytes, Device dst_device, Device src_device);

Tensor::Tensor(Shape shape, DType dtype, Device device) : shape_(std::move(shape)), dtype_(dtype) {
  for (int64_t s : shape_) {
    if (s < 0) throw std::invalid_argument("Tensor: negative size in shape " + shape_str(shape_));
  }
  require_device(device, "Tensor");
  strides_ = contiguous_strides(shape_);
  storage_ = std::make_shared<Storage>(numel() * dtype_size(dtype), device);
}

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, Strides strides, int64_t offset,
               DType dtype)
    : storage_(std::move(storage)),
      shape_(std::move(shape)),
      strides_(std::move(strides)),
      offset_(offset),
      dtype_(dtype) {}

int64_t Tensor::size(int64_t d) const { return shape_[normalize_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides_[normalize_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] != 1 && strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined";
  return std::string(dtype_name(dtype_)) + " " + shape_str(shape_) + " " + device_name(device());
}

void* Tensor::raw_device_data() const {
  if (!storage_) throw std::invalid_argument("data: undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * dtype_size(dtype_);
}

void* Tensor::raw_data() const {
  if (storage_ && storage_->device() != Device::CPU) {
    throw std::invalid_argument("data: " + describe() +
                                " is not on the CPU; copy it there first (to(Device::CPU))");
  }
  return raw_device_data();
}

// ------------------------------------------------------------------------------------ views

namespace {
// Resolve one -1 in a requested shape against the element count.
Shape infer_shape(Shape shape, int64_t numel, const Shape& from, const char* op) {
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer_at >= 0) throw std::invalid_argument(std::string(op) + ": only one -1 allowed");
      infer_at = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument(std::string(op) + ": invalid size in " + shape_str(shape));
    } else {
      known *= shape[i];
    }
  }
  if (infer_at >= 0) {
    if (known == 0 || numel % known != 0) {
      throw std::invalid_argument(std::string(op) + ": cannot view " + shape_str(from) + " as " +
                                  shape_str(shape));
    }
    shape[infer_at] = numel / known;
    known *= shape[infer_at];
  }
  if (known != numel) {
    throw std::invalid_argument(std::string(op) + ": cannot view " + shape_str(from) + " (" +
                                std::to_string(numel) + " elements) as " + shape_str(shape));
  }
  return shape;
}

// (shape, strides) without the size-1 dims, whose strides never matter.
std::pair<Shape, Strides> without_unit_dims(const Shape& shape, const Strides& strides) {
  std::pair<Shape, Strides> out;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] == 1) continue;
    out.first.push_back(shape[k]);
    out.second.push_back(strides[k]);
  }
  return out;
}

// Strides that view (shape, strides) as new_shape without moving elements, if such exist.
// Size-1 dims carry no information and are dropped first. Then both shapes are walked in groups
// of equal element count; the old dims inside one group must be chained (each stride = next
// stride * next size), and the new dims of the group get the chain's strides.
bool view_strides(const Shape& shape, const Strides& strides, const Shape& new_shape,
                  Strides& out) {
  out.assign(new_shape.size(), 1);
  if (shape_numel(shape) == 0) {
    out = contiguous_strides(new_shape);
    return true;
  }
  const auto [old_shape, old_strides] = without_unit_dims(shape, strides);
  size_t i = 0, j = 0;
  const size_t n = old_shape.size(), m = new_shape.size();
  while (j < m) {
    if (new_shape[j] == 1) {  // any stride works for a size-1 dim
      ++j;
      continue;
    }
    if (i >= n) return false;
    const size_t i0 = i, j0 = j;
    int64_t old_count = old_shape[i++], new_count = new_shape[j++];
    while (old_count != new_count) {
      if (old_count < new_count) {
        if (i >= n) return false;
        old_count *= old_shape[i++];
      } else {
        if (j >= m) return false;
        new_count *= new_shape[j++];
      }
    }
    for (size_t k = i0; k + 1 < i; ++k) {
      if (old_strides[k] != old_strides[k + 1] * old_shape[k + 1]) return false;
    }
    int64_t stride = old_strides[i - 1];
    for (size_t k = j; k-- > j0;) {
      out[k] = stride;
      stride *= new_shape[k];
    }
  }
  return i == n;
}
}  // namespace

Tensor Tensor::view(Shape shape) const {
  check_defined(*this, "view");
  shape = infer_shape(std::move(shape), numel(), shape_, "view");
  Strides strides;
  if (!view_strides(shape_, strides_, shape, strides)) {
    throw std::invalid_argument("view: cannot view " + shape_str(shape_) + " with strides " +
                                shape_str(strides_) + " as " + shape_str(shape) +
                                " without a copy (use reshape)");
  }
  return Tensor(storage_, std::move(shape), std::move(strides), offset_, dtype_);
}

Tensor Tensor::reshape(Shape shape) const {
  check_defined(*this, "reshape");
  shape = infer_shape(std::move(shape), numel(), shape_, "reshape");
  Strides strides;
  if (view_strides(shape_, strides_, shape, strides)) {
    return Tensor(storage_, std::move(shape), std::move(strides), offset_, dtype_);
  }
  return contiguous().view(std::move(shape));
}

Tensor Tensor::permute(std::vector<int64_t> dims) const {
  check_defined(*this, "permute");
  if (static_cast<int64_t>(dims.size()) != dim()) {
    throw std::invalid_argument("permute: " + std::to_string(dims.size()) +
                                " dims given for a tensor of shape " + shape_str(shape_));
  }
  Shape shape(dims.size());
  Strides strides(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = normalize_dim(dims[i], dim(), "permute");
    if (seen[d]) throw std::invalid_argument("permute: dim " + std::to_string(d) + " repeated");
    seen[d] = true;
    shape[i] = shape_[d];
    strides[i] = strides_[d];
  }
  return Tensor(storage_, std::move(shape), std::move(strides), offset_, dtype_);
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  check_defined(*this, "transpose");
  const int64_t a = normalize_dim(dim0, dim(), "transpose");
  const int64_t b = normalize_dim(dim1, dim(), "transpose");
  Shape shape = shape_;
  Strides strides = strides_;
  std::swap(shape[a], shape[b]);
  std::swap(strides[a], strides[b]);
  return Tensor(storage_, std::move(shape), std::move(strides), offset_, dtype_);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  check_defined(*this, "narrow");
  d = normalize_dim(d, dim(), "narrow");
  if (start < 0 || length < 0 || start + length > shape_[d]) {
    throw std::out_of_range("narrow: range [" + std::to_string(start) + ", " +
                            std::to_string(start + length) + ") out of bounds for dim " +
                            std::to_string(d) + " of shape " + shape_str(shape_));
  }
  Shape shape = shape_;
  shape[d] = length;
  return Tensor(storage_, std::move(shape), strides_, offset_ + start * strides_[d], dtype_);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  check_defined(*this, "slice");
  d = normalize_dim(d, dim(), "slice");
  if (step <= 0) throw std::invalid_argument("slice: step must be positive");
  const int64_t n = shape_[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = shape_;
  Strides strides = strides_;
  shape[d] = (end - start + step - 1) / step;
  strides[d] *= step;
  return Tensor(storage_, std::move(shape), std::move(strides), offset_ + start * strides_[d],
                dtype_);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  check_defined(*this, "select");
  d = normalize_dim(d, dim(), "select");
  if (index < 0) index += shape_[d];
  if (index < 0 || index >= shape_[d]) {
    throw std::out_of_range("select: index " + std::to_string(index) + " out of range for dim " +
                            std::to_string(d) + " of shape " + shape_str(shape_));
  }
  return narrow(d, index, 1).squeeze(d);
}

Tensor Tensor::expand(Shape shape) const {
  check_defined(*this, "expand");
  if (shape.size() < shape_.size()) {
    throw std::invalid_argument("expand: cannot expand " + shape_str(shape_) + " to " +
                                shape_str(shape) + " (fewer dims)");
  }
  const size_t lead = shape.size() - shape_.size();
  Strides strides(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      if (shape[i] < 0) throw std::invalid_argument("expand: -1 not allowed in a new leading dim");
      continue;  // new leading dim: stride 0
    }
    const int64_t have = shape_[i - lead];
    if (shape[i] == -1) shape[i] = have;
    if (have == shape[i]) {
      strides[i] = strides_[i - lead];
    } else if (have != 1) {
      throw std::invalid_argument("expand: cannot expand " + shape_str(shape_) + " to " +
                                  shape_str(shape));
    }
  }
  return Tensor(storage_, std::move(shape), std::move(strides), offset_, dtype_);
}

Tensor Tensor::squeeze(int64_t d) const {
  check_defined(*this, "squeeze");
  d = normalize_dim(d, dim(), "squeeze");
  if (shape_[d] != 1) return *this;  // as in PyTorch: squeezing a non-1 dim is a no-op
  Shape shape = shape_;
  Strides strides = strides_;
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return Tensor(storage_, std::move(shape), std::move(strides), offset_, dtype_);
}

Tensor Tensor::squeeze() const {
  check_defined(*this, "squeeze");
  auto [shape, strides] = without_unit_dims(shape_, strides_);
  return Tensor(storage_, std::move(shape), std::move(strides), offset_, dtype_);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  check_defined(*this, "unsqueeze");
  d = normalize_dim(d, dim() + 1, "unsqueeze");
  Shape shape = shape_;
  Strides strides = strides_;
  const int64_t stride = d < dim() ? strides_[d] * shape_[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return Tensor(storage_, std::move(shape), std::move(strides), offset_, dtype_);
}

// ------------------------------------------------------------------------------------ copies

Tensor& Tensor::copy_(const Tensor& src) {
  check_defined(*this, "copy_");
  check_defined(src, "copy_");
  if (src.device() != device()) {
    // Across devices only raw bytes move: a contiguous, same-dtype, same-shape pair is one
    // cudaMemcpy; anything else is first staged as such a copy on the destination device.
    require_device(Device::CUDA, "copy_");
    const Tensor s =
        src.expand(shape_).contiguous();  // on src's device; throws if not broadcastable
    if (is_contiguous() && s.dtype() == dtype_) {
      cuda_copy(raw_device_data(), s.raw_device_data(), numel() * dtype_size(dtype_), device(),
                s.device());
      return *this;
    }
    Tensor staged(shape_, s.dtype(), device());
    cuda_copy(staged.raw_device_data(), s.raw_device_data(), numel() * dtype_size(s.dtype()),
              device(), s.device());
    return copy_(staged);
  }
  if (device() == Device::CUDA) {
    // A broadcast (stride-0) destination would have many GPU threads write one element with
    // different values: refuse it instead of racing.
    for (size_t d = 0; d < shape_.size(); ++d) {
      if (strides_[d] == 0 && shape_[d] > 1) {
        throw std::invalid_argument("copy_: destination " + describe() +
                                    " is a broadcast view (stride 0); copy into a tensor that "
                                    "owns its elements");
      }
    }
    cuda::copy(src.expand(shape_), *this);
    return *this;
  }
  const Tensor s = src.expand(shape_);  // broadcast src, or throw
  cpu::StridedLoop<2> loop(shape_, {strides_, s.strides()});
  dispatch_all(dtype_, [&](auto dst_tag) {
    using D = decltype(dst_tag);
    D* dst = data<D>();
    dispatch_all(s.dtype(), [&](auto src_tag) {
      using S = decltype(src_tag);
      const S* from = s.data<S>();
      cpu::for_each_row(loop, [&](auto off, int64_t n, auto st) {
        D* o = dst + off[0];
        const S* i = from + off[1];
        if (st[0] == 1 && st[1] == 1 && std::is_same_v<D, S>) {
          std::memcpy(o, i, n * sizeof(D));
        } else {
          for (int64_t k = 0; k < n; ++k) o[k * st[0]] = static_cast<D>(i[k * st[1]]);
        }
      });
    });
  });
  return *this;
}

Tensor& Tensor::fill_(double value) {
  check_defined(*this, "fill_");
  if (device() == Device::CUDA) {
    cuda::fill(*this, value);
    return *this;
  }
  cpu::StridedLoop<1> loop(shape_, {strides_});
  dispatch_all(dtype_, [&](auto tag) {
    using T = decltype(tag);
    T* p = data<T>();
    const T v = static_cast<T>(value);
    cpu::for_each_row(loop, [&](auto off, int64_t n, auto st) {
      for (int64_t k = 0; k < n; ++k) p[off[0] + k * st[0]] = v;
    });
  });
  return *this;
}

Tensor Tensor::contiguous() const {
  check_defined(*this, "contiguous");
  return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
  check_defined(*this, "clone");
  Tensor out(shape_, dtype_, device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType dtype) const {
  check_defined(*this, "to");
  if (dtype == dtype_) return *this;
  Tensor out(shape_, dtype, device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(Device device) const {
  check_defined(*this, "to");
  if (device == this->device()) return *this;
  require_device(device, "to");
  Tensor src = contiguous();
  Tensor out(shape_, dtype_, device);
  out.copy_(src);
  return out;
}

// ------------------------------------------------------------------------------------ access

double Tensor::item() const {
  check_defined(*this, "item");
  if (numel() != 1) {
    throw std::invalid_argument("item: tensor of shape " + shape_str(shape_) + " has " +
                                std::to_string(numel()) + " elements, not 1");
  }
  return to_vector()[0];
}

double Tensor::at(std::initializer_list<int64_t> index) const {
  check_defined(*this, "at");
  if (static_cast<int64_t>(index.size()) != dim()) {
    throw std::invalid_argument("at: " + std::to_string(index.size()) +
                                " indices for a tensor of shape " + shape_str(shape_));
  }
  Tensor t = device() == Device::CPU ? *this : to(Device::CPU);
  int64_t off = t.offset_;
  int64_t d = 0;
  for (int64_t i : index) {
    if (i < 0 || i >= shape_[d]) {
      throw std::out_of_range("at: index " + std::to_string(i) + " out of range for dim " +
                              std::to_string(d) + " of shape " + shape_str(shape_));
    }
    off += i * t.strides_[d++];
  }
  return dispatch_all(dtype_, [&](auto tag) {
    using T = decltype(tag);
    return static_cast<double>(static_cast<const T*>(t.storage_->data())[off]);
  });
}

std::vector<double> Tensor::to_vector() const {
  check_defined(*this, "to_vector");
  Tensor t = device() == Device::CPU ? *this : to(Device::CPU);
  Tensor f64(shape_, DType::F64);
  f64.copy_(t);
  const double* p = f64.data<double>();
  return std::vector<double>(p, p + numel());
}

// ------------------------------------------------------------------------------------ printing

namespace {
void print_rec(std::ostream& os, const std::vector<double>& v, const Shape& shape, size_t d,
               int64_t& pos, int indent, bool integer) {
  if (d == shape.size()) {
    if (integer) {
      os << static_cast<int64_t>(v[pos++]);
    } else {
      os << v[pos++];
    }
    return;
  }
  os << "[";
  for (int64_t i = 0; i < shape[d]; ++i) {
    if (i) {
      os << ",";
      if (d + 1 < shape.size()) {
        os << "\n" << std::string(indent + 1, ' ');
      } else {
        os << " ";
      }
    }
    print_rec(os, v, shape, d + 1, pos, indent + 1, integer);
  }
  os << "]";
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  std::ostringstream body;
  body.precision(6);
  int64_t pos = 0;
  print_rec(body, t.to_vector(), t.shape(), 0, pos, 7, t.dtype() == DType::I64);
  return os << "tensor(" << body.str() << ", dtype=" << dtype_name(t.dtype())
            << ", shape=" << shape_str(t.shape()) << ", device=" << device_name(t.device()) << ")";
}

std::string to_string(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

}  // namespace tg
