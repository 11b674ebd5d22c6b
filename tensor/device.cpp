// device.cpp — device names and the "can I have this device?" checks.
//
// When the build has no CUDA backend (TG_HAVE_CUDA undefined) the CUDA entry points are stubs
// that throw (cuda/stubs.cpp); otherwise they live in cuda/*.cu.
#include <stdexcept>
#include <string>

#include "tensor/device.h"

namespace tg {

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::CPU;
  if (name == "cuda") return Device::CUDA;
  throw std::invalid_argument("unknown device '" + name + "' (expected cpu or cuda)");
}

#ifdef TG_HAVE_CUDA
bool cuda_built() { return true; }
#else
bool cuda_built() { return false; }
#endif

void require_device(Device d, const char* op) {
  if (d == Device::CPU) return;
  if (!cuda_built()) {
    throw std::runtime_error(std::string(op) +
                             ": tgmm was built without CUDA (configure with nvcc on the PATH and "
                             "-DTG_WITH_CUDA=ON)");
  }
  if (!cuda_available()) {
    throw std::runtime_error(std::string(op) + ": no CUDA device is available on this machine");
  }
}

}  // namespace tg
