// GPU detection for --gpu auto|on|off, and the GPU backends. Builds without CUDA report no device.
#pragma once
#include <memory>
#include <string>

namespace vidkompy {

class Fft2d;
struct Context;

// Number of usable CUDA devices; 0 without a driver, a device, or CUDA support in this build.
int cuda_device_count();

// Whether a stage should try its GPU path: --gpu is not off and a device is present. (--gpu on without a device
// has already failed in check_gpu.)
bool use_gpu(const Context& ctx);

// Whether the decode passes should try NVDEC: always with --gpu on; with auto only on a CPU of fewer than
// kNvdecBelowThreads hardware threads, since libavcodec's NVDEC path decodes one frame at a time and copies it
// back to system memory, and many cores decode faster (measured on the H200 machine, docs/gpu.md).
constexpr unsigned kNvdecBelowThreads = 6;
bool use_nvdec(const Context& ctx);

// The cuFFT phase-correlation backend from the plugin libvidkompy_cufft.so (loaded once, on first use), or null
// with `why` set: no CUDA in this build, plugin missing or not loadable (no libcufft), no device.
std::unique_ptr<Fft2d> make_gpu_fft(std::string& why);

}  // namespace vidkompy
