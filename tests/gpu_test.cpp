// The GPU backends against the CPU ones (issue #7): cuFFT must give the surfaces and placements torch::fft gives.
// Without a CUDA device or the cuFFT plugin the comparisons skip (GTEST_SKIP); what runs everywhere checks that
// the GPU path is then refused with a reason, so the spatial stage falls back to the CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include "synth.hpp"
#include "vidkompy/gpu.hpp"
#include "vidkompy/options.hpp"
#include "vidkompy/spatial.hpp"
#include "vidkompy/temporal.hpp"

using namespace vidkompy;

namespace {

std::unique_ptr<Fft2d> gpu_or_skip_reason(std::string& why) { return make_gpu_fft(why); }

size_t argmax(const std::vector<float>& v) { return size_t(std::max_element(v.begin(), v.end()) - v.begin()); }

}  // namespace

TEST(CudaFft, WithoutADeviceThereIsNoBackend) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  std::string why;
  EXPECT_EQ(make_gpu_fft(why), nullptr);
  EXPECT_FALSE(why.empty());
}

TEST(CudaFft, SameSurfacesAsTorchAt1080p) {
  std::string why;
  std::unique_ptr<Fft2d> gpu = gpu_or_skip_reason(why);
  if (!gpu) GTEST_SKIP() << "no cuFFT backend: " << why;
  const int w = fft_size(1920), h = fft_size(1080);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<std::vector<float>> refs(3, std::vector<float>(size_t(w) * h));
  for (auto& r : refs)
    for (float& v : r) v = u(rng);
  // The template is reference 1's 1280x720 patch at (200, 100), zero-padded.
  std::vector<float> templ(size_t(w) * h, 0.0f);
  for (int y = 0; y < 720; ++y)
    for (int x = 0; x < 1280; ++x) templ[size_t(y) * w + x] = refs[1][size_t(y + 100) * w + x + 200];
  auto cpu = make_cpu_fft();
  std::vector<std::vector<float>> a, b;
  cpu->set_references(refs, h, w);
  cpu->phase_correlate(templ, a);
  gpu->set_references(refs, h, w);
  gpu->phase_correlate(templ, b);
  ASSERT_EQ(a.size(), b.size());
  for (size_t r = 0; r < a.size(); ++r) {
    ASSERT_EQ(a[r].size(), b[r].size());
    float peak = 0, diff = 0;
    for (size_t i = 0; i < a[r].size(); ++i) peak = std::max(peak, std::abs(a[r][i])), diff = std::max(diff, std::abs(a[r][i] - b[r][i]));
    EXPECT_LT(diff, 1e-3f * peak) << "reference " << r;
    EXPECT_EQ(argmax(a[r]), argmax(b[r])) << "reference " << r;
  }
  EXPECT_EQ(argmax(b[1]), size_t(100) * w + 200);
  // A second template of another reference on the same plans.
  for (int y = 0; y < 720; ++y)
    for (int x = 0; x < 1280; ++x) templ[size_t(y) * w + x] = refs[2][size_t(y + 7) * w + x + 31];
  gpu->phase_correlate(templ, b);
  EXPECT_EQ(argmax(b[2]), size_t(7) * w + 31);
}

TEST(CudaFft, SamePlacementAsTheCpu) {
  std::string why;
  std::unique_ptr<Fft2d> gpu = gpu_or_skip_reason(why);
  if (!gpu) GTEST_SKIP() << "no cuFFT backend: " << why;
  const int W = 640, H = 360;
  std::vector<Gray> frames, thumbs;
  for (unsigned i = 0; i < 12; ++i) {
    frames.push_back(vt::texture(W, H, 300 + i));
    thumbs.push_back(resize_gray(frames.back(), 128, 72));
  }
  SpatialInput in;
  in.bg_w = W, in.bg_h = H;
  for (size_t i : {2, 6, 9}) in.fg.push_back(vt::crop(frames[i], 101, 57, 320, 180));
  in.bg_thumbs = thumbs;
  in.bg_frames = [&](size_t first, size_t count) {
    const size_t last = std::min(frames.size(), first + count);
    return std::vector<Gray>(frames.begin() + long(first), frames.begin() + long(last));
  };
  auto cpu = make_cpu_fft();
  const SpatialResult a = find_placement(in, *cpu), b = find_placement(in, *gpu);
  EXPECT_NEAR(a.placement.x, 101, 0.5);
  EXPECT_NEAR(a.placement.y, 57, 0.5);
  EXPECT_NEAR(b.placement.x, a.placement.x, 1e-3);
  EXPECT_NEAR(b.placement.y, a.placement.y, 1e-3);
  EXPECT_NEAR(b.placement.scale, a.placement.scale, 1e-6);
}

// gpu=true asks for CUDA; a LibTorch without it (Debian's) or a machine without a device runs on the CPU, with
// the same embeddings.
TEST(CudaEmbedder, RunsOnTheCpuWithoutCuda) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present (scripts/gpu_check.sh compares there)";
  const auto cpu = load_torchscript_embedder(VIDKOMPY_TEST_MODEL, 1, false);
  const auto gpu = load_torchscript_embedder(VIDKOMPY_TEST_MODEL, 1, true);
  EXPECT_EQ(gpu->device(), "cpu");
  const size_t pic = size_t(3) * kEmbedInput * kEmbedInput;
  std::vector<float> pictures(4 * pic);
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(0, 1);
  for (float& v : pictures) v = u(rng);
  std::vector<float> a(size_t(4) * cpu->dim()), b(size_t(4) * gpu->dim());
  cpu->embed(pictures.data(), 4, a.data());
  gpu->embed(pictures.data(), 4, b.data());
  EXPECT_EQ(a, b);
}

// NVDEC decodes one frame at a time with a copy back, so `auto` leaves decoding to a CPU of many threads; `on`
// always tries it, `off` never does, and without a device nothing does.
TEST(Nvdec, AutoOnlyBelowTheThreadCrossover) {
  Context ctx;
  ctx.opt.gpu = "off";
  EXPECT_FALSE(use_nvdec(ctx));
  const bool device = cuda_device_count() > 0;
  ctx.opt.gpu = "on";
  EXPECT_EQ(use_nvdec(ctx), device);
  ctx.opt.gpu = "auto";
  EXPECT_EQ(use_nvdec(ctx), device && std::thread::hardware_concurrency() < kNvdecBelowThreads);
}
