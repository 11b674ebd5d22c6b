// png.cpp — the PNG encoder (see png.h): checksums, a fixed-Huffman deflate, the chunks.
#include "tools/lib/png.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>

namespace tg::tools {

RgbImage::RgbImage(int w, int h, Rgb fill)
    : width(w), height(h), pixels(static_cast<size_t>(w) * static_cast<size_t>(h), fill) {
  if (w < 0 || h < 0) throw std::invalid_argument("RgbImage: negative size");
}

// ------------------------------------------------------------------------------ checksums

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = crc ^ 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t adler32(const uint8_t* data, size_t size) {
  constexpr uint32_t kMod = 65521;
  uint32_t a = 1, b = 0;
  while (size > 0) {
    const size_t chunk = size < 5552 ? size : 5552;  // the longest run without a 32-bit overflow
    for (size_t i = 0; i < chunk; ++i) {
      a += data[i];
      b += a;
    }
    a %= kMod;
    b %= kMod;
    data += chunk;
    size -= chunk;
  }
  return (b << 16) | a;
}

// ------------------------------------------------------------------------------ deflate

namespace {

// Bits into bytes, least significant bit first (RFC 1951, 3.1.1).
class BitWriter {
 public:
  explicit BitWriter(std::vector<uint8_t>& out) : out_(out) {}
  void bits(uint32_t value, int count) {  // `count` low bits of value, LSB first
    for (int i = 0; i < count; ++i) {
      acc_ |= ((value >> i) & 1u) << filled_;
      if (++filled_ == 8) flush_byte();
    }
  }
  void huffman(uint32_t code, int length) {  // Huffman codes go most significant bit first
    for (int i = length - 1; i >= 0; --i) bits((code >> i) & 1u, 1);
  }
  void finish() {
    if (filled_ > 0) flush_byte();
  }

 private:
  void flush_byte() {
    out_.push_back(static_cast<uint8_t>(acc_));
    acc_ = 0;
    filled_ = 0;
  }
  std::vector<uint8_t>& out_;
  uint32_t acc_ = 0;
  int filled_ = 0;
};

// The fixed literal/length code (RFC 1951, 3.2.6).
void put_symbol(BitWriter& w, int symbol) {
  if (symbol < 144) {
    w.huffman(0x30 + symbol, 8);
  } else if (symbol < 256) {
    w.huffman(0x190 + (symbol - 144), 9);
  } else if (symbol < 280) {
    w.huffman(symbol - 256, 7);
  } else {
    w.huffman(0xC0 + (symbol - 280), 8);
  }
}

constexpr std::array<int, 29> kLengthBase = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                             15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                             67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr std::array<int, 29> kLengthExtra = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                              2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr std::array<int, 30> kDistanceBase = {
    1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr std::array<int, 30> kDistanceExtra = {0, 0, 0,  0,  1,  1,  2,  2,  3,  3,
                                                4, 4, 5,  5,  6,  6,  7,  7,  8,  8,
                                                9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

// Index of the last base <= value.
template <size_t Size>
int code_index(const std::array<int, Size>& bases, int value) {
  int i = 0;
  while (i + 1 < static_cast<int>(Size) && bases[i + 1] <= value) ++i;
  return i;
}

void put_match(BitWriter& w, int length, int distance) {
  const int li = code_index(kLengthBase, length);
  put_symbol(w, 257 + li);
  w.bits(length - kLengthBase[li], kLengthExtra[li]);
  const int di = code_index(kDistanceBase, distance);
  w.huffman(di, 5);  // fixed distance codes: 5 bits, the code itself
  w.bits(distance - kDistanceBase[di], kDistanceExtra[di]);
}

// LZ77 match finder: the most recent positions with the same 3-byte hash, within the window.
class MatchFinder {
 public:
  static constexpr int kWindow = 32768, kMinMatch = 3, kMaxMatch = 258, kMaxChain = 32;

  explicit MatchFinder(const std::vector<uint8_t>& data)
      : data_(data), head_(1 << 15, -1), prev_(kWindow, -1) {}

  void insert(int pos) {
    if (pos + kMinMatch > static_cast<int>(data_.size())) return;
    const int h = hash(pos);
    prev_[pos & (kWindow - 1)] = head_[h];
    head_[h] = pos;
  }

  // Longest match for `pos` (length, distance); length 0 when none of at least kMinMatch.
  std::pair<int, int> longest(int pos) const {
    const int n = static_cast<int>(data_.size());
    if (pos + kMinMatch > n) return {0, 0};
    const int limit = std::min(kMaxMatch, n - pos);
    int best = 0, best_distance = 0;
    int candidate = head_[hash(pos)];
    for (int chain = 0; candidate >= 0 && pos - candidate <= kWindow && chain < kMaxChain;
         ++chain) {
      int length = 0;
      while (length < limit && data_[candidate + length] == data_[pos + length]) ++length;
      if (length > best) {
        best = length;
        best_distance = pos - candidate;
        if (length == limit) break;
      }
      const int next = prev_[candidate & (kWindow - 1)];
      if (next >= candidate) break;
      candidate = next;
    }
    return best >= kMinMatch ? std::pair{best, best_distance} : std::pair{0, 0};
  }

 private:
  int hash(int pos) const {
    return ((data_[pos] << 10) ^ (data_[pos + 1] << 5) ^ data_[pos + 2]) & 0x7FFF;
  }
  const std::vector<uint8_t>& data_;
  std::vector<int> head_, prev_;
};

void deflate_fixed(const std::vector<uint8_t>& data, BitWriter& w) {
  w.bits(1, 1);  // BFINAL: the only block
  w.bits(1, 2);  // BTYPE 01: fixed Huffman codes
  MatchFinder finder(data);
  const int n = static_cast<int>(data.size());
  for (int pos = 0; pos < n;) {
    const auto [length, distance] = finder.longest(pos);
    if (length == 0) {
      put_symbol(w, data[pos]);
      finder.insert(pos++);
      continue;
    }
    put_match(w, length, distance);
    for (int end = pos + length; pos < end; ++pos) finder.insert(pos);
  }
  put_symbol(w, 256);  // end of block
  w.finish();
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {  // big-endian
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void put_chunk(std::vector<uint8_t>& out, const char type[4], const std::vector<uint8_t>& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_u32(out, crc32(out.data() + start, out.size() - start));
}

}  // namespace

std::vector<uint8_t> zlib_compress(const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = {0x78, 0x01};  // deflate, 32K window; (0x78 * 256 + 0x01) % 31 == 0
  BitWriter writer(out);
  deflate_fixed(data, writer);
  put_u32(out, adler32(data.data(), data.size()));
  return out;
}

// ------------------------------------------------------------------------------ PNG

std::vector<uint8_t> encode_png(const RgbImage& image) {
  if (image.width < 1 || image.height < 1) throw std::invalid_argument("encode_png: empty image");
  std::vector<uint8_t> raw;  // filter byte + RGB per row
  raw.reserve(static_cast<size_t>(image.height) * (1 + 3 * static_cast<size_t>(image.width)));
  for (int y = 0; y < image.height; ++y) {
    raw.push_back(0);  // filter type None
    for (int x = 0; x < image.width; ++x) {
      const Rgb& p = image.at(x, y);
      raw.insert(raw.end(), {p.r, p.g, p.b});
    }
  }
  std::vector<uint8_t> header;
  put_u32(header, static_cast<uint32_t>(image.width));
  put_u32(header, static_cast<uint32_t>(image.height));
  header.insert(header.end(), {8, 2, 0, 0, 0});  // depth 8, RGB, deflate, filter 0, no interlace

  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  put_chunk(png, "IHDR", header);
  put_chunk(png, "IDAT", zlib_compress(raw));
  put_chunk(png, "IEND", {});
  return png;
}

void write_png(const std::string& path, const RgbImage& image) {
  const std::vector<uint8_t> bytes = encode_png(image);
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  auto fail = [&](const std::string& why) {
    std::remove(tmp.c_str());
    throw std::runtime_error("write_png: " + path + ": " + why);
  };
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(std::strerror(errno));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() &&
                       std::fflush(f) == 0 && fsync(fileno(f)) == 0;
  const int saved_errno = errno;
  if (std::fclose(f) != 0 || !written) fail(std::strerror(written ? errno : saved_errno));
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail(ec.message());
}

}  // namespace tg::tools
