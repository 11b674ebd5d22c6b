// hungarian.cpp — O(n^3) Kuhn–Munkres with potentials (see hungarian.h).
//
// Invariants after row i has been added: every assigned pair (r, c) has reduced cost
// C[r][c] - u[r] - v[c] == 0, every reduced cost is >= 0, so the assignment is optimal for the
// rows added so far (linear-programming duality: sum u + sum v is a lower bound that it meets).
// Indices below are 1-based for rows and columns; column 0 is a virtual column holding the row
// being added, which keeps the augmenting-path loop free of special cases.
#include "gmm/mixture/hungarian.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace tg::gmm {

std::vector<int64_t> hungarian(const std::vector<double>& cost, int64_t n) {
  if (n < 0 || static_cast<int64_t>(cost.size()) != n * n) {
    throw std::invalid_argument("hungarian: expected " + std::to_string(n) + "x" +
                                std::to_string(n) + " costs, got " + std::to_string(cost.size()));
  }
  for (double c : cost) {
    if (!std::isfinite(c)) throw std::invalid_argument("hungarian: costs must be finite");
  }
  const double inf = std::numeric_limits<double>::infinity();
  auto C = [&](int64_t i, int64_t j) { return cost[(i - 1) * n + (j - 1)]; };
  std::vector<double> u(n + 1, 0.0), v(n + 1, 0.0);  // row and column potentials
  std::vector<int64_t> row_of(n + 1, 0);             // row_of[j]: row assigned to column j
  std::vector<int64_t> previous(n + 1, 0);           // previous column on the shortest path

  for (int64_t i = 1; i <= n; ++i) {
    row_of[0] = i;  // the new row sits in the virtual column 0
    int64_t j0 = 0;
    std::vector<double> distance(n + 1, inf);  // shortest reduced-cost distance to column j
    std::vector<char> done(n + 1, 0);
    do {  // grow the shortest-path tree until it reaches a free column
      done[j0] = 1;
      const int64_t i0 = row_of[j0];
      double delta = inf;
      int64_t j1 = 0;
      for (int64_t j = 1; j <= n; ++j) {
        if (done[j]) continue;
        const double reduced = C(i0, j) - u[i0] - v[j];
        if (reduced < distance[j]) {
          distance[j] = reduced;
          previous[j] = j0;
        }
        if (distance[j] < delta) {
          delta = distance[j];
          j1 = j;
        }
      }
      // Shift the potentials so the tree's edges stay tight and column j1 joins it.
      for (int64_t j = 0; j <= n; ++j) {
        if (done[j]) {
          u[row_of[j]] += delta;
          v[j] -= delta;
        } else {
          distance[j] -= delta;
        }
      }
      j0 = j1;
    } while (row_of[j0] != 0);
    do {  // augment: flip the assignments along the path back to the virtual column
      const int64_t j1 = previous[j0];
      row_of[j0] = row_of[j1];
      j0 = j1;
    } while (j0 != 0);
  }

  std::vector<int64_t> assignment(n, -1);
  for (int64_t j = 1; j <= n; ++j) assignment[row_of[j] - 1] = j - 1;
  return assignment;
}

std::vector<int64_t> hungarian(const Tensor& cost) {
  if (cost.dim() != 2 || cost.size(0) != cost.size(1)) {
    throw std::invalid_argument("hungarian: expected a square (n, n) cost matrix, got " +
                                cost.describe());
  }
  return hungarian(cost.to_vector(), cost.size(0));
}

std::optional<std::vector<int64_t>> match_means(const double* estimated, const double* truth,
                                                int64_t K, int64_t d) {
  std::vector<double> cost(K * K);  // (K, K) cost[i][j] = (1/d) ||mu_hat_i - mu_j||^2
  for (int64_t i = 0; i < K; ++i) {
    for (int64_t j = 0; j < K; ++j) {
      double q = 0.0;
      for (int64_t c = 0; c < d; ++c) {
        const double diff = estimated[i * d + c] - truth[j * d + c];
        q += diff * diff;
      }
      cost[i * K + j] = q / static_cast<double>(d);
    }
  }
  for (double c : cost) {
    if (!std::isfinite(c)) return std::nullopt;
  }
  return hungarian(cost, K);
}

}  // namespace tg::gmm
