// shape.h — shapes, strides and the small helpers every op needs to check them.
//
// A shape is a list of sizes, outermost first; strides are in elements (not bytes); the last
// dimension of a contiguous tensor has stride 1 (row-major, as in NumPy and PyTorch). All sizes,
// strides and offsets are int64_t.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tg {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

// "(4,3)" — the notation used in every error message.
std::string shape_str(const Shape& shape);
int64_t shape_numel(const Shape& shape);
// Row-major strides of a contiguous tensor of this shape.
Strides contiguous_strides(const Shape& shape);
// Map a possibly negative dim (-1 = last) into [0, rank); throws "<op>: dim d out of range ...".
int64_t normalize_dim(int64_t dim, int64_t rank, const char* op);
// NumPy broadcasting of two shapes; throws "<op>: shapes (..) and (..) cannot be broadcast".
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// The dims of `shape` that `target` broadcasts over, as needed to sum a broadcast gradient back.
// Throws when `shape` cannot be reduced to `target`.
std::vector<int64_t> broadcast_reduce_dims(const Shape& shape, const Shape& target, const char* op);

// A shape seen as (O, V, I) around one dim: O = the product of the sizes before dim, V = the size
// at dim, I = the product after it (index_select / index_add walk their operands so).
struct Around {
  int64_t outer = 1, at = 1, inner = 1;
};
Around around(const Shape& shape, int64_t dim);

}  // namespace tg
