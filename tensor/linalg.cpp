// linalg.cpp — eigh through LAPACK's divide-and-conquer symmetric eigensolver (dsyevd / ssyevd).
//
// LAPACK is column-major. A symmetric matrix stored row-major reads, column-major, as its own
// transpose — the same matrix — so a contiguous copy of the input goes to LAPACK unchanged (a
// copy, because LAPACK overwrites it). We pass uplo = 'U': LAPACK's column-major upper triangle
// is the row-major lower triangle, the triangle numpy.linalg.eigh reads.
// On return the buffer holds the eigenvectors column-major: element r of eigenvector i at
// buffer[i*n + r]. Read row-major that is V^T, so each n x n block is transposed into the result,
// which puts eigenvector i in column i. Eigenvalues come back ascending.
// Workspace sizes depend only on n: one query (lwork = liwork = -1) serves the whole batch.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/check.h"
#include "tensor/linalg.h"
#include "tensor/ops.h"

extern "C" {
// The Fortran symbols. The two trailing size_t are gfortran's hidden lengths of the character
// arguments jobz and uplo (both 1); passing them is the documented calling convention.
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
             double* work, const int* lwork, int* iwork, const int* liwork, int* info,
             size_t jobz_len, size_t uplo_len);
void ssyevd_(const char* jobz, const char* uplo, const int* n, float* a, const int* lda, float* w,
             float* work, const int* lwork, int* iwork, const int* liwork, int* info,
             size_t jobz_len, size_t uplo_len);
}

namespace tg {

namespace {

// One syevd call (jobz = 'V': values and vectors; uplo = 'U', see the top of the file).
// Returns LAPACK's info.
int syevd(int n, double* a, double* w, double* work, int lwork, int* iwork, int liwork) {
  int info = 0;
  dsyevd_("V", "U", &n, a, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
  return info;
}
int syevd(int n, float* a, float* w, float* work, int lwork, int* iwork, int liwork) {
  int info = 0;
  ssyevd_("V", "U", &n, a, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
  return info;
}

const char* lapack_name(double) { return "dsyevd"; }
const char* lapack_name(float) { return "ssyevd"; }

[[noreturn]] void lapack_failed(const char* routine, int info, int64_t index, const Tensor& a) {
  const std::string where = "eigh: LAPACK " + std::string(routine) + " on matrix " +
                            std::to_string(index) + " of " + a.describe() + ": ";
  if (info > 0) {
    throw std::runtime_error(where + "failed to converge (info = " + std::to_string(info) + ")");
  }
  throw std::logic_error(where + "illegal argument " + std::to_string(-info));
}

// Decompose `batch` contiguous n x n matrices, each overwritten by its eigenvectors (V^T when
// read row-major); eigenvalues to `values` (batch, n). `a` is the caller's input, for errors.
template <class T>
void eigh_batch(T* matrices /* (batch, n, n) */, T* values /* (batch, n) */, int64_t batch, int n,
                const Tensor& a) {
  // Workspace query: LAPACK writes the sizes it wants into work[0] and iwork[0].
  T work_size = 0;
  int iwork_size = 0;
  int info = syevd(n, matrices, values, &work_size, -1, &iwork_size, -1);
  if (info != 0) lapack_failed(lapack_name(T{}), info, 0, a);
  std::vector<T> work(static_cast<size_t>(std::ceil(static_cast<double>(work_size))) + 1);
  std::vector<int> iwork(static_cast<size_t>(iwork_size) + 1);
  const int lwork = static_cast<int>(work.size()), liwork = static_cast<int>(iwork.size());

  const int64_t nn = static_cast<int64_t>(n) * n;
  for (int64_t b = 0; b < batch; ++b) {
    info = syevd(n, matrices + b * nn, values + b * n, work.data(), lwork, iwork.data(), liwork);
    if (info != 0) lapack_failed(lapack_name(T{}), info, b, a);
  }
}

// out[b][r][c] = in[b][c][r] for each n x n block.
template <class T>
void transpose_blocks(const T* in, T* out, int64_t batch, int64_t n) {
  for (int64_t b = 0; b < batch; ++b) {
    const T* src = in + b * n * n;
    T* dst = out + b * n * n;
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t c = 0; c < n; ++c) dst[r * n + c] = src[c * n + r];
    }
  }
}

}  // namespace

Eigh eigh(const Tensor& a) {
  check_floating(a, "eigh");
  check_cpu(a, "eigh");
  if (a.dim() < 2 || a.size(-1) != a.size(-2)) {
    throw std::invalid_argument("eigh: expected a square matrix (n,n) or a batch (...,n,n), got " +
                                a.describe());
  }
  const int64_t n = a.size(-1);
  if (n > INT_MAX / std::max<int64_t>(n, 1)) {
    throw std::invalid_argument("eigh: matrix too large for LAPACK's 32-bit sizes: " +
                                a.describe());
  }
  if (!all_finite(a)) {
    throw std::invalid_argument("eigh: input has non-finite entries: " + a.describe());
  }
  Shape values_shape(a.shape().begin(), a.shape().end() - 1);  // (..., n)
  Eigh result{Tensor(values_shape, a.dtype()), Tensor(a.shape(), a.dtype())};
  const int64_t batch = n == 0 ? 0 : a.numel() / (n * n);
  if (batch == 0) return result;

  const Tensor work = a.clone();  // (..., n, n) LAPACK overwrites it with V^T
  dispatch_float(a.dtype(), "eigh", [&](auto tag) {
    using T = decltype(tag);
    eigh_batch<T>(work.data<T>(), result.values.data<T>(), batch, static_cast<int>(n), a);
    transpose_blocks<T>(work.data<T>(), result.vectors.data<T>(), batch, n);
  });
  return result;
}

}  // namespace tg
