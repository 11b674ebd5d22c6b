// matmul.cu — matmul and batched matmul on cuBLAS (strided-batched GEMM).
//
// Dimension letters: M, K, N as in (M, K) @ (K, N) -> (M, N); B = the number of matrices in the
// result (the product of its batch dims).
//
// Row-major through a column-major library by operand swap (C^T = B^T A^T), operands read in
// place through transpose flags and leading dimensions where their strides allow, the whole batch
// in one cublas<S|D>gemmStridedBatched call: the plan is made in gemm_plan.h (plain C++, checked
// by the CPU tests against a reference GEMM); this file only issues the call.
// f32 uses the default math mode (true f32, no TF32), so results match the CPU to f32 rounding.
#include <cublas_v2.h>

#include <climits>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "tensor/cuda/gemm_plan.h"
#include "tensor/cuda/launch.cuh"
#include "tensor/kernels.h"

#define CUBLAS_CHECK(call)                                                                        \
  do {                                                                                            \
    cublasStatus_t status_ = (call);                                                              \
    if (status_ != CUBLAS_STATUS_SUCCESS) {                                                       \
      throw std::runtime_error(std::string("cuBLAS error at ") + __FILE__ + ":" +                 \
                               std::to_string(__LINE__) + ": " + cublasGetStatusString(status_) + \
                               " (" #call ")");                                                   \
    }                                                                                             \
  } while (0)

namespace tg::cuda {

namespace {

// One handle for the process, on the default stream (created on first use).
cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t created = nullptr;
    CUBLAS_CHECK(cublasCreate(&created));
    return created;
  }();
  return h;
}

void check_int(int64_t v) {
  if (v > INT_MAX) {
    throw std::invalid_argument("matmul: size " + std::to_string(v) +
                                " exceeds cuBLAS's 32-bit interface");
  }
}

}  // namespace

void matmul(const Tensor& a, const Tensor& b, Tensor& out) {
  if (out.numel() == 0) return;
  if (a.size(-1) == 0) {  // K = 0: a sum of nothing
    fill(out, 0.0);
    return;
  }
  const GemmPlan p = plan_gemm(a, b, out);
  for (int64_t v : {p.M, p.N, p.K, p.B, p.a.ld, p.b.ld}) check_int(v);
  const int m = static_cast<int>(p.M), n = static_cast<int>(p.N), k = static_cast<int>(p.K);
  const int lda = static_cast<int>(p.a.ld), ldb = static_cast<int>(p.b.ld);
  const int batch = static_cast<int>(p.B);
  const cublasOperation_t op_a = p.a.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = p.b.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;

  dispatch_float(out.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    const T one = 1, zero = 0;
    const T* pa = p.a.t.device_data<T>();
    const T* pb = p.b.t.device_data<T>();
    // C^T (N, M) = op(b)^T (N, K) @ op(a)^T (K, M), column-major; ldc = N.
    if constexpr (std::is_same_v<T, float>) {
      CUBLAS_CHECK(cublasSgemmStridedBatched(handle(), op_b, op_a, n, m, k, &one, pb, ldb,
                                             p.b.batch_stride, pa, lda, p.a.batch_stride, &zero,
                                             out.device_data<T>(), n, p.M * p.N, batch));
    } else {
      CUBLAS_CHECK(cublasDgemmStridedBatched(handle(), op_b, op_a, n, m, k, &one, pb, ldb,
                                             p.b.batch_stride, pa, lda, p.a.batch_stride, &zero,
                                             out.device_data<T>(), n, p.M * p.N, batch));
    }
  });
}

}  // namespace tg::cuda
