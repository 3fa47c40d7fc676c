// Device check for CUDA embeddings, without FFmpeg: loads the LibTorch plugin built against a CUDA LibTorch,
// runs the bundled model on the CPU and with gpu=true, checks that the second runs on CUDA and gives the same
// embeddings, and measures frames per second at batches of 32 (what the temporal stage sends) and 256.
// Usage: embed_check [PLUGIN [MODEL]]. Exit 0 when all checks pass.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "plugin_entry.hpp"
#include "torch_plugin.hpp"
#include "vidkompy/temporal.hpp"

using namespace vidkompy;

int main(int argc, char** argv) {
  const std::string model = argc > 2 ? argv[2] : VIDKOMPY_MODEL;
  auto entry = reinterpret_cast<const TorchPlugin* (*)()>(
      check_plugin_entry(argc, argv, "libvidkompy_torch.so", "vidkompy_torch_plugin"));
  if (!entry) return 2;
  const TorchPlugin* api = entry();
  int failures = 0;
  try {
    auto cpu = api->load_embedder(model, 0, false);
    auto gpu = api->load_embedder(model, 0, true);
    std::printf("model %s: %d-d; gpu=true runs on %s\n", model.c_str(), gpu->dim(), gpu->device().c_str());
    if (gpu->device() != "cuda") return std::fprintf(stderr, "embed_check: no CUDA device for LibTorch\n"), 2;
    const size_t pic = size_t(3) * kEmbedInput * kEmbedInput;
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0, 1);
    std::vector<float> batch(256 * pic);
    for (float& v : batch) v = u(rng);
    std::vector<float> a(size_t(256) * gpu->dim()), b(a.size());
    cpu->embed(batch.data(), 256, a.data());
    gpu->embed(batch.data(), 256, b.data());
    float diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::abs(a[i] - b[i]));
    const bool same = diff < 1e-3f;
    failures += !same;
    std::printf("%s CPU and CUDA embeddings of 256 pictures: max difference %.3g\n", same ? "ok  " : "FAIL", double(diff));
    for (int n : {32, 256}) {
      const int total = 8192;
      const auto t0 = std::chrono::steady_clock::now();
      for (int done = 0; done < total; done += n) gpu->embed(batch.data(), n, b.data());
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("     CUDA, batches of %d: %.0f frames/s (%d frames, host copies included)\n", n, total / s, total);
    }
    {
      const int total = 512;
      const auto t0 = std::chrono::steady_clock::now();
      for (int done = 0; done < total; done += 32) cpu->embed(batch.data(), 32, a.data());
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("     CPU (all cores), batches of 32: %.0f frames/s\n", total / s);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "embed_check: %s\n", e.what());
    return 1;
  }
  std::printf("%s\n", failures ? "embed_check: FAILED" : "embed_check: all checks passed");
  return failures ? 1 : 0;
}
