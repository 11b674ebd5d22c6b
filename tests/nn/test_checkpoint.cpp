// test_checkpoint.cpp — safetensors files (layout, round trip, refusal of bad files, atomic
// writes), loading into a Module, and training checkpoints that resume bit-identically.
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "autograd/ops.h"
#include "checkpoint_testing.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "testing.h"

using namespace tg;
using namespace tg::nn;
using namespace tg::nn::testing;
using tg::testing::error_of;
namespace fs = std::filesystem;

namespace {

std::string u64_le(uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return out;
}

// A file made by hand: length, header (as given, unpadded), data.
std::string hand_made(const std::string& header, const std::string& data) {
  return u64_le(header.size()) + header + data;
}

}  // namespace

// --------------------------------------------------------------------------- the file format
TEST_CASE("safetensors: byte layout of a tiny file matches the format exactly") {
  TempDir dir;
  write_safetensors(dir.file("t.safetensors"), {{"a", from_vector({1.0, 2.0})}}, {{"k", "v"}});
  std::string header =
      R"({"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  const std::string data("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);  // 1.0f, 2.0f little-endian
  CHECK(read_bytes(dir.file("t.safetensors")) == hand_made(header, data));
  CHECK(header.size() % 8 == 0);
}

TEST_CASE("safetensors: f32, f64, i64, 0-d, empty and strided tensors round-trip bit for bit") {
  TempDir dir;
  Generator gen(5);
  Tensor strided = randn({3, 5}, gen).transpose(0, 1);  // written contiguous
  NamedTensors tensors = {
      {"x.f32", randn({2, 3}, gen)},
      {"y.f64", randn({4}, gen, DType::F64)},
      {"ids", from_indices({-3, 0, 1LL << 40})},
      {"scalar", scalar_tensor(-0.0, DType::F64)},
      {"empty", zeros({0, 3})},
      {"strided", strided},
      {"special", from_vector({NAN, INFINITY, -INFINITY, 1e-45})},
  };
  Metadata meta = {{"config", R"({"d": 8, "ks": [2,3]})"}, {"unicode", "µ→ü"}, {"empty", ""}};
  write_safetensors(dir.file("r.safetensors"), tensors, meta);
  SafetensorsFile back = read_safetensors(dir.file("r.safetensors"));
  REQUIRE(back.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    CAPTURE(tensors[i].first);
    CHECK(back.tensors[i].first == tensors[i].first);  // order kept
    CHECK(same_bits(back.tensors[i].second, tensors[i].second));
  }
  CHECK(back.metadata == meta);
  CHECK(read_safetensors_metadata(dir.file("r.safetensors")) == meta);
}

TEST_CASE("safetensors: writing refuses bad names and undefined tensors") {
  TempDir dir;
  const std::string p = dir.file("w.safetensors");
  CHECK(error_of([&] {
          write_safetensors(p, {{"a", zeros({1})}, {"a", zeros({1})}});
        }) == "write_safetensors: '" + p + "': tensor name 'a' appears twice");
  CHECK_THROWS_WITH(write_safetensors(p, {{"__metadata__", zeros({1})}}),
                    doctest::Contains("invalid tensor name '__metadata__'"));
  CHECK_THROWS_WITH(write_safetensors(p, {{"u", Tensor()}}),
                    doctest::Contains("tensor 'u' is undefined"));
  CHECK_FALSE(fs::exists(p));
}

TEST_CASE("safetensors: truncated files are refused at every cut, never read past the end") {
  TempDir dir;
  const std::string good = dir.file("good.safetensors");
  write_safetensors(good,
                    {{"a", from_vector({1, 2, 3})}, {"b", from_vector({4, 5}, {}, DType::F64)}});
  const std::string bytes = read_bytes(good);
  const std::string bad = dir.file("bad.safetensors");
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    CAPTURE(cut);
    write_bytes(bad, bytes.substr(0, cut));
    std::string why = error_of([&] { read_safetensors(bad); });
    CHECK(why.rfind("read_safetensors: '" + bad + "': ", 0) == 0);
    if (cut < 8)
      CHECK(why.find("too short for the 8-byte header length") != std::string::npos);
    else if (cut < bytes.size() - 28)
      CHECK(why.find("is larger than the file") != std::string::npos);
    else
      CHECK(why.find("go past the end of the data section") != std::string::npos);
  }
  write_bytes(bad, bytes.substr(0, bytes.size() - 4));
  CHECK(
      error_of([&] {
        read_safetensors(bad);
      }).find("tensor 'b': data_offsets [12, 28) go past the end of the data section (24 bytes)") !=
      std::string::npos);
}

namespace {

// A header entry written by hand.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  int begin, int end) {
  std::string out = "\"";
  out += name;
  out += "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[";
  out += std::to_string(begin) + "," + std::to_string(end) + "]}";
  return out;
}

// A file whose header is the object of `entries`, followed by `data`.
std::string file_of(const std::vector<std::string>& entries, const std::string& data) {
  std::string header = "{";
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i) header += ",";
    header += entries[i];
  }
  header += "}";
  return hand_made(header, data);
}

// A header with one empty F64 tensor "a" of the given shape (as JSON).
std::string entry_text(const std::string& shape) {
  return "{\"a\":{\"dtype\":\"F64\",\"shape\":" + shape + ",\"data_offsets\":[0,0]}}";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("safetensors: corrupt headers are refused with the reason") {
  TempDir dir;
  const std::string p = dir.file("c.safetensors");
  auto why = [&](const std::string& file_bytes) {
    write_bytes(p, file_bytes);
    return error_of([&] { read_safetensors(p); });
  };
  const std::string f32x2(8, '\0');
  const std::string a = entry("a", "F32", "[2]", 0, 8);
  CHECK(why(u64_le(1ULL << 40) + "{}") == "read_safetensors: '" + p +
                                              "': header length 1099511627776 exceeds the "
                                              "limit of 100000000 bytes");
  CHECK(has(why(u64_le(100) + "{}"), "header length 100 is larger than the file (10 bytes)"));
  CHECK(has(why(hand_made("{\"a\":", "")), "header is not valid JSON"));
  CHECK(has(why(hand_made("[1,2]", "")), "header is not a JSON object"));
  CHECK(has(why(file_of({entry("a", "F16", "[2]", 0, 4)}, "1234")),
            "tensor 'a': unknown or unsupported dtype 'F16'"));
  CHECK(has(why(file_of({entry("a", "F32", "[3]", 0, 8)}, f32x2)),
            "tensor 'a': shape (3) of F32 needs 12 bytes, data_offsets [0, 8) hold 8"));
  CHECK(has(why(file_of({entry("a", "F32", "[-2]", 0, 8)}, f32x2)),
            "tensor 'a': shape has an entry that is not a non-negative integer"));
  CHECK(has(why(file_of({a, entry("b", "F32", "[2]", 4, 12)}, std::string(12, '\0'))),
            "tensor 'b': data_offsets [4, 12) overlap the previous tensor"));
  CHECK(has(why(file_of({a, entry("b", "F32", "[1]", 12, 16)}, std::string(16, '\0'))),
            "tensor 'b': data_offsets [12, 16) leave a gap after byte 8"));
  CHECK(has(why(file_of({entry("a", "F32", "[2]", 8, 16)}, f32x2)),
            "tensor 'a': data_offsets [8, 16) go past the end of the data section (8 bytes)"));
  CHECK(has(why(file_of({a, a}, f32x2)), "duplicate tensor name 'a'"));
  CHECK(has(why(file_of({a}, f32x2 + "xyz")), "trailing garbage: 3 bytes after the last tensor"));
  CHECK(has(why(hand_made(R"({"__metadata__":{"k":1}})", "")),
            "__metadata__ value of 'k' is not a string"));
  CHECK(has(why(hand_made(R"({"a":{"dtype":"F32","shape":[0]}})", "")),
            "tensor 'a': missing \"data_offsets\""));
  CHECK(has(why(file_of({entry("a", "F32", "[2]", 8, 0)}, "")),
            "tensor 'a': data_offsets end before they begin"));
}

TEST_CASE("safetensors: shapes too large for an int64 are refused, even with a zero dimension") {
  // Found by fuzzing (tests/fuzz/corpus/fuzz_safetensors/shape-zero-then-huge): a zero makes the
  // tensor empty and its byte size 0, but its strides multiply the other sizes and overflowed.
  TempDir dir;
  const std::string p = dir.file("s.safetensors");
  auto why = [&](const std::string& shape) {
    write_bytes(p, hand_made(entry_text(shape), ""));
    return error_of([&] { read_safetensors(p); });
  };
  const std::string max = "9223372036854775807";
  CHECK(has(why("[0," + max + "," + max + "]"), "tensor 'a': shape [0," + max + "," + max +
                                                    "] is too large (its non-zero sizes "
                                                    "multiply to over 2^63 - 1)"));
  CHECK(has(why("[1099511627776,1099511627776,0]"), "is too large"));
  CHECK(has(why("[9223372036854775808]"), "is too large"));
  // Empty tensors whose other sizes fit are fine.
  write_bytes(p, hand_made(entry_text("[0," + max + "]"), ""));
  CHECK(read_safetensors(p).tensors.at(0).second.shape() == Shape{0, INT64_MAX});
}

TEST_CASE("safetensors: every single-byte corruption is refused or read safely") {
  TempDir dir;
  const std::string good = dir.file("good.safetensors");
  write_safetensors(good, {{"w", from_vector({1, 2, 3, 4}, {2, 2})}, {"i", from_indices({7})}},
                    {{"k", "v"}});
  const std::string bytes = read_bytes(good);
  const std::string p = dir.file("flip.safetensors");
  int refused = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char mask : {0x01, 0x20, 0x80}) {
      std::string b = bytes;
      b[i] = char(b[i] ^ mask);
      write_bytes(p, b);
      try {
        read_safetensors(p);  // a flip in a name, a value or padding can leave a valid file
      } catch (const std::runtime_error&) {
        ++refused;
      }
    }
  }
  MESSAGE(refused << " of " << 3 * bytes.size() << " corrupted files refused");
  CHECK(refused > int(bytes.size()));
}

// ---------------------------------------------------------------------------- atomic writes
TEST_CASE("safetensors: a failed write leaves the previous file intact and no temporary") {
  TempDir dir;
  const std::string p = dir.file("model.safetensors");
  write_safetensors(p, {{"a", from_vector({1, 2, 3})}});
  const std::string before = read_bytes(p);

  SUBCASE("the write fails half way (file size limit)") {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    getrlimit(RLIMIT_FSIZE, &old);
    rlimit small = old;
    small.rlim_cur = 4096;
    setrlimit(RLIMIT_FSIZE, &small);
    std::string why = error_of([&] { write_safetensors(p, {{"a", zeros({100000})}}); });
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK(why.find("write_safetensors: '" + p + "': write: ") == 0);
  }
  SUBCASE("the directory does not exist") {
    const std::string q = dir.file("missing/model.safetensors");
    CHECK_THROWS_WITH(write_safetensors(q, {{"a", zeros({1})}}),
                      doctest::Contains("cannot create a temporary file"));
  }
  CHECK(read_bytes(p) == before);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) files += e.is_regular_file();
  CHECK(files == 1);  // no temporary file left behind
}

// --------------------------------------------------------------------------- modules
TEST_CASE("safetensors: save_module / load_module round trip with metadata") {
  TempDir dir;
  TinyModel a(1), b(2);
  save_module(dir.file("m.safetensors"), a, {{"hidden", "4"}});
  CHECK(load_module(dir.file("m.safetensors"), b) == Metadata{{"hidden", "4"}});
  for (const auto& [name, p] : a.named_parameters()) {
    CHECK(same_bits(p.value(), b.parameter(name).value()));
  }
  auto names = [](const NamedTensors& ts) {
    std::vector<std::string> out;
    for (const auto& [n, _] : ts) out.push_back(n);
    return out;
  };
  CHECK(names(read_safetensors(dir.file("m.safetensors")).tensors) ==
        std::vector<std::string>{"w", "b", "v", "scale"});
}

TEST_CASE("safetensors: load_module refuses wrong names, shapes and dtypes and changes nothing") {
  TempDir dir;
  TinyModel model(1);
  const Tensor w_before = model.w.value().clone();
  const std::string p = dir.file("m.safetensors");
  NamedTensors good = module_tensors(TinyModel(9));
  auto refuse = [&](NamedTensors tensors) {
    write_safetensors(p, tensors);
    std::string why = error_of([&] { load_module(p, model); });
    CHECK(same_bits(model.w.value(), w_before));
    return why;
  };
  NamedTensors missing(good.begin() + 1, good.end());
  missing.emplace_back("extra", zeros({1}));
  CHECK(refuse(missing) == "load_module: '" + p +
                               "': tensor names do not match the module: missing 'w'; "
                               "unexpected 'extra'");
  NamedTensors shape = good;
  shape[0].second = zeros({3, 4});
  CHECK(refuse(shape) ==
        "load_module: '" + p + "': tensor 'w' is f32 (3,4) in the file, f32 (4,3) in the module");
  NamedTensors dtype = good;
  dtype[3].second = zeros({1}, DType::F64);
  CHECK(refuse(dtype).find("tensor 'scale' is f64 (1) in the file, f32 (1) in the module") !=
        std::string::npos);
}

// ---------------------------------------------------------------------------- checkpoints
TEST_CASE("checkpoint: resuming from a checkpoint is bit-identical to not stopping") {
  TempDir dir;
  const int64_t total = 12, stop = 5;
  // Uninterrupted.
  TinyModel straight(1);
  AdamW straight_opt(straight.named_parameters(), AdamWOptions{.weight_decay = 0.1});
  Generator straight_gen(77);
  for (int64_t s = 0; s < total; ++s) train_step(straight, straight_opt, straight_gen, s);

  // Interrupted at `stop`, saved, restored into fresh objects.
  {
    TinyModel model(1);
    AdamW opt(model.named_parameters(), AdamWOptions{.weight_decay = 0.1});
    Generator gen(77);
    for (int64_t s = 0; s < stop; ++s) train_step(model, opt, gen, s);
    Checkpoint ck{stop, {{"data", gen.state()}}, {{"hidden", "4"}}, {{"run", "test"}}};
    save_checkpoint(dir.path.string(), model, opt, ck);
  }
  CHECK(checkpoint_exists(dir.path.string()));
  TinyModel resumed(123);  // different initial values: all must come from the files
  AdamW resumed_opt(resumed.named_parameters(), AdamWOptions{.weight_decay = 0.1});
  Checkpoint ck = load_checkpoint(dir.path.string(), resumed, resumed_opt);
  CHECK(ck.step == stop);
  CHECK(ck.model_metadata == Metadata{{"hidden", "4"}});
  CHECK(ck.training_metadata == Metadata{{"run", "test"}});
  Generator gen(0);
  gen.set_state(ck.rng_states.at("data"));
  for (int64_t s = ck.step; s < total; ++s) train_step(resumed, resumed_opt, gen, s);

  for (const auto& [name, p] : straight.named_parameters()) {
    CAPTURE(name);
    CHECK(same_bits(p.value(), resumed.parameter(name).value()));
  }
  CHECK(gen.state() == straight_gen.state());
  // The model file is a plain safetensors model file with the model metadata.
  CHECK(read_safetensors_metadata(dir.file(kModelFile)).at("hidden") == "4");
  // read_checkpoint: the same step, generator states and metadata, with nothing to load into.
  const Checkpoint read = read_checkpoint(dir.path.string());
  CHECK(read.step == stop);
  CHECK(read.rng_states == ck.rng_states);
  CHECK(read.model_metadata == ck.model_metadata);
  CHECK(read.training_metadata == ck.training_metadata);
}

TEST_CASE("checkpoint: mismatched pairs, optimisers and models are refused, nothing changes") {
  TempDir dir, other;
  TinyModel model(1);
  AdamW opt(model.named_parameters());
  Generator gen(3);
  train_step(model, opt, gen, 0);
  save_checkpoint(dir.path.string(), model, opt, Checkpoint{1});
  train_step(model, opt, gen, 1);
  save_checkpoint(other.path.string(), model, opt, Checkpoint{2});

  TinyModel target(5);
  const Tensor w_before = target.w.value().clone();
  AdamW target_opt(target.named_parameters());
  SUBCASE("model file from another save") {
    fs::copy_file(other.file(kModelFile), dir.file(kModelFile),
                  fs::copy_options::overwrite_existing);
    CHECK_THROWS_WITH(load_checkpoint(dir.path.string(), target, target_opt),
                      doctest::Contains("does not belong to"));
    CHECK_THROWS_WITH(read_checkpoint(dir.path.string()), doctest::Contains("does not belong to"));
  }
  SUBCASE("another optimiser") {
    SGD sgd(target.named_parameters());
    CHECK_THROWS_WITH(load_checkpoint(dir.path.string(), target, sgd),
                      doctest::Contains("holds adamw state, the optimiser is sgd"));
  }
  SUBCASE("another model shape") {
    TinyModel wide(5, 6);
    AdamW wide_opt(wide.named_parameters());
    CHECK_THROWS_WITH(load_checkpoint(dir.path.string(), wide, wide_opt),
                      doctest::Contains("tensor 'w' is f32 (4,3) in the file, f32 (6,3)"));
  }
  SUBCASE("a missing training state") {
    fs::remove(dir.file(kTrainingStateFile));
    CHECK_FALSE(checkpoint_exists(dir.path.string()));
    CHECK_THROWS_WITH(load_checkpoint(dir.path.string(), target, target_opt),
                      doctest::Contains("training_state.safetensors': cannot open"));
    CHECK_THROWS_WITH(read_checkpoint(dir.path.string()),
                      doctest::Contains("training_state.safetensors': cannot open"));
  }
  CHECK(same_bits(target.w.value(), w_before));
  CHECK(target_opt.export_state().empty());
  CHECK_THROWS_WITH(save_checkpoint(dir.path.string(), model, opt,
                                    Checkpoint{1, {}, {{"checkpoint.step", "9"}}, {}}),
                    doctest::Contains("reserved prefix"));
}
