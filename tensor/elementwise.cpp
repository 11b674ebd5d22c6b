// elementwise.cpp — unary, binary (broadcasting) and scalar elementwise ops: checks + dispatch.
//
// The kernels are in cpu/elementwise.cpp and cuda/elementwise.cu (one branch on the device); GELU,
// which has a fused backward of its own, is in gelu.cpp. A
// binary op broadcasts its operands as NumPy does: shapes are aligned from the right, and a size-1
// (or missing) dim stretches to match by a stride-0 view (expand), so nothing is copied. A 0-d CPU
// operand may meet a GPU one (PyTorch's rule for scalars).
#include <stdexcept>
#include <string>

#include "tensor/check.h"
#include "tensor/kernels.h"
#include "tensor/ops.h"

namespace tg {

const char* unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg:
      return "neg";
    case UnaryOp::Exp:
      return "exp";
    case UnaryOp::Log:
      return "log";
    case UnaryOp::Sqrt:
      return "sqrt";
    case UnaryOp::Rsqrt:
      return "rsqrt";
    case UnaryOp::Tanh:
      return "tanh";
    case UnaryOp::Sigmoid:
      return "sigmoid";
    case UnaryOp::Relu:
      return "relu";
    case UnaryOp::Abs:
      return "abs";
    case UnaryOp::Square:
      return "square";
    case UnaryOp::Reciprocal:
      return "reciprocal";
    case UnaryOp::Sign:
      return "sign";
  }
  return "unary";
}

const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add:
      return "add";
    case BinaryOp::Sub:
      return "sub";
    case BinaryOp::Mul:
      return "mul";
    case BinaryOp::Div:
      return "div";
    case BinaryOp::Maximum:
      return "maximum";
    case BinaryOp::Minimum:
      return "minimum";
    case BinaryOp::Pow:
      return "pow";
    case BinaryOp::Eq:
      return "eq";
    case BinaryOp::Ne:
      return "ne";
    case BinaryOp::Lt:
      return "lt";
    case BinaryOp::Le:
      return "le";
    case BinaryOp::Gt:
      return "gt";
    case BinaryOp::Ge:
      return "ge";
  }
  return "binary";
}

Tensor unary(UnaryOp op, const Tensor& x) {
  const char* name = unary_op_name(op);
  check_floating(x, name);
  Tensor out(x.shape(), x.dtype(), x.device());
  if (x.device() == Device::CUDA) {
    cuda::unary(op, x, out);
  } else {
    cpu::unary(op, x, out);
  }
  return out;
}

namespace {
// As in PyTorch, a 0-d CPU tensor (a scalar) may meet a tensor on another device: it is made
// there from its value (read on the host, no device sync; a fill kernel on the GPU).
Tensor scalar_on(const Tensor& t, const Tensor& other) {
  if (t.defined() && other.defined() && t.dim() == 0 && t.device() == Device::CPU &&
      other.device() != Device::CPU) {
    return full({}, t.item(), t.dtype(), other.device());
  }
  return t;
}
}  // namespace

Tensor binary(BinaryOp op, const Tensor& a_in, const Tensor& b_in) {
  const char* name = binary_op_name(op);
  const Tensor a = scalar_on(a_in, b_in), b = scalar_on(b_in, a_in);
  check_same(a, b, name);
  check_floating(a, name);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out(shape, a.dtype(), a.device());
  if (a.device() == Device::CUDA) {
    cuda::binary(op, a.expand(shape), b.expand(shape), out);
  } else {
    cpu::binary(op, a.expand(shape), b.expand(shape), out);
  }
  return out;
}

Tensor affine(const Tensor& x, double scale, double shift) {
  check_floating(x, "affine");
  Tensor out(x.shape(), x.dtype(), x.device());
  if (x.device() == Device::CUDA) {
    cuda::affine(x, scale, shift, out);
  } else {
    cpu::affine(x, scale, shift, out);
  }
  return out;
}

Tensor pow_scalar(const Tensor& x, double p) {
  check_floating(x, "pow_scalar");
  Tensor out(x.shape(), x.dtype(), x.device());
  if (x.device() == Device::CUDA) {
    cuda::pow_scalar(x, p, out);
  } else {
    cpu::pow_scalar(x, p, out);
  }
  return out;
}

Tensor clamp(const Tensor& x, double low, double high) {
  check_floating(x, "clamp");
  if (low > high) throw std::invalid_argument("clamp: low > high");
  Tensor out(x.shape(), x.dtype(), x.device());
  if (x.device() == Device::CUDA) {
    cuda::clamp(x, low, high, out);
  } else {
    cpu::clamp(x, low, high, out);
  }
  return out;
}

namespace {
void check_writable(const Tensor& a, const char* op) {
  for (int64_t d = 0; d < a.dim(); ++d) {
    if (a.stride(d) == 0 && a.size(d) > 1) {
      throw std::invalid_argument(std::string(op) + ": cannot write in place to an expanded " +
                                  "(broadcast) tensor of shape " + shape_str(a.shape()));
    }
  }
}
}  // namespace

Tensor& add_(Tensor& a, const Tensor& b, double alpha) {
  check_same(a, b, "add_");
  check_floating(a, "add_");
  check_writable(a, "add_");
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), "add_");
  if (shape != a.shape()) {
    throw std::invalid_argument("add_: cannot add " + shape_str(b.shape()) + " in place into " +
                                shape_str(a.shape()));
  }
  if (a.device() == Device::CUDA) {
    cuda::add_inplace(a, b.expand(a.shape()), alpha);
  } else {
    cpu::add_inplace(a, b.expand(a.shape()), alpha);
  }
  return a;
}

Tensor& mul_(Tensor& a, double c) {
  check_floating(a, "mul_");
  check_writable(a, "mul_");
  if (a.device() == Device::CUDA) {
    cuda::mul_inplace(a, c);
  } else {
    cpu::mul_inplace(a, c);
  }
  return a;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double c) { return affine(a, 1.0, c); }
Tensor operator-(const Tensor& a, double c) { return affine(a, 1.0, -c); }
Tensor operator*(const Tensor& a, double c) { return affine(a, c, 0.0); }
Tensor operator/(const Tensor& a, double c) { return affine(a, 1.0 / c, 0.0); }
Tensor operator*(double c, const Tensor& a) { return affine(a, c, 0.0); }

}  // namespace tg
