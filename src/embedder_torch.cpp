// The TorchScript embedder (LibTorch: CPU, or CUDA when this LibTorch has it and a device) and the entry point
// of the LibTorch plugin. The only file that includes <torch/script.h>, which takes most of a minute to compile.
// Any traced or scripted model mapping N x 3 x H x W floats in [0, 1] to N x D works.
#include <torch/cuda.h>
#include <torch/script.h>

#include <ATen/Parallel.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "torch_plugin.hpp"
#include "vidkompy/spatial.hpp"
#include "vidkompy/temporal.hpp"

namespace vidkompy {

std::unique_ptr<Fft2d> make_torch_fft();  // fft_torch.cpp

namespace {

class TorchScriptEmbedder final : public Embedder {
 public:
  TorchScriptEmbedder(const std::string& path, int threads, bool gpu) : path_(path) {
    if (threads > 0) at::set_num_threads(threads);
    if (gpu && torch::cuda::is_available()) device_ = torch::kCUDA;
    module_ = torch::jit::load(path, device_);
    module_.eval();
    // Find the output size, and warm up: the profiling executor makes the first calls slow.
    std::vector<float> probe(size_t(2) * 3 * kEmbedInput * kEmbedInput, 0.5f);
    std::vector<float> out;
    for (int i = 0; i < 2; ++i) dim_ = run(probe.data(), 2, out);
  }

  void embed(const float* pictures, int n, float* out) override {
    std::vector<float> buf;
    const int d = run(pictures, n, buf);
    if (d != dim_) throw std::runtime_error("model output size changed");
    std::memcpy(out, buf.data(), sizeof(float) * size_t(n) * d);
  }
  int dim() const override { return dim_; }
  std::string name() const override { return std::filesystem::path(path_).filename().string(); }
  std::string device() const override { return device_.is_cuda() ? "cuda" : "cpu"; }

 private:
  int run(const float* pictures, int n, std::vector<float>& out) {
    torch::InferenceMode guard;
    at::Tensor in = torch::from_blob(const_cast<float*>(pictures), {n, 3, kEmbedInput, kEmbedInput}, torch::kFloat);
    if (device_.is_cuda()) {
      // Through a pinned staging tensor, reused across batches: the copy to the device then runs asynchronously.
      if (!pinned_.defined() || pinned_.size(0) < n)
        pinned_ = at::empty({n, 3, kEmbedInput, kEmbedInput}, at::TensorOptions().dtype(at::kFloat).pinned_memory(true));
      at::Tensor staged = pinned_.narrow(0, 0, n);
      staged.copy_(in);
      in = staged.to(device_, /*non_blocking=*/true);
    }
    at::Tensor y = module_.forward({in}).toTensor().to(torch::kFloat).reshape({n, -1});
    // L2-normalise here too, so that any model can be plugged in.
    y = y / (y.norm(2, 1, true) + 1e-8);
    y = y.to(torch::kCPU).contiguous();
    out.assign(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
    return int(y.size(1));
  }

  std::string path_;
  torch::jit::script::Module module_;
  torch::Device device_ = torch::kCPU;
  at::Tensor pinned_;
  int dim_ = 0;
};

std::unique_ptr<Embedder> load_torch_embedder(const std::string& path, int threads, bool gpu) {
  try {
    return std::make_unique<TorchScriptEmbedder>(path, threads, gpu);
  } catch (const c10::Error& e) {
    throw std::runtime_error(e.what_without_backtrace());
  }
}

}  // namespace

}  // namespace vidkompy

// The plugin's one entry point (see torch_plugin.cpp).
extern "C" __attribute__((visibility("default"))) const vidkompy::TorchPlugin* vidkompy_torch_plugin() {
  static const vidkompy::TorchPlugin api{vidkompy::make_torch_fft, vidkompy::load_torch_embedder};
  return &api;
}
