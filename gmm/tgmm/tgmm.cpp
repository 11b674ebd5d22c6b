// tgmm.cpp — the TGMM model's construction and forward pass (see tgmm.h).
#include "gmm/tgmm/tgmm.h"

#include <algorithm>
#include <stdexcept>

#include "autograd/ops.h"

namespace tg::gmm {

namespace {
std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  return s;
}
std::vector<int64_t> split_ints(const std::string& s) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = std::min(s.find(',', start), s.size());
    out.push_back(std::stoll(s.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}
constexpr double kMaskedLogit = -1e9;  // slots >= K: exp() is exactly 0, 0 * logit stays finite

// softplus(v) = log(1 + e^v) = logsumexp(0, v): stable for any v, and its gradient is the
// logsumexp's softmax weight of v, sigmoid(v).
ag::Variable softplus(const ag::Variable& v) {
  const int64_t last = v.dim();
  const ag::Variable zero(zeros(v.shape(), v.dtype()).to(v.device()));
  return ag::logsumexp(ag::stack({zero, v}, last), {last});
}
}  // namespace

const char* weight_head_name(WeightHead head) {
  return head == WeightHead::Average ? "average" : "slot";
}

WeightHead parse_weight_head(const std::string& name) {
  if (name == "average") return WeightHead::Average;
  if (name == "slot") return WeightHead::Slot;
  throw std::invalid_argument("unknown weight head '" + name + "' (expected average or slot)");
}

Covariance parse_model_covariance(const std::string& name) {
  if (name == "unit") return Covariance::Unit;
  if (name == "diag") return Covariance::Diagonal;
  throw std::invalid_argument("unknown covariance '" + name + "' (expected unit or diag)");
}

int64_t TgmmConfig::readout_width() const {
  return k_max + (covariance == Covariance::Diagonal ? 2 * d : d);
}

void TgmmConfig::validate() const {
  auto fail = [](const std::string& what) { throw std::invalid_argument("TGMM config: " + what); };
  if (d < 1) fail("d must be >= 1");
  if (ks.empty()) fail("ks is empty");
  for (int64_t k : ks) {
    if (k < 1 || k > k_max) fail("every K must be in [1, k_max=" + std::to_string(k_max) + "]");
    if (std::count(ks.begin(), ks.end(), k) > 1) fail("K=" + std::to_string(k) + " repeated");
  }
  if (embd < 1 || heads < 1 || embd % heads != 0) fail("embd must be a positive multiple of heads");
  if (layers < 1) fail("layers must be >= 1");
  if (n_positions < 1) fail("n_positions must be >= 1");
  if (backbone != "gpt2" && backbone != "set") fail("backbone must be gpt2 or set");
}

std::map<std::string, std::string> TgmmConfig::to_metadata() const {
  std::map<std::string, std::string> metadata = {{"model", "tgmm"},
                                                 {"d", std::to_string(d)},
                                                 {"ks", join(ks)},
                                                 {"k_max", std::to_string(k_max)},
                                                 {"embd", std::to_string(embd)},
                                                 {"layers", std::to_string(layers)},
                                                 {"heads", std::to_string(heads)},
                                                 {"n_positions", std::to_string(n_positions)},
                                                 {"backbone", backbone},
                                                 {"weight_head", weight_head_name(weight_head)},
                                                 {"dtype", dtype_name(dtype)}};
  if (covariance == Covariance::Diagonal) metadata["covariance"] = covariance_name(covariance);
  return metadata;
}

TgmmConfig TgmmConfig::from_metadata(const std::map<std::string, std::string>& metadata) {
  auto get = [&](const std::string& key) {
    auto it = metadata.find(key);
    if (it == metadata.end()) {
      throw std::invalid_argument("TGMM config: metadata has no '" + key + "'");
    }
    return it->second;
  };
  if (get("model") != "tgmm") throw std::invalid_argument("TGMM config: not a TGMM checkpoint");
  TgmmConfig c;
  try {
    c.d = std::stoll(get("d"));
    c.ks = split_ints(get("ks"));
    c.k_max = std::stoll(get("k_max"));
    c.embd = std::stoll(get("embd"));
    c.layers = std::stoll(get("layers"));
    c.heads = std::stoll(get("heads"));
    c.n_positions = std::stoll(get("n_positions"));
  } catch (const std::logic_error& e) {
    if (dynamic_cast<const std::invalid_argument*>(&e) &&
        std::string(e.what()).rfind("TGMM config", 0) == 0) {
      throw;
    }
    throw std::invalid_argument("TGMM config: a numeric field in the metadata is malformed");
  }
  c.backbone = get("backbone");
  c.weight_head = parse_weight_head(get("weight_head"));
  const auto covariance = metadata.find("covariance");
  if (covariance != metadata.end()) c.covariance = parse_model_covariance(covariance->second);
  c.dtype = get("dtype") == "f64" ? DType::F64 : DType::F32;
  c.validate();
  return c;
}

TgmmModel::TgmmModel(const TgmmConfig& config, Generator& gen) : config_(config) {
  config_.validate();
  const DType dt = config_.dtype;
  const int64_t E = config_.readout_width();
  task_embedding_ = register_module(
      "task_embedding", std::make_shared<nn::Embedding>(config_.k_max, TgmmConfig::kTaskEmbedding,
                                                        gen, nn::EmbeddingOptions{1.0, dt}));
  read_in_ = register_module(
      "read_in", std::make_shared<nn::Linear>(config_.d + TgmmConfig::kTaskEmbedding, config_.embd,
                                              gen, nn::LinearOptions::uniform(dt)));
  nn::GPT2Config bc;
  bc.n_embd = config_.embd;
  bc.n_layer = config_.layers;
  bc.n_head = config_.heads;
  bc.n_positions = config_.n_positions;
  bc.causal = config_.backbone == "gpt2";
  bc.use_positions = config_.backbone == "gpt2";
  bc.dtype = dt;
  backbone_ = register_module("backbone", std::make_shared<nn::GPT2Backbone>(bc, gen));
  auto readout_list = register_module("readouts", std::make_shared<nn::ModuleList>());
  for (size_t j = 0; j < config_.ks.size(); ++j) {
    readouts_.push_back(readout_list->append(
        std::make_shared<nn::AttentivePooling>(config_.embd, config_.k_max, E, gen, dt)));
  }
}

// ------------------------------------------------------------------------------ forward

void TgmmModel::check_inputs(const Tensor& x, const Tensor& ks, const Tensor& valid) const {
  const TgmmConfig& c = config_;
  if (x.dim() != 3 || x.size(2) != c.d) {
    throw std::invalid_argument("TGMM: expected points (B, N, " + std::to_string(c.d) + "), got " +
                                shape_str(x.shape()));
  }
  const int64_t B = x.size(0), N = x.size(1);
  if (ks.shape() != Shape{B} || valid.shape() != Shape{B, N}) {
    throw std::invalid_argument("TGMM: expected ks (" + std::to_string(B) + ") and valid " +
                                shape_str({B, N}) + ", got " + shape_str(ks.shape()) + " and " +
                                shape_str(valid.shape()));
  }
  if (c.backbone == "gpt2" && N > c.n_positions) {
    throw std::invalid_argument("TGMM: " + std::to_string(N) + " points exceed the model's " +
                                std::to_string(c.n_positions) + " positions");
  }
}

std::vector<std::vector<int64_t>> TgmmModel::tasks_per_readout(const Tensor& ks) const {
  const std::vector<int64_t>& model_ks = config_.ks;
  const std::vector<double> k_of = ks.to_vector();  // (B)
  std::vector<std::vector<int64_t>> groups(model_ks.size());
  for (int64_t b = 0; b < static_cast<int64_t>(k_of.size()); ++b) {
    const auto it = std::find(model_ks.begin(), model_ks.end(), static_cast<int64_t>(k_of[b]));
    if (it == model_ks.end()) {
      throw std::invalid_argument("TGMM: task " + std::to_string(b) +
                                  " has K=" + std::to_string(static_cast<int64_t>(k_of[b])) +
                                  ", which the model was not trained for");
    }
    groups[it - model_ks.begin()].push_back(b);
  }
  return groups;
}

ag::Variable TgmmModel::read_in(const Tensor& x, const Tensor& ks) const {
  const int64_t B = x.size(0), N = x.size(1);
  const Tensor k_minus_1 = add_scalar(ks.to(DType::F64), -1.0).to(DType::I64);    // (B)
  ag::Variable task = task_embedding_->forward(k_minus_1);                        // (B, 128)
  task = ag::expand(ag::unsqueeze(task, 1), {B, N, TgmmConfig::kTaskEmbedding});  // (B, N, 128)
  // Points go to the parameters' device; ks, valid and the index tensors may stay on the host
  // (ops accept CPU masks and indices with device data).
  const Device device = read_in_->weight().value().device();
  const ag::Variable points(x.to(config_.dtype).to(device));  // (B, N, d)
  const ag::Variable tokens = ag::concat({points, task}, 2);  // (B, N, d+128)
  return read_in_->forward(tokens);                           // (B, N, D)
}

ag::Variable TgmmModel::readouts(const ag::Variable& h, const Tensor& valid,
                                 const std::vector<std::vector<int64_t>>& groups) const {
  const int64_t B = h.size(0);
  std::vector<ag::Variable> pooled;  // per non-empty group: (b_j, Kmax, E)
  std::vector<int64_t> order;        // the tasks of `pooled`, concatenated
  for (size_t j = 0; j < groups.size(); ++j) {
    if (groups[j].empty()) continue;
    ag::Variable hj = h;
    Tensor vj = valid;
    if (static_cast<int64_t>(groups[j].size()) != B) {
      const Tensor idx = from_indices(groups[j]);
      hj = ag::index_select(h, 0, idx);
      vj = index_select(valid, 0, idx);
    }
    pooled.push_back(readouts_[j]->forward(hj, vj));  // (b_j, Kmax, E)
    order.insert(order.end(), groups[j].begin(), groups[j].end());
  }
  ag::Variable o = pooled.size() == 1 ? pooled[0] : ag::concat(pooled, 0);  // (B, Kmax, E)
  bool identity = true;
  for (int64_t i = 0; i < B; ++i) identity &= order[i] == i;
  if (identity) return o;
  std::vector<int64_t> inverse(B);  // back into task order
  for (int64_t i = 0; i < B; ++i) inverse[order[i]] = i;
  return ag::index_select(o, 0, from_indices(inverse));
}

ag::Variable TgmmModel::weight_logits(const ag::Variable& o, const Tensor& ks) const {
  const TgmmConfig& c = config_;
  const int64_t B = o.size(0), Km = c.k_max;
  ag::Variable weight_part = ag::narrow(o, 2, 0, Km);  // (B, Kmax, Kmax)
  ag::Variable logits;                                 // (B, Kmax)
  if (c.weight_head == WeightHead::Average) {
    logits = ag::mean(weight_part, {1});  // mean over the slots
  } else {
    Tensor eye = zeros({Km, Km}, c.dtype);
    for (int64_t j = 0; j < Km; ++j) eye.narrow(0, j, 1).narrow(1, j, 1).fill_(1.0);
    eye = eye.to(o.device());
    logits = ag::sum(weight_part * ag::Variable(eye), {2});  // o_j[j]
  }
  const Tensor slot = arange(Km, DType::F64).unsqueeze(0);                           // (1, Kmax)
  const Tensor beyond_k = ge(slot.expand({B, Km}), ks.to(DType::F64).unsqueeze(1));  // (B, Kmax)
  return ag::masked_fill(logits, beyond_k.to(c.dtype).to(o.device()), kMaskedLogit);
}

TgmmOutput TgmmModel::heads(const ag::Variable& o, const Tensor& ks) const {
  const TgmmConfig& c = config_;
  TgmmOutput out{ag::log_softmax(weight_logits(o, ks), 1), ag::narrow(o, 2, c.k_max, c.d), {}};
  if (c.covariance == Covariance::Diagonal) {
    out.scales = softplus(ag::narrow(o, 2, c.k_max + c.d, c.d));  // (B, Kmax, d)
  }
  return out;
}

TgmmOutput TgmmModel::forward(const Tensor& x, const Tensor& ks, const Tensor& valid) const {
  check_inputs(x, ks, valid);
  const std::vector<std::vector<int64_t>> groups = tasks_per_readout(ks);
  const ag::Variable tokens = read_in(x, ks);                // (B, N, D)
  const ag::Variable h = backbone_->forward(tokens, valid);  // (B, N, D)
  const ag::Variable o = readouts(h, valid, groups);         // (B, Kmax, E)
  return heads(o, ks);
}

}  // namespace tg::gmm
