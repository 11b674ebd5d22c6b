// test_tensor.cpp — the Tensor handle: layout, views without copies, copies, access, printing.
#include <doctest/doctest.h>

#include <sstream>

#include "tensor/ops.h"

using namespace tg;

namespace {
Tensor iota(const Shape& shape, DType dtype = DType::F32) {
  return arange(shape_numel(shape), dtype).view(shape);
}
std::vector<double> vec(const Tensor& t) { return t.to_vector(); }
}  // namespace

TEST_CASE("a new tensor is contiguous, row-major, with int64 strides") {
  Tensor t({2, 3, 4});
  CHECK(t.defined());
  CHECK(t.shape() == Shape{2, 3, 4});
  CHECK(t.strides() == Strides{12, 4, 1});
  CHECK(t.numel() == 24);
  CHECK(t.is_contiguous());
  CHECK(t.dtype() == DType::F32);
  CHECK(t.device() == Device::CPU);
  CHECK(t.describe() == "f32 (2,3,4) cpu");
  CHECK_FALSE(Tensor().defined());
}

TEST_CASE("views share storage and copy nothing") {
  Tensor t = iota({2, 3});
  Tensor tt = t.transpose(0, 1);
  CHECK(tt.storage() == t.storage());
  CHECK(tt.shape() == Shape{3, 2});
  CHECK(tt.strides() == Strides{1, 3});
  CHECK_FALSE(tt.is_contiguous());
  CHECK(vec(tt) == std::vector<double>{0, 3, 1, 4, 2, 5});
  // Writing through a view is visible in the base.
  Tensor row = t.select(0, 1);
  row.fill_(7);
  CHECK(vec(t) == std::vector<double>{0, 1, 2, 7, 7, 7});
}

TEST_CASE("view/reshape: -1 inference, view of a transposed tensor fails, reshape copies") {
  Tensor t = iota({2, 3, 4});
  CHECK(t.view({6, -1}).shape() == Shape{6, 4});
  CHECK(t.view({-1}).numel() == 24);
  CHECK(t.view({2, 12}).storage() == t.storage());
  Tensor tt = t.transpose(1, 2);  // (2,4,3), not contiguous
  CHECK_THROWS_WITH_AS(tt.view({24}),
                       "view: cannot view (2,4,3) with strides (12,1,4) as (24) without a copy "
                       "(use reshape)",
                       std::invalid_argument);
  Tensor r = tt.reshape({24});
  CHECK(r.storage() != t.storage());
  CHECK(r.at({1}) == 4.0);  // tt[0][0][1] = t[0][1][0] = 4
  // Merging dims that are still chained in a transposed tensor stays a view.
  Tensor p = iota({2, 3, 4}).permute({2, 0, 1});  // (4,2,3) with strides (1,12,4)
  CHECK(p.view({4, 6}).strides() == Strides{1, 4});
  CHECK_THROWS_WITH_AS(t.view({5, 5}), "view: cannot view (2,3,4) (24 elements) as (5,5)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(t.view({-1, -1}), "view: only one -1 allowed", std::invalid_argument);
}

TEST_CASE("permute, narrow, slice, select, squeeze, unsqueeze") {
  Tensor t = iota({2, 3, 4});
  Tensor p = t.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.at({3, 1, 2}) == t.at({1, 2, 3}));
  Tensor n = t.narrow(2, 1, 2);
  CHECK(n.shape() == Shape{2, 3, 2});
  CHECK(n.at({1, 2, 1}) == t.at({1, 2, 2}));
  Tensor s = t.slice(2, 0, 4, 2);
  CHECK(s.shape() == Shape{2, 3, 2});
  CHECK(s.at({0, 1, 1}) == t.at({0, 1, 2}));
  CHECK(t.slice(1, -2, 3).shape() == Shape{2, 2, 4});
  CHECK(t.select(-1, 3).shape() == Shape{2, 3});
  CHECK(t.unsqueeze(0).shape() == Shape{1, 2, 3, 4});
  CHECK(t.unsqueeze(-1).shape() == Shape{2, 3, 4, 1});
  CHECK(t.unsqueeze(3).squeeze(3).shape() == Shape{2, 3, 4});
  CHECK(t.squeeze(0).shape() == Shape{2, 3, 4});  // not size 1: unchanged
  CHECK(iota({1, 3, 1}).squeeze().shape() == Shape{3});
  CHECK_THROWS_WITH_AS(t.permute({0, 1}), "permute: 2 dims given for a tensor of shape (2,3,4)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(t.permute({0, 1, 1}), "permute: dim 1 repeated", std::invalid_argument);
  CHECK_THROWS_WITH_AS(t.narrow(1, 2, 2),
                       "narrow: range [2, 4) out of bounds for dim 1 of shape (2,3,4)",
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(t.transpose(0, 3), "transpose: dim 3 out of range for a tensor of rank 3",
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(t.select(0, 2), "select: index 2 out of range for dim 0 of shape (2,3,4)",
                       std::out_of_range);
}

TEST_CASE("expand broadcasts with stride 0") {
  Tensor v = from_vector({1, 2, 3}, {3});
  Tensor e = v.expand({2, 3});
  CHECK(e.strides() == Strides{0, 1});
  CHECK(vec(e) == std::vector<double>{1, 2, 3, 1, 2, 3});
  Tensor c = from_vector({1, 2}, {2, 1}).expand({2, 3});
  CHECK(vec(c) == std::vector<double>{1, 1, 1, 2, 2, 2});
  CHECK_THROWS_WITH_AS(v.expand({2, 4}), "expand: cannot expand (3) to (2,4)",
                       std::invalid_argument);
}

TEST_CASE("contiguous, clone and dtype conversion") {
  Tensor t = iota({3, 4}, DType::F64);
  CHECK(t.contiguous().storage() == t.storage());
  Tensor c = t.transpose(0, 1).contiguous();
  CHECK(c.is_contiguous());
  CHECK(c.at({3, 2}) == t.at({2, 3}));
  Tensor k = t.clone();
  CHECK(k.storage() != t.storage());
  Tensor f = from_vector({1.5, -2.25}, {2}, DType::F64).to(DType::F32);
  CHECK(f.dtype() == DType::F32);
  CHECK(vec(f) == std::vector<double>{1.5, -2.25});
  CHECK(from_vector({2.9, -1.2}, {2}).to(DType::I64).to_vector() == std::vector<double>{2, -1});
  Tensor dst = zeros({2, 3});
  dst.copy_(from_vector({1, 2, 3}, {3}));  // broadcast source
  CHECK(vec(dst) == std::vector<double>{1, 2, 3, 1, 2, 3});
}

TEST_CASE("large strided copy takes the parallel path and stays correct") {
  Tensor t = iota({300, 400}, DType::F64);
  Tensor c = t.transpose(0, 1).contiguous();
  CHECK(c.at({399, 299}) == t.at({299, 399}));
  CHECK(c.at({123, 45}) == t.at({45, 123}));
}

TEST_CASE("item, at and their errors") {
  CHECK(scalar_tensor(2.5).item() == 2.5);
  CHECK(scalar_tensor(2.5).dim() == 0);
  CHECK_THROWS_WITH_AS(zeros({2}).item(), "item: tensor of shape (2) has 2 elements, not 1",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(zeros({2}).at({2}), "at: index 2 out of range for dim 0 of shape (2)",
                       std::out_of_range);
  CHECK_THROWS_WITH_AS(zeros({2}).data<double>(), "data: requested f64 from a f32 tensor",
                       std::invalid_argument);
}

TEST_CASE("printing shows values, dtype, shape and device") {
  std::ostringstream os;
  os << from_vector({1, 2, 3, 4}, {2, 2});
  CHECK(os.str() == "tensor([[1, 2],\n        [3, 4]], dtype=f32, shape=(2,2), device=cpu)");
  CHECK(to_string(from_indices({3, 1})) == "tensor([3, 1], dtype=i64, shape=(2), device=cpu)");
  CHECK(to_string(Tensor()) == "tensor(undefined)");
}

TEST_CASE("CUDA requests fail clearly when no GPU can be had") {
  if (cuda_available()) return;  // the GPU suite covers this machine
  const std::string expected = cuda_built()
                                   ? "to: no CUDA device is available on this machine"
                                   : "to: tgmm was built without CUDA (configure with nvcc on the "
                                     "PATH and -DTG_WITH_CUDA=ON)";
  CHECK_THROWS_WITH_AS(zeros({2}).to(Device::CUDA), expected.c_str(), std::runtime_error);
  CHECK(parse_device("cuda") == Device::CUDA);
  CHECK_THROWS_WITH_AS(parse_device("tpu"), "unknown device 'tpu' (expected cpu or cuda)",
                       std::invalid_argument);
}

TEST_CASE("the caching allocator reuses freed blocks") {
  { Tensor warm({1000}); }
  const auto before = cpu_allocator_stats();
  for (int i = 0; i < 10; ++i) Tensor t({1000});
  const auto after = cpu_allocator_stats();
#if defined(__SANITIZE_ADDRESS__)
  CHECK(after.mallocs >= before.mallocs);  // the cache is off under ASan
#else
  CHECK(after.mallocs == before.mallocs);
#endif
  CHECK(after.live_bytes == before.live_bytes);
}

TEST_CASE("Generator: same seed, same stream; state round-trips exactly") {
  Generator a(7), b(7);
  for (int i = 0; i < 5; ++i) CHECK(a.next_u64() == b.next_u64());
  a.normal();  // leaves a spare normal cached
  const auto s = a.state();
  const double n1 = a.normal(), n2 = a.normal();
  b.set_state(s);
  CHECK(b.normal() == n1);
  CHECK(b.normal() == n2);
  Generator c(1);
  double total = 0;
  for (int i = 0; i < 10000; ++i) total += c.uniform();
  CHECK(total / 10000 == doctest::Approx(0.5).epsilon(0.02));
  for (int i = 0; i < 100; ++i) {
    const int64_t r = c.randint(2, 5);
    CHECK(r >= 2);
    CHECK(r < 5);
  }
}
