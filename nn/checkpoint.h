// checkpoint.h — a training checkpoint: the model file plus a sibling training-state file.
//
// A checkpoint in directory DIR is two safetensors files, each written atomically:
//   DIR/model.safetensors            the model's parameters and buffers by dotted name, with the
//                                    caller's model metadata (its configuration) as __metadata__
//                                    — the file tools and PyTorch users open;
//   DIR/training_state.safetensors   what resuming needs besides the model: "step" (i64, shape
//                                    ()), "rng.<role>" (i64 (5): a Generator::state(), bit for
//                                    bit), the optimiser state ("adamw.m.<param>", ...), and the
//                                    caller's training metadata.
// Both files carry "checkpoint.step"; the training state also carries "checkpoint.optimizer"
// and "checkpoint.model_hash" (FNV-1a over the model file's names, dtypes, shapes and bytes),
// so loading refuses a pair that does not belong together (e.g. a crash between the two
// renames: the training state is written first, then the model). Metadata keys starting with
// "checkpoint." are reserved.
//
// Loading is all or nothing: both files are read and validated, the model's names, shapes and
// dtypes checked and the optimiser state validated before anything is changed. Since the
// optimiser state, step and generator states come back bit for bit, training continued from a
// checkpoint is bit-identical to training that never stopped (same thread count).
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "nn/module.h"
#include "nn/optim.h"
#include "nn/safetensors.h"

namespace tg::nn {

inline constexpr const char* kModelFile = "model.safetensors";
inline constexpr const char* kTrainingStateFile = "training_state.safetensors";

struct Checkpoint {
  int64_t step = 0;  // optimiser steps taken so far
  // Generator::state() by role ("data", ...), restored with Generator::set_state.
  std::map<std::string, std::array<uint64_t, 5>> rng_states = {};
  Metadata model_metadata = {};     // into model.safetensors (the model configuration)
  Metadata training_metadata = {};  // into training_state.safetensors
};

// Write DIR/training_state.safetensors, then DIR/model.safetensors (creating DIR if needed).
void save_checkpoint(const std::string& dir, const Module& model, const Optimizer& optimizer,
                     const Checkpoint& checkpoint);
// Restore `model` and `optimizer` from DIR and return the step, generator states and metadata
// (without the reserved "checkpoint." keys). Throws std::runtime_error naming the file on any
// mismatch, changing nothing.
Checkpoint load_checkpoint(const std::string& dir, Module& model, Optimizer& optimizer);
// True when both files of a checkpoint exist in DIR (they may still fail to load).
bool checkpoint_exists(const std::string& dir);

}  // namespace tg::nn
