// test_gpt2_parity.cpp — our GPT-2 backbone and attentive pooling against PyTorch, in float32.
//
// tests/fixtures/gpt2_backbone.json is written by tests/fixtures/make_gpt2_fixture.py (PyTorch
// 1.13, plain torch.nn mirroring nn/gpt2.h and nn/pooling.h): a 2-layer backbone (D = 16, H = 2,
// T = 6, B = 3, causal, key padding including a query that sees no key, learned positions,
// final LN) and a pooling readout, with their weights, input, mask, output, a random upstream
// gradient and the gradients of the input and every parameter. We load the weights by name, run
// forward and backward in f32 and compare every tensor separately (llm.c's lesson: one global
// tolerance hides bugs) by  max|ours - torch| / max|torch| <= 1e-5.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "nn/gpt2.h"
#include "nn/pooling.h"
#include "testing.h"

using namespace tg;
using namespace tg::nn;
using tg::testing::max_relative_error;
using json = nlohmann::json;

namespace {

constexpr double kTolerance = 1e-5;

json load_fixture() {
  const std::string path = std::string(TG_SOURCE_DIR) + "/tests/fixtures/gpt2_backbone.json";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "missing fixture " << path);
  return json::parse(in);
}

// A fixture tensor {"values": [...], "shape": [...]}.
Tensor from_entry(const json& entry, DType dtype = DType::F32) {
  return from_vector(entry["values"].get<std::vector<double>>(),
                     entry["shape"].get<std::vector<int64_t>>(), dtype);
}

// Loads every fixture weight into `model` by name (the name sets must agree exactly), runs the
// forward and backward pass, and checks the output and every gradient. Returns the worst error.
template <class M>
double check_against_torch(M& model, const json& fx, const std::string& label) {
  std::set<std::string> ours, theirs;
  for (const auto& [name, p] : model.named_parameters()) ours.insert(name);
  for (const auto& [name, entry] : fx["params"].items()) theirs.insert(name);
  CHECK(ours == theirs);
  for (const auto& [name, entry] : fx["params"].items())
    model.parameter(name).assign(from_entry(entry));

  const ag::Variable x(from_entry(fx["input"]), true);  // (B, T, D)
  const Tensor mask = from_entry(fx["mask"]);           // (B, T), 1 = valid
  const ag::Variable y = model.forward(x, mask);
  y.backward(from_entry(fx["grad_output"]));

  double worst = 0.0;
  std::string worst_name;
  const auto compare = [&](const std::string& name, const Tensor& got, const json& want) {
    // Both read in f64; a zero reference (an unused position row of wpe, say) must be matched
    // exactly.
    const double err = max_relative_error(got, from_entry(want, DType::F64));
    INFO(label << " " << name << ": relative error " << err);
    CHECK(err <= kTolerance);
    if (err >= worst) {
      worst = err;
      worst_name = name;
    }
  };
  compare("output", y.value(), fx["output"]);
  compare("grad input", x.grad(), fx["grad_input"]);
  for (const auto& [name, want] : fx["grad_params"].items()) {
    compare("grad " + name, model.parameter(name).grad(), want);
  }
  MESSAGE(label << ": worst relative error vs PyTorch " << worst << " (" << worst_name << ")");
  return worst;
}

}  // namespace

TEST_CASE("GPT-2 backbone matches PyTorch: output and every gradient (float32, rel err <= 1e-5)") {
  const json fx = load_fixture();
  const json& c = fx["config"];
  GPT2Config config;
  config.n_embd = c["n_embd"];
  config.n_layer = c["n_layer"];
  config.n_head = c["n_head"];
  config.n_positions = c["n_positions"];
  Generator gen(0);  // the weights are overwritten from the fixture
  GPT2Backbone model(config, gen);
  check_against_torch(model, fx["backbone"], "backbone");
}

TEST_CASE("attentive pooling matches PyTorch: output and every gradient (float32)") {
  const json fx = load_fixture();
  const json& c = fx["config"];
  Generator gen(0);
  AttentivePooling pool(c["n_embd"], c["n_queries"], c["out_dim"], gen);
  check_against_torch(pool, fx["pooling"], "pooling");
}
