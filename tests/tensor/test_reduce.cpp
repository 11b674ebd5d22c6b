// test_reduce.cpp — sum, mean, max, min, logsumexp, argmax and sum_to_shape.
//
// Hand-computed cases first, then every kernel walk (rows, strided rows, columns, the permuting
// copy, chunked long rows) against a brute-force reference in double, in both dtypes, on
// contiguous and non-contiguous inputs, serial and parallel; then edge values and errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/ops.h"
#include "testing.h"

using namespace tg;
using tg::testing::random_tensor;
using tg::testing::with_threads;

namespace {

using V = std::vector<double>;
const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Brute force: group x's elements by their kept coordinates, then apply `op` to each group.
V reference(const Tensor& x, std::vector<int64_t> dims, const std::string& op) {
  const V v = x.to_vector();
  const Shape& s = x.shape();
  std::vector<bool> reduced(s.size(), dims.empty());
  for (int64_t d : dims) reduced[d < 0 ? d + s.size() : d] = true;
  int64_t outputs = 1;
  for (size_t d = 0; d < s.size(); ++d) outputs *= reduced[d] ? 1 : s[d];
  std::vector<V> groups(outputs);
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t rest = static_cast<int64_t>(i), o = 0, scale = 1;
    for (size_t d = s.size(); d-- > 0;) {
      const int64_t c = rest % s[d];
      rest /= s[d];
      if (!reduced[d]) {
        o += c * scale;
        scale *= s[d];
      }
    }
    groups[o].push_back(v[i]);
  }
  V out;
  for (const V& g : groups) {
    double sum = 0, mx = -kInf, mn = kInf;
    for (double e : g) {
      sum += e;
      mx = std::max(mx, e);
      mn = std::min(mn, e);
    }
    if (op == "sum") out.push_back(sum);
    if (op == "mean") out.push_back(sum / g.size());
    if (op == "max") out.push_back(mx);
    if (op == "min") out.push_back(mn);
    if (op == "logsumexp") {
      double se = 0;
      for (double e : g) se += std::exp(e - mx);
      out.push_back(mx + std::log(se));
    }
  }
  return out;
}

Tensor apply(const std::string& op, const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  if (op == "sum") return sum(x, dims, keepdim);
  if (op == "mean") return mean(x, dims, keepdim);
  if (op == "max") return max(x, dims, keepdim);
  if (op == "min") return min(x, dims, keepdim);
  return logsumexp(x, dims, keepdim);
}

// Every op over `dims` of x agrees with the reference (relative tolerance by dtype).
void check_all_ops(const Tensor& x, std::vector<int64_t> dims) {
  const double tol = x.dtype() == DType::F32 ? 1e-5 : 1e-12;
  for (const std::string op : {"sum", "mean", "max", "min", "logsumexp"}) {
    CAPTURE(op);
    const V got = apply(op, x, dims, false).to_vector();
    const V want = reference(x, dims, op);
    REQUIRE(got.size() == want.size());
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      worst = std::max(worst, std::abs(got[i] - want[i]) / (1.0 + std::abs(want[i])));
    }
    CHECK(worst < tol);
  }
}

}  // namespace

TEST_CASE("reductions of a small matrix match hand-computed values in f32 and f64") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor x = from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, dt);  // [[1,2,3],[4,5,6]]
    CHECK(sum(x, {0}).to_vector() == V{5, 7, 9});
    CHECK(sum(x, {1}).to_vector() == V{6, 15});
    CHECK(sum(x, {-1}).to_vector() == V{6, 15});
    CHECK(sum(x).item() == 21);
    CHECK(sum(x, {0, 1}).item() == 21);
    CHECK(mean(x, {0}).to_vector() == V{2.5, 3.5, 4.5});
    CHECK(mean(x).item() == 3.5);
    CHECK(max(x, {1}).to_vector() == V{3, 6});
    CHECK(min(x, {0}).to_vector() == V{1, 2, 3});
    CHECK(max(x).item() == 6);
    const V lse = logsumexp(x, {1}).to_vector();
    CHECK(lse[0] == doctest::Approx(std::log(std::exp(1) + std::exp(2) + std::exp(3))));
    CHECK(lse[1] == doctest::Approx(std::log(std::exp(4) + std::exp(5) + std::exp(6))));
    CHECK(sum(x).dtype() == dt);
    CHECK(sum(x).shape() == Shape{});
  }
}

TEST_CASE("keepdim keeps reduced dims as size 1, negative dims count from the end") {
  const Tensor x = random_tensor({2, 3, 4}, DType::F64);
  CHECK(sum(x, {1}, true).shape() == Shape{2, 1, 4});
  CHECK(sum(x, {-1, 0}, true).shape() == Shape{1, 3, 1});
  CHECK(sum(x, {}, true).shape() == Shape{1, 1, 1});
  CHECK(max(x, {-2}).shape() == Shape{2, 4});
  CHECK(argmax(x, -1, true).shape() == Shape{2, 3, 1});
  CHECK(sum(x, {0, 2}, true).to_vector() == sum(x, {2, 0}).to_vector());
}

TEST_CASE("a 0-d tensor reduces to itself") {
  const Tensor s = scalar_tensor(-1.5, DType::F64);
  CHECK(sum(s).item() == -1.5);
  CHECK(max(s).item() == -1.5);
  CHECK(logsumexp(s).item() == -1.5);
  CHECK(sum(s).shape() == Shape{});
}

TEST_CASE("reductions of contiguous tensors match the reference over every set of dims") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor x = random_tensor({3, 5, 20}, dt);
    for (const std::vector<int64_t>& dims :
         std::vector<std::vector<int64_t>>{{0}, {1}, {2}, {0, 1}, {0, 2}, {1, 2}, {}, {-1}}) {
      CAPTURE(shape_str(dims));
      check_all_ops(x, dims);
    }
  }
}

TEST_CASE("reductions of non-contiguous views match the reference") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor base = random_tensor({6, 40, 18}, dt);
    // transposed so that the kept dims are contiguous (column walk)
    check_all_ops(base.transpose(0, 1), {0});
    check_all_ops(base.transpose(0, 2), {1, 2});
    // transposed so that the reduced dim is strided (row walk with stride)
    check_all_ops(base.transpose(0, 2), {1});
    // sliced with a step: strided runs (row walk with stride)
    check_all_ops(base.slice(2, 1, 18, 2), {2});
    check_all_ops(base.slice(1, 0, 40, 3), {0, 1});
    // short scattered runs, neither walk fits (copied first)
    check_all_ops(base.narrow(2, 0, 3), {0, 2});
    check_all_ops(base.permute({2, 0, 1}).narrow(2, 0, 5), {0, 2});
    // expanded: stride 0 along reduced and kept dims
    const Tensor row = random_tensor({1, 20}, dt);
    check_all_ops(row.expand({30, 20}), {0});
    check_all_ops(row.expand({30, 20}), {1});
  }
}

TEST_CASE("large reductions take the parallel paths and match the reference") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor x = random_tensor({4096, 384}, dt);    // 1.5M elements >> kParallelGrain
    check_all_ops(x, {0});                              // bias gradient: columns
    check_all_ops(x, {1});                              // rows
    check_all_ops(x.transpose(0, 1), {0});              // rows of a transposed view
    check_all_ops(random_tensor({3, 70000}, dt), {1});  // few long rows, chunked
    check_all_ops(random_tensor({70000, 3}, dt), {0});  // few long strided runs
    check_all_ops(random_tensor({200000}, dt), {});     // one long row
  }
}

TEST_CASE("large reductions give identical results with 1 and 2 threads") {
  const Tensor x = random_tensor({1000, 300}, DType::F32);
  for (const std::string op : {"sum", "max", "logsumexp"}) {
    for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{{0}, {1}, {}}) {
      const V one = with_threads(1, [&] { return apply(op, x, dims, false).to_vector(); });
      const V two = with_threads(2, [&] { return apply(op, x, dims, false).to_vector(); });
      CHECK(one == two);
    }
  }
}

TEST_CASE("f32 sums are accumulated in double") {
  // A float accumulator drifts far from the exact sum of 1e6 copies of 0.1f (it gives ~100958).
  const Tensor x = full({1000000}, 0.1, DType::F32);
  const double exact = 1e6 * static_cast<double>(0.1f);
  CHECK(std::abs(sum(x).item() - exact) < 0.01);
  CHECK(std::abs(sum(x.view({1000, 1000}), {0}).to_vector()[0] - 1000 * 0.1) < 1e-4);
  CHECK(mean(x).item() == doctest::Approx(0.1).epsilon(1e-6));
}

TEST_CASE("logsumexp is stable for large, -inf and +inf inputs on every walk") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor x = from_vector({1000, 1000, -kInf, -kInf, -kInf, 0, kInf, 1}, {4, 2}, dt);
    const V rows = logsumexp(x, {1}).to_vector();
    CHECK(rows[0] == doctest::Approx(1000 + std::log(2.0)));
    CHECK(rows[1] == -kInf);  // all -inf: -inf, not NaN
    CHECK(rows[2] == 0.0);
    CHECK(rows[3] == kInf);
    // the same along dim 0 of (2, 40): 40 contiguous outputs (column walk); column c is row c % 4
    const Tensor tall = concat(std::vector<Tensor>(10, x.transpose(0, 1)), 1);
    const V by_col = logsumexp(tall, {0}).to_vector();  // (40)
    CHECK(by_col[0] == doctest::Approx(1000 + std::log(2.0)));
    CHECK(by_col[1] == -kInf);
    CHECK(by_col[2] == 0.0);
    CHECK(by_col[3] == kInf);
    // columns of a tall matrix are reduced in parts: -inf and +inf in a later part still count
    Tensor cols = zeros({5000, 20}, dt);
    cols.narrow(1, 0, 1).fill_(-kInf);  // column 0: all -inf
    cols.narrow(1, 1, 1).fill_(-kInf);
    cols.narrow(0, 4500, 1).narrow(1, 1, 1).fill_(3.0);   // column 1: one 3, late
    cols.narrow(0, 4999, 1).narrow(1, 2, 1).fill_(kInf);  // column 2: +inf, last
    const V lse_cols = logsumexp(cols, {0}).to_vector();
    CHECK(lse_cols[0] == -kInf);
    CHECK(lse_cols[1] == doctest::Approx(3.0));
    CHECK(lse_cols[2] == kInf);
    CHECK(lse_cols[3] == doctest::Approx(std::log(5000.0)));
    CHECK(max(cols, {0}).to_vector()[1] == 3.0);
    // a long all -inf row is chunked and still -inf
    CHECK(logsumexp(full({50000}, -kInf, dt)).item() == -kInf);
    CHECK(logsumexp(full({50000}, 1e4, dt)).item() == doctest::Approx(1e4 + std::log(50000.0)));
  }
}

TEST_CASE("max and min propagate NaN; sum over zero elements is 0, mean NaN, logsumexp -inf") {
  const Tensor x = from_vector({1, kNaN, 3, 4}, {2, 2}, DType::F64);
  CHECK(std::isnan(max(x).item()));
  CHECK(std::isnan(min(x, {1}).to_vector()[0]));
  CHECK(min(x, {1}).to_vector()[1] == 3);
  const Tensor none = zeros({0, 3});
  CHECK(sum(none, {0}).to_vector() == V{0, 0, 0});
  CHECK(std::isnan(mean(none, {0}).to_vector()[0]));
  CHECK(logsumexp(none, {0}).to_vector()[0] == -kInf);
  CHECK(sum(none, {1}).numel() == 0);
  CHECK(max(none, {1}).shape() == Shape{0});
}

TEST_CASE("argmax returns the first maximum as i64") {
  for (DType dt : {DType::F32, DType::F64}) {
    const Tensor x = from_vector({1, 5, 5, 2, 7, 0, 7, 1}, {2, 4}, dt);
    const Tensor a = argmax(x, 1);
    CHECK(a.dtype() == DType::I64);
    CHECK(a.to_vector() == V{1, 0});  // ties: the first one
    CHECK(argmax(x, 0).to_vector() == V{1, 0, 1, 0});
    CHECK(argmax(x, -1, true).shape() == Shape{2, 1});
    CHECK(argmax(x.transpose(0, 1), 0).to_vector() == V{1, 0});
    CHECK(argmax(from_vector({1, kNaN, 9}, {}, dt), 0).item() == 1);  // NaN counts as the max
  }
  const Tensor big = random_tensor({500, 300}, DType::F32);
  const V got = argmax(big, 1).to_vector();
  const V vals = big.to_vector();
  for (int64_t r = 0; r < 500; r += 37) {
    const auto row = vals.begin() + r * 300;
    CHECK(got[r] == std::max_element(row, row + 300) - row);
  }
}

TEST_CASE("sum_to_shape sums a broadcast result back to the operand's shape") {
  const Tensor x = from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::F64);
  CHECK(sum_to_shape(x, {3}).to_vector() == V{5, 7, 9});
  CHECK(sum_to_shape(x, {1, 3}).shape() == Shape{1, 3});
  CHECK(sum_to_shape(x, {2, 1}).to_vector() == V{6, 15});
  CHECK(sum_to_shape(x, {1, 1}).to_vector() == V{21});
  CHECK(sum_to_shape(x, {}).item() == 21);
  const Tensor y = random_tensor({4, 2, 3}, DType::F64);
  const Tensor r = sum_to_shape(y, {2, 1});
  CHECK(r.shape() == Shape{2, 1});
  CHECK(r.to_vector()[1] == doctest::Approx(reference(y, {0, 2}, "sum")[1]));
  CHECK(sum_to_shape(x, {2, 3}).storage() == x.storage());  // the same tensor, no copy
  CHECK_THROWS_WITH_AS(sum_to_shape(x, {4}), "sum_to_shape: cannot reduce shape (2,3) to (4)",
                       std::invalid_argument);
}

TEST_CASE("reductions reject bad dims and dtypes with the op's name") {
  const Tensor x = zeros({2, 3});
  CHECK_THROWS_WITH_AS(sum(x, {1, -1}),
                       "sum: dim 1 repeated in dims (1,-1) for a tensor of shape (2,3)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mean(x, {2}), "mean: dim 2 out of range for a tensor of rank 2",
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(logsumexp(from_indices({1, 2})),
                       "logsumexp: dtype i64 is not supported (expected f32 or f64)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max(zeros({0, 3}), {0}),
                       "max: cannot reduce over zero elements (shape (0,3), dims (0))",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(argmax(zeros({2, 0}), 1),
                       "argmax: cannot reduce over zero elements (shape (2,0), dim 1)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(argmax(x, -3), "argmax: dim -3 out of range for a tensor of rank 2",
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(sum(Tensor()), "sum: undefined tensor", std::invalid_argument);
}
