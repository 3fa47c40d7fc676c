// The GPU backends' seam. The cuFFT backend lives in a plugin, libvidkompy_cufft.so, loaded with dlopen when a
// device is present: linked into the executable, libcufft.so would be a NEEDED library, and the one binary
// could not start on machines without CUDA (CI, most users' laptops).
#include "vidkompy/gpu.hpp"

#include <thread>

#include "torch_plugin.hpp"
#include "vidkompy/options.hpp"
#include "vidkompy/spatial.hpp"

namespace vidkompy {

bool use_gpu(const Context& ctx) { return ctx.opt.gpu != "off" && cuda_device_count() > 0; }

// The 1080p benchmark pair on the H200 machine (16 threads): NVDEC 380 frames/s with the copy back, software
// 960 (60 a thread), so the crossover is about six threads.
bool use_nvdec(const Context& ctx) {
  return use_gpu(ctx) && (ctx.opt.gpu == "on" || std::thread::hardware_concurrency() < kNvdecBelowThreads);
}

#ifndef VIDKOMPY_WITH_CUDA
int cuda_device_count() { return 0; }

std::unique_ptr<Fft2d> make_gpu_fft(std::string& why) {
  why = "this build has no CUDA support";
  return nullptr;
}
#else
namespace {

constexpr const char* kCufftPlugin = "libvidkompy_cufft.so";
using NewFft = Fft2d* (*)(char* why, int why_size);

struct CufftPlugin {
  NewFft make = nullptr;
  std::string error;
};

const CufftPlugin& cufft_plugin() {
  static const CufftPlugin plugin = [] {
    CufftPlugin p;
    p.make = reinterpret_cast<NewFft>(plugin_entry(kCufftPlugin, "vidkompy_cufft_new", p.error));
    return p;
  }();
  return plugin;
}

}  // namespace

std::unique_ptr<Fft2d> make_gpu_fft(std::string& why) {
  if (cuda_device_count() == 0) return why = "no CUDA device", nullptr;
  const CufftPlugin& p = cufft_plugin();
  if (!p.make) return why = p.error, nullptr;
  char buffer[256] = {};
  std::unique_ptr<Fft2d> fft(p.make(buffer, int(sizeof buffer)));
  if (!fft) why = buffer;
  return fft;
}
#endif

}  // namespace vidkompy
