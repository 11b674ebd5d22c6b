// parallel.h — when a CPU kernel is worth an OpenMP parallel region.
//
// Opening a parallel region costs microseconds (far more on a busy machine), so every kernel asks
// whether its work is large enough first. The answer depends only on the amount of work, never on
// the thread count, which keeps results reproducible. Two units of work:
//   elements       elementwise ops, row kernels (softmax, layer norm), reductions, gathers, AdamW;
//   multiply-adds  products: a batch of small matmuls, attention's (task, head) problems, a GEMM.
#pragma once
#include <cstdint>

namespace tg::cpu {

// Below this many elements, one thread is faster.
constexpr int64_t kParallelGrain = 32768;

// Below this many multiply-adds in total, a batch of small products (matmul's batch loop,
// attention's problems) runs on one thread.
constexpr int64_t kParallelWork = int64_t{1} << 18;

// A GEMM of about this many multiply-adds (128^3) or fewer does not pay for threads: not for
// BLAS's own (matmul spreads a batch of such matrices over the cores, one per thread, instead) nor
// for ours (linear keeps it on one thread).
constexpr int64_t kParallelGemmWork = int64_t{1} << 21;

}  // namespace tg::cpu
