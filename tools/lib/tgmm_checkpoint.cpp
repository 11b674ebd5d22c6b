// tgmm_checkpoint.cpp — see tgmm_checkpoint.h.
#include "tools/lib/tgmm_checkpoint.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "nn/checkpoint.h"
#include "nn/safetensors.h"

namespace tg::tools {

namespace fs = std::filesystem;

namespace {
// "train.n" from DIR/training_state.safetensors next to the model file, if it is there.
std::optional<int64_t> training_n(const fs::path& model_file) {
  const fs::path state = model_file.parent_path() / nn::kTrainingStateFile;
  if (!fs::exists(state)) return std::nullopt;
  try {
    const nn::Metadata meta = nn::read_safetensors_metadata(state.string());
    const auto it = meta.find("train.n");
    if (it != meta.end()) return std::stoll(it->second);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "note: %s: %s; the training N is unknown\n", state.c_str(), e.what());
  }
  return std::nullopt;
}
}  // namespace

LoadedTgmm load_tgmm(const std::string& checkpoint) {
  fs::path path(checkpoint);
  if (fs::is_directory(path)) path /= nn::kModelFile;  // a run directory is accepted too
  if (!fs::exists(path)) throw std::runtime_error(path.string() + ": no such file");
  LoadedTgmm m;
  m.path = path.string();
  const nn::Metadata meta = nn::read_safetensors_metadata(m.path);
  try {
    m.config = gmm::TgmmConfig::from_metadata(meta);
  } catch (const std::exception& e) {
    throw std::runtime_error(m.path + ": " + e.what());
  }
  Generator init(0);  // every weight is overwritten by the load
  m.model = std::make_unique<gmm::TgmmModel>(m.config, init);
  nn::load_module(m.path, *m.model);
  m.model->eval();
  m.train_n = training_n(path);
  return m;
}

}  // namespace tg::tools
