// launch.cuh — what every CUDA kernel file shares: launch sizes, the strided N-d index
// (strided.h), and the reductions inside a block.
//
// Launches are 1-D, grid-stride loops, on the default stream; after each launch
// CUDA_CHECK_LAUNCH() turns a launch error into an exception naming the file and line.
#pragma once
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "tensor/cuda/check.cuh"
#include "tensor/cuda/strided.h"
#include "tensor/shape.h"

namespace tg::cuda {

constexpr int kThreads = 256;          // threads per block for elementwise kernels
constexpr int64_t kMaxBlocks = 65536;  // grid-stride loops cover the rest

// Blocks for n elements at kThreads per block (at least 1, at most kMaxBlocks).
inline unsigned blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  if (b < 1) b = 1;
  if (b > kMaxBlocks) b = kMaxBlocks;
  return static_cast<unsigned>(b);
}

// Sum of `v` over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
// `shared` holds at least 32 values. Deterministic: a fixed tree for a given blockDim.
template <class A>
__device__ A block_sum(A v, A* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  __syncthreads();  // `shared` may still be read from a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : A(0);
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// The same with a custom combine (max, min, ...) and its identity.
template <class A, class Combine>
__device__ A block_reduce(A v, A* shared, A identity, Combine combine) {
  for (int o = 16; o > 0; o >>= 1) v = combine(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < warps ? shared[lane] : identity;
  for (int o = 16; o > 0; o >>= 1) v = combine(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Threads per block for a row-per-block kernel over rows of C elements: a multiple of 32, at
// most 512, no more than the row needs.
inline unsigned row_threads(int64_t C) {
  int64_t t = 32;
  while (t < C && t < 512) t *= 2;
  return static_cast<unsigned>(t);
}

// Rows are one block each; a grid-stride loop covers more rows than kMaxBlocks.
inline unsigned row_blocks(int64_t R) {
  return static_cast<unsigned>(R < 1 ? 1 : (R > kMaxBlocks ? kMaxBlocks : R));
}

}  // namespace tg::cuda
