// Synthetic luma pictures for tests and benchmarks: deterministic textures (smoothed random blobs) and crops.
// Header-only and free of GoogleTest, so the benchmarks can include it too.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "vidkompy/video.hpp"

namespace vt {

// A textured frame: smoothed random blobs, deterministic for a seed.
inline vidkompy::Gray texture(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> v(size_t(w) * h, 0.0);
  for (int i = 0; i < 400; ++i) {
    const double cx = u(rng) * w, cy = u(rng) * h, r = 5 + u(rng) * w / 20, a = u(rng) * 2 - 1;
    for (int y = std::max(0, int(cy - 3 * r)); y < std::min(h, int(cy + 3 * r)); ++y)
      for (int x = std::max(0, int(cx - 3 * r)); x < std::min(w, int(cx + 3 * r)); ++x)
        v[size_t(y) * w + x] += a * std::exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * r * r));
  }
  vidkompy::Gray g;
  g.w = w;
  g.h = h;
  g.px.resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) g.px[i] = uint8_t(std::clamp(128 + 60 * v[i], 0.0, 255.0));
  return g;
}

// The w x h rectangle of g with its top-left at (x, y); it must lie inside g.
inline vidkompy::Gray crop(const vidkompy::Gray& g, int x, int y, int w, int h) {
  vidkompy::Gray c;
  c.w = w;
  c.h = h;
  c.px.reserve(size_t(w) * h);
  for (int r = 0; r < h; ++r)
    c.px.insert(c.px.end(), g.px.begin() + long(size_t(y + r) * g.w + x), g.px.begin() + long(size_t(y + r) * g.w + x + w));
  return c;
}

}  // namespace vt
