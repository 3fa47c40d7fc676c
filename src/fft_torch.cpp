// The CPU FFT backend: phase correlation with LibTorch's torch::fft (pocketfft), batched over references.
// Built into the LibTorch plugin (torch_plugin.cpp); ATen headers only: they compile in seconds, not a minute.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstring>

#include "vidkompy/spatial.hpp"

namespace vidkompy {
namespace {

class TorchFft final : public Fft2d {
 public:
  void set_references(const std::vector<std::vector<float>>& refs, int h, int w) override {
    h_ = h;
    w_ = w;
    at::Tensor batch = at::empty({int64_t(refs.size()), h, w}, at::kFloat);
    for (size_t r = 0; r < refs.size(); ++r)
      std::memcpy(batch[int64_t(r)].data_ptr<float>(), refs[r].data(), sizeof(float) * size_t(h) * w);
    spectra_ = at::fft_rfft2(batch);
  }

  void phase_correlate(const std::vector<float>& templ, std::vector<std::vector<float>>& surfaces) override {
    at::Tensor t = at::from_blob(const_cast<float*>(templ.data()), {h_, w_}, at::kFloat);
    at::Tensor cross = spectra_ * at::fft_rfft2(t).conj();
    // Normalise to unit magnitude (pure phase); the small floor keeps empty bins from dividing by zero.
    at::Tensor mag = cross.abs();
    mag.add_(mag.mean().item<float>() * 1e-4f + 1e-12f);
    cross.div_(mag);
    at::Tensor surf = at::fft_irfft2(cross, at::IntArrayRef{h_, w_}).contiguous();
    const int64_t n = surf.size(0);
    surfaces.resize(size_t(n));
    const float* p = surf.data_ptr<float>();
    for (int64_t r = 0; r < n; ++r) surfaces[size_t(r)].assign(p + r * h_ * w_, p + (r + 1) * h_ * w_);
  }

 private:
  int64_t h_ = 0, w_ = 0;
  at::Tensor spectra_;
};

}  // namespace

std::unique_ptr<Fft2d> make_torch_fft() { return std::make_unique<TorchFft>(); }

}  // namespace vidkompy
