// safetensors.cpp — the safetensors writer (atomic, through nn/durable_file.h) and validating
// reader; Module save/load.
//
// Reading is in two stages so that no byte is read from a place the header merely claims:
//   1. parse_header: the 8-byte length, the JSON, every entry (dtype, shape, offsets), checked
//      against each other and against the size of the file; entries sorted by offset must tile
//      the data section exactly.
//   2. read the data of each (now trusted) entry straight into a fresh tensor.
#include "nn/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

namespace tg::nn {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; this code copies it as-is");

namespace {

using json = nlohmann::ordered_json;
constexpr uint64_t kMaxHeader = 100'000'000;  // the reference reader's limit

[[noreturn]] void fail(const char* op, const std::string& path, const std::string& why) {
  throw std::runtime_error(std::string(op) + ": '" + path + "': " + why);
}

const char* format_dtype(DType t) {
  switch (t) {
    case DType::F32:
      return "F32";
    case DType::F64:
      return "F64";
    case DType::I64:
      return "I64";
  }
  return "?";
}

bool parse_dtype(const std::string& s, DType& out) {
  if (s == "F32")
    out = DType::F32;
  else if (s == "F64")
    out = DType::F64;
  else if (s == "I64")
    out = DType::I64;
  else
    return false;
  return true;
}

// ------------------------------------------------------------------------------- the header
struct Entry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // relative to the data section
};

struct Header {
  std::vector<Entry> entries;  // sorted by offset
  Metadata metadata;
  uint64_t data_start = 0;  // 8 + N
};

// Parse JSON, refusing duplicate keys in any object (the JSON library would keep only one).
json parse_json_strict(const std::string& text, const std::string& path) {
  std::vector<std::set<std::string>> keys;  // one set per open object
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) keys.emplace_back();
    if (event == json::parse_event_t::object_end) keys.pop_back();
    if (event == json::parse_event_t::key &&
        !keys.back().insert(parsed.get<std::string>()).second) {
      fail("read_safetensors", path,
           (depth == 1 ? "duplicate tensor name '" : "duplicate key '") +
               parsed.get<std::string>() + "' in the header");
    }
    return true;
  };
  try {
    return json::parse(text, callback);
  } catch (const json::exception& e) {
    fail("read_safetensors", path, std::string("header is not valid JSON: ") + e.what());
  }
}

Metadata parse_metadata(const json& j, const std::string& path) {
  if (!j.is_object()) fail("read_safetensors", path, "__metadata__ is not a JSON object");
  Metadata out;
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string()) {
      fail("read_safetensors", path, "__metadata__ value of '" + key + "' is not a string");
    }
    out[key] = value.get<std::string>();
  }
  return out;
}

Entry parse_entry(const std::string& name, const json& j, const std::string& path) {
  auto bad = [&](const std::string& why) {
    fail("read_safetensors", path, "tensor '" + name + "': " + why);
  };
  if (!j.is_object()) bad("entry is not a JSON object");
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!j.contains(key)) bad(std::string("missing \"") + key + "\"");
  }
  Entry e;
  e.name = name;
  const json& dtype = j["dtype"];
  if (!dtype.is_string()) bad("dtype is not a string");
  if (!parse_dtype(dtype.get<std::string>(), e.dtype)) {
    bad("unknown or unsupported dtype '" + dtype.get<std::string>() +
        "' (expected F32, F64 or I64)");
  }
  const json& shape = j["shape"];
  if (!shape.is_array()) bad("shape is not an array");
  // The product of the non-zero dimensions must fit in an int64 even when a zero dimension makes
  // the tensor empty: the tensor's strides and its element count are computed from it.
  constexpr uint64_t kMaxElements = uint64_t(std::numeric_limits<int64_t>::max());
  uint64_t numel = 1, nonzero_product = 1;
  for (const json& d : shape) {
    if (!d.is_number_unsigned()) bad("shape has an entry that is not a non-negative integer");
    const uint64_t n = d.get<uint64_t>();
    if (n > kMaxElements || (n != 0 && nonzero_product > kMaxElements / n)) {
      bad("shape " + shape.dump() + " is too large (its non-zero sizes multiply to over 2^63 - 1)");
    }
    if (n != 0) nonzero_product *= n;
    numel *= n;
    e.shape.push_back(static_cast<int64_t>(n));
  }
  const json& offsets = j["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    bad("data_offsets is not a pair of non-negative integers");
  }
  e.begin = offsets[0].get<uint64_t>();
  e.end = offsets[1].get<uint64_t>();
  if (e.end < e.begin) bad("data_offsets end before they begin");
  const uint64_t size = static_cast<uint64_t>(dtype_size(e.dtype));
  if (numel > UINT64_MAX / size || e.end - e.begin != numel * size) {
    bad("shape " + shape_str(e.shape) + " of " + dtype.get<std::string>() + " needs " +
        std::to_string(numel * size) + " bytes, data_offsets [" + std::to_string(e.begin) + ", " +
        std::to_string(e.end) + ") hold " + std::to_string(e.end - e.begin));
  }
  return e;
}

// Sorted by offset, the entries must tile [0, data_size) exactly.
void check_layout(std::vector<Entry>& entries, uint64_t data_size, const std::string& path) {
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  for (const Entry& e : entries) {
    std::string where = "tensor '" + e.name + "': data_offsets [" + std::to_string(e.begin) + ", " +
                        std::to_string(e.end) + ")";
    if (e.end > data_size) {
      fail(
          "read_safetensors", path,
          where + " go past the end of the data section (" + std::to_string(data_size) + " bytes)");
    }
    if (e.begin < expected) fail("read_safetensors", path, where + " overlap the previous tensor");
    if (e.begin > expected) {
      fail("read_safetensors", path, where + " leave a gap after byte " + std::to_string(expected));
    }
    expected = e.end;
  }
  if (expected != data_size) {
    fail("read_safetensors", path,
         "trailing garbage: " + std::to_string(data_size - expected) +
             " bytes after the last tensor");
  }
}

Header parse_header(std::ifstream& in, uint64_t file_size, const std::string& path) {
  if (file_size < 8) {
    fail("read_safetensors", path,
         "file is " + std::to_string(file_size) + " bytes, too short for the 8-byte header length");
  }
  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > kMaxHeader)
    fail("read_safetensors", path,
         "header length " + std::to_string(n) + " exceeds the limit of 100000000 bytes");
  if (n > file_size - 8) {
    fail("read_safetensors", path,
         "header length " + std::to_string(n) + " is larger than the file (" +
             std::to_string(file_size) + " bytes)");
  }
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  if (!in) fail("read_safetensors", path, "cannot read the header");
  json j = parse_json_strict(text, path);
  if (!j.is_object()) fail("read_safetensors", path, "header is not a JSON object");
  Header h;
  h.data_start = 8 + n;
  for (const auto& [key, value] : j.items()) {
    if (key == "__metadata__")
      h.metadata = parse_metadata(value, path);
    else
      h.entries.push_back(parse_entry(key, value, path));
  }
  check_layout(h.entries, file_size - h.data_start, path);
  return h;
}

std::ifstream open_for_reading(const std::string& path, uint64_t& size) {
  std::error_code ec;
  size = std::filesystem::file_size(path, ec);
  if (ec) fail("read_safetensors", path, "cannot open: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("read_safetensors", path, std::string("cannot open: ") + std::strerror(errno));
  return in;
}

}  // namespace

// ----------------------------------------------------------------------------------- writing
namespace {

// A file's bytes before any of them is written: the length + header, and the tensors (CPU,
// contiguous) in order. Validates names; messages name `path`.
struct Encoded {
  std::string head;  // the 8-byte length and the padded header
  std::vector<Tensor> data;
};

Encoded encode(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  const char* op = "write_safetensors";
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  Encoded out;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__")
      fail(op, path, "invalid tensor name '" + name + "'");
    if (header.contains(name)) fail(op, path, "tensor name '" + name + "' appears twice");
    if (!t.defined()) fail(op, path, "tensor '" + name + "' is undefined");
    Tensor c = t.to(Device::CPU).contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(c.numel() * dtype_size(c.dtype()));
    header[name] = {{"dtype", format_dtype(c.dtype())},
                    {"shape", c.shape()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    out.data.push_back(std::move(c));
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    fail(op, path,
         std::string("cannot encode the header (names and metadata must be UTF-8): ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  out.head.resize(8);
  for (int i = 0; i < 8; ++i) out.head[i] = static_cast<char>(uint64_t(text.size()) >> (8 * i));
  out.head += text;
  return out;
}

void write_encoded(AtomicFile& file, const Encoded& encoded) {
  file.write(encoded.head.data(), encoded.head.size());
  for (const Tensor& c : encoded.data)
    file.write(c.raw_data(), static_cast<size_t>(c.numel() * dtype_size(c.dtype())));
}

}  // namespace

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const Metadata& metadata) {
  const Encoded encoded = encode(path, tensors, metadata);
  AtomicFile file(path, "write_safetensors");
  write_encoded(file, encoded);
  file.publish();
}

void write_safetensors(AtomicFile& file, const NamedTensors& tensors, const Metadata& metadata) {
  write_encoded(file, encode(file.target(), tensors, metadata));
}

// ----------------------------------------------------------------------------------- reading
SafetensorsFile read_safetensors(const std::string& path) {
  uint64_t size = 0;
  std::ifstream in = open_for_reading(path, size);
  Header h = parse_header(in, size, path);
  SafetensorsFile out;
  out.metadata = std::move(h.metadata);
  for (const Entry& e : h.entries) {
    Tensor t(e.shape, e.dtype);
    in.seekg(static_cast<std::streamoff>(h.data_start + e.begin));
    in.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(e.end - e.begin));
    if (!in) fail("read_safetensors", path, "tensor '" + e.name + "': cannot read its data");
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

Metadata read_safetensors_metadata(const std::string& path) {
  uint64_t size = 0;
  std::ifstream in = open_for_reading(path, size);
  return parse_header(in, size, path).metadata;
}

// ---------------------------------------------------------------------------- Module loading
NamedTensors module_tensors(const Module& module) {
  NamedTensors out;
  for (const auto& [name, p] : module.named_parameters()) out.emplace_back(name, p.value());
  for (const auto& [name, b] : module.named_buffers()) out.emplace_back(name, b);
  return out;
}

void save_module(const std::string& path, const Module& module, const Metadata& metadata) {
  write_safetensors(path, module_tensors(module), metadata);
}

namespace {

std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  const size_t shown = std::min<size_t>(names.size(), 10);
  for (size_t i = 0; i < shown; ++i) out += (i ? ", '" : "'") + names[i] + "'";
  if (names.size() > shown) out += " and " + std::to_string(names.size() - shown) + " more";
  return out;
}

}  // namespace

void check_module_tensors(const Module& module, const NamedTensors& tensors,
                          const std::string& source) {
  const NamedTensors expected = module_tensors(module);
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, t] : tensors) given[name] = &t;
  std::vector<std::string> missing, unexpected;
  std::set<std::string> known;
  for (const auto& [name, _] : expected) {
    known.insert(name);
    if (!given.count(name)) missing.push_back(name);
  }
  for (const auto& [name, _] : tensors) {
    if (!known.count(name)) unexpected.push_back(name);
  }
  if (!missing.empty() || !unexpected.empty()) {
    std::string why = "tensor names do not match the module:";
    if (!missing.empty()) why += " missing " + name_list(missing) + ";";
    if (!unexpected.empty()) why += " unexpected " + name_list(unexpected) + ";";
    why.pop_back();
    fail("load_module", source, why);
  }
  for (const auto& [name, want] : expected) {
    const Tensor& t = *given[name];
    if (t.shape() != want.shape() || t.dtype() != want.dtype()) {
      fail("load_module", source,
           "tensor '" + name + "' is " + dtype_name(t.dtype()) + " " + shape_str(t.shape()) +
               " in the file, " + dtype_name(want.dtype()) + " " + shape_str(want.shape()) +
               " in the module");
    }
  }
}

void load_module_tensors(Module& module, const NamedTensors& tensors, const std::string& source) {
  check_module_tensors(module, tensors, source);
  std::map<std::string, Tensor> given(tensors.begin(), tensors.end());
  for (const auto& [name, p] : module.named_parameters()) {
    p.assign(given.at(name).to(p.device()));
  }
  for (auto& [name, b] : module.named_buffers()) {
    b.copy_(given.at(name).to(b.device()));
  }
}

Metadata load_module(const std::string& path, Module& module) {
  SafetensorsFile file = read_safetensors(path);
  load_module_tensors(module, file.tensors, path);
  return std::move(file.metadata);
}

}  // namespace tg::nn
