// linalg.h — dense linear algebra beyond matmul, through LAPACK (OpenBLAS ships it).
//
// eigh: the eigen-decomposition of a real symmetric matrix, A = V diag(w) V^T, as
// numpy.linalg.eigh returns it:
//   values  (..., n)     eigenvalues w, ascending
//   vectors (..., n, n)  orthonormal eigenvectors, eigenvector i in COLUMN i:
//                        A V[:, i] = w_i V[:, i]
// The input is (n, n) or a batch (..., n, n) of f32 or f64 matrices on the CPU; the results have
// its dtype. Like numpy, only the lower triangle (row-major, a[i][j] with j <= i) is read: the
// input is assumed symmetric and its upper triangle is ignored. Each eigenvector's sign is
// whatever LAPACK returns (it is arbitrary).
// Errors: non-square or rank < 2 input, integer dtype, non-finite entries, LAPACK failing to
// converge — each an exception naming eigh and the shape.
#pragma once

#include "tensor/tensor.h"

namespace tg {

struct Eigh {
  Tensor values;   // (..., n)     ascending
  Tensor vectors;  // (..., n, n)  eigenvector i is vectors[..., :, i]
};

Eigh eigh(const Tensor& a);

}  // namespace tg
