// Temporal alignment: fit_line, match_frames and thumb_ncc on synthesized features; the temporal stage and the
// binary on generated bg/fg pairs whose ground truth (the bg frames showing each fg frame's moment) is exact.
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numbers>
#include <random>
#include <sstream>

#include "pairgen.hpp"
#include "testutil.hpp"
#include "vidkompy/pipeline.hpp"
#include "vidkompy/temporal.hpp"

using namespace vidkompy;

namespace {

// ---------------------------------------------------------------------------------------------------------
// Synthesized features: a continuous "source" where nearby moments look alike. Embeddings are cos/sin pairs of
// random frequencies (so the inner product of two moments depends only on their distance and is largest at 0);
// thumbnails are per-pixel sinusoids with a little per-frame noise.

struct SynthSource {
  int pairs = 64;
  std::vector<double> ew, ep, tw, tp;
  explicit SynthSource(unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> w(0.08, 0.6), ph(0, 2 * std::numbers::pi);
    for (int d = 0; d < pairs; ++d) ew.push_back(w(rng)), ep.push_back(ph(rng));
    for (int p = 0; p < kThumb * kThumb; ++p) tw.push_back(w(rng)), tp.push_back(ph(rng));
  }
  // Appends the frame showing moment t: its embedding that of moment t + emb_shift (an embedder biased one way),
  // its thumbnail with noise of up to +-amp gray levels.
  void add(Features& f, double t, std::mt19937& noise, double emb_shift = 0, int amp = 3) const {
    f.dim = 2 * pairs;
    const double norm = std::sqrt(double(pairs));
    for (int d = 0; d < pairs; ++d) {
      f.emb.push_back(float(std::cos(ew[d] * (t + emb_shift) + ep[d]) / norm));
      f.emb.push_back(float(std::sin(ew[d] * (t + emb_shift) + ep[d]) / norm));
    }
    std::uniform_int_distribution<int> n(-amp, amp);
    for (int p = 0; p < kThumb * kThumb; ++p)
      f.thumbs.push_back(uint8_t(std::clamp(int(std::lround(128 + 100 * std::sin(tw[p] * t + tp[p]))) + n(noise), 0, 255)));
  }
};

// Nearest bg frames (by moment) for each fg frame.
std::vector<std::vector<int64_t>> nearest(const std::vector<int>& fg, const std::vector<int>& bg) {
  std::vector<std::vector<int64_t>> best(fg.size());
  for (size_t i = 0; i < fg.size(); ++i) {
    int d = 1 << 30;
    for (int b : bg) d = std::min(d, std::abs(b - fg[i]));
    for (size_t j = 0; j < bg.size(); ++j)
      if (std::abs(bg[j] - fg[i]) == d) best[i].push_back(int64_t(j));
  }
  return best;
}

bool contains(const std::vector<int64_t>& v, int64_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// Every fg frame matched to one of the bg frames nearest its moment.
void expect_on_nearest(const std::vector<int>& fgm, const std::vector<int>& bgm, const std::vector<int64_t>& map) {
  const auto best = nearest(fgm, bgm);
  for (size_t i = 0; i < fgm.size(); ++i)
    EXPECT_TRUE(contains(best[i], map[i])) << "fg " << i << " (moment " << fgm[i] << "): got bg " << map[i]
                                           << ", want bg " << best[i].front();
}

// Whether `got` is one of the nearest bg frames or next to one.
bool within_one(const std::vector<int64_t>& best, int64_t got) {
  return std::any_of(best.begin(), best.end(), [&](int64_t b) { return std::abs(b - got) <= 1; });
}

bool monotonic(const std::vector<int64_t>& map) {
  for (size_t i = 1; i < map.size(); ++i)
    if (map[i] < map[i - 1]) return false;
  return true;
}

std::vector<uint8_t> random_thumb(unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u(0, 255);
  std::vector<uint8_t> t(kThumb * kThumb);
  for (auto& x : t) x = uint8_t(u(rng));
  return t;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// fit_line

namespace {

// Candidates for n fg frames whose true bg frame is round(slope * i + offset); a fraction `wrong` of them has a
// random wrong frame ranked first (the true one second); the rest are neighbours and random frames.
Candidates candidates(int n, int m, double slope, double offset, double wrong, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<int64_t> any(0, m - 1);
  Candidates c;
  c.k = 10;
  for (int i = 0; i < n; ++i) {
    const int64_t truth = std::clamp<int64_t>(std::llround(slope * i + offset), 0, m - 1);
    std::vector<int64_t> list;
    if (u(rng) < wrong) list = {any(rng), truth};
    else list = {truth, std::min<int64_t>(truth + 1, m - 1), std::max<int64_t>(truth - 1, 0)};
    while (int(list.size()) < c.k) list.push_back(any(rng));
    for (int r = 0; r < c.k; ++r) {
      c.index.push_back(list[size_t(r)]);
      c.sim.push_back(float(0.95 - 0.05 * r));
    }
  }
  return c;
}

}  // namespace

TEST(FitLine, RecoversSlopeAndOffsetDespiteOutliers) {
  // 30 fps fg over 25 fps bg: slope 25/30; 30% of the fg frames have a wrong best candidate.
  const double slope = 25.0 / 30.0, offset = 37.25;
  const Candidates c = candidates(300, 400, slope, offset, 0.3, 1);
  const TimeLine line = fit_line(c, slope);
  EXPECT_NEAR(line.slope, slope, 0.002);
  EXPECT_NEAR(line.offset, offset, 0.3);
  EXPECT_GE(line.inliers, 180);  // about 70% of 300 agree
  // Integer bg frame of the line = the true frame for every fg frame.
  int off = 0;
  for (int i = 0; i < 300; ++i) off += std::llround(line.slope * i + line.offset) != std::llround(slope * i + offset);
  EXPECT_LE(off, 3);
}

TEST(FitLine, KeepsTheNominalSlope) {
  // Candidates that run 1% fast (an embedder leaning one way, or drift): the slope stays the frame rates'; the
  // offset is that of the line through their middle. match_frames decides about drift, on exact matches.
  const double nominal = 25.0 / 30.0, slope = nominal * 1.01, offset = -12.5;
  const Candidates c = candidates(300, 400, slope, offset, 0.3, 2);
  const TimeLine line = fit_line(c, nominal);
  EXPECT_DOUBLE_EQ(line.slope, nominal);
  EXPECT_NEAR(line.offset, offset + (slope - nominal) * 150, 1.0);
}

TEST(FitLine, NegativeOffsetWhenFgStartsFirst) {
  // fg starts 50 bg frames before bg: the first fg frames have only clamped candidates (bg frame 0) or noise.
  const double slope = 0.8, offset = -50;
  Candidates c = candidates(400, 300, slope, offset, 0.3, 3);
  const TimeLine line = fit_line(c, slope);
  EXPECT_NEAR(line.slope, slope, 0.002);
  EXPECT_NEAR(line.offset, offset, 0.5);
}

// ---------------------------------------------------------------------------------------------------------
// match_frames on synthesized features

TEST(MatchFrames, ExactMapAcrossRatesWithClamping) {
  // Moments at 60 per second. bg: 24 fps over moments [100, 500); fg: 30 fps over [40, 560), so fg starts 1 s
  // before bg and ends 1 s after it.
  const SynthSource s(7);
  std::mt19937 noise(8);
  std::vector<int> bgm, fgm;
  for (int j = 0;; ++j) {
    const int t = 100 + (5 * j + 1) / 2;  // round half up of 2.5 j
    if (t >= 500) break;
    bgm.push_back(t);
  }
  for (int i = 0; 40 + 2 * i < 560; ++i) fgm.push_back(40 + 2 * i);
  Features bg, fg;
  for (int t : bgm) s.add(bg, t, noise);
  for (int t : fgm) s.add(fg, t, noise);
  ASSERT_EQ(bg.frames(), 160u);
  ASSERT_EQ(fg.frames(), 260u);

  const MatchResult r = match_frames(fg, bg, 24.0 / 30.0, MatchOptions{});
  ASSERT_EQ(r.time.map.size(), fgm.size());
  EXPECT_NEAR(r.line.slope, 0.8, 0.005);
  EXPECT_NEAR(r.line.offset, -24.0, 0.5);  // fg moment 40 + 2i = bg moment 100 + 2.5 j
  // fg moments 40..98 come before bg's first (100); 500..558 after its last (498).
  EXPECT_EQ(r.time.clamped_start, 30);
  EXPECT_EQ(r.time.clamped_end, 30);
  EXPECT_TRUE(monotonic(r.time.map));
  const auto best = nearest(fgm, bgm);
  for (size_t i = 0; i < fgm.size(); ++i)
    EXPECT_TRUE(contains(best[i], r.time.map[i])) << "fg " << i << " (moment " << fgm[i] << "): got bg "
                                                  << r.time.map[i] << " (moment " << bgm[size_t(r.time.map[i])] << ")";
  for (int i = 0; i < 30; ++i) EXPECT_EQ(r.time.map[size_t(i)], 0);
  for (size_t i = 230; i < 260; ++i) EXPECT_EQ(r.time.map[i], 159);
  EXPECT_GT(r.time.confidence, 0.9);
}

TEST(MatchFrames, EqualRatesInsideGiveTheShiftedIdentity) {
  const SynthSource s(11);
  std::mt19937 noise(12);
  Features bg, fg;
  for (int j = 0; j < 200; ++j) s.add(bg, 3.0 * j, noise);
  for (int i = 0; i < 120; ++i) s.add(fg, 3.0 * (i + 43), noise);
  const MatchResult r = match_frames(fg, bg, 1.0, MatchOptions{});
  ASSERT_EQ(r.time.map.size(), 120u);
  EXPECT_EQ(r.time.clamped_start, 0);
  EXPECT_EQ(r.time.clamped_end, 0);
  for (size_t i = 0; i < 120; ++i) EXPECT_EQ(r.time.map[i], int64_t(i) + 43) << "fg " << i;
  EXPECT_GT(r.time.confidence, 0.95);
}

// Heavy noise on every thumbnail (no frame matches at the coding floor with a margin) and fg's embeddings biased
// by 1.5 bg frames, so the line from the k-NN runs that far off: the content profile brings it back.
TEST(MatchFrames, NoisyPairFollowsTheContentProfile) {
  const SynthSource s(41);
  std::mt19937 noise(42);
  Features bg, fg;
  std::vector<int> bgm, fgm;
  for (int j = 0; j < 300; ++j) bgm.push_back(6 * j);         // 25 fps over a 150 per second moment clock
  for (int i = 0; i < 200; ++i) fgm.push_back(300 + 5 * i);   // 30 fps, 2 s in
  for (int t : bgm) s.add(bg, t, noise, 0, 90);
  for (int t : fgm) s.add(fg, t, noise, 9, 90);
  MatchOptions opt;
  opt.fg_fps = 30, opt.bg_fps = 25;
  const MatchResult r = match_frames(fg, bg, 25.0 / 30.0, opt);
  EXPECT_NEAR(r.line.offset, 50.0, 0.5);  // bg moment 6 j = fg moment 300 + 5 i
  const auto best = nearest(fgm, bgm);
  size_t exact = 0, within1 = 0;
  for (size_t i = 0; i < fgm.size(); ++i) {
    exact += contains(best[i], r.time.map[i]);
    within1 += within_one(best[i], r.time.map[i]);
  }
  EXPECT_GE(double(exact) / double(fgm.size()), 0.9);
  EXPECT_EQ(within1, fgm.size());
}

// An edited fg whose stretches match bg unequally well: the main one nearly to the pixel (a still sky with fg's
// subtitles left out: 1 - NCC 0.0006 on bench/pairs/overlay6), the others as well as moving, textured footage
// does (0.003-0.05 there; here noise of +-20 levels). The other stretches were refused as pieces for not coming
// within 3x of the main one's floor (overlay6: 0% exact, placed 9 px off or refused); a stretch that fits ten times
// better than the main line does there is a stretch found again all the same.
TEST(MatchFrames, StretchesFoundAgainThoughTheMainOneMatchesFarBetter) {
  const SynthSource s(77);
  std::mt19937 noise(78);
  Features bg, fg;
  for (int j = 0; j < 300; ++j) s.add(bg, 6 * j, noise, 0, 1);
  std::vector<int64_t> truth;
  for (const auto& [a, b, amp] : std::vector<std::tuple<int, int, int>>{{100, 190, 1}, {20, 60, 20}, {230, 270, 20}})
    for (int j = a; j < b; ++j) s.add(fg, 6 * j, noise, 0, amp), truth.push_back(j);
  MatchOptions opt;
  opt.fg_fps = opt.bg_fps = 25;
  const MatchResult r = match_frames(fg, bg, 1.0, opt);
  ASSERT_EQ(r.time.map.size(), truth.size());
  size_t exact = 0;
  for (size_t i = 0; i < truth.size(); ++i) exact += r.time.map[i] == truth[i];
  EXPECT_GE(double(exact) / double(truth.size()), 0.99);
}

// fg starts 20 frames before bg on a near-still view, and bg's frames 20-29 come back near it (a camera shaking
// over gravel, random12_13 in bench/pairs): those fg frames fit that stretch at about 2.5x the coding floor, and
// bg's first frame at about 7x. A look-alike at another moment, not a stretch of fg found again: they show bg's
// first frame. (Taken as a stretch before: 14 frames off.)
TEST(MatchFrames, ALookAlikeBeforeBgStartsIsNoStretch) {
  const SynthSource s(79);
  std::mt19937 noise(80);
  auto moment = [](int k) {  // of source frame k; bg shows k = 20 ... 139, fg k = 0 ... 119
    if (k < 20) return 1000 + 0.01 * k;
    if (k >= 40 && k < 50) return 1000.17 + 0.01 * (k - 35);
    return 1000.5 + 6.0 * (k - 20);
  };
  Features bg, fg;
  for (int k = 20; k < 140; ++k) s.add(bg, moment(k), noise, 0, 3);
  for (int k = 0; k < 120; ++k) s.add(fg, moment(k), noise, 0, 3);
  MatchOptions opt;
  opt.fg_fps = opt.bg_fps = 25;
  const MatchResult r = match_frames(fg, bg, 1.0, opt);
  ASSERT_EQ(r.time.map.size(), 120u);
  for (int i = 0; i < 120; ++i) EXPECT_EQ(r.time.map[size_t(i)], std::max(0, i - 20)) << "fg " << i;
  EXPECT_EQ(r.time.clamped_start, 20);
  EXPECT_TRUE(r.pieces.empty());
}

// While the picture moves, fg's embeddings lean ahead by 1% of the moment (real ones strayed by up to 0.9% on
// pairs without drift), so the k-NN candidates fit a line 1% too steep; the last 60 fg frames show a still
// picture, where only the line can say which bg frame shows their moment. The slope must be the frame rates'.
TEST(MatchFrames, LeaningEmbeddingsDoNotTiltTheLine) {
  const SynthSource s(51);
  std::mt19937 noise(52);
  Features bg, fg;
  std::vector<int> bgm, fgm;
  const int still = 300 + 5 * 140;  // the picture stops changing at this moment
  for (int j = 0; j < 300; ++j) bgm.push_back(6 * j);
  for (int i = 0; i < 200; ++i) fgm.push_back(300 + 5 * i);
  for (int t : bgm) s.add(bg, std::min(t, still), noise);
  for (int t : fgm) s.add(fg, std::min(t, still), noise, t < still ? 0.01 * t : 0.0);
  const MatchResult r = match_frames(fg, bg, 25.0 / 30.0, MatchOptions{});
  EXPECT_NEAR(r.line.slope, 25.0 / 30.0, 0.001);
  expect_on_nearest(fgm, bgm, r.time.map);
}

// The content runs 1% faster than the frame rates say (a slightly wrong container rate): the exact matches show
// it, and the line follows them.
TEST(MatchFrames, FollowsDriftShownByExactMatches) {
  const SynthSource s(71);
  std::mt19937 noise(72);
  Features bg, fg;
  std::vector<double> bgm, fgm;
  for (int j = 0; j < 400; ++j) bgm.push_back(6.0 * j);
  for (int i = 0; i < 300; ++i) fgm.push_back(120 + 5.05 * i);
  for (double t : bgm) s.add(bg, t, noise);
  for (double t : fgm) s.add(fg, t, noise);
  const MatchResult r = match_frames(fg, bg, 25.0 / 30.0, MatchOptions{});
  EXPECT_NEAR(r.line.slope, 5.05 / 6.0, 0.001);
  for (size_t i = 0; i < fgm.size(); ++i) {
    const double want = fgm[i] / 6.0;  // the bg frame nearest in time (ties: either)
    EXPECT_LE(std::abs(double(r.time.map[i]) - want), 0.5 + 1e-9) << "fg " << i << ": got bg " << r.time.map[i]
                                                                  << ", moment " << want << " in bg frames";
  }
}

// A near-still shot (random9_s4 in bench/pairs): the embeddings cannot tell its moments apart, so their k-NN
// vote lands anywhere; the thumbnails can, and overrule it.
TEST(MatchFrames, ThumbnailsOverruleAVoteTheEmbeddingsCannotMake) {
  const SynthSource s(81);
  std::mt19937 noise(82);
  Features bg, fg;
  std::vector<int> bgm, fgm;
  for (int j = 0; j < 41; ++j) bgm.push_back(25 * j);
  for (int i = 0; i < 34; ++i) fgm.push_back(25 * int(std::lround(8.6 + 0.96 * i)));  // bg's moments, as converted
  for (int t : bgm) s.add(bg, t, noise);
  for (int t : fgm) s.add(fg, t, noise);
  std::normal_distribution<float> jitter(0, 0.02f);
  for (Features* f : {&bg, &fg})
    for (size_t i = 0; i < f->frames(); ++i) {
      float* e = &f->emb[i * size_t(f->dim)];
      double norm = 0;
      for (int d = 0; d < f->dim; ++d) e[d] = (d == 0 ? 1.0f : 0.0f) + jitter(noise), norm += double(e[d]) * e[d];
      for (int d = 0; d < f->dim; ++d) e[d] = float(e[d] / std::sqrt(norm));
    }
  const MatchResult r = match_frames(fg, bg, 24.0 / 25.0, MatchOptions{});
  EXPECT_NEAR(r.line.offset, 8.6, 1.0);
  expect_on_nearest(fgm, bgm, r.time.map);
}

// A 30 fps source shown frame for frame by bg and at 50 fps by fg, slow enough that under fg's coding noise no
// frame matches clearly, and the embeddings' vote half a source frame early: the line must round as the conversion
// did, where the costs of all frames together say so (random11_17 in bench/pairs, fg at CRF 32: 96.1% exact;
// here 56 of 200 frames off before).
TEST(MatchFrames, TheLineRoundsWhereTheCostsSay) {
  const SynthSource s(95);
  std::mt19937 noise(96);
  Features bg, fg;
  std::vector<int> bgm, fgm;
  for (int j = 0; j < 150; ++j) bgm.push_back(j);
  for (int i = 0; i < 200; ++i) fgm.push_back(10 + int(std::floor(0.6 * i + 0.6)));
  for (int t : bgm) s.add(bg, 0.08 * t, noise, 0, 3);
  for (int t : fgm) s.add(fg, 0.08 * t, noise, -0.08 * 0.5, 12);
  const MatchResult r = match_frames(fg, bg, 0.6, MatchOptions{});
  expect_on_nearest(fgm, bgm, r.time.map);
}

// A 24 fps film shown at 48 fps by bg (each film frame twice) and at 30 fps by fg, moving unevenly (every third
// film frame a longer step), the embeddings' vote two bg frames late: the costs read between bg frames move the
// line back, but not to where it rounds right, and how it rounds decides the rest (random12_2 in bench/pairs: 4
// of 100 frames a bg frame early; here 3 of 120 before).
TEST(MatchFrames, TheLineRoundsAfterTheCostsMoveIt) {
  const SynthSource s(99);
  std::mt19937 noise(100);
  Features bg, fg;
  std::vector<int> bgm, fgm;
  for (int j = 0; j < 240; ++j) bgm.push_back(j / 2);
  for (int i = 0; i < 120; ++i) fgm.push_back(20 + int(std::floor(0.8 * i + 0.5)));
  auto moment = [](int t) { return 0.1 * (t + 0.6 * (t % 3 == 0)); };
  for (int t : bgm) s.add(bg, moment(t), noise, 0, 3);
  for (int t : fgm) s.add(fg, moment(t), noise, 0.05, 6);
  const MatchResult r = match_frames(fg, bg, 1.6, MatchOptions{});
  expect_on_nearest(fgm, bgm, r.time.map);
}

// A near-still shot under coding noise, the embeddings' vote 5 frames late (random11_10 in bench/pairs: a crop of
// the ground, 0% exact): each frame alone cannot tell its moment, and the line 5 frames off costs only 1.3 times
// the right one, short of the half that overrules a vote; over all frames together that is many standard errors.
// On a re-match (the placement re-fitted on matched frames) the thumbnails' scan overrules the vote.
TEST(MatchFrames, ThumbnailsOverruleAVoteOnANearStillShot) {
  const SynthSource s(91);
  std::mt19937 noise(92);
  Features bg, fg;
  std::vector<int> bgm, fgm;
  for (int j = 0; j < 120; ++j) bgm.push_back(j);
  for (int i = 0; i < 80; ++i) fgm.push_back(20 + i);
  for (int t : bgm) s.add(bg, 0.02 * t, noise, 0, 6);
  for (int t : fgm) s.add(fg, 0.02 * t, noise, 0.1, 6);
  MatchOptions opt;
  opt.refitted = true;
  const MatchResult r = match_frames(fg, bg, 1.0, opt);
  EXPECT_NEAR(r.line.offset, 20, 1.0);
  for (size_t i = 0; i < fgm.size(); ++i) EXPECT_LE(std::abs(r.time.map[i] - (20 + int64_t(i))), 1) << "fg " << i;
}

TEST(MatchFrames, UnrelatedPicturesGiveLowConfidence) {
  const SynthSource a(21), b(22);
  std::mt19937 noise(23);
  Features bg, fg;
  for (int j = 0; j < 100; ++j) a.add(bg, 2.0 * j, noise);
  for (int i = 0; i < 100; ++i) b.add(fg, 2.0 * i, noise);
  const MatchResult r = match_frames(fg, bg, 1.0, MatchOptions{});
  EXPECT_TRUE(monotonic(r.time.map));
  EXPECT_LT(r.time.confidence, kTemporalThreshold);
}

// ---------------------------------------------------------------------------------------------------------
// fit_cadence: both videos made from one source by showing, in each frame, the source frame nearest its time.

namespace {

// Source frame shown by frame k of a conversion from src_fps to fps starting at source frame `first`, the way
// ffmpeg's fps filter and mkpair.py pick it (round half up).
int64_t shown(int64_t k, double src_fps, double fps, int64_t first) {
  return first + int64_t(std::floor(double(k) * src_fps / fps + 0.5 + 1e-9));
}

// A SynthSource of `rate` frames a second (frame k at moment speed x k), converted to bg's and fg's rates as
// `shown` does: both videos' features and the source frame of each of their frames. Thumbnail noise up to `amp`
// levels, and `amp3` in every third frame (as x264 codes some frame types at a higher quantiser).
struct Converted {
  struct Source {
    unsigned seed;
    double rate, speed;
  };
  struct Video {
    double fps;
    int frames;
    int64_t first;  // its first frame's source frame
    int amp, amp3 = -1;
  };
  Features bg, fg;
  std::vector<int> bgm, fgm;
  Converted(const Source& src, const Video& b, const Video& f) {
    const SynthSource s(src.seed);
    std::mt19937 noise(src.seed + 1);
    for (const auto& [v, feat, moments] : {std::tie(b, bg, bgm), std::tie(f, fg, fgm)})
      for (int64_t i = 0; i < v.frames; ++i) {
        moments.push_back(int(shown(i, src.rate, v.fps, v.first)));
        s.add(feat, src.speed * moments.back(), noise, 0, i % 3 == 2 && v.amp3 >= 0 ? v.amp3 : v.amp);
      }
  }
};

struct Conversion {
  std::vector<Shown> exact;                 // fg frames whose source frame bg shows, with the bg frames showing it
  std::vector<int64_t> between;             // fg frames whose source frame bg lacks
  std::vector<std::vector<int64_t>> truth;  // per fg frame: the bg frames showing the nearest source frame
  Changes changes;                          // consecutive frames showing different source frames
  TimeLine line;
};

Conversion convert(double src_fps, double bg_fps, int64_t bg_first, int64_t bg_n, double fg_fps, int64_t fg_first,
                   int64_t fg_n) {
  Conversion c;
  std::vector<int> bs, fs;
  for (int64_t j = 0; j < bg_n; ++j) bs.push_back(int(shown(j, src_fps, bg_fps, bg_first)));
  for (int64_t i = 0; i < fg_n; ++i) fs.push_back(int(shown(i, src_fps, fg_fps, fg_first)));
  c.truth = nearest(fs, bs);
  double sum = 0, cnt = 0;
  for (int64_t i = 0; i < fg_n; ++i) {
    const std::vector<int64_t>& best = c.truth[size_t(i)];
    const bool shows = bs[size_t(best[0])] == fs[size_t(i)];
    // As the temporal stage sees them: a frame bg shows twice or thrice matches all of them alike (longer runs
    // are taken for a still shot).
    if (shows && best.size() <= 3) c.exact.push_back({i, best.front(), best.back()});
    if (shows) sum += 0.5 * double(best.front() + best.back()) - bg_fps / fg_fps * double(i), ++cnt;
    if (!shows) c.between.push_back(i);
  }
  for (int64_t i = 0; i + 1 < fg_n; ++i)
    if (fs[size_t(i)] != fs[size_t(i + 1)]) c.changes.fg.push_back(i);
  for (int64_t j = 0; j + 1 < bg_n; ++j)
    if (bs[size_t(j)] != bs[size_t(j + 1)]) c.changes.bg.push_back(j);
  c.line = {bg_fps / fg_fps, cnt ? sum / cnt : 0.0, int(cnt)};
  return c;
}

// The bg frames the cadence names for every fg frame, near the line, are among those showing its source frame.
void expect_names_truth(const Cadence& c, const Conversion& v) {
  for (size_t i = 0; i < v.truth.size(); ++i) {
    const auto [jl, jh] = c.bg_frames(int64_t(i), std::llround(v.line.slope * double(i) + v.line.offset));
    EXPECT_TRUE(contains(v.truth[i], jl) && contains(v.truth[i], jh)) << "fg " << i << ": got " << jl << ".." << jh;
  }
}

}  // namespace

TEST(FitCadence, FindsTheFilmSourceOfA25And2997FpsPair) {
  // Big Buck Bunny's case: a 24 fps film shown at 25 fps (bg) and at 30000/1001 (fg), fg starting 2 s later.
  const double ntsc = 30000.0 / 1001;
  const Conversion v = convert(24, 25, 48, 300, ntsc, 96, 280);
  ASSERT_GT(v.exact.size(), 200u);
  // What the line alone says is wrong on a good share of frames: both conversions round.
  size_t line_wrong = 0;
  for (size_t i = 0; i < v.truth.size(); ++i)
    line_wrong += !contains(v.truth[i], std::llround(v.line.slope * double(i) + v.line.offset));
  EXPECT_GT(line_wrong, 20u);
  const Cadence c = fit_cadence(v.exact, v.between, v.line, ntsc, 25);
  EXPECT_DOUBLE_EQ(c.rate, 24);
  for (size_t i = 0; i < v.truth.size(); ++i) {
    const auto [jl, jh] = c.bg_frames(int64_t(i), std::llround(v.line.slope * double(i) + v.line.offset));
    EXPECT_EQ(jl, v.truth[i].front()) << "fg " << i;
    EXPECT_EQ(jh, v.truth[i].back()) << "fg " << i;
  }
}

TEST(FitCadence, FindsA60FpsSourceFromFramesBgLacks) {
  // bg at 24 and fg at 30 fps from a 60 fps source: bg lacks the source frames of a fifth of fg's frames, and the
  // nearest of bg's frames is then the one to show.
  const Conversion v = convert(60, 24, 0, 96, 30, 20, 100);
  ASSERT_FALSE(v.between.empty());
  const Cadence c = fit_cadence(v.exact, v.between, v.line, 30, 24);
  EXPECT_DOUBLE_EQ(c.rate, 60);
  expect_names_truth(c, v);
}

TEST(FitCadence, FramesBetweenDoNotCountWhereBgShowsEverySourceFrame) {
  // bg and fg both at 25 fps from a 24 fps film, fg starting 10.5 s in: bg shows every source frame, so fg frames
  // that look like none of bg's (a cut, a flash, heavy coding) are something else, not evidence against the
  // cadence. (Counted, four such frames among 98 exact ones rejected it on a real pair, and the line put 12% of
  // its frames one off.)
  const Conversion v = convert(24, 25, 0, 600, 25, 252, 300);
  ASSERT_TRUE(v.between.empty());
  const std::vector<int64_t> odd = {20, 40, 90, 130, 170, 200, 230, 270};
  const Cadence c = fit_cadence(v.exact, odd, v.line, 25, 25);
  EXPECT_DOUBLE_EQ(c.rate, 24);
  expect_names_truth(c, v);
}

TEST(FitCadence, PredictsFramesBetweenTheExactMatches) {
  // bg at 29.97 and fg at 23.976 fps from a 24 fps film: fg's phase against the film creeps by a thousandth of a
  // source frame a frame. Where no fg frame matched exactly (here 440-510, a slow passage in the real pair) a
  // range of phases fits the rest; the conversions' own phase (both start on a source frame and round to the
  // nearest, half up) is in it and holds there too. The middle of the range put 11 frames of the real pair one
  // source frame late.
  Conversion v = convert(24, 30000.0 / 1001, 0, 1000, 24000.0 / 1001, 96, 600);
  v.exact.erase(
      std::remove_if(v.exact.begin(), v.exact.end(), [](const Shown& e) { return e.fg >= 440 && e.fg <= 510; }),
      v.exact.end());
  ASSERT_GT(v.exact.size(), 300u);
  const Cadence c = fit_cadence(v.exact, v.between, v.line, 24000.0 / 1001, 30000.0 / 1001);
  EXPECT_DOUBLE_EQ(c.rate, 24);
  expect_names_truth(c, v);
}

TEST(FitCadence, FindsTheFilmSourceOfTwoRatesAboveIt) {
  // random8_r0 in bench/pairs: a 24 fps film at 50 fps (bg) and 60 fps (fg). Both repeat every source frame, so
  // fg frames match two or three bg frames alike and none once; and a 48 fps source (or bg's own 50) explains
  // "one of these" about as well. What tells 24: where either video changes its picture, and bg's repeats.
  const Conversion v = convert(24, 50, 27, 600, 60, 40, 500);
  ASSERT_GT(v.exact.size(), 400u);
  const Cadence c = fit_cadence(v.exact, v.between, v.line, 60, 50, v.changes);
  EXPECT_DOUBLE_EQ(c.rate, 24);
  expect_names_truth(c, v);
  // Where the picture changes slowly a change passes for a repeat: here one run in five reaches into the next
  // source frame. A 12 fps source then explains the runs best; the clear changes of both videos rule it out.
  Conversion noisy = v;
  for (size_t e = 0; e < noisy.exact.size(); e += 5) noisy.exact[e].hi += 1;
  EXPECT_DOUBLE_EQ(fit_cadence(noisy.exact, noisy.between, noisy.line, 60, 50, noisy.changes).rate, 24);
  EXPECT_NE(fit_cadence(noisy.exact, noisy.between, noisy.line, 60, 50).rate, 24);  // without them
}

TEST(FitCadence, NoneWhereNoCadenceFits) {
  // Matches on the line: a cadence, if one is kept, says what the line says.
  TimeLine line{25.0 / 30, 7.3, 0};
  std::vector<Shown> exact;
  for (int64_t i = 0; i < 300; ++i) {
    const int64_t j = std::llround(line.slope * double(i) + line.offset);
    exact.push_back({i, j, j});
  }
  const Cadence c = fit_cadence(exact, {}, line, 30, 25);
  if (c.rate > 0) {
    for (const Shown& e : exact) EXPECT_EQ(c.bg_frames(e.fg, e.lo), std::make_pair(e.lo, e.lo)) << "fg " << e.fg;
  }
  // Matches scattered by a frame either way at random: no cadence explains 99% of them.
  std::mt19937 rng(5);
  for (Shown& e : exact) e.lo = e.hi = e.lo + int64_t(rng() % 3) - 1;
  EXPECT_EQ(fit_cadence(exact, {}, line, 30, 25).rate, 0);
  // Too few matches to tell.
  const Conversion v = convert(24, 25, 0, 30, 30, 0, 20);
  EXPECT_EQ(fit_cadence(v.exact, v.between, v.line, 30, 25).rate, 0);
}

// A 24 fps film at 24 fps (bg) and 30 fps (fg, every fourth source frame twice). Its first half moves fast, which
// gives exact matches and the cadence. In its second half neighbouring source frames differ little, and the
// second copy of each repeated frame leans 60% towards the next source frame (as a P frame coded from its
// neighbours can): the content then prefers the wrong bg frame by less than the coding noise, and only the
// cadence says which bg frame shows the source frame. (With the line's weak pull, 34 of 330 frames went wrong.)
TEST(MatchFrames, SourceCadenceDecidesBelowTheNoise) {
  const SynthSource s(61);
  std::mt19937 noise(62);
  auto content = [](int64_t src) { return src < 150 ? 2.0 * double(src) : 300.0 + 0.2 * double(src - 150); };
  Features bg, fg;
  std::vector<int> bgm, fgm;
  for (int64_t j = 0; j < 300; ++j) bgm.push_back(int(shown(j, 24, 24, 0)));
  for (int64_t i = 0; i < 330; ++i) fgm.push_back(int(shown(i, 24, 30, 20)));
  for (int t : bgm) s.add(bg, content(t), noise);
  for (size_t i = 0; i < fgm.size(); ++i) {
    const bool again = i > 0 && fgm[i] == fgm[i - 1] && fgm[i] >= 150;
    s.add(fg, content(fgm[i]) + (again ? 0.6 * (content(fgm[i] + 1) - content(fgm[i])) : 0.0), noise);
  }
  MatchOptions opt;
  opt.fg_fps = 30, opt.bg_fps = 24;
  const MatchResult r = match_frames(fg, bg, 24.0 / 30.0, opt);
  EXPECT_DOUBLE_EQ(r.cadence.rate, 24);
  expect_on_nearest(fgm, bgm, r.time.map);  // (moments here are source frames)
}

// A slow passage of 24 fps film (each source frame a tenth of the moment clock further), bg at 30 fps with heavy
// noise, fg at 48: no fg frame matches one bg frame clearly, no consecutive frames clearly differ, so fit_cadence
// has nothing to go on, and the line picked a neighbour on 7 of 300 frames. The costs along the whole map still
// favour the film's cadence over the line's rounding, and it decides.
TEST(MatchFrames, SourceCadenceFromTheCostsWhereNoFrameStandsOut) {
  const Converted c({91, 24, 0.1}, {30, 300, 0, 12}, {48, 300, 40, 4});
  MatchOptions opt;
  opt.fg_fps = 48, opt.bg_fps = 30;
  const MatchResult r = match_frames(c.fg, c.bg, 30.0 / 48.0, opt);
  EXPECT_NEAR(r.cadence.rate, 24, 0.03);
  expect_on_nearest(c.fgm, c.bgm, r.time.map);
}

// A 20 fps source at 48 fps in both videos (runs of two and three frames), bg clean, fg with every third frame
// coded noisier (as x264 codes some frame types at a higher quantiser): fg's repeats then differ by 3-4x the
// coding floor, which counted as changes of the picture that the film's cadence misses (12 of 194, over the 5%
// allowed: random13_13 in bench/pairs, 98.9% exact, 3 frames chosen against the cadence). A change must now
// exceed 4x the floor, and the cadence is found.
TEST(MatchFrames, SourceCadenceThroughNoisyRepeats) {
  const Converted c({51, 20, 0.2}, {48, 300, 0, 1}, {48, 260, 15, 3, 5});
  MatchOptions opt;
  opt.fg_fps = 48, opt.bg_fps = 48;
  const MatchResult r = match_frames(c.fg, c.bg, 1.0, opt);
  EXPECT_DOUBLE_EQ(r.cadence.rate, 20);
  expect_on_nearest(c.fgm, c.bgm, r.time.map);
}

TEST(MatchFrames, EmptyInputs) {
  const SynthSource s(31);
  std::mt19937 noise(32);
  Features none, some;
  for (int i = 0; i < 5; ++i) s.add(some, i, noise);
  EXPECT_TRUE(match_frames(none, some, 1.0, MatchOptions{}).time.map.empty());
  const MatchResult r = match_frames(some, none, 1.0, MatchOptions{});
  EXPECT_EQ(r.time.map.size(), 5u);
}

// ---------------------------------------------------------------------------------------------------------
// thumb_ncc

// A regrade by a curve is followed by grade_map's level map; a gain and offset, which NCC takes in its stride, and
// coding noise are left alone. Measured on a 30 over 25 fps Big Buck Bunny
// crop under ffmpeg's strong_contrast curve: 94.2% exact before (no source cadence found), 100% with it.
TEST(LevelMap, UndoesACurveNotAGain) {
  std::mt19937 rng(5);
  std::normal_distribution<float> noise(0, 1.5f);
  std::vector<std::vector<float>> bs, curve, line;
  for (unsigned k = 0; k < 6; ++k) {
    const std::vector<uint8_t> t = random_thumb(200 + k);
    std::vector<float> b, c, l;
    for (const uint8_t v : t) {
      b.push_back(v);
      c.push_back(std::clamp(255.0f * std::pow(v / 255.0f, 2.2f) + noise(rng), 0.0f, 255.0f));
      l.push_back(std::clamp(0.8f * v + 20 + noise(rng), 0.0f, 255.0f));
    }
    bs.push_back(b), curve.push_back(c), line.push_back(l);
  }
  const std::vector<uint8_t> map = vidkompy::grade_map(curve, {}, bs).levels;
  ASSERT_EQ(map.size(), 256u);
  double err = 0, n = 0;
  for (size_t k = 0; k < bs.size(); ++k)
    for (size_t i = 0; i < bs[k].size(); ++i) err += std::abs(map[size_t(curve[k][i])] - bs[k][i]), n += 1;
  EXPECT_LT(err / n, 3.0);
  EXPECT_TRUE(vidkompy::grade_map(line, {}, bs).empty());
  EXPECT_TRUE(vidkompy::grade_map(bs, {}, bs).empty());
}

// grade_map: a grade whose effect on the level depends on the colour (a curve on one channel) is followed by the
// cubic in (level, U, V), which the level map alone cannot; a curve on the level alone needs no cubic; a gain and
// offset needs nothing (NCC takes it in its stride).
TEST(GradeMap, FollowsAGradeThatDependsOnColour) {
  std::mt19937 rng(9);
  std::normal_distribution<float> noise(0, 1.0f);
  std::uniform_int_distribution<int> chroma(60, 196);
  std::normal_distribution<float> unrelated(0, 25.0f);
  std::vector<std::vector<float>> bs, by_colour, by_level, by_gain, half_related;
  std::vector<std::vector<uint8_t>> bcs;
  for (unsigned k = 0; k < 6; ++k) {
    const std::vector<uint8_t> t = random_thumb(300 + k);
    std::vector<uint8_t> c(size_t(2) * kChroma * kChroma);
    for (auto& v : c) v = uint8_t(chroma(rng));
    std::vector<float> b, f1, f2, f3, f4;
    for (size_t i = 0; i < t.size(); ++i) {
      const size_t at = (i / kThumb) * kChroma / kThumb * kChroma + (i % kThumb) * kChroma / kThumb;
      const double y = t[i] / 255.0, u = (c[at] - 128) / 128.0, v = (c[at + kChroma * kChroma] - 128) / 128.0;
      b.push_back(t[i]);
      // Bluish pixels pressed darker, reddish ones lifted: the level moves by hue.
      f1.push_back(std::clamp(float(255 * std::pow(y, 1.0 + 0.6 * u - 0.4 * v)) + noise(rng), 0.0f, 255.0f));
      f2.push_back(std::clamp(float(255 * std::pow(y, 1.8)) + noise(rng), 0.0f, 255.0f));
      f3.push_back(std::clamp(float(0.8 * t[i] + 20) + noise(rng), 0.0f, 255.0f));
      f4.push_back(std::clamp(f1.back() + unrelated(rng), 0.0f, 255.0f));
    }
    bs.push_back(b), bcs.push_back(c), by_colour.push_back(f1), by_level.push_back(f2), by_gain.push_back(f3);
    half_related.push_back(f4);
  }
  auto mean_error = [&](const vidkompy::Grade& g, const std::vector<std::vector<float>>& want) {
    double err = 0, n = 0;
    for (size_t k = 0; k < bs.size(); ++k) {
      std::vector<uint8_t> t(bs[k].begin(), bs[k].end());
      g.apply(t.data(), bcs[k].data());
      for (size_t i = 0; i < t.size(); ++i) err += std::abs(t[i] - want[k][i]), n += 1;
    }
    return err / n;
  };
  const vidkompy::Grade colour = vidkompy::grade_map(bs, bcs, by_colour);
  ASSERT_FALSE(colour.cubic.empty());
  const vidkompy::Grade levels_only = vidkompy::grade_map(bs, {}, by_colour);
  EXPECT_LT(mean_error(colour, by_colour), 0.5 * mean_error(levels_only, by_colour));
  EXPECT_LT(mean_error(colour, by_colour), 4.0);
  const vidkompy::Grade level = vidkompy::grade_map(bs, bcs, by_level);
  EXPECT_TRUE(level.cubic.empty());
  ASSERT_EQ(level.levels.size(), 256u);
  EXPECT_LT(mean_error(level, by_level), 2.0);
  EXPECT_TRUE(vidkompy::grade_map(bs, bcs, by_gain).empty());
  EXPECT_TRUE(vidkompy::grade_map(bs, bcs, bs).empty());
  // The same grade under as much again of something else (pictures that do not show one moment): no grade.
  EXPECT_TRUE(vidkompy::grade_map(bs, bcs, half_related).empty());
}

TEST(ThumbNcc, IdenticalInvertedFlat) {
  const std::vector<uint8_t> a = random_thumb(1);
  std::vector<uint8_t> inv(a.size()), flat(a.size(), 77);
  for (size_t i = 0; i < a.size(); ++i) inv[i] = uint8_t(255 - a[i]);
  const ThumbWeights uniform;
  EXPECT_NEAR(thumb_ncc(a.data(), a.data(), uniform), 1.0, 1e-9);
  EXPECT_NEAR(thumb_ncc(a.data(), inv.data(), uniform), -1.0, 1e-9);
  EXPECT_EQ(thumb_ncc(a.data(), flat.data(), uniform), 0.0);
  EXPECT_EQ(thumb_ncc(flat.data(), a.data(), uniform), 0.0);
  EXPECT_EQ(thumb_ncc(flat.data(), flat.data(), uniform), 0.0);
  // Brightness and contrast do not matter.
  std::vector<uint8_t> dim(a.size());
  for (size_t i = 0; i < a.size(); ++i) dim[i] = uint8_t(20 + a[i] / 2 * 2 / 3);
  EXPECT_GT(thumb_ncc(a.data(), dim.data(), uniform), 0.99);
  // Unrelated random pictures are nearly uncorrelated.
  const std::vector<uint8_t> b = random_thumb(2);
  EXPECT_LT(std::abs(thumb_ncc(a.data(), b.data(), uniform)), 0.15);
}

TEST(ThumbNcc, WeightsActOnlyWhereTheyDiffer) {
  // An 8-pixel band along the edges (a multiple of 4, so it stays separate in the halved pictures that
  // thumb_ncc also compares), and a centred square of about the same number of pixels.
  constexpr int kBand = 8;
  const int kSquare = int(std::lround(std::sqrt(double(kThumb * kThumb - (kThumb - 2 * kBand) * (kThumb - 2 * kBand)))));
  auto in_band = [](int p) {
    const int x = p % kThumb, y = p / kThumb;
    return x < kBand || y < kBand || x >= kThumb - kBand || y >= kThumb - kBand;
  };
  auto in_square = [&](int p) {
    const int x = p % kThumb - (kThumb - kSquare) / 2, y = p / kThumb - (kThumb - kSquare) / 2;
    return x >= 0 && y >= 0 && x < kSquare && y < kSquare;
  };
  // a; edge = a with the band replaced; middle = a with the square replaced.
  const std::vector<uint8_t> a = random_thumb(3), other = random_thumb(4);
  std::vector<uint8_t> edge = a, middle = a;
  for (int p = 0; p < kThumb * kThumb; ++p) {
    if (in_band(p)) edge[size_t(p)] = other[size_t(p)];
    if (in_square(p)) middle[size_t(p)] = other[size_t(p)];
  }
  auto band_weight = [&](float band) {
    std::vector<float> w;
    for (int p = 0; p < kThumb * kThumb; ++p) w.push_back(in_band(p) ? band : 1.0f);
    return ThumbWeights(w);
  };
  const ThumbWeights uniform, heavy = band_weight(4), light = band_weight(0.25f), ignored = band_weight(0);
  const double edge_u = thumb_ncc(a.data(), edge.data(), uniform);
  const double mid_u = thumb_ncc(a.data(), middle.data(), uniform);
  EXPECT_LT(edge_u, 0.9);
  EXPECT_NEAR(edge_u, mid_u, 0.05);  // about as many pixels replaced
  EXPECT_NEAR(thumb_ncc(a.data(), edge.data(), band_weight(1)), edge_u, 1e-12);
  // A heavy band makes a difference there count more; a light one less: the better match flips.
  EXPECT_LT(thumb_ncc(a.data(), edge.data(), heavy), edge_u - 0.1);
  EXPECT_GT(thumb_ncc(a.data(), middle.data(), heavy), thumb_ncc(a.data(), edge.data(), heavy) + 0.1);
  EXPECT_GT(thumb_ncc(a.data(), edge.data(), light), thumb_ncc(a.data(), middle.data(), light) + 0.1);
  // A band of weight 0 is ignored: identical outside it.
  EXPECT_NEAR(thumb_ncc(a.data(), edge.data(), ignored), 1.0, 1e-9);
  EXPECT_LT(thumb_ncc(a.data(), middle.data(), ignored), mid_u);
  // Weights that scale everything alike change nothing.
  const ThumbWeights twos(std::vector<float>(size_t(kThumb) * kThumb, 2.0f));
  EXPECT_NEAR(thumb_ncc(a.data(), middle.data(), twos), mid_u, 1e-12);
}

// ---------------------------------------------------------------------------------------------------------
// The temporal stage and the binary on generated pairs with exact ground truth (pairgen.hpp).

namespace {

// A clip of the source: frame rate, the source frames [first, last) it covers, extra filters and quality.
struct Clip {
  vt::Fps fps;
  int first = 0;
  int last = 1 << 30;
  std::string vf;
  int crf = 18;
  std::vector<int> frames;  // the source frames shown, where not [first, last) at fps (a speed change)
};

Clip clip(vt::Fps fps, int first = 0, int last = 1 << 30, int crf = 18) { return Clip{fps, first, last, "", crf}; }

// What fg shows: the w x h rectangle of the source at (x, y), scaled to fw x fh (0: unscaled). bg shows the
// whole source, so this rectangle is also fg's true placement in bg.
struct View {
  int x = 0, y = 0, w = 0, h = 0, fw = 0, fh = 0;
  std::string vf() const {
    std::string f = "crop=" + std::to_string(w) + ":" + std::to_string(h) + ":" + std::to_string(x) + ":" +
                    std::to_string(y) + ":exact=1";
    if (fw) f += ",scale=" + std::to_string(fw) + ":" + std::to_string(fh);
    return f;
  }
  Placement place() const { return {double(x), double(y), fw ? double(w) / fw : 1.0, 0.0}; }
};

vt::Source make_source(const std::vector<std::pair<std::string, double>>& parts) {
  vt::Source s;
  s.w = 320, s.h = 240, s.fps = {60, 1};
  for (const auto& [graph, secs] : parts) EXPECT_TRUE(vt::append_lavfi(s, graph, secs));
  return s;
}

const std::string kTestsrc = "testsrc2=size=320x240:rate=60";
const std::string kMandel = "mandelbrot=size=320x240:rate=60";
const std::string kLife = "life=size=320x240:rate=60:mold=10:ratio=0.3:seed=7:life_color=#ffcc00:death_color=#223366";
// A bright sky (slow smooth waves, bluish) over a band of Mandelbrot zoom: smooth, colourful, slow.
const std::string kSkyOverZoom =
    "mandelbrot=s=320x110:r=60[t];nullsrc=s=320x240:r=60,"
    "geq=lum='175+14*sin(X/41+T*0.9+2*sin(Y/29))+8*sin(Y/17-T*0.6+X/53)':cb=150:cr=110[s];[s][t]overlay=0:130";

// One map scored against the truth.
struct Score {
  std::vector<int64_t> map;
  double exact = 0, within1 = 0;
  int clamped_start = -1, clamped_end = -1;
  std::string misses;  // the fg frames not exact, for failure messages
};

struct Outcome {
  std::vector<int> bgv, fgv;  // virtual source frames of each clip
  int want_start = 0, want_end = 0;  // fg frames before bg's first / after bg's last source frame
  Score cli;    // the binary: placement found by the spatial stage, then the temporal stage
  Score stage;  // the temporal stage alone, given the true placement
  Score whole_long;  // with long_path: the whole alignment as for a long pair (sparse reels, streamed thumbnails)
  Placement long_place;
  std::string long_log;  // the long alignment's log, debug level
  Placement cli_place;  // the binary's
};

std::string model_path() {
  return (std::filesystem::path(VIDKOMPY_BIN).parent_path() / "models" / "vidkompy-embedder.pt").string();
}

void score(const vt::Source& src, const Outcome& o, Score& s) {
  const auto best = vt::truth(src, o.fgv, o.bgv);
  int exact = 0, within1 = 0, listed = 0;
  std::ostringstream miss;
  for (size_t i = 0; i < s.map.size(); ++i) {
    const int64_t got = s.map[i];
    exact += contains(best[i], got);
    within1 += within_one(best[i], got);
    if (!contains(best[i], got) && listed++ < 25) {
      miss << "\n  fg " << i << " (src " << o.fgv[i] << "): got bg " << got;
      if (got >= 0 && got < int64_t(o.bgv.size())) miss << " (src " << o.bgv[size_t(got)] << ")";
      miss << ", want bg";
      for (int64_t b : best[i]) miss << " " << b << " (src " << o.bgv[size_t(b)] << ")";
    }
  }
  s.exact = double(exact) / double(std::max<size_t>(1, s.map.size()));
  s.within1 = double(within1) / double(std::max<size_t>(1, s.map.size()));
  s.misses = miss.str();
}

void take(const TimeMap& t, Score& s) {
  s.map = t.map;
  s.clamped_start = t.clamped_start;
  s.clamped_end = t.clamped_end;
}

std::string summary(const Outcome& o, const Score& s) {
  std::ostringstream out;
  out << "exact " << s.exact << ", within1 " << s.within1 << ", clamped " << s.clamped_start << "/"
      << s.clamped_end << " (want " << o.want_start << "/" << o.want_end << ")";
  return out.str();
}

// Encodes bg and fg (fg shows `view` of the source), then scores two maps: the binary's
// (`vidkompy --align-only --json -`, spatial and temporal stages) and the temporal stage's given the true
// placement.
void run_pair(const vt::Source& src, const Clip& bgc, Clip fgc, const View& view, Outcome& o, bool binary = true,
              bool long_path = false) {
  vt::TempDir dir;
  fgc.vf = view.vf() + (fgc.vf.empty() ? "" : "," + fgc.vf);
  const Placement place = view.place();
  const std::string bg = dir / "bg.mp4", fg = dir / "fg.mp4";
  o.bgv = bgc.frames.empty() ? vt::pick(src, bgc.fps, bgc.first, bgc.last) : bgc.frames;
  o.fgv = fgc.frames.empty() ? vt::pick(src, fgc.fps, fgc.first, fgc.last) : fgc.frames;
  ASSERT_FALSE(o.bgv.empty());
  ASSERT_FALSE(o.fgv.empty());
  ASSERT_TRUE(vt::encode(src, o.bgv, bgc.fps, bgc.vf, bgc.crf, bg));
  ASSERT_TRUE(vt::encode(src, o.fgv, fgc.fps, fgc.vf, fgc.crf, fg));

  // fg frames before bg's first / after its last moment. The setup keeps them clear of the half-frame zone where
  // "before bg starts" is a matter of rounding (there bg frame 0 is both the clamp and the nearest frame).
  const double step = src.fps.value() / bgc.fps.value();  // source frames per bg frame
  for (int v : o.fgv) {
    if (v < o.bgv.front()) ++o.want_start;
    if (v > o.bgv.back()) ++o.want_end;
    ASSERT_FALSE(v < o.bgv.front() && v > o.bgv.front() - 0.75 * step) << "ambiguous setup: fg source frame " << v;
    ASSERT_FALSE(v > o.bgv.back() && v < o.bgv.back() + 0.75 * step) << "ambiguous setup: fg source frame " << v;
  }

  // The binary.
  nlohmann::json j;
  if (binary) {
    const vt::Run r = vt::vidkompy({"--bg", bg, "--fg", fg, "--align-only", "--json", "-"});
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_NO_THROW(j = nlohmann::json::parse(r.out)) << r.out;
    o.cli.map = j.at("temporal").at("map").get<std::vector<int64_t>>();
    o.cli.clamped_start = j.at("temporal").at("clamped_start").get<int>();
    o.cli.clamped_end = j.at("temporal").at("clamped_end").get<int>();
    o.cli_place = {j.at("spatial").at("x").get<double>(), j.at("spatial").at("y").get<double>(),
                   j.at("spatial").at("scale").get<double>(), j.at("spatial").at("confidence").get<double>()};
    ASSERT_EQ(o.cli.map.size(), o.fgv.size());
    EXPECT_EQ(j.at("bg").at("frames").get<int64_t>(), int64_t(o.bgv.size()));
    score(src, o, o.cli);
  }

  // The temporal stage alone, with the true placement.
  Context ctx = vt::quiet_context();
  ctx.opt.model = model_path();
  VideoInfo bi, fi;
  ASSERT_TRUE(probe(bg, bi).ok());
  ASSERT_TRUE(probe(fg, fi).ok());
  TimeMap time;
  const Status st = match(ctx, bi, fi, place, time);
  ASSERT_TRUE(st.ok()) << (st.errors.empty() ? "" : st.errors[0]);
  take(time, o.stage);
  ASSERT_EQ(o.stage.map.size(), o.fgv.size());
  score(src, o, o.stage);

  if (long_path) {
    // The whole alignment as a long pair takes it: a memory budget of one byte makes every pair long.
    Context lc = vt::quiet_context();
    std::ostringstream log;
    lc.log = std::make_shared<spdlog::logger>("long", std::make_shared<spdlog::sinks::ostream_sink_st>(log));
    lc.log->set_level(spdlog::level::debug);
    lc.opt.model = model_path();
    lc.memory_budget = 1;
    ASSERT_TRUE(long_pair(lc, bi, fi));
    TimeMap lt;
    const Status ls = align(lc, bi, fi, o.long_place, lt);
    ASSERT_TRUE(ls.ok()) << (ls.errors.empty() ? "" : ls.errors[0]) << "\n" << log.str();
    o.long_log = log.str();
    take(lt, o.whole_long);
    ASSERT_EQ(o.whole_long.map.size(), o.fgv.size());
    score(src, o, o.whole_long);
  }

  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::cout << "[ temporal ] " << info->test_suite_name() << "." << info->name() << ": bg " << o.bgv.size() << "f@"
            << bgc.fps.str() << " fg " << o.fgv.size() << "f@" << fgc.fps.str() << "\n";
  if (binary)
    std::cout << "[ temporal ]   binary: " << summary(o, o.cli) << "; placement " << j.at("spatial").at("x") << ","
              << j.at("spatial").at("y") << " x" << j.at("spatial").at("scale") << " (true " << place.x << ","
              << place.y << " x" << place.scale << ")\n";
  std::cout << "[ temporal ]   stage with the true placement: " << summary(o, o.stage) << std::endl;
  if (long_path)
    std::cout << "[ temporal ]   as a long pair: " << summary(o, o.whole_long) << "; placement " << o.long_place.x
              << "," << o.long_place.y << " x" << o.long_place.scale << std::endl;
  if (binary) {
    ::testing::Test::RecordProperty("exact", std::to_string(o.cli.exact));
    ::testing::Test::RecordProperty("within1", std::to_string(o.cli.within1));
  }
  ::testing::Test::RecordProperty("stage_exact", std::to_string(o.stage.exact));
  ::testing::Test::RecordProperty("stage_within1", std::to_string(o.stage.within1));
}

// What a realistic case must give.
void expect_accurate(const Outcome& o, const Score& s, const char* what) {
  SCOPED_TRACE(what);
  EXPECT_GE(s.exact, 0.99) << s.misses;
  EXPECT_EQ(s.within1, 1.0) << s.misses;
  EXPECT_EQ(s.clamped_start, o.want_start);
  EXPECT_EQ(s.clamped_end, o.want_end);
  EXPECT_TRUE(monotonic(s.map));
  int wrong_clamp = 0;  // fg frames outside bg not on bg's first/last frame
  for (int i = 0; i < o.want_start; ++i) wrong_clamp += s.map[size_t(i)] != 0;
  for (size_t i = s.map.size() - size_t(o.want_end); i < s.map.size(); ++i)
    wrong_clamp += s.map[i] != int64_t(o.bgv.size()) - 1;
  EXPECT_EQ(wrong_clamp, 0);
}

// The binary placed fg unscaled at (x, y), within a pixel.
void expect_unscaled_at(const Outcome& o, double x, double y) {
  EXPECT_NEAR(o.cli_place.x, x, 1.0);
  EXPECT_NEAR(o.cli_place.y, y, 1.0);
  EXPECT_NEAR(o.cli_place.scale, 1.0, 0.005);
}

void expect_accurate(const Outcome& o) {
  expect_accurate(o, o.stage, "temporal stage, true placement");
  expect_accurate(o, o.cli, "vidkompy --align-only");
}

}  // namespace

TEST(TemporalPair, Rates24To25) {
  const vt::Source src = make_source({{kTestsrc, 5}});
  Outcome o;
  run_pair(src, clip({24, 1}), clip({25, 1}, 30, 270), {61, 43, 200, 150}, o);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

TEST(TemporalPair, Rates25To30) {
  const vt::Source src = make_source({{kMandel, 5}});
  Outcome o;
  run_pair(src, clip({25, 1}), clip({30, 1}, 30, 270), {40, 30, 240, 180}, o);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

TEST(TemporalPair, LongPairPath) {
  // A long pair keeps no thumbnails and sparse reels: placement from 1,024 spread thumbnails and full-size
  // frames, the exact frames from a second reading of both videos in step. As exact as the short path.
  const vt::Source src = make_source({{kTestsrc, 5}});
  Outcome o;
  run_pair(src, clip({25, 1}), clip({30, 1}, 30, 270), {40, 30, 240, 180}, o, false, true);
  if (HasFatalFailure()) return;
  expect_accurate(o, o.stage, "temporal stage, true placement");
  expect_accurate(o, o.whole_long, "the whole alignment as a long pair");
  EXPECT_NEAR(o.long_place.x, 40, 1.0);
  EXPECT_NEAR(o.long_place.y, 30, 1.0);
  EXPECT_DOUBLE_EQ(o.long_place.scale, 1.0);
}

TEST(TemporalPair, LongPairPathFgLateInBg) {
  // The same, with fg's moment over 100 bg frames in: the second reading starts bg at the keyframe before its
  // first band (ThumbReader::skip_to), and must find the same exact frames.
  const vt::Source src = make_source({{kTestsrc, 9}});
  Outcome o;
  run_pair(src, clip({25, 1}), clip({30, 1}, 330, 510), {40, 30, 240, 180}, o, false, true);
  if (HasFatalFailure()) return;
  ASSERT_GT(o.stage.map.front(), 100);
  expect_accurate(o, o.whole_long, "the whole alignment as a long pair");
  EXPECT_NEAR(o.long_place.x, 40, 1.0);
  EXPECT_NEAR(o.long_place.y, 30, 1.0);
}

TEST(TemporalPair, LongPairReadsOnlyTheStretchOfBgAroundFg) {
  // A short fg in a long bg (a clip looked for in a master), as a long pair: the sparse reel's vote finds the
  // stretch, and only it is embedded; the map is as exact as reading all of bg. (Footage that repeats itself,
  // such as testsrc2 every 12 s, reads all of bg instead, see match().)
  const vt::Source src = make_source({{kLife, 20}});
  Outcome o;
  run_pair(src, clip({25, 1}), clip({30, 1}, 300, 420), {40, 30, 240, 180}, o, false, true);
  if (HasFatalFailure()) return;
  expect_accurate(o, o.stage, "temporal stage, true placement");
  expect_accurate(o, o.whole_long, "the whole alignment as a long pair");
  EXPECT_NE(o.long_log.find("reading bg frames"), std::string::npos) << o.long_log;
  EXPECT_EQ(o.long_log.find("reading bg frames 0-500 of 500"), std::string::npos) << o.long_log;
  EXPECT_EQ(o.long_log.find("no confident map"), std::string::npos) << o.long_log;
  // The sparse reels skipped the B-frames they do not keep, without falling back to decoding every frame.
  EXPECT_EQ(o.long_log.find("do not add up"), std::string::npos) << o.long_log;
}

TEST(TemporalPair, LongPairThatCannotBePlacedSaysHowToCutBg) {
  // A long bg is searched on spread frames only; when that finds nothing, the message says what the user can do.
  vt::TempDir dir;
  const std::string bg = dir / "bg.mp4", fg = dir / "fg.mp4";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 100 -pix_fmt yuv420p " + vt::quote(bg)));
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i " + kLife + " -frames:v 40 -vf crop=160:120 -pix_fmt yuv420p " + vt::quote(fg)));
  VideoInfo bi, fi;
  ASSERT_TRUE(probe(bg, bi).ok());
  ASSERT_TRUE(probe(fg, fi).ok());
  for (const bool long_path : {false, true}) {
    Context ctx = vt::quiet_context();
    ctx.opt.model = model_path();
    if (long_path) ctx.memory_budget = 1;
    Placement p;
    TimeMap t;
    const Status st = align(ctx, bi, fi, p, t);
    ASSERT_EQ(st.code, kExitAlign) << long_path;
    ASSERT_EQ(st.errors.size(), 1u);
    EXPECT_NE(st.errors[0].find("cannot find fg inside bg"), std::string::npos) << st.errors[0];
    EXPECT_EQ(st.errors[0].find("cut bg around fg's moment first") != std::string::npos, long_path) << st.errors[0];
  }
}

TEST(TemporalPair, Rates25ToNtsc) {
  // 30000/1001 cannot be drawn exactly from a 60 fps source: the frame list drifts by one source frame in 500.
  const vt::Source src = make_source({{kTestsrc, 5}});
  Outcome o;
  run_pair(src, clip({25, 1}), clip({30000, 1001}, 20, 280), {33, 25, 256, 192}, o);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

TEST(TemporalPair, Rates30To60) {
  // Every other fg frame lies exactly between two bg frames: both are right.
  const vt::Source src = make_source({{kLife, 4}});
  Outcome o;
  run_pair(src, clip({30, 1}), clip({60, 1}, 30, 210), {50, 40, 200, 160}, o);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

TEST(TemporalPair, EqualRatesGiveTheShiftedIdentity) {
  // fg starts at source frame 36 = bg frame 15, so fg frame i shows exactly bg frame i + 15.
  const vt::Source src = make_source({{kTestsrc, 4}});
  Outcome o;
  run_pair(src, clip({25, 1}), clip({25, 1}, 36, 216), {50, 40, 220, 160}, o);
  if (HasFatalFailure()) return;
  expect_accurate(o);
  for (const Score* sc : {&o.stage, &o.cli})
    for (size_t i = 0; i < sc->map.size(); ++i) EXPECT_EQ(sc->map[i], int64_t(i) + 15) << "fg " << i;
}

TEST(TemporalPair, FgStartsBeforeBg) {
  // bg starts 1 s into the source, fg at 0: fg's first 25 frames (source 0..58) come before bg frame 0 (60).
  const vt::Source src = make_source({{kTestsrc, 5}});
  Outcome o;
  run_pair(src, clip({30, 1}, 60, 300), clip({25, 1}, 0, 240), {60, 45, 200, 150}, o);
  if (HasFatalFailure()) return;
  EXPECT_EQ(o.want_start, 25);
  expect_accurate(o);
}

TEST(TemporalPair, FgEndsAfterBg) {
  // fg starts 1 s after bg and runs 1 s past its end: 30 fg frames (source 240..298) follow bg's last (238).
  const vt::Source src = make_source({{kTestsrc, 5}});
  Outcome o;
  run_pair(src, clip({25, 1}, 0, 240), clip({30, 1}, 60, 300), {60, 45, 200, 150}, o);
  if (HasFatalFailure()) return;
  EXPECT_EQ(o.want_end, 30);
  expect_accurate(o);
}

// Every TemporalPair case checks both the binary and the temporal stage given the true placement; where the
// binary fails through the spatial stage, a TemporalStage twin keeps the stage checked. Known failures are
// DISABLED_ with their numbers (measured at commit ea834af).

namespace {

void longer_than_bg(const std::string& graph, Outcome& o, bool binary) {
  // bg covers source 1.5 s .. 4.5 s, fg all 6 s: 45 fg frames before bg, 90 inside, 45 after.
  const vt::Source src = make_source({{graph, 6}});
  run_pair(src, clip({25, 1}, 90, 270), clip({30, 1}, 0, 360), {60, 45, 200, 150}, o, binary);
  EXPECT_EQ(o.want_start, 45);
  EXPECT_EQ(o.want_end, 45);
}

void downscaled_crop(const std::string& graph, Outcome& o, bool binary) {
  // fg = a 240x180 crop shown at 160x120 (placement scale 1.5).
  const vt::Source src = make_source({{graph, 4}});
  run_pair(src, clip({25, 1}), clip({30, 1}, 20, 220), {40, 30, 240, 180, 160, 120}, o, binary);
}

void upscaled_crop(const std::string& graph, Outcome& o, bool binary) {
  // fg = a 160x120 crop at an odd offset, shown at 240x180 (placement scale 2/3).
  const vt::Source src = make_source({{graph, 4}});
  run_pair(src, clip({24, 1}), clip({30, 1}, 20, 220), {81, 61, 160, 120, 240, 180}, o, binary);
}

void reencoded_bg(const std::string& graph, Outcome& o, bool binary) {
  // bg at crf 40: blocky, smeared detail.
  const vt::Source src = make_source({{graph, 5}});
  run_pair(src, clip({25, 1}, 0, 1 << 30, 40), clip({30, 1}, 30, 270), {60, 45, 200, 150}, o, binary);
}

void expect_stage_accurate(const Outcome& o) { expect_accurate(o, o.stage, "temporal stage, true placement"); }

}  // namespace

TEST(TemporalStage, FgLongerThanBgOnBothSides) {
  Outcome o;
  longer_than_bg(kTestsrc, o, false);
  if (HasFatalFailure()) return;
  expect_stage_accurate(o);
}

// Used to fail through the spatial stage (y 43.04 for 45, costing 18 exact frames); the re-check of the placement
// on matched frame pairs fixed it.
TEST(TemporalPair, FgLongerThanBgOnBothSides) {
  Outcome o;
  longer_than_bg(kTestsrc, o, true);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

TEST(TemporalPair, DownscaledCrop) {
  Outcome o;
  downscaled_crop(kTestsrc, o, true);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

// fg is upscaled 1.5x (blurred) and the bg region only 160x120, so the fg frames that show a moment between two
// bg frames look about as much like either: this failed at exact 0.97 (fg 31, source 82, got bg 32, source 80, for
// bg 33, source 83) until such frames were decided by the time line.
TEST(TemporalPair, UpscaledCrop) {
  Outcome o;
  upscaled_crop(kTestsrc, o, true);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

// bg at 15 fps, fg the whole picture at half size and 30 fps: every other fg frame shows a moment bg lacks, and
// the pattern moves. This pair was refused (confidence 0: placed at scale 2.007, fg overhung bg by a pixel and the
// sharpness measure gave up); and the placement re-check, fitted on such pairs, followed the motion (a cockatoo
// pair of this kind was left 3.7 px off): it now fits on the best match of each stretch of the map. (The scale
// of so small an fg enlarged 2x is found to within about 0.5%.)
TEST(TemporalPair, WholeFrameAtHalfSizeOverHalfTheRate) {
  const vt::Source src = make_source({{kTestsrc, 5}});
  Outcome o;
  run_pair(src, clip({15, 1}), clip({30, 1}, 30, 270), {0, 0, 320, 240, 160, 120}, o);
  if (HasFatalFailure()) return;
  expect_accurate(o);
  EXPECT_NEAR(o.cli_place.x, 0.0, 1.0);
  EXPECT_NEAR(o.cli_place.y, 0.0, 1.0);
  EXPECT_NEAR(o.cli_place.scale, 2.0, 0.01);
}

TEST(TemporalPair, HeavilyReencodedBg) {
  Outcome o;
  reencoded_bg(kTestsrc, o, true);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

// Mandelbrot zooms: a frame looks like a scaled version of its neighbours in time, which the spatial stage
// confuses with the placement scale. The temporal stage with the true placement is right.
TEST(TemporalStage, DownscaledCropMandelbrot) {
  Outcome o;
  downscaled_crop(kMandel, o, false);
  if (HasFatalFailure()) return;
  expect_stage_accurate(o);
}

// Fails through the spatial stage: placement x 7.87 y 5.79 scale 1.903 (true 40, 30, 1.5); exact 0, within1 0
// (fg 0, src 20, got bg 26, src 62, for bg 8, src 19: the map runs 18 bg frames late), 11 fg frames reported
// after bg. With the true placement the stage gives exact 1. (Session 8: x 10.69 y 7.93 scale 1.865, exact 0,
// 9 reported after bg.)
TEST(TemporalPair, DISABLED_DownscaledCropMandelbrot) {
  Outcome o;
  downscaled_crop(kMandel, o, true);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

// Passes, but only just through the spatial stage (placement x 81.05 y 61.09 scale 0.6687, true 81, 61,
// 0.6667): with an earlier encode it found scale 0.658, and the map ran one bg frame late (exact 0.18).
TEST(TemporalPair, UpscaledCropMandelbrot) {
  Outcome o;
  upscaled_crop(kMandel, o, true);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

// Fails in both. Binary: placement x 39.35 y 30.02 scale 1.203 (true 60, 45, 1.0): exact 0.42, within1 0.44,
// clamped 29/61 (want 45/45); e.g. fg 30..45 (src 60..90, before bg) got bg 1..13. Stage with the true
// placement: exact 1, within1 1, but clamped_end 46 (want 45): fg 134 shows source frame 268, bg's last frame
// (bg 74), and was reported as after bg, because the fitted line puts it past 74.5 (the map is still right).
// (Session 8: binary x 48.98 y 36.78 scale 1.109, exact 0.46, clamped 35/55; stage exact 1, clamped 44/46.)
TEST(TemporalPair, DISABLED_FgLongerThanBgOnBothSidesMandelbrot) {
  Outcome o;
  longer_than_bg(kMandel, o, true);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

// Fails in both. Stage with the true placement: exact 0.62 (within1 1; 0.80 at commit ea834af): crf 40 noise
// exceeds the change between neighbouring moments of the slow zoom, so only the line can tell them apart, and
// the line is not moved to the content profile here (it gains under a fifth; see match_frames).
// Binary: placement x 61.49 y 45.82 scale 0.9862 (true 60, 45, 1.0): exact 0.58, within1 1. (Session 8: binary
// x 61.13 y 45.33 scale 0.9896, exact 0.93, within1 1; stage exact 0.59, within1 1.)
TEST(TemporalPair, DISABLED_HeavilyReencodedBgMandelbrot) {
  Outcome o;
  reencoded_bg(kMandel, o, true);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

TEST(TemporalPair, StaticSegment) {
  // Source frame 150 held for one extra second in both videos: any bg frame showing it is right.
  vt::Source src = make_source({{kTestsrc, 5}});
  vt::hold(src, 150, 60);
  Outcome o;
  run_pair(src, clip({25, 1}), clip({30, 1}, 30, 330), {60, 45, 200, 150}, o);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

TEST(TemporalPair, HardCut) {
  // testsrc2 for 3 s, then mandelbrot: nothing in the first half looks like the second.
  const vt::Source src = make_source({{kTestsrc, 3}, {kMandel, 3}});
  Outcome o;
  run_pair(src, clip({25, 1}), clip({30, 1}, 30, 330), {60, 45, 200, 150}, o);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

// An edited fg: three stretches of the source, out of order (a clip cut together from bg's footage), at another
// frame rate and scaled. Each stretch follows a time line of its own. Until session 16 only the longest was
// matched: 42% exact here, 0-57% on edited real clips, at confidence 0.9999.
TEST(TemporalPair, EditedFgFollowsEachStretch) {
  const vt::Source src = make_source({{kMandel, 6}});
  vt::TempDir dir;
  const std::string bg = dir / "bg.mp4", fg = dir / "fg.mp4";
  const View view{40, 30, 240, 180, 160, 120};
  Outcome o;
  o.bgv = vt::pick(src, {25, 1}, 0, 1 << 30);
  for (const auto& [a, b] : std::vector<std::pair<int, int>>{{200, 300}, {30, 130}, {310, 350}}) {
    const std::vector<int> piece = vt::pick(src, {30, 1}, a, b);
    o.fgv.insert(o.fgv.end(), piece.begin(), piece.end());
  }
  ASSERT_TRUE(vt::encode(src, o.bgv, {25, 1}, "", 18, bg));
  ASSERT_TRUE(vt::encode(src, o.fgv, {30, 1}, view.vf(), 18, fg));
  const vt::Run r = vt::vidkompy({"--bg", bg, "--fg", fg, "--align-only", "--json", "-"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("2 stretch(es) of fg follow time lines of their own"), std::string::npos) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  o.cli.map = j.at("temporal").at("map").get<std::vector<int64_t>>();
  ASSERT_EQ(o.cli.map.size(), o.fgv.size());
  score(src, o, o.cli);
  EXPECT_GE(o.cli.exact, 0.99) << o.cli.misses;
  EXPECT_EQ(o.cli.within1, 1.0) << o.cli.misses;
  EXPECT_NEAR(j.at("spatial").at("x").get<double>(), 40, 1.0);
  EXPECT_NEAR(j.at("spatial").at("y").get<double>(), 30, 1.0);
  EXPECT_GT(j.at("temporal").at("confidence").get<double>(), 0.9);
}

// A speed change: film run at 25 fps for PAL shows the very frames of the 24 fps film, one for one, 4% faster
// (and a PAL master slowed back to 24, the other way). The frame rates' slope (0.96) then leaves the frames a
// frame further behind every 25: until session 17, 41-49% exact on such pairs made from real clips (and 47% on a
// 20 fps clip shown frame for frame at 25), at confidence 1.0.
TEST(TemporalPair, SpeedChangeShowsTheSameFramesOneForOne) {
  const vt::Source src = make_source({{kMandel, 8}});
  for (const auto& [bg_fps, fg_fps] : std::vector<std::pair<vt::Fps, vt::Fps>>{{{24, 1}, {25, 1}}, {{25, 1}, {24, 1}}}) {
    SCOPED_TRACE("bg " + bg_fps.str() + " fps, fg " + fg_fps.str() + " fps");
    const std::vector<int> bgv = vt::pick(src, bg_fps, 0, 1 << 30);
    Clip fgc = clip(fg_fps);
    fgc.frames.assign(bgv.begin() + 30, bgv.begin() + 170);  // bg's frames 30-169, one for one
    Outcome o;
    // The first also as a long pair (the time line voted on the sparse reel, no thumbnails in memory).
    const bool long_path = bg_fps.num == 24;
    run_pair(src, clip(bg_fps), fgc, {60, 40, 200, 150}, o, true, long_path);
    if (HasFatalFailure()) return;
    expect_accurate(o);
    if (long_path) expect_accurate(o, o.whole_long, "the whole alignment as a long pair");
  }
}

// fg with overlays of its own, as a broadcast copy has them: a subtitle box along the bottom whose "text" (white
// bars) changes every second, and a station logo in a corner. They are not in bg: hanging the subtitle box off bg's
// bottom edge fitted the rest better (until session 17 the best candidate was y 120 for 30, refused with exit 3;
// on a real clip, 191 px off without an error), and where fg was placed right they pulled the exact frames. Now
// the coarse search counts the part of fg over bg's edge as matching nothing (ncc_at's cover), and what differs
// from bg in every matched pair is left out of the thumbnails and the full-size fit (overlay_mask).
TEST(TemporalPair, FgsOwnSubtitlesAndLogoAreLeftOut) {
  const vt::Source src = make_source({{kTestsrc, 6}});
  Clip fgc = clip({30, 1}, 60, 330);
  fgc.vf = "drawbox=x=20:y=150:w=200:h=22:color=black@0.6:t=fill,"
           "drawbox=x=30:y=156:w=40:h=10:color=white:t=fill:enable='lt(mod(t\\,2)\\,1)',"
           "drawbox=x=80:y=156:w=70:h=10:color=white:t=fill:enable='gte(mod(t\\,2)\\,1)',"
           "drawbox=x=200:y=6:w=32:h=16:color=red@0.8:t=fill";
  Outcome o;
  run_pair(src, clip({25, 1}), fgc, {40, 30, 240, 180}, o);
  if (HasFatalFailure()) return;
  expect_accurate(o);
  expect_unscaled_at(o, 40, 30);
}

// fg graded as a colourist would: more contrast and saturation, then ffmpeg's `vintage` curves (one per channel),
// over a bright sky and a colourful subject. What fg's grade did is done to bg's thumbnails before they are
// compared (grade_map: fg's level as bg's level mapped by quantiles, plus a cubic in bg's level and colour), not
// undone on fg's: bg can be made to lose the detail the grade pressed together, fg cannot be given it back. Undone
// on fg's levels alone (until session 18) no source cadence was found here, and the line decided between look-alike
// frames: 88.9% exact (a Big Buck Bunny crop under the same grade: 91.4%, now 100%). Mapped onto fg's levels
// without the colour term: 79.3%.
TEST(TemporalPair, GradedFgIsComparedWithBgGradedAlike) {
  const vt::Source src = make_source({{kSkyOverZoom, 6}});
  Clip fgc = clip({30, 1}, 60, 330);
  fgc.vf = "eq=contrast=1.3:saturation=1.4:brightness=0.05,curves=preset=vintage";
  Outcome o;
  run_pair(src, clip({25, 1}), fgc, {40, 30, 240, 180}, o);
  if (HasFatalFailure()) return;
  expect_accurate(o);
}

// A subtitle box over a smooth sky: fg's search found its best candidate at 15% of the size (confidence 0.24) and
// the run was refused (exit 3) until session 18. Now a failed alignment is tried again with the edges that stay
// put in every fg sample hidden from the search (hide_static): the box's edges and its text.
TEST(TemporalPair, SubtitlesOverASmoothSkyAreHiddenFromASecondSearch) {
  const vt::Source src = make_source({{kSkyOverZoom, 6}});
  Clip fgc = clip({30, 1}, 60, 330);
  fgc.vf = "drawbox=x=20:y=60:w=200:h=30:color=black@0.6:t=fill,drawbox=x=30:y=68:w=40:h=12:color=white:t=fill,"
           "drawbox=x=80:y=68:w=30:h=12:color=white:t=fill,drawbox=x=120:y=68:w=60:h=12:color=white:t=fill";
  Outcome o;
  run_pair(src, clip({25, 1}), fgc, {40, 30, 240, 180}, o);
  if (HasFatalFailure()) return;
  expect_accurate(o);
  expect_unscaled_at(o, 40, 30);
}

// ---------------------------------------------------------------------------------------------------------
// --model errors

namespace {

void make_simple_pair(const vt::TempDir& dir) {
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -c:v libx264 -preset veryfast "
                         "-pix_fmt yuv420p " + vt::quote(dir / "bg.mp4")));
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -vf crop=160:120:40:30 -c:v libx264 "
                         "-preset veryfast -pix_fmt yuv420p " + vt::quote(dir / "fg.mp4")));
}

}  // namespace

TEST(TemporalModel, MissingModelFileIsAnInputError) {
  vt::TempDir dir;
  make_simple_pair(dir);
  const std::string model = dir / "no-such-model.pt";
  const vt::Run r =
      vt::vidkompy({"--bg", dir / "bg.mp4", "--fg", dir / "fg.mp4", "--align-only", "--json", "-", "--model", model});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("vidkompy: error: " + model + ": cannot load the embedding model"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(TemporalModel, GarbageModelFileIsAnInputError) {
  vt::TempDir dir;
  make_simple_pair(dir);
  const std::string model = dir / "garbage.pt";
  {
    std::ofstream f(model, std::ios::binary);
    std::mt19937 rng(5);
    f << "PK\x03\x04 this is not a TorchScript archive\n";
    for (int i = 0; i < 4096; ++i) f.put(char(rng() & 0xff));
  }
  const vt::Run r =
      vt::vidkompy({"--bg", dir / "bg.mp4", "--fg", dir / "fg.mp4", "--align-only", "--json", "-", "--model", model});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("vidkompy: error: " + model + ": cannot load the embedding model"), std::string::npos) << r.err;
  // One line per problem: torch's multi-line message is cut to its first line, so every line is ours.
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);) EXPECT_EQ(line.rfind("vidkompy: ", 0), 0u) << line;
  EXPECT_EQ(r.out, "");
}


// ---------------------------------------------------------------------------------------------------------
// The embedders

namespace {

// A picture of a texture (sums of sinusoids) seen through a window that pans by `shift` pixels, RGB planar in
// [0, 1], kEmbedInput square; `noise` adds coding-like noise, `gain` a brightness change, `grade` raises every
// value to that power (a gamma change).
std::vector<float> panned(double shift, double noise, double gain, unsigned seed, double grade = 1.0) {
  const int n = kEmbedInput;
  std::vector<float> p(size_t(3) * n * n);
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0, noise);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) {
        const double u = x + shift, v = y + 0.5 * shift;
        double val = 0.5 + 0.15 * std::sin(u * 0.21 + c) + 0.12 * std::sin(v * 0.17 - 0.5 * c) +
                     0.1 * std::sin((u + v) * 0.09) + 0.08 * std::sin(u * 0.43 - v * 0.31);
        val = std::pow(std::clamp(val * gain, 0.0, 1.0), grade) + (noise > 0 ? g(rng) : 0);
        p[size_t(c) * n * n + size_t(y) * n + size_t(x)] = float(std::clamp(val, 0.0, 1.0));
      }
  return p;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

}  // namespace

// The bundled model: the same moment after noise and a brightness change stays closer to itself than the
// neighbouring moments of a pan (3 px a frame) are, and the output is L2-normalised.
TEST(TemporalModel, BundledModelTellsNeighbouringMomentsApart) {
  const std::unique_ptr<Embedder> e = load_torchscript_embedder(VIDKOMPY_TEST_MODEL, 1);
  ASSERT_GT(e->dim(), 0);
  std::vector<float> pics;
  for (int t = 0; t < 5; ++t) {
    const std::vector<float> p = panned(3.0 * t, 0, 1, 0);
    pics.insert(pics.end(), p.begin(), p.end());
  }
  const std::vector<float> q = panned(6.0, 0.03, 0.9, 7);  // moment 2, degraded
  pics.insert(pics.end(), q.begin(), q.end());
  std::vector<float> out(size_t(6) * e->dim());
  e->embed(pics.data(), 6, out.data());
  auto vec = [&](int i) { return std::vector<float>(out.begin() + long(i) * e->dim(), out.begin() + long(i + 1) * e->dim()); };
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(cosine(vec(i), vec(i)), 1.0, 1e-4) << i;
  const double same = cosine(vec(5), vec(2));
  for (int t : {0, 1, 3, 4}) EXPECT_GT(same, cosine(vec(5), vec(t))) << "moment " << t;
}

// The bundled model through a regrade: along a slow pan (0.1 px a frame) whose grading drifts (each moment t is
// the texture to the power 1 + 0.06 (t - 3)), moment 3 regraded with gamma 0.8 or 1.25 is still nearest to moment
// 3. Plain gray thumbnails take moment 2 and 4: a gamma change reads as another moment of the drift, as in a
// regraded copy of a fade (bbbhard in bench/pairs). Half of the bundled model's picture is each pixel's rank,
// which no gamma changes.
TEST(TemporalModel, BundledModelHoldsAMomentThroughAGammaChange) {
  const std::unique_ptr<Embedder> e = load_torchscript_embedder(VIDKOMPY_TEST_MODEL, 1);
  for (double gamma : {0.8, 1.25}) {
    std::vector<float> pics;
    for (int t = 0; t < 7; ++t) {
      const std::vector<float> p = panned(0.1 * t, 0, 1, 0, 1 + 0.06 * (t - 3));
      pics.insert(pics.end(), p.begin(), p.end());
    }
    const std::vector<float> q = panned(0.3, 0, 1, 0, gamma);
    pics.insert(pics.end(), q.begin(), q.end());
    std::vector<float> out(size_t(8) * e->dim());
    e->embed(pics.data(), 8, out.data());
    auto vec = [&](int i) { return std::vector<float>(out.begin() + long(i) * e->dim(), out.begin() + long(i + 1) * e->dim()); };
    const double same = cosine(vec(7), vec(3));
    for (int t : {0, 1, 2, 4, 5, 6}) EXPECT_GT(same, cosine(vec(7), vec(t))) << "gamma " << gamma << ", moment " << t;
  }
}

// --model takes another embedder, with another output size (64-d gray thumbnails), and still aligns.
TEST(TemporalModel, AnotherEmbedderWorks) {
  vt::TempDir dir;
  make_simple_pair(dir);
  const vt::Run r = vt::vidkompy({"--bg", dir / "bg.mp4", "--fg", dir / "fg.mp4", "--align-only", "--json", "-",
                                  "--model", VIDKOMPY_STAND_IN_MODEL});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j["spatial"]["x"].get<double>(), 40, 1);
  EXPECT_NEAR(j["spatial"]["y"].get<double>(), 30, 1);
  const auto map = j["temporal"]["map"];
  ASSERT_EQ(map.size(), 50u);
  for (size_t i = 0; i < map.size(); ++i) EXPECT_EQ(map[i].get<int>(), int(i)) << i;
}
