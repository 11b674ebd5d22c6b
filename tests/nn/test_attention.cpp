// test_attention.cpp — SelfAttention: against a plain-loop reference for both score activations
// (softmax, relu-over-n) with and without causal and key-padding masks and scaling; gradchecks of
// the input and every parameter; mask semantics (padding never influences a valid token, the
// future never influences the past, exactly); rows that see no key give zeros, never NaN.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "module_testing.h"
#include "nn/attention.h"

using namespace tg;
using namespace tg::nn;
using tg::nn::testing::expect_input_gradients;
using tg::nn::testing::expect_parameter_gradients;
using tg::nn::testing::randn64;
using tg::nn::testing::redraw_padding;

namespace {

// Dimension letters as in attention.h: B, T, D, H, S, I = H * S.
// The layer computed from its definition in attention.h, one scalar at a time, in f64.
Tensor reference_attention(const SelfAttention& attn, const Tensor& x, const Tensor& mask) {
  const AttentionOptions& o = attn.options();
  const int64_t B = x.size(0), T = x.size(1), D = x.size(2), H = o.n_head, S = attn.head_dim(),
                I = H * S;
  const Tensor W = attn.c_attn().weight().value(), bias = attn.c_attn().bias().value();
  const Tensor P = attn.c_proj().weight().value(), pbias = attn.c_proj().bias().value();
  const double c = o.scale ? 1.0 / std::sqrt(static_cast<double>(S)) : 1.0;
  Tensor out = zeros({B, T, D}, DType::F64);
  double* po = out.data<double>();
  for (int64_t b = 0; b < B; ++b) {
    // qkv[t][r] = sum_d W[r][d] x[b][t][d] + bias[r]   (T, 3I)
    std::vector<std::vector<double>> qkv(T, std::vector<double>(3 * I));
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t r = 0; r < 3 * I; ++r) {
        double acc = bias.at({r});
        for (int64_t d = 0; d < D; ++d) acc += W.at({r, d}) * x.at({b, t, d});
        qkv[t][r] = acc;
      }
    }
    for (int64_t i = 0; i < T; ++i) {
      std::vector<double> mixed(I, 0.0);  // (I)
      std::vector<int64_t> seen;          // keys query i may see
      for (int64_t j = 0; j < T; ++j) {
        if ((!o.causal || j <= i) && (!mask.defined() || mask.at({b, j}) != 0.0)) seen.push_back(j);
      }
      for (int64_t h = 0; h < H; ++h) {
        std::vector<double> score;
        for (int64_t j : seen) {
          double s = 0.0;
          for (int64_t e = 0; e < S; ++e) s += qkv[i][h * S + e] * qkv[j][I + h * S + e];
          score.push_back(c * s);
        }
        std::vector<double> weight(seen.size());
        if (o.activation == ScoreActivation::Softmax && !seen.empty()) {
          const double top = *std::max_element(score.begin(), score.end());
          double total = 0.0;
          for (size_t n = 0; n < seen.size(); ++n) total += weight[n] = std::exp(score[n] - top);
          for (double& w : weight) w /= total;
        } else {
          for (size_t n = 0; n < seen.size(); ++n) {
            weight[n] = std::max(score[n], 0.0) / static_cast<double>(seen.size());
          }
        }
        for (size_t n = 0; n < seen.size(); ++n) {
          for (int64_t e = 0; e < S; ++e)
            mixed[h * S + e] += weight[n] * qkv[seen[n]][2 * I + h * S + e];
        }
      }
      for (int64_t d = 0; d < D; ++d) {
        double acc = pbias.at({d});
        for (int64_t e = 0; e < I; ++e) acc += P.at({d, e}) * mixed[e];
        po[(b * T + i) * D + d] = acc;
      }
    }
  }
  return out;
}

// A (B, T) mask with padding in the middle and at the end, not only a tail.
Tensor ragged_mask() {
  return from_vector({1, 1, 0, 1, 0,  //
                      1, 1, 1, 1, 1,  //
                      1, 0, 0, 0, 0},
                     {3, 5}, DType::F64);
}

AttentionOptions options(int64_t heads, bool causal, ScoreActivation act, bool scale,
                         DType dtype = DType::F64) {
  AttentionOptions o;
  o.n_head = heads;
  o.causal = causal;
  o.activation = act;
  o.scale = scale;
  o.init_std = 0.5;  // scores of order 1: softmax far from uniform, relu on both sides of 0
  o.proj_std = 0.5;
  o.dtype = dtype;
  return o;
}

// Random biases as well, so no parameter sits at a special point.
void randomise_biases(const SelfAttention& attn, uint64_t seed) {
  attn.c_attn().bias().assign(randn64(attn.c_attn().bias().shape(), seed, 0.3));
  attn.c_proj().bias().assign(randn64(attn.c_proj().bias().shape(), seed + 1, 0.3));
}

std::string describe(const AttentionOptions& o, bool masked) {
  return std::string(o.activation == ScoreActivation::Softmax ? "softmax" : "relu") +
         (o.causal ? " causal" : " bidirectional") + (o.scale ? " scaled" : " unscaled") +
         (masked ? " padded" : "") + " H=" + std::to_string(o.n_head);
}

bool all_rows_equal(const Tensor& a, const Tensor& b, int64_t batch, int64_t row) {
  return max_abs_diff(a.select(0, batch).select(0, row), b.select(0, batch).select(0, row)) == 0.0;
}

}  // namespace

TEST_CASE("SelfAttention has GPT-2's fused parameters and shapes") {
  Generator gen(1);
  SelfAttention attn(8, gen, {.n_head = 2});
  std::vector<std::string> names;
  for (const auto& [name, p] : attn.named_parameters()) names.push_back(name);
  CHECK(names ==
        std::vector<std::string>{"c_attn.weight", "c_attn.bias", "c_proj.weight", "c_proj.bias"});
  CHECK(attn.c_attn().weight().shape() == Shape{24, 8});
  CHECK(attn.c_proj().weight().shape() == Shape{8, 8});
  CHECK(attn.head_dim() == 4);
  // A head dim of one's own choosing: I = H * S differs from D.
  SelfAttention narrow(8, gen, {.n_head = 3, .head_dim = 2});
  CHECK(narrow.c_attn().weight().shape() == Shape{18, 8});
  CHECK(narrow.c_proj().weight().shape() == Shape{8, 6});
}

TEST_CASE("SelfAttention matches the loop reference for every activation, mask and scaling") {
  const Tensor x = randn64({3, 5, 6}, 2);
  int64_t seed = 10;
  for (auto act : {ScoreActivation::Softmax, ScoreActivation::ReluOverN}) {
    for (bool causal : {false, true}) {
      for (bool scale : {true, false}) {
        for (bool masked : {false, true}) {
          Generator gen(++seed);
          const AttentionOptions o = options(2, causal, act, scale);
          SelfAttention attn(6, gen, o);
          randomise_biases(attn, seed);
          const Tensor mask = masked ? ragged_mask() : Tensor();
          const Tensor y = attn.forward(ag::Variable(x), mask).value();
          INFO(describe(o, masked));
          CHECK(max_abs_diff(y, reference_attention(attn, x, mask)) < 1e-12);
        }
      }
    }
  }
  // And a head dim other than D / H (I = 3 * 2 = 6 for D = 4).
  Generator gen(40);
  AttentionOptions o = options(3, true, ScoreActivation::ReluOverN, true);
  o.head_dim = 2;
  SelfAttention attn(4, gen, o);
  const Tensor x4 = randn64({3, 5, 4}, 41);
  CHECK(max_abs_diff(attn.forward(ag::Variable(x4), ragged_mask()).value(),
                     reference_attention(attn, x4, ragged_mask())) < 1e-12);
}

TEST_CASE("ReLU attention without masks is docs/theory.md's (1/n) sum_j relu(<q_i,k_j>) v_j") {
  // One head, unscaled, identity-like projections written by hand: q = k = v = x, output = mixed.
  Generator gen(3);
  SelfAttention attn(2, gen, options(1, false, ScoreActivation::ReluOverN, false));
  Tensor w = zeros({6, 2}, DType::F64);
  for (int64_t part = 0; part < 3; ++part) {
    for (int64_t d = 0; d < 2; ++d) w.narrow(0, part * 2 + d, 1).narrow(1, d, 1).fill_(1.0);
  }
  attn.c_attn().weight().assign(w);
  attn.c_attn().bias().assign(zeros({6}, DType::F64));
  attn.c_proj().weight().assign(from_vector({1, 0, 0, 1}, {2, 2}, DType::F64));
  attn.c_proj().bias().assign(zeros({2}, DType::F64));
  const Tensor x = from_vector({1, 2, -1, 0.5, 3, -2}, {1, 3, 2}, DType::F64);
  const Tensor y = attn.forward(ag::Variable(x)).value();
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t d = 0; d < 2; ++d) {
      double expected = 0.0;
      for (int64_t j = 0; j < 3; ++j) {
        const double dot = x.at({0, i, 0}) * x.at({0, j, 0}) + x.at({0, i, 1}) * x.at({0, j, 1});
        expected += std::max(dot, 0.0) * x.at({0, j, d}) / 3.0;
      }
      CHECK(y.at({0, i, d}) == doctest::Approx(expected).epsilon(1e-14));
    }
  }
}

TEST_CASE("SelfAttention gradients with respect to the input and every parameter") {
  const Tensor mask = from_vector({1, 1, 1, 0, 1, 0, 1, 1}, {2, 4}, DType::F64);
  int64_t seed = 50;
  for (auto act : {ScoreActivation::Softmax, ScoreActivation::ReluOverN}) {
    for (bool causal : {false, true}) {
      for (bool masked : {false, true}) {
        Generator gen(++seed);
        const AttentionOptions o = options(2, causal, act, /*scale=*/true);
        SelfAttention attn(4, gen, o);
        randomise_biases(attn, seed);
        const Tensor m = masked ? mask : Tensor();
        const std::string name = describe(o, masked);
        expect_input_gradients(name, [&](const auto& v) { return attn.forward(v[0], m); },
                               {randn64({2, 4, 4}, seed + 100)});
        const ag::Variable x(randn64({2, 4, 4}, seed + 200));
        expect_parameter_gradients(name, attn, [&] { return attn.forward(x, m); });
      }
    }
  }
}

TEST_CASE("a padded token never influences a valid one, and the future never the past (exact)") {
  for (auto act : {ScoreActivation::Softmax, ScoreActivation::ReluOverN}) {
    for (bool causal : {false, true}) {
      Generator gen(60);
      SelfAttention attn(8, gen, options(2, causal, act, true, DType::F32));
      const Tensor mask = ragged_mask();
      Generator data(61);
      const Tensor x = randn({3, 5, 8}, data);
      // Replace every padded token by something else entirely (large values too).
      const Tensor x2 = redraw_padding(x, mask, data, 100);
      const Tensor y = attn.forward(ag::Variable(x), mask).value();
      const Tensor y2 = attn.forward(ag::Variable(x2), mask).value();
      INFO(describe(attn.options(), true));
      for (int64_t b = 0; b < 3; ++b) {
        for (int64_t t = 0; t < 5; ++t) {
          if (mask.at({b, t}) != 0.0) CHECK(all_rows_equal(y, y2, b, t));
        }
      }
      if (!causal) continue;
      // Changing token 3 leaves positions 0..2 exactly as they were.
      Tensor x3 = x.clone();
      x3.narrow(1, 3, 1).copy_(randn({3, 1, 8}, data));
      const Tensor y3 = attn.forward(ag::Variable(x3), mask).value();
      for (int64_t b = 0; b < 3; ++b) {
        for (int64_t t = 0; t < 3; ++t) CHECK(all_rows_equal(y, y3, b, t));
      }
    }
  }
}

TEST_CASE("a query that sees no key gets zero attention: output c_proj.bias, no NaN anywhere") {
  // Causal with a padded first token: query 0 sees nothing. Sequence 1 is all padding.
  const Tensor mask = from_vector({0, 1, 1, 1, 0, 0, 0, 0}, {2, 4}, DType::F32);
  for (auto act : {ScoreActivation::Softmax, ScoreActivation::ReluOverN}) {
    Generator gen(70);
    SelfAttention attn(4, gen, options(2, true, act, true, DType::F32));
    attn.c_proj().bias().assign(from_vector({0.1, 0.2, 0.3, 0.4}, {4}));
    Generator data(71);
    const ag::Variable x(randn({2, 4, 4}, data), true);
    const ag::Variable y = attn.forward(x, mask);
    CHECK(all_finite(y.value()));
    const Tensor bias = attn.c_proj().bias().value();
    CHECK(max_abs_diff(y.value().select(0, 0).select(0, 0), bias) == 0.0);
    for (int64_t t = 0; t < 4; ++t) {
      CHECK(max_abs_diff(y.value().select(0, 1).select(0, t), bias) == 0.0);
    }
    y.backward(randn({2, 4, 4}, data));
    CHECK(all_finite(x.grad()));
    for (const auto& [name, p] : attn.named_parameters()) {
      INFO(name);
      CHECK(all_finite(p.grad()));
    }
  }
}

TEST_CASE("SelfAttention rejects wrong shapes, naming itself and the shapes") {
  Generator gen(80);
  SelfAttention attn(8, gen, {.n_head = 2});
  const auto message = [&](const Tensor& x, const Tensor& mask) -> std::string {
    try {
      attn.forward(ag::Variable(x), mask);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  CHECK(message(zeros({2, 3, 6}), Tensor()) ==
        "SelfAttention: expected input (B, T, 8), got (2,3,6)");
  CHECK(message(zeros({2, 3, 8}), zeros({2, 4})) ==
        "SelfAttention: key_padding_mask must be (B, T) = (2,3), got (2,4)");
  CHECK_THROWS_WITH(SelfAttention(6, gen, {.n_head = 4}),
                    "SelfAttention: n_embd 6 is not divisible by n_head 4");
}
