// tensor.h — the Tensor handle: shared storage + shape, strides, offset, dtype, device.
//
// A Tensor is cheap to copy: copies share the same Storage (like a shared_ptr). Views — reshape
// of a contiguous tensor, permute/transpose, narrow, expand, squeeze/unsqueeze — make a new
// handle over the same storage with other shape/strides/offset, and copy nothing. Element
// (i0, i1, ...) lives at  data[offset + i0*stride0 + i1*stride1 + ...]  (strides in elements).
// An expanded (broadcast) dim has stride 0. Operations that compute live in ops.h.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace tg {

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false; most ops reject it
  // A fresh contiguous tensor with uninitialised contents.
  Tensor(Shape shape, DType dtype = DType::F32, Device device = Device::CPU);
  // A view over existing storage.
  Tensor(std::shared_ptr<Storage> storage, Shape shape, Strides strides, int64_t offset,
         DType dtype);

  // --- metadata -------------------------------------------------------------------------------
  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  int64_t offset() const { return offset_; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::CPU; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const { return shape_numel(shape_); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  // "f32 (2,3) cpu" — for error messages.
  std::string describe() const;

  // Typed pointer to element (0, 0, ...), for reading and writing on the host: throws if T does
  // not match dtype() or if the tensor is not on the CPU (copy it with to(Device::CPU) first), so
  // host code can never dereference a GPU address.
  template <class T>
  T* data() const;
  void* raw_data() const;
  // The same address on the tensor's own device (a GPU address for a CUDA tensor), for backends
  // that hand it to their kernels (tensor/cuda/) or copies. Never dereference it on the host.
  template <class T>
  T* device_data() const;
  void* raw_device_data() const;

  // --- views (no copy) ------------------------------------------------------------------------
  // view: the same elements under a new shape; needs strides compatible with it (one -1 allowed).
  Tensor view(Shape shape) const;
  // reshape: a view when possible, otherwise a contiguous copy.
  Tensor reshape(Shape shape) const;
  Tensor permute(std::vector<int64_t> dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  // Elements [start, start+length) along dim.
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  // Python-style slice [start:end:step] along dim (negative start/end count from the end).
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  // Index one position along dim, dropping that dim.
  Tensor select(int64_t dim, int64_t index) const;
  // Broadcast size-1 dims (and new leading dims) to `shape` with stride 0.
  Tensor expand(Shape shape) const;
  Tensor squeeze(int64_t dim) const;
  Tensor squeeze() const;  // all size-1 dims
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten() const { return reshape({numel()}); }

  // --- copies ---------------------------------------------------------------------------------
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;       // always a fresh contiguous copy
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  // Copy src's elements into this tensor (shapes must match after broadcasting src). In place.
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(double value);

  // --- element access (CPU; slow, for tests and printing) ---------------------------------------
  double item() const;  // the single element of a one-element tensor
  double at(std::initializer_list<int64_t> index) const;
  std::vector<double> to_vector() const;  // row-major order

 private:
  // Throws, naming `accessor`, unless T is the element type of dtype().
  template <class T>
  void check_element_type(const char* accessor) const;

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Strides strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::F32;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::string to_string(const Tensor& t);

template <class T>
void Tensor::check_element_type(const char* accessor) const {
  if (dtype_of<T>() != dtype_) {
    throw std::invalid_argument(std::string(accessor) + ": requested " + dtype_name(dtype_of<T>()) +
                                " from a " + dtype_name(dtype_) + " tensor");
  }
}

template <class T>
T* Tensor::data() const {
  check_element_type<T>("data");
  return static_cast<T*>(raw_data());
}

template <class T>
T* Tensor::device_data() const {
  check_element_type<T>("device_data");
  return static_cast<T*>(raw_device_data());
}

}  // namespace tg
