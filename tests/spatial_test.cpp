// Spatial alignment with known truth: fft_size, NCC, phase correlation and find_placement on synthetic frames
// (crops, rescales, noise), then the CLI (--align-only --json -) on ffmpeg crops and rescales of lavfi sources.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "synth.hpp"
#include "testutil.hpp"
#include "vidkompy/options.hpp"
#include "vidkompy/spatial.hpp"
#include "vidkompy/video.hpp"

using vidkompy::Gray;
using vidkompy::GrayF;
using vidkompy::SpatialInput;
using vidkompy::SpatialResult;
using vt::crop;
using vt::quote;
using vt::texture;

namespace {

// ---------------------------------------------------------------- helpers

bool only_235(int m) {
  for (int p : {2, 3, 5})
    while (m % p == 0) m /= p;
  return m == 1;
}

// Gray as floats in [0, 1], without summed-area tables (callers build them when they want them).
GrayF to_f(const Gray& g) {
  GrayF f;
  f.w = g.w;
  f.h = g.h;
  for (uint8_t v : g.px) f.px.push_back(v / 255.0f);
  return f;
}

GrayF random_f(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  GrayF f;
  f.w = w;
  f.h = h;
  f.px.resize(size_t(w) * h);
  for (float& v : f.px) v = u(rng);
  return f;
}

GrayF crop_f(const GrayF& g, int x, int y, int w, int h) {
  GrayF c;
  c.w = w;
  c.h = h;
  for (int r = 0; r < h; ++r)
    for (int q = 0; q < w; ++q) c.px.push_back(g.at(x + q, y + r));
  return c;
}

Gray uniform(int w, int h, uint8_t v) {
  Gray g;
  g.w = w;
  g.h = h;
  g.px.assign(size_t(w) * h, v);
  return g;
}

Gray resized(const Gray& g, double f) {
  return vidkompy::resize_gray(g, int(std::lround(g.w * f)), int(std::lround(g.h * f)));
}

// Adds roughly Gaussian noise (sigma 5, clipped to +-10) and a brightness offset, saturating at 0 and 255.
Gray disturbed(const Gray& g, double noise, double brightness, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> n(0, noise / 2);
  Gray o = g;
  for (uint8_t& v : o.px) {
    const double d = noise > 0 ? std::clamp(n(rng), -noise, noise) : 0.0;
    v = uint8_t(std::clamp(std::lround(v + d + brightness), 0L, 255L));
  }
  return o;
}

// Tukey window: 1 in the middle, cosine tapers over the outer eighth at each end.
std::vector<float> taper(int n, bool on) {
  std::vector<float> w(size_t(n), 1.0f);
  const int t = on ? n / 8 : 0;
  for (int i = 0; i < t; ++i) w[size_t(i)] = w[size_t(n - 1 - i)] = float(0.5 * (1 - std::cos(M_PI * (i + 0.5) / t)));
  return w;
}

// Mean-subtracted (and optionally tapered) copy of img at the top-left of a cw x ch zero canvas.
std::vector<float> padded(const GrayF& img, int cw, int ch, bool window = false) {
  double mean = 0;
  for (float v : img.px) mean += v;
  mean /= double(img.px.size());
  const std::vector<float> wx = taper(img.w, window), wy = taper(img.h, window);
  std::vector<float> out(size_t(cw) * ch, 0.0f);
  for (int y = 0; y < img.h; ++y)
    for (int x = 0; x < img.w; ++x) out[size_t(y) * cw + x] = float((img.at(x, y) - mean) * wx[x] * wy[y]);
  return out;
}

std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += "  " + l + "\n";
  return s;
}

// ---------------------------------------------------------------- fft_size

TEST(FftSize, KnownValues) {
  EXPECT_EQ(vidkompy::fft_size(1080), 1080);
  EXPECT_EQ(vidkompy::fft_size(1920), 1920);
  EXPECT_EQ(vidkompy::fft_size(97), 100);
  EXPECT_EQ(vidkompy::fft_size(1), 1);
  EXPECT_EQ(vidkompy::fft_size(7), 8);
  EXPECT_EQ(vidkompy::fft_size(121), 125);
  EXPECT_EQ(vidkompy::fft_size(1081), 1125);
}

TEST(FftSize, SmallestSmoothSizeAtLeastN) {
  for (int n = 1; n <= 5000; ++n) {
    const int m = vidkompy::fft_size(n);
    ASSERT_GE(m, n);
    ASSERT_TRUE(only_235(m)) << n << " -> " << m;
    for (int k = n; k < m; ++k) ASSERT_FALSE(only_235(k)) << n << " -> " << m << " skips " << k;
  }
}

// ---------------------------------------------------------------- ncc_at

TEST(Ncc, IdenticalIsOneNegatedIsMinusOne) {
  const GrayF b = to_f(texture(120, 90, 3));
  const GrayF t = crop_f(b, 31, 17, 50, 40);
  EXPECT_NEAR(vidkompy::ncc_at(t, b, 31, 17), 1.0, 1e-5);
  GrayF neg = t;
  for (float& v : neg.px) v = 1.0f - v;  // 255 - x on the 0..1 scale
  EXPECT_NEAR(vidkompy::ncc_at(neg, b, 31, 17), -1.0, 1e-5);
  // An affine change of brightness and contrast does not change NCC.
  GrayF aff = t;
  for (float& v : aff.px) v = 0.1f + 0.5f * v;
  EXPECT_NEAR(vidkompy::ncc_at(aff, b, 31, 17), 1.0, 1e-5);
  // Elsewhere it is clearly lower.
  EXPECT_LT(vidkompy::ncc_at(t, b, 45, 30), 0.9);
}

TEST(Ncc, FlatSideGivesZero) {
  const GrayF b = to_f(texture(120, 90, 4));
  const GrayF flat_t = to_f(uniform(50, 40, 77));
  const double v1 = vidkompy::ncc_at(flat_t, b, 10, 10);
  EXPECT_TRUE(std::isfinite(v1));
  EXPECT_EQ(v1, 0.0);
  // A textured template over a uniform region of b.
  GrayF b2 = to_f(texture(120, 90, 5));
  for (int y = 20; y < 60; ++y)
    for (int x = 30; x < 80; ++x) b2.px[size_t(y) * b2.w + x] = 0.25f;
  const GrayF t = crop_f(b, 0, 0, 50, 40);
  const double v2 = vidkompy::ncc_at(t, b2, 30, 20);
  EXPECT_TRUE(std::isfinite(v2));
  EXPECT_EQ(v2, 0.0);
  // The same with summed-area tables.
  GrayF ft = flat_t, bb = b2;
  ft.build_sums();
  bb.build_sums();
  GrayF tt = t;
  tt.build_sums();
  EXPECT_EQ(vidkompy::ncc_at(ft, bb, 10, 10), 0.0);
  EXPECT_EQ(vidkompy::ncc_at(tt, bb, 30, 20), 0.0);
}

// The sum of squared deviations from the mean.
double spread(const GrayF& g) {
  double s = 0, ss = 0;
  for (float v : g.px) s += v, ss += double(v) * v;
  return ss - s * s / double(g.px.size());
}

TEST(Ncc, OverlapUnderHalfIsMinusOne) {
  // t is the 40x40 square of `big` at (0, 20); b is `big` from (20, 20) on. Placed at (-20, 0), t's right half
  // lies on b's left edge with identical content: exactly half overlaps, NCC 1 (with `cover`, the half over the
  // edge counts as matching nothing: the square root of the inside half's share of t's variance). One pixel
  // further out, less than half overlaps: -1.
  const GrayF big = to_f(texture(140, 100, 6));
  const GrayF b = crop_f(big, 20, 20, 120, 80);
  const GrayF t = crop_f(big, 0, 20, 40, 40);
  EXPECT_NEAR(vidkompy::ncc_at(t, b, -20, 0), 1.0, 1e-5);
  EXPECT_NEAR(vidkompy::ncc_at(t, b, -20, 0, true), std::sqrt(spread(crop_f(t, 20, 0, 20, 40)) / spread(t)), 1e-5);
  EXPECT_EQ(vidkompy::ncc_at(t, b, -21, 0), -1.0);
  const GrayF t2 = crop_f(big, 0, 0, 40, 40);  // a quarter overlaps at (-20, -20)
  EXPECT_EQ(vidkompy::ncc_at(t2, b, -20, -20), -1.0);
  // Right and bottom edges, and no overlap at all.
  EXPECT_EQ(vidkompy::ncc_at(t, b, 120 - 19, 0), -1.0);
  EXPECT_EQ(vidkompy::ncc_at(t, b, 0, 80 - 19), -1.0);
  EXPECT_EQ(vidkompy::ncc_at(t, b, 500, 500), -1.0);
  EXPECT_EQ(vidkompy::ncc_at(t, b, -40, 0), -1.0);
}

// A fg whose own overlay (a subtitle box along its bottom) is not in bg matched better hanging that part over bg's
// bottom edge, where the rest, a smooth sky, fitted too (a 960x540 crop of Big Buck Bunny placed 191 px low until
// session 17). In the coarse search (`cover`) the part over the edge now counts as matching nothing.
TEST(Ncc, PartOverBgsEdgeMatchesNothing) {
  GrayF b;  // alike at every height, as a sky is
  b.w = 160, b.h = 120;
  for (int y = 0; y < b.h; ++y)
    for (int x = 0; x < b.w; ++x) b.px.push_back(float(0.2 + 0.6 * x / 160.0 + 0.05 * std::sin(x / 3.0)));
  GrayF t = crop_f(b, 20, 30, 100, 90);  // bottom-aligned with bg
  for (int y = 70; y < 84; ++y)  // the subtitle box, near t's bottom
    for (int x = 10; x < 90; ++x) t.px[size_t(y) * 100 + x] = 0.05f;
  // Over the overlap alone, hanging the box over the edge fits better; counting that part as matching nothing,
  // the right placement does.
  EXPECT_GT(vidkompy::ncc_at(t, b, 20, 45), vidkompy::ncc_at(t, b, 20, 30) + 0.1);
  EXPECT_GT(vidkompy::ncc_at(t, b, 20, 30, true), vidkompy::ncc_at(t, b, 20, 45, true) + 0.02);
  EXPECT_GT(vidkompy::ncc_at(t, b, 20, 30, true), vidkompy::ncc_at(t, b, 20, 40, true) + 0.02);
  // Within bg, and for the last 5% over its edge, nothing changes: the NCC over the overlap.
  EXPECT_DOUBLE_EQ(vidkompy::ncc_at(t, b, 20, 30, true), vidkompy::ncc_at(t, b, 20, 30));
  EXPECT_DOUBLE_EQ(vidkompy::ncc_at(t, b, 20, 34, true), vidkompy::ncc_at(t, b, 20, 34));
}

// overlay_mask names what differs from bg in every pair: a subtitle box and a logo, over four moments of moving
// texture, but not grain, scattered clipped highlights, a regrade (gain and offset) or a placement a pixel off.
TEST(OverlayMask, FindsWhatDiffersInEveryPair) {
  const int W = 96, H = 72;
  std::vector<std::vector<float>> fgs, bgs, clean, shifted;
  std::mt19937 rng(3);
  std::normal_distribution<float> grain(0, 3);
  for (unsigned k = 0; k < 4; ++k) {
    const Gray g = texture(W + 1, H, 40 + k);
    std::vector<float> b, f, c, s;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const float v = g.px[size_t(y) * g.w + x];
        b.push_back(v);
        c.push_back(std::clamp(20 + 0.8f * v + grain(rng), 0.0f, 255.0f));
        s.push_back(g.px[size_t(y) * g.w + x + 1]);  // a pixel off
        const bool box = y >= 56 && y < 66 && x >= 8 && x < 88, logo = y >= 4 && y < 12 && x >= 78 && x < 92;
        f.push_back(box ? 0.4f * v + (x % 9 < 5 && y > 58 && y < 63 ? 150.0f : 0.0f) : logo ? 0.3f * v + 178 : c.back());
      }
    for (int i = 0; i < 12; ++i) c[size_t(rng() % c.size())] = 255;  // clipped highlights, scattered
    bgs.push_back(b), fgs.push_back(f), clean.push_back(c), shifted.push_back(s);
  }
  double share = 0;
  const std::vector<uint8_t> m = vidkompy::overlay_mask(fgs, bgs, W, H, 1, &share);
  ASSERT_EQ(m.size(), size_t(W) * H);
  int box = 0, logo = 0, elsewhere = 0;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const bool hit = m[size_t(y) * W + x];
      if (y >= 56 && y < 66 && x >= 8 && x < 88) box += hit;
      else if (y >= 4 && y < 12 && x >= 78 && x < 92) logo += hit;
      else if (y < 54 && (y < 2 || y > 13)) elsewhere += hit;
    }
  EXPECT_EQ(box, 80 * 10);
  EXPECT_EQ(logo, 14 * 8);
  EXPECT_EQ(elsewhere, 0);
  EXPECT_GT(share, 0.1);
  EXPECT_TRUE(vidkompy::overlay_mask(clean, bgs, W, H, 1).empty());
  EXPECT_TRUE(vidkompy::overlay_mask(shifted, bgs, W, H, 1).empty());
  // Two pairs are not enough to call anything constant.
  fgs.resize(2), bgs.resize(2);
  EXPECT_TRUE(vidkompy::overlay_mask(fgs, bgs, W, H, 1).empty());
}

// hide_static finds fg's burned-in subtitles from fg alone: a half-dark box with the same text in three samples of
// different moments is hidden, the moving picture around it is not; three samples of one still (a static shot)
// and three without an overlay hide nothing.
TEST(HideStatic, HidesTheEdgesEverySampleHasInOnePlace) {
  const int W = 320, H = 180;
  auto subtitled = [&](unsigned seed) {
    Gray g = texture(W, H, seed);
    for (int y = 140; y < 164; ++y)
      for (int x = 20; x < 300; ++x) {
        uint8_t& p = g.px[size_t(y) * W + x];
        const bool letter = y >= 146 && y < 158 && x >= 30 && x < 200 && x % 11 < 6 && (x / 11 + y / 4) % 3 != 0;
        p = letter ? 235 : uint8_t(0.4 * p);
      }
    return g;
  };
  std::vector<Gray> samples = {subtitled(51), subtitled(52), subtitled(53)};
  const std::vector<Gray> before = samples;
  const double share = vidkompy::hide_static(samples);
  EXPECT_GT(share, 0.02);
  EXPECT_LT(share, 0.2);
  int text = 0, text_hidden = 0, far = 0, far_hidden = 0;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const bool hidden = samples[0].px[size_t(y) * W + x] != before[0].px[size_t(y) * W + x] ||
                          samples[1].px[size_t(y) * W + x] != before[1].px[size_t(y) * W + x];
      if (y >= 146 && y < 158 && x >= 30 && x < 200) text++, text_hidden += hidden;
      if (y < 120) far++, far_hidden += hidden;
    }
  EXPECT_GT(text_hidden, 0.9 * text);
  EXPECT_LT(far_hidden, 0.01 * far);
  std::vector<Gray> still = {texture(W, H, 60), texture(W, H, 60), texture(W, H, 60)};
  EXPECT_EQ(vidkompy::hide_static(still), 0.0);
  std::vector<Gray> plain = {texture(W, H, 61), texture(W, H, 62), texture(W, H, 63)};
  EXPECT_EQ(vidkompy::hide_static(plain), 0.0);
  EXPECT_EQ(plain[0].px, texture(W, H, 61).px);
}

TEST(Ncc, SummedAreaTablesGiveTheSameValue) {
  const GrayF t = random_f(37, 29, 11), b = random_f(101, 77, 12);
  GrayF ts = t, bs = b;
  ts.build_sums();
  bs.build_sums();
  ASSERT_EQ(ts.sum.size(), size_t(38 * 30));
  std::mt19937 rng(13);
  std::uniform_int_distribution<int> ux(-25, 100), uy(-20, 76);
  int compared = 0, partial = 0;
  for (int i = 0; i < 400; ++i) {
    const int x = i < 4 ? (i % 2 ? -18 : -7) : ux(rng), y = i < 4 ? (i / 2 ? -14 : -3) : uy(rng);
    const double plain = vidkompy::ncc_at(t, b, x, y);
    const double tabled = vidkompy::ncc_at(ts, bs, x, y);
    ASSERT_NEAR(plain, tabled, 1e-6) << "at " << x << "," << y;
    ASSERT_GE(plain, -1.0);
    ASSERT_LE(plain, 1.0);
    if (plain != -1.0) {
      ++compared;
      if (x < 0 || y < 0 || x + t.w > b.w || y + t.h > b.h) ++partial;
    }
  }
  // The comparison covered real overlaps, partial ones (negative offsets included) among them.
  EXPECT_GT(compared, 100);
  EXPECT_GT(partial, 20);
  // The summed-area tables themselves: the last entry is the sum of everything.
  double all = 0;
  for (float v : b.px) all += v;
  EXPECT_NEAR(bs.sum.back(), all, 1e-6 * all);
}

// ---------------------------------------------------------------- phase correlation

// Reference 0 is a smooth texture, reference 1 white noise. A hard-edged template of a smooth picture puts the
// phase-only peak on its own borders, so that one is tapered, as find_placement tapers every template.
TEST(PhaseCorrelation, PeakAtTheTemplateOffset) {
  const int W = 150, H = 100;
  const int cw = vidkompy::fft_size(W), ch = vidkompy::fft_size(H);
  const std::vector<GrayF> refs = {to_f(texture(W, H, 21)), random_f(W, H, 22)};
  std::vector<std::vector<float>> padded_refs;
  for (const GrayF& r : refs) padded_refs.push_back(padded(r, cw, ch));
  auto fft = vidkompy::make_cpu_fft();
  fft->set_references(padded_refs, ch, cw);
  struct Offset {
    int x, y, w, h;
  };
  for (const Offset& o : {Offset{0, 0, 70, 50}, Offset{17, 9, 70, 50}, Offset{61, 43, 70, 50},
                          Offset{79, 49, 71, 51}, Offset{3, 58, 40, 30}, Offset{0, 0, W, H}}) {
    for (size_t r = 0; r < refs.size(); ++r) {
      SCOPED_TRACE("template " + std::to_string(o.w) + "x" + std::to_string(o.h) + " at " + std::to_string(o.x) +
                   "," + std::to_string(o.y) + " of reference " + std::to_string(r));
      std::vector<std::vector<float>> surfaces;
      fft->phase_correlate(padded(crop_f(refs[r], o.x, o.y, o.w, o.h), cw, ch, r == 0), surfaces);
      ASSERT_EQ(surfaces.size(), refs.size());
      ASSERT_EQ(surfaces[r].size(), size_t(cw) * ch);
      const std::vector<float>& s = surfaces[r];
      const size_t peak = size_t(std::max_element(s.begin(), s.end()) - s.begin());
      EXPECT_EQ(int(peak % cw), o.x);
      EXPECT_EQ(int(peak / cw), o.y);
    }
  }
}

// ---------------------------------------------------------------- find_placement, in memory

// A bg "video" of unrelated textured frames (so the moment an fg sample shows is unambiguous), with thumbnails
// about 128 px on the long side, as place() makes them.
struct Scene {
  int w = 0, h = 0;
  std::vector<Gray> frames;
  std::vector<Gray> thumbs;
};

const Scene& scene(int w, int h) {
  static std::vector<std::unique_ptr<Scene>> cache;
  for (const auto& s : cache)
    if (s->w == w && s->h == h) return *s;
  auto s = std::make_unique<Scene>();
  s->w = w;
  s->h = h;
  const double f = 128.0 / std::max(w, h);
  for (unsigned i = 0; i < 12; ++i) {
    s->frames.push_back(texture(w, h, 1000 + i));
    s->thumbs.push_back(vidkompy::resize_gray(s->frames.back(), int(std::lround(w * f)), int(std::lround(h * f))));
  }
  cache.push_back(std::move(s));
  return *cache.back();
}

// The bg frames fg samples are taken from.
const std::vector<size_t> kFgFrames = {2, 6, 9};

// `fg_times`: the samples' times in seconds, where bg shows a frame a second (SpatialInput::fg_times).
SpatialResult place_in(const Scene& s, std::vector<Gray> fg, std::vector<double> fg_times = {}) {
  SpatialInput in;
  if (!fg_times.empty()) in.fg_times = std::move(fg_times), in.fg_frame_s = 0.04, in.bg_frame_s = 1;
  in.bg_w = s.w;
  in.bg_h = s.h;
  in.fg = std::move(fg);
  in.bg_thumbs = s.thumbs;
  in.bg_frames = [&s](size_t first, size_t count) {
    const size_t last = std::min(s.frames.size(), first + count);
    return std::vector<Gray>(s.frames.begin() + long(first), s.frames.begin() + long(last));
  };
  auto fft = vidkompy::make_cpu_fft();
  return vidkompy::find_placement(in, *fft);
}

// Crops of the fg frames, each passed through `f`.
std::vector<Gray> crops(const Scene& s, int x, int y, int w, int h,
                        const std::function<Gray(const Gray&, size_t)>& f = nullptr) {
  std::vector<Gray> out;
  for (size_t i : kFgFrames) {
    Gray c = crop(s.frames[i], x, y, w, h);
    out.push_back(f ? f(c, i) : std::move(c));
  }
  return out;
}

void expect_found(const SpatialResult& r, double x, double y, double scale, double min_confidence = 0.9) {
  const vidkompy::Placement& p = r.placement;
  const std::string got = "found x " + std::to_string(p.x) + " y " + std::to_string(p.y) + " scale " +
                          std::to_string(p.scale) + " confidence " + std::to_string(p.confidence) + "\n" +
                          join(r.notes);
  EXPECT_LE(std::abs(p.x - x), 1.0) << got;
  EXPECT_LE(std::abs(p.y - y), 1.0) << got;
  EXPECT_LE(std::abs(p.scale - scale) / scale, 0.01) << got;
  EXPECT_GE(p.confidence, min_confidence) << got;
  EXPECT_LE(p.confidence, 1.0) << got;
}

struct CropCase {
  std::string name;
  int bg_w, bg_h;
  int x, y, w, h;
};

void PrintTo(const CropCase& c, std::ostream* os) { *os << c.name; }

class CropPlacement : public ::testing::TestWithParam<CropCase> {};

TEST_P(CropPlacement, FindsTheCrop) {
  const CropCase& c = GetParam();
  const Scene& s = scene(c.bg_w, c.bg_h);
  const SpatialResult r = place_in(s, crops(s, c.x, c.y, c.w, c.h));
  expect_found(r, c.x, c.y, 1.0);
  // Scale 1 is taken exactly when fg needs no resampling.
  EXPECT_EQ(r.placement.scale, 1.0);
}

INSTANTIATE_TEST_SUITE_P(
    Positions, CropPlacement,
    ::testing::Values(CropCase{"centred", 320, 240, 60, 45, 200, 150}, CropCase{"left_edge", 320, 240, 0, 45, 200, 150},
                      CropCase{"right_edge", 320, 240, 120, 45, 200, 150},
                      CropCase{"top_edge", 320, 240, 60, 0, 200, 150},
                      CropCase{"bottom_edge", 320, 240, 60, 90, 200, 150},
                      CropCase{"top_left", 320, 240, 0, 0, 200, 150}, CropCase{"top_right", 320, 240, 120, 0, 200, 150},
                      CropCase{"bottom_left", 320, 240, 0, 90, 200, 150},
                      CropCase{"bottom_right", 320, 240, 120, 90, 200, 150},
                      CropCase{"odd_offset", 320, 240, 37, 53, 200, 150},
                      CropCase{"odd_offset_odd_size", 320, 240, 101, 11, 173, 129},
                      CropCase{"small", 320, 240, 201, 147, 96, 72},
                      CropCase{"same_size_as_bg", 320, 240, 0, 0, 320, 240},
                      CropCase{"wide_bg", 384, 216, 63, 35, 256, 144},
                      CropCase{"tall_fg", 256, 192, 121, 7, 90, 180}),
    [](const ::testing::TestParamInfo<CropCase>& i) { return i.param.name; });

TEST(FindPlacement, FgDownscaledByThreeQuarters) {
  const Scene& s = scene(320, 240);
  // 240x180 at (41, 27), shrunk to 180x135: placed back at scale 4/3.
  const auto fg = crops(s, 41, 27, 240, 180, [](const Gray& g, size_t) { return resized(g, 0.75); });
  ASSERT_EQ(fg[0].w, 180);
  ASSERT_EQ(fg[0].h, 135);
  expect_found(place_in(s, fg), 41, 27, 1 / 0.75);
}

TEST(FindPlacement, FgDownscaledByHalf) {
  const Scene& s = scene(320, 240);
  const auto fg = crops(s, 41, 27, 240, 180, [](const Gray& g, size_t) { return resized(g, 0.5); });
  ASSERT_EQ(fg[0].w, 120);
  expect_found(place_in(s, fg), 41, 27, 2.0);
}

TEST(FindPlacement, FgUpscaledCrop) {
  const Scene& s = scene(320, 240);
  // 160x120 at (77, 61), enlarged to 240x180: scale 2/3.
  const auto fg = crops(s, 77, 61, 160, 120, [](const Gray& g, size_t) { return resized(g, 1.5); });
  ASSERT_EQ(fg[0].w, 240);
  expect_found(place_in(s, fg), 77, 61, 1 / 1.5);
}

TEST(FindPlacement, FgLargerThanBg) {
  const Scene& s = scene(320, 240);
  // The whole bg frame enlarged to 480x360: scale 2/3 at the origin.
  const auto fg = crops(s, 0, 0, 320, 240, [](const Gray& g, size_t) { return resized(g, 1.5); });
  ASSERT_EQ(fg[0].w, 480);
  expect_found(place_in(s, fg), 0, 0, 1 / 1.5);
}

TEST(FindPlacement, NoisyFg) {
  const Scene& s = scene(320, 240);
  const auto fg = crops(s, 47, 31, 200, 150, [](const Gray& g, size_t i) { return disturbed(g, 10, 0, unsigned(i)); });
  expect_found(place_in(s, fg), 47, 31, 1.0);
}

TEST(FindPlacement, BrighterFg) {
  const Scene& s = scene(320, 240);
  const auto fg = crops(s, 47, 31, 200, 150, [](const Gray& g, size_t i) { return disturbed(g, 0, 20, unsigned(i)); });
  expect_found(place_in(s, fg), 47, 31, 1.0);
}

// The noise (sigma 10 on a 180x135 picture) blurs the phase-correlation peak: 12 standard deviations above its
// surface where a clean crop gives 30, so the confidence is lower (0.76), though still well above the threshold.
TEST(FindPlacement, NoisyBrighterScaledFg) {
  const Scene& s = scene(320, 240);
  const auto fg = crops(s, 41, 27, 240, 180, [](const Gray& g, size_t i) {
    return disturbed(resized(g, 0.75), 10, 20, unsigned(i));
  });
  expect_found(place_in(s, fg), 41, 27, 1 / 0.75, 0.75);
}

// A crop halved and drowned in noise: the phase-correlation peak stands 9 standard deviations out, inside the range
// of chance matches, and alone that keeps the confidence at 0.56. Each of the three samples found in bg at its own
// moment, all at one time offset, halves the sharpness needed (0.98). Said to come from other moments (out of
// order), the same samples give no such evidence.
TEST(FindPlacement, SamplesFoundAtOneTimeOffsetNeedALessSharpPeak) {
  const Scene& s = scene(320, 240);
  const auto fg = crops(s, 41, 27, 240, 180, [](const Gray& g, size_t i) {
    return disturbed(resized(g, 0.5), 22, 20, unsigned(i));
  });
  const SpatialResult untimed = place_in(s, fg);
  EXPECT_FALSE(untimed.timed);
  EXPECT_LT(untimed.placement.confidence, vidkompy::kSpatialThreshold) << join(untimed.notes);
  for (const std::vector<double>& times : {std::vector<double>{2, 6, 9}, std::vector<double>{12, 16, 19}}) {
    const SpatialResult r = place_in(s, fg, times);  // kFgFrames, a second a bg frame, at offsets 0 and -10 s
    EXPECT_TRUE(r.timed) << join(r.notes);
    expect_found(r, 41, 27, 2.0);
  }
  const SpatialResult shuffled = place_in(s, fg, {6, 2, 9});
  EXPECT_FALSE(shuffled.timed);
  EXPECT_LT(shuffled.placement.confidence, vidkompy::kSpatialThreshold) << join(shuffled.notes);
}

TEST(FindPlacement, BlankFgHasZeroConfidence) {
  const Scene& s = scene(320, 240);
  const SpatialResult r = place_in(s, {uniform(200, 150, 128), uniform(200, 150, 128), uniform(200, 150, 128)});
  EXPECT_EQ(r.placement.confidence, 0.0) << join(r.notes);
  EXPECT_TRUE(std::isfinite(r.placement.x));
  EXPECT_TRUE(std::isfinite(r.placement.y));
  EXPECT_TRUE(std::isfinite(r.placement.scale));
  EXPECT_GT(r.placement.scale, 0.0);
}

TEST(FindPlacement, BlankBgHasZeroConfidence) {
  Scene blank;
  blank.w = 320;
  blank.h = 240;
  for (int i = 0; i < 6; ++i) {
    blank.frames.push_back(uniform(320, 240, 40));
    blank.thumbs.push_back(uniform(128, 96, 40));
  }
  const Scene& s = scene(320, 240);
  const SpatialResult r = place_in(blank, crops(s, 60, 45, 200, 150));
  EXPECT_EQ(r.placement.confidence, 0.0) << join(r.notes);
  EXPECT_TRUE(std::isfinite(r.placement.x) && std::isfinite(r.placement.y) && std::isfinite(r.placement.scale));
}

// Crops of textures with other seeds: the best chance match reaches NCC 0.79 (x -13.3 y -22.8 scale 0.49 before
// overhanging placements were dropped, x 132 y 68 scale 0.19 after): a small template of smooth content has few
// independent pixels. Its phase-correlation peak stands only ~3 standard deviations above the surface, which
// brings the confidence down (real pairs: 12 and more).
TEST(FindPlacement, UnrelatedFgIsBelowThreshold) {
  const Scene& s = scene(320, 240);
  for (unsigned first = 7001; first < 7025; first += 3) {
    std::vector<Gray> fg;
    for (unsigned seed = first; seed < first + 3; ++seed) fg.push_back(crop(texture(320, 240, seed), 60, 45, 200, 150));
    const SpatialResult r = place_in(s, fg);
    EXPECT_LT(r.placement.confidence, vidkompy::kSpatialThreshold)
        << "seeds " << first << "-" << first + 2 << ": x " << r.placement.x << " y " << r.placement.y << " scale "
        << r.placement.scale << "\n"
        << join(r.notes);
    EXPECT_GE(r.placement.confidence, 0.0);
  }
}

TEST(FindPlacement, LongBgFindsAMomentBetweenItsSpreadThumbnails) {
  // A long bg is a string of short scenes, most of them between the 32 evenly spread thumbnails of the coarse
  // search (a 20 s clip of a 23-minute master: those are 44 s apart). fg shows one such scene. Its brightness
  // histogram brings that scene's thumbnails into the coarse search (SpatialInput::likely_refs).
  const int W = 256, H = 144;
  Scene s;
  s.w = W, s.h = H;
  for (unsigned scene = 0; scene < 100; ++scene) {
    const Gray t = texture(W, H, 500 + scene);
    const int lo = int(scene * 37 % 90), hi = 165 + int(scene * 53 % 90);  // each scene graded its own way
    for (int k = 0; k < 2; ++k) {
      Gray f = t;
      for (uint8_t& v : f.px) v = uint8_t(std::max(0, lo + v * (hi - lo) / 255 - 4 * k));  // a slow fade
      s.frames.push_back(f);
      s.thumbs.push_back(vidkompy::resize_gray(f, 128, 72));
    }
  }
  // Scene 49 (frames 98 and 99): the spread thumbnails are frames 96 and 103.
  std::vector<Gray> fg = {crop(s.frames[98], 40, 30, 160, 90), crop(s.frames[99], 40, 30, 160, 90)};
  SpatialInput in;
  in.bg_w = W, in.bg_h = H;
  in.fg = fg;
  in.bg_thumbs = s.thumbs;
  in.bg_frames = [&s](size_t first, size_t count) {
    const size_t last = std::min(s.frames.size(), first + count);
    return std::vector<Gray>(s.frames.begin() + long(first), s.frames.begin() + long(last));
  };
  auto fft = vidkompy::make_cpu_fft();
  const SpatialResult spread = vidkompy::find_placement(in, *fft);
  EXPECT_LT(spread.placement.confidence, vidkompy::kSpatialThreshold) << "the premise: not found on spread ones";
  in.likely_refs = 32;
  const SpatialResult r = vidkompy::find_placement(in, *fft);
  expect_found(r, 40, 30, 1.0);
  EXPECT_EQ(r.bg_thumb / 2, 49) << join(r.notes);
}

// ---------------------------------------------------------------- the CLI, end to end

// bg clips are made once per process and shared by the tests that use them.
class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = std::make_unique<vt::TempDir>(); }
  static void TearDownTestSuite() { dir_.reset(); }

  // A 3 s clip of lavfi source `src` (e.g. "testsrc2"; options appended), w x h at 25 fps, H.264 CRF 18.
  static std::string bg(const std::string& name, const std::string& src) {
    const std::string path = *dir_ / (name + ".mp4");
    if (!std::filesystem::exists(path)) {
      EXPECT_TRUE(vt::ffmpeg("-f lavfi -i " + quote(src) + " -t 3 -pix_fmt yuv420p -c:v libx264 -crf 18 " +
                             quote(path)));
    }
    return path;
  }

  // fg from the bg file: starts 0.5 s in, crop (exact, odd offsets kept) then `scale`, 30 fps, CRF 30.
  static std::string fg_from(const std::string& bg_path, const std::string& name, int x, int y, int w, int h,
                             const std::string& scale = "") {
    const std::string path = *dir_ / (name + ".mp4");
    std::string vf = "crop=" + std::to_string(w) + ":" + std::to_string(h) + ":" + std::to_string(x) + ":" +
                     std::to_string(y) + ":exact=1";
    if (!scale.empty()) vf += ",scale=" + scale;
    vf += ",fps=30";
    EXPECT_TRUE(vt::ffmpeg("-ss 0.5 -i " + quote(bg_path) + " -vf " + quote(vf) +
                           " -pix_fmt yuv420p -c:v libx264 -crf 30 " + quote(path)));
    return path;
  }

  static std::string lavfi(const std::string& name, const std::string& src, double seconds = 2) {
    const std::string path = *dir_ / (name + ".mp4");
    EXPECT_TRUE(vt::ffmpeg("-f lavfi -i " + quote(src) + " -t " + std::to_string(seconds) +
                           " -pix_fmt yuv420p -c:v libx264 -crf 23 " + quote(path)));
    return path;
  }

  static void expect_placement(const std::string& bg_path, const std::string& fg_path, double x, double y,
                               double scale) {
    const vt::Run r = vt::vidkompy({"--bg", bg_path, "--fg", fg_path, "--align-only", "--json", "-"});
    ASSERT_EQ(r.code, 0) << r.err;
    nlohmann::json j;
    ASSERT_NO_THROW(j = nlohmann::json::parse(r.out)) << r.out;
    ASSERT_TRUE(j.contains("spatial")) << r.out;
    const nlohmann::json& s = j["spatial"];
    const double fx = s.at("x").get<double>(), fy = s.at("y").get<double>(), fs = s.at("scale").get<double>();
    const std::string got = "truth x " + std::to_string(x) + " y " + std::to_string(y) + " scale " +
                            std::to_string(scale) + "; report " + s.dump();
    EXPECT_LE(std::abs(fx - x), 1.0) << got;
    EXPECT_LE(std::abs(fy - y), 1.0) << got;
    EXPECT_LE(std::abs(fs - scale) / scale, 0.01) << got;
    EXPECT_GE(s.at("confidence").get<double>(), vidkompy::kSpatialThreshold) << got;
    EXPECT_EQ(s.at("x_px").get<long>(), std::lround(fx));
    EXPECT_EQ(s.at("y_px").get<long>(), std::lround(fy));
  }

  static void expect_rejected(const std::string& bg_path, const std::string& fg_path) {
    const vt::Run r = vt::vidkompy({"--bg", bg_path, "--fg", fg_path, "--align-only", "--json", "-"});
    EXPECT_EQ(r.code, 3) << r.out << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("best candidate"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("confidence"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }

  static std::unique_ptr<vt::TempDir> dir_;
};

std::unique_ptr<vt::TempDir> Cli::dir_;

const char kTestsrc2[] = "testsrc2=size=320x240:rate=25";
const char kMandelbrot[] = "mandelbrot=size=320x240:rate=25";
const char kLife[] = "life=size=320x240:mold=10:rate=25:ratio=0.3:seed=7";
// scroll=0: rows are rewritten in place. Scrolling would make fg at y in frame t the same picture as fg at y-1
// in frame t+1, so y would be ambiguous by design.
const char kLifeWide[] = "life=size=480x270:mold=10:rate=25:ratio=0.3:seed=9";
const char kCellauto[] = "cellauto=size=320x240:rate=25:scroll=0:seed=7";

// A bg larger than the reels' 512 px: the placement is found on the reduced reel and converted back.
TEST_F(Cli, CropOfLargeBgFoundOnTheReel) {
  const std::string b = bg("life720", "life=size=1280x720:mold=10:rate=25:ratio=0.3:seed=11");
  expect_placement(b, fg_from(b, "fg_large", 301, 157, 400, 300), 301, 157, 1.0);
}

// fg shows in under 96 reel pixels: refined on full-size bg frames decoded again, re-checked at full size.
TEST_F(Cli, SmallCropOfLargeBgFoundAtFullSize) {
  const std::string b = bg("life720", "life=size=1280x720:mold=10:rate=25:ratio=0.3:seed=11");
  expect_placement(b, fg_from(b, "fg_small", 801, 413, 160, 120), 801, 413, 1.0);
}

TEST_F(Cli, CropOfTestsrc2) {
  const std::string b = bg("testsrc2", kTestsrc2);
  expect_placement(b, fg_from(b, "fg", 37, 23, 200, 150), 37, 23, 1.0);
}

// mandelbrot zooms about a fixed point, so each fg sample also matches a bg frame a few frames away at another
// scale almost as well (NCC 0.969 vs 0.990 at the truth): time and scale must be searched together.
// Semi-planar frames, as NVDEC hands them back: libswscale 5.1 writes through a null pointer converting NV12 and
// NV21 at such sizes (every GPU run on these pairs crashed), so the decoder splits them into planes first.
TEST_F(Cli, RawSemiPlanarCropOfTestsrc2) {
  const std::string b = bg("testsrc2", kTestsrc2);
  for (const std::string pf : {"nv12", "nv21"}) {
    SCOPED_TRACE(pf);
    const std::string f = *dir_ / ("fg_" + pf + ".nut");
    ASSERT_TRUE(vt::ffmpeg("-ss 0.5 -i " + quote(b) + " -vf crop=200:150:37:23:exact=1,fps=30 -c:v rawvideo " +
                           "-pix_fmt " + pf + " " + quote(f)));
    expect_placement(b, f, 37, 23, 1.0);
  }
}

// A soft picture's phase-correlation peak stands out little in one pair (14 sigma here, confidence 0.90); summed
// over the fg samples that confirm the placement, each with the bg frame showing it best, it does (25 sigma). A
// soft cockatoo crop went from 7.3 to 24.5 sigma that way and is placed instead of refused.
TEST_F(Cli, SoftCropStandsOutOnSeveralPairs) {
  const std::string b = bg("soft", "testsrc2=size=480x270:rate=25,gblur=sigma=6");
  const vt::Run r = vt::vidkompy({"--bg", b, "--fg", fg_from(b, "fg_soft", 137, 63, 200, 150), "--align-only", "--json",
                                  "-"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json s = nlohmann::json::parse(r.out).at("spatial");
  EXPECT_NEAR(s.at("x").get<double>(), 137, 1.0) << s;
  EXPECT_NEAR(s.at("y").get<double>(), 63, 1.0) << s;
  EXPECT_GE(s.at("confidence").get<double>(), 0.99) << s;
}

TEST_F(Cli, CropOfMandelbrot) {
  const std::string b = bg("mandelbrot", kMandelbrot);
  expect_placement(b, fg_from(b, "fg", 71, 51, 180, 136), 71, 51, 1.0);
}

TEST_F(Cli, CropOfLife) {
  const std::string b = bg("life", kLife);
  expect_placement(b, fg_from(b, "fg", 99, 45, 200, 150), 99, 45, 1.0);
}

TEST_F(Cli, CropOfCellauto) {
  const std::string b = bg("cellauto", kCellauto);
  expect_placement(b, fg_from(b, "fg", 13, 67, 200, 150), 13, 67, 1.0);
}

// Temporal noise, in 4 px grains (single-pixel noise does not survive fg's CRF 30: NCC 0.3-0.4 with its source).
TEST_F(Cli, CropOfNoise) {
  const std::string b =
      bg("noise", "color=c=gray:size=80x60:rate=25,noise=alls=60:allf=t+u,scale=320:240:flags=bicubic");
  expect_placement(b, fg_from(b, "fg", 57, 33, 200, 150), 57, 33, 1.0);
}

TEST_F(Cli, CropAtBottomRightCorner) {
  const std::string b = bg("testsrc2", kTestsrc2);
  expect_placement(b, fg_from(b, "fg", 160, 120, 160, 120), 160, 120, 1.0);
}

TEST_F(Cli, HalvedCropOfTestsrc2) {
  const std::string b = bg("testsrc2", kTestsrc2);
  // 240x180 at (41, 27) shrunk to 120x90: scale 2.
  expect_placement(b, fg_from(b, "fg", 41, 27, 240, 180, "120:90"), 41, 27, 2.0);
}

// The zoom again, with the true moment ~11 bg frames from the one the thumbnails pair it with.
TEST_F(Cli, EnlargedCropOfMandelbrot) {
  const std::string b = bg("mandelbrot", kMandelbrot);
  // 160x120 at (81, 59) enlarged to 240x180: scale 2/3.
  expect_placement(b, fg_from(b, "fg", 81, 59, 160, 120, "240:180"), 81, 59, 1 / 1.5);
}

// A larger, faster zoom: every moment has a scale that fits it about as well (a ridge of (moment, scale) pairs).
// This one was placed at scale 1.023, 3.5 px off, and its map ran 4 frames late; exactly one moment shows the
// unscaled crop, which is how most overlays are made, and that preference now decides.
TEST_F(Cli, UnscaledCropOfAFastZoom) {
  const std::string b = *dir_ / "zoom_bg.mp4", f = *dir_ / "zoom_fg.mp4";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i mandelbrot=size=640x360:rate=25 -t 5 -pix_fmt yuv420p -c:v libx264 -crf 30 " +
                         quote(b)));
  // From bg's second 1 (bg frame 25) on, 250x200 at (166, 54), at 30 fps.
  ASSERT_TRUE(vt::ffmpeg("-ss 1 -i " + quote(b) + " -t 3 -vf crop=250:200:166:54:exact=1,fps=30 -pix_fmt yuv420p " +
                         "-c:v libx264 -crf 20 " + quote(f)));
  expect_placement(b, f, 166, 54, 1.0);
  const vt::Run r = vt::vidkompy({"--bg", b, "--fg", f, "--align-only", "--json", "-"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto map = nlohmann::json::parse(r.out)["temporal"]["map"].get<std::vector<int64_t>>();
  ASSERT_EQ(map.size(), 90u);
  EXPECT_EQ(map[0], 25);
  EXPECT_EQ(map[30], 50);
  EXPECT_EQ(map[60], 75);
}

TEST_F(Cli, EnlargedCropOfLifeWideBg) {
  const std::string b = bg("life_wide", kLifeWide);
  // 160x92 at (211, 97) enlarged to 240x138: scale 2/3.
  expect_placement(b, fg_from(b, "fg", 211, 97, 160, 92, "240:138"), 211, 97, 1 / 1.5);
}

// A 2x enlarged fg is blurred against 1-pixel life cells at bg resolution (NCC ~0.6); the confidence is measured
// at fg's own resolution (~0.9).
TEST_F(Cli, HalvedCropOfLifeWideBg) {
  const std::string b = bg("life_wide", kLifeWide);
  // 320x180 at (77, 45) shrunk to 160x90: scale 2.
  expect_placement(b, fg_from(b, "fg", 77, 45, 320, 180, "160:90"), 77, 45, 2.0);
}

// fg (6 s of an evolving life pattern) starts 1 s before bg ends: only its first sixth is in bg, so of its three
// samples (at 1/6, 1/2 and 5/6 of fg) none shows a moment bg has, and the right place was found at confidence
// 0.58, refused. Samples from fg's first third find it (random14_8 in bench/pairs, a soft cockatoo crop).
TEST_F(Cli, FgMostlyAfterBgEndsIsFoundByItsFirstThird) {
  const std::string src = *dir_ / "life_10s.mp4", b = *dir_ / "life_first4s.mp4", f = *dir_ / "life_from3s.mp4";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i " + quote("life=s=640x360:rate=25:seed=5:mold=10:ratio=0.2") +
                         " -t 10 -pix_fmt yuv420p -c:v libx264 -crf 12 " + quote(src)));
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(src) + " -t 4 -c:v libx264 -crf 18 " + quote(b)));
  ASSERT_TRUE(vt::ffmpeg("-ss 3 -i " + quote(src) + " -t 6 -vf crop=240:180:200:100 -c:v libx264 -crf 18 " + quote(f)));
  const vt::Run r = vt::vidkompy({"--bg", b, "--fg", f, "--align-only", "--json", "-"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out), &s = j.at("spatial"), &t = j.at("temporal");
  EXPECT_NEAR(s.at("x").get<double>(), 200, 0.5);
  EXPECT_NEAR(s.at("y").get<double>(), 100, 0.5);
  EXPECT_EQ(s.at("scale").get<double>(), 1.0);
  const std::vector<int64_t> map = t.at("map").get<std::vector<int64_t>>();
  ASSERT_EQ(map.size(), 150u);
  for (size_t i = 0; i < 25; ++i) EXPECT_EQ(map[i], int64_t(75 + i)) << "fg " << i;
  EXPECT_EQ(t.at("clamped_end").get<int>(), 125);
}

TEST_F(Cli, UnrelatedPairIsRejected) {
  const std::string b = bg("testsrc2", kTestsrc2);
  expect_rejected(b, lavfi("unrelated", "mandelbrot=size=200x150:rate=25"));
}

// Smooth unrelated content: these pairs reached NCC 0.985 and 0.91 (accepted) before the confidence took the
// sharpness of the phase-correlation peak into account (1.1 and 0.7 standard deviations here).
TEST_F(Cli, UnrelatedGradientsAreRejected) {
  const std::string f = lavfi("gradients_fg", "gradients=size=200x150:rate=25:speed=0.03:seed=7", 3);
  expect_rejected(lavfi("gradients_bg", "gradients=size=320x240:rate=25:speed=0.05", 3), f);
  expect_rejected(bg("mandelbrot", kMandelbrot), f);
}

TEST_F(Cli, BlackFgIsRejected) {
  const std::string b = bg("testsrc2", kTestsrc2);
  const std::string f = lavfi("black", "color=c=black:size=200x150:rate=25");
  const vt::Run r = vt::vidkompy({"--bg", b, "--fg", f, "--align-only", "--json", "-"});
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("confidence"), std::string::npos) << r.err;
}

}  // namespace


// fg resampled (bilinear) from bg at a known fractional offset and scale: fg pixel centre (u + 0.5, v + 0.5)
// shows bg's continuous point (x + s (u + 0.5), y + s (v + 0.5)).
vidkompy::Gray resample(const vidkompy::Gray& bg, double x, double y, double s, int w, int h) {
  vidkompy::Gray g;
  g.w = w;
  g.h = h;
  g.px.resize(size_t(w) * h);
  for (int v = 0; v < h; ++v)
    for (int u = 0; u < w; ++u) {
      const double X = x + s * (u + 0.5) - 0.5, Y = y + s * (v + 0.5) - 0.5;
      const int x0 = int(X), y0 = int(Y);
      const double fx = X - x0, fy = Y - y0;
      auto at = [&](int xx, int yy) { return double(bg.px[size_t(yy) * bg.w + xx]); };
      const double val = (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) +
                         fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
      g.px[size_t(v) * w + u] = uint8_t(std::lround(val));
    }
  return g;
}

TEST(RefineSubpixel, RecoversFractionalOffsetAndScale) {
  const vidkompy::Gray bg = vt::texture(640, 360, 7);
  const double x = 100.3, y = 50.7, s = 0.7;
  const vidkompy::Gray fg = resample(bg, x, y, s, 400, 250);
  vidkompy::Placement start;
  start.x = x + 0.6, start.y = y - 0.5, start.scale = s * 1.004;
  const vidkompy::Placement p = vidkompy::refine_subpixel({{&fg, &bg}}, start, false);
  EXPECT_NEAR(p.x, x, 0.05);
  EXPECT_NEAR(p.y, y, 0.05);
  EXPECT_NEAR(p.scale, s, 2e-4);
}

TEST(RefineSubpixel, FixedScaleRecoversOffsetOverSeveralPairs) {
  const double x = 60.25, y = 41.6;
  std::vector<vidkompy::Gray> bgs, fgs;
  for (unsigned seed : {3u, 4u, 5u}) {
    bgs.push_back(vt::texture(320, 240, seed));
    fgs.push_back(resample(bgs.back(), x, y, 1.0, 200, 150));
  }
  vidkompy::Placement start;
  start.x = 60, start.y = 42, start.scale = 1.0;
  const vidkompy::Placement p =
      vidkompy::refine_subpixel({{&fgs[0], &bgs[0]}, {&fgs[1], &bgs[1]}, {&fgs[2], &bgs[2]}}, start, true);
  EXPECT_NEAR(p.x, x, 0.03);
  EXPECT_NEAR(p.y, y, 0.03);
  EXPECT_EQ(p.scale, 1.0);
}

TEST(RefineSubpixel, FlatPicturesKeepTheStart) {
  vidkompy::Gray flat;
  flat.w = 320, flat.h = 240;
  flat.px.assign(size_t(320) * 240, 90);
  vidkompy::Gray small = vt::crop(flat, 0, 0, 100, 80);
  vidkompy::Placement start;
  start.x = 10.5, start.y = 20.25, start.scale = 1.0;
  const vidkompy::Placement p = vidkompy::refine_subpixel({{&small, &flat}}, start, false);
  EXPECT_EQ(p.x, start.x);
  EXPECT_EQ(p.y, start.y);
  EXPECT_EQ(p.scale, start.scale);
}

// Six pairs along a tilt of 2 px a frame, two of which pair fg with the bg frame after its moment (a fg frame
// whose moment bg lacks, matched to a neighbour: on a soft picture the thumbnails cannot tell it from an exact
// pair). Each of those fits best 2 px up and, fitted with the others, pulled the placement 0.7 px there
// (random11_12 in bench/pairs: 0.9 px up Big Buck Bunny's tilt, 88% exact); the fit leaves them out.
TEST(RefineOnPairs, LeavesOutPairsOfTwoMoments) {
  const vidkompy::Gray world = vt::texture(320, 400, 9);
  const int fx = 40, fy = 50, step = 2;
  std::vector<vidkompy::Gray> fgs;
  std::vector<std::vector<vidkompy::Gray>> bgs;
  for (int k = 0; k < 6; ++k) {
    const int tilt = 6 * step * k;  // the pairs' moments, three frames apart
    const bool next = k == 1 || k == 4;
    bgs.push_back({crop(world, 0, tilt + (next ? step : 0), 240, 200)});
    fgs.push_back(crop(world, fx, tilt + fy, 160, 120));
  }
  vidkompy::Placement start;
  start.x = fx + 0.3, start.y = fy - 0.4, start.scale = 1.0;
  const vidkompy::Placement p = vidkompy::refine_on_pairs(fgs, bgs, start, true, true);
  EXPECT_NEAR(p.x, fx, 0.1);
  EXPECT_NEAR(p.y, fy, 0.1);
}

namespace {

// A reel of n frames of w x h, frame(t) its luma (chroma flat), for the re-check tests.
vidkompy::Reel reel_of(int n, int w, int h, const std::function<vidkompy::Gray(int)>& frame) {
  vidkompy::Reel r;
  r.w = w, r.h = h;
  for (int t = 0; t < n; ++t) {
    const vidkompy::Gray g = frame(t);
    r.yuv.insert(r.yuv.end(), g.px.begin(), g.px.end());
    r.yuv.insert(r.yuv.end(), r.frame_bytes() - g.px.size(), 128);
    r.pts.push_back(t);
  }
  return r;
}

}  // namespace

namespace {

// A pan over a texture at 4 px a frame, swaying by `sway` px; fg a 200x120 crop of it at (100, 60), with noise of
// `noise` grey levels; the map `late` frames late and the placement `up` px above, where such pairs match best. The
// re-check must undo both.
constexpr int kPanFx = 100, kPanFy = 60;

// A pan over a texture at 4 px a frame, its speed swaying by `sway`; fg a 200 x 120 crop of it at (kPanFx,
// kPanFy), with noise of `noise` grey levels; the map `late` frames late and fg placed `up` px up.
struct PanTrade {
  vidkompy::Reel bg, fg;
  vidkompy::VideoInfo bgi, fgi;
  vidkompy::TimeMap time;
  vidkompy::Placement p;
  PanTrade(double sway, double noise, int late, int up) {
    const vidkompy::Gray world = vt::texture(400, 1500, 11);
    auto pan = [&](int t) { return int(std::lround(4.0 * t + sway * std::sin(t / 6.0))) + 40; };
    const int frames = 120, W = 400, H = 240, fw = 200, fh = 120;
    std::mt19937 rng(7);
    std::normal_distribution<double> grain(0.0, std::max(noise, 1e-9));
    bg = reel_of(frames, W, H, [&](int t) { return crop(world, 0, pan(t), W, H); });
    fg = reel_of(frames, fw, fh, [&](int t) {
      vidkompy::Gray g = crop(world, kPanFx, pan(t) + kPanFy, fw, fh);
      if (noise > 0)
        for (uint8_t& v : g.px) v = uint8_t(std::clamp(std::lround(v + grain(rng)), 0L, 255L));
      return g;
    });
    bgi.width = W, bgi.height = H, fgi.width = fw, fgi.height = fh;
    for (int i = 0; i < frames; ++i) time.map.push_back(std::min(i + late, frames - 1));
    time.clamped_end = late;
    p.x = kPanFx, p.y = kPanFy - up, p.scale = 1.0;
  }
};

void expect_trade_undone(double sway, double noise, int late, int up) {
  PanTrade t(sway, noise, late, up);
  vidkompy::Context ctx;
  ctx.log = vidkompy::make_logger(ctx.opt);
  bool moved = false;
  ASSERT_TRUE(vidkompy::recheck_placement(ctx, t.bgi, t.fgi, t.bg, t.fg, t.time, t.p, moved).ok());
  EXPECT_TRUE(moved);
  EXPECT_NEAR(t.p.x, kPanFx, 0.3);
  EXPECT_NEAR(t.p.y, kPanFy, 0.3);
  EXPECT_EQ(t.p.scale, 1.0);
}

}  // namespace

// Along a pan, a placement a few pixels off fits a pair one or two frames away about as well as the truth. The
// re-check, handed such a placement and a map two frames late, must find both out: the pan's speed changes
// along the match (here from -1 to 9 px a frame), the offset between the videos does not.
TEST(RecheckPlacement, UndoesATradeOfPositionForTime) { expect_trade_undone(30, 0, 2, 9); }

// The same trade under coding noise (fg noisier by 2 grey levels, the pan's speed varying less), a frame late: the
// map a frame earlier fits 0.9992 against 0.9985, under the 0.001 that decides on clean pictures but with half the
// misfit. (random10_1 in bench/pairs: 0.9984 against 0.9976, placed 2.5 px off along Big Buck Bunny's tilt and
// 17.6% exact before.)
TEST(RecheckPlacement, UndoesATradeOfPositionForTimeUnderNoise) { expect_trade_undone(5, 2, 1, 4); }

// A pan whose speed hardly varies, under coding noise, the map a frame late and fg placed one frame's motion up:
// the map a frame earlier fits the reels within the noise of the map as it is, so the re-check moves nothing, but
// it names that placement as the runner-up, for the pipeline to match again on (random13_11 and random14_11 in
// bench/pairs, along Big Buck Bunny's tilt: 38% and 26% exact before, 100% after).
TEST(RecheckPlacement, NamesTheRunnerUpOfATradeTooCloseToCall) {
  PanTrade t(2, 2, 1, 4);
  vidkompy::Context ctx;
  ctx.log = vidkompy::make_logger(ctx.opt);
  bool moved = false;
  std::optional<vidkompy::Placement> other;
  ASSERT_TRUE(vidkompy::recheck_placement(ctx, t.bgi, t.fgi, t.bg, t.fg, t.time, t.p, moved, nullptr, &other).ok());
  EXPECT_FALSE(moved);
  ASSERT_TRUE(other.has_value());
  EXPECT_NEAR(other->x, kPanFx, 0.3);
  EXPECT_NEAR(other->y, kPanFy, 0.3);
}

// A right map along a pan, where bg shows each source frame twice (a rate above the source's, as 50 fps from
// film) and fg each once: moved a frame, half of the pairs still show one moment, and the placement fitted to
// them trades position for the rest. The re-check keeps the map and finds the placement, also from 1.5 px off.
// (A guard: the real pair behind it, random8_r0 in bench/pairs, lost to a wrong shift by 0.0012 in NCC, which
// these clean textures do not reproduce.)
TEST(RecheckPlacement, KeepsARightMapWhereBgRepeatsFrames) {
  const vidkompy::Gray world = vt::texture(400, 1500, 12);
  auto pan = [](int t) { return int(std::lround(3.0 * t + 20.0 * std::sin(t / 5.0))) + 40; };
  const int frames = 120, W = 400, H = 240, fx = 100, fy = 60, fw = 200, fh = 120;
  const vidkompy::Reel bg = reel_of(2 * frames, W, H, [&](int t) { return crop(world, 0, pan(t / 2), W, H); });
  const vidkompy::Reel fg = reel_of(frames, fw, fh, [&](int t) { return crop(world, fx, pan(t) + fy, fw, fh); });
  vidkompy::VideoInfo bgi, fgi;
  bgi.width = W, bgi.height = H, fgi.width = fw, fgi.height = fh;
  vidkompy::TimeMap time;
  for (int i = 0; i < frames; ++i) time.map.push_back(2 * i + (i % 3 == 0));  // either copy
  for (double dy : {0.0, 1.5}) {
    vidkompy::Placement p;
    p.x = fx, p.y = fy + dy, p.scale = 1.0;
    vidkompy::Context ctx;
    ctx.log = vidkompy::make_logger(ctx.opt);
    bool moved = false;
    ASSERT_TRUE(vidkompy::recheck_placement(ctx, bgi, fgi, bg, fg, time, p, moved).ok());
    EXPECT_NEAR(p.x, fx, 0.3) << "started " << dy << " px off";
    EXPECT_NEAR(p.y, fy, 0.3) << "started " << dy << " px off";
  }
}

// A right placement and a right map along a pan, where each matched bg frame is slightly noisier than its
// neighbours (bg has twice fg's rate; every other bg frame has noise of 1 grey level). Fitted with the neighbours
// as candidates, the best-matched pairs take the cleaner neighbour 2 px away; the evenly spread frames, each with
// its matched frame alone, stay. A move only one of the two fits makes is not taken. (The pair behind it,
// random8_r0 in bench/pairs, went 2.7 px down its pan this way and its map two frames off.)
TEST(RecheckPlacement, IgnoresAMoveOnlyTheNeighboursMake) {
  const vidkompy::Gray world = vt::texture(400, 1500, 14);
  auto pan = [](int t) { return 40 + 2 * t; };
  const int frames = 120, W = 400, H = 240, fx = 100, fy = 60, fw = 200, fh = 120;
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0.0, 1.0);
  const vidkompy::Reel bg = reel_of(2 * frames, W, H, [&](int t) {
    vidkompy::Gray g = crop(world, 0, pan(t), W, H);
    if (t % 2 == 0)
      for (uint8_t& v : g.px) v = uint8_t(std::clamp(std::lround(v + noise(rng)), 0L, 255L));
    return g;
  });
  const vidkompy::Reel fg = reel_of(frames, fw, fh, [&](int t) { return crop(world, fx, pan(2 * t) + fy, fw, fh); });
  vidkompy::VideoInfo bgi, fgi;
  bgi.width = W, bgi.height = H, fgi.width = fw, fgi.height = fh;
  vidkompy::TimeMap time;
  for (int i = 0; i < frames; ++i) time.map.push_back(2 * i);
  vidkompy::Placement p;
  p.x = fx, p.y = fy, p.scale = 1.0;
  vidkompy::Context ctx;
  ctx.log = vidkompy::make_logger(ctx.opt);
  bool moved = true;
  ASSERT_TRUE(vidkompy::recheck_placement(ctx, bgi, fgi, bg, fg, time, p, moved).ok());
  EXPECT_FALSE(moved);
  EXPECT_EQ(p.x, fx);
  EXPECT_EQ(p.y, fy);
}

// A placement under half a reel pixel off (0.45; these reels are full size) is left alone unless both sets of
// frames the re-check fits, the best matched and the evenly spread, agree on another place: then it moves there.
TEST(RecheckPlacement, MovesASmallErrorBothFitsAgreeOn) {
  const vidkompy::Gray world = vt::texture(400, 1500, 13);
  auto pan = [](int t) { return int(std::lround(2.0 * t)) + 40; };
  const int frames = 100, W = 400, H = 240, fx = 100, fy = 60, fw = 200, fh = 120;
  const vidkompy::Reel bg = reel_of(frames, W, H, [&](int t) { return crop(world, 0, pan(t), W, H); });
  const vidkompy::Reel fg = reel_of(frames, fw, fh, [&](int t) { return crop(world, fx, pan(t) + fy, fw, fh); });
  vidkompy::VideoInfo bgi, fgi;
  bgi.width = W, bgi.height = H, fgi.width = fw, fgi.height = fh;
  vidkompy::TimeMap time;
  for (int i = 0; i < frames; ++i) time.map.push_back(i);
  vidkompy::Placement p;
  p.x = fx, p.y = fy + 0.45, p.scale = 1.0;
  vidkompy::Context ctx;
  ctx.log = vidkompy::make_logger(ctx.opt);
  bool moved = false;
  double agree = -2;
  ASSERT_TRUE(vidkompy::recheck_placement(ctx, bgi, fgi, bg, fg, time, p, moved, &agree).ok());
  EXPECT_TRUE(moved);
  EXPECT_NEAR(p.x, fx, 0.1);
  EXPECT_NEAR(p.y, fy, 0.1);
  EXPECT_GT(agree, 0.95);  // the pairs agree where fg is
  // Placed 95 px off (as fg's own overlays over smooth picture can fake it): the pairs disagree there, below the
  // floor at which the pipeline refuses the alignment.
  vidkompy::Placement off;
  off.x = fx + 95, off.y = fy - 58, off.scale = 1.0;
  ASSERT_TRUE(vidkompy::recheck_placement(ctx, bgi, fgi, bg, fg, time, off, moved, &agree).ok());
  EXPECT_LT(agree, vidkompy::kRecheckFloor);
}

namespace {

// polish_placement of p on a `seconds` long, 25 fps bg of the moving geq pattern `lum` and the fg made of it by the
// filters `fg_vf`, each fg frame matched to the bg frame of its own moment. With `gop`, both have a keyframe every
// gop frames, and the polish is handed the alignment's reels (for the frames' timestamps and keyframes); `log`
// gets its debug lines.
void polish_on_pattern(const std::string& lum, const std::string& fg_vf, vidkompy::Placement& p, double& moved,
                       int seconds = 2, int gop = 0, std::ostringstream* log = nullptr) {
  vt::TempDir dir;
  const std::string bg = dir / "bg.mp4", fg = dir / "fg.mp4";
  const std::string keys = gop ? " -g " + std::to_string(gop) + " -sc_threshold 0" : "";
  const std::string x264 = " -pix_fmt yuv420p -c:v libx264 -crf 12" + keys + " ";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i " + quote("nullsrc=s=480x272:r=25,geq=lum='" + lum + "':cb=128:cr=128") +
                         " -t " + std::to_string(seconds) + x264 + quote(bg)));
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(bg) + " -vf " + fg_vf + x264 + quote(fg)));
  vidkompy::VideoInfo bgi, fgi;
  ASSERT_TRUE(vidkompy::probe(bg, bgi).ok());
  ASSERT_TRUE(vidkompy::probe(fg, fgi).ok());
  vidkompy::TimeMap time;
  for (int i = 0; i < 25 * seconds; ++i) time.map.push_back(i), time.similarity.push_back(0.99f);
  std::ostringstream discard;
  vidkompy::Context ctx = vt::logging_context(log ? *log : discard);
  vidkompy::Reel bg_reel, fg_reel;
  if (gop) {
    ASSERT_TRUE(vidkompy::read_reel(ctx, bgi, 32, 18, 0, 1, bg_reel).ok());
    ASSERT_TRUE(vidkompy::read_reel(ctx, fgi, 32, 18, 0, 1, fg_reel).ok());
  }
  const vidkompy::Placement before = p;
  ASSERT_TRUE(vidkompy::polish_placement(ctx, bgi, fgi, time, p, bg_reel, fg_reel).ok());
  moved = vidkompy::px_apart(p, before, fgi);
}

}  // namespace

// polish_placement re-fits at full resolution on pairs showing one moment: a placement 0.4 px off along a tilt
// (which the map reads as 0.13 of a frame, and which cost random9_s15 in bench/pairs 18% of its exact frames)
// comes back to within a tenth of a pixel.
TEST(PolishPlacement, FindsTheTenthOfAPixel) {
  vidkompy::Placement p;
  p.x = 100, p.y = 60.4, p.scale = 1.0;
  double moved = 0;
  // A pattern moving up 3 px a frame, and fg a crop of it at (100, 60).
  ASSERT_NO_FATAL_FAILURE(polish_on_pattern("128+60*sin(X/7+N)*cos((Y+3*N)/5)+50*sin(X*Y/900)",
                                            "crop=240:140:100:60:exact=1", p, moved));
  EXPECT_NEAR(p.x, 100, 0.1);
  EXPECT_NEAR(p.y, 60, 0.1);
  EXPECT_NEAR(moved, 0.4, 0.1);
}

// The polish decodes both videos again from the keyframe before its first pair, so it takes its pairs from the
// stretch that decodes least: here, with a keyframe every 20 frames and the default stretch starting at frame 10
// of 100, the one starting at the keyframe of frame 20. The placement is found as well there.
TEST(PolishPlacement, TakesItsPairsWhereTheyDecodeLeast) {
  vidkompy::Placement p;
  p.x = 100, p.y = 60.4, p.scale = 1.0;
  double moved = 0;
  std::ostringstream log;
  ASSERT_NO_FATAL_FAILURE(polish_on_pattern("128+60*sin(X/7+N)*cos((Y+3*N)/5)+50*sin(X*Y/900)",
                                            "crop=240:140:100:60:exact=1", p, moved, 4, 20, &log));
  EXPECT_NE(log.str().find("full-size pairs from fg frames 20-49 (bg 20-49); decoding from keyframes fg 20, bg 20"),
            std::string::npos)
      << log.str();
  EXPECT_EQ(log.str().find("by seeking"), std::string::npos) << log.str();
  EXPECT_NEAR(p.x, 100, 0.1);
  EXPECT_NEAR(p.y, 60, 0.1);
}

// A placement several pixels and 2% of scale off (the reels' fit of a cockatoo pair was 1% too large, 5.7 px off):
// Gauss-Newton on the full-size pairs goes the whole way, since there it fits clearly better than the start.
TEST(PolishPlacement, TakesAFarMoveThatFitsClearlyBetter) {
  vidkompy::Placement p;
  p.x = 98, p.y = 54, p.scale = 2.04;
  double moved = 0;
  // fg: the 240x140 crop at (101, 57), halved: scale 2 in bg.
  ASSERT_NO_FATAL_FAILURE(polish_on_pattern("128+60*sin(X/9+N)*cos((Y+3*N)/8)+50*sin(X*Y/1500)",
                                            "crop=240:140:101:57:exact=1,scale=120:70:flags=area", p, moved));
  EXPECT_NEAR(p.x, 101, 0.3);
  EXPECT_NEAR(p.y, 57, 0.3);
  EXPECT_NEAR(p.scale, 2.0, 0.004);
}
