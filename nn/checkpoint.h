// checkpoint.h — a training checkpoint: the model file plus a sibling training-state file,
// replaced so that a crash at any point leaves a checkpoint that loads.
//
// A checkpoint in directory DIR is two safetensors files:
//   DIR/model.safetensors            the model's parameters and buffers by dotted name, with the
//                                    caller's model metadata (its configuration) as __metadata__
//                                    — the file tools and PyTorch users open;
//   DIR/training_state.safetensors   what resuming needs besides the model: "step" (i64, shape
//                                    ()), "rng.<role>" (i64 (5): a Generator::state(), bit for
//                                    bit), the optimiser state ("adamw.m.<param>", ...), and the
//                                    caller's training metadata.
// Both files carry "checkpoint.step"; the training state also carries "checkpoint.optimizer"
// and "checkpoint.model_hash" (FNV-1a over the model file's names, dtypes, shapes and bytes),
// so loading refuses a pair that does not belong together. Metadata keys starting with
// "checkpoint." are reserved.
//
// Crash safety. Two files cannot be replaced in one atomic step, so a save keeps the old
// training state until the new model file is in place:
//   1. write both new files to temporaries and fsync them (a full disk fails here; nothing in
//      DIR has changed);
//   2. rename the old training state to DIR/training_state.previous.safetensors;
//   3. rename the new training state into place;
//   4. rename the new model file into place;
//   5. remove the previous-state file.
// Every rename is followed by an fsync of DIR. Loading pairs DIR/model.safetensors with the
// training state that belongs to it: the current one, or — after a crash between steps 2 and
// 4 — the previous one. So after a crash or a failed write at any point, DIR holds the old
// checkpoint or the new one, never neither. A save first removes the temporaries a killed save
// left behind; loading never looks at them. One writer per directory at a time.
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
// Only while a save is under way, or after one was interrupted (see above).
inline constexpr const char* kPreviousTrainingStateFile = "training_state.previous.safetensors";

struct Checkpoint {
  int64_t step = 0;  // optimiser steps taken so far
  // Generator::state() by role ("data", ...), restored with Generator::set_state.
  std::map<std::string, std::array<uint64_t, 5>> rng_states = {};
  Metadata model_metadata = {};     // into model.safetensors (the model configuration)
  Metadata training_metadata = {};  // into training_state.safetensors
};

// Replace the checkpoint in DIR (creating DIR if needed), crash-safely as described above.
// Throws std::runtime_error naming the file and the reason (e.g. "write: No space left on
// device"); the previous checkpoint then still loads.
void save_checkpoint(const std::string& dir, const Module& model, const Optimizer& optimizer,
                     const Checkpoint& checkpoint);
// Restore `model` and `optimizer` from DIR and return the step, generator states and metadata
// (without the reserved "checkpoint." keys). Throws std::runtime_error naming the file on any
// mismatch, changing nothing.
Checkpoint load_checkpoint(const std::string& dir, Module& model, Optimizer& optimizer);
// What load_checkpoint returns — step, generator states, metadata — from the same pair of files,
// without a model or optimiser to load into: what a program reads to learn how the checkpoint
// was made before it builds anything (tools/train --resume). Throws like load_checkpoint.
Checkpoint read_checkpoint(const std::string& dir);
// True when the model file and a training state exist in DIR (they may still fail to load).
bool checkpoint_exists(const std::string& dir);

}  // namespace tg::nn
