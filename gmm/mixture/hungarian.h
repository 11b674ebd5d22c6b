// hungarian.h — minimum-cost assignment on a square cost matrix (the Hungarian algorithm).
//
// Given an n x n cost matrix C (row-major), find the permutation sigma minimising
// sum_i C[i][sigma(i)]. The implementation is the O(n^3) shortest-augmenting-path form of
// Kuhn–Munkres with row and column potentials (as in Jonker–Volgenant): rows are added one at a
// time, and each addition runs a Dijkstra-like search over reduced costs C[i][j] - u[i] - v[j]
// (never negative) for the cheapest augmenting path to a free column.
//
// match_means is its one use here: matching estimated mixture components to the true ones by
// their means, for the metrics (metrics.h) and for TGMM's slot-matching loss (tgmm_loss.h).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "tensor/tensor.h"

namespace tg::gmm {

// cost: n*n values, row-major. Returns assignment with assignment[i] = the column given to row i.
// Throws (naming hungarian) if cost.size() != n*n or a cost is not finite.
std::vector<int64_t> hungarian(const std::vector<double>& cost, int64_t n);

// The same on an (n, n) tensor of any floating dtype.
std::vector<int64_t> hungarian(const Tensor& cost);

// The cost (1/d) ||estimated_i - truth_j||^2 between K estimated and K true means, each given as
// K rows of d values (row-major: row i at [i d, (i + 1) d)), and its minimum-cost assignment:
// assignment[i] = the true row matched to estimated row i. nullopt when a cost is not finite (a
// diverged or overflowing estimate), where no matching means anything: the caller decides.
std::optional<std::vector<int64_t>> match_means(const double* estimated, const double* truth,
                                                int64_t K, int64_t d);

}  // namespace tg::gmm
