// The TorchScript embedder (LibTorch, CPU). The only file that includes <torch/script.h>, which takes most of a
// minute to compile. Any traced or scripted model mapping N x 3 x H x W floats in [0, 1] to N x D works.
#include <torch/script.h>

#include <ATen/Parallel.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "vidkompy/temporal.hpp"

namespace vidkompy {
namespace {

class TorchScriptEmbedder final : public Embedder {
 public:
  TorchScriptEmbedder(const std::string& path, int threads) : path_(path) {
    if (threads > 0) at::set_num_threads(threads);
    module_ = torch::jit::load(path, torch::kCPU);
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

 private:
  int run(const float* pictures, int n, std::vector<float>& out) {
    torch::InferenceMode guard;
    at::Tensor in = torch::from_blob(const_cast<float*>(pictures), {n, 3, kEmbedInput, kEmbedInput}, torch::kFloat);
    at::Tensor y = module_.forward({in}).toTensor().to(torch::kFloat).reshape({n, -1});
    // L2-normalise here too, so that any model can be plugged in.
    y = y / (y.norm(2, 1, true) + 1e-8);
    y = y.contiguous();
    out.assign(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
    return int(y.size(1));
  }

  std::string path_;
  torch::jit::script::Module module_;
  int dim_ = 0;
};

}  // namespace

std::unique_ptr<Embedder> load_torchscript_embedder(const std::string& path, int threads) {
  try {
    return std::make_unique<TorchScriptEmbedder>(path, threads);
  } catch (const c10::Error& e) {
    throw std::runtime_error(e.what_without_backtrace());
  }
}

std::string default_model_path() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> places;
  if (!ec) {
    places.push_back(exe.parent_path() / "models" / "vidkompy-embedder.pt");
    places.push_back(exe.parent_path().parent_path() / "share" / "vidkompy" / "vidkompy-embedder.pt");
  }
#ifdef VIDKOMPY_MODEL_DIR
  places.push_back(fs::path(VIDKOMPY_MODEL_DIR) / "vidkompy-embedder.pt");
#endif
  for (const fs::path& p : places)
    if (fs::is_regular_file(p, ec)) return p.string();
  return {};
}

}  // namespace vidkompy
