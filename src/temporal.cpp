// Temporal alignment. Content, not timestamps: a frame-rate conversion shows in frame j the source frame nearest
// j/fps, so nominal times pick a neighbour on many frames. Embeddings (k-NN via FAISS) give candidates and the
// time line; a banded monotonic DTW follows the evidence; thumbnails decide between neighbours.
#include "vidkompy/temporal.hpp"

#include <dlfcn.h>
#include <faiss/IndexFlat.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <tuple>

#include "progress.hpp"
#include "vidkompy/compositor.hpp"
#include "vidkompy/gpu.hpp"
#include "vidkompy/options.hpp"
#include "vidkompy/parallel.hpp"
#include "vidkompy/spatial.hpp"
#include "vidkompy/video.hpp"

// BLAS, which FAISS links (OpenBLAS behind libblas.so.3).
extern "C" int sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const float* alpha,
                      const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
                      const int* ldc);

namespace vidkompy {

void use_one_blas_thread() {
  // Looked up at run time: libblas.so.3 may be another implementation (reference BLAS, BLIS), which has no such call.
  using Set = void (*)(int);
  if (auto set = reinterpret_cast<Set>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
}

bool long_pair(const Context& ctx, const VideoInfo& bg, const VideoInfo& fg) {
  const double frames = double(std::max<int64_t>(0, bg.frames) + std::max<int64_t>(0, fg.frames));
  return frames * kThumb * kThumb > ctx.memory_budget / 2;
}

Candidates knn(const Features& fg, const Features& bg, int k) {
  Candidates c;
  const size_t nq = fg.frames(), nb = bg.frames();
  c.k = int(std::min<size_t>(size_t(std::max(k, 1)), nb));
  c.index.assign(nq * size_t(c.k), -1);
  c.sim.assign(nq * size_t(c.k), -1.0f);
  if (!nq || !nb) return c;
  faiss::IndexFlatIP index(bg.dim);
  index.add(faiss::Index::idx_t(nb), bg.emb.data());
  std::vector<faiss::Index::idx_t> labels(c.index.size());
  index.search(faiss::Index::idx_t(nq), fg.emb.data(), c.k, c.sim.data(), labels.data());
  for (size_t i = 0; i < labels.size(); ++i) c.index[i] = labels[i];
  return c;
}

TimeLine fit_line(const Candidates& c, double rate_ratio) {
  TimeLine line;
  line.slope = rate_ratio;
  const size_t n = c.k ? c.index.size() / size_t(c.k) : 0;
  if (!n) return line;
  // Vote for the offset (bg index minus slope x fg index) in one-frame bins, weighted by similarity; the best
  // three candidates of each fg frame vote.
  std::vector<std::pair<double, double>> votes;  // offset, weight
  for (size_t i = 0; i < n; ++i)
    for (int r = 0; r < std::min(c.k, 3); ++r) {
      const int64_t j = c.index[i * size_t(c.k) + size_t(r)];
      if (j < 0) continue;
      votes.push_back({double(j) - rate_ratio * double(i), std::max(0.0f, c.sim[i * size_t(c.k) + size_t(r)])});
    }
  if (votes.empty()) return line;
  double lo = votes[0].first, hi = votes[0].first;
  for (auto& v : votes) lo = std::min(lo, v.first), hi = std::max(hi, v.first);
  const int64_t base = int64_t(std::floor(lo));
  std::vector<double> bins(size_t(int64_t(std::ceil(hi)) - base + 2), 0.0);
  for (auto& v : votes) bins[size_t(int64_t(std::lround(v.first)) - base)] += v.second;
  // Smooth over neighbouring bins: a frame-rate conversion spreads the true offset over two of them.
  size_t best = 0;
  double best_w = -1;
  auto smoothed = [&](size_t b) {
    return bins[b] + 0.5 * ((b ? bins[b - 1] : 0) + (b + 1 < bins.size() ? bins[b + 1] : 0));
  };
  for (size_t b = 0; b < bins.size(); ++b)
    if (smoothed(b) > best_w) best_w = smoothed(b), best = b;
  for (size_t b = 0; b < bins.size(); ++b)
    if ((b + 2 < best || b > best + 2) && best_w > 0) line.runner_up = std::max(line.runner_up, smoothed(b) / best_w);
  const double offset0 = double(base + int64_t(best));
  // The offset: the mean over the top-1 candidates that agree with the vote.
  double sx = 0, sy = 0, cnt = 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t j = c.index[i * size_t(c.k)];
    if (j < 0 || std::abs(double(j) - rate_ratio * double(i) - offset0) > 1.5) continue;
    sx += double(i), sy += double(j), ++cnt;
  }
  line.inliers = int(cnt);
  // The slope stays the frame rates': fitted to these candidates it strays by up to 1% on real pairs without any
  // drift (on slow or still stretches they lean to one side). match_frames follows real drift on exact matches.
  if (cnt >= 2) line.offset = (sy - rate_ratio * sx) / cnt;
  else line.offset = offset0;
  return line;
}

namespace {

// Weighted NCC of two size x size pictures (weights empty: uniform).
double ncc(const float* a, const float* b, const float* w, int n) {
  double sw = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (int i = 0; i < n; ++i) {
    const double wi = w ? w[i] : 1.0;
    const double x = a[i], y = b[i];
    sw += wi, sa += wi * x, sb += wi * y, saa += wi * x * x, sbb += wi * y * y, sab += wi * x * y;
  }
  const double va = saa - sa * sa / sw, vb = sbb - sb * sb / sw;
  if (va <= 1e-6 * sw || vb <= 1e-6 * sw) return 0.0;
  return std::clamp((sab - sa * sb / sw) / std::sqrt(va * vb), -1.0, 1.0);
}

// 2x2 box average of a size x size picture into o ((size / 2)^2 values).
void halve(const float* p, int size, float* o) {
  const int h = size / 2;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < h; ++x)
      o[size_t(y) * h + x] = 0.25f * (p[size_t(2 * y) * size + 2 * x] + p[size_t(2 * y) * size + 2 * x + 1] +
                                      p[size_t(2 * y + 1) * size + 2 * x] + p[size_t(2 * y + 1) * size + 2 * x + 1]);
}

// thumb_ncc's three scales of a picture, one after the other: kThumb^2 values, then a quarter, then a sixteenth.
// Each thumbnail is taken to them once, however many others it is compared with.
constexpr size_t kLevels = size_t(kThumb) * kThumb * 21 / 16;

void add_levels(float* p) {
  halve(p, kThumb, p + kThumb * kThumb);
  halve(p + kThumb * kThumb, kThumb / 2, p + kThumb * kThumb * 5 / 4);
}

void thumb_levels(const uint8_t* t, float* out) {
  std::copy(t, t + kThumb * kThumb, out);
  add_levels(out);
}

// Averaged over three scales: the full thumbnail sees slow motion in fine detail, the halved ones see motion
// through noise and heavy compression.
double levels_ncc(const float* a, const float* b, const ThumbWeights& w) {
  const float* wl = w.levels();
  double sum = 0;
  size_t at = 0;
  for (int size = kThumb; size >= kThumb / 4; size /= 2) {
    sum += ncc(a + at, b + at, wl ? wl + at : nullptr, size * size);
    at += size_t(size) * size;
  }
  return sum / 3;
}

// The levels of the bg thumbnails of the current band. The bands never move back, so each bg frame is taken to
// its levels once, when it enters.
class BandLevels {
 public:
  // Levels of bg frame j, made from `thumb` unless held already.
  const float* at(int64_t j, const uint8_t* thumb) {
    const size_t slot = size_t(j % kSlots);
    float* p = levels_.data() + slot * kLevels;
    if (held_[slot] != j) thumb_levels(thumb, p), held_[slot] = j;
    return p;
  }
  static constexpr int64_t kSlots = 8;  // > the widest band (5 frames)

 private:
  std::vector<float> levels_ = std::vector<float>(size_t(kSlots) * kLevels);
  std::vector<int64_t> held_ = std::vector<int64_t>(size_t(kSlots), -1);
};

}  // namespace

ThumbWeights::ThumbWeights(const std::vector<float>& w) : levels_(kLevels) {
  std::copy(w.begin(), w.begin() + kThumb * kThumb, levels_.begin());
  add_levels(levels_.data());
}

double thumb_ncc(const uint8_t* a, const uint8_t* b, const ThumbWeights& w) {
  std::vector<float> la(kLevels), lb(kLevels);
  thumb_levels(a, la.data());
  thumb_levels(b, lb.data());
  return levels_ncc(la.data(), lb.data(), w);
}

namespace {

double dot(const float* a, const float* b, int d) {
  double s = 0;
  for (int i = 0; i < d; ++i) s += double(a[i]) * b[i];
  return s;
}

// Monotonic (non-decreasing) path through per-frame candidate lists minimising the summed cost. lo[i]..hi[i]
// are the allowed bg frames of fg frame i; cost(i, j) their cost. Returns one bg frame per fg frame.
template <class Cost>
std::vector<int64_t> monotonic_path(const std::vector<int64_t>& lo, const std::vector<int64_t>& hi, Cost cost) {
  const size_t n = lo.size();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> acc(n);
  std::vector<std::vector<int64_t>> from(n);
  for (size_t i = 0; i < n; ++i) {
    const size_t w = size_t(hi[i] - lo[i] + 1);
    acc[i].assign(w, inf);
    from[i].assign(w, -1);
    for (size_t q = 0; q < w; ++q) {
      const int64_t j = lo[i] + int64_t(q);
      double prev = 0;
      int64_t arg = -1;
      if (i > 0) {
        // Best predecessor at a bg frame <= j (monotonic): a running minimum over the previous band.
        prev = inf;
        const int64_t top = std::min(j, hi[i - 1]);
        for (int64_t jp = lo[i - 1]; jp <= top; ++jp) {
          const double v = acc[i - 1][size_t(jp - lo[i - 1])];
          if (v < prev) prev = v, arg = jp;
        }
        if (arg < 0) continue;
      }
      acc[i][q] = prev + cost(i, j);
      from[i][q] = arg;
    }
  }
  std::vector<int64_t> path(n, 0);
  if (!n) return path;
  size_t best = 0;
  for (size_t q = 1; q < acc[n - 1].size(); ++q)
    if (acc[n - 1][q] < acc[n - 1][best]) best = q;
  int64_t j = lo[n - 1] + int64_t(best);
  for (size_t i = n; i-- > 0;) {
    path[i] = j;
    j = from[i][size_t(j - lo[i])];
  }
  return path;
}

// The coding-noise floor around each fg frame: the lower quartile of the best costs (1 - NCC) within 15 frames.
std::vector<double> local_floor(const std::vector<double>& cost) {
  constexpr size_t kWin = 15;
  const size_t n = cost.size();
  std::vector<double> floor(n), w;
  for (size_t q = 0; q < n; ++q) {
    w.assign(cost.begin() + long(q > kWin ? q - kWin : 0), cost.begin() + long(std::min(n, q + kWin + 1)));
    auto at = w.begin() + long((w.size() - 1) / 4);
    std::nth_element(w.begin(), at, w.end());
    floor[q] = *at;
  }
  return floor;
}

// The largest total weight of half-open intervals [lo, hi) covering one point, and the middle of the stretch
// where it is reached. Each interval is shrunk by a hair, so that ends meeting in exact arithmetic never overlap
// by a rounding error.
std::pair<double, double> deepest(std::vector<std::pair<double, double>>& events, double base) {
  std::sort(events.begin(), events.end());
  double run = base, best = base, at = 0;
  for (size_t e = 0; e < events.size();) {
    const double x = events[e].first;
    for (; e < events.size() && events[e].first == x; ++e) run += events[e].second;
    if (run > best && e < events.size()) best = run, at = 0.5 * (x + events[e].first);
  }
  return {best, at};
}

// The 32 x 32 level of thumb_levels of every frame, each scaled so that the dot product of two is their weighted
// NCC at that level (a flat picture: zero, as ncc() says).
std::vector<float> unit_thumbs(const Features& f, const ThumbWeights& w, size_t stride) {
  constexpr int kSize = kThumb / 4;
  constexpr size_t kLen = size_t(kSize) * kSize, kAt = size_t(kThumb) * kThumb * 5 / 4;
  const float* wl = w.levels() ? w.levels() + kAt : nullptr;
  const size_t n = (f.frames() + stride - 1) / stride;
  std::vector<float> out(n * kLen), levels(kLevels);
  for (size_t i = 0; i < n; ++i) {
    thumb_levels(f.t(i * stride), levels.data());
    const float* x = levels.data() + kAt;
    double sw = 0, sx = 0, var = 0;
    for (size_t p = 0; p < kLen; ++p) sw += wl ? wl[p] : 1.0, sx += (wl ? wl[p] : 1.0) * x[p];
    const double mean = sx / sw;
    for (size_t p = 0; p < kLen; ++p) var += (wl ? wl[p] : 1.0) * (x[p] - mean) * (x[p] - mean);
    if (var <= 1e-6 * sw) continue;
    const double s = 1.0 / std::sqrt(var);
    float* o = out.data() + i * kLen;
    for (size_t p = 0; p < kLen; ++p) o[p] = float(std::sqrt(wl ? wl[p] : 1.0) * (x[p] - mean) * s);
  }
  return out;
}

}  // namespace

OffsetScan scan_offsets(const Features& fg, const Features& bg, double slope, const ThumbWeights& w) {
  return scan_offsets(fg, bg, std::vector<double>{slope}, w)[0];
}

std::vector<OffsetScan> scan_offsets(const Features& fg, const Features& bg, const std::vector<double>& slopes,
                                     const ThumbWeights& w) {
  std::vector<OffsetScan> scans(slopes.size());
  const size_t nf = fg.frames(), m = bg.frames();
  if (fg.thumbs.empty() || bg.thumbs.empty() || !nf || !m) return scans;
  // Every fg frame against every bg frame, as one matrix product; on long pairs a subset of fg frames, evenly
  // spread, keeps it to about 2M products.
  const size_t stride = std::max<size_t>(1, size_t(std::ceil(double(nf) * double(m) / 2e6)));
  const std::vector<float> zf = unit_thumbs(fg, w, stride), zb = unit_thumbs(bg, w, 1);
  const int rows = int(zf.size() / size_t(kThumb / 4 * kThumb / 4)), cols = int(m), len = kThumb / 4 * kThumb / 4;
  std::vector<float> sim(size_t(rows) * m);
  const float one = 1, zero = 0;
  sgemm_("T", "N", &cols, &rows, &len, &one, zb.data(), &len, zf.data(), &len, &zero, sim.data(), &cols);
  // Each offset's mean cost (1 - NCC) along the line, the line read between the two bg frames it passes.
  // Offsets that leave under a quarter of the shorter video (or 8 frames) overlapping do not compete.
  const int64_t mi = int64_t(m);
  const size_t need = std::max<size_t>(8, size_t(0.25 * double(std::min(nf, m))) / stride);
  // Whole frames first, each fg frame scored by the better of the two bg frames the line passes between (a rate
  // conversion shows either); then the best, to a twentieth of a frame, by the cost read between them.
  for (size_t si = 0; si < slopes.size(); ++si) {
  const double slope = slopes[si];
  OffsetScan& scan = scans[si];
  auto mean_cost = [&](double o, bool between) {
    double sum = 0;
    size_t cnt = 0;
    for (int r = 0; r < rows; ++r) {
      const double x = slope * double(size_t(r) * stride) + o;
      if (x < -0.5 || x > double(m) - 0.5) continue;
      const int64_t j0 = std::clamp<int64_t>(int64_t(std::floor(x)), 0, mi - 1), j1 = std::min(j0 + 1, mi - 1);
      const double c0 = 1.0 - sim[size_t(r) * m + size_t(j0)], c1 = 1.0 - sim[size_t(r) * m + size_t(j1)];
      const double f = std::clamp(x - double(j0), 0.0, 1.0);
      sum += between ? (1 - f) * c0 + f * c1 : std::min(c0, c1);
      ++cnt;
    }
    return cnt < need ? std::numeric_limits<double>::infinity() : sum / double(cnt);
  };
  for (int64_t o = -int64_t(std::ceil(slope * double(nf))); o <= mi; ++o)
    if (const double c = mean_cost(double(o), false); std::isfinite(c)) scan.cost.emplace_back(double(o), c);
  if (scan.cost.empty()) continue;
  const double o0 = scan.best().first;
  double best = std::numeric_limits<double>::infinity();
  for (int d = -20; d <= 20; ++d)
    if (const double c = mean_cost(o0 + d * 0.05, true); c < best) best = c, scan.fine = o0 + d * 0.05;
  }
  return scans;
}

double OffsetScan::at(double offset) const {
  double best = std::numeric_limits<double>::infinity();
  for (const auto& [o, c] : cost)
    if (std::abs(o - offset) <= 0.5) best = std::min(best, c);
  return best;
}

std::pair<double, double> OffsetScan::best() const {
  std::pair<double, double> b{0, std::numeric_limits<double>::infinity()};
  for (const auto& oc : cost)
    if (oc.second < b.second) b = oc;
  return b;
}

std::pair<int64_t, int64_t> Cadence::bg_frames(int64_t i, int64_t near) const {
  if (!(rate > 0)) return {near, near};
  const double s = std::floor(double(i) * pf + a);
  auto dist = [&](int64_t j) { return std::abs(std::floor(double(j) * pb + b) - s); };
  const int64_t reach = 2 + int64_t(std::ceil(2.0 / std::max(pb, 0.05)));
  int64_t jl = near;
  for (int64_t j = near - reach; j <= near + reach; ++j)
    if (dist(j) < dist(jl)) jl = j;
  int64_t jh = jl;
  while (jl > near - reach && dist(jl - 1) == dist(jl)) --jl;
  while (jh < near + reach && dist(jh + 1) == dist(jh)) ++jh;
  return {jl, jh};
}

namespace {

// The rates a common source may have had: the usual ones and the two videos' own, ascending, each once.
std::vector<double> source_rates(double fg_fps, double bg_fps) {
  std::vector<double> rates = {10, 12, 12.5, 15, 20, 24000.0 / 1001, 24, 25, 30000.0 / 1001, 30,
                               48, 50, 60000.0 / 1001, 60, 100, 120, fg_fps, bg_fps};
  std::sort(rates.begin(), rates.end());
  rates.erase(std::unique(rates.begin(), rates.end(), [](double x, double y) { return std::abs(x - y) < 1e-9; }),
              rates.end());
  return rates;
}

}  // namespace

// A frame-rate conversion shows in each frame the source frame nearest its time, so when both videos come from
// one source of rate R, fg frame i shows source frame floor(i R / fg_fps + a) and bg frame j floor(j R / bg_fps +
// b). Exact pairs must show one source frame, between frames one that bg lacks. Tried: common rates and the two
// videos' own; for each, phases a on a grid, and the best b for each a by a sweep over the intervals of b that
// each observation allows. Where a video repeats source frames (a rate above the source's), its clear changes
// tell the source's rate: a coarser cadence would repeat a frame where they change. Kept only when it explains
// 99% of the exact pairs, 90% of the between frames (a few may be other changes: a cut, a flash, focus) and 95%
// of the changes, and no fewer exact pairs than the line does. Where frames look alike it, not the line, then
// says which bg frame shows fg's moment.
Cadence fit_cadence(const std::vector<Shown>& exact, const std::vector<int64_t>& between,
                    const TimeLine& line, double fg_fps, double bg_fps, const Changes& changes) {
  Cadence none;
  // (Rates a header can claim but no conversion makes are left to the line.)
  if (exact.size() < 24 || !(fg_fps >= 1 && fg_fps <= 1000) || !(bg_fps >= 1 && bg_fps <= 1000)) return none;
  std::vector<double> rates = source_rates(fg_fps, bg_fps);
  constexpr double kHair = 1e-7;
  // fg changes that phase a misses: consecutive frames that differ while it has them show one source frame.
  auto missed_fg = [&](double pf, double a, size_t stride) {
    size_t missed = 0;
    for (size_t e = 0; e < changes.fg.size(); e += stride) {
      const double x = double(changes.fg[e]) * pf + a;
      missed += std::floor(x) == std::floor(x + pf);
    }
    return missed;
  };
  // Score of phase a for the rate's pf, pb (all observations) and the b reaching it. `ev` is the caller's buffer
  // for the interval ends (one per thread: the rates and phases below are scored on both).
  using Events = std::vector<std::pair<double, double>>;
  auto score = [&](double pf, double pb, double a, size_t stride, double& b_out, Events& ev) {
    ev.clear();
    double base = 0;
    for (size_t e = 0; e < exact.size(); e += stride) {
      // Every bg frame of the run shows fg's source frame s: b from s - lo pb to s - hi pb + 1 (none where the
      // cadence cannot repeat a frame that often).
      const double s = std::floor(double(exact[e].fg) * pf + a);
      const double from = s - double(exact[e].lo) * pb, to = s - double(exact[e].hi) * pb + 1;
      if (from < to) ev.emplace_back(from + kHair, 1.0), ev.emplace_back(to - kHair, -1.0);
    }
    if (pb > 1) {  // bg lacks some source frames: a between frame shows one of them
      const double b0 = a - line.offset * pb;
      for (size_t e = 0; e < between.size(); e += stride) {
        const double s = std::floor(double(between[e]) * pf + a);
        base += 1;
        for (int64_t j = int64_t(std::floor((s - b0 - 3) / pb)); j <= int64_t(std::ceil((s - b0 + 3) / pb)); ++j)
          ev.emplace_back(s - double(j) * pb - kHair, -1.0), ev.emplace_back(s + 1 - double(j) * pb + kHair, 1.0);
      }
    }
    if (pb < 1) {  // bg repeats source frames: where it changes, b must not have it repeat one
      const double b0 = a - line.offset * pb;
      for (size_t e = 0; e < changes.bg.size(); e += stride) {
        const double x = double(changes.bg[e]) * pb;
        base += 1;
        for (int64_t k = int64_t(std::floor(b0 - 3 + x)); k <= int64_t(std::ceil(b0 + 3 + x)); ++k)
          ev.emplace_back(double(k) - x - kHair, -1.0), ev.emplace_back(double(k) - x + 1 - pb + kHair, 1.0);
      }
    } else {
      base += double((changes.bg.size() + stride - 1) / stride);
    }
    const auto [best, at] = deepest(ev, base);
    b_out = at;
    return best - double(missed_fg(pf, a, stride));
  };
  // Rates and coarse phases on at most ~300 observations; the chosen rate's phase refined on all of them.
  const size_t stride = std::max<size_t>(1, (exact.size() + between.size()) / 300);
  std::vector<Cadence> fits(rates.size());
  std::vector<double> fit_v(rates.size(), -std::numeric_limits<double>::infinity());
  for_each_index(rates.size(), [&](size_t i) {
    Events ev;
    Cadence& r = fits[i];
    r = {rates[i], rates[i] / fg_fps, rates[i] / bg_fps, 0, 0};
    for (int step = 0; step < 50; ++step) {
      double b;
      const double a = step / 50.0 + 1e-9, s = score(r.pf, r.pb, a, stride, b, ev);
      if (s > fit_v[i]) fit_v[i] = s, r.a = a, r.b = b;
    }
  });
  double best = -1;
  Cadence c;
  for (size_t i = 0; i < rates.size(); ++i) {
    const double rate = rates[i], v = fit_v[i];
    const Cadence& r = fits[i];
    // Ties: one of the videos' own rates (one of them is the source), then the higher rate (a source of half the
    // rate explains the same frames by showing each twice).
    auto wins_tie = [&] {
      const bool own = std::abs(rate - fg_fps) < 1e-9 || std::abs(rate - bg_fps) < 1e-9;
      const bool c_own = std::abs(c.rate - fg_fps) < 1e-9 || std::abs(c.rate - bg_fps) < 1e-9;
      return own > c_own || (own == c_own && rate > c.rate);
    };
    if (v > best + 0.5 || (v > best - 0.5 && wins_tie())) best = v, c = r;
  }
  // The observations allow an interval of phases, and the grid above takes its first step: an end of it, which
  // can be wrong for frames they do not show. So the chosen rate's phase is scanned over the whole period (a and
  // a + 1 name the same cadence). A conversion that starts on a source frame and rounds to the nearest one (as
  // ffmpeg's fps filter does, half up) has phase 0.5: kept when it fits as well as any; else the middle of the
  // widest best run.
  constexpr int kSteps = 500;
  constexpr double kHalf = 0.5 + 1e-9;
  std::vector<double> v(kSteps);
  for_each_index(2, [&](size_t half) {
    Events ev;
    double b_unused;
    for (int k = int(half) * kSteps / 2; k < int(half + 1) * kSteps / 2; ++k)
      v[size_t(k)] = score(c.pf, c.pb, (k + 0.5) / kSteps, stride, b_unused, ev);
  });
  const double top = *std::max_element(v.begin(), v.end());
  Events ev;
  double b_unused;
  if (score(c.pf, c.pb, kHalf, stride, b_unused, ev) >= top) {
    c.a = kHalf;
  } else {
    int widest = 0, middle = -1;
    for (int k = 0; k < kSteps; ++k) {
      if (v[size_t(k)] != top || v[size_t((k + kSteps - 1) % kSteps)] == top) continue;  // not where a run starts
      int len = 1;
      while (len < kSteps && v[size_t((k + len) % kSteps)] == top) ++len;
      if (len > widest) widest = len, middle = (k + len / 2) % kSteps;
    }
    if (middle >= 0) c.a = (middle + 0.5) / kSteps;  // else every phase fits alike: the grid's is as good
  }
  score(c.pf, c.pb, c.a, 1, c.b, ev);
  // The gate.
  // Runs of repeated bg frames do not count here: a slow change can pass for a repeat, and so one in ten or more
  // of them crosses a source frame's end. (They still weigh in the score above.)
  size_t fit_exact = 0, line_exact = 0, fit_between = 0, singles = 0;
  for (const Shown& e : exact) {
    if (e.hi > e.lo) continue;
    const double s = std::floor(double(e.fg) * c.pf + c.a);
    ++singles;
    fit_exact += std::floor(double(e.lo) * c.pb + c.b) == s;
    line_exact += std::llround(line.slope * double(e.fg) + line.offset) == e.lo;
  }
  for (const int64_t i : between) {
    const int64_t near = std::llround(line.slope * double(i) + line.offset);
    const auto [jl, jh] = c.bg_frames(i, near);
    fit_between += std::floor(double(jl) * c.pb + c.b) != std::floor(double(i) * c.pf + c.a);
  }
  // Between frames count only where bg lacks source frames (pb > 1); otherwise the cadence cannot explain them
  // (bg shows every source frame) and they are something else: a cut, a flash, heavy coding.
  const double missed_between = c.pb > 1 ? double(between.size() - fit_between) : 0.0;
  size_t missed = missed_fg(c.pf, c.a, 1);
  for (const int64_t j : changes.bg)
    missed += std::floor(double(j) * c.pb + c.b) == std::floor(double(j + 1) * c.pb + c.b);
  const size_t all_changes = changes.fg.size() + changes.bg.size();
  if (double(fit_exact) < 0.99 * double(singles) ||
      double(missed) > 0.05 * double(all_changes) ||
      missed_between > std::max(0.1 * double(between.size()), 0.02 * double(exact.size())) ||
      fit_exact < line_exact)
    return none;
  return c;
}

namespace {

// Paired differences of cost (one map against another, frame by frame): their sum, count, and mean in standard
// errors above zero.
struct Paired {
  double sum = 0, sum2 = 0;
  size_t n = 0;
  void add(double d) { sum += d, sum2 += d * d, ++n; }
  double t() const {
    if (!n) return 0;
    const double mean = sum / double(n), var = std::max(sum2 / double(n) - mean * mean, 1e-30);
    return mean / std::sqrt(var / double(n));
  }
};

// How much better the line bg = slope x fg + to fits the thumbnails than the line through `from`, in standard
// errors of the paired difference, on the fg frames both lines pass through bg, each scored by the better of the
// two bg frames it passes between (as scan_offsets does).
double gain_over(const Features& fg, const Features& bg, double slope, double from, double to, const ThumbWeights& w) {
  const int64_t m = int64_t(bg.frames());
  if (fg.thumbs.empty() || bg.thumbs.empty() || !m) return 0;
  std::vector<float> lf(kLevels), lb(kLevels);
  auto cost = [&](size_t i, double o) {
    const double x = slope * double(i) + o;
    const int64_t j0 = std::clamp<int64_t>(int64_t(std::floor(x)), 0, m - 1);
    double c = 1.0;
    for (const int64_t j : {j0, std::min(j0 + 1, m - 1)}) {
      thumb_levels(bg.t(size_t(j)), lb.data());
      c = std::min(c, 1.0 - levels_ncc(lf.data(), lb.data(), w));
    }
    return c;
  };
  Paired p;
  for (size_t i = 0; i < fg.frames(); ++i) {
    const double a = slope * double(i) + std::min(from, to), b = slope * double(i) + std::max(from, to);
    if (a < -0.5 || b > double(m) - 0.5) continue;
    thumb_levels(fg.t(i), lf.data());
    p.add(cost(i, from) - cost(i, to));
  }
  return p.n >= 8 ? p.t() : 0;
}

// Where fit_cadence finds too little evidence (a slow passage: few fg frames match one bg frame clearly, few
// consecutive frames clearly differ), the cadence whose map costs less than the line's, frame by frame. On the
// frames where the two disagree, each cost (1 - NCC of the thumbnails) is read at a single bg frame, the cadence's
// nearest the line's, so that a run of repeats does not gain by taking the lower of two noisy costs. Kept where
// they disagree on 8 frames or more (and a twentieth of the range) and the cadence's gain stands 4 standard
// errors above zero; the largest total gain wins. Rate 0 otherwise. Rates, and phases a and b on grids of 1/50 and
// 1/20 of a source frame (b within a frame of the line's), are tried on both threads.
Cadence cadence_by_cost(const std::vector<std::vector<double>>& nccs, const std::vector<int64_t>& lo,
                        const std::vector<int64_t>& hi, size_t first, const TimeLine& line, double fg_fps,
                        double bg_fps) {
  Cadence none;
  const size_t k = nccs.size();
  if (k < 16 || !(fg_fps >= 1 && fg_fps <= 1000) || !(bg_fps >= 1 && bg_fps <= 1000)) return none;
  auto cost = [&](size_t q, int64_t j) {
    return j < lo[q] || j > hi[q] ? std::numeric_limits<double>::infinity() : 1.0 - nccs[q][size_t(j - lo[q])];
  };
  std::vector<int64_t> near(k);
  for (size_t q = 0; q < k; ++q) near[q] = std::llround(line.slope * double(first + q) + line.offset);
  // On a long pair every few frames: the test below needs hundreds of them, not tens of thousands.
  const size_t stride = std::max<size_t>(1, k / 600);
  std::vector<double> rates = source_rates(fg_fps, bg_fps);
  // A source as fast as the faster video, or faster, shows another source frame in each of that video's frames:
  // its map is the line's, rounded another way (within 0.5%: 29.97 fps under a 30 fps fg), and a gain there says
  // where the line runs, not what the source's rate is (a pan at CRF 40, placed 0.8 px off, took 29.97 for 24).
  const double faster = std::max(fg_fps, bg_fps), slower = std::min(fg_fps, bg_fps);
  rates.erase(std::remove_if(rates.begin(), rates.end(),
                             [&](double x) { return x > slower * (1 + 1e-6) && x > faster * 0.995; }),
              rates.end());
  // The bg frames showing fg frame i's source frame, as Cadence::bg_frames finds them, directly where bg shows it.
  auto shown_in_bg = [&](const Cadence& c, size_t q) -> std::pair<int64_t, int64_t> {
    const double s = std::floor(double(first + q) * c.pf + c.a);
    auto src = [&](int64_t j) { return std::floor(double(j) * c.pb + c.b); };
    int64_t jl = int64_t(std::ceil((s - c.b) / c.pb));
    while (src(jl) < s) ++jl;
    while (src(jl - 1) >= s) --jl;
    if (src(jl) != s) return c.bg_frames(int64_t(first + q), near[q]);  // bg lacks it
    int64_t jh = jl;
    while (src(jh + 1) == s) ++jh;
    return {jl, jh};
  };
  // Cadence c against the line moved by `shift`, on the fg frames where their bg frames differ: the summed gain in
  // cost, how many frames differ, its standard errors above zero, and how many fell outside the band of costs.
  struct Versus {
    double gain = 0, t = 0;
    size_t n = 0, outside = 0;
  };
  auto versus = [&](const Cadence& c, double shift) {
    Versus v;
    Paired p;
    for (size_t q = 0; q < k; q += stride) {
      const int64_t base = shift == 0 ? near[q] : std::llround(line.slope * double(first + q) + line.offset + shift);
      const auto [jl, jh] = shown_in_bg(c, q);
      if (jl <= base && base <= jh) continue;
      const double d = cost(q, base) - cost(q, jh < base ? jh : jl);
      if (!std::isfinite(d)) {
        ++v.outside;
        continue;
      }
      p.add(d);
    }
    v.gain = p.sum, v.n = p.n, v.t = p.t();
    return v;
  };
  struct Best {
    Cadence c;
    double gain = 0, half = 0;  // the best, and that of phases a and b of one half each (see below)
  };
  std::vector<Best> best(rates.size());
  for_each_index(rates.size(), [&](size_t ri) {
    Cadence c{rates[ri], rates[ri] / fg_fps, rates[ri] / bg_fps, 0, 0};
    for (int sa = 0; sa < 50; ++sa) {
      c.a = sa / 50.0 + 1e-9;
      const double b0 = std::floor(c.a - line.offset * c.pb) + 0.5 + 1e-9;
      for (int sb = -20; sb <= 20; ++sb) {
        c.b = b0 + sb / 20.0;
        const Versus v = versus(c, 0);
        // (A frame beyond the band the costs were read in: not this cadence.)
        if (v.outside || v.n < std::max<size_t>(8, k / stride / 20) || v.gain <= 0 || v.t < 4) continue;
        if (v.gain > best[ri].gain) best[ri].c = c, best[ri].gain = v.gain;
        if (sa == 25 && sb % 20 == 0) best[ri].half = std::max(best[ri].half, v.gain);
      }
    }
  });
  Best top;
  for (const Best& b : best)
    if (b.gain > top.gain) top = b;
  if (!(top.gain > 0)) return none;
  // A conversion that starts on a source frame and rounds to the nearest one (ffmpeg's fps filter, half up) has
  // phases of one half: kept where they gain nearly as much (the costs are noisy; the grid's best is an end of a
  // run of phases that fit alike), at the rate whose half phases gain most (24 and 23.976 fps drift apart by a
  // tenth of a frame in six seconds: the noise picks between them, the phases less so).
  Best halves;
  for (const Best& b : best)
    if (b.half >= 0.95 * top.gain && b.half > halves.half) halves = b;
  if (halves.half > 0) {
    top = halves;
    top.c.a = 0.5 + 1e-9;
    const double b0 = std::floor(top.c.a - line.offset * top.c.pb) + 0.5 + 1e-9;
    double g = -1;
    for (int sb = -1; sb <= 1; ++sb) {  // the b of one half that gained `half`
      Cadence c = top.c;
      c.b = b0 + sb;
      if (const Versus v = versus(c, 0); !v.outside && v.gain > g) g = v.gain, top.c.b = c.b;
    }
  }
  // The line moved by a fraction of a frame rounds to other frames too, and where the costs favour a shift in time
  // (a zoom slightly misscaled trades time for scale) a cadence gains by rounding the same way. So it must also beat
  // the line moved by what gains most, by the same test at 3 standard errors (the best of 21 shifts is already
  // favoured by its choice): a cadence fits a pattern no shift does. (A mandelbrot zoom placed 1.2% small took a
  // 20 fps cadence for its 25 fps source: 2.4 standard errors over the line shifted by a quarter frame.)
  double shift = 0, shift_gain = 0;
  for (int d = -10; d <= 10; ++d) {
    double sum = 0;
    for (size_t q = 0; q < k; q += stride) {
      const int64_t j = std::llround(line.slope * double(first + q) + line.offset + d * 0.05);
      if (const double g = cost(q, near[q]) - cost(q, j); j != near[q] && std::isfinite(g)) sum += g;
    }
    if (sum > shift_gain) shift_gain = sum, shift = d * 0.05;
  }
  const Versus v = versus(top.c, shift);
  if (v.n < 8) return shift_gain > 0 ? none : top.c;
  return v.gain > 0 && v.t >= 3 ? top.c : none;
}

// What speed_slope searched on the way, for the line of the slope it chose (so match_line does not search it again):
// the k-NN candidates (the same for every slope) where it took them, and the thumbnails' offset scan for that slope.
struct Searched {
  Candidates cand;  // k 0: not taken
  OffsetScan scan;
  bool scanned = false;
};

// One time line and the map around it: match_frames without the pieces. `cand` gets the k-NN candidates (empty
// when either side has no frame).
MatchResult match_line(const Features& fg, const Features& bg, double rate_ratio, const MatchOptions& opt,
                       Candidates& cand, const Searched* searched = nullptr) {
  MatchResult r;
  const size_t n = fg.frames();
  const int64_t m = int64_t(bg.frames());
  r.time.map.assign(n, 0);
  r.time.similarity.assign(n, std::nanf(""));  // clamped frames have no match to score
  if (!n || !m) return r;
  cand = searched && searched->cand.k ? searched->cand : knn(fg, bg, 10);
  r.line = fit_line(cand, rate_ratio);
  // The vote can follow look-alike frames (a near-still shot whose embeddings lean to one end): the thumbnails
  // overrule it where another offset fits them clearly better: at half the cost or less, or, on a placement
  // re-fitted on matched frames, by 8 standard errors or more on the fg frames both lines pass through bg (a
  // near-still crop of the ground, random11_10 in bench/pairs: the vote 4 frames early and 0% exact, the scan's
  // cost 0.63-0.68 of the line's at 11-13 standard errors). (Not on the first placement: along a vertical pan a
  // strip placed 0.3-1 px off favoured lines 4-9 frames off by 6.7-9.5 standard errors, random10_19.)
  {
    const OffsetScan scan = searched && searched->scanned ? searched->scan : scan_offsets(fg, bg, rate_ratio, opt.weights);
    const auto [o, c] = scan.best();
    if (std::abs(o - r.line.offset) > 1.5 &&
        (c < 0.5 * scan.at(r.line.offset) ||
         (opt.refitted && gain_over(fg, bg, r.line.slope, r.line.offset, scan.fine, opt.weights) >= 8)))
      r.line.offset = scan.fine;
  }
  auto line_at = [&](size_t i) { return r.line.slope * double(i) + r.line.offset; };

  // fg frames whose moment lies before bg starts or after it ends are clamped; the rest are matched.
  size_t first = 0, last = n;  // matched range [first, last)
  while (first < n && line_at(first) < -0.5) ++first;
  while (last > first && line_at(last - 1) > double(m) - 0.5) --last;
  r.time.clamped_start = int(first);
  r.time.clamped_end = int(n - last);
  for (size_t i = 0; i < first; ++i) r.time.map[i] = 0;
  for (size_t i = last; i < n; ++i) r.time.map[i] = m - 1;
  if (first == last) return r;

  // Pass 1: embeddings in a wide band around the line.
  const size_t k = last - first;
  std::vector<int64_t> lo(k), hi(k);
  for (size_t q = 0; q < k; ++q) {
    const int64_t c = std::llround(line_at(first + q));
    lo[q] = std::clamp<int64_t>(c - opt.band, 0, m - 1);
    hi[q] = std::clamp<int64_t>(c + opt.band, 0, m - 1);
    if (q && lo[q] < lo[q - 1]) lo[q] = lo[q - 1];  // keep every band reachable from the previous one
  }
  // (Where fg shows overlays of its own, on the 32 px thumbnails without them instead: the embeddings see the
  // subtitles change, and led a still stretch two frames off, beyond pass 2's reach.)
  std::vector<float> uf, ub;
  if (opt.coarse_by_thumbs && !fg.thumbs.empty() && !bg.thumbs.empty())
    uf = unit_thumbs(fg, opt.weights, 1), ub = unit_thumbs(bg, opt.weights, 1);
  constexpr int kUnit = kThumb / 4 * kThumb / 4;
  const std::vector<int64_t> coarse = monotonic_path(lo, hi, [&](size_t q, int64_t j) {
    const size_t i = first + q;
    const double sim = uf.empty() ? dot(fg.e(i), bg.e(size_t(j)), fg.dim)
                                  : dot(&uf[i * kUnit], &ub[size_t(j) * kUnit], kUnit);
    return (1.0 - sim) + opt.line_weight * std::abs(double(j) - line_at(i));
  });

  // Pass 2: the exact frame among the neighbours, by thumbnails (weighted towards the seam band). The line's pull
  // is counted in units of each fg frame's noise floor (1 - its best NCC in the band): where neighbours differ
  // by more than coding noise the content decides (timestamps alone pick a neighbour on many frames of a rate
  // conversion); where they differ by less (slow motion, still shots) the line does.
  for (size_t q = 0; q < k; ++q) {
    lo[q] = std::clamp<int64_t>(coarse[q] - 2, 0, m - 1);
    hi[q] = std::clamp<int64_t>(coarse[q] + 2, 0, m - 1);
    if (q && lo[q] < lo[q - 1]) lo[q] = lo[q - 1];
  }
  std::vector<std::vector<double>> nccs(k);
  if (fg.thumbs.empty() || bg.thumbs.empty()) {
    if (!opt.scores || !opt.scores(first, lo, hi, nccs)) return r;
  } else {
    for_each_index(2, [&](size_t half) {  // each half of the frames on a thread, with its own levels
      std::vector<float> fl(kLevels);
      BandLevels bl;
      for (size_t q = half * k / 2; q < (half + 1) * k / 2; ++q) {
        thumb_levels(fg.t(first + q), fl.data());
        for (int64_t j = lo[q]; j <= hi[q]; ++j)
          nccs[q].push_back(levels_ncc(fl.data(), bl.at(j, bg.t(size_t(j))), opt.weights));
      }
    });
  }
  std::vector<double> noise(k, 1.0);
  for (size_t q = 0; q < k; ++q)
    for (double v : nccs[q]) noise[q] = std::min(noise[q], 1.0 - v);
  // The cost between consecutive bg frames (step[j]: j and j + 1), from the thumbnails in memory: where it is
  // at the coding floor bg shows one source frame twice (a rate above the source's), and both are exact.
  std::vector<double> step;
  if (!bg.thumbs.empty()) {
    step.assign(size_t(m), 1.0);
    std::vector<float> a(kLevels), b(kLevels);
    thumb_levels(bg.t(size_t(lo[0])), a.data());
    for (int64_t j = lo[0]; j < hi[k - 1]; ++j) {
      thumb_levels(bg.t(size_t(j + 1)), b.data());
      step[size_t(j)] = 1.0 - levels_ncc(a.data(), b.data(), opt.weights);
      a.swap(b);
    }
  }
  const std::vector<double> coding_floor = local_floor(noise);
  // Over 3x the local coding floor: fg shows a moment between two bg frames.
  auto is_between = [&](size_t q) { return noise[q] > 3 * coding_floor[q]; };
  // Pass 2's path, each frame pulled (by weight x its noise floor per bg frame of distance) towards [tl, th].
  using Pull = std::vector<double>;
  auto fine_path = [&](const Pull& weight, const Pull& tl, const Pull& th) {
    return monotonic_path(lo, hi, [&](size_t q, int64_t j) {
      const double off = std::max({0.0, tl[q] - double(j), double(j) - th[q]});
      return (1.0 - nccs[q][size_t(j - lo[q])]) + weight[q] * (noise[q] + 1e-6) * off;
    });
  };
  std::vector<double> weight(k, opt.fine_line_weight);
  std::vector<double> target_lo(k), target_hi(k);  // the pull is towards [target_lo, target_hi]
  for (size_t q = 0; q < k; ++q) target_lo[q] = target_hi[q] = line_at(first + q);
  std::vector<int64_t> fine = fine_path(weight, target_lo, target_hi);
  // What the first result says: fg frames matched exactly (at the coding floor, with a clear margin), and fg frames
  // showing a moment *between* two bg frames (best match well above the floor).
  // `shown` counts a bg frame repeating the chosen one as exact too (the cadence's evidence); `exact` does not
  // (the line's: the repeats blur where it runs).
  std::vector<std::pair<int64_t, int64_t>> exact;
  std::vector<Shown> shown;
  std::vector<int64_t> between;
  for (size_t q = 0; q < k; ++q) {
    if (is_between(q)) between.push_back(int64_t(first + q));
    if (noise[q] > 1.5 * coding_floor[q]) continue;
    // The run of bg frames repeating the chosen one (at the coding floor of each other): a bg rate above the
    // source's shows each source frame twice or more, and all of them are exact.
    int64_t rl = fine[q], rh = fine[q];
    if (!step.empty()) {
      while (rl > lo[q] && step[size_t(rl - 1)] <= 0.5 * coding_floor[q]) --rl;
      while (rh < hi[q] && step[size_t(rh)] <= 0.5 * coding_floor[q]) ++rh;
    }
    double second = 1.0, other = 1.0;  // the runner-up, and the best outside the run
    for (int64_t j = lo[q]; j <= hi[q]; ++j) {
      if (j == fine[q]) continue;
      second = std::min(second, 1.0 - nccs[q][size_t(j - lo[q])]);
      if (j < rl || j > rh) other = std::min(other, 1.0 - nccs[q][size_t(j - lo[q])]);
    }
    if (second >= 3 * noise[q]) exact.emplace_back(int64_t(first + q), fine[q]);
    if (other >= 3 * noise[q] && rh - rl <= 2) shown.push_back({int64_t(first + q), rl, rh});  // longer: a still
  }
  // Consecutive frames that clearly show different moments (4x the coding floor apart): a source cadence must
  // change its frame there. With the thumbnails in memory only. (At 3x, a fg at CRF 32 whose frame types are coded
  // at unlike quantisers had 12 of its repeats pass for changes, and the film's cadence, missing them, was refused:
  // random13_13 in bench/pairs.)
  Changes changes;
  if (!step.empty()) {
    std::vector<double> f(coding_floor);
    std::nth_element(f.begin(), f.begin() + long(k / 2), f.end());
    for (int64_t j = lo[0]; j < hi[k - 1]; ++j)
      if (step[size_t(j)] > 4 * f[k / 2]) changes.bg.push_back(j);
    std::vector<float> a(kLevels), b(kLevels);
    thumb_levels(fg.t(first), a.data());
    for (size_t q = 0; q + 1 < k; ++q) {
      thumb_levels(fg.t(first + q + 1), b.data());
      if (1.0 - levels_ncc(a.data(), b.data(), opt.weights) > 4 * coding_floor[q])
        changes.fg.push_back(int64_t(first + q));
      a.swap(b);
    }
  }
  // Drift (a slightly wrong container rate): the frame rates give the slope (fit_line's) unless exact matches,
  // a quarter of the matched frames or more and spread over at least half of them, show another; the offset is
  // refitted on them just below. (Fewer tilt it falsely: a placement a few pixels off along a pan biases them.)
  {
    double sx = 0, sy = 0, sxx = 0, sxy = 0, xmin = 1e300, xmax = -1e300;
    for (const auto& [i, j] : exact) {
      sx += double(i), sy += double(j), sxx += double(i) * double(i), sxy += double(i) * double(j);
      xmin = std::min(xmin, double(i)), xmax = std::max(xmax, double(i));
    }
    const double cnt = double(exact.size());
    if (exact.size() >= std::max<size_t>(20, k / 4) && xmax - xmin >= 0.5 * double(k)) {
      const double s = (cnt * sxy - sx * sy) / (cnt * sxx - sx * sx);
      if (std::isfinite(s) && std::abs(s - rate_ratio) < 0.02 * rate_ratio) r.line.slope = s;
    }
  }
  // The line came from embeddings' top candidates, which can sit a fraction of a frame to one side (zooms); the
  // exact matches tell where it really runs.
  if (exact.size() >= 8) {
    double sum = 0;
    for (const auto& [i, j] : exact) sum += double(j) - r.line.slope * double(i);
    r.line.offset = sum / double(exact.size());
  } else {
    // Too noisy for exact matches (heavy re-encodes, colour changes): the offset, within two frames, at which
    // the line runs through the most alike frames, costs read between neighbouring bg frames. Many frames
    // together place it where each alone cannot.
    double best = std::numeric_limits<double>::infinity(), shift = 0, at_line = 0;
    for (int d = -40; d <= 40; ++d) {
      double sum = 0;
      for (size_t q = 0; q < k; ++q) {
        const double x = std::clamp(line_at(first + q) + d * 0.05, double(lo[q]), double(hi[q]));
        const int64_t j0 = std::min(int64_t(std::floor(x)), hi[q]), j1 = std::min(j0 + 1, hi[q]);
        const double f = x - double(j0);
        sum += (1 - f) * (1 - nccs[q][size_t(j0 - lo[q])]) + f * (1 - nccs[q][size_t(j1 - lo[q])]);
      }
      if (d == 0) at_line = sum;
      if (sum < best) best = sum, shift = d * 0.05;
    }
    // Only a clear gain moves it: on a zoom a shift in time fits about as well as a change of scale, and the
    // placement re-check would follow the shifted map along that ridge.
    if (best < 0.8 * at_line) r.line.offset += shift;
    {
      // Then the line may still round the wrong way: each fg frame's cost read at the one bg frame the line moved
      // by d rounds to, d within a frame by twentieths. The middle of the run of d that costs least is taken where
      // it gains on the frames that round otherwise by 4 standard errors or more, and where the run ends inside
      // the frame (else the line is further off than rounding: not this fit's to say). (A 29.97 / 50 fps pair at
      // fg CRF 32, random11_17 in bench/pairs: no frame matched clearly, the line ran 0.1 frame low, and 4% of
      // frames rounded to the neighbour. A 24 fps film at 30 and 48 fps, random12_2: the costs read between
      // frames put the line 0.15 frame low, and 4 of 100 frames rounded a frame early.)
      auto rounded = [&](size_t q, double d) {
        return std::clamp<int64_t>(std::llround(line_at(first + q) + d), lo[q], hi[q]);
      };
      std::vector<double> sums;
      for (int d = -20; d <= 20; ++d) {
        double sum = 0;
        for (size_t q = 0; q < k; ++q) sum += 1 - nccs[q][size_t(rounded(q, d * 0.05) - lo[q])];
        sums.push_back(sum);
      }
      const size_t m0 = size_t(std::min_element(sums.begin(), sums.end()) - sums.begin());
      size_t a = m0, b = m0;
      while (a > 0 && sums[a - 1] == sums[m0]) --a;
      while (b + 1 < sums.size() && sums[b + 1] == sums[m0]) ++b;
      const double d = (double(a + b) / 2 - 20) * 0.05;
      Paired p;
      for (size_t q = 0; q < k; ++q) {
        const int64_t j0 = rounded(q, 0), j1 = rounded(q, d);
        if (j0 != j1) p.add(nccs[q][size_t(j1 - lo[q])] - nccs[q][size_t(j0 - lo[q])]);
      }
      if (p.n >= 4 && p.t() >= 4 && a > 0 && b + 1 < sums.size()) r.line.offset += d;
    }
  }
  // Where frames look alike the pull decides: towards the bg frames showing fg's source frame when both videos
  // follow one source's cadence, else towards the line. A between frame is pulled harder: how alike its two
  // neighbours look says little about which moment is nearer (motion is not linear in NCC).
  r.cadence = fit_cadence(shown, between, r.line, opt.fg_fps, opt.bg_fps, changes);
  if (!(r.cadence.rate > 0)) r.cadence = cadence_by_cost(nccs, lo, hi, first, r.line, opt.fg_fps, opt.bg_fps);
  for (size_t q = 0; q < k; ++q) {
    const int64_t i = int64_t(first + q);
    if (r.cadence.rate > 0) {
      const auto [jl, jh] = r.cadence.bg_frames(i, std::llround(line_at(size_t(i))));
      target_lo[q] = double(jl), target_hi[q] = double(jh);
      weight[q] = opt.cadence_weight;
    } else {
      target_lo[q] = target_hi[q] = line_at(size_t(i));
    }
    if (is_between(q)) weight[q] = std::max(weight[q], opt.between_line_weight);
  }
  fine = fine_path(weight, target_lo, target_hi);
  std::vector<double> chosen;
  for (size_t q = 0; q < k; ++q) {
    r.time.map[first + q] = fine[q];
    chosen.push_back(nccs[q][size_t(fine[q] - lo[q])]);
    r.time.similarity[first + q] = float(chosen.back());
  }
  // Confidence: how alike the matched frames are (median thumbnail NCC), 0 for unrelated pictures.
  std::nth_element(chosen.begin(), chosen.begin() + long(chosen.size() / 2), chosen.end());
  r.time.confidence = std::clamp(chosen[chosen.size() / 2], 0.0, 1.0);
  return r;
}

// Frames [s, e) of f.
Features slice(const Features& f, size_t s, size_t e) {
  Features out;
  out.dim = f.dim;
  out.emb.assign(f.e(s), f.e(s) + (e - s) * size_t(f.dim));
  if (!f.thumbs.empty()) out.thumbs.assign(f.t(s), f.t(s) + (e - s) * kThumb * kThumb);
  return out;
}

// Confidence: how alike the matched frames are (median thumbnail NCC), 0 for unrelated pictures.
double median_similarity(const std::vector<float>& sim) {
  std::vector<double> v;
  for (const float x : sim)
    if (!std::isnan(x)) v.push_back(x);
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return std::clamp(v[v.size() / 2], 0.0, 1.0);
}

// An edited fg (a scene cut out, scenes reordered, a clip made of several moments of bg) follows one time line
// per piece. After the main line's map, an fg frame is unexplained where one of its k-NN candidates away from its
// bg frame (further than the DTW's band reaches; within it, the DTW follows content) matches its thumbnail with
// under half the cost (1 - NCC) and is a real match, not the least bad of unrelated pictures (at most 3x the cost
// of a well matched frame, or a tenth of its own bg frame's), while its own bg frame costs over 4x a well matched
// one (not a near-repeat within coding noise: a slow scene of Big Buck Bunny has frames 15 apart within 0.003 of
// each other). Each run of at least kMinPiece unexplained frames (gaps of up to 2 frames bridged) is matched again
// on its own, with its own line, and keeps that map where it halves the run's mean cost, brings it within 2x a
// well matched frame's, and moves its frames (the median) beyond the band; then grows at both ends while its line
// fits the next frame better. Pieces within pieces: up to kMaxDepth levels.
constexpr size_t kMinPiece = 5;
constexpr int kMaxDepth = 3;

MatchResult match_pieces(const Features& fg, const Features& bg, double rate_ratio, const MatchOptions& opt,
                         int depth, double parent_floor = 0, const Searched* searched = nullptr) {
  Candidates cand;
  MatchResult r = match_line(fg, bg, rate_ratio, opt, cand, searched);
  const size_t n = fg.frames();
  if (depth >= kMaxDepth || n < kMinPiece || fg.thumbs.empty() || bg.thumbs.empty() || cand.k == 0) return r;
  std::vector<double> cost(n, 1.0), alt(n, std::numeric_limits<double>::infinity());
  for_each_index(2, [&](size_t half) {
    std::vector<float> fl(kLevels), bl(kLevels);
    for (size_t i = half * n / 2; i < (half + 1) * n / 2; ++i) {
      bool have_fl = false;  // fg's levels, made only where something is compared (most frames: nothing)
      auto vs = [&](int64_t j) {
        if (!have_fl) thumb_levels(fg.t(i), fl.data()), have_fl = true;
        thumb_levels(bg.t(size_t(j)), bl.data());
        return 1.0 - levels_ncc(fl.data(), bl.data(), opt.weights);
      };
      const int64_t at = r.time.map[i];
      // Clamped: how well its bg frame matches all the same.
      cost[i] = std::isnan(r.time.similarity[i]) ? vs(at) : 1.0 - r.time.similarity[i];
      for (int c = 0; c < cand.k; ++c) {
        const int64_t j = cand.index[i * size_t(cand.k) + size_t(c)];
        if (j < 0 || std::abs(j - at) <= opt.band) continue;  // nearer: the DTW's to follow, within its band
        alt[i] = std::min(alt[i], vs(j));
      }
    }
  });
  std::vector<double> matched;
  for (size_t i = 0; i < n; ++i)
    if (!std::isnan(r.time.similarity[i])) matched.push_back(cost[i]);
  if (matched.empty()) return r;
  // The cost of a well matched frame: the lower fifth of the matched ones (the median would count the frames the
  // line gets wrong, half of them where fg is two stretches).
  std::nth_element(matched.begin(), matched.begin() + long(matched.size() / 5), matched.end());
  // (Within a piece, the whole fg's where higher: a stretch of another scene can have a lower floor than its
  // neighbour's.)
  const double floor = std::max(matched[matched.size() / 5] + 1e-4, parent_floor);
  auto unexplained = [&](size_t i) {
    return alt[i] < 0.5 * cost[i] && (alt[i] <= 3 * floor || alt[i] <= 0.1 * cost[i]) && cost[i] > 4 * floor;
  };
  bool changed = false;
  size_t done = 0;  // frames before it belong to a piece already (or to the main line, where that fits better)
  for (size_t i = 0; i < n;) {
    if (!unexplained(i)) {
      ++i;
      continue;
    }
    size_t e = i + 1, count = 1;
    for (size_t g = e; g < n && g <= e + 2; ++g)
      if (unexplained(g)) e = g + 1, ++count;
    if (count >= kMinPiece) {
      const MatchResult piece = match_pieces(slice(fg, i, e), bg, rate_ratio, opt, depth + 1, floor);
      double before = 0, after = 0;
      std::vector<int64_t> moved;
      for (size_t q = 0; q < e - i; ++q) {
        before += cost[i + q];
        after += std::isnan(piece.time.similarity[q]) ? 1.0 : 1.0 - piece.time.similarity[q];
        moved.push_back(std::abs(piece.time.map[q] - r.time.map[i + q]));
      }
      std::nth_element(moved.begin(), moved.begin() + long(moved.size() / 2), moved.end());
      // Kept where it fits clearly better, as well as the well matched frames do or ten times better than the line
      // (a stretch of the footage found again, not the least bad fit of another line; the floor can be another
      // scene's: a still sky with fg's subtitles left out matched at 0.0006, grass in the stretch at 0.003-0.05),
      // and lies beyond the band: nearer, it is the main line's own stretch matched again more loosely. (A pan
      // whose placement is still 20 px off mid-search fits stretches of other moments 5x worse than its floor: the
      // pan passes the same views more than once. The edited pairs of bench/pairs find their stretches at 0.2-2.1x
      // the floor; fg frames before bg starts, of a camera shaking over gravel, fitted a later moment at 2.6x, and
      // at 3x that was taken: random12_13.)
      const double run = double(e - i);
      if (after < 0.5 * before && (after <= 2 * floor * run || after <= 0.1 * before) &&
          moved[moved.size() / 2] > opt.band) {
        for (size_t q = 0; q < e - i; ++q) {
          r.time.map[i + q] = piece.time.map[q];
          r.time.similarity[i + q] = piece.time.similarity[q];
        }
        for (const auto& [a, b] : piece.pieces) r.pieces.emplace_back(i + a, i + b);
        // The run's edges: a frame just outside it can miss the test above (one showing a moment between two
        // bg frames matches neither exactly: 3.1x the floor in the test) and still belong to it. Taken one by one
        // while the piece's line, within 2 frames, halves its cost and finds a match (within 8x the floor, or a
        // tenth of the main line's cost there).
        auto take = [&](size_t f) {
          const double at = piece.line.slope * (double(f) - double(i)) + piece.line.offset;
          std::vector<float> fl(kLevels), bl(kLevels);
          thumb_levels(fg.t(f), fl.data());
          double best = 1.0;
          int64_t bj = -1;
          for (int64_t j = std::llround(at) - 2; j <= std::llround(at) + 2; ++j) {
            if (j < 0 || j >= int64_t(bg.frames())) continue;
            thumb_levels(bg.t(size_t(j)), bl.data());
            if (const double c = 1.0 - levels_ncc(fl.data(), bl.data(), opt.weights); c < best) best = c, bj = j;
          }
          if (bj < 0 || best >= 0.5 * cost[f] || (best > 8 * floor && best > 0.1 * cost[f])) return false;
          r.time.map[f] = bj;
          r.time.similarity[f] = float(1.0 - best);
          return true;
        };
        while (i > done && take(i - 1)) --i;
        while (e < n && take(e)) ++e;
        r.pieces.emplace_back(i, e);
        changed = true;
        done = e;
      }
    }
    i = e;
  }
  if (changed) {
    // Clamped: the frames before the first matched one and after the last.
    size_t a = 0, b = n;
    while (a < n && std::isnan(r.time.similarity[a])) ++a;
    while (b > a && std::isnan(r.time.similarity[b - 1])) --b;
    r.time.clamped_start = int(a);
    r.time.clamped_end = int(n - b);
    r.time.confidence = median_similarity(r.time.similarity);
  }
  return r;
}

}  // namespace

namespace {

// Pixels of pairs of pictures, those of weight 0 left out, levels clamped to 0-255.
template <typename Each>
void each_pixel(const std::vector<std::vector<float>>& fs, const std::vector<std::vector<float>>& bs,
                const std::vector<float>& weights, Each&& each) {
  for (size_t k = 0; k < fs.size() && k < bs.size(); ++k)
    for (size_t i = 0; i < fs[k].size() && i < bs[k].size(); ++i) {
      if (i < weights.size() && weights[i] <= 0) continue;
      each(k, i, double(std::clamp(fs[k][i], 0.0f, 255.0f)), double(std::clamp(bs[k][i], 0.0f, 255.0f)));
    }
}

// The level map by quantiles, and the squared errors it and the least-squares gain and offset leave on bs's
// pixels. No map where there are too few pixels or fs is flat.
struct Levels {
  std::vector<uint8_t> map;
  double line_err = 0, map_err = 0, count = 0;
  double spread = 0;  // bs's squared deviations from their mean, summed
};
Levels quantile_levels(const std::vector<std::vector<float>>& fs, const std::vector<std::vector<float>>& bs,
                       const std::vector<float>& weights) {
  Levels out;
  std::array<double, 256> fh{}, bh{};
  double cnt = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
  each_pixel(fs, bs, weights, [&](size_t, size_t, double x, double y) {
    fh[size_t(x)] += 1, bh[size_t(y)] += 1;
    cnt += 1, sx += x, sy += y, sxx += x * x, sxy += x * y, syy += y * y;
  });
  if (cnt < 1000) return out;
  const double var = sxx - sx * sx / cnt;
  if (var <= 0) return out;
  const double a = (sxy - sx * sy / cnt) / var, c = (sy - a * sx) / cnt;
  out.count = cnt;
  out.spread = syy - sy * sy / cnt;
  out.map.resize(256);
  double below = 0, at = 0;  // fs's pixels under level v; bs's under level b
  size_t b = 0;
  for (int v = 0; v < 256; ++v) {
    const double q = (below + 0.5 * fh[size_t(v)]) / cnt;  // level v's middle quantile
    while (b < 255 && (at + bh[b]) / cnt < q) at += bh[b++];
    out.map[size_t(v)] = uint8_t(b);
    below += fh[size_t(v)];
  }
  each_pixel(fs, bs, weights, [&](size_t, size_t, double x, double y) {
    out.line_err += (y - a * x - c) * (y - a * x - c);
    out.map_err += (y - out.map[size_t(x)]) * (y - out.map[size_t(x)]);
  });
  return out;
}

// The cubic's 20 terms in (y, u, v), each scaled to [-1, 1].
constexpr int kTerms = 20;
void cubic_terms(double Y, double U, double V, double* t) {
  const double y = (Y - 128) / 128, u = (U - 128) / 128, v = (V - 128) / 128;
  const double all[kTerms] = {1, y, u, v, y * y, u * u, v * v, y * u, y * v, u * v, y * y * y, u * u * u, v * v * v,
                              y * y * u, y * y * v, u * u * y, u * u * v, v * v * y, v * v * u, y * u * v};
  std::copy(all, all + kTerms, t);
}

// Thumbnail pixel i's chroma (U, V).
std::pair<double, double> chroma_at(const uint8_t* c, size_t i) {
  const size_t at = (i / kThumb) * kChroma / kThumb * kChroma + (i % kThumb) * kChroma / kThumb;
  return {c[at], c[size_t(kChroma) * kChroma + at]};
}

}  // namespace

void Grade::apply(uint8_t* thumb, const uint8_t* chroma) const {
  double t[kTerms];
  for (size_t i = 0; i < size_t(kThumb) * kThumb; ++i) {
    double v = levels.empty() ? thumb[i] : levels[thumb[i]];
    if (!cubic.empty() && chroma) {
      const auto [u, w] = chroma_at(chroma, i);
      cubic_terms(thumb[i], u, w, t);
      for (int q = 0; q < kTerms; ++q) v += cubic[size_t(q)] * t[q];
    }
    thumb[i] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
  }
}

Grade grade_map(const std::vector<std::vector<float>>& fs, const std::vector<std::vector<uint8_t>>& fcs,
                const std::vector<std::vector<float>>& bs, const std::vector<float>& weights) {
  Grade g;
  Levels l = quantile_levels(fs, bs, weights);
  if (l.map.empty()) return g;
  const bool colour = fcs.size() >= std::min(fs.size(), bs.size()) &&
                      std::all_of(fcs.begin(), fcs.end(), [](const auto& c) { return c.size() == size_t(2) * kChroma * kChroma; });
  std::vector<double> x;
  double err = std::numeric_limits<double>::infinity();
  if (colour) {
    // Least squares of what the level map leaves, on the cubic's terms (normal equations; a little ridge keeps a
    // term that does not vary, such as the colour of grey pictures, at 0). Fitted on every other pixel of every
    // other row (~100,000 of them; all of them cost 0.05 s a match on 24 pairs), its error measured on all.
    std::vector<double> A(size_t(kTerms) * kTerms);
    x.assign(kTerms, 0.0);
    double t[kTerms], used = 0;
    each_pixel(fs, bs, weights, [&](size_t k, size_t i, double f, double b) {
      if (i % 2 || (i / kThumb) % 2) return;
      const auto [u, v] = chroma_at(fcs[k].data(), i);
      cubic_terms(f, u, v, t);
      const double r = b - l.map[size_t(f)];
      used += 1;
      for (int p = 0; p < kTerms; ++p) {
        x[size_t(p)] += t[p] * r;
        for (int q = 0; q <= p; ++q) A[size_t(p * kTerms + q)] += t[p] * t[q];
      }
    });
    for (int p = 0; p < kTerms; ++p) {
      for (int q = 0; q < p; ++q) A[size_t(q * kTerms + p)] = A[size_t(p * kTerms + q)];
      A[size_t(p * kTerms + p)] += 1e-6 * used;
    }
    if (solve_linear(A, x, kTerms)) {
      err = 0;
      each_pixel(fs, bs, weights, [&](size_t k, size_t i, double f, double b) {
        const auto [u, v] = chroma_at(fcs[k].data(), i);
        cubic_terms(f, u, v, t);
        double e = b - l.map[size_t(f)];
        for (int q = 0; q < kTerms; ++q) e -= x[size_t(q)] * t[q];
        err += e * e;
      });
    }
  }
  // Pictures of one moment: what the model leaves is coding noise and detail, well under 1% of their levels'
  // variance on every graded pair measured (0.1-0.8%). Pictures that do not match (a placement far off) leave 14-30%
  // and more, and a model that fits them only a little better than a line must not be taken for a grade.
  const double most = 0.03 * l.spread;
  if (err < 0.7 * std::min(l.line_err, l.map_err) && err < most) {
    g.levels = std::move(l.map), g.cubic = std::move(x);
  } else if (l.map_err < 0.7 * l.line_err && l.map_err < most) {
    g.levels = std::move(l.map);
  }
  return g;
}

namespace {

double choose_slope(const Features& fg, const Features& bg, double rate_ratio, const ThumbWeights& w, double one,
                    Searched& searched) {
  // The speed changes in use: film run at 25 fps for PAL (4% fast) and back, and a frame-for-frame copy at any
  // other rate (16 fps silent film at 24, say).
  std::vector<double> slopes = {rate_ratio};
  for (double s : {one, rate_ratio * 25 / 24, rate_ratio * 24 / 25})
    if (std::none_of(slopes.begin(), slopes.end(), [&](double t) { return std::abs(s - t) < 0.002 * t; }))
      slopes.push_back(s);
  const size_t n = fg.frames(), m = bg.frames();
  if (!n || !m) return rate_ratio;
  // Only where the slopes part by two frames or more over the shorter video: below that the nominal one's DTW
  // band and drift fit follow them anyway.
  std::vector<double> cost(slopes.size(), std::numeric_limits<double>::infinity());
  std::vector<OffsetScan> scans;
  if (!fg.thumbs.empty() && !bg.thumbs.empty()) {
    scans = scan_offsets(fg, bg, slopes, w);
    for (size_t s = 0; s < slopes.size(); ++s) cost[s] = scans[s].best().second;
  } else {
    // No thumbnails (a long pair): the embeddings' vote, as the share of fg frames whose best candidate agrees.
    searched.cand = knn(fg, bg, 10);
    for (size_t s = 0; s < slopes.size(); ++s)
      cost[s] = 1.0 - double(fit_line(searched.cand, slopes[s]).inliers) / double(n);
  }
  size_t best = 0;
  for (size_t s = 1; s < slopes.size(); ++s)
    if (std::abs(slopes[s] - rate_ratio) / one * std::min(double(n), double(m) / one) >= 2 && cost[s] < cost[best]) best = s;
  // Another slope must fit clearly better: half the nominal one's cost or less.
  if (!(cost[best] < 0.5 * cost[0])) best = 0;
  if (!scans.empty()) searched.scan = std::move(scans[best]), searched.scanned = true;
  return slopes[best];
}

}  // namespace

double speed_slope(const Features& fg, const Features& bg, double rate_ratio, const ThumbWeights& w, double one) {
  Searched unused;
  return choose_slope(fg, bg, rate_ratio, w, one, unused);
}

MatchResult match_frames(const Features& fg, const Features& bg, double rate_ratio, const MatchOptions& opt) {
  Searched searched;
  const double slope = choose_slope(fg, bg, rate_ratio, opt.weights, 1.0, searched);
  if (slope == rate_ratio) return match_pieces(fg, bg, rate_ratio, opt, 0, 0, &searched);
  // A speed change: fg's frames are timed at bg's rate divided by the slope, for the source cadence's model.
  MatchOptions o = opt;
  if (o.bg_fps > 0) o.fg_fps = o.bg_fps / slope;
  return match_pieces(fg, bg, slope, o, 0, 0, &searched);
}

namespace {

// Thumbnail weights for --border: the minimal border mask of the placement, scaled onto the thumbnail.
ThumbWeights border_weights(const Layout& layout, int border) {
  const std::vector<Rect> mask = border_mask(layout, border);
  if (mask.empty()) return {};
  const Rect& v = layout.visible;
  std::vector<float> w(size_t(kThumb) * kThumb, 1.0f);
  for (const Rect& r : mask) {
    // At least one thumbnail pixel wide, however thin the band is at this size.
    const int x0 = int(std::floor(double(r.x - v.x) * kThumb / v.w)), y0 = int(std::floor(double(r.y - v.y) * kThumb / v.h));
    const int x1 = std::max(x0 + 1, int(std::ceil(double(r.x + r.w - v.x) * kThumb / v.w)));
    const int y1 = std::max(y0 + 1, int(std::ceil(double(r.y + r.h - v.y) * kThumb / v.h)));
    for (int y = std::max(0, y0); y < std::min(kThumb, y1); ++y)
      for (int x = std::max(0, x0); x < std::min(kThumb, x1); ++x) w[size_t(y) * kThumb + size_t(x)] = 4.0f;
  }
  return ThumbWeights(w);
}

// The chroma of the embedder's picture (planar RGB in [0, 1], kEmbedInput square) at kChroma square, U then V.
void add_chroma(const float* rgb, std::vector<uint8_t>& out) {
  constexpr int f = kEmbedInput / kChroma;
  static_assert(kEmbedInput == f * kChroma);
  const size_t n = size_t(kEmbedInput) * kEmbedInput, at = out.size(), plane = size_t(kChroma) * kChroma;
  out.resize(at + 2 * plane);
  for (int y = 0; y < kChroma; ++y)
    for (int x = 0; x < kChroma; ++x) {
      double r = 0, g = 0, b = 0;
      for (int dy = 0; dy < f; ++dy)
        for (int dx = 0; dx < f; ++dx) {
          const size_t p = size_t(y * f + dy) * kEmbedInput + size_t(x * f + dx);
          r += rgb[p], g += rgb[n + p], b += rgb[2 * n + p];
        }
      const double s = 255.0 / (f * f);
      const double u = 128 + s * (-0.168736 * r - 0.331264 * g + 0.5 * b);
      const double v = 128 + s * (0.5 * r - 0.418688 * g - 0.081312 * b);
      const size_t q = at + size_t(y) * kChroma + size_t(x);
      out[q] = uint8_t(std::clamp(std::lround(u), 0L, 255L));
      out[q + plane] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
    }
}

// The features of every frame of `info` (of frames [first, end) only, told by `pts` after a seek; or of a sparse
// reel's kept frames only with `kept`).
Status features(Context& ctx, const VideoInfo& info, const Reel* reel, const Region& region, bool thumbs,
                bool chroma, Embedder& embedder, Features& out, double& embed_seconds, std::mutex& embed_lock,
                const std::function<void()>& tick, int64_t first = 0, int64_t end = INT64_MAX, bool kept = false,
                const std::vector<int64_t>& pts = {}) {
  constexpr int kBatch = 32;
  const size_t pic = size_t(3) * kEmbedInput * kEmbedInput;
  std::vector<float> batch;
  out = Features{};
  out.dim = embedder.dim();
  // Reserved for the frames the header announces: growing by doubling would briefly hold two copies of the
  // thumbnails (16 KB a frame; hundreds of MB for a long video) and leave up to half of it unused.
  // (Capped at 64k frames, 1 GiB: a header can claim any number.)
  const size_t expected = size_t(std::clamp<int64_t>(std::min(info.frames, end) - first, 0, 65536));
  if (thumbs) out.thumbs.reserve(expected * kThumb * kThumb);
  if (thumbs && chroma) out.chroma.reserve(expected * 2 * kChroma * kChroma);
  out.emb.reserve(expected * size_t(out.dim));
  auto flush = [&]() {
    const int n = int(batch.size() / pic);
    if (!n) return;
    const size_t at = out.emb.size();
    out.emb.resize(at + size_t(n) * size_t(out.dim));
    std::lock_guard<std::mutex> hold(embed_lock);  // one model, shared by the two videos' threads
    const auto t0 = std::chrono::steady_clock::now();
    embedder.embed(batch.data(), n, out.emb.data() + at);
    embed_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    batch.clear();
  };
  auto sink = [&](const float* rgb, const uint8_t* gray) {
    batch.insert(batch.end(), rgb, rgb + pic);
    if (thumbs) out.thumbs.insert(out.thumbs.end(), gray, gray + kThumb * kThumb);
    if (thumbs && chroma) add_chroma(rgb, out.chroma);
    tick();
    if (batch.size() / pic == kBatch) flush();
    return Status::Ok();
  };
  // From the reel when it shows the region with enough detail for the thumbnails; else decode the file again.
  const int thumb = thumbs ? kThumb : 0;
  Status st = kept ? reel_regions(ctx, *reel, region, kEmbedInput, thumb, sink, size_t(reel->step))
              : reel && reel->frames() && reel->shows(region.w, region.h)
                  ? reel_regions(ctx, *reel, region, kEmbedInput, thumb, sink)
                  : extract_region(ctx, info, region, kEmbedInput, thumb, sink, first, end, pts);
  if (!st.ok()) return st;
  flush();
  if (!out.frames()) return Status::Fail(kExitInput, info.path, "no decodable video frame");
  return Status::Ok();
}

// Pass 2 for a long pair: both videos read again in step, each fg frame's thumbnail compared with the bg frames
// of its band as they pass. lo and hi never decrease, so only the band's few bg thumbnails are held, in a ring.
Status stream_scores(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const Region& bg_region,
                     const Region& fg_region, const ThumbWeights& w, size_t first, const std::vector<int64_t>& lo,
                     const std::vector<int64_t>& hi, std::vector<std::vector<double>>& nccs,
                     const std::vector<int64_t>& bg_pts, const std::vector<int64_t>& fg_pts) {
  Status st;
  const std::unique_ptr<ThumbReader> fr = open_thumbs(ctx, fg, fg_region, kThumb, st);
  if (!st.ok()) return st;
  const std::unique_ptr<ThumbReader> br = open_thumbs(ctx, bg, bg_region, kThumb, st);
  if (!st.ok()) return st;
  auto ended = [](const ThumbReader& r, const VideoInfo& v) {
    return r.status().ok() ? Status::Fail(kExitInput, v.path, "fewer frames decoded on a second reading")
                           : r.status();
  };
  BandLevels ring;
  std::vector<float> fl(kLevels);
  int64_t next_bg = 0;  // bg frames below it have been read
  Progress progress(ctx, "exact", int64_t(lo.size()));
  // Where the band starts far in (fg's moment minutes into a long bg), from the keyframe before it.
  if (!lo.empty() && lo[0] > kSkipFrames && br->skip_to(lo[0], bg_pts)) next_bg = lo[0];
  size_t next_fg = first > size_t(kSkipFrames) && fr->skip_to(int64_t(first), fg_pts) ? first : 0;
  for (; next_fg < first; ++next_fg)
    if (!fr->next()) return ended(*fr, fg);
  for (size_t q = 0; q < lo.size(); ++q) {
    if (hi[q] - lo[q] >= BandLevels::kSlots) return Status::Fail(kExitAlign, fg.path, "temporal band too wide");
    const uint8_t* f = fr->next();
    if (!f) return ended(*fr, fg);
    thumb_levels(f, fl.data());
    for (; next_bg <= hi[q]; ++next_bg) {
      const uint8_t* b = br->next();
      if (!b) return ended(*br, bg);
      if (next_bg >= lo[q]) ring.at(next_bg, b);  // taken to its levels as it passes
    }
    for (int64_t j = lo[q]; j <= hi[q]; ++j) nccs[q].push_back(levels_ncc(fl.data(), ring.at(j, nullptr), w));
    progress.update(int64_t(q) + 1);
  }
  return Status::Ok();
}

// f(), with an exception from LibTorch or FAISS turned into the stage's status: `what` failed, for `file`.
template <typename F>
Status guarded(int code, const std::string& file, const char* what, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Status::Fail(code, file, std::string(what) + ": " + e.what());
  }
}

// A long pair whose fg is a short stretch of a long bg: the bg frames [w0, w1) around the time line voted on the
// sparse reel's frames (`bf`: one in step), widened by two steps, two DTW bands and 25 frames on either side.
// All of bg where that is most of it, or where the vote has no clear winner (footage that repeats itself).
std::pair<int64_t, int64_t> bg_stretch(const Context& ctx, const Features& ff, const Features& bf, int64_t step,
                                       int64_t m, double rate_ratio, double band) {
  const double slope = speed_slope(ff, bf, rate_ratio / double(step), {}, 1.0 / double(step)) * double(step);
  const TimeLine coarse = fit_line(knn(ff, bf, 10), slope / double(step));
  const double a = coarse.offset * double(step);
  const double b = a + slope * double(std::max<int64_t>(0, int64_t(ff.frames()) - 1));
  const double margin = 2.0 * double(step) + 2.0 * band + 25;
  int64_t w0 = std::clamp<int64_t>(int64_t(std::floor(std::min(a, b) - margin)), 0, m);
  int64_t w1 = std::clamp<int64_t>(int64_t(std::ceil(std::max(a, b) + margin)) + 1, w0, m);
  if (w1 <= w0 || w1 - w0 > m / 2 || coarse.runner_up > 0.5) w0 = 0, w1 = m;
  ctx.log->debug("temporal: long pair; the sparse reel puts fg at bg frames {:.0f}-{:.0f} (runner-up {:.2f} of the "
                 "vote): reading bg frames {}-{} of {}", std::min(a, b), std::max(a, b), coarse.runner_up, w0, w1, m);
  return {w0, w1};
}

// What the first map's pairs show that the thumbnail NCCs should not see, from 24 fg frames spread over its matched
// range and the bg frames it gives them:
// - fg's own overlays (subtitles, a logo): overlay_mask on the thumbnails (1 thumbnail pixel of tolerance);
//   `weights` then leaves them out (weight 0), and `overlay` is their share.
// - a grade that is not a gain and offset (contrast, a curve, crushed blacks, a curve per channel): grade_map;
//   `grade` then holds it (empty: none). NCC takes a gain and offset in its stride; a curve makes frames look less
//   alike than they are, and hides the exact matches that the source cadence is fitted on (a 25 -> 30 fps Big
//   Buck Bunny crop under ffmpeg's strong_contrast curve: 94.2% exact, with it 100%). bg's thumbnails are graded
//   as fg was, not fg's ungraded: a grade loses detail where its curve flattens (highlights pressed together,
//   clipped), which bg can be made to lose too but fg cannot be given back (the same crop under ffmpeg's
//   `vintage` curves with more contrast and saturation: 91.4% exact ungraded, 100% graded).
struct PairsShow {
  ThumbWeights weights;
  double overlay = 0;
  Grade grade;
};
PairsShow what_pairs_show(const Features& ff, const Features& bf, const TimeMap& t, const ThumbWeights& w) {
  PairsShow out;
  out.weights = w;
  const size_t n = std::min(t.map.size(), ff.frames());
  if (ff.thumbs.empty() || bf.thumbs.empty() || n == 0) return out;
  const size_t lo = size_t(std::max(0, t.clamped_start)), hi = n - std::min(n, size_t(std::max(0, t.clamped_end)));
  std::vector<std::vector<float>> fs, bs;
  std::vector<std::vector<uint8_t>> bcs;
  size_t last = SIZE_MAX;
  for (int k = 0; k < 24 && hi > lo; ++k) {
    const size_t i = lo + size_t((k + 0.5) / 24 * double(hi - lo));
    const int64_t j = t.map[i];
    if (i == last || j < 0 || size_t(j) >= bf.frames()) continue;
    last = i;
    fs.emplace_back(ff.t(i), ff.t(i) + kThumb * kThumb);
    bs.emplace_back(bf.t(size_t(j)), bf.t(size_t(j)) + kThumb * kThumb);
    if (const uint8_t* c = bf.c(size_t(j))) bcs.emplace_back(c, c + size_t(2) * kChroma * kChroma);
  }
  const size_t N = size_t(kThumb) * kThumb;
  std::vector<float> base(N, 1.0f);
  if (w.levels()) std::copy_n(w.levels(), N, base.begin());
  const std::vector<uint8_t> mask = overlay_mask(fs, bs, kThumb, kThumb, 1, &out.overlay);
  if (!mask.empty()) {
    for (size_t i = 0; i < N; ++i)
      if (mask[i]) base[i] = 0.0f;
    out.weights = ThumbWeights(base);
  }
  out.grade = grade_map(bs, bcs, fs, base);
  return out;
}

// A variable-rate video's frames on a constant-rate grid, so that the matching, whose time line counts frames, sees
// time pass evenly: grid frame k shows the frame on screen at k / rate (a frame held longer fills several grid
// frames, as a repeated frame would), and frame i sits at grid frame round(t_i x rate). The rate is the one of the
// commonest frame interval (a 30 fps phone clip that drops to 15 in low light: 30).
struct Grid {
  double rate = 0;
  std::vector<int64_t> shows;  // grid frame -> the frame it shows
  std::vector<int64_t> slot;   // frame -> its grid frame
};

// Empty (rate 0) where `times` is (a constant-rate video) or where no sensible grid exists.
Grid make_grid(const std::vector<double>& times) {
  Grid g;
  const size_t n = times.size();
  if (n < 3) return g;
  std::vector<double> d;
  for (size_t i = 1; i < n; ++i)
    if (times[i] > times[i - 1]) d.push_back(times[i] - times[i - 1]);
  if (d.empty()) return g;
  std::nth_element(d.begin(), d.begin() + d.size() / 2, d.end());
  const double rate = 1.0 / d[d.size() / 2];
  const int64_t k = std::llround(times.back() * rate) + 1;
  if (!std::isfinite(rate) || k < int64_t(n) / 2 || k > 4 * int64_t(n) + 16) return g;  // bursts or gaps: no grid
  g.rate = rate;
  g.slot.resize(n);
  for (size_t i = 0; i < n; ++i) g.slot[i] = std::clamp<int64_t>(std::llround(times[i] * rate), 0, k - 1);
  g.shows.resize(size_t(k));
  size_t i = 0;
  for (int64_t j = 0; j < k; ++j) {
    while (i + 1 < n && g.slot[i + 1] <= j) ++i;
    g.shows[size_t(j)] = int64_t(i);
  }
  for (size_t q = 0; q < n; ++q) g.shows[size_t(g.slot[q])] = int64_t(q);  // a frame's own slot shows it
  return g;
}

// f's frames as the grid shows them.
Features on_grid(const Features& f, const Grid& g) {
  Features out;
  out.dim = f.dim;
  out.emb.reserve(g.shows.size() * size_t(f.dim));
  if (!f.thumbs.empty()) out.thumbs.reserve(g.shows.size() * kThumb * kThumb);
  for (const int64_t i : g.shows) {
    out.emb.insert(out.emb.end(), f.e(size_t(i)), f.e(size_t(i)) + f.dim);
    if (!f.thumbs.empty()) out.thumbs.insert(out.thumbs.end(), f.t(size_t(i)), f.t(size_t(i)) + kThumb * kThumb);
  }
  return out;
}

// The grids' map as a map of fg's frames onto bg's.
TimeMap off_grid(const TimeMap& m, const Grid* fg_grid, const Grid* bg_grid, size_t fg_frames) {
  TimeMap out = m;
  const size_t k = m.map.size();
  out.map.assign(fg_frames, 0);
  out.similarity.assign(fg_frames, std::nanf(""));
  out.clamped_start = out.clamped_end = 0;
  for (size_t i = 0; i < fg_frames; ++i) {
    const size_t q = fg_grid ? size_t(fg_grid->slot[i]) : i;
    const int64_t j = m.map[q];
    out.map[i] = bg_grid ? bg_grid->shows[size_t(j)] : j;
    if (q < m.similarity.size()) out.similarity[i] = m.similarity[q];
    out.clamped_start += q < size_t(m.clamped_start);
    out.clamped_end += q >= k - size_t(m.clamped_end);
  }
  return out;
}

}  // namespace

Status match(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const Placement& p, TimeMap& time,
             const Reel* bg_reel, const Reel* fg_reel, bool refitted) {
  const std::string model = ctx.opt.model.empty() ? default_model_path() : ctx.opt.model;
  if (model.empty())
    return Status::Fail(kExitInput, "vidkompy-embedder.pt",
                        "the bundled embedding model was not found next to the binary (models/) or under the "
                        "install prefix; pass --model PATH");
  std::unique_ptr<Embedder> embedder;
  try {
    // One intra-op thread: the decoders keep the other cores busy, and OpenMP threads that spin while waiting
    // (libgomp's default) make shared cores many times slower.
    embedder = load_torchscript_embedder(model, 1, use_gpu(ctx));
  } catch (const std::exception& e) {
    std::string why = e.what();
    why = why.substr(0, why.find('\n'));
    return Status::Fail(kExitInput, model, "cannot load the embedding model: " + why);
  }
  const int fw = std::max(1, int(std::lround(fg.width * p.scale))), fh = std::max(1, int(std::lround(fg.height * p.scale)));
  const Layout layout = make_layout(bg.width, bg.height, fw, fh, int(std::lround(p.x)), int(std::lround(p.y)));
  const Rect& v = layout.visible;
  if (v.empty()) return Status::Fail(kExitAlign, fg.path, "fg does not overlap bg");
  // The same picture from both videos: the overlap region, in each video's own pixels.
  const Region bg_region{double(v.x), double(v.y), double(v.w), double(v.h)};
  const Region fg_region{(v.x - p.x) / p.scale, (v.y - p.y) / p.scale, v.w / p.scale, v.h / p.scale};
  Features ff, bf;
  Status st;
  double embed_s = 0, stream_s = 0, again_s = 0;  // (again_s: embedding all of bg after a stretch failed)
  const bool stream = long_pair(ctx, bg, fg);
  const std::vector<int64_t> no_pts;  // no timestamps known: the packets' are read where a seek needs them
  const double rate_ratio = bg.fps.value() / fg.fps.value();
  MatchOptions opt;
  opt.refitted = refitted;
  opt.weights = border_weights(layout, ctx.opt.border);
  opt.fg_fps = fg.fps.value(), opt.bg_fps = bg.fps.value();
  const auto t0 = std::chrono::steady_clock::now();
  // A long pair whose fg is a short stretch of a long bg (a clip looked for in a master): the time line is voted
  // on the sparse bg reel's frames first, and only bg frames [w0, w1) around it are read again and embedded, from
  // the keyframe before them. Elsewhere, or where that finds no confident map, every bg frame is.
  int64_t w0 = 0, w1 = 0, total = 0;
  bool windowed = false;
  std::mutex lock;
  st = guarded(kExitInput, model, "the embedding model failed", [&] {
    Status fs, bs;
    const bool sparse = stream && bg_reel && bg_reel->step > 1 && bg_reel->frames() > 0;
    Progress progress(ctx, "match", (sparse ? int64_t(bg_reel->stored()) : bg.frames) + fg.frames);
    std::atomic<int64_t> done{0};
    const std::function<void()> tick = [&] { progress.update(++done); };
    // Both videos at once: cutting the regions is most of the work, the model runs one batch at a time.
    run_both([&] { fs = features(ctx, fg, fg_reel, fg_region, !stream, false, *embedder, ff, embed_s, lock, tick); },
             [&] { bs = features(ctx, bg, bg_reel, bg_region, !stream, true, *embedder, bf, embed_s, lock, tick, 0,
                                 INT64_MAX, sparse); });
    fs.merge(bs);
    if (!fs.ok() || !sparse) return fs;
    total = int64_t(bg_reel->frames());
    std::tie(w0, w1) = bg_stretch(ctx, ff, bf, bg_reel->step, total, rate_ratio, opt.band);
    windowed = w0 > 0 || w1 < total;
    Progress window(ctx, "match", w1 - w0);
    int64_t got = 0;
    return features(ctx, bg, nullptr, bg_region, false, false, *embedder, bf, embed_s, lock,
                    [&] { window.update(++got); }, w0, w1, false, bg_reel->pts);
  });
  if (!st.ok()) return st;
  Status scored;
  if (stream)
    opt.scores = [&](size_t first, const std::vector<int64_t>& lo, const std::vector<int64_t>& hi,
                     std::vector<std::vector<double>>& nccs) {
      const auto s0 = std::chrono::steady_clock::now();
      std::vector<int64_t> l = lo, h = hi;  // the window's frames are bg's from w0 on
      for (size_t q = 0; q < l.size(); ++q) l[q] += w0, h[q] += w0;
      scored = stream_scores(ctx, bg, fg, bg_region, fg_region, opt.weights, first, l, h, nccs,
                             bg_reel ? bg_reel->pts : no_pts, fg_reel ? fg_reel->pts : no_pts);
      stream_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
      return scored.ok();
    };
  const auto t1 = std::chrono::steady_clock::now();
  // A variable-rate video (a screen recording; a phone clip whose rate drops in low light) is matched on a
  // constant-rate grid of its frames (its frame index no longer tells time). Not for a long pair (its thumbnails
  // are read again by frame index).
  Grid fg_grid, bg_grid;
  if (!stream) {
    fg_grid = make_grid(variable_frame_times(fg, fg_reel ? &fg_reel->pts : nullptr));
    bg_grid = make_grid(variable_frame_times(bg, bg_reel ? &bg_reel->pts : nullptr));
    if (fg_grid.slot.size() != ff.frames()) fg_grid = {};
    if (bg_grid.slot.size() != bf.frames()) bg_grid = {};
    for (const auto& [g, v] : {std::pair(&fg_grid, &fg), std::pair(&bg_grid, &bg)})
      if (g->rate > 0)
        ctx.log->info("{}: variable frame rate ({:.3f} fps on average); matched on a grid of {:.3f} fps", v->path,
                      v->fps.value(), g->rate);
  }
  const double grid_ratio = (bg_grid.rate > 0 ? bg_grid.rate : bg.fps.value()) /
                            (fg_grid.rate > 0 ? fg_grid.rate : fg.fps.value());
  if (fg_grid.rate > 0) opt.fg_fps = fg_grid.rate;
  if (bg_grid.rate > 0) opt.bg_fps = bg_grid.rate;
  MatchResult r;
  auto match_once = [&](const Features& all_bg) {
      if (fg_grid.rate > 0 || bg_grid.rate > 0) {
        const Features gf = fg_grid.rate > 0 ? on_grid(ff, fg_grid) : Features{};
        const Features gb = bg_grid.rate > 0 ? on_grid(all_bg, bg_grid) : Features{};
        r = match_frames(fg_grid.rate > 0 ? gf : ff, bg_grid.rate > 0 ? gb : all_bg, grid_ratio, opt);
        r.time = off_grid(r.time, fg_grid.rate > 0 ? &fg_grid : nullptr, bg_grid.rate > 0 ? &bg_grid : nullptr,
                          ff.frames());
        // The line in grid frames, as bg frames per fg frame on average and bg seconds.
        r.line.offset *= bg.fps.value() / (bg_grid.rate > 0 ? bg_grid.rate : bg.fps.value());
        r.line.slope *= rate_ratio / grid_ratio;
      } else {
        r = match_frames(ff, all_bg, rate_ratio, opt);
      }
  };
  auto run_match = [&](Features& all_bg) {
    return guarded(kExitAlign, fg.path, "temporal alignment failed", [&] {
      match_once(all_bg);
      // fg's own overlays (subtitles, a logo) and a regrade by a curve weigh in every thumbnail NCC, and pull a
      // slow scene's matches to a neighbouring frame; where the map's pairs show either, it is matched again
      // without them. The time line's pass 1 then runs on the 32 px thumbnails, which leave them out, instead of
      // the embeddings, which see both (a blown-out grade put pass 1 three frames off at the start of fg, beyond
      // pass 2's reach: bench/pairs/grade3 98.3% exact, 99.7% on the thumbnails).
      PairsShow show = what_pairs_show(ff, all_bg, r.time, opt.weights);
      if (show.overlay > 0)
        ctx.log->debug("temporal: {:.1f}% of the overlap differs from bg in every matched pair (fg's own overlays: "
                       "subtitles, a logo); matched again without it", 100 * show.overlay);
      if (!show.grade.empty()) {
        ctx.log->debug("temporal: fg is graded: its levels follow a curve of bg's{}; matched again with bg's "
                       "thumbnails graded alike", show.grade.cubic.empty() ? "" : " and colour");
        for (size_t j = 0; j < all_bg.frames(); ++j) show.grade.apply(&all_bg.thumbs[j * kThumb * kThumb], all_bg.c(j));
      }
      if (show.overlay > 0 || !show.grade.empty()) {
        opt.weights = std::move(show.weights);
        opt.coarse_by_thumbs = true;
        match_once(all_bg);
      }
      return scored;
    });
  };
  if (st = run_match(bf); !st.ok()) return st;
  if (w0 > 0) {
    for (int64_t& j : r.time.map) j += w0;
    r.line.offset += double(w0);
  }
  // The window must hold fg's whole stretch: a map that runs into a cut end of it, or no confident map, was
  // looked for in the wrong place; then every bg frame is embedded after all.
  if (windowed && ((w0 > 0 && r.time.clamped_start > 0) || (w1 < total && r.time.clamped_end > 0) ||
                   r.time.confidence < kTemporalThreshold)) {
    ctx.log->debug("temporal: no confident map in bg frames {}-{}; embedding every bg frame", w0, w1);
    Features all;
    Progress again(ctx, "match", bg.frames);
    int64_t got = 0;
    const auto a0 = std::chrono::steady_clock::now();
    st = guarded(kExitInput, model, "the embedding model failed", [&] {
      return features(ctx, bg, nullptr, bg_region, false, false, *embedder, all, embed_s, lock, [&] { again.update(++got); });
    });
    again_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - a0).count();
    if (!st.ok()) return st;
    w0 = 0;
    if (st = run_match(all); !st.ok()) return st;
  }
  const auto t2 = std::chrono::steady_clock::now();
  // Added up: a re-match after the placement re-check runs this stage again.
  ctx.add_time("match.decode", std::chrono::duration<double>(t1 - t0).count() + again_s - embed_s);
  ctx.add_time("match.embed", embed_s);
  ctx.add_time("match.knn_dtw", std::chrono::duration<double>(t2 - t1).count() - stream_s - again_s);
  if (stream) ctx.add_time("match.exact", stream_s);  // a long pair's second reading for the thumbnails
  time = r.time;
  time.rate = r.line.slope;
  time.offset = r.line.offset / bg.fps.value();
  time.model = embedder->name();
  ctx.log->debug("temporal: {} fg and {} bg frames, model {} ({}-d, on {}); line bg = {:.5f} x fg {:+.3f} ({} inliers); "
                 "{} fg frames before bg starts, {} after it ends; confidence {:.3f}",
                 ff.frames(), bf.frames(), embedder->name(), embedder->dim(), embedder->device(), r.line.slope, r.line.offset,
                 r.line.inliers, r.time.clamped_start, r.time.clamped_end, r.time.confidence);
  time.stretches = int(r.pieces.size());
  if (!r.pieces.empty()) {
    for (const auto& [a, b] : r.pieces)
      ctx.log->debug("temporal: fg frames {}-{} show bg frames {}-{}", a, b - 1, time.map[a], time.map[b - 1]);
  }
  if (r.cadence.rate > 0)
    ctx.log->debug("temporal: both videos follow the cadence of a {:.3f} fps source (phases {:.4f}, {:.4f})",
                   r.cadence.rate, r.cadence.a, r.cadence.b);
  else
    ctx.log->debug("temporal: no common source cadence; the line decides between look-alike frames");
  if (int64_t(time.map.size()) != fg.frames) {
    // The header's frame count and the decodable frames disagree: the map follows what was decoded.
    ctx.log->warn("{}: {} frames decoded, header says {}", fg.path, time.map.size(), fg.frames);
  }
  if (time.confidence < kTemporalThreshold)
    return Status::Fail(kExitAlign, fg.path,
                        fmt::format("cannot match fg frames to bg frames: confidence {:.2f}, below {:.2f}",
                                    time.confidence, kTemporalThreshold));
  return Status::Ok();
}

}  // namespace vidkompy
