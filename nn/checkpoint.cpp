// checkpoint.cpp — saving and loading the model + training-state pair (format in checkpoint.h).
#include "nn/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>

namespace tg::nn {

namespace {

constexpr const char* kFormat = "tgmm-training-state-1";

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw std::runtime_error("load_checkpoint: '" + path + "': " + why);
}

// FNV-1a (64-bit) over names, dtypes, shapes and bytes of the tensors, as hex.
std::string tensors_hash(const NamedTensors& tensors) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  };
  for (const auto& [name, t] : tensors) {
    Tensor c = t.to(Device::CPU).contiguous();
    mix(name.c_str(), name.size() + 1);
    mix(dtype_name(c.dtype()), std::strlen(dtype_name(c.dtype())) + 1);
    for (int64_t d : c.shape()) mix(&d, sizeof d);
    mix(c.raw_data(), static_cast<size_t>(c.numel() * dtype_size(c.dtype())));
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

Tensor i64_scalar(int64_t v) {
  Tensor t(Shape{}, DType::I64);
  *t.data<int64_t>() = v;
  return t;
}

void check_reserved(const Metadata& m, const char* which) {
  for (const auto& [key, _] : m) {
    if (key.rfind("checkpoint.", 0) == 0) {
      throw std::invalid_argument(std::string("save_checkpoint: ") + which + " key '" + key +
                                  "' uses the reserved prefix 'checkpoint.'");
    }
  }
}

Metadata without_reserved(const Metadata& m) {
  Metadata out;
  for (const auto& [key, value] : m) {
    if (key.rfind("checkpoint.", 0) != 0) out[key] = value;
  }
  return out;
}

std::string required(const Metadata& m, const std::string& key, const std::string& path) {
  auto it = m.find(key);
  if (it == m.end()) fail(path, "metadata has no '" + key + "' (not a checkpoint file?)");
  return it->second;
}

// Split the training-state tensors into step, generator states and optimiser state.
NamedTensors split_training_state(const SafetensorsFile& file, const std::string& path,
                                  Checkpoint& out) {
  NamedTensors optimizer_state;
  bool have_step = false;
  for (const auto& [name, t] : file.tensors) {
    if (name == "step") {
      if (t.dtype() != DType::I64 || t.dim() != 0) fail(path, "'step' is not an i64 scalar");
      out.step = *t.data<int64_t>();
      have_step = true;
    } else if (name.rfind("rng.", 0) == 0) {
      if (t.dtype() != DType::I64 || t.shape() != Shape{5}) {
        fail(path, "'" + name + "' is " + t.describe() + ", expected i64 (5)");
      }
      std::array<uint64_t, 5> s;
      std::memcpy(s.data(), t.data<int64_t>(), sizeof s);
      out.rng_states[name.substr(4)] = s;
    } else {
      optimizer_state.emplace_back(name, t);
    }
  }
  if (!have_step) fail(path, "no 'step' tensor");
  return optimizer_state;
}

// The paths of a checkpoint's files in DIR.
struct Paths {
  std::string model, state, previous_state;
  explicit Paths(const std::string& dir) {
    const std::filesystem::path d(dir);
    model = (d / kModelFile).string();
    state = (d / kTrainingStateFile).string();
    previous_state = (d / kPreviousTrainingStateFile).string();
  }
};

// Why the training state at `path` does not belong to a model file with this step and hash, or
// nothing when it does. Reads only the state's header; a file that cannot be read does not belong.
std::optional<std::string> why_not_partner(const std::string& path, const std::string& model_path,
                                           const std::string& model_step,
                                           const std::string& model_hash) {
  Metadata sm;
  try {
    sm = read_safetensors_metadata(path);
    if (required(sm, "checkpoint.format", path) != kFormat) {
      fail(path, "unknown format '" + sm.at("checkpoint.format") + "'");
    }
    const std::string step = required(sm, "checkpoint.step", path);
    if (step != model_step || required(sm, "checkpoint.model_hash", path) != model_hash) {
      fail(path, "does not belong to '" + model_path + "' (step " + step + " vs " + model_step +
                     ", or a different model hash)");
    }
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return std::nullopt;
}

// The model file's step and tensor hash, which its training state must match.
std::pair<std::string, std::string> model_identity(const SafetensorsFile& model_file,
                                                   const std::string& model_path) {
  return {required(model_file.metadata, "checkpoint.step", model_path),
          tensors_hash(model_file.tensors)};
}

// Before a save replaces the pair: if DIR/training_state.safetensors belongs to the model file
// now in DIR, move it to the previous-state name, so that the old pair stays complete until the
// new model file is in place. (After an interrupted save the previous-state file may be the
// old model's partner already; it is then left as it is.)
void keep_previous_state(const Paths& paths) {
  if (!std::filesystem::exists(paths.model) || !std::filesystem::exists(paths.state)) return;
  std::pair<std::string, std::string> id;
  try {
    id = model_identity(read_safetensors(paths.model), paths.model);
  } catch (const std::runtime_error&) {
    return;  // no loadable checkpoint to keep
  }
  if (!why_not_partner(paths.state, paths.model, id.first, id.second)) {
    durable_rename(paths.state, paths.previous_state, "save_checkpoint");
  }
}

// The training state that belongs to the model file: the current one, or after an interrupted
// save the previous one. Throws the current one's reason when neither belongs.
std::pair<std::string, SafetensorsFile> partner_state(const Paths& paths,
                                                      const SafetensorsFile& model_file) {
  const auto [step, hash] = model_identity(model_file, paths.model);
  const std::optional<std::string> why = why_not_partner(paths.state, paths.model, step, hash);
  if (!why) return {paths.state, read_safetensors(paths.state)};
  if (std::filesystem::exists(paths.previous_state) &&
      !why_not_partner(paths.previous_state, paths.model, step, hash)) {
    return {paths.previous_state, read_safetensors(paths.previous_state)};
  }
  throw std::runtime_error(*why);
}

}  // namespace

void save_checkpoint(const std::string& dir, const Module& model, const Optimizer& optimizer,
                     const Checkpoint& checkpoint) {
  check_reserved(checkpoint.model_metadata, "model metadata");
  check_reserved(checkpoint.training_metadata, "training metadata");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw std::runtime_error("save_checkpoint: cannot create directory '" + dir +
                             "': " + ec.message());
  }
  const Paths paths(dir);
  for (const std::string& path : {paths.model, paths.state, paths.previous_state}) {
    remove_stale_temporaries(path, "save_checkpoint");
  }
  const NamedTensors model_tensors = module_tensors(model);
  const std::string step = std::to_string(checkpoint.step);

  NamedTensors state{{"step", i64_scalar(checkpoint.step)}};
  for (const auto& [role, s] : checkpoint.rng_states) {
    Tensor t(Shape{5}, DType::I64);
    std::memcpy(t.data<int64_t>(), s.data(), sizeof s);
    state.emplace_back("rng." + role, t);
  }
  for (auto& named : optimizer.export_state()) state.push_back(std::move(named));
  // 8-byte dtypes first, so every tensor in the data section is aligned to its element size.
  std::stable_partition(state.begin(), state.end(),
                        [](const auto& named) { return dtype_size(named.second.dtype()) == 8; });
  Metadata state_meta = checkpoint.training_metadata;
  state_meta["checkpoint.format"] = kFormat;
  state_meta["checkpoint.step"] = step;
  state_meta["checkpoint.optimizer"] = optimizer.name();
  state_meta["checkpoint.model_hash"] = tensors_hash(model_tensors);

  Metadata model_meta = checkpoint.model_metadata;
  model_meta["checkpoint.step"] = step;

  // Both new files on disk under temporary names: a full disk fails here, changing nothing.
  AtomicFile state_file(paths.state, "save_checkpoint");
  write_safetensors(state_file, state, state_meta);
  state_file.finish();
  AtomicFile model_file(paths.model, "save_checkpoint");
  write_safetensors(model_file, model_tensors, model_meta);
  model_file.finish();
  // Then the switch, each step leaving a loadable pair: old model + previous state, old model +
  // previous state (new state in place), new model + new state.
  keep_previous_state(paths);
  state_file.publish();
  model_file.publish();
  durable_remove(paths.previous_state, "save_checkpoint");
}

Checkpoint load_checkpoint(const std::string& dir, Module& model, Optimizer& optimizer) {
  const Paths paths(dir);
  const SafetensorsFile model_file = read_safetensors(paths.model);
  const auto [state_path, state_file] = partner_state(paths, model_file);

  const Metadata& sm = state_file.metadata;
  const std::string optimizer_name = required(sm, "checkpoint.optimizer", state_path);
  if (optimizer_name != optimizer.name()) {
    fail(state_path, "holds " + optimizer_name + " state, the optimiser is " + optimizer.name());
  }
  Checkpoint out;
  NamedTensors optimizer_state = split_training_state(state_file, state_path, out);
  if (std::to_string(out.step) != sm.at("checkpoint.step")) {
    fail(state_path, "'step' differs from its metadata");
  }
  check_module_tensors(model, model_file.tensors, paths.model);
  try {
    optimizer.import_state(optimizer_state);  // validates first; throws without changing anything
  } catch (const std::invalid_argument& e) {
    fail(state_path, e.what());
  }
  load_module_tensors(model, model_file.tensors, paths.model);
  out.model_metadata = without_reserved(model_file.metadata);
  out.training_metadata = without_reserved(sm);
  return out;
}

Checkpoint read_checkpoint(const std::string& dir) {
  const Paths paths(dir);
  const SafetensorsFile model_file = read_safetensors(paths.model);
  const auto [state_path, state_file] = partner_state(paths, model_file);
  Checkpoint out;
  split_training_state(state_file, state_path, out);
  if (std::to_string(out.step) != required(state_file.metadata, "checkpoint.step", state_path)) {
    fail(state_path, "'step' differs from its metadata");
  }
  out.model_metadata = without_reserved(model_file.metadata);
  out.training_metadata = without_reserved(state_file.metadata);
  return out;
}

bool checkpoint_exists(const std::string& dir) {
  const Paths paths(dir);
  // The non-throwing overloads: a path the system cannot even look up (too long, a component that
  // is a file) holds no checkpoint, and the caller says so, instead of a filesystem_error.
  auto exists = [](const std::filesystem::path& p) {
    std::error_code error;
    return std::filesystem::exists(p, error);
  };
  return exists(paths.model) && (exists(paths.state) || exists(paths.previous_state));
}

}  // namespace tg::nn
