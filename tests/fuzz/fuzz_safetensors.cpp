// fuzz_safetensors.cpp — libFuzzer target for the safetensors reader (nn/safetensors.cpp).
//
// The input is the whole file. It goes into an in-memory file (memfd), read by path as a user's
// file would be, with read_safetensors and read_safetensors_metadata. The contract checked:
//   - refused: a std::runtime_error whose message is one line and names the reader and the file;
//     both readers refuse the same inputs (the metadata reader validates the same header);
//   - accepted: checked against an independent parse of the header — the same tensor names
//     and metadata, each tensor's dtype and shape as written, its byte size = product of the
//     shape x dtype size, its data_offsets inside the data section, the tensors tiling the data
//     section exactly, and its bytes equal to the file's bytes there.
// Anything else (another exception type, a crash, a sanitizer report, a hang under -timeout, an
// allocation over -malloc_limit_mb) is a failure: the fuzzer stops and saves the input.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "nn/safetensors.h"

using namespace tg;
using namespace tg::nn;

namespace {

[[noreturn]] void broken(const std::string& what) {
  std::fprintf(stderr, "fuzz_safetensors: contract broken: %s\n", what.c_str());
  std::abort();
}

void require(bool ok, const std::string& what) {
  if (!ok) broken(what);
}

// An in-memory file holding the current input, opened by path.
struct MemoryFile {
  int fd = ::memfd_create("fuzz.safetensors", MFD_CLOEXEC);
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  void fill(const uint8_t* data, size_t size) {
    require(fd >= 0 && ::ftruncate(fd, 0) == 0, "memfd");
    for (size_t done = 0; done < size;) {
      const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
      require(n > 0, "memfd write");
      done += static_cast<size_t>(n);
    }
  }
};

// A refusal: one line, "<reader>: '<path>': <reason>".
void check_refusal(const std::runtime_error& e, const char* reader, const std::string& path) {
  const std::string message = e.what();
  const std::string prefix = std::string(reader) + ": '" + path + "': ";
  require(message.rfind(prefix, 0) == 0 && message.size() > prefix.size(),
          "refusal does not name the reader and file: " + message);
  require(message.find('\n') == std::string::npos, "refusal is not one line: " + message);
}

const char* dtype_code(DType t) {
  return t == DType::F32 ? "F32" : t == DType::F64 ? "F64" : "I64";
}

// An accepted file against an independent reading of its header.
void check_accepted(const SafetensorsFile& file, const uint8_t* data, size_t size) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  require(size >= 8 && n <= size - 8, "accepted a header longer than the file");
  const auto header = nlohmann::json::parse(data + 8, data + 8 + n);
  const uint64_t data_start = 8 + n, data_size = size - data_start;
  size_t entries = 0;
  uint64_t covered = 0;
  for (const auto& [name, t] : file.tensors) {
    require(header.contains(name), "tensor '" + name + "' is not in the header");
    const auto& entry = header.at(name);
    require(entry.at("dtype") == dtype_code(t.dtype()), "dtype of '" + name + "'");
    uint64_t numel = 1;
    const auto shape = entry.at("shape").get<std::vector<uint64_t>>();
    require(shape.size() == t.shape().size(), "rank of '" + name + "'");
    for (size_t i = 0; i < shape.size(); ++i) {
      require(uint64_t(t.shape()[i]) == shape[i], "shape of '" + name + "'");
      numel *= shape[i];
    }
    const uint64_t begin = entry.at("data_offsets").at(0), end = entry.at("data_offsets").at(1);
    const uint64_t bytes = numel * uint64_t(dtype_size(t.dtype()));
    require(uint64_t(t.numel()) == numel && end - begin == bytes, "size of '" + name + "'");
    require(begin <= end && end <= data_size, "data of '" + name + "' outside the data section");
    require(bytes == 0 || std::memcmp(t.raw_data(), data + data_start + begin, bytes) == 0,
            "bytes of '" + name + "'");
    covered += bytes;
    ++entries;
  }
  require(covered == data_size, "the tensors do not cover the data section");
  Metadata metadata;
  if (header.contains("__metadata__")) {
    metadata = header.at("__metadata__").get<Metadata>();
  }
  require(entries + header.contains("__metadata__") == header.size(), "tensor count");
  require(file.metadata == metadata, "metadata");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MemoryFile file;
  file.fill(data, size);
  bool accepted = false, metadata_accepted = false;
  SafetensorsFile read;
  Metadata metadata;
  try {
    read = read_safetensors(file.path);
    accepted = true;
  } catch (const std::runtime_error& e) {
    check_refusal(e, "read_safetensors", file.path);
  }
  try {
    metadata = read_safetensors_metadata(file.path);
    metadata_accepted = true;
  } catch (const std::runtime_error& e) {
    check_refusal(e, "read_safetensors", file.path);
  }
  require(accepted == metadata_accepted, "the two readers disagree");
  if (accepted) {
    require(metadata == read.metadata, "the metadata reader returns other metadata");
    check_accepted(read, data, size);
  }
  return 0;
}
