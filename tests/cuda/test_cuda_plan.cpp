// test_cuda_plan.cpp — the host-side index arithmetic of the CUDA backend, checked on the CPU.
//
// These run everywhere (no GPU needed): the strided N-d index every CUDA kernel uses
// (cuda/strided.h) against a direct computation, and the cuBLAS call plan of matmul
// (cuda/gemm_plan.h) replayed through a reference column-major strided-batched GEMM written from
// cuBLAS's documented semantics, against the CPU matmul. What they cannot check is the GPU code
// itself; the parity tests do that where a GPU exists.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <functional>

#include "tensor/cuda/gemm_plan.h"
#include "tensor/cuda/strided.h"
#include "tensor/ops.h"

using namespace tg;

namespace {

// Offset of element `linear` (row-major over shape) with these strides, directly.
int64_t direct_offset(const Shape& shape, const Strides& strides, int64_t linear) {
  int64_t off = 0;
  for (size_t d = shape.size(); d-- > 0;) {
    off += (linear % shape[d]) * strides[d];
    linear /= shape[d];
  }
  return off;
}

void check_strided(const std::vector<Tensor>& ts) {
  const Shape& shape = ts[0].shape();
  std::array<Strides, 3> strides;
  for (int k = 0; k < 3; ++k) strides[k] = ts[k].strides();
  const cuda::Strided<3> s = cuda::make_strided<3>(shape, strides);
  INFO("shape " << shape_str(shape) << " strides " << shape_str(strides[0]) << " "
                << shape_str(strides[1]) << " " << shape_str(strides[2]) << " -> rank " << s.rank);
  CHECK(s.rank <= static_cast<int>(shape.size()));
  for (int64_t i = 0; i < shape_numel(shape); ++i) {
    int64_t off[3];
    s.offsets(i, off);
    for (int k = 0; k < 3; ++k) REQUIRE(off[k] == direct_offset(shape, strides[k], i));
  }
}

}  // namespace

TEST_CASE("cuda Strided: offsets of permuted, sliced and broadcast operands match the direct sum") {
  Generator gen(7);
  const Tensor x = randn({4, 5, 6}, gen);
  // contiguous x3: merges to one dim
  check_strided({x, x, x});
  CHECK(cuda::make_strided<1>(x.shape(), {x.strides()}).rank == 1);
  // permuted, sliced, expanded in every combination
  const Tensor p = randn({6, 4, 5}, gen).permute({1, 2, 0});                      // (4,5,6)
  const Tensor sl = randn({4, 7, 6}, gen).narrow(1, 1, 5);                        // (4,5,6)
  const Tensor e = randn({1, 5, 1}, gen).expand({4, 5, 6});                       // (4,5,6)
  const Tensor st = randn({8, 5, 12}, gen).slice(0, 0, 8, 2).slice(2, 0, 12, 2);  // (4,5,6)
  check_strided({x, p, sl});
  check_strided({e, st, x});
  check_strided({p, e, st});
  // size-1 dims anywhere, a single element, a 6-d shape
  const Tensor ones_dims = randn({1, 3, 1, 2}, gen);
  check_strided({ones_dims, ones_dims.clone(), randn({2, 3, 1, 1}, gen).permute({2, 1, 3, 0})});
  const Tensor one = randn({1, 1}, gen);
  check_strided({one, one, one});
  const Tensor six = randn({2, 3, 2, 3, 2, 3}, gen);
  check_strided({six, six.permute({5, 4, 3, 2, 1, 0}).contiguous().permute({5, 4, 3, 2, 1, 0}),
                 six.transpose(1, 4)});
}

namespace {

// cublas<S|D>gemmStridedBatched, column-major, from its documentation: for each batch entry i,
//   C_i = op(A_i) op(B_i),  op(A) (m, k), op(B) (k, n), C (m, n), with X(r, c) = X[r + c * ld]
// and op(X)(r, c) = X(c, r) when transposed. Also checks the leading-dimension rules cuBLAS
// enforces (it returns CUBLAS_STATUS_INVALID_VALUE otherwise).
void reference_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const double* A,
                    int64_t lda, int64_t stride_a, const double* B, int64_t ldb, int64_t stride_b,
                    double* C, int64_t ldc, int64_t stride_c, int64_t batch) {
  REQUIRE(lda >= std::max<int64_t>(1, trans_a ? k : m));
  REQUIRE(ldb >= std::max<int64_t>(1, trans_b ? n : k));
  REQUIRE(ldc >= std::max<int64_t>(1, m));
  for (int64_t i = 0; i < batch; ++i) {
    const double* a = A + i * stride_a;
    const double* b = B + i * stride_b;
    double* c = C + i * stride_c;
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t col = 0; col < n; ++col) {
        double s = 0;
        for (int64_t l = 0; l < k; ++l) {
          const double av = trans_a ? a[l + r * lda] : a[r + l * lda];
          const double bv = trans_b ? b[col + l * ldb] : b[l + col * ldb];
          s += av * bv;
        }
        c[r + col * ldc] = s;
      }
    }
  }
}

// Run a @ b the way cuda/matmul.cu does (the plan, then the swapped call) on the host, and
// compare with the CPU matmul.
void check_plan(const Tensor& a, const Tensor& b) {
  const Tensor want = matmul(a, b);
  const Tensor a2 = a.dim() == 1 ? a.unsqueeze(0) : a;
  const Tensor b2 = b.dim() == 1 ? b.unsqueeze(1) : b;
  Tensor out = zeros(matmul(a2, b2).shape(), DType::F64);  // (B..., M, N)
  const cuda::GemmPlan p = cuda::plan_gemm(a2, b2, out);
  INFO("a " << a.describe() << " strides " << shape_str(a.strides()) << ", b " << b.describe()
            << " strides " << shape_str(b.strides()));
  // the plan's operands must stay inside their storage
  for (const cuda::GemmOperand* o : {&p.a, &p.b}) {
    CHECK(o->batch_stride >= 0);
    CHECK(o->t.storage() != nullptr);
  }
  reference_gemm(p.b.transposed, p.a.transposed, p.N, p.M, p.K, p.b.t.data<double>(), p.b.ld,
                 p.b.batch_stride, p.a.t.data<double>(), p.a.ld, p.a.batch_stride,
                 out.data<double>(), p.N, p.M * p.N, p.B);
  CHECK(max_abs_diff(out.reshape(want.shape()), want) < 1e-12);
}

}  // namespace

TEST_CASE("cuda matmul plan: operand swap, transpose flags, leading dims and batch strides") {
  Generator gen(11);
  auto r = [&](Shape s) { return randn(s, gen, DType::F64); };
  const int64_t M = 3, K = 4, N = 5, B = 2;
  check_plan(r({M, K}), r({K, N}));                                  // plain
  check_plan(r({K, M}).transpose(0, 1), r({K, N}));                  // a transposed view
  check_plan(r({M, K}), r({N, K}).transpose(0, 1));                  // b transposed view
  check_plan(r({K, M}).transpose(0, 1), r({N, K}).transpose(0, 1));  // both
  check_plan(r({M, K + 3}).narrow(1, 1, K),
             r({K, N + 2}).narrow(1, 2, N));         // row slices (ld > cols)
  check_plan(r({M, K, 2}).select(2, 1), r({K, N}));  // column step: copied
  check_plan(r({B, M, K}), r({B, K, N}));            // batched
  check_plan(r({B, M, K}), r({K, N}));               // b broadcast (stride 0)
  check_plan(r({M, K}), r({B, K, N}));               // a broadcast
  check_plan(r({M, B, K}).permute({1, 0, 2}), r({B, N, K}).transpose(1, 2));  // attention-like
  check_plan(r({2, 1, M, K}), r({1, 3, K, N}));                      // batch not collapsible
  check_plan(r({B, 3, M, K}), r({3, B, K, N}).transpose(0, 1));      // permuted batch: copied
  check_plan(r({K}), r({K, N}));                                     // 1-D left
  check_plan(r({M, K}), r({K}));                                     // 1-D right
  check_plan(r({K}), r({K}));                                        // dot
  check_plan(r({K, 5}).narrow(1, 2, 1).transpose(0, 1), r({K, N}));  // (1, K) with a column stride
  check_plan(r({M, 1}), r({1, N}));                                  // outer product, K = 1
  check_plan(r({1, K}), r({K, 1}));                                  // M = N = 1
  check_plan(r({B, 1, K}), r({K, N}));                               // folded, M = 1
  check_plan(r({B, M, K + 2}).narrow(2, 0, K), r({K, N}));           // folded, sliced rows
  check_plan(r({B, M + 1, K}).narrow(1, 0, M), r({K, N}));           // gaps: not folded
  check_plan(r({M, B, K}).permute({1, 0, 2}), r({N, K}).transpose(0, 1));  // not foldable
}

TEST_CASE("cuda matmul plan: a batch against one shared matrix folds into a single GEMM") {
  Generator gen(12);
  const Tensor x = randn({4, 3, 5, 8}, gen, DType::F64);  // (B..., T, K): a Linear's input
  const Tensor w = randn({6, 8}, gen, DType::F64);        // (O, K)
  const cuda::GemmPlan p = cuda::plan_gemm(x, w.transpose(0, 1), zeros({4, 3, 5, 6}));
  CHECK(p.B == 1);
  CHECK(p.M == 4 * 3 * 5);
  CHECK(p.b.transposed);  // w^T is read in place, not copied
  const cuda::GemmPlan q =
      cuda::plan_gemm(x.narrow(2, 0, 4), w.transpose(0, 1), zeros({4, 3, 4, 6}));
  CHECK(q.B == 12);  // the matrices' rows do not follow each other: no fold
}
