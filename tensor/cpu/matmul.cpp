// cpu/matmul.cpp — matmul on OpenBLAS: strides become transpose flags, batches become loops.
//
// Dimension letters: M, K, N as in (M, K) @ (K, N) -> (M, N); B = the number of matrices in the
// result (the product of its batch dims).
//
// How an operand reaches cblas_sgemm / cblas_dgemm (row-major):
//   - its last two dims must be a matrix BLAS can read in place: strides (ld, 1) with ld >= cols
//     is "NoTrans" (an ordinary row-major matrix, possibly a slice of a wider one); strides
//     (1, ld) with ld >= rows is "Trans" (a transposed view such as x.transpose(-1, -2)).
//     Anything else (a column step, a stride-0 matrix dim) is copied to contiguous first;
//   - its batch dims never need a copy: the offset of matrix b is computed from the strides —
//     one multiplication when the batch dims collapse to one stride, 0 when broadcast.
// How the work is spread over the cores:
//   - one matrix, or (B..., M, K) @ (K, N) with a's batch and M dims collapsing to one stride
//     (the batch folds into M): one gemm, which uses BLAS's threads;
//   - many small matrices (attention: (B, T, hs) @ (B, hs, T)): an OpenMP loop over the batch.
//     Inside a parallel region the OpenMP build of OpenBLAS runs single-threaded, so each core
//     multiplies whole matrices and nothing is oversubscribed;
//   - few large matrices: a plain loop, each gemm using BLAS's threads.
#include "tensor/kernels.h"

#include <cblas.h>

#include <climits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "tensor/cpu/parallel.h"
#include "tensor/dtype.h"

namespace tg::cpu {

namespace {

// How BLAS reads a (rows, cols) matrix: transpose flag and leading dimension.
struct BlasLayout {
  CBLAS_TRANSPOSE trans;
  int64_t ld;
};

// The layout of a (rows, cols) matrix with these strides, if BLAS can read it without a copy.
// A size-1 dim's stride never matters (any ld >= the other size is valid there).
std::optional<BlasLayout> blas_layout(int64_t rows, int64_t cols, int64_t row_stride,
                                      int64_t col_stride) {
  if ((col_stride == 1 || cols == 1) && (rows == 1 || row_stride >= cols)) {
    return BlasLayout{CblasNoTrans, rows == 1 ? cols : row_stride};
  }
  if ((row_stride == 1 || rows == 1) && (cols == 1 || col_stride >= rows)) {
    return BlasLayout{CblasTrans, cols == 1 ? rows : col_stride};
  }
  return std::nullopt;
}

// If dims of these sizes and strides walk memory as one dim (each stride = the next stride times
// the next size, size-1 dims ignored), the stride of that dim; broadcast dims (stride 0) count.
std::optional<int64_t> single_stride(const Shape& sizes, const Strides& strides) {
  int64_t stride = 0, count = 1;  // of the merged inner dims
  bool first = true;
  for (size_t d = sizes.size(); d-- > 0;) {
    if (sizes[d] == 1) continue;
    if (first) {
      stride = strides[d];
      first = false;
    } else if (strides[d] != stride * count) {
      return std::nullopt;
    }
    count *= sizes[d];
  }
  return stride;
}

// Element offset of matrix i (0 <= i < B) of an operand whose batch dims broadcast to `batch`.
class BatchOffsets {
 public:
  BatchOffsets(const Tensor& t, const Shape& batch) : sizes_(batch) {
    const int64_t lead = static_cast<int64_t>(batch.size()) - (t.dim() - 2);
    for (int64_t d = 0; d < static_cast<int64_t>(batch.size()); ++d) {
      const int64_t td = d - lead;  // the matching dim of t, if any
      strides_.push_back(td >= 0 && t.size(td) != 1 ? t.stride(td) : 0);
    }
    collapsed_ = single_stride(sizes_, strides_);
  }
  int64_t operator()(int64_t i) const {
    if (collapsed_) return i * *collapsed_;
    int64_t offset = 0;
    for (size_t d = sizes_.size(); d-- > 0;) {
      offset += (i % sizes_[d]) * strides_[d];
      i /= sizes_[d];
    }
    return offset;
  }
  bool broadcast() const { return collapsed_ && *collapsed_ == 0; }

 private:
  Shape sizes_;
  Strides strides_;                   // 0 where the operand is broadcast
  std::optional<int64_t> collapsed_;  // the one stride, when the batch dims collapse
};

void check_blas_int(int64_t v) {
  if (v > INT_MAX) {
    throw std::invalid_argument("matmul: size " + std::to_string(v) +
                                " exceeds the 32-bit BLAS interface");
  }
}

// C (M, N) = op(A) (M, K) @ op(B) (K, N), C row-major with leading dimension ldc.
template <class T>
void gemm(const BlasLayout& la, const BlasLayout& lb, int64_t M, int64_t N, int64_t K, const T* a,
          const T* b, T* c, int64_t ldc) {
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  const int lda = static_cast<int>(la.ld), ldb = static_cast<int>(lb.ld);
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, la.trans, lb.trans, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c,
                static_cast<int>(ldc));
  } else {
    cblas_dgemm(CblasRowMajor, la.trans, lb.trans, m, n, k, 1.0, a, lda, b, ldb, 0.0, c,
                static_cast<int>(ldc));
  }
}

// The layout of t's last two dims, copying t to contiguous when BLAS cannot read it in place.
BlasLayout matrix_layout(Tensor& t) {
  const int64_t rows = t.size(-2), cols = t.size(-1);
  if (auto layout = blas_layout(rows, cols, t.stride(-2), t.stride(-1))) return *layout;
  t = t.contiguous();
  return *blas_layout(rows, cols, t.stride(-2), t.stride(-1));
}

// When b is one matrix for the whole batch and a's (B..., M) dims collapse to one stride, a is
// one (B*M, K) matrix: its layout, if BLAS can read it.
std::optional<BlasLayout> folded_layout(const Tensor& a, const Shape& batch,
                                        const BatchOffsets& b_offsets) {
  if (!b_offsets.broadcast() || Shape(a.shape().begin(), a.shape().end() - 2) != batch) {
    return std::nullopt;
  }
  Shape sizes(a.shape().begin(), a.shape().end() - 1);  // (B..., M)
  Strides strides(a.strides().begin(), a.strides().end() - 1);
  const std::optional<int64_t> row_stride = single_stride(sizes, strides);
  if (!row_stride) return std::nullopt;
  return blas_layout(shape_numel(sizes), a.size(-1), *row_stride, a.stride(-1));
}

}  // namespace

void matmul(const Tensor& a_in, const Tensor& b_in, Tensor& out) {
  const int64_t M = out.size(-2), N = out.size(-1), K = a_in.size(-1);
  if (out.numel() == 0) return;
  if (K == 0) {
    out.fill_(0.0);
    return;
  }
  Tensor a = a_in, b = b_in;  // (..., M, K), (..., K, N)
  const BlasLayout la = matrix_layout(a);
  const BlasLayout lb = matrix_layout(b);
  const Shape batch(out.shape().begin(), out.shape().end() - 2);  // (B...)
  const int64_t B = shape_numel(batch);
  const BatchOffsets a_offsets(a, batch), b_offsets(b, batch);
  for (int64_t v : {M, N, K, la.ld, lb.ld}) check_blas_int(v);

  dispatch_float(out.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = out.data<T>();  // (B, M, N)
    if (B > 1) {
      if (const std::optional<BlasLayout> folded = folded_layout(a, batch, b_offsets)) {
        check_blas_int(B * M);
        check_blas_int(folded->ld);
        gemm(*folded, lb, B * M, N, K, pa, pb, pc, N);  // (B*M, K) @ (K, N)
        return;
      }
    }
    auto one = [&](int64_t i) {
      gemm(la, lb, M, N, K, pa + a_offsets(i), pb + b_offsets(i), pc + i * M * N, N);
    };
    // Parallel over the batch when each matrix is too small for BLAS's threads (cpu/parallel.h)
    // and the whole batch is worth a parallel region.
    if (B > 1 && M * N * K <= kParallelGemmWork && B * M * N * K >= kParallelWork) {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < B; ++i) one(i);
    } else {
      for (int64_t i = 0; i < B; ++i) one(i);
    }
  });
}

}  // namespace tg::cpu
