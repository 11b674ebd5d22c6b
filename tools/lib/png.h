// png.h — a minimal PNG encoder of our own: an 8-bit RGB image to a PNG file.
//
// The file (PNG specification, ISO/IEC 15948):
//   signature  89 50 4E 47 0D 0A 1A 0A
//   chunks     length (u32 big-endian), type (4 ASCII letters), data, CRC-32 of type + data:
//     IHDR     width, height (u32), bit depth 8, colour type 2 (RGB), compression 0, filter 0,
//              interlace 0
//     IDAT     a zlib stream (RFC 1950): header 78 01, deflate data (RFC 1951), Adler-32 of the
//              uncompressed bytes (big-endian). The uncompressed bytes are the rows top to
//              bottom, each a filter byte (0, "None") followed by width * 3 bytes R, G, B.
//     IEND     empty
// The deflate data is one block with the fixed Huffman codes (BTYPE 01) and LZ77 matches found
// through a hash of the next three bytes: a plot (mostly flat colour, rows that repeat) shrinks
// by 50-100x, and a decoder needs nothing beyond the standard.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tg::tools {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

// An RGB image, row-major, top row first.
struct RgbImage {
  int width = 0, height = 0;
  std::vector<Rgb> pixels;  // (height, width)

  RgbImage() = default;
  RgbImage(int w, int h, Rgb fill = {255, 255, 255});
  Rgb& at(int x, int y) { return pixels[static_cast<size_t>(y) * width + x]; }
  const Rgb& at(int x, int y) const { return pixels[static_cast<size_t>(y) * width + x]; }
  bool contains(int x, int y) const { return x >= 0 && y >= 0 && x < width && y < height; }
};

// The checksums the format uses (exposed for tests).
uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0);  // PNG chunks, zlib's crc32
uint32_t adler32(const uint8_t* data, size_t size);                  // the zlib trailer

// A complete zlib stream (header, fixed-Huffman deflate, Adler-32) of `data`.
std::vector<uint8_t> zlib_compress(const std::vector<uint8_t>& data);

// The bytes of a PNG file for `image` (width and height >= 1).
std::vector<uint8_t> encode_png(const RgbImage& image);
// encode_png, written atomically: to a temporary file in the same directory, then renamed over
// `path`. Throws std::runtime_error naming the file on failure.
void write_png(const std::string& path, const RgbImage& image);

}  // namespace tg::tools
