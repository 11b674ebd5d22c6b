// hungarian.h — minimum-cost assignment on a square cost matrix (the Hungarian algorithm).
//
// Given an n x n cost matrix C (row-major), find the permutation sigma minimising
// sum_i C[i][sigma(i)]. The implementation is the O(n^3) shortest-augmenting-path form of
// Kuhn–Munkres with row and column potentials (as in Jonker–Volgenant): rows are added one at a
// time, and each addition runs a Dijkstra-like search over reduced costs C[i][j] - u[i] - v[j]
// (never negative) for the cheapest augmenting path to a free column.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace tg::gmm {

// cost: n*n values, row-major. Returns assignment with assignment[i] = the column given to row i.
// Throws (naming hungarian) if cost.size() != n*n or a cost is not finite.
std::vector<int64_t> hungarian(const std::vector<double>& cost, int64_t n);

// The same on an (n, n) tensor of any floating dtype.
std::vector<int64_t> hungarian(const Tensor& cost);

}  // namespace tg::gmm
