// device.h — where a Tensor's storage lives.
//
// CPU is the reference backend. CUDA is compiled only when nvcc is found (TG_HAVE_CUDA); without
// it every CUDA entry point throws "built without CUDA", and with it asking for CUDA on a
// machine without a GPU throws "no CUDA device". Each op dispatches once, on the device.
#pragma once
#include <string>

namespace tg {

enum class Device { CPU, CUDA };

inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// Parse "cpu" / "cuda"; throws std::invalid_argument otherwise.
Device parse_device(const std::string& name);

// True when this build contains the CUDA backend.
bool cuda_built();
// True when the CUDA backend is built and at least one GPU is visible.
bool cuda_available();
// Throws a clear error when `op` asks for CUDA and it cannot be had (not built, or no GPU).
void require_device(Device d, const char* op);
// Wait until every queued GPU kernel and copy has finished (for timings and tests); a no-op
// without a GPU. Ops never need it: a copy to the host waits for the work it depends on.
void cuda_synchronize();

}  // namespace tg
