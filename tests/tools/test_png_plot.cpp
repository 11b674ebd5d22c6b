// test_png_plot.cpp — the PNG encoder (checksums, a zlib stream that an independent inflater
// decodes back, the file's chunk structure), the plot renderer on edge cases, and the training
// plots drawn from a synthetic run directory.
//
// The inflater here is written from RFC 1951 alone (stored and fixed-Huffman blocks, canonical
// decoding as in zlib's puff.c), so that a bug shared by encoder and decoder is unlikely.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/lib/plot.h"
#include "tools/lib/png.h"
#include "tools/lib/training_plots.h"

using namespace tg::tools;
namespace fs = std::filesystem;

namespace {

// ------------------------------------------------------------------------------ inflate

class BitReader {
 public:
  explicit BitReader(const std::vector<uint8_t>& data, size_t start) : data_(data), pos_(start) {}
  int bits(int count) {  // LSB first
    int v = 0;
    for (int i = 0; i < count; ++i) {
      if (pos_ >= data_.size()) throw std::runtime_error("inflate: out of data");
      v |= ((data_[pos_] >> bit_) & 1) << i;
      if (++bit_ == 8) bit_ = 0, ++pos_;
    }
    return v;
  }
  void align() {
    if (bit_ != 0) bit_ = 0, ++pos_;
  }
  uint8_t byte() { return data_.at(pos_++); }
  size_t position() const { return pos_; }

 private:
  const std::vector<uint8_t>& data_;
  size_t pos_;
  int bit_ = 0;
};

struct Huffman {
  std::vector<int> count = std::vector<int>(16, 0), symbol;
  explicit Huffman(const std::vector<int>& lengths) {
    for (int len : lengths) ++count[len];
    std::vector<int> offset(16, 0);
    for (int len = 1; len < 15; ++len) offset[len + 1] = offset[len] + count[len];
    symbol.resize(lengths.size());
    for (size_t s = 0; s < lengths.size(); ++s) {
      if (lengths[s]) symbol[offset[lengths[s]]++] = static_cast<int>(s);
    }
  }
  int decode(BitReader& in) const {
    int code = 0, first = 0, index = 0;
    for (int len = 1; len < 16; ++len) {
      code |= in.bits(1);
      if (code - count[len] < first) return symbol[index + (code - first)];
      index += count[len];
      first = (first + count[len]) << 1;
      code <<= 1;
    }
    throw std::runtime_error("inflate: bad code");
  }
};

std::vector<uint8_t> inflate_zlib(const std::vector<uint8_t>& z) {
  REQUIRE(z.size() >= 6);
  REQUIRE((z[0] * 256 + z[1]) % 31 == 0);
  REQUIRE((z[0] & 0x0F) == 8);  // deflate
  static const int kLenBase[] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static const int kLenExtra[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                  2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  static const int kDistBase[] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                  33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                  1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
  static const int kDistExtra[] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                   6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
  std::vector<int> lit(288);
  for (int s = 0; s < 288; ++s) lit[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
  const Huffman literals(lit), distances(std::vector<int>(30, 5));

  std::vector<uint8_t> out;
  BitReader in(z, 2);
  for (bool last = false; !last;) {
    last = in.bits(1);
    const int type = in.bits(2);
    if (type == 0) {
      in.align();
      const int len = in.byte() | in.byte() << 8, nlen = in.byte() | in.byte() << 8;
      REQUIRE(len == (~nlen & 0xFFFF));
      for (int i = 0; i < len; ++i) out.push_back(in.byte());
      continue;
    }
    REQUIRE(type == 1);  // the encoder emits only stored and fixed-Huffman blocks
    for (int sym; (sym = literals.decode(in)) != 256;) {
      if (sym < 256) {
        out.push_back(static_cast<uint8_t>(sym));
        continue;
      }
      const int length = kLenBase[sym - 257] + in.bits(kLenExtra[sym - 257]);
      const int dsym = distances.decode(in);
      const int distance = kDistBase[dsym] + in.bits(kDistExtra[dsym]);
      REQUIRE(distance <= static_cast<int>(out.size()));
      for (int i = 0; i < length; ++i) out.push_back(out[out.size() - distance]);
    }
  }
  in.align();
  size_t p = in.position();
  REQUIRE(p + 4 == z.size());
  const uint32_t adler =
      uint32_t{z[p]} << 24 | uint32_t{z[p + 1]} << 16 | uint32_t{z[p + 2]} << 8 | z[p + 3];
  CHECK(adler == adler32(out.data(), out.size()));
  return out;
}

// ------------------------------------------------------------------------------ PNG parsing

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t{b.at(at)} << 24 | uint32_t{b.at(at + 1)} << 16 | uint32_t{b.at(at + 2)} << 8 |
         b.at(at + 3);
}

struct Chunk {
  std::string type;
  std::vector<uint8_t> data;
};

// Splits a PNG file into chunks, checking the signature and every CRC.
std::vector<Chunk> png_chunks(const std::vector<uint8_t>& png) {
  const std::vector<uint8_t> signature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  REQUIRE(png.size() >= 8);
  REQUIRE(std::vector<uint8_t>(png.begin(), png.begin() + 8) == signature);
  std::vector<Chunk> chunks;
  for (size_t at = 8; at < png.size();) {
    const uint32_t length = be32(png, at);
    REQUIRE(at + 12 + length <= png.size());
    Chunk c{std::string(png.begin() + at + 4, png.begin() + at + 8),
            std::vector<uint8_t>(png.begin() + at + 8, png.begin() + at + 8 + length)};
    CHECK(be32(png, at + 8 + length) == crc32(png.data() + at + 4, 4 + length));
    chunks.push_back(c);
    at += 12 + length;
  }
  return chunks;
}

// Decodes one of our PNGs (RGB8, filter 0 rows) back to an image.
RgbImage decode_png(const std::vector<uint8_t>& png) {
  const std::vector<Chunk> chunks = png_chunks(png);
  REQUIRE(chunks.size() >= 3);
  REQUIRE(chunks.front().type == "IHDR");
  REQUIRE(chunks.back().type == "IEND");
  CHECK(chunks.back().data.empty());
  const auto& h = chunks.front().data;
  REQUIRE(h.size() == 13);
  const int w = static_cast<int>(be32(h, 0)), ht = static_cast<int>(be32(h, 4));
  CHECK(h[8] == 8);   // bit depth
  CHECK(h[9] == 2);   // RGB
  CHECK(h[10] == 0);  // deflate
  CHECK(h[11] == 0);  // filter method
  CHECK(h[12] == 0);  // no interlace
  std::vector<uint8_t> z;
  for (const auto& c : chunks) {
    if (c.type == "IDAT") z.insert(z.end(), c.data.begin(), c.data.end());
  }
  const std::vector<uint8_t> raw = inflate_zlib(z);
  REQUIRE(raw.size() == static_cast<size_t>(ht) * (1 + 3 * static_cast<size_t>(w)));
  RgbImage image(w, ht);
  size_t p = 0;
  for (int y = 0; y < ht; ++y) {
    REQUIRE(raw[p++] == 0);  // filter None
    for (int x = 0; x < w; ++x, p += 3) image.at(x, y) = {raw[p], raw[p + 1], raw[p + 2]};
  }
  return image;
}

std::vector<uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int count_color(const RgbImage& image, Rgb color) {
  int n = 0;
  for (const Rgb& p : image.pixels) n += p == color;
  return n;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / (name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

// ------------------------------------------------------------------------------ PNG

TEST_CASE("crc32 and adler32 match their published check values") {
  const std::string digits = "123456789", wiki = "Wikipedia";
  CHECK(crc32(reinterpret_cast<const uint8_t*>(digits.data()), digits.size()) == 0xCBF43926u);
  CHECK(adler32(reinterpret_cast<const uint8_t*>(wiki.data()), wiki.size()) == 0x11E60398u);
  CHECK(adler32(nullptr, 0) == 1u);
  // crc32 continues across calls as zlib's does
  const auto* d = reinterpret_cast<const uint8_t*>(digits.data());
  CHECK(crc32(d + 4, 5, crc32(d, 4)) == 0xCBF43926u);
}

TEST_CASE("zlib_compress round-trips through an independent inflater") {
  std::vector<std::vector<uint8_t>> inputs = {{}, {'a'}, {'a', 'b', 'c'}};
  std::vector<uint8_t> runs(100000, 255), mixed, noise;
  for (int i = 0; i < 70000; ++i)
    mixed.push_back(static_cast<uint8_t>((i / 7) % 13 + (i % 3) * 40));
  uint32_t state = 12345;
  for (int i = 0; i < 50000; ++i) {
    state = state * 1664525u + 1013904223u;
    noise.push_back(static_cast<uint8_t>(state >> 24));
  }
  inputs.push_back(runs);
  inputs.push_back(mixed);
  inputs.push_back(noise);
  for (const auto& data : inputs) {
    CAPTURE(data.size());
    CHECK(inflate_zlib(zlib_compress(data)) == data);
  }
  CHECK(zlib_compress(runs).size() < runs.size() / 50);  // a flat run compresses a lot
}

TEST_CASE("encode_png writes a valid RGB PNG that decodes to the same pixels") {
  RgbImage image(7, 5);
  for (int y = 0; y < 5; ++y) {
    for (int x = 0; x < 7; ++x) {
      image.at(x, y) = {static_cast<uint8_t>(30 * x), static_cast<uint8_t>(50 * y), 7};
    }
  }
  const RgbImage back = decode_png(encode_png(image));
  CHECK(back.width == 7);
  CHECK(back.height == 5);
  CHECK(back.pixels == image.pixels);

  CHECK(decode_png(encode_png(RgbImage(1, 1, {1, 2, 3}))).pixels == std::vector<Rgb>{{1, 2, 3}});
  CHECK_THROWS_AS(encode_png(RgbImage(0, 3)), std::invalid_argument);
}

TEST_CASE("write_png is atomic: the file is complete and no temporary is left behind") {
  const fs::path dir = fresh_dir("tg_png");
  const fs::path path = dir / "a.png";
  const RgbImage image(40, 30, {10, 20, 30});
  write_png(path.string(), image);
  write_png(path.string(), image);  // overwriting works too
  CHECK(read_file(path) == encode_png(image));
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.exists();
  CHECK(entries == 1);
  CHECK_THROWS_WITH_AS(write_png((dir / "missing" / "b.png").string(), image),
                       doctest::Contains("missing/b.png"), std::runtime_error);
  fs::remove_all(dir);
}

// ------------------------------------------------------------------------------ plot

TEST_CASE("format_tick uses as many decimals as the step needs") {
  CHECK(format_tick(0, 0.1) == "0");
  CHECK(format_tick(0.5, 0.5) == "0.5");
  CHECK(format_tick(0.05, 0.05) == "0.05");
  CHECK(format_tick(1500, 500) == "1500");
  CHECK(format_tick(-2, 1) == "-2");
  CHECK(format_tick(0.001, 0.001) == "0.001");
  CHECK(format_tick(1e-5, 1e-5) == "1e-5");
  CHECK(format_tick(2.5e8, 1e8) == "2.5e8");
}

TEST_CASE("text is drawn in the built-in font, and measured") {
  RgbImage image(100, 30);
  draw_text(image, 2, 2, "Hi 0.5", {0, 0, 0});
  CHECK(count_color(image, {0, 0, 0}) > 20);
  CHECK(text_width("abc", 2) == (3 * 6 - 1) * 2);
  CHECK(text_width("") == 0);
  RgbImage clipped(10, 10);
  draw_text(clipped, -5, 5, "\x01\xff long text past the edge", {0, 0, 0});  // no crash
}

TEST_CASE("render_plot draws series, reference lines and a legend") {
  Plot p;
  p.title = "title";
  p.x_label = "step";
  p.y_label = "value";
  const Rgb blue = palette_color(0), red = palette_color(3);
  p.series.push_back({"rising", {0, 1, 2, 3}, {1, 2, 3, 4}, blue});
  p.ref_lines.push_back({2.5, red, Dash::Long, "baseline"});
  const RgbImage image = render_plot(p);
  CHECK(image.width == 900);
  CHECK(image.height == 600);
  CHECK(count_color(image, blue) > 500);  // the line (and its legend sample)
  CHECK(count_color(image, red) > 300);   // the dashed line and its label
  CHECK(palette_color(0) != palette_color(1));
  CHECK(palette_color(10) == palette_color(0));
}

TEST_CASE("render_plot survives edge cases") {
  const Rgb c = palette_color(1);
  auto render = [](const Plot& p) { return render_plot(p); };
  SUBCASE("one point is drawn as a dot") {
    Plot p;
    p.series.push_back({"one", {5}, {3}, c});
    CHECK(count_color(render(p), c) > 9);
  }
  SUBCASE("a constant series") {
    Plot p;
    p.series.push_back({"flat", {0, 1, 2}, {7, 7, 7}, c});
    CHECK(count_color(render(p), c) > 100);
    p.log_y = true;
    CHECK(count_color(render(p), c) > 100);
  }
  SUBCASE("NaN and infinite values are gaps") {
    Plot p;
    const double nan = std::nan("");
    p.series.push_back({"gappy", {0, 1, 2, 3, nan, 5}, {1, nan, 3, INFINITY, 2, 1}, c});
    CHECK(count_color(render(p), c) > 9);
  }
  SUBCASE("log scale with zeros and negatives drops them") {
    Plot p;
    p.log_y = true;
    p.series.push_back({"errors", {0, 1, 2, 3}, {0, 1e-3, -1, 10}, c});
    p.ref_lines.push_back({0, c, Dash::Dotted, "zero"});  // not drawable on a log axis
    CHECK(count_color(render(p), c) > 100);
  }
  SUBCASE("a log axis spanning less than a decade, and one spanning many") {
    Plot p;
    p.log_y = true;
    p.series.push_back({"narrow", {0, 1}, {0.3, 0.35}, c});
    CHECK(count_color(render(p), c) > 50);
    p.series[0].y = {1e-12, 1e12};
    CHECK(count_color(render(p), c) > 50);
  }
  SUBCASE("no data at all, and mismatched lengths") {
    Plot p;
    CHECK_NOTHROW(render(p));
    p.series.push_back({"", {0, 1, 2}, {1}, c});
    CHECK_NOTHROW(render(p));
    p.log_y = true;
    p.series[0].y = {-1, -2, -3};
    CHECK_NOTHROW(render(p));
  }
  SUBCASE("many overlapping reference labels and a long series") {
    Plot p;
    for (int i = 0; i < 20; ++i) p.ref_lines.push_back({1.0 + 0.001 * i, c, Dash::Short, "label"});
    std::vector<double> x, y;
    for (int i = 0; i < 100000; ++i) x.push_back(i), y.push_back(std::sin(i * 1e-3));
    p.series.push_back({"long", x, y, palette_color(2), 1});
    CHECK_NOTHROW(render(p));
  }
  SUBCASE("too small an image is refused") {
    Plot p;
    p.width = 50;
    CHECK_THROWS_AS(render(p), std::invalid_argument);
  }
}

// ------------------------------------------------------------------------------ training plots

TEST_CASE("smooth is a bias-corrected moving average that keeps gaps") {
  const std::vector<double> s = smooth({2, 2, 2, std::nan(""), 2}, 10);
  CHECK(s[0] == doctest::Approx(2));
  CHECK(s[2] == doctest::Approx(2));
  CHECK(std::isnan(s[3]));
  CHECK(s[4] == doctest::Approx(2));
  const std::vector<double> t = smooth({0, 10}, 1);  // span 1: no smoothing
  CHECK(t[1] == doctest::Approx(10));
}

namespace {

std::string record(const std::string& method, int k, int n, const std::string& l2) {
  return R"({"method":")" + method + R"(","d":8,"K":)" + std::to_string(k) + R"(,"N":)" +
         std::to_string(n) + R"(,"l2_error":)" + l2 + "}";
}

// A run directory as gmm/tgmm/trainer.cpp leaves it: 30 steps, evaluations at steps 10, 20 and 30
// at N = 64 and 128 for K = 2 and 3, eval.json with TGMM and the baselines, a torn last line.
fs::path synthetic_run() {
  const fs::path dir = fresh_dir("tg_plots_run");
  std::ofstream log(dir / "train.jsonl");
  for (int step = 1; step <= 30; ++step) {
    const double loss = 2.0 / step;
    log << R"({"step":)" << step << R"(,"loss":)" << loss << R"(,"weight_loss":)" << loss / 4
        << R"(,"mean_loss":)" << 3 * loss / 4 << R"(,"lr":0.001,"grad_norm":1,"seconds":0.1})"
        << "\n";
    if (step % 10 == 0) {
      log << R"({"type":"eval","step":)" << step << R"(,"records":[)"
          << record("tgmm", 2, 64, std::to_string(0.5 / step)) << ","
          << record("tgmm", 2, 128, "0.01") << ","
          << record("tgmm", 3, 64, std::to_string(1.0 / step)) << ","
          << record("tgmm", 3, 128, "0.02") << "]}\n";
    }
  }
  log << R"({"step":31,"lo)";  // torn
  std::ofstream(dir / "eval.json")
      << "[" << record("tgmm", 2, 64, "0.01") << "," << record("em-paper", 2, 64, "0.02") << ","
      << record("em-strong", 2, 64, "0.005") << "," << record("spectral", 2, 64, "null") << ","
      << record("em-paper", 3, 64, "0.2") << "," << record("em-paper", 3, 128, "0.1") << "]\n";
  return dir;
}

}  // namespace

TEST_CASE("read_training_log reads steps, evaluations and baselines") {
  const fs::path dir = synthetic_run();
  const TrainingLog log = read_training_log(dir.string());
  CHECK(log.steps.size() == 30);
  CHECK(log.loss[1] == doctest::Approx(1.0));
  CHECK(log.evaluations.size() == 3);
  CHECK(log.evaluations[2].step == 30);
  CHECK(log.evaluations[0].records.size() == 4);
  CHECK(log.baselines.size() == 5);  // every record of eval.json but TGMM's

  const Plot errors = error_vs_step_plot(log);
  REQUIRE(errors.series.size() == 2);  // K = 2, 3 at the first N (64)
  CHECK(errors.series[0].label == "TGMM K=2");
  CHECK(errors.series[0].x == std::vector<double>{10, 20, 30});
  CHECK(errors.series[1].y[0] == doctest::Approx(0.1));
  CHECK(errors.ref_lines.size() ==
        3);  // em-paper K=2, em-strong K=2, em-paper K=3 (spectral failed)
  CHECK(errors.ref_lines[0].color == errors.series[0].color);
  CHECK(errors.legend.size() == 2);  // the dash styles of em-paper and em-strong
  CHECK(errors.title.find("N=64") != std::string::npos);

  const Plot loss = loss_plot(log);
  CHECK(loss.log_y);
  CHECK(loss.series.size() == 4);
  fs::remove_all(dir);
}

TEST_CASE("baselines logged in train.jsonl win over a stale eval.json") {
  const fs::path dir = synthetic_run();
  std::ofstream(dir / "train.jsonl", std::ios::app)
      << "\n"
      << R"({"type":"baselines","records":[)" << record("em-paper", 2, 64, "0.03") << "]}\n"
      << R"({"type":"eval","step":40,"records":[)" << record("tgmm", 2, 64, "0.004") << ","
      << record("spectral", 2, 64, "0.07") << "]}\n";
  const TrainingLog log = read_training_log(dir.string());
  CHECK(log.evaluations.size() == 4);
  CHECK(log.evaluations.back().records.size() == 1);  // TGMM's only
  auto baseline = [&](const std::string& method) {
    for (const auto& b : log.baselines) {
      if (b["method"] == method && b["K"] == 2 && b["N"] == 64) return b["l2_error"];
    }
    return nlohmann::json();
  };
  CHECK(baseline("em-paper") == 0.03);
  CHECK(baseline("spectral") == 0.07);
  CHECK(baseline("em-strong") == 0.005);
  fs::remove_all(dir);
}

TEST_CASE("write_training_plots writes loss.png and error_vs_step.png") {
  const fs::path dir = synthetic_run();
  write_training_plots(dir.string());
  for (const char* name : {"loss.png", "error_vs_step.png"}) {
    CAPTURE(name);
    const RgbImage image = decode_png(read_file(dir / name));
    CHECK(image.width == 900);
    CHECK(image.height == 600);
  }
  CHECK_THROWS_WITH_AS(write_training_plots((dir / "nowhere").string()),
                       doctest::Contains("train.jsonl"), std::runtime_error);

  // Before the first evaluation only the loss plot is written.
  const fs::path early = fresh_dir("tg_plots_early");
  std::ofstream(early / "train.jsonl")
      << R"({"step":1,"loss":0.5,"weight_loss":0.1,"mean_loss":0.4})"
      << "\n";
  write_training_plots(early.string());
  CHECK(fs::exists(early / "loss.png"));
  CHECK(!fs::exists(early / "error_vs_step.png"));
  fs::remove_all(dir);
  fs::remove_all(early);
}
