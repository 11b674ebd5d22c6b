// cpu/linear.cpp — y = x W^T + b on OpenBLAS (see cpu/linear.h).
#include "tensor/cpu/linear.h"

#include <cblas.h>

#include <cstring>

#include "tensor/dtype.h"

namespace tg::cpu {

void linear(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  const int M = static_cast<int>(x.size(0)), K = static_cast<int>(x.size(1));
  const int O = static_cast<int>(w.size(0));
  dispatch_float(x.dtype(), "linear", [&](auto tag) {
    using F = decltype(tag);
    F* yp = y.data<F>();
    const bool bias = b.defined();
    if (bias) {  // every row of y starts as b
      const F* bp = b.data<F>();
      for (int r = 0; r < M; ++r) std::memcpy(yp + static_cast<int64_t>(r) * O, bp, O * sizeof(F));
    }
    if constexpr (std::is_same_v<F, float>) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, O, K, 1.0f, x.data<F>(), K,
                  w.data<F>(), K, bias ? 1.0f : 0.0f, yp, O);
    } else {
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, O, K, 1.0, x.data<F>(), K,
                  w.data<F>(), K, bias ? 1.0 : 0.0, yp, O);
    }
  });
}

}  // namespace tg::cpu
