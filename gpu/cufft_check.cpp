// Device check for the cuFFT backend, without FFmpeg or LibTorch: loads libvidkompy_cufft.so as the product
// does, compares its phase-correlation surfaces with a direct DFT in double precision (the CPU backend's formula:
// cross-power spectrum over its magnitude plus 1e-4 of the mean magnitude, inverse scaled by 1/(h w)), checks
// the peak at a 1080p canvas, and times one 1080p correlation and the 32-thumbnail coarse batch.
// Usage: cufft_check [PLUGIN]  (default: libvidkompy_cufft.so beside this binary). Exit 0 when all checks pass.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "plugin_entry.hpp"
#include "vidkompy/spatial.hpp"

using vidkompy::Fft2d;
using cd = std::complex<double>;

namespace {

// 2D DFT (sign -1) or inverse without scaling (sign +1), row-major h x w, by rows then columns.
std::vector<cd> dft2(const std::vector<cd>& in, int h, int w, int sign) {
  std::vector<cd> tmp(in.size()), out(in.size());
  const double pi = std::acos(-1.0);
  for (int y = 0; y < h; ++y)
    for (int k = 0; k < w; ++k) {
      cd s = 0;
      for (int x = 0; x < w; ++x) s += in[size_t(y) * w + x] * std::polar(1.0, sign * 2 * pi * double(k) * x / w);
      tmp[size_t(y) * w + k] = s;
    }
  for (int x = 0; x < w; ++x)
    for (int k = 0; k < h; ++k) {
      cd s = 0;
      for (int y = 0; y < h; ++y) s += tmp[size_t(y) * w + x] * std::polar(1.0, sign * 2 * pi * double(k) * y / h);
      out[size_t(k) * w + x] = s;
    }
  return out;
}

std::vector<std::vector<float>> reference(const std::vector<std::vector<float>>& refs, const std::vector<float>& t,
                                          int h, int w) {
  auto to_c = [](const std::vector<float>& v) { return std::vector<cd>(v.begin(), v.end()); };
  const std::vector<cd> T = dft2(to_c(t), h, w, -1);
  std::vector<std::vector<cd>> cross;
  double sum = 0, count = 0;
  for (const auto& r : refs) {
    const std::vector<cd> R = dft2(to_c(r), h, w, -1);
    cross.emplace_back(R.size());
    for (size_t i = 0; i < R.size(); ++i) cross.back()[i] = R[i] * std::conj(T[i]);
    // The mean is over the half spectrum an R2C transform keeps: columns 0..w/2.
    for (int y = 0; y < h; ++y)
      for (int x = 0; x <= w / 2; ++x) sum += std::abs(cross.back()[size_t(y) * w + x]), ++count;
  }
  const double floor = sum / count * 1e-4 + 1e-12;
  std::vector<std::vector<float>> out;
  for (auto& c : cross) {
    for (cd& v : c) v /= std::abs(v) + floor;
    const std::vector<cd> s = dft2(c, h, w, +1);
    out.emplace_back(s.size());
    for (size_t i = 0; i < s.size(); ++i) out.back()[i] = float(s[i].real() / (double(h) * w));
  }
  return out;
}

size_t argmax(const std::vector<float>& v) { return size_t(std::max_element(v.begin(), v.end()) - v.begin()); }

// A reference of random values and a template cut from reference `from` at (x, y), size tw x th, zero-padded.
void make_case(int h, int w, int n, int from, int x, int y, int tw, int th, unsigned seed,
               std::vector<std::vector<float>>& refs, std::vector<float>& templ) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  refs.assign(size_t(n), std::vector<float>(size_t(w) * h));
  for (auto& r : refs)
    for (float& v : r) v = u(rng);
  templ.assign(size_t(w) * h, 0.0f);
  for (int j = 0; j < th; ++j)
    for (int i = 0; i < tw; ++i) templ[size_t(j) * w + i] = refs[size_t(from)][size_t(j + y) * w + i + x];
}

double median_ms(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  using NewFft = Fft2d* (*)(char*, int);
  auto make = reinterpret_cast<NewFft>(check_plugin_entry(argc, argv, "libvidkompy_cufft.so", "vidkompy_cufft_new"));
  if (!make) return 2;
  char why[256] = {};
  std::unique_ptr<Fft2d> fft(make(why, int(sizeof why)));
  if (!fft) return std::fprintf(stderr, "no cuFFT backend: %s\n", why), 2;

  int failures = 0;
  // 1. Surfaces against the direct DFT on small, odd-sized canvases (2-3-5 smooth and not), batches of 1 and 3.
  struct Small {
    int h, w, n, from, x, y, tw, th;
  };
  for (const Small& c : {Small{48, 60, 3, 1, 7, 5, 30, 20}, Small{45, 75, 1, 0, 0, 0, 75, 45},
                         Small{36, 50, 2, 1, 19, 11, 24, 17}, Small{37, 41, 3, 2, 3, 9, 20, 20}}) {
    std::vector<std::vector<float>> refs, got;
    std::vector<float> templ;
    make_case(c.h, c.w, c.n, c.from, c.x, c.y, c.tw, c.th, unsigned(c.h * 100 + c.w), refs, templ);
    fft->set_references(refs, c.h, c.w);
    fft->phase_correlate(templ, got);
    const auto want = reference(refs, templ, c.h, c.w);
    float diff = 0, peak = 0;
    for (size_t r = 0; r < want.size(); ++r)
      for (size_t i = 0; i < want[r].size(); ++i)
        diff = std::max(diff, std::abs(want[r][i] - got[r][i])), peak = std::max(peak, std::abs(want[r][i]));
    const bool at = argmax(got[size_t(c.from)]) == size_t(c.y) * c.w + c.x;
    const bool ok = got.size() == want.size() && diff <= 1e-4f * std::max(peak, 1e-6f) + 1e-6f && at;
    failures += !ok;
    std::printf("%s surfaces %dx%d x%d: max |cuFFT - DFT| %.3g (peak %.3g), peak at the template's offset: %s\n",
                ok ? "ok  " : "FAIL", c.w, c.h, c.n, double(diff), double(peak), at ? "yes" : "no");
  }

  // 2. 1080p: peak position, then time one correlation (one reference, as BM_PhaseCorrelate1080p).
  {
    const int w = 1920, h = 1080;
    std::vector<std::vector<float>> refs, got;
    std::vector<float> templ;
    make_case(h, w, 1, 0, 200, 100, 1280, 720, 1, refs, templ);
    fft->set_references(refs, h, w);
    fft->phase_correlate(templ, got);
    const bool ok = argmax(got[0]) == size_t(100) * w + 200;
    failures += !ok;
    std::vector<double> ms;
    for (int i = 0; i < 50; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      fft->phase_correlate(templ, got);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("%s 1920x1080 canvas: peak at (200, 100): %s; one correlation, median of 50: %.3f ms (host "
                "copies included)\n", ok ? "ok  " : "FAIL", ok ? "yes" : "no", median_ms(ms));
  }
  // 3. The coarse batch: 32 references of 128x72.
  {
    std::vector<std::vector<float>> refs, got;
    std::vector<float> templ;
    make_case(72, 128, 32, 5, 10, 6, 64, 40, 2, refs, templ);
    fft->set_references(refs, 72, 128);
    std::vector<double> ms;
    for (int i = 0; i < 50; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      fft->phase_correlate(templ, got);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    const bool ok = argmax(got[5]) == size_t(6) * 128 + 10;
    failures += !ok;
    std::printf("%s coarse batch 32 x 128x72: peak right: %s; median of 50: %.3f ms\n", ok ? "ok  " : "FAIL",
                ok ? "yes" : "no", median_ms(ms));
  }
  std::printf("%s\n", failures ? "cufft_check: FAILED" : "cufft_check: all checks passed");
  return failures ? 1 : 0;
}
