// stubs.cpp — the CUDA entry points in a build without CUDA (TG_HAVE_CUDA undefined).
//
// Compiled only then (see tensor/CMakeLists.txt), in the order of kernels.h. They exist so that
// the dispatch in tensor/*.cpp links; none can be reached, since no CUDA tensor can be created in
// such a build (Tensor's constructor calls require_device), but each throws the same clear error if
// it were.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "tensor/kernels.h"
#include "tensor/storage.h"

namespace tg {

namespace {
[[noreturn]] void no_cuda(const char* what) {
  throw std::runtime_error(std::string(what) + ": tgmm was built without CUDA");
}
}  // namespace

bool cuda_available() { return false; }
void cuda_synchronize() {}
void* cuda_malloc(int64_t) { no_cuda("cuda_malloc"); }
void cuda_free(void*, int64_t) {}
void cuda_copy(void*, const void*, int64_t, Device, Device) { no_cuda("cuda_copy"); }
AllocatorStats cuda_allocator_stats() { return {}; }
void cuda_allocator_release_cache() {}

namespace cuda {

void unary(UnaryOp op, const Tensor&, Tensor&) { no_cuda(unary_op_name(op)); }
void binary(BinaryOp op, const Tensor&, const Tensor&, Tensor&) { no_cuda(binary_op_name(op)); }
void affine(const Tensor&, double, double, Tensor&) { no_cuda("affine"); }
void pow_scalar(const Tensor&, double, Tensor&) { no_cuda("pow_scalar"); }
void clamp(const Tensor&, double, double, Tensor&) { no_cuda("clamp"); }
void add_inplace(Tensor&, const Tensor&, double) { no_cuda("add_"); }
void mul_inplace(Tensor&, double) { no_cuda("mul_"); }
void gelu(const Tensor&, Tensor&) { no_cuda("gelu"); }
void gelu_backward(const Tensor&, const Tensor&, Tensor&) { no_cuda("gelu_backward"); }
void softmax(const Tensor&, int64_t, bool, Tensor&) { no_cuda("softmax"); }
void softmax_backward(const Tensor&, const Tensor&, int64_t, bool, Tensor&) {
  no_cuda("softmax_backward");
}
void layer_norm(const Tensor&, const Tensor&, const Tensor&, double, Tensor&, Tensor&, Tensor&) {
  no_cuda("layer_norm");
}
void layer_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                         Tensor&, Tensor&, Tensor&) {
  no_cuda("layer_norm_backward");
}
void matmul(const Tensor&, const Tensor&, Tensor&) { no_cuda("matmul"); }
void where(const Tensor&, const Tensor&, const Tensor&, Tensor&) { no_cuda("where"); }
void gather(const Tensor&, int64_t, const Tensor&, Tensor&) { no_cuda("gather"); }
void scatter_add(Tensor&, int64_t, const Tensor&, const Tensor&) { no_cuda("scatter_add"); }
void index_select(const Tensor&, int64_t, const Tensor&, Tensor&) { no_cuda("index_select"); }
void index_add(Tensor&, int64_t, const Tensor&, const Tensor&) { no_cuda("index_add"); }
void adamw_step(Tensor&, const Tensor&, Tensor&, Tensor&, const AdamWScalars&) {
  no_cuda("adamw_step_");
}
void copy(const Tensor&, Tensor&) { no_cuda("copy"); }
void fill(Tensor&, double) { no_cuda("fill"); }
void reduce_rows(ReduceOp, const Tensor&, int64_t, Tensor&) { no_cuda("reduce"); }
void reduce_columns(ReduceOp, const Tensor&, int64_t, Tensor&) { no_cuda("reduce"); }
void argmax_rows(const Tensor&, int64_t, Tensor&) { no_cuda("argmax"); }

}  // namespace cuda
}  // namespace tg
