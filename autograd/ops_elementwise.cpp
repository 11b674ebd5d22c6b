// ops_elementwise.cpp — differentiable elementwise ops, each forward above its backward.
//
// Notation: x, a, b inputs; y the output; g = dL/dy (y's shape). A rule returns dL/dinput, which
// may still have the broadcast output shape; the engine sums it back to the input's shape.
// Rules capture the Tensors they need (inputs or output), never Variables.
#include <cmath>

#include "autograd/ops.h"

namespace tg::ag {

using Grads = std::vector<Tensor>;
using Needs = std::vector<bool>;

// ---- neg: y = -x
Variable neg(const Variable& x) {
  return make_op("neg", tg::neg(x.value()), {x},
                 [](const Tensor& g, const Needs&) -> Grads { return {tg::neg(g)}; });
}

// ---- exp: y = e^x
Variable exp(const Variable& x) {
  Tensor y = tg::exp(x.value());
  return make_op("exp", y, {x}, [y](const Tensor& g, const Needs&) -> Grads {
    return {tg::mul(g, y)};  // dy/dx = e^x = y
  });
}

// ---- log: y = ln x
Variable log(const Variable& x) {
  const Tensor xv = x.value();
  return make_op("log", tg::log(xv), {x}, [xv](const Tensor& g, const Needs&) -> Grads {
    return {tg::div(g, xv)};  // dy/dx = 1/x
  });
}

// ---- sqrt: y = x^(1/2)
Variable sqrt(const Variable& x) {
  Tensor y = tg::sqrt(x.value());
  return make_op("sqrt", y, {x}, [y](const Tensor& g, const Needs&) -> Grads {
    return {tg::div(g, tg::mul_scalar(y, 2.0))};  // dy/dx = 1 / (2 sqrt x)
  });
}

// ---- tanh: y = tanh x
Variable tanh(const Variable& x) {
  Tensor y = tg::tanh(x.value());
  return make_op("tanh", y, {x}, [y](const Tensor& g, const Needs&) -> Grads {
    return {tg::mul(g, tg::affine(tg::square(y), -1.0, 1.0))};  // dy/dx = 1 - y^2
  });
}

// ---- sigmoid: y = 1 / (1 + e^-x)
Variable sigmoid(const Variable& x) {
  Tensor y = tg::sigmoid(x.value());
  return make_op("sigmoid", y, {x}, [y](const Tensor& g, const Needs&) -> Grads {
    return {tg::mul(g, tg::mul(y, tg::affine(y, -1.0, 1.0)))};  // dy/dx = y (1 - y)
  });
}

// ---- relu: y = max(x, 0)
Variable relu(const Variable& x) {
  const Tensor xv = x.value();
  return make_op("relu", tg::relu(xv), {x}, [xv](const Tensor& g, const Needs&) -> Grads {
    // dy/dx = 1 where x > 0, else 0 (0 at the kink, as PyTorch)
    return {tg::mul(g, tg::gt(xv, zeros({}, xv.dtype())))};
  });
}

// ---- abs: y = |x|
Variable abs(const Variable& x) {
  const Tensor xv = x.value();
  return make_op("abs", tg::abs(xv), {x}, [xv](const Tensor& g, const Needs&) -> Grads {
    return {tg::mul(g, tg::sign(xv))};  // dy/dx = sign(x) (0 at 0)
  });
}

// ---- square: y = x^2
Variable square(const Variable& x) {
  const Tensor xv = x.value();
  return make_op("square", tg::square(xv), {x}, [xv](const Tensor& g, const Needs&) -> Grads {
    return {tg::mul(g, tg::mul_scalar(xv, 2.0))};  // dy/dx = 2x
  });
}

// ---- gelu (tanh form): y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
Variable gelu(const Variable& x) {
  const Tensor xv = x.value();
  return make_op("gelu", tg::gelu(xv), {x}, [xv](const Tensor& g, const Needs&) -> Grads {
    return {tg::gelu_backward(g, xv)};  // fused g * gelu'(x), derived in tensor/cpu/gelu.cpp
  });
}

// ---- pow_scalar: y = x^p
Variable pow_scalar(const Variable& x, double p) {
  const Tensor xv = x.value();
  return make_op(
      "pow_scalar", tg::pow_scalar(xv, p), {x}, [xv, p](const Tensor& g, const Needs&) -> Grads {
        return {tg::mul(g, tg::mul_scalar(tg::pow_scalar(xv, p - 1.0), p))};  // p x^(p-1)
      });
}

// ---- affine: y = x * scale + shift
Variable affine(const Variable& x, double scale, double shift) {
  return make_op(
      "affine", tg::affine(x.value(), scale, shift), {x},
      [scale](const Tensor& g, const Needs&) -> Grads { return {tg::mul_scalar(g, scale)}; });
}

// ---- clamp: y = min(max(x, low), high)
Variable clamp(const Variable& x, double low, double high) {
  const Tensor xv = x.value();
  return make_op("clamp", tg::clamp(xv, low, high), {x},
                 [xv, low, high](const Tensor& g, const Needs&) -> Grads {
                   // gradient passes where low <= x <= high
                   const Tensor inside = tg::mul(tg::ge(xv, full({}, low, xv.dtype())),
                                                 tg::le(xv, full({}, high, xv.dtype())));
                   return {tg::mul(g, inside)};
                 });
}

// ---- add: y = a + b
Variable add(const Variable& a, const Variable& b) {
  return make_op("add", tg::add(a.value(), b.value()), {a, b},
                 [](const Tensor& g, const Needs&) -> Grads {
                   return {g, g};
                 });
}

// ---- sub: y = a - b
Variable sub(const Variable& a, const Variable& b) {
  return make_op("sub", tg::sub(a.value(), b.value()), {a, b},
                 [](const Tensor& g, const Needs& needs) -> Grads {
                   return {g, needs[1] ? tg::neg(g) : Tensor()};
                 });
}

// ---- mul: y = a * b
Variable mul(const Variable& a, const Variable& b) {
  const Tensor av = a.value(), bv = b.value();
  return make_op("mul", tg::mul(av, bv), {a, b},
                 [av, bv](const Tensor& g, const Needs& needs) -> Grads {
                   return {needs[0] ? tg::mul(g, bv) : Tensor(),   // dy/da = b
                           needs[1] ? tg::mul(g, av) : Tensor()};  // dy/db = a
                 });
}

// ---- div: y = a / b
Variable div(const Variable& a, const Variable& b) {
  const Tensor av = a.value(), bv = b.value();
  Tensor y = tg::div(av, bv);
  return make_op("div", y, {a, b}, [y, bv](const Tensor& g, const Needs& needs) -> Grads {
    const Tensor ga = tg::div(g, bv);  // dy/da = 1/b
    // dy/db = -a/b^2 = -y/b
    return {needs[0] ? ga : Tensor(), needs[1] ? tg::neg(tg::mul(ga, y)) : Tensor()};
  });
}

// ---- maximum / minimum: y = max(a, b); the gradient goes to the larger, half each on a tie
namespace {
Variable extremum(const char* op, const Variable& a, const Variable& b, bool is_max) {
  const Tensor av = a.value(), bv = b.value();
  Tensor y = is_max ? tg::maximum(av, bv) : tg::minimum(av, bv);
  return make_op(op, y, {a, b}, [av, bv, is_max](const Tensor& g, const Needs& needs) -> Grads {
    const Tensor wins = is_max ? tg::gt(av, bv) : tg::lt(av, bv);
    const Tensor ties = tg::eq(av, bv);
    const Tensor share_a = tg::add(wins, tg::mul_scalar(ties, 0.5));  // 1, 1/2 or 0
    Tensor ga = tg::mul(g, share_a);
    Tensor gb = needs[1] ? tg::sub(g, ga) : Tensor();  // share_b = 1 - share_a
    return {needs[0] ? ga : Tensor(), gb};
  });
}
}  // namespace

Variable maximum(const Variable& a, const Variable& b) { return extremum("maximum", a, b, true); }
Variable minimum(const Variable& a, const Variable& b) { return extremum("minimum", a, b, false); }

// ---- operators
namespace {
Variable constant_like(const Variable& x, double c) {
  return Variable(full({}, c, x.dtype(), x.device()), false);
}
}  // namespace

Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
Variable operator-(const Variable& x) { return neg(x); }
Variable operator+(const Variable& a, double c) { return affine(a, 1.0, c); }
Variable operator-(const Variable& a, double c) { return affine(a, 1.0, -c); }
Variable operator*(const Variable& a, double c) { return affine(a, c, 0.0); }
Variable operator/(const Variable& a, double c) {
  if (c == 0.0) return div(a, constant_like(a, c));  // inf/nan, as the tensor op would give
  return affine(a, 1.0 / c, 0.0);
}
Variable operator*(double c, const Variable& a) { return affine(a, c, 0.0); }

}  // namespace tg::ag
