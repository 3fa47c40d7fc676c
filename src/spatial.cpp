// Spatial alignment, coarse to fine. Coarse (bg thumbnails ~128 px): every fg sample at every scale of a
// geometric grid is phase-correlated against 32 bg thumbnails at once; the peaks (wrap-around resolved) are
// verified by NCC, then paired with the bg moment they show. Medium (~640 px): moment and scale searched
// together. Full resolution: scale, translation by hill climbing, then a parabola for sub-pixel precision.
#include "vidkompy/spatial.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>

#include "vidkompy/gpu.hpp"
#include "vidkompy/options.hpp"
#include "vidkompy/parallel.hpp"

namespace vidkompy {

int fft_size(int n) {
  for (int m = std::max(n, 1);; ++m) {
    int r = m;
    for (int p : {2, 3, 5})
      while (r % p == 0) r /= p;
    if (r == 1) return m;
  }
}

void GrayF::build_sums() {
  const size_t W1 = size_t(w) + 1;
  sum.assign(W1 * (h + 1), 0.0);
  sum2.assign(W1 * (h + 1), 0.0);
  for (int y = 0; y < h; ++y) {
    double r = 0, r2 = 0;
    for (int x = 0; x < w; ++x) {
      const double v = px[size_t(y) * w + x];
      r += v;
      r2 += v * v;
      sum[(y + 1) * W1 + x + 1] = sum[y * W1 + x + 1] + r;
      sum2[(y + 1) * W1 + x + 1] = sum2[y * W1 + x + 1] + r2;
    }
  }
}

namespace {

// Sum of a table over [x0, x1) x [y0, y1).
double rect(const std::vector<double>& t, int w, int x0, int y0, int x1, int y1) {
  const size_t W1 = size_t(w) + 1;
  return t[y1 * W1 + x1] - t[y0 * W1 + x1] - t[y1 * W1 + x0] + t[y0 * W1 + x0];
}

// Dot product with eight accumulators, so the compiler can vectorise without reassociating.
float dot(const float* a, const float* b, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float r = 0;
  for (; i < n; ++i) r += a[i] * b[i];
  for (float v : acc) r += v;
  return r;
}

}  // namespace

double ncc_at(const GrayF& t, const GrayF& b, int x, int y, bool cover) {
  const int u0 = std::max(0, -x), v0 = std::max(0, -y);
  const int u1 = std::min(t.w, b.w - x), v1 = std::min(t.h, b.h - y);
  if (u1 <= u0 || v1 <= v0) return -1.0;
  const double n = double(u1 - u0) * (v1 - v0);
  if (2 * n < double(t.w) * t.h) return -1.0;
  double st = 0, sb = 0, stt = 0, sbb = 0, stb = 0;
  const bool tables = !t.sum.empty() && !b.sum.empty();
  for (int v = v0; v < v1; ++v) {
    const float* tp = &t.px[size_t(v) * t.w];
    const float* bp = &b.px[size_t(v + y) * b.w + x];
    stb += dot(tp + u0, bp + u0, u1 - u0);
    if (tables) continue;
    for (int u = u0; u < u1; ++u) {
      st += tp[u];
      sb += bp[u];
      stt += double(tp[u]) * tp[u];
      sbb += double(bp[u]) * bp[u];
    }
  }
  if (tables) {
    st = rect(t.sum, t.w, u0, v0, u1, v1);
    stt = rect(t.sum2, t.w, u0, v0, u1, v1);
    sb = rect(b.sum, b.w, u0 + x, v0 + y, u1 + x, v1 + y);
    sbb = rect(b.sum2, b.w, u0 + x, v0 + y, u1 + x, v1 + y);
  }
  const double vt = stt - st * st / n, vb = sbb - sb * sb / n;
  // Flat on either side (blank, dark or uniform frames): no evidence either way.
  if (vt <= 1e-6 * n || vb <= 1e-6 * n) return 0.0;
  double inside = 1.0;
  if (cover && n < 0.95 * double(t.w) * t.h) {
    // Part of t hangs over bg's edge: that part is counted as matching nothing (NCC over all of t, bg unknown
    // there), or hanging a fg's own overlay (a subtitle box along its bottom) off the edge would pay (seen: 191 px
    // off, at NCC 0.70 over the rest). Not for the last 5%: the steps of a fit at an edge fg touches must compare
    // alike (a parabola through a penalised neighbour moves the placement off the edge by tenths of a pixel).
    double at = 0, att = 0;
    if (!t.sum.empty()) {
      at = rect(t.sum, t.w, 0, 0, t.w, t.h), att = rect(t.sum2, t.w, 0, 0, t.w, t.h);
    } else {
      for (const float v : t.px) at += v, att += double(v) * v;
    }
    const double all = att - at * at / (double(t.w) * t.h);
    if (all > vt) inside = std::sqrt(vt / all);
  }
  return std::clamp(inside * (stb - st * sb / n) / std::sqrt(vt * vb), -1.0, 1.0);
}

namespace {

GrayF to_float(const Gray& g) {
  GrayF f;
  f.w = g.w;
  f.h = g.h;
  f.px.resize(g.px.size());
  for (size_t i = 0; i < g.px.size(); ++i) f.px[i] = g.px[i] * (1.0f / 255.0f);
  f.build_sums();
  return f;
}

GrayF level(const Gray& g, double factor) {
  const int w = std::max(1, int(std::lround(g.w * factor))), h = std::max(1, int(std::lround(g.h * factor)));
  return to_float(resize_gray(g, w, h));
}

// Tukey window: flat in the middle, cosine tapers over `frac` of each end. Suppresses the cross-shaped
// spectral leakage of hard image borders without discarding most of the picture as a Hann window would.
std::vector<float> tukey(int n, double frac = 0.25) {
  std::vector<float> w(size_t(std::max(n, 0)), 1.0f);
  const int taper = int(frac * n / 2);
  for (int i = 0; i < taper; ++i) {
    const float v = float(0.5 * (1 - std::cos(M_PI * (i + 0.5) / taper)));
    w[size_t(i)] = v;
    w[size_t(n - 1 - i)] = v;
  }
  return w;
}

// Mean-subtracted, windowed copy of img at the top-left of a cw x ch zero canvas.
std::vector<float> prepare(const GrayF& img, int cw, int ch) {
  double mean = 0;
  for (float v : img.px) mean += v;
  mean /= std::max<size_t>(img.px.size(), 1);
  const std::vector<float> wx = tukey(img.w), wy = tukey(img.h);
  std::vector<float> out(size_t(cw) * ch, 0.0f);
  for (int y = 0; y < img.h; ++y)
    for (int x = 0; x < img.w; ++x) out[size_t(y) * cw + x] = float((img.at(x, y) - mean) * wx[x] * wy[y]);
  return out;
}

struct Peak {
  int x, y;
};

// The k highest local maxima (3 x 3, wrapping around), at least 3 pixels apart, in one pass.
std::vector<Peak> top_peaks(const std::vector<float>& s, int cw, int ch, int k) {
  struct Found {
    float v;
    Peak p;
  };
  std::vector<Found> best;  // highest first
  auto at = [&](int x, int y) { return s[size_t((y + ch) % ch) * cw + size_t((x + cw) % cw)]; };
  auto near = [&](const Peak& a, const Peak& b) {
    const int dx = std::abs(a.x - b.x), dy = std::abs(a.y - b.y);
    return std::min(dx, cw - dx) <= 2 && std::min(dy, ch - dy) <= 2;
  };
  for (int y = 0; y < ch; ++y)
    for (int x = 0; x < cw; ++x) {
      const float v = s[size_t(y) * cw + x];
      if (!std::isfinite(v) || (int(best.size()) == k && v <= best.back().v)) continue;
      bool local_max = true;
      for (int dy = -1; dy <= 1 && local_max; ++dy)
        for (int dx = -1; dx <= 1; ++dx)
          if ((dx || dy) && !(at(x + dx, y + dy) <= v)) {
            local_max = false;
            break;
          }
      if (!local_max) continue;
      const Peak p{x, y};
      // A higher peak close by wins; lower ones close by give way.
      if (std::any_of(best.begin(), best.end(), [&](const Found& f) { return f.v >= v && near(f.p, p); })) continue;
      best.erase(std::remove_if(best.begin(), best.end(), [&](const Found& f) { return near(f.p, p); }), best.end());
      best.insert(std::upper_bound(best.begin(), best.end(), v, [](float a, const Found& f) { return a > f.v; }), {v, p});
      if (int(best.size()) > k) best.pop_back();
    }
  std::vector<Peak> peaks;
  for (const Found& f : best) peaks.push_back(f.p);
  return peaks;
}

// Moves (x, y) to the best NCC among its 8 neighbours until it is a local maximum.
double hill_climb(const GrayF& t, const GrayF& b, int& x, int& y, int max_steps = 64, bool cover = false) {
  double best = ncc_at(t, b, x, y, cover);
  for (int step = 0; step < max_steps; ++step) {
    int bx = x, by = y;
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        if (!dx && !dy) continue;
        const double v = ncc_at(t, b, x + dx, y + dy, cover);
        if (v > best) {
          best = v;
          bx = x + dx;
          by = y + dy;
        }
      }
    if (bx == x && by == y) break;
    x = bx;
    y = by;
  }
  return best;
}

// Parabola vertex through (-1, a), (0, b), (1, c), kept within half a pixel of the integer peak (a fit on a
// flat or skewed neighbourhood must not drift away from it).
double subpixel(double a, double b, double c) {
  const double d = a - 2 * b + c;
  if (!(d < 0)) return 0.0;
  return std::clamp(0.5 * (a - c) / d, -0.5, 0.5);
}

}  // namespace

namespace {

// A coarse hypothesis: fg sample k at scale s with its top-left at (x, y) in bg thumbnail m.
struct Hypothesis {
  double ncc = -2;  // at (k, m)
  double s = 1;
  int x = 0, y = 0;
  int k = -1;
  int64_t m = -1;
  double mean = -2;  // mean over fg samples, each at its best-matching thumbnail
};

bool same_place(const Hypothesis& a, const Hypothesis& b) {
  return std::abs(a.x - b.x) <= 2 && std::abs(a.y - b.y) <= 2 && std::abs(std::log(a.s / b.s)) < 0.05;
}

}  // namespace

// How much higher than b the parabola through (-1, a), (0, b), (1, c) peaks (0 when it has no maximum).
double peak_gain(double a, double b, double c) {
  const double d = a - 2 * b + c;
  if (!(d < 0)) return 0.0;
  const double off = std::clamp(0.5 * (a - c) / d, -0.5, 0.5);
  return (c - a) / 2 * off + d / 2 * off * off;
}

// Golden-section search for the maximum of f on [lo, hi], to within tol.
template <class F>
double golden(double lo, double hi, double tol, F f) {
  if (hi <= lo) return (lo + hi) / 2;
  const double g = (std::sqrt(5.0) - 1) / 2;
  double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
  double fa = f(a), fb = f(b);
  while (hi - lo > tol) {
    if (fa > fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - g * (hi - lo);
      fa = f(a);
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + g * (hi - lo);
      fb = f(b);
    }
  }
  return (lo + hi) / 2;
}

namespace {

// One fg frame and the bg frame showing the same moment, prepared for sub-pixel refinement: fg at about bg's
// resolution (when it is larger there), both lightly smoothed, bg's gradients.
struct LkPair {
  int tw = 0, th = 0, W = 0, H = 0;
  int step = 1;           // template samples visited: every step-th in both directions
  double kx = 1, ky = 1;  // fg pixels per template pixel
  std::vector<float> t, b, gx, gy;
};

// 3-tap binomial blur in both directions: a wider basin for Gauss-Newton and less weight on coding noise.
std::vector<float> smooth(const std::vector<float>& p, int w, int h) {
  std::vector<float> a(p.size()), o(p.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const size_t i = size_t(y) * w + x;
      a[i] = 0.5f * p[i] + 0.25f * (p[x ? i - 1 : i] + p[x + 1 < w ? i + 1 : i]);
    }
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const size_t i = size_t(y) * w + x;
      o[i] = 0.5f * a[i] + 0.25f * (a[y ? i - size_t(w) : i] + a[y + 1 < h ? i + size_t(w) : i]);
    }
  return o;
}

// `points`: about how many template samples to visit (many pairs need fewer each).
LkPair lk_pair(const Gray& fg, const Gray& bg, double scale, double points) {
  LkPair p;
  // Shrink fg to bg's resolution when it is larger there: the bg picture cannot show finer detail.
  const Gray t = scale < 1.0 ? resize_gray(fg, std::max(8, int(std::lround(fg.w * scale))),
                                           std::max(8, int(std::lround(fg.h * scale))))
                             : fg;
  p.tw = t.w, p.th = t.h, p.W = bg.w, p.H = bg.h;
  p.step = std::max(1, int(std::lround(std::sqrt(double(p.tw) * p.th / points))));
  p.kx = double(fg.w) / t.w, p.ky = double(fg.h) / t.h;
  auto flt = [](const Gray& g) {
    std::vector<float> f(g.px.size());
    for (size_t i = 0; i < f.size(); ++i) f[i] = g.px[i] * (1.0f / 255.0f);
    return f;
  };
  p.t = smooth(flt(t), t.w, t.h);
  p.b = smooth(flt(bg), bg.w, bg.h);
  p.gx.assign(p.b.size(), 0.0f);
  p.gy.assign(p.b.size(), 0.0f);
  for (int y = 1; y + 1 < bg.h; ++y)
    for (int x = 1; x + 1 < bg.w; ++x) {
      const size_t i = size_t(y) * bg.w + x;
      p.gx[i] = 0.5f * (p.b[i + 1] - p.b[i - 1]);
      p.gy[i] = 0.5f * (p.b[i + size_t(bg.w)] - p.b[i - size_t(bg.w)]);
    }
  return p;
}

// Visits template samples (every p.step-th) with the bg position they fall on under (x, y, s),
// bilinear weights ready: f(template value, centre offsets cx cy in fg pixels, sample of img at that position).
template <class F>
void lk_visit(const LkPair& p, double x, double y, double s, F f) {
  const int step = p.step;
  for (int v = 1; v + 1 < p.th; v += step) {
    const double cy = p.ky * (v + 0.5), Y = y + s * cy - 0.5;
    if (!(Y >= 1 && Y < p.H - 2)) continue;
    const int y0 = int(Y);
    const float wy = float(Y - y0);
    for (int u = 1; u + 1 < p.tw; u += step) {
      const double cx = p.kx * (u + 0.5), X = x + s * cx - 0.5;
      if (!(X >= 1 && X < p.W - 2)) continue;
      const int x0 = int(X);
      const float wx = float(X - x0);
      const size_t i = size_t(y0) * p.W + x0;
      auto at = [&](const std::vector<float>& img) {
        return (1 - wy) * ((1 - wx) * img[i] + wx * img[i + 1]) +
               wy * ((1 - wx) * img[i + size_t(p.W)] + wx * img[i + size_t(p.W) + 1]);
      };
      f(p.t[size_t(v) * p.tw + u], cx, cy, at);
    }
  }
}

// Mean NCC over the pairs of the template and bg under (x, y, s).
double lk_ncc(const std::vector<LkPair>& pairs, double x, double y, double s) {
  double total = 0;
  for (const LkPair& p : pairs) {
    double n = 0, st = 0, sb = 0, stt = 0, sbb = 0, stb = 0;
    lk_visit(p, x, y, s, [&](float t, double, double, auto at) {
      const double b = at(p.b);
      n += 1, st += t, sb += b, stt += double(t) * t, sbb += b * b, stb += t * b;
    });
    const double vt = stt - st * st / n, vb = sbb - sb * sb / n;
    total += n > 16 && vt > 1e-9 && vb > 1e-9 ? (stb - st * sb / n) / std::sqrt(vt * vb) : 0.0;
  }
  return pairs.empty() ? 0.0 : total / double(pairs.size());
}

// Samples per pair: 200k for one pair, 400k shared by many (twelve pairs fit no better with more).
double lk_points(size_t pairs) { return std::clamp(4e5 / double(std::max<size_t>(pairs, 1)), 5e4, 2e5); }

// Mean NCC of frame pairs under a placement (fg's pixels onto bg's), on the smoothed pictures Gauss-Newton fits.
double pairs_ncc(const std::vector<std::pair<const Gray*, const Gray*>>& frames, const Placement& p) {
  std::vector<LkPair> pairs;
  for (const auto& [f, b] : frames) pairs.push_back(lk_pair(*f, *b, p.scale, lk_points(frames.size())));
  return lk_ncc(pairs, p.x, p.y, p.scale);
}


}  // namespace

bool solve_linear(std::vector<double>& a, std::vector<double>& r, int n) {
  for (int c = 0; c < n; ++c) {
    int piv = c;
    for (int k = c + 1; k < n; ++k)
      if (std::abs(a[size_t(k * n + c)]) > std::abs(a[size_t(piv * n + c)])) piv = k;
    if (!(std::abs(a[size_t(piv * n + c)]) > 1e-12)) return false;
    for (int k = 0; k < n; ++k) std::swap(a[size_t(c * n + k)], a[size_t(piv * n + k)]);
    std::swap(r[size_t(c)], r[size_t(piv)]);
    for (int k = c + 1; k < n; ++k) {
      const double f = a[size_t(k * n + c)] / a[size_t(c * n + c)];
      for (int j = c; j < n; ++j) a[size_t(k * n + j)] -= f * a[size_t(c * n + j)];
      r[size_t(k)] -= f * r[size_t(c)];
    }
  }
  for (int c = n - 1; c >= 0; --c) {
    for (int j = c + 1; j < n; ++j) r[size_t(c)] -= a[size_t(c * n + j)] * r[size_t(j)];
    r[size_t(c)] /= a[size_t(c * n + c)];
  }
  return true;
}

Placement refine_subpixel(const std::vector<std::pair<const Gray*, const Gray*>>& frames, const Placement& start,
                          bool fix_scale) {
  std::vector<LkPair> pairs;
  for (const auto& [f, b] : frames) pairs.push_back(lk_pair(*f, *b, start.scale, lk_points(frames.size())));
  if (pairs.empty()) return start;
  // Gauss-Newton on  bg(x + s cx, y + s cy) = a_p fg + b_p  (gain and offset per pair): the scale is continuous
  // here, where the searches before it could only try whole-pixel template sizes.
  const int P = int(pairs.size()), n = 3 + 2 * P;
  std::vector<double> q(size_t(n), 0.0);
  q[0] = start.x, q[1] = start.y, q[2] = start.scale;
  for (int k = 0; k < P; ++k) q[size_t(3 + 2 * k)] = 1.0;
  const double fw = double(frames[0].first->w), fh = double(frames[0].first->h);
  // Robust (Huber) weights from the second iteration on: parts that moved between the two moments, or that only
  // one video shows (a logo, a subtitle), must not pull the fit. sigma: from the mean absolute residual.
  double huber = std::numeric_limits<double>::infinity();
  for (int iter = 0; iter < 30; ++iter) {
    std::vector<double> A(size_t(n) * n, 0.0), r(size_t(n), 0.0);
    double abs_sum = 0, count = 0;
    for (int k = 0; k < P; ++k) {
      const LkPair& p = pairs[size_t(k)];
      const double ga = q[size_t(3 + 2 * k)], gb = q[size_t(4 + 2 * k)];
      const size_t ia = size_t(3 + 2 * k), ib = ia + 1;
      lk_visit(p, q[0], q[1], q[2], [&](float t, double cx, double cy, auto at) {
        const double e = at(p.b) - ga * t - gb;
        abs_sum += std::abs(e), count += 1;
        const double w = std::abs(e) <= huber ? 1.0 : huber / std::abs(e);
        const double gx = at(p.gx), gy = at(p.gy);
        const double j[5] = {gx, gy, gx * cx + gy * cy, -double(t), -1.0};
        const size_t idx[5] = {0, 1, 2, ia, ib};
        for (int u = 0; u < 5; ++u) {
          r[idx[u]] -= w * j[u] * e;
          for (int v = 0; v < 5; ++v) A[idx[u] * size_t(n) + idx[v]] += w * j[u] * j[v];
        }
      });
    }
    if (count > 0) huber = 3.0 * 1.25 * abs_sum / count;
    if (fix_scale) {
      for (int k = 0; k < n; ++k) A[size_t(2 * n + k)] = A[size_t(k * n + 2)] = 0.0;
      A[size_t(2 * n + 2)] = 1.0, r[2] = 0.0;
    }
    for (int k = 0; k < n; ++k) A[size_t(k * n + k)] *= 1.0 + 1e-6;  // a touch of damping on flat pictures
    if (!solve_linear(A, r, n)) return start;
    for (int k = 0; k < n; ++k) q[size_t(k)] += r[size_t(k)];
    if (!std::isfinite(q[0] + q[1] + q[2]) || q[2] <= 0) return start;
    if (std::abs(r[0]) < 1e-3 && std::abs(r[1]) < 1e-3 && std::abs(r[2]) * std::max(fw, fh) < 1e-3) break;
  }
  // Gauss-Newton only polishes: a result fitting worse is not trusted, nor one over 2 px from the start unless it
  // fits clearly better (the pairs' dissimilarity, 1 - NCC, at most halved). On a cockatoo pair whose fit on the
  // reels was 1% too large, the full-size pairs found the right place 9 px away (1 - NCC 0.0033 -> 0.0010).
  const double v0 = lk_ncc(pairs, start.x, start.y, start.scale), v1 = lk_ncc(pairs, q[0], q[1], q[2]);
  if (v1 < v0) return start;
  const double far = std::max({std::abs(q[0] - start.x), std::abs(q[1] - start.y),
                               std::abs(q[2] - start.scale) * std::max(fw, fh)});
  if (far > 2 && (far > 16 || 1 - v1 > 0.5 * (1 - v0))) return start;
  Placement out = start;
  out.x = q[0], out.y = q[1], out.scale = q[2];
  return out;
}

// fg sample `fg` scaled as placed, no larger than a bg of bw x bh: a fg that covers all of bg, placed a hair too
// large (scale 2.007 for 2), would not fit the phase-correlation surface, and gave sharpness 0 (and confidence 0)
// to a right placement.
GrayF placed_fg(const Gray& fg, const Placement& pl, int bw, int bh) {
  return to_float(resize_gray(fg, std::clamp(int(std::lround(fg.w * pl.scale)), 1, bw),
                              std::clamp(int(std::lround(fg.h * pl.scale)), 1, bh)));
}

// How far the phase-correlation peak of fg placed in bg stands above the rest of the surface: (peak - mean) /
// standard deviation of the surface outside an 11 x 11 window around the placement; 0 where the surface is flat
// (blank frames). Of the first (bg, fg) pair's surface, or of all the pairs' surfaces summed, whichever stands out
// more: summed, a real placement peaks in each, a chance match of one pair does not recur in the others, and the
// rest, unrelated from pair to pair, grows only as the square root of their number; but a pair whose bg frame
// does not show fg's moment (fast motion) only adds noise, and then the first pair alone stands out more.
// Each pair: a bg frame and the fg sample scaled as placed (placed_fg). (The bg frames stay 8-bit until their
// turn: a full-size one in floats with its summed-area tables takes 41 MB at 1080p.)
double peak_sharpness(Fft2d& fft, const std::vector<std::pair<Gray, GrayF>>& pairs, const Placement& pl) {
  if (pairs.empty()) return 0.0;
  const Gray& b0 = pairs[0].first;
  const int cw = fft_size(b0.w), ch = fft_size(b0.h);
  auto wrap = [](long v, long n) { return int(((v % n) + n) % n); };
  const int px = wrap(std::lround(pl.x), cw), py = wrap(std::lround(pl.y), ch);
  auto sharpness = [&](const std::vector<double>& s) {
    double peak = -HUGE_VAL, sum = 0, sum2 = 0, n = 0;
    for (int y = 0; y < ch; ++y)
      for (int x = 0; x < cw; ++x) {
        const double v = s[size_t(y) * cw + x];
        const int dx = std::min(std::abs(x - px), cw - std::abs(x - px));
        const int dy = std::min(std::abs(y - py), ch - std::abs(y - py));
        if (dx <= 1 && dy <= 1) peak = std::max(peak, v);  // a sub-pixel placement spreads the peak
        if (dx <= 5 && dy <= 5) continue;
        sum += v, sum2 += v * v, n += 1;
      }
    if (n < 2) return 0.0;
    const double mean = sum / n, sd = std::sqrt(std::max(sum2 / n - mean * mean, 0.0));
    const double z = (peak - mean) / sd;
    return sd > 0 && std::isfinite(z) ? std::max(z, 0.0) : 0.0;
  };
  std::vector<double> s(size_t(cw) * ch, 0.0);
  double first = 0;
  int summed = 0;
  for (const auto& [b, t] : pairs) {
    if (b.w != b0.w || b.h != b0.h) continue;
    fft.set_references({prepare(to_float(b), cw, ch)}, ch, cw);
    std::vector<std::vector<float>> surfaces;
    fft.phase_correlate(prepare(t, cw, ch), surfaces);
    for (size_t i = 0; i < s.size(); ++i) s[i] += surfaces[0][i];
    if (++summed == 1) first = sharpness(s);
  }
  return summed > 1 ? std::max(first, sharpness(s)) : first;
}

// Whether three or more fg samples, each matched well (NCC 0.9 or more on the thumbnails) with its best bg
// thumbnail, are shown by bg at one time offset, in their own spacing: within 5% of the samples' span (the
// thumbnails of slow footage cannot tell moments a few frames apart: the cockatoo crop's best frames were 3-5 bg
// frames off at 60 fps), 2.5 thumbnails and a fg frame. A chance match of a soft picture puts its best frames
// anywhere; samples under a second apart, or unknown times, give no such evidence.
bool one_time_offset(const SpatialInput& in, const std::vector<int64_t>& best_m, const std::vector<double>& best_v) {
  const size_t K = best_m.size();
  if (K < 3 || in.fg_times.size() != K || in.bg_frame_s <= 0) return false;
  std::vector<double> d;
  for (size_t k = 0; k < K; ++k) {
    if (best_m[k] < 0 || best_v[k] < 0.9) return false;
    d.push_back(double(best_m[k] * in.thumb_stride) * in.bg_frame_s - in.fg_times[k]);
  }
  const auto [lo, hi] = std::minmax_element(in.fg_times.begin(), in.fg_times.end());
  const double tol = 0.05 * (*hi - *lo) + 2.5 * double(in.thumb_stride) * in.bg_frame_s + in.fg_frame_s;
  const auto [dlo, dhi] = std::minmax_element(d.begin(), d.end());
  return *hi - *lo >= 1.0 && *dhi - *dlo <= tol;
}

// Whether a fit (NCC v at scale s) beats the best so far: by NCC, except that an unscaled fit wins when it scores
// within opt.prefer_unscaled of a scaled one (and a scaled one must beat an unscaled one by as much).
bool prefer_unscaled(double v, double s, double best_v, double best_s, const SpatialOptions& opt) {
  auto rank = [&](double val, double sc) { return val + (sc == opt.unscaled ? opt.prefer_unscaled : 0.0); };
  return rank(v, s) > rank(best_v, best_s);
}

// Medium level: scale by golden-section search with translation by hill climbing, on the full frames of the
// paired moment. Full resolution: translation, then sub-pixel. Returns the placement with its NCC.
struct Refined {
  Placement placement;  // confidence: NCC at the lower of the two resolutions
  double ncc = -2;      // NCC at bg resolution: comparable between candidates
  Gray frame;           // the bg frame it was found in (8-bit: the candidates' results are held together)
};

Refined refine(const SpatialInput& in, const Hypothesis& chosen, double s_min, double s_max,
               const SpatialOptions& opt, std::vector<std::string>& notes) {
  // ---- medium: scale by golden-section search, translation by hill climbing, on the paired full frames
  const int W = in.bg_w, H = in.bg_h, FW = in.fg[0].w, FH = in.fg[0].h;
  const double fx = double(in.bg_thumbs[0].w) / W, fy = double(in.bg_thumbs[0].h) / H;
  const Gray& fg_full = in.fg[size_t(chosen.k)];
  // The thumbnail that matched best may be a neighbour of the true moment (at 128 px they look alike): decide
  // among the neighbours at full detail.
  const size_t first = size_t(std::max<int64_t>(0, chosen.m * in.thumb_stride - 16));
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<Gray> near = in.bg_frames(first, 33);
  const auto t1 = std::chrono::steady_clock::now();
  const double f1 = std::min(1.0, 640.0 / std::max(W, H));
  // Time and scale are searched together: across a zoom, a neighbouring moment at another scale looks almost
  // the same, and only the true pair matches exactly. Each neighbour gets a coarse scale search; the best pairs
  // then a fine one.
  struct Medium {
    const GrayF* b = nullptr;
    // Where each climb starts: the centre-anchored guess plus this offset, fixed once per frame so that a
    // score does not depend on which scales were tried before it.
    int hx = 0, hy = 0;
  };
  // One resolution of the search: bg frames reduced by f; fg templates resized from fg shrunk once to twice
  // this size (the searches ask for the same sizes again and again: each is resized once).
  struct Level {
    double f, cx, cy;
    Gray fg;
    std::map<std::pair<int, int>, GrayF> cache;
    std::mutex lock;  // the moments are searched in two threads
  };
  auto make_level = [&](Level& l, double f) {
    l.f = f;
    l.cx = (chosen.x + FW * chosen.s * fx / 2) / fx * f, l.cy = (chosen.y + FH * chosen.s * fy / 2) / fy * f;
    const double fm = std::min(1.0, 2 * f * s_max);
    l.fg = resize_gray(fg_full, std::max(1, int(std::lround(FW * fm))), std::max(1, int(std::lround(FH * fm))));
  };
  auto templates = [&](Level& l, int tw, int th) -> const GrayF& {
    std::lock_guard<std::mutex> hold(l.lock);
    GrayF& t = l.cache[{tw, th}];  // std::map: the reference stays valid as others are added
    if (t.px.empty()) t = to_float(resize_gray(l.fg, tw, th));
    return t;
  };
  std::map<std::pair<int, int>, GrayF> full_cache;
  std::mutex full_lock;  // the finest level searches its moments in two threads
  auto full_templates = [&](int tw, int th) -> const GrayF& {
    std::lock_guard<std::mutex> hold(full_lock);
    GrayF& t = full_cache[{tw, th}];
    if (t.px.empty()) t = to_float(resize_gray(fg_full, tw, th));
    return t;
  };
  auto score = [&](Level& l, Medium& md, double s, int* out_x = nullptr, int* out_y = nullptr) {
    const int tw = std::max(1, int(std::lround(FW * s * l.f))), th = std::max(1, int(std::lround(FH * s * l.f)));
    const GrayF& t = templates(l, tw, th);
    int x = int(std::lround(l.cx - tw / 2.0)) + md.hx, y = int(std::lround(l.cy - th / 2.0)) + md.hy;
    const double v = hill_climb(t, *md.b, x, y);
    if (out_x) *out_x = x;
    if (out_y) *out_y = y;
    return v;
  };
  auto anchor = [&](Level& l, Medium& md, double s) {
    int x = 0, y = 0;
    score(l, md, s, &x, &y);
    const int tw = std::max(1, int(std::lround(FW * s * l.f))), th = std::max(1, int(std::lround(FH * s * l.f)));
    md.hx = x - int(std::lround(l.cx - tw / 2.0));
    md.hy = y - int(std::lround(l.cy - th / 2.0));
  };
  // Scale for one frame: a grid over +-span (the score can have several maxima), then golden-section around
  // the best grid point.
  auto best_scale = [&](Level& l, Medium& md, double around, double span, int steps, double tol) {
    anchor(l, md, around);
    const double lo = std::max(s_min, around / span), hi = std::min(s_max, around * span);
    double gs = around, gv = -2;
    for (int i = 0; i <= steps; ++i) {
      const double s = lo * std::pow(hi / lo, double(i) / steps);
      const double v = score(l, md, s);
      if (v > gv) gv = v, gs = s;
    }
    const double step = std::pow(hi / lo, 1.0 / steps);
    return golden(std::max(lo, gs / step), std::min(hi, gs * step), tol, [&](double q) { return score(l, md, q); });
  };
  struct FrameFit {
    double v, s;
    size_t i;
  };
  auto best_first = [](const FrameFit& a, const FrameFit& b) { return a.v > b.v; };
  // Along a zoom every moment has a scale that fits it about as well (a ridge within 0.002 NCC on a mandelbrot
  // zoom), and exactly one shows fg unscaled, which is how most overlays are made: the moment whose scale is
  // nearest the unscaled one (within 3%, fitting within 0.02 of the best) stays in the search besides the n best.
  const double one = opt.unscaled;
  auto keep_best = [&](std::vector<FrameFit>& fits, size_t n) {
    std::sort(fits.begin(), fits.end(), best_first);
    size_t u = fits.size();
    for (size_t q = 0; q < fits.size(); ++q)
      if (std::abs(fits[q].s / one - 1) < 0.03 && fits[q].v >= fits[0].v - 0.02 &&
          (u == fits.size() || std::abs(std::log(fits[q].s / one)) < std::abs(std::log(fits[u].s / one))))
        u = q;
    if (u >= n && u < fits.size()) std::swap(fits[n], fits[u]), ++n;
    if (fits.size() > n) fits.resize(n);
  };
  // Every neighbouring moment is searched: along a zoom the score rises and falls more than once, so
  // following it from the paired moment gets stuck (measured on a mandelbrot zoom). First at half the medium
  // resolution (a quarter of the work), then the eight best at the medium one (five were too few for a
  // mandelbrot zoom in the tests). Two threads, each moment's result in its own slot, so the outcome does not
  // depend on them.
  std::vector<FrameFit> frame_fits(near.size());
  const double f0 = f1 / 2;
  const bool screen = FW * chosen.s * f0 >= 64 && FH * chosen.s * f0 >= 48;
  if (screen) {
    Level l0;
    make_level(l0, f0);
    for_each_index(near.size(), [&](size_t i) {
      const GrayF b = level(near[i], f0);
      Medium md{&b};
      const double s = best_scale(l0, md, chosen.s, 1.1, 10, 6e-3 * chosen.s);
      frame_fits[i] = {score(l0, md, s), s, i};
    });
    keep_best(frame_fits, 8);
  } else {
    for (size_t i = 0; i < near.size(); ++i) frame_fits[i] = {0, chosen.s, i};
  }
  Level l1;
  make_level(l1, f1);
  std::vector<GrayF> mids(near.size());
  for_each_index(frame_fits.size(), [&](size_t q) {
    FrameFit& ff = frame_fits[q];
    mids[ff.i] = level(near[ff.i], f1);
    Medium md{&mids[ff.i]};
    const double s = best_scale(l1, md, ff.s, 1.1, 10, 3e-3 * ff.s);
    ff = {score(l1, md, s), s, ff.i};
  });
  keep_best(frame_fits, 3);

  // ---- full resolution, for the three best moments: along a zoom the medium level cannot tell the true moment
  // from its neighbours at slightly other scales, full detail can. Scale within +-0.6% (one pixel at the far edge
  // of a 1000 px fg needs it to 0.1%), translation, then sub-pixel.
  struct FullFit {
    double v = -2, s = 1, v1 = -2;
    int x = 0, y = 0;
    size_t i = 0;
    GrayF b;
  };
  // The moments in two threads, each into its own slot; the best is picked in order afterwards.
  std::vector<FullFit> fits(frame_fits.size());
  for_each_index(frame_fits.size(), [&](size_t q) {
    const FrameFit& ff = frame_fits[q];
    const GrayF& b1 = mids[ff.i];
    Medium md{&b1};
    anchor(l1, md, ff.s);
    const double s1 = golden(std::max(s_min, ff.s / 1.01), std::min(s_max, ff.s * 1.01), 5e-4 * ff.s,
                             [&](double q) { return score(l1, md, q); });
    int x1 = 0, y1 = 0;
    const double v1 = score(l1, md, s1, &x1, &y1);
    GrayF bf = f1 < 1.0 ? to_float(near[ff.i]) : b1;
    const double cxf = (x1 + FW * s1 * f1 / 2) / f1, cyf = (y1 + FH * s1 * f1 / 2) / f1;
    int fx_off = 0, fy_off = 0;  // fixed after the first climb, as at the medium level
    auto full = [&](double s, int* ox = nullptr, int* oy = nullptr) {
      const int tw = std::max(1, int(std::lround(FW * s))), th = std::max(1, int(std::lround(FH * s)));
      const GrayF& t = full_templates(tw, th);
      int x = int(std::lround(cxf - tw / 2.0)) + fx_off, y = int(std::lround(cyf - th / 2.0)) + fy_off;
      const double v = hill_climb(t, bf, x, y);
      if (ox) *ox = x;
      if (oy) *oy = y;
      // Score the sub-pixel peak, not the integer one: otherwise the score jumps whenever the best integer
      // translation does, and the scale search chases the jumps.
      return v + peak_gain(ncc_at(t, bf, x - 1, y), v, ncc_at(t, bf, x + 1, y)) +
             peak_gain(ncc_at(t, bf, x, y - 1), v, ncc_at(t, bf, x, y + 1));
    };
    {
      int x = 0, y = 0;
      full(s1, &x, &y);
      const int tw = std::max(1, int(std::lround(FW * s1))), th = std::max(1, int(std::lround(FH * s1)));
      fx_off = x - int(std::lround(cxf - tw / 2.0));
      fy_off = y - int(std::lround(cyf - th / 2.0));
    }
    double s2 = golden(std::max(s_min, s1 / 1.006), std::min(s_max, s1 * 1.006), 1e-4 * s1,
                       [&](double q) { return full(q); });
    double v2 = full(s2);
    // Users overlay unscaled clips most: take that scale when it scores as well (exactly, fg needs no resampling).
    if (s2 != one && std::abs(s2 / one - 1.0) < 0.03 && s_min <= one && one <= s_max) {
      const double vu = full(one);
      if (vu >= v2 - opt.prefer_unscaled) s2 = one, v2 = vu;
    }
    int x = 0, y = 0;
    full(s2, &x, &y);
    const int tw = std::max(1, int(std::lround(FW * s2))), th = std::max(1, int(std::lround(FH * s2)));
    const double v = ncc_at(full_templates(tw, th), bf, x, y);
    fits[q] = {v, s2, v1, x, y, ff.i, std::move(bf)};
  });
  FullFit best;
  for (FullFit& f : fits)  // the same preference across moments (along a zoom, see keep_best)
    if (prefer_unscaled(f.v, f.s, best.v, best.s, opt)) best = std::move(f);
  Placement pl;
  pl.scale = best.s;
  const int tw = std::max(1, int(std::lround(FW * best.s))), th = std::max(1, int(std::lround(FH * best.s)));
  const GrayF& t = full_templates(tw, th);
  const int x = best.x, y = best.y;
  const double v = best.v;
  pl.x = x + subpixel(ncc_at(t, best.b, x - 1, y), v, ncc_at(t, best.b, x + 1, y));
  pl.y = y + subpixel(ncc_at(t, best.b, x, y - 1), v, ncc_at(t, best.b, x, y + 1));
  pl.confidence = v;
  pl = refine_subpixel({{&fg_full, &near[best.i]}}, pl, best.s == opt.unscaled);
  if (best.s > opt.unscaled && x >= 0 && y >= 0 && x + tw <= W && y + th <= H && near[best.i].w == W && near[best.i].h == H) {
    // fg was enlarged: judge the match at fg's own resolution, where its detail is, not against the blur that
    // enlarging made of it.
    Gray region;
    region.w = tw;
    region.h = th;
    const Gray& src = near[best.i];
    for (int r = 0; r < th; ++r)
      region.px.insert(region.px.end(), src.px.begin() + (long(y + r) * W + x), src.px.begin() + (long(y + r) * W + x + tw));
    pl.confidence = ncc_at(to_float(fg_full), to_float(resize_gray(region, FW, FH)), 0, 0);
  }
  const auto t2 = std::chrono::steady_clock::now();
  notes.push_back(fmt::format("refined x {:.2f} y {:.2f} scale {:.4f}: NCC {:.4f} (medium {:.4f}, bg frame {}; "
                              "decoding {:.3f} s, search {:.3f} s)",
                              pl.x, pl.y, pl.scale, v, best.v1, first + best.i,
                              std::chrono::duration<double>(t1 - t0).count(),
                              std::chrono::duration<double>(t2 - t1).count()));
  return {pl, v, std::move(near[best.i])};
}

namespace {

// Brightness histogram, 32 bins, summing to 1.
std::array<double, 32> histogram(const Gray& g) {
  std::array<double, 32> h{};
  for (const uint8_t v : g.px) h[v >> 3] += 1;
  for (double& v : h) v /= std::max<size_t>(1, g.px.size());
  return h;
}

// Adds to `refs` the `n` bg thumbnails whose brightness histogram overlaps an fg sample's most. A histogram
// changes little with a crop or a scale, and much from one scene to the next: in a long bg, the evenly spread
// thumbnails may show none of fg's moments (a 20 s clip of a 23-minute master: 32 thumbnails 44 s apart).
void add_likely_refs(const SpatialInput& in, size_t n, std::vector<int64_t>& refs) {
  std::vector<std::array<double, 32>> fh;
  for (const Gray& g : in.fg) fh.push_back(histogram(g));
  std::vector<std::pair<double, int64_t>> scored;
  for (size_t m = 0; m < in.bg_thumbs.size(); ++m) {
    if (std::find(refs.begin(), refs.end(), int64_t(m)) != refs.end()) continue;
    const std::array<double, 32> bh = histogram(in.bg_thumbs[m]);
    double best = 0;
    for (const auto& h : fh) {
      double overlap = 0;
      for (size_t b = 0; b < h.size(); ++b) overlap += std::min(h[b], bh[b]);
      best = std::max(best, overlap);
    }
    scored.push_back({best, int64_t(m)});
  }
  n = std::min(n, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + n, scored.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (size_t i = 0; i < n; ++i) refs.push_back(scored[i].second);
}

}  // namespace

namespace {

// Of the flagged pixels of a w x h grid, those with 3 or more flagged among their 8 neighbours (isolated ones are
// noise).
std::vector<uint8_t> keep_solid(const std::vector<uint8_t>& flag, int w, int h) {
  std::vector<uint8_t> solid(flag.size(), 0);
  for (int v = 0; v < h; ++v)
    for (int u = 0; u < w; ++u) {
      if (!flag[size_t(v) * w + u]) continue;
      int around = 0;
      for (int y = std::max(0, v - 1); y <= std::min(h - 1, v + 1); ++y)
        for (int x = std::max(0, u - 1); x <= std::min(w - 1, u + 1); ++x) around += flag[size_t(y) * w + x];
      solid[size_t(v) * w + u] = around - 1 >= 3;
    }
  return solid;
}

// The flagged pixels grown by r in every direction (a square).
std::vector<uint8_t> grow(const std::vector<uint8_t>& flag, int w, int h, int r) {
  std::vector<uint8_t> grown = flag;
  for (int v = 0; v < h; ++v)
    for (int u = 0; u < w; ++u)
      if (flag[size_t(v) * w + u])
        for (int y = std::max(0, v - r); y <= std::min(h - 1, v + r); ++y)
          for (int x = std::max(0, u - r); x <= std::min(w - 1, u + r); ++x) grown[size_t(y) * w + x] = 1;
  return grown;
}

}  // namespace

std::vector<uint8_t> overlay_mask(const std::vector<std::vector<float>>& fgs, const std::vector<std::vector<float>>& bgs,
                                  int w, int h, int reach, double* share) {
  if (share) *share = 0;
  const size_t N = size_t(w) * h;
  if (fgs.size() < 3 || bgs.size() != fgs.size()) return {};
  std::vector<float> least(N, std::numeric_limits<float>::infinity());
  std::vector<uint8_t> seen(N, 0);
  for (size_t k = 0; k < fgs.size(); ++k) {
    const std::vector<float>&t = fgs[k], &b = bgs[k];
    if (t.size() != N || b.size() != N) return {};
    double st = 0, stt = 0, sb = 0, sbb = 0, n = 0;
    for (size_t i = 0; i < N; ++i)
      if (b[i] >= 0) st += t[i], stt += double(t[i]) * t[i], sb += b[i], sbb += double(b[i]) * b[i], n += 1;
    if (n < 0.5 * double(N)) continue;
    const double mt = st / n, mb = sb / n;
    const double dt = std::sqrt(std::max(0.0, stt / n - mt * mt)), db = std::sqrt(std::max(0.0, sbb / n - mb * mb));
    if (dt < 2 || db < 2) continue;  // a flat picture tells nothing
    for (int v = 0; v < h; ++v)
      for (int u = 0; u < w; ++u) {
        const size_t i = size_t(v) * w + u;
        if (b[i] < 0) continue;
        float lo = std::numeric_limits<float>::infinity(), hi = -lo;
        for (int y = std::max(0, v - reach); y <= std::min(h - 1, v + reach); ++y)
          for (int x = std::max(0, u - reach); x <= std::min(w - 1, u + reach); ++x)
            if (const float q = b[size_t(y) * w + x]; q >= 0) lo = std::min(lo, q), hi = std::max(hi, q);
        const double a = mb + (t[i] - mt) / dt * db;  // fg's level as bg shows it (gain and offset)
        least[i] = std::min(least[i], float(std::max({0.0, a - hi, lo - a}) / db));
        if (seen[i] < 255) ++seen[i];
      }
  }
  std::vector<uint8_t> flag(N, 0);
  size_t valid = 0;
  for (size_t i = 0; i < N; ++i)
    if (seen[i] >= 3) ++valid, flag[i] = least[i] > 0.15f;
  // Overlays are solid: a pixel counts where 3 or more of its 8 neighbours differ too (isolated ones are noise,
  // clipped highlights, grain: 5-17% of the pixels of a CRF 40 bg with added noise under a brightened fg).
  flag = keep_solid(flag, w, h);
  // And large: what differs within 2 pixels of each other counts as one, and only those of at least 0.1% of the
  // picture stay (letters of a subtitle join into words; clipped highlights, scattered, do not).
  {
    std::vector<uint8_t> near(N, 0);
    for (int v = 0; v < h; ++v)
      for (int u = 0; u < w; ++u)
        if (flag[size_t(v) * w + u])
          for (int y = std::max(0, v - 2); y <= std::min(h - 1, v + 2); ++y)
            for (int x = std::max(0, u - 2); x <= std::min(w - 1, u + 2); ++x) near[size_t(y) * w + x] = 1;
    std::vector<int> label(N, -1), stack;
    const size_t least_size = std::max<size_t>(12, N / 1000);
    for (size_t start = 0; start < N; ++start) {
      if (!near[start] || label[start] >= 0) continue;
      std::vector<size_t> members;
      stack.assign(1, int(start));
      label[start] = int(start);
      size_t count = 0;
      while (!stack.empty()) {
        const size_t i = size_t(stack.back());
        stack.pop_back();
        members.push_back(i);
        count += flag[i];
        const int u = int(i % size_t(w)), v = int(i / size_t(w));
        for (int y = std::max(0, v - 1); y <= std::min(h - 1, v + 1); ++y)
          for (int x = std::max(0, u - 1); x <= std::min(w - 1, u + 1); ++x)
            if (const size_t j = size_t(y) * w + x; near[j] && label[j] < 0) label[j] = int(start), stack.push_back(int(j));
      }
      if (count < least_size)
        for (const size_t i : members) flag[i] = 0;
    }
  }
  // Rows where many pixels differ are left out whole: a subtitle's box over dark parts of the picture, or the
  // gaps between its letters, differ too little to be told pixel by pixel.
  for (int v = 0; v < h; ++v) {
    int flagged = 0, shown = 0;
    for (int u = 0; u < w; ++u) flagged += flag[size_t(v) * w + u], shown += seen[size_t(v) * w + u] >= 3;
    if (shown > 0 && flagged >= 0.08 * shown)
      for (int u = 0; u < w; ++u) flag[size_t(v) * w + u] = seen[size_t(v) * w + u] >= 3;
  }
  const std::vector<uint8_t> grown = grow(flag, w, h, 1);
  const double s = valid ? double(std::count(grown.begin(), grown.end(), uint8_t(1))) / double(valid) : 0.0;
  if (valid < N / 2 || s < 0.01 || s > 0.4) return {};
  if (share) *share = s;
  return grown;
}

SpatialResult find_placement(const SpatialInput& in, Fft2d& fft, const SpatialOptions& opt) {
  SpatialResult res;
  const auto t_start = std::chrono::steady_clock::now();
  auto lap = [&](const char* what) {
    res.notes.push_back(fmt::format("{} done at {:.3f} s", what,
                                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count()));
  };
  if (in.fg.empty() || in.bg_thumbs.empty()) return res;
  const int W = in.bg_w, H = in.bg_h, FW = in.fg[0].w, FH = in.fg[0].h;
  const int TW = in.bg_thumbs[0].w, TH = in.bg_thumbs[0].h;
  const double fx = double(TW) / W, fy = double(TH) / H;
  const double s_max = std::min(double(W) / FW, double(H) / FH);
  const double s_min = std::min(s_max, std::min(opt.min_cover * W / FW, opt.min_cover * H / FH));
  const size_t K = in.fg.size(), M = in.bg_thumbs.size();

  // fg samples shrunk once to twice the largest coarse template: every scale is resized from these.
  std::vector<Gray> fg_base;
  for (const Gray& g : in.fg) {
    const double f = std::min(1.0, 2 * s_max * fx);
    fg_base.push_back(resize_gray(g, std::max(1, int(std::lround(FW * f))), std::max(1, int(std::lround(FH * f)))));
  }
  // fg sample k at scale s, at thumbnail resolution.
  auto coarse_fg = [&](size_t k, double s) {
    const int tw = std::max(1, int(std::lround(FW * s * fx))), th = std::max(1, int(std::lround(FH * s * fy)));
    return to_float(resize_gray(fg_base[k], tw, th));
  };
  std::vector<GrayF> thumbs(M);
  auto thumb = [&](int64_t m) -> const GrayF& {
    if (thumbs[size_t(m)].px.empty()) thumbs[size_t(m)] = to_float(in.bg_thumbs[size_t(m)]);
    return thumbs[size_t(m)];
  };

  // ---- coarse: phase correlation against an even subset of thumbnails, all scales
  const size_t R = std::min<size_t>(M, 32);
  std::vector<int64_t> ref_index;
  for (size_t r = 0; r < R; ++r) ref_index.push_back(int64_t((2 * r + 1) * M / (2 * R)));
  if (in.likely_refs > 0 && M > R) add_likely_refs(in, size_t(in.likely_refs), ref_index);
  const int cw = fft_size(TW), ch = fft_size(TH);
  {
    std::vector<std::vector<float>> refs;
    for (const int64_t m : ref_index) refs.push_back(prepare(thumb(m), cw, ch));
    fft.set_references(refs, ch, cw);
  }
  std::vector<double> scales;
  for (double s = s_max; s >= s_min * 0.999; s /= 1.05) scales.push_back(s);
  if (s_min <= opt.unscaled && opt.unscaled <= s_max) scales.push_back(opt.unscaled);

  // Every (fg sample, scale) pair on either thread, alternately (the references' spectra and thumbnails are only
  // read); the candidates are joined in sample and scale order, so the result does not depend on the threads.
  const size_t S = scales.size();
  std::vector<std::vector<Hypothesis>> found_by(K * S);
  auto search = [&](size_t item) {
    const size_t k = item / S;
    const double s = scales[item % S];
    std::vector<Hypothesis>& found = found_by[item];
    const GrayF t = coarse_fg(k, s);
    if (t.w < 6 || t.h < 6 || t.w > TW || t.h > TH) return;
    std::vector<std::vector<float>> surfaces;
    fft.phase_correlate(prepare(t, cw, ch), surfaces);
    for (size_t r = 0; r < surfaces.size(); ++r) {
      for (const Peak& p : top_peaks(surfaces[r], cw, ch, 3)) {
        // A shift is known only modulo the canvas: try the wrapped-around alternatives too.
        for (int x : {p.x, p.x - cw})
          for (int y : {p.y, p.y - ch}) {
            // fg mostly inside bg: a small picture hanging over the edge matches something by chance.
            const int ox = std::min(x + t.w, TW) - std::max(x, 0), oy = std::min(y + t.h, TH) - std::max(y, 0);
            if (ox <= 0 || oy <= 0 || double(ox) * oy < 0.75 * t.w * t.h) continue;
            const double v = ncc_at(t, thumb(ref_index[r]), x, y, true);
            if (v > 0) found.push_back({v, s, x, y, int(k), ref_index[r]});
          }
      }
    }
  };
  for_each_index(K * S, search);
  std::vector<Hypothesis> found;
  for (const auto& f : found_by) found.insert(found.end(), f.begin(), f.end());
  if (found.empty()) {
    res.notes.push_back("no candidate: fg or bg has no detail to match");
    return res;
  }
  lap("coarse search");
  std::sort(found.begin(), found.end(), [](const Hypothesis& a, const Hypothesis& b) { return a.ncc > b.ncc; });
  std::vector<Hypothesis> seeds;
  for (const Hypothesis& h : found) {
    if (std::none_of(seeds.begin(), seeds.end(), [&](const Hypothesis& d) { return same_place(h, d); }))
      seeds.push_back(h);
    if (seeds.size() == 4) break;
  }

  // ---- pair every fg sample with the bg moment it shows, re-fit the scale there; twice
  auto pair_all = [&](Hypothesis& h, std::vector<int64_t>& best_m, std::vector<double>& best_v) {
    best_m.assign(K, -1);
    best_v.assign(K, -2);
    for (size_t k = 0; k < K; ++k) {
      const GrayF t = coarse_fg(k, h.s);
      std::vector<std::pair<double, int64_t>> scored;
      for (size_t m = 0; m < M; ++m) scored.push_back({ncc_at(t, thumb(int64_t(m)), h.x, h.y), int64_t(m)});
      // Let the few best moments move by a pixel or two (the seed came from another moment).
      std::partial_sort(scored.begin(), scored.begin() + std::min<size_t>(4, M), scored.end(),
                        [](auto& a, auto& b) { return a.first > b.first; });
      for (size_t i = 0; i < std::min<size_t>(4, M); ++i) {
        int x = h.x, y = h.y;
        const double v = hill_climb(t, thumb(scored[i].second), x, y, 3);
        if (v > best_v[k]) {
          best_v[k] = v;
          best_m[k] = scored[i].second;
        }
      }
    }
    double sum = 0;
    for (double v : best_v) sum += std::max(v, 0.0);
    h.mean = sum / double(K);
  };
  auto refit = [&](Hypothesis& h) {
    // Local scale search at the paired moment, keeping fg's centre fixed; translation by hill climbing.
    const double cx = h.x + FW * h.s * fx / 2, cy = h.y + FH * h.s * fy / 2;
    Hypothesis best = h;
    for (double s = h.s / 1.1; s <= std::min(s_max, h.s * 1.1); s *= 1.01) {
      if (s < s_min) continue;
      const GrayF t = coarse_fg(size_t(h.k), s);
      int x = int(std::lround(cx - t.w / 2.0)), y = int(std::lround(cy - t.h / 2.0));
      const double v = hill_climb(t, thumb(h.m), x, y, 4);
      if (v > best.ncc) {
        best.ncc = v;
        best.s = s;
        best.x = x;
        best.y = y;
      }
    }
    h.ncc = best.ncc;
    h.s = best.s;
    h.x = best.x;
    h.y = best.y;
  };
  // The seeds on either thread, each into its own slot (every thumbnail converted first: the threads only read).
  for_each_index(M, [&](size_t m) { thumb(int64_t(m)); });
  std::vector<std::string> seed_notes(seeds.size());
  for_each_index(seeds.size(), [&](size_t i) {
    Hypothesis& h = seeds[i];
    std::vector<int64_t> bm;
    std::vector<double> bv;
    for (int round = 0; round < 2; ++round) {
      pair_all(h, bm, bv);
      h.k = int(std::max_element(bv.begin(), bv.end()) - bv.begin());
      h.m = bm[size_t(h.k)];
      h.ncc = bv[size_t(h.k)];
      refit(h);
    }
    pair_all(h, bm, bv);
    seed_notes[i] = fmt::format("candidate x {:.1f} y {:.1f} scale {:.3f}: mean NCC {:.3f} over {} fg samples (fg "
                                "sample {} best with bg frame {})",
                                h.x / fx, h.y / fy, h.s, h.mean, K, h.k, h.m * in.thumb_stride);
  });
  std::vector<Hypothesis> paired;
  for (size_t i = 0; i < seeds.size(); ++i) {
    res.notes.push_back(seed_notes[i]);
    // Seeds often converge on the same placement once paired: refine each placement once.
    if (std::none_of(paired.begin(), paired.end(), [&](const Hypothesis& d) { return same_place(seeds[i], d); }))
      paired.push_back(seeds[i]);
  }
  lap("pairing");
  std::sort(paired.begin(), paired.end(), [](const Hypothesis& a, const Hypothesis& b) { return a.mean > b.mean; });
  // Thumbnails cannot tell apart candidates that score alike (a zoom makes another scale at another moment look
  // the same): those within 0.02 of the best go on to the medium level, where detail decides.
  while (paired.size() > 1 && paired.back().mean < paired.front().mean - 0.02) paired.pop_back();
  if (paired.size() > 4) paired.resize(4);

  // The candidates in two threads too (their serial parts overlap), each into its own slot. Each keeps fg
  // resized to every scale it tries at the finest level (20 bytes a pixel with the summed-area tables): on a reel
  // that is tens of MB, but a full-size 960x540 fg takes ~200 MB a candidate, so templates larger than a reel go
  // one candidate at a time (a 10-minute 720p pair's alignment peaked at 1,004 MB with two, 812 MB with one).
  std::vector<Refined> refined(paired.size());
  std::vector<std::vector<std::string>> refine_notes(paired.size());
  auto refine_one = [&](size_t i) { refined[i] = refine(in, paired[i], s_min, s_max, opt, refine_notes[i]); };
  double largest = 0;  // template pixels at the finest level
  for (const Hypothesis& h : paired) largest = std::max(largest, double(FW) * FH * h.s * h.s * 1.1 * 1.1);
  if (largest <= 200e3) {
    for_each_index(paired.size(), refine_one);
  } else {
    for (size_t i = 0; i < paired.size(); ++i) refine_one(i);
  }
  Refined best;
  std::vector<int64_t> best_m;  // the winner's best bg thumbnail for each fg sample, and its NCC
  std::vector<double> best_v;
  for (size_t i = 0; i < paired.size(); ++i) {
    const Hypothesis& h = paired[i];
    Refined& p = refined[i];
    res.notes.insert(res.notes.end(), refine_notes[i].begin(), refine_notes[i].end());
    if (prefer_unscaled(p.ncc, p.placement.scale, best.ncc, best.placement.scale, opt)) {
      best = std::move(p);
      res.fg_sample = h.k;
      res.bg_thumb = h.m * in.thumb_stride;
      Hypothesis copy = h;
      pair_all(copy, best_m, best_v);
      res.agreeing = int(std::count_if(best_v.begin(), best_v.end(), [](double v) { return v >= 0.5; }));
      res.timed = one_time_offset(in, best_m, best_v);
    }
  }
  lap("refinement");
  res.placement = best.placement;
  res.placement.confidence = std::clamp(best.placement.confidence, 0.0, 1.0);
  if (!best.frame.px.empty()) {
    // A chance match of a small or smooth picture can reach a high NCC (the best of many tries); a real one also
    // stands out of its phase-correlation surface (SpatialOptions::sharp_peak).
    // Measured on every fg sample that confirms the placement, each with its best bg frame.
    const Placement& pl = res.placement;
    std::vector<std::pair<Gray, GrayF>> pairs;  // (bg frame, fg sample placed), the deciding pair first
    GrayF first = placed_fg(in.fg[size_t(res.fg_sample)], pl, best.frame.w, best.frame.h);
    pairs.emplace_back(std::move(best.frame), std::move(first));
    for (size_t k = 0; k < best_m.size(); ++k) {
      if (int(k) == res.fg_sample || best_v[k] < 0.5 || best_m[k] < 0 || !in.bg_frames) continue;
      // The thumbnails' choice, or a frame next to it that shows the placed sample better (thumbnails are
      // thumb_stride frames apart and too small to tell neighbouring moments of a soft picture apart).
      GrayF t = placed_fg(in.fg[k], pl, pairs[0].first.w, pairs[0].first.h);
      // (At most four frames either way: on full-size frames each is decoded again.)
      const int64_t reach = std::clamp<int64_t>(in.thumb_stride, 2, 4);
      const int64_t from = std::max<int64_t>(0, best_m[k] * in.thumb_stride - reach);
      double best_ncc = -2;
      Gray chosen;
      for (Gray& g : in.bg_frames(size_t(from), size_t(2 * reach + 1))) {
        const double v = ncc_at(t, to_float(g), int(std::lround(pl.x)), int(std::lround(pl.y)));
        if (v > best_ncc) best_ncc = v, chosen = std::move(g);
      }
      if (!chosen.px.empty()) pairs.emplace_back(std::move(chosen), std::move(t));
    }
    const double sharp = peak_sharpness(fft, pairs, res.placement);
    const double needed = res.timed ? opt.sharp_peak_timed : opt.sharp_peak;
    res.placement.confidence *= std::clamp(sharp / needed, 0.0, 1.0);
    res.notes.push_back(fmt::format("peak sharpness {:.1f} sigma{}", sharp,
                                    res.timed ? " (every fg sample found at one time offset)" : ""));
  }
  return res;
}

Placement refine_on_pairs(const std::vector<Gray>& fg, const std::vector<std::vector<Gray>>& bg,
                          const Placement& start, bool fix_scale, bool one_moment) {
  struct Fit {
    double x, y, v;
    const Gray* b;  // the bg frame it fits best
  };
  std::vector<Fit> fits;
  std::vector<double> before;  // NCC of the start placement on the same frames
  for (size_t p = 0; p < fg.size() && p < bg.size(); ++p) {
    const Gray& f = fg[p];
    const int tw = std::max(1, int(std::lround(f.w * start.scale))), th = std::max(1, int(std::lround(f.h * start.scale)));
    const GrayF t = to_float(resize_gray(f, tw, th));
    const int x0 = int(std::lround(start.x)), y0 = int(std::lround(start.y));
    Fit best_fit{0, 0, -2, nullptr};
    double best_start = -2;
    for (const Gray& candidate : bg[p]) {
      const GrayF b = to_float(candidate);
      best_start = std::max(best_start, ncc_at(t, b, x0, y0));
      int x = x0, y = y0;
      const double v = hill_climb(t, b, x, y);
      // The first candidate (the matched frame) keeps the pair unless another fits clearly better: along a pan a
      // neighbour fits about as well a few pixels off, and taking it moves the placement by them.
      if (v > best_fit.v + (best_fit.b ? 1e-4 : 0.0))
        best_fit = {x + subpixel(ncc_at(t, b, x - 1, y), v, ncc_at(t, b, x + 1, y)),
                    y + subpixel(ncc_at(t, b, x, y - 1), v, ncc_at(t, b, x, y + 1)), v, &candidate};
    }
    if (best_fit.v > -2) fits.push_back(best_fit), before.push_back(best_start);
  }
  if (fits.empty()) return start;
  // Pairs that show the very same moment fit best; the others differ by motion, which would bias the fit.
  double best = -2;
  for (const Fit& f : fits) best = std::max(best, f.v);
  double gain = 0;
  std::vector<double> xs, ys;
  std::vector<std::pair<const Gray*, const Gray*>> pairs;
  for (size_t p = 0; p < fits.size(); ++p)
    if (fits[p].v >= best - 0.002) {
      gain += fits[p].v - before[p];
      xs.push_back(fits[p].x), ys.push_back(fits[p].y), pairs.push_back({&fg[p], fits[p].b});
    }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  const double mx = median(xs), my = median(ys);
  // Move by whole pixels only when the fits match clearly better than the start did: on smooth content (a sky)
  // the score hardly depends on the position, and the fits would only wander.
  Placement out = start;
  if (gain / double(pairs.size()) >= 1e-3) out.x = mx, out.y = my;
  // A pair meant to show one moment whose own fit lies far from the others' (over 0.75 px) shows two: a fg frame
  // whose moment bg lacks, paired with a neighbour, fits as well a pixel or more along a pan or tilt, and on a
  // soft picture the thumbnails cannot tell it from an exact pair. Left out of the joint fit while most pairs
  // agree, five pairs or more (random11_12 in bench/pairs: two such pairs of six pulled a right placement 0.9 px
  // up a tilt; of three or four pairs, one 1.2 px apart was as often noise: a heavily re-encoded and a graded
  // pair lost 0.1-0.2 px without it). (Not in pairs spread evenly, where fg shows moments between bg's frames:
  // their fits scatter along a pan, around the truth; left out, the rest moved a re-check 3 px off on a noisy
  // synthetic pan.)
  if (one_moment && pairs.size() >= 5) {
    std::vector<std::pair<const Gray*, const Gray*>> agreeing;
    for (size_t p = 0; p < pairs.size(); ++p)
      if (std::abs(xs[p] - mx) <= 0.75 && std::abs(ys[p] - my) <= 0.75) agreeing.push_back(pairs[p]);
    if (2 * agreeing.size() > pairs.size()) pairs.swap(agreeing);
  }
  return refine_subpixel(pairs, out, fix_scale);
}

namespace {

// Whether the bg reel shows the placed fg in enough detail to place it there (and re-check it), else full-size
// frames are used.
bool fg_detailed_in_reel(const VideoInfo& fg, const Reel& bg_reel, double scale) {
  return bg_reel.shows(fg.width * scale, fg.height * scale);
}

// `count` fg frames for the re-checks, one from each of `count` equal stretches of [from, to): the one whose
// matched bg frame looked most alike (the temporal stage's similarity). Where the rates differ, many fg frames show
// a moment between two bg frames, and where things move fast a placement fitted on such pairs follows the motion
// (a cockatoo clip at 30 fps over 15: 3.7 px off), so each stretch offers its best exact match instead.
std::vector<int64_t> best_matched(const TimeMap& time, int64_t from, int64_t to, int count) {
  std::vector<int64_t> out;
  for (int k = 0; k < count; ++k) {
    const int64_t a = from + int64_t(double(k) / count * double(to - from));
    const int64_t b = std::max(a + 1, from + int64_t(double(k + 1) / count * double(to - from)));
    int64_t pick = (a + b - 1) / 2;
    float best = -2;
    for (int64_t i = a; i < b && size_t(i) < time.similarity.size(); ++i)
      if (time.similarity[size_t(i)] > best) best = time.similarity[size_t(i)], pick = i;  // (NaN never wins)
    if (out.empty() || out.back() != pick) out.push_back(pick);
  }
  return out;
}

// The keyframe at or before frame i: where decoding it again starts. 0 where the frames cannot be told by their
// timestamps after a seek (`seekable`: indexes_frames(reel.pts); decode_gray_frames then decodes from the start).
int64_t key_before(const Reel& reel, bool seekable, int64_t i) {
  if (!seekable || i >= int64_t(reel.pts.size())) return 0;
  const auto k = std::upper_bound(reel.keys.begin(), reel.keys.end(), i);
  return k == reel.keys.begin() ? 0 : *(k - 1);
}

// The first fg frame of the stretch [a, a + width) that refit_full_size takes its pairs from, a in [from, to]:
// the one that decodes fewest pixels again, counted from the keyframe before each video's first frame of the
// stretch to its last; the earliest of equals. A stretch starting at a keyframe of fg, or at the fg frame matched to
// one of bg, often costs far less than the first (the benchmark pair, keyframes 200-250 frames apart, fg 3 s into
// bg: 0.85 -> 0.6 s).
// (`bg_seek`, `fg_seek`: indexes_frames of each reel's timestamps.)
int64_t cheapest_stretch(const TimeMap& time, int64_t from, int64_t to, int64_t width, const VideoInfo& bg,
                         const VideoInfo& fg, const Reel& bg_reel, const Reel& fg_reel, bool bg_seek, bool fg_seek) {
  auto cost = [&](int64_t a) {
    const int64_t b = a + width - 1;  // (to + width <= map size)
    return double(bg.width) * bg.height *
               double(time.map[size_t(b)] + 1 - key_before(bg_reel, bg_seek, time.map[size_t(a)])) +
           double(fg.width) * fg.height * double(b + 1 - key_before(fg_reel, fg_seek, a));
  };
  std::vector<int64_t> starts{from};
  for (const int64_t k : fg_reel.keys)
    if (k > from && k <= to) starts.push_back(k);
  for (const int64_t k : bg_reel.keys) {  // the first fg frame matched at or after bg's keyframe k
    const auto j = std::lower_bound(time.map.begin() + from, time.map.begin() + to + 1, k);
    if (j != time.map.begin() + to + 1 && j != time.map.begin() + from) starts.push_back(j - time.map.begin());
  }
  std::sort(starts.begin(), starts.end());
  int64_t best = from;
  double best_cost = cost(from);
  for (const int64_t a : starts)
    if (const double c = cost(a); c < best_cost) best = a, best_cost = c;
  return best;
}

// The pixels of g under `mask` (a gw x gh grid over it) filled with g's mean elsewhere, so that they weigh next to
// nothing in NCCs and correlations.
void fill_masked(Gray& g, const std::vector<uint8_t>& mask, int gw, int gh) {
  auto masked = [&](int X, int Y) {
    const int u = std::min(gw - 1, int(X * double(gw) / g.w)), v = std::min(gh - 1, int(Y * double(gh) / g.h));
    return mask[size_t(v) * gw + u] != 0;
  };
  double sum = 0, cnt = 0;
  for (int Y = 0; Y < g.h; ++Y)
    for (int X = 0; X < g.w; ++X)
      if (!masked(X, Y)) sum += g.px[size_t(Y) * g.w + X], cnt += 1;
  const uint8_t mean = uint8_t(std::lround(cnt > 0 ? sum / cnt : 128.0));
  for (int Y = 0; Y < g.h; ++Y)
    for (int X = 0; X < g.w; ++X)
      if (masked(X, Y)) g.px[size_t(Y) * g.w + X] = mean;
}

// fg's own overlays in the full-size pairs, at the start placement: overlay_mask on a grid of up to 256 px wide
// (2 px of tolerance, so that a start a pixel or two off flags no edge), the pixels it names filled with the
// frame's mean elsewhere, so that they weigh next to nothing in the NCCs; in `also` too (more fg frames of the
// same size). Returns the share hidden.
double hide_overlays(std::vector<Gray>& fgs, const std::vector<std::vector<Gray>>& bgs, const Placement& start,
                     std::vector<Gray>* also = nullptr) {
  if (fgs.size() < 3 || fgs.size() != bgs.size()) return 0;
  const int FW = fgs[0].w, FH = fgs[0].h;
  const double tw = FW * start.scale, th = FH * start.scale;
  const double f = std::min(1.0, 256.0 / tw);
  const int gw = std::max(8, int(std::lround(tw * f))), gh = std::max(8, int(std::lround(th * f)));
  const size_t N = size_t(gw) * gh;
  std::vector<std::vector<float>> ts, bs;
  for (size_t k = 0; k < fgs.size(); ++k) {
    if (fgs[k].w != FW || fgs[k].h != FH || bgs[k].empty()) return 0;
    const Gray& b = bgs[k][0];
    const Gray t = resize_gray(fgs[k], gw, gh);
    ts.emplace_back(t.px.begin(), t.px.end());
    // bg under the placed fg on the same grid (nearest pixel: the tolerance covers it); -1: outside bg.
    std::vector<float>& bv = bs.emplace_back(N, -1.0f);
    for (int v = 0; v < gh; ++v)
      for (int u = 0; u < gw; ++u) {
        const int X = int(std::floor(start.x + (u + 0.5) / f)), Y = int(std::floor(start.y + (v + 0.5) / f));
        if (X >= 0 && Y >= 0 && X < b.w && Y < b.h) bv[size_t(v) * gw + u] = b.px[size_t(Y) * b.w + X];
      }
  }
  double share = 0;
  const std::vector<uint8_t> mask = overlay_mask(ts, bs, gw, gh, 2, &share);
  if (mask.empty()) return 0;
  std::vector<Gray*> all;
  for (Gray& g : fgs) all.push_back(&g);
  if (also)
    for (Gray& g : *also)
      if (g.w == FW && g.h == FH) all.push_back(&g);
  for (Gray* gp : all) fill_masked(*gp, mask, gw, gh);
  return share;
}

// Six fg frames of the matched range, the best matched of each sixth of a stretch of 30% of it (of its first 750
// frames at most, so that decoding them again stops early, also in a long pair; the first 15% of the range gave
// fits too rough to polish with, so not before 10% of it), and the bg frames the map gives them (with
// `neighbours`, and theirs), decoded at full size in one pass per video, the two at once; the placement re-fitted
// on them. The stretch is the one that decodes least (cheapest_stretch).
Status refit_full_size(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const TimeMap& time, int64_t lo,
                       int64_t hi, bool neighbours, const Placement& placement, Placement& p, const Reel& bg_reel,
                       const Reel& fg_reel) {
  const double span = double(std::min<int64_t>(hi - lo, 750));
  const int64_t from = lo + int64_t(0.1 * span);
  const int64_t width = std::max<int64_t>(1, int64_t(0.4 * span) - int64_t(0.1 * span));
  const bool bg_seek = indexes_frames(bg_reel.pts), fg_seek = indexes_frames(fg_reel.pts);
  const int64_t a =
      cheapest_stretch(time, from, std::max(from, hi - width), width, bg, fg, bg_reel, fg_reel, bg_seek, fg_seek);
  std::vector<int64_t> fi = best_matched(time, a, a + width, 6);
  ctx.log->debug("spatial: full-size pairs from fg frames {}-{} (bg {}-{}); decoding from keyframes fg {}, bg {}", a,
                 a + width - 1, time.map[size_t(a)], time.map[size_t(a + width - 1)], key_before(fg_reel, fg_seek, a),
                 key_before(bg_reel, bg_seek, time.map[size_t(a)]));
  std::vector<int64_t> bi;
  const int64_t last = std::max<int64_t>(0, bg.frames - 1);
  const std::vector<int64_t> around = neighbours ? std::vector<int64_t>{0, -1, 1} : std::vector<int64_t>{0};
  for (int64_t i : fi)
    for (const int64_t d : around)  // the matched frame first (refine_on_pairs)
      bi.push_back(std::clamp<int64_t>(time.map[size_t(i)] + d, 0, last));
  std::vector<int64_t> sorted = bi;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::vector<Gray> fgs, decoded;
  Status st, st_fg;
  run_both([&] { st_fg = decode_gray_frames(ctx, fg, fi, fgs, fg_reel.pts); },  // both videos at once
           [&] { st = decode_gray_frames(ctx, bg, sorted, decoded, bg_reel.pts); });
  st.merge(st_fg);
  if (!st.ok()) return st;
  // The fit looks only at bg around the placed fg: each bg frame is cut to that, with a margin wider than the fit
  // ever moves (hill climbing walks 64 px at most, the sub-pixel step and Gauss-Newton's 16 px less), so that a
  // small fg in a large bg does not pay for summed-area tables of the whole frame (41 MB a 1080p frame, made for
  // each). Frames of another size (a stream that changes size) are left whole, and then all of them.
  constexpr int kMargin = 72;
  int cx = 0, cy = 0;
  const int W = decoded.empty() ? 0 : decoded[0].w, H = decoded.empty() ? 0 : decoded[0].h;
  if (std::all_of(decoded.begin(), decoded.end(), [&](const Gray& g) { return g.w == W && g.h == H; })) {
    cx = std::clamp(int(std::lround(placement.x)) - kMargin, 0, W);
    cy = std::clamp(int(std::lround(placement.y)) - kMargin, 0, H);
    const int cw = std::clamp(int(std::lround(placement.x + fg.width * placement.scale)) + kMargin, cx, W) - cx;
    const int ch = std::clamp(int(std::lround(placement.y + fg.height * placement.scale)) + kMargin, cy, H) - cy;
    for (Gray& g : decoded) {  // each decoded frame once: a frame can be the neighbour of two pairs
      Gray c;
      c.w = cw, c.h = ch;
      c.px.resize(size_t(cw) * size_t(ch));
      for (int y = 0; y < ch; ++y)
        std::copy_n(g.px.begin() + ptrdiff_t(y + cy) * W + cx, cw, c.px.begin() + ptrdiff_t(y) * cw);
      g = std::move(c);
    }
  }
  std::vector<std::vector<Gray>> bgs(fi.size());
  for (size_t k = 0; k < fi.size(); ++k)
    for (size_t d = 0; d < around.size(); ++d) {
      const int64_t j = bi[k * around.size() + d];
      bgs[k].push_back(decoded[size_t(std::lower_bound(sorted.begin(), sorted.end(), j) - sorted.begin())]);
    }
  Placement start = placement;
  start.x -= cx, start.y -= cy;
  if (const double hidden = hide_overlays(fgs, bgs, start); hidden > 0)
    ctx.log->debug("spatial: {:.1f}% of fg differs from bg in every full-size pair (fg's own overlays: a logo, "
                   "subtitles); left out of the fit", 100 * hidden);
  p = refine_on_pairs(fgs, bgs, start, placement.scale == 1.0, !neighbours);
  p.x += cx, p.y += cy;
  return Status::Ok();
}

// The re-check for a fg too small in the reels: refit_full_size with the neighbours as candidates.
Status recheck_full_size(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const TimeMap& time, int64_t lo,
                         int64_t hi, Placement& placement, bool& moved, const Reel& bg_reel, const Reel& fg_reel) {
  Placement p;
  if (Status st = refit_full_size(ctx, bg, fg, time, lo, hi, true, placement, p, bg_reel, fg_reel); !st.ok())
    return st;
  ctx.log->debug("spatial recheck on full-size pairs: x {:.2f} y {:.2f} scale {:.4f} (was {:.2f}, {:.2f}, {:.4f})",
                 p.x, p.y, p.scale, placement.x, placement.y, placement.scale);
  moved = px_apart(p, placement, fg) > 0.5;
  placement = p;
  return Status::Ok();
}

}  // namespace

Status recheck_placement(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const Reel& bg_reel,
                         const Reel& fg_reel, const TimeMap& time, Placement& placement, bool& moved,
                         double* agree, std::optional<Placement>* runner_up) {
  moved = false;
  if (runner_up) runner_up->reset();
  if (agree) *agree = -1;
  const int64_t n = int64_t(std::min(time.map.size(), fg_reel.frames()));
  const int64_t lo = time.clamped_start, hi = n - time.clamped_end;
  if (hi - lo < 1 || bg_reel.frames() == 0) return Status::Ok();
  if (!fg_detailed_in_reel(fg, bg_reel, placement.scale) || fg_reel.step > 1)  // (a long pair keeps no fg reel)
    return recheck_full_size(ctx, bg, fg, time, lo, hi, placement, moved, bg_reel, fg_reel);
  // Twelve fg frames spread over the matched range, from the reels (no decoding), each with its matched bg frame
  // and both neighbours (where the rates differ the matched frame may show a moment a fraction of a frame away).
  // The reels' many pixels pin the placement down to a small fraction of a reel pixel. Two sets: for the
  // placement, the best match of each twelfth of the range (best_matched: pairs showing one moment, so that motion
  // does not bias the fit); for the shift test below, frames evenly spread, which favour no map.
  const int64_t last = int64_t(bg_reel.frames()) - 1;
  std::vector<int64_t> at;  // the evenly spread fg frames
  for (int k = 0; k < 12; ++k) {
    const int64_t i = lo + int64_t((k + 0.5) / 12 * double(hi - lo));
    if (at.empty() || at.back() != i) at.push_back(i);
  }
  std::vector<Gray> fgs, best_fgs;
  std::vector<std::vector<Gray>> best_bgs;
  for (const int64_t i : at) fgs.push_back(fg_reel.luma(size_t(i)));
  for (const int64_t i : best_matched(time, lo, hi, 12)) {
    best_fgs.push_back(fg_reel.luma(size_t(i)));
    best_bgs.emplace_back();
    for (const int64_t d : {0, -1, 1})  // the matched frame first (refine_on_pairs)
      best_bgs.back().push_back(bg_reel.luma(size_t(std::clamp<int64_t>(time.map[size_t(i)] + d, 0, last))));
  }
  // In reel pixels: bg's reel point sx_b X shows fg's reel point sx_f u.
  Placement r = placement;
  r.x *= bg_reel.sx, r.y *= bg_reel.sy, r.scale *= bg_reel.sx / fg_reel.sx;
  if (const double hidden = hide_overlays(best_fgs, best_bgs, r, &fgs); hidden > 0)
    ctx.log->debug("spatial: {:.1f}% of fg differs from bg in every matched pair of the reels (fg's own overlays: a "
                   "logo, subtitles); left out of the re-check", 100 * hidden);
  Placement p = refine_on_pairs(best_fgs, best_bgs, r, placement.scale == 1.0);
  // Along a pan, position and time trade for each other: one frame later, a few pixels off matches a single
  // pair about as well as the truth, and a map matched at such a place is off by that frame everywhere. The
  // whole match breaks the tie, because the pan's speed changes along it while the videos' offset does not: fit
  // the placement with every matched bg frame moved one frame earlier and one later too (and further while that
  // keeps fitting better), and keep a shift that fits clearly best (measured: a heavily re-encoded half-size Big
  // Buck Bunny crop, 0.9929 one frame earlier against 0.9892; right maps win by 0.0015-0.009): by 0.001, or by
  // 0.0003 where that leaves under 0.7 of the misfit (a crop at 2/3 size along a tilt, bg at CRF 30: 0.9984 one
  // frame earlier against 0.9976, 2.5 px off and 17.6% exact before, random10_1 in bench/pairs).
  auto fit_shifted = [&](int d, Placement& q, std::string& note) {
    std::vector<std::vector<Gray>> one;
    for (int64_t i : at) one.push_back({bg_reel.luma(size_t(std::clamp<int64_t>(time.map[size_t(i)] + d, 0, last)))});
    std::vector<std::pair<const Gray*, const Gray*>> pairs;
    for (size_t k = 0; k < at.size(); ++k) pairs.push_back({&fgs[k], &one[k][0]});
    // Every shift, the unmoved map too, is fitted and scored on the same single frames, so that they compare
    // alike. (Fitted with each pair's neighbours as candidates, the unmoved map could take a trade of position for
    // time itself, and lost to a wrong shift by 0.0012 on random8_r0 in bench/pairs: 50 and 60 fps, both from film.)
    q = refine_on_pairs(fgs, one, r, placement.scale == 1.0);
    const double v = pairs_ncc(pairs, q);
    note = fmt::format("spatial recheck with the map moved by {:+d} frame(s): x {:.2f} y {:.2f}, NCC {:.4f}", d,
                       q.x / bg_reel.sx, q.y / bg_reel.sy, v);
    return v;
  };
  bool shifted = false;
  Placement q0;  // the unmoved map's fit on the evenly spread frames
  {
    // The unmoved map and a frame either way, on both threads.
    Placement q[3];
    double v[3];
    std::string notes[3];
    for_each_index(3, [&](size_t i) { v[i] = fit_shifted(int(i) - 1, q[i], notes[i]); });
    for (const int i : {1, 0, 2}) ctx.log->debug("{}", notes[i]);
    q0 = q[1];
    const Placement &qm = q[0], &qp = q[2];
    const double v0 = v[1], vm = v[0], vp = v[2];
    const int dir = vm > vp ? -1 : +1;
    double best_v = std::max(vm, vp);
    Placement best = dir < 0 ? qm : qp;
    if (best_v > v0 + 1e-3 || (best_v > v0 + 3e-4 && 1 - best_v < 0.7 * (1 - v0))) {
      // Further that way while it keeps fitting better: a placement several pixels off is several frames late.
      for (int d = 2 * dir; std::abs(d) <= 8; d += dir) {
        Placement qd;
        std::string note;
        const double vd = fit_shifted(d, qd, note);
        ctx.log->debug("{}", note);
        if (vd <= best_v) break;
        best_v = vd, best = qd;
      }
      p = best, shifted = true;
    } else if (runner_up && best_v > v0 - 1e-3) {
      Placement alt = best;
      alt.x /= bg_reel.sx, alt.y /= bg_reel.sy;
      alt.scale = placement.scale == 1.0 ? 1.0 : alt.scale * fg_reel.sx / bg_reel.sx;
      if (px_apart(alt, placement, fg) > 0.5) *runner_up = alt;
    }
    if (agree) *agree = std::max(v0, best_v);
  }
  p.x /= bg_reel.sx, p.y /= bg_reel.sy, p.scale = placement.scale == 1.0 ? 1.0 : p.scale * fg_reel.sx / bg_reel.sx;
  const double dx = std::abs(p.x - placement.x), dy = std::abs(p.y - placement.y);
  const double ds = std::abs(p.scale - placement.scale) * std::max(fg.width, fg.height);
  ctx.log->debug("spatial recheck on {} matched pairs: x {:.2f} y {:.2f} scale {:.4f} (was {:.2f}, {:.2f}, {:.4f})",
                 fgs.size(), p.x, p.y, p.scale, placement.x, placement.y, placement.scale);
  // Reduced reels cannot sharpen a placement that full-resolution frames fitted to a fraction of a pixel
  // (measured: they moved a right one by 0.6 px on a fast-moving clip): they correct mistakes of over half a reel
  // pixel, such as a match faked at another moment; and of over 0.4 where both sets of frames, the best matched
  // and the evenly spread, agree on the new place within a quarter (the first placement, fitted on a few frames
  // along a tilt, was 1.35 px, 0.42 reel pixels, off on random9_s14 in bench/pairs, and the map there one frame
  // late; moves of 0.28-0.35 on other pairs went as often the wrong way as the right one).
  const double ax = std::abs(q0.x - p.x * bg_reel.sx), ay = std::abs(q0.y - p.y * bg_reel.sy);
  const double far = std::max({dx * bg_reel.sx, dy * bg_reel.sy, ds * bg_reel.sx});
  // A move without a shift of the map must also be where the evenly spread frames put fg (within half a reel
  // pixel): the best-matched pairs, with each bg frame's neighbours as candidates, can trade position for time
  // along a pan (random8_r0 in bench/pairs: they went 2.7 px down a vertical pan, the spread frames 0.6 px, from a
  // right placement, and the map followed them two frames off).
  moved = shifted || (far > 0.5 && ax <= 0.5 && ay <= 0.5) || (far > 0.4 && ax <= 0.25 && ay <= 0.25);
  if (moved) {
    placement.x = p.x;
    placement.y = p.y;
    placement.scale = p.scale;
  }
  return Status::Ok();
}

double px_apart(const Placement& a, const Placement& b, const VideoInfo& fg) {
  return std::max({std::abs(a.x - b.x), std::abs(a.y - b.y), std::abs(a.scale - b.scale) * std::max(fg.width, fg.height)});
}

Status polish_placement(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const TimeMap& time,
                        Placement& placement, const Reel& bg_reel, const Reel& fg_reel) {
  const int64_t n = int64_t(time.map.size());
  const int64_t lo = time.clamped_start, hi = n - time.clamped_end;
  if (hi - lo < 1) return Status::Ok();
  Placement p;
  if (Status st = refit_full_size(ctx, bg, fg, time, lo, hi, false, placement, p, bg_reel, fg_reel); !st.ok())
    return st;
  ctx.log->debug("spatial polish on full-size pairs: x {:.2f} y {:.2f} scale {:.4f} (was {:.2f}, {:.2f}, {:.4f})", p.x,
                 p.y, p.scale, placement.x, placement.y, placement.scale);
  placement = p;
  return Status::Ok();
}

namespace {

// cuFFT when a device is present and --gpu allows it, else torch::fft; one log line when the GPU was wanted but
// cannot be used.
std::unique_ptr<Fft2d> make_fft(const Context& ctx) {
  if (use_gpu(ctx)) {
    std::string why;
    if (std::unique_ptr<Fft2d> gpu = make_gpu_fft(why)) return gpu;
    ctx.log->info("spatial: the cuFFT backend is not usable ({}); phase correlation runs on the CPU", why);
  }
  return make_cpu_fft();
}

// One search: on the bg reel (its pixels are the search's pixel grid, nothing is decoded again, and the result is
// converted back to bg's pixels; unscaled fg is scale sx there), or on full-size bg frames decoded again.
Status place_on(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const Reel& bg_reel, bool reel,
                const std::vector<Gray>& samples, const std::vector<int64_t>& sample_index, Placement& placement) {
  const double k = reel ? bg_reel.sx : 1.0;
  const int W = reel ? bg_reel.w : bg.width, H = reel ? bg_reel.h : bg.height;
  // Thumbnails about 128 px on the long side keep the coarse search cheap and still find fg at 10% of bg.
  const double f = std::min(1.0, 128.0 / std::max(W, H));
  const int tw = std::max(8, int(std::lround(W * f))), th = std::max(8, int(std::lround(H * f)));
  SpatialInput in;
  in.bg_w = W;
  in.bg_h = H;
  in.fg = samples;
  if (fg.fps.valid() && bg.fps.valid() && sample_index.size() == samples.size()) {
    in.fg_frame_s = 1 / fg.fps.value(), in.bg_frame_s = 1 / bg.fps.value();
    for (int64_t i : sample_index) in.fg_times.push_back(double(i) * in.fg_frame_s);
  }
  // At most kMaxThumbs thumbnails, evenly spaced: the search keeps each one's float copy and summed-area tables
  // (~190 KB), so every frame of a 30-minute video would take gigabytes. The finer levels then look at all
  // frames around the best one.
  constexpr size_t kMaxThumbs = 1024;
  // (A sparse reel holds about that many already: its stride is a multiple of its step.)
  in.thumb_stride = bg_reel.step * std::max<int64_t>(1, int64_t((bg_reel.stored() + kMaxThumbs - 1) / kMaxThumbs));
  for (size_t i = 0; i < bg_reel.frames(); i += size_t(in.thumb_stride))
    in.bg_thumbs.push_back(resize_gray(bg_reel.luma(i), tw, th));
  // A long bg's evenly spread thumbnails are far apart: add those that look most like fg.
  if (bg_reel.step > 1) in.likely_refs = 32;
  in.bg_frames = [&](size_t first, size_t count) {
    std::vector<Gray> g;
    if (reel) {
      for (size_t i = first; i < std::min(bg_reel.frames(), first + count); ++i) g.push_back(bg_reel.luma(i));
      return g;
    }
    // A frame that cannot be decoded again (damaged after a seek) falls back to its reel picture, enlarged: the
    // search goes on with less detail, with a warning rather than a failure.
    Status again = decode_gray_at(ctx, bg, bg_reel.pts[first], int(count), g);
    if (g.empty()) {
      ctx.log->warn("{}: {}; matching on the reduced picture instead", bg.path, again.errors.empty() ? "" : again.errors[0]);
      g.push_back(resize_gray(bg_reel.luma(first), bg.width, bg.height));
    }
    return g;
  };
  SpatialOptions opt;
  opt.unscaled = k;
  SpatialResult r;
  try {
    r = find_placement(in, *make_fft(ctx), opt);
  } catch (const std::exception& e) {
    return Status::Fail(kExitAlign, fg.path, std::string("spatial alignment failed: ") + e.what());
  }
  for (const std::string& n : r.notes) ctx.log->debug("spatial: {}", n);
  placement = r.placement;
  if (reel) {
    placement.x /= bg_reel.sx;
    placement.y /= bg_reel.sy;
    placement.scale = r.placement.scale == opt.unscaled ? 1.0 : r.placement.scale / bg_reel.sx;
  }
  ctx.log->debug("spatial: x {:.2f} y {:.2f} scale {:.4f} confidence {:.3f} (fg sample {} with bg frame {}; {} of {} "
                 "fg samples confirm it)",
                 placement.x, placement.y, placement.scale, placement.confidence, r.fg_sample, r.bg_thumb,
                 r.agreeing, in.fg.size());
  return Status::Ok();
}

}  // namespace

double hide_static(std::vector<Gray>& samples) {
  if (samples.size() < 3) return 0;
  const int FW = samples[0].w, FH = samples[0].h;
  const double f = std::min(1.0, 256.0 / FW);
  const int gw = std::max(8, int(std::lround(FW * f))), gh = std::max(8, int(std::lround(FH * f)));
  const size_t N = size_t(gw) * gh;
  std::vector<uint8_t> all(N, 1), dir;  // dir: the first sample's edge directions
  for (const Gray& s : samples) {
    if (s.w != FW || s.h != FH) return 0;
    const Gray g = resize_gray(s, gw, gh);
    std::vector<float> m(N, 0.0f);
    std::vector<uint8_t> d(N, 0);
    for (int y = 1; y + 1 < gh; ++y)
      for (int x = 1; x + 1 < gw; ++x) {
        const int dx = g.at(x + 1, y) - g.at(x - 1, y), dy = g.at(x, y + 1) - g.at(x, y - 1);
        m[size_t(y) * gw + x] = float(std::abs(dx) + std::abs(dy));
        d[size_t(y) * gw + x] = std::abs(dx) >= std::abs(dy) ? (dx > 0 ? 0 : 1) : (dy > 0 ? 2 : 3);
      }
    std::vector<float> sorted = m;
    std::nth_element(sorted.begin(), sorted.begin() + long(N * 4 / 5), sorted.end());
    const float t = std::max(8.0f, sorted[N * 4 / 5]);
    for (size_t i = 0; i < N; ++i) all[i] &= m[i] > t && (dir.empty() || dir[i] == d[i]);
    if (dir.empty()) dir = d;
  }
  const std::vector<uint8_t> mask = grow(keep_solid(all, gw, gh), gw, gh, 3);
  const double share = double(std::count(mask.begin(), mask.end(), uint8_t(1))) / double(N);
  if (share < 0.005 || share > 0.3) return 0;
  for (Gray& g : samples) fill_masked(g, mask, gw, gh);
  return share;
}


Status place(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const Reel& bg_reel, const Reel& fg_reel,
             Placement& placement, const std::vector<Gray>* samples, const std::vector<int64_t>* sample_index) {
  const std::vector<Gray>& fgs = samples ? *samples : fg_reel.samples;
  const std::vector<int64_t>& fgi = sample_index ? *sample_index : fg_reel.sample_index;
  // On the reels when they show fg in enough detail (unscaled, or scaled down to fit), else at full size. Fine
  // detail (single-pixel texture) can fall below the threshold at reel size alone: then full size decides.
  const double fit = std::min({1.0, double(bg.width) / fg.width, double(bg.height) / fg.height});
  const bool reel = fg_detailed_in_reel(fg, bg_reel, fit);
  if (Status st = place_on(ctx, bg, fg, bg_reel, reel, fgs, fgi, placement); !st.ok()) return st;
  if (reel && placement.confidence < kSpatialThreshold) {
    ctx.log->debug("spatial: confidence {:.3f} on the reels; searching full-size frames", placement.confidence);
    if (Status st = place_on(ctx, bg, fg, bg_reel, false, fgs, fgi, placement); !st.ok()) return st;
  }
  // A long bg is searched on spread frames only: fast footage may show fg's moments in none of them (README, "Long
  // pairs"), and the user can fix that by cutting bg.
  const std::string hint =
      bg_reel.step > 1 ? fmt::format("; bg is long and was searched on one frame in {}: if fg is a short clip of "
                                     "it, cut bg around fg's moment first (ffmpeg -ss START -t SECONDS -i BG -c copy "
                                     "PART.mp4)", bg_reel.step)
                       : "";
  if (placement.confidence < kSpatialThreshold)
    return Status::Fail(kExitAlign, fg.path,
                        fmt::format("cannot find fg inside bg: best candidate x={:.0f} y={:.0f} scale={:.3f} has "
                                    "confidence {:.2f}, below {:.2f}{}",
                                    placement.x, placement.y, placement.scale, placement.confidence,
                                    kSpatialThreshold, hint));
  return Status::Ok();
}

}  // namespace vidkompy
