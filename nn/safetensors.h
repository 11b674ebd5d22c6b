// safetensors.h — reading and writing the safetensors format, and loading it into a Module.
//
// The format (huggingface/safetensors), which a PyTorch user opens with
// safetensors.torch.load_file:
//   bytes [0, 8)          N, the header length, a little-endian u64
//   bytes [8, 8 + N)      a UTF-8 JSON object, padded with spaces:
//                           {"__metadata__": {"key": "value", ...},              (optional)
//                            "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]},
//                            ...}
//   bytes [8 + N, end)    the data section: tensor "name" is bytes [b, e) of it, row-major,
//                         little-endian; the tensors tile the section exactly (no gaps, no
//                         overlaps, nothing after the last one).
// As in the reference writer, the header JSON is compact, "__metadata__" (when not empty) comes
// first, and the header is padded with spaces to a multiple of 8 bytes. Unlike it, tensors are
// laid out in the order given (the reference sorts them by dtype and name), so reading gives
// back the order that was written. dtypes: "F32", "F64", "I64" (DType::F32, F64, I64).
//
// Writing is atomic (nn/durable_file.h): the file is written to a temporary file in the same
// directory, flushed to disk (fsync) and renamed over `path`, then the directory is flushed, so a
// crash or a failed write leaves any previous file intact. Reading validates everything against the
// file's size before reading any data, and refuses a bad file with an exception that names the
// file, the tensor and the reason.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nn/durable_file.h"
#include "nn/module.h"

namespace tg::nn {

using Metadata = std::map<std::string, std::string>;  // the "__metadata__" object

struct SafetensorsFile {
  NamedTensors tensors;  // in the order of their data offsets (the order they were written)
  Metadata metadata;
};

// Write `tensors` (any device, any strides; dtypes f32/f64/i64; unique non-empty names other
// than "__metadata__") and `metadata` to `path`, atomically.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const Metadata& metadata = {});
// The same bytes into `file` without publishing it: a caller that replaces several files
// publishes them in an order of its choosing (nn/checkpoint.cpp).
void write_safetensors(AtomicFile& file, const NamedTensors& tensors,
                       const Metadata& metadata = {});
// Read and validate a whole file. Tensors come back on the CPU, contiguous.
SafetensorsFile read_safetensors(const std::string& path);
// Only the metadata, after validating the header against the file's size (reads no tensor data):
// lets a program read a model's configuration before it builds the model.
Metadata read_safetensors_metadata(const std::string& path);

// Every parameter and buffer of `module` by dotted name (parameters first), sharing storage.
NamedTensors module_tensors(const Module& module);
// Save module_tensors(module) with `metadata` (e.g. the model configuration).
void save_module(const std::string& path, const Module& module, const Metadata& metadata = {});
// Check that `tensors` fit `module` exactly: the same set of names as module_tensors (missing
// and unexpected names are listed), and for each the same shape and dtype. `source` (a file
// name) goes into the messages. Throws std::runtime_error; changes nothing.
void check_module_tensors(const Module& module, const NamedTensors& tensors,
                          const std::string& source);
// check_module_tensors, then copy every value into the module's parameters and buffers.
void load_module_tensors(Module& module, const NamedTensors& tensors, const std::string& source);
// Read `path` into `module` (all or nothing) and return the file's metadata.
Metadata load_module(const std::string& path, Module& module);

}  // namespace tg::nn
