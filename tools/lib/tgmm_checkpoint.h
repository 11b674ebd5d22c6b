// tgmm_checkpoint.h — open a TGMM model written by tools/train, for the programs that use one.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "gmm/tgmm/tgmm.h"

namespace tg::tools {

struct LoadedTgmm {
  std::string path;  // the model file that was read
  gmm::TgmmConfig config;
  std::unique_ptr<gmm::TgmmModel> model;  // in eval mode
  std::optional<int64_t> train_n;         // the training N, when the training state says
};

// `checkpoint` is DIR/model.safetensors or the run DIR. The configuration comes from the file's
// metadata, then every weight is loaded with name, shape and dtype checks. Throws
// std::runtime_error naming the file and the reason.
LoadedTgmm load_tgmm(const std::string& checkpoint);

}  // namespace tg::tools
