// test_tgmm.cpp — the TGMM model: PyTorch parity (outputs, loss, every gradient; unit and
// diagonal covariance), parameter names, configuration round trip, the slot-matching loss with
// and without scales, the scale head's gradients (f64 finite differences), masking of padded
// points.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "autograd/ops.h"
#include "gmm/tgmm/tgmm.h"
#include "gmm/tgmm/tgmm_loss.h"
#include "nn/module_testing.h"
#include "testing.h"

using namespace tg;
using namespace tg::gmm;
using tg::testing::max_relative_error;

namespace {

Tensor from_json(const nlohmann::json& values, const Shape& shape, DType dtype = DType::F32) {
  return from_vector(values.get<std::vector<double>>(), shape, dtype);
}

TaskBatch batch_from_json(const nlohmann::json& j, int64_t k_max) {
  const auto shape = j["shape"].get<std::vector<int64_t>>();
  const int64_t B = shape[0], N = shape[1], d = shape[2];
  TaskBatch batch;
  batch.x = from_json(j["x"], {B, N, d});
  batch.lengths = from_indices(j["lengths"].get<std::vector<int64_t>>());
  batch.ks = from_indices(j["ks"].get<std::vector<int64_t>>());
  batch.weights = from_json(j["weights"], {B, k_max});
  batch.means = from_json(j["means"], {B, k_max, d});
  batch.component_mask = from_json(j["component_mask"], {B, k_max});
  batch.labels = full({B, N}, -1, DType::I64);
  if (j.contains("scales")) batch.scales = from_json(j["scales"], {B, k_max, d});
  return batch;
}

}  // namespace

TEST_CASE("TGMM matches PyTorch: outputs, loss and every gradient (f32, relative 1e-5)") {
  std::ifstream in(std::string(TG_SOURCE_DIR) + "/tests/fixtures/tgmm.json");
  REQUIRE(in.good());
  const nlohmann::json fixture = nlohmann::json::parse(in);
  for (const auto& c : fixture["cases"]) {
    const std::string covariance = c.value("covariance", "unit");
    const std::string label = c["backbone"].get<std::string>() + "/" +
                              c["weight_head"].get<std::string>() + "/" + covariance;
    CAPTURE(label);
    TgmmConfig cfg;
    cfg.d = c["config"]["d"];
    cfg.ks = c["config"]["ks"].get<std::vector<int64_t>>();
    cfg.k_max = c["config"]["k_max"];
    cfg.embd = c["config"]["embd"];
    cfg.layers = c["config"]["layers"];
    cfg.heads = c["config"]["heads"];
    cfg.n_positions = c["config"]["n_positions"];
    cfg.backbone = c["backbone"];
    cfg.weight_head = parse_weight_head(c["weight_head"]);
    cfg.covariance = parse_covariance(covariance);
    Generator gen(0);
    TgmmModel model(cfg, gen);

    // Same parameter names as the PyTorch module tree, and load the reference weights.
    std::set<std::string> ours, theirs;
    for (const auto& [name, p] : model.named_parameters()) ours.insert(name);
    for (const auto& [name, p] : c["parameters"].items()) theirs.insert(name);
    CHECK(ours == theirs);
    for (const auto& [name, p] : c["parameters"].items()) {
      model.parameter(name).assign(from_json(p["value"], p["shape"].get<std::vector<int64_t>>()));
    }

    const TaskBatch batch = batch_from_json(c["batch"], cfg.k_max);
    const TgmmOutput out = model.forward(batch.x, batch.ks, batch.valid_mask(DType::F32));
    const TgmmLoss loss = tgmm_loss(out, batch, LossKind::Sorted);
    loss.loss.backward();

    const int64_t B = batch.batch_size();
    const Tensor ref_logw = from_json(c["log_weights"], {B, cfg.k_max});
    const Tensor ref_means = from_json(c["means_out"], {B, cfg.k_max, cfg.d});
    for (int64_t b = 0; b < B; ++b) {  // compare the K valid slots of each task
      const int64_t K = batch.k(b);
      CHECK(max_relative_error(out.log_weights.value().select(0, b).narrow(0, 0, K),
                               ref_logw.select(0, b).narrow(0, 0, K)) < 1e-5);
      CHECK(max_relative_error(out.means.value().select(0, b).narrow(0, 0, K),
                               ref_means.select(0, b).narrow(0, 0, K)) < 1e-5);
      if (cfg.covariance == Covariance::Diagonal) {
        const Tensor ref_scales = from_json(c["scales_out"], {B, cfg.k_max, cfg.d});
        CHECK(max_relative_error(out.scales.value().select(0, b).narrow(0, 0, K),
                                 ref_scales.select(0, b).narrow(0, 0, K)) < 1e-5);
      }
    }
    CHECK(out.scales.defined() == (cfg.covariance == Covariance::Diagonal));
    CHECK(loss.scale_loss.has_value() == (cfg.covariance == Covariance::Diagonal));
    CHECK(loss.loss.item() == doctest::Approx(c["loss"].get<double>()).epsilon(1e-5));
    double worst = 0;
    std::string worst_name;
    for (const auto& [name, g] : c["gradients"].items()) {
      const ag::Variable p = model.parameter(name);
      REQUIRE_MESSAGE(p.grad().defined(), name);
      const double e = max_relative_error(p.grad(), from_json(g, p.shape()));
      if (e > worst) worst = e, worst_name = name;
    }
    CHECK_MESSAGE(worst < 1e-5, "worst gradient " << worst_name << ": " << worst);
  }
}

TEST_CASE("TGMM parameter names and counts follow the official module tree") {
  TgmmConfig cfg;  // the paper's defaults: d=8, D=128, L=12, H=4, ks 2..5
  Generator gen(1);
  TgmmModel model(cfg, gen);
  const auto named = model.named_parameters();
  std::set<std::string> names;
  for (const auto& [n, p] : named) names.insert(n);
  for (const char* expected :
       {"task_embedding.weight", "read_in.weight", "read_in.bias", "backbone.wpe.weight",
        "backbone.h.0.ln_1.weight", "backbone.h.11.attn.c_attn.weight",
        "backbone.h.11.mlp.c_proj.bias", "backbone.ln_f.bias", "readouts.0.queries",
        "readouts.3.k_proj.weight", "readouts.3.v_proj.weight"}) {
    CHECK_MESSAGE(names.count(expected), expected);
  }
  CHECK(model.parameter("read_in.weight").shape() == Shape{128, 8 + 128});
  CHECK(model.parameter("backbone.h.0.attn.c_attn.weight").shape() == Shape{384, 128});
  CHECK(model.parameter("readouts.1.queries").shape() == Shape{5, 13});
  // Backbone: 12 blocks of 12 D^2 + 13 D, plus positions and the final LayerNorm.
  int64_t backbone = 0;
  for (const auto& [n, p] : named) {
    if (n.rfind("backbone.h.", 0) == 0) backbone += p.numel();
  }
  CHECK(backbone == 12 * (12 * 128 * 128 + 13 * 128));

  // A diagonal model: the same names, readouts of width Kmax + 2d (the official layout).
  cfg.covariance = Covariance::Diagonal;
  TgmmModel diag(cfg, gen);
  CHECK(diag.named_parameters().size() == named.size());
  CHECK(diag.parameter("readouts.1.queries").shape() == Shape{5, 5 + 16});
  CHECK(diag.parameter("readouts.3.k_proj.weight").shape() == Shape{21, 128});
  CHECK(diag.parameter("readouts.3.v_proj.weight").shape() == Shape{21, 128});
  CHECK(diag.parameter("task_embedding.weight").shape() == Shape{5, 128});
  // K_max sizes the task embedding and every readout: ks {2, 3, 4} with k_max 4.
  cfg.covariance = Covariance::Unit;
  cfg.ks = {2, 3, 4};
  cfg.k_max = 4;
  TgmmModel four(cfg, gen);
  CHECK(four.parameter("task_embedding.weight").shape() == Shape{4, 128});
  CHECK(four.parameter("readouts.2.queries").shape() == Shape{4, 4 + 8});
  CHECK(four.parameter("readouts.2.v_proj.weight").shape() == Shape{12, 128});
}

TEST_CASE("TGMM config survives the checkpoint metadata round trip; bad configs are refused") {
  TgmmConfig cfg;
  cfg.d = 2;
  cfg.ks = {3, 5};
  cfg.embd = 32;
  cfg.layers = 2;
  cfg.backbone = "set";
  cfg.weight_head = WeightHead::Slot;
  const TgmmConfig back = TgmmConfig::from_metadata(cfg.to_metadata());
  CHECK(back.to_metadata() == cfg.to_metadata());
  CHECK(cfg.to_metadata().count("covariance") == 0);  // a unit model's metadata is unchanged
  CHECK(back.covariance == Covariance::Unit);
  TgmmConfig diag = cfg;
  diag.covariance = Covariance::Diagonal;
  diag.k_max = 7;
  CHECK(diag.to_metadata().at("covariance") == "diag");
  const TgmmConfig diag_back = TgmmConfig::from_metadata(diag.to_metadata());
  CHECK(diag_back.covariance == Covariance::Diagonal);
  CHECK(diag_back.k_max == 7);
  CHECK(diag_back.readout_width() == 7 + 2 * 2);
  auto bad_covariance = diag.to_metadata();
  bad_covariance["covariance"] = "full";
  CHECK_THROWS_WITH_AS(TgmmConfig::from_metadata(bad_covariance),
                       "unknown covariance 'full' (expected unit or diag)", std::invalid_argument);
  TgmmConfig bad = cfg;
  bad.ks = {6};
  CHECK_THROWS_WITH_AS(bad.validate(), "TGMM config: every K must be in [1, k_max=5]",
                       std::invalid_argument);
  bad = cfg;
  bad.embd = 30;
  bad.heads = 4;
  CHECK_THROWS_WITH_AS(bad.validate(), "TGMM config: embd must be a positive multiple of heads",
                       std::invalid_argument);
  auto meta = cfg.to_metadata();
  meta.erase("layers");
  CHECK_THROWS_WITH_AS(TgmmConfig::from_metadata(meta), "TGMM config: metadata has no 'layers'",
                       std::invalid_argument);
}

TEST_CASE("padded points never influence a task's estimate") {
  TgmmConfig cfg;
  cfg.d = 2;
  cfg.ks = {2, 3};
  cfg.k_max = 3;
  cfg.embd = 16;
  cfg.layers = 2;
  cfg.heads = 2;
  cfg.n_positions = 8;
  for (const char* backbone : {"gpt2", "set"}) {
    cfg.backbone = backbone;
    Generator gen(3);
    TgmmModel model(cfg, gen);
    Tensor x = randn({2, 8, 2}, gen);
    const Tensor ks = from_indices({2, 3});
    Tensor valid = ones({2, 8});
    valid.narrow(1, 5, 3).fill_(0.0);  // the last 3 points of each task are padding
    const TgmmOutput a = model.forward(x, ks, valid);
    x.narrow(1, 5, 3).fill_(100.0);
    const TgmmOutput b = model.forward(x, ks, valid);
    CHECK(max_abs_diff(a.means.value(), b.means.value()) == 0.0);
    CHECK(max_abs_diff(a.log_weights.value(), b.log_weights.value()) == 0.0);
    // Slots beyond K carry no weight.
    CHECK(std::exp(a.log_weights.value().at({0, 2})) == 0.0);
  }
}

TEST_CASE("the Hungarian loss trains each slot against its nearest true component") {
  TaskBatch batch;
  batch.x = zeros({1, 4, 1});
  batch.lengths = from_indices({4});
  batch.ks = from_indices({2});
  batch.weights = from_vector({0.3, 0.7}, {1, 2});
  batch.means = from_vector({-4, 4}, {1, 2, 1});
  batch.component_mask = ones({1, 2});
  // The model predicts the components in the opposite order.
  TgmmOutput out{ag::Variable(log(from_vector({0.6, 0.4}, {1, 2}))),
                 ag::Variable(from_vector({3.5, -4.5}, {1, 2, 1}), true),
                 {}};
  const SlotTargets sorted = slot_targets(out, batch, LossKind::Sorted);
  const SlotTargets matched = slot_targets(out, batch, LossKind::Hungarian);
  CHECK(sorted.means.to_vector() == std::vector<double>{-4, 4});
  CHECK(matched.means.to_vector() == std::vector<double>{4, -4});
  CHECK(matched.weights.at({0, 0}) == doctest::Approx(0.7));
  CHECK(matched.weights.at({0, 1}) == doctest::Approx(0.3));
  const double matched_loss = tgmm_loss(out, batch, LossKind::Hungarian).mean_loss;
  CHECK(matched_loss == doctest::Approx((0.25 + 0.25) / 2));
  CHECK(tgmm_loss(out, batch, LossKind::Sorted).mean_loss > matched_loss);
}

TEST_CASE("with scales, the loss adds their MSE on the slots the means were matched to") {
  TaskBatch batch;
  batch.x = zeros({1, 4, 2});
  batch.lengths = from_indices({4});
  batch.ks = from_indices({2});
  batch.weights = from_vector({0.3, 0.7, 0.0}, {1, 3});  // K = 2 of Kmax = 3
  batch.means = from_vector({-4, 0, 4, 0, 0, 0}, {1, 3, 2});
  batch.component_mask = from_vector({1, 1, 0}, {1, 3});
  batch.scales = from_vector({0.5, 1.0, 2.0, 3.0, 0, 0}, {1, 3, 2});
  // The model predicts the two components in the opposite order; slot 2 is padding.
  const ag::Variable log_w(log(from_vector({0.6, 0.4, 1e-30}, {1, 3})));
  const ag::Variable mu(from_vector({4, 0, -4, 0, 9, 9}, {1, 3, 2}), true);
  const ag::Variable sigma(from_vector({2.5, 3.0, 0.5, 2.0, 7, 7}, {1, 3, 2}), true);
  const TgmmOutput out{log_w, mu, sigma};

  const SlotTargets matched = slot_targets(out, batch, LossKind::Hungarian);
  CHECK(matched.scales.to_vector() == std::vector<double>{2, 3, 0.5, 1, 0, 0});
  const TgmmLoss hungarian = tgmm_loss(out, batch, LossKind::Hungarian);
  REQUIRE(hungarian.scale_loss.has_value());
  // Slot 0 against (2, 3): 0.25; slot 1 against (0.5, 1): 1; each / d = 2, then / K = 2.
  CHECK(*hungarian.scale_loss == doctest::Approx((0.25 / 2 + 1.0 / 2) / 2));
  CHECK(hungarian.mean_loss == doctest::Approx(0.0));
  CHECK(hungarian.loss.item() ==
        doctest::Approx(hungarian.weight_loss + hungarian.mean_loss + *hungarian.scale_loss));
  // Sorted targets keep the sampler's order: the scales are compared crosswise.
  const TgmmLoss sorted = tgmm_loss(out, batch, LossKind::Sorted);
  CHECK(*sorted.scale_loss == doctest::Approx(((4 + 4) / 2.0 + (2.25 + 1) / 2.0) / 2));
  // The gradient of the scale term: d/dsigma_hat = 2 (sigma_hat - sigma) / (d K), padding 0.
  hungarian.loss.backward();
  const std::vector<double> g = sigma.grad().to_vector();
  CHECK(g[0] == doctest::Approx(2 * 0.5 / 4));
  CHECK(g[1] == doctest::Approx(0.0));
  CHECK(g[3] == doctest::Approx(2 * 1.0 / 4));
  CHECK(g[4] == 0.0);
  CHECK(g[5] == 0.0);

  // A model with scales cannot train on tasks without them.
  TaskBatch unit = batch;
  unit.scales = Tensor();
  CHECK_THROWS_WITH_AS(tgmm_loss(out, unit, LossKind::Hungarian),
                       doctest::Contains("the model estimates scales but the batch has none"),
                       std::invalid_argument);
}

TEST_CASE(
    "a diagonal TGMM: positive scales, and every gradient of the loss with the scale term "
    "matches finite differences (f64)") {
  TgmmConfig cfg;
  cfg.d = 2;
  cfg.ks = {2};
  cfg.k_max = 2;
  cfg.embd = 4;
  cfg.layers = 1;
  cfg.heads = 1;
  cfg.n_positions = 5;
  cfg.backbone = "set";
  cfg.weight_head = WeightHead::Slot;
  cfg.covariance = Covariance::Diagonal;
  cfg.dtype = DType::F64;
  Generator gen(5);
  TgmmModel model(cfg, gen);
  TaskConfig tasks;
  tasks.d = 2;
  tasks.ks = {2};
  tasks.tasks_per_k = 2;
  tasks.n = 5;
  tasks.random_lengths = true;
  tasks.shift = Shift::Anisotropic;
  tasks.dtype = DType::F64;
  const TaskBatch batch = sample_tasks(tasks, gen);
  const Tensor valid = batch.valid_mask(DType::F64);

  const TgmmOutput out = model.forward(batch.x, batch.ks, valid);
  REQUIRE(out.scales.shape() == Shape{2, 2, 2});
  CHECK(min(out.scales.value()).item() > 0.0);
  for (LossKind kind : {LossKind::Sorted, LossKind::Hungarian}) {
    CAPTURE(loss_kind_name(kind));
    nn::testing::expect_parameter_gradients("diagonal TGMM loss", model, [&] {
      return tgmm_loss(model.forward(batch.x, batch.ks, valid), batch, kind).loss;
    });
  }
}
