// test_gpt2.cpp — TransformerBlock and GPT2Backbone: parameter names and counts (GPT-2's, and
// the paper's 2.4M at D = 128, L = 12, H = 4), the block's pre-LN formula, gradchecks (f64) of
// the input and every parameter, mask semantics through several layers, and the seeded GPT-2
// initialisation (reproducible; std 0.02 and 0.02/sqrt(2L) for the output projections).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "module_testing.h"
#include "nn/gpt2.h"

using namespace tg;
using namespace tg::nn;
using tg::nn::testing::expect_input_gradients;
using tg::nn::testing::expect_parameter_gradients;
using tg::nn::testing::names_of;
using tg::nn::testing::randn64;
using tg::nn::testing::redraw_padding;

namespace {

double std_of(const Tensor& t) {
  const double m = mean(t).item();
  return std::sqrt(mean(square(t - m)).item());
}

GPT2Config small_config(bool causal, bool positions, bool layer_norm = true) {
  GPT2Config c;
  c.n_embd = 4;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_positions = 5;
  c.causal = causal;
  c.use_positions = positions;
  c.layer_norm = layer_norm;
  c.mlp_hidden = 4;  // F = D keeps the finite-difference gradchecks quick
  c.init_std = 0.5;  // large enough that every path matters in the gradchecks
  c.dtype = DType::F64;
  return c;
}

// Every bias and LayerNorm parameter moved off its initial 0 / 1.
void randomise(const Module& m, uint64_t seed) {
  for (const auto& [name, p] : m.named_parameters()) {
    if (name.ends_with("bias") || name.find("ln_") != std::string::npos) {
      p.assign(p.value() + randn64(p.shape(), seed++, 0.3));
    }
  }
}

}  // namespace

TEST_CASE("GPT2Backbone parameters are named exactly as GPT-2's") {
  Generator gen(1);
  GPT2Backbone model(small_config(true, true), gen);
  std::vector<std::string> expected{"wpe.weight"};
  for (int i = 0; i < 2; ++i) {
    const std::string p = "h." + std::to_string(i) + ".";
    for (const char* s :
         {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
          "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight",
          "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"}) {
      expected.push_back(p + s);
    }
  }
  expected.push_back("ln_f.weight");
  expected.push_back("ln_f.bias");
  CHECK(names_of(model) == expected);
  CHECK(model.parameter("h.1.attn.c_attn.weight").shape() == Shape{12, 4});
  CHECK(model.parameter("h.0.mlp.c_proj.weight").shape() == Shape{4, 4});
  CHECK(model.parameter("wpe.weight").shape() == Shape{5, 4});

  // The set variant has no position table; without LayerNorms there are no ln_* parameters.
  GPT2Backbone set(small_config(false, false), gen);
  CHECK(names_of(set).front() == "h.0.ln_1.weight");
  GPT2Backbone bare(small_config(false, false, false), gen);
  for (const auto& name : names_of(bare)) CHECK(name.find("ln_") == std::string::npos);
  CHECK(names_of(bare).size() == 2 * 8);
}

TEST_CASE("GPT2Backbone at the paper's size has 2.4M parameters: 12 L D^2 + 13 L D + P D + 2 D") {
  GPT2Config c;  // D = 128, L = 12, H = 4, P = 128
  Generator gen(2);
  GPT2Backbone model(c, gen);
  const int64_t D = 128, L = 12, P = 128;
  const int64_t per_block = 12 * D * D + 13 * D;  // 3D^2+3D + D^2+D + 4D^2+4D + 4D^2+D + 4D (LNs)
  CHECK(model.parameter_count() == L * per_block + P * D + 2 * D);
  CHECK(model.parameter_count() == 2395904);
  c.causal = false;
  c.use_positions = false;
  GPT2Backbone set(c, gen);
  CHECK(set.parameter_count() == 2395904 - P * D);
}

TEST_CASE("GPT-2 initialisation: seeded, N(0, 0.02^2), output projections 0.02/sqrt(2L)") {
  GPT2Config c;
  c.n_layer = 6;
  Generator g1(42), g2(42), g3(43);
  GPT2Backbone a(c, g1), b(c, g2), other(c, g3);
  for (const auto& [name, p] : a.named_parameters()) {
    INFO(name);
    CHECK(max_abs_diff(p.value(), b.parameter(name).value()) == 0.0);
    const Tensor v = p.value();
    if (name.ends_with(".bias")) {
      CHECK(max(abs(v)).item() == 0.0);
    } else if (name.find("ln_") != std::string::npos) {
      CHECK(min(v).item() == 1.0);
      CHECK(max(v).item() == 1.0);
    } else {
      const bool residual = name.ends_with("c_proj.weight");
      const double expected = residual ? 0.02 / std::sqrt(12.0) : 0.02;
      CHECK(std_of(v) == doctest::Approx(expected).epsilon(0.03));
      CHECK(std::abs(mean(v).item()) < 0.1 * expected);
      CHECK(max_abs_diff(v, other.parameter(name).value()) > 0.0);
    }
  }
}

TEST_CASE("TransformerBlock is pre-LN: h + attn(ln_1(h)), then + mlp(ln_2(h)); or without LNs") {
  for (bool layer_norm : {true, false}) {
    Generator gen(3);
    BlockOptions o;
    o.layer_norm = layer_norm;
    o.attention = {.n_head = 2, .causal = true, .dtype = DType::F64};
    o.mlp = {.dtype = DType::F64};
    TransformerBlock block(4, gen, o);
    CHECK(names_of(block).size() == (layer_norm ? 12u : 8u));
    const ag::Variable h(randn64({2, 3, 4}, 4));
    const ag::Variable y = block.forward(h);
    ag::Variable a = h, expected;
    if (layer_norm)
      a = ag::layer_norm(h, block.parameter("ln_1.weight"), block.parameter("ln_1.bias"));
    const ag::Variable h1 = h + block.attn().forward(a);
    ag::Variable m = h1;
    if (layer_norm)
      m = ag::layer_norm(h1, block.parameter("ln_2.weight"), block.parameter("ln_2.bias"));
    expected = h1 + block.mlp().forward(m);
    CHECK(max_abs_diff(y.value(), expected.value()) == 0.0);
  }
}

TEST_CASE("GPT2Backbone gradients with respect to the input and every parameter") {
  const Tensor mask = from_vector({1, 1, 1, 0, 1, 1, 0, 0}, {2, 4}, DType::F64);
  struct Case {
    const char* name;
    GPT2Config config;
  };
  for (const Case& k :
       {Case{"causal gpt2", small_config(true, true)}, Case{"set", small_config(false, false)},
        Case{"no layer norm", small_config(false, true, false)}}) {
    Generator gen(5);
    GPT2Backbone model(k.config, gen);
    randomise(model, 6);
    expect_input_gradients(k.name, [&](const auto& v) { return model.forward(v[0], mask); },
                           {randn64({2, 4, 4}, 7)});
    const ag::Variable x(randn64({2, 4, 4}, 8));
    expect_parameter_gradients(k.name, model, [&] { return model.forward(x, mask); });
  }
}

TEST_CASE("through the whole backbone a padded token never influences a valid one (exact)") {
  for (bool causal : {true, false}) {
    GPT2Config c = small_config(causal, causal);
    c.n_embd = 16;
    c.n_positions = 6;
    c.n_layer = 3;
    c.dtype = DType::F32;
    Generator gen(9);
    GPT2Backbone model(c, gen);
    const Tensor mask = from_vector({1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0}, {2, 6});
    Generator data(10);
    const Tensor x = randn({2, 6, 16}, data);
    const Tensor x2 = redraw_padding(x, mask, data, 50);
    const Tensor y = model.forward(ag::Variable(x), mask).value();
    const Tensor y2 = model.forward(ag::Variable(x2), mask).value();
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t t = 0; t < 6; ++t) {
        if (mask.at({b, t}) == 0.0) continue;
        INFO("causal " << causal << " b " << b << " t " << t);
        CHECK(max_abs_diff(y.select(0, b).select(0, t), y2.select(0, b).select(0, t)) == 0.0);
      }
    }
  }
}

TEST_CASE("GPT2Backbone rejects bad inputs, naming itself and the shapes") {
  Generator gen(11);
  GPT2Config c = small_config(true, true);
  GPT2Backbone model(c, gen);
  CHECK_THROWS_WITH(model.forward(ag::Variable(zeros({2, 6, 4}, DType::F64))),
                    "GPT2Backbone: 6 tokens exceed n_positions 5 in (2,6,4)");
  CHECK_THROWS_WITH(model.forward(ag::Variable(zeros({2, 3, 5}, DType::F64))),
                    "GPT2Backbone: expected inputs_embeds (B, T, 4), got (2,3,5)");
}
