// Composition in YUV 4:2:0 without an RGB round trip. Luma is copied (or alpha-blended in the feathered band);
// each output chroma sample averages its 2x2 luma footprint, so odd offsets and partly covered chroma samples
// at the fg edge come out right instead of shifting colour by half a pixel. Samples are bytes, or 16-bit words for a
// 10-bit bg (the same arithmetic: the weights are 8-bit fractions whatever the samples' depth).
#include "vidkompy/compositor.hpp"

#include <algorithm>
#include <cstring>

namespace vidkompy {

Layout make_layout(int bg_w, int bg_h, int fg_w, int fg_h, int x, int y) {
  Layout l;
  l.bg_w = bg_w;
  l.bg_h = bg_h;
  l.fg = {x, y, fg_w, fg_h};
  const int x0 = std::max(0, x), y0 = std::max(0, y);
  const int x1 = std::min(bg_w, x + fg_w), y1 = std::min(bg_h, y + fg_h);
  l.visible = {x0, y0, std::max(0, x1 - x0), std::max(0, y1 - y0)};
  if (!l.visible.empty()) {
    l.edges.left = x > 0;
    l.edges.top = y > 0;
    l.edges.right = x + fg_w < bg_w;
    l.edges.bottom = y + fg_h < bg_h;
  }
  return l;
}

std::vector<Rect> border_mask(const Layout& l, int border) {
  std::vector<Rect> rects;
  const Rect& v = l.visible;
  if (v.empty() || border <= 0) return rects;
  const int bx = std::min(border, v.w), by = std::min(border, v.h);
  const int left = l.edges.left ? bx : 0;
  const int right = l.edges.right ? std::min(bx, v.w - left) : 0;
  // Left and right bands take the full height; top and bottom fill the width between them.
  if (left) rects.push_back({v.x, v.y, left, v.h});
  if (right) rects.push_back({v.x + v.w - right, v.y, right, v.h});
  const int top = l.edges.top ? by : 0;
  const int bottom = l.edges.bottom ? std::min(by, v.h - top) : 0;
  const Rect mid{v.x + left, v.y, v.w - left - right, v.h};
  if (top && mid.w > 0) rects.push_back({mid.x, v.y, mid.w, top});
  if (bottom && mid.w > 0) rects.push_back({mid.x, v.y + v.h - bottom, mid.w, bottom});
  return rects;
}

int ramp_weight(int d, int border) {
  if (border <= 0 || d >= border) return 256;
  return ((d + 1) * 256 + (border + 1) / 2) / (border + 1);
}

Compositor::Compositor(const Layout& layout, int border, bool blend) : layout_(layout) {
  const int fw = layout.fg.w, fh = layout.fg.h;
  ax_.assign(std::max(fw, 0), 256);
  ay_.assign(std::max(fh, 0), 256);
  if (blend) {
    for (int px = 0; px < fw; ++px) {
      int w = 256;
      if (layout.edges.left) w = std::min(w, ramp_weight(px, border));
      if (layout.edges.right) w = std::min(w, ramp_weight(fw - 1 - px, border));
      ax_[px] = w;
    }
    for (int py = 0; py < fh; ++py) {
      int w = 256;
      if (layout.edges.top) w = std::min(w, ramp_weight(py, border));
      if (layout.edges.bottom) w = std::min(w, ramp_weight(fh - 1 - py, border));
      ay_[py] = w;
    }
  }
  auto opaque = [](const std::vector<int>& a, int& lo, int& hi) {
    lo = 0;
    hi = int(a.size());
    while (lo < hi && a[lo] < 256) ++lo;
    while (hi > lo && a[hi - 1] < 256) --hi;
  };
  opaque(ax_, opaque_x0_, opaque_x1_);
  opaque(ay_, opaque_y0_, opaque_y1_);
}

void Compositor::compose(const Image& bg, const Image& fg, Image& out) const {
  const size_t bytes = size_t(bg.bytes());
  for (int i = 0; i < 3; ++i) {
    const Plane& s = bg.plane[i];
    Plane& d = out.plane[i];
    if (s.data == d.data) continue;
    for (int r = 0; r < s.height; ++r) std::memcpy(d.row(r), s.row(r), size_t(s.width) * bytes);
  }
  if (layout_.visible.empty()) return;
  if (bytes == 1) {
    compose_luma<uint8_t>(fg.plane[0], out.plane[0]);
    compose_chroma<uint8_t>(fg.plane[1], out.plane[1]);
    compose_chroma<uint8_t>(fg.plane[2], out.plane[2]);
  } else {
    compose_luma<uint16_t>(fg.plane[0], out.plane[0]);
    compose_chroma<uint16_t>(fg.plane[1], out.plane[1]);
    compose_chroma<uint16_t>(fg.plane[2], out.plane[2]);
  }
}

namespace {
template <typename T> T* row_of(const Plane& p, int y) { return reinterpret_cast<T*>(p.row(y)); }
}  // namespace

template <typename T>
void Compositor::compose_luma(const Plane& fg, Plane& out) const {
  const Rect& v = layout_.visible;
  const int x = layout_.fg.x, y = layout_.fg.y;
  // Columns (in bg coordinates) where fg is fully opaque.
  const int ox0 = std::clamp(x + opaque_x0_, v.x, v.x + v.w), ox1 = std::clamp(x + opaque_x1_, ox0, v.x + v.w);
  for (int by = v.y; by < v.y + v.h; ++by) {
    const int py = by - y;
    const T* f = row_of<T>(fg, py) - x;  // indexed by bg column
    T* o = row_of<T>(out, by);
    const bool row_opaque = py >= opaque_y0_ && py < opaque_y1_;
    auto blend = [&](int bx0, int bx1) {
      for (int bx = bx0; bx < bx1; ++bx) {
        const int a = alpha(bx - x, py);
        o[bx] = T((f[bx] * a + o[bx] * (256 - a) + 128) >> 8);
      }
    };
    if (row_opaque) {
      blend(v.x, ox0);
      std::memcpy(o + ox0, f + ox0, size_t(ox1 - ox0) * sizeof(T));
      blend(ox1, v.x + v.w);
    } else {
      blend(v.x, v.x + v.w);
    }
  }
}

template <typename T>
void Compositor::compose_chroma(const Plane& fg, Plane& out) const {
  const Rect& v = layout_.visible;
  const int x = layout_.fg.x, y = layout_.fg.y;
  const int W = layout_.bg_w, H = layout_.bg_h;
  const int fw = layout_.fg.w, fh = layout_.fg.h;
  const bool even = (x % 2 == 0) && (y % 2 == 0);
  const int cy0 = v.y / 2, cy1 = (v.y + v.h + 1) / 2;
  const int cx0 = v.x / 2, cx1 = (v.x + v.w + 1) / 2;
  // Chroma samples whose whole 2x2 footprint is opaque fg: with even offsets they map one to one onto fg's
  // chroma (memcpy); with odd offsets they average the fg chroma samples the footprint straddles.
  const int ox0 = x + opaque_x0_, ox1 = std::min(x + opaque_x1_, W), oy0 = y + opaque_y0_, oy1 = y + opaque_y1_;
  const int fast_cx0 = std::max(cx0, (std::max(ox0, 0) + 1) / 2), fast_cx1 = std::min(cx1, std::max(ox1, 0) / 2);

  for (int cy = cy0; cy < cy1; ++cy) {
    T* o = row_of<T>(out, cy);
    const int ly0 = 2 * cy, ly1 = std::min(2 * cy + 1, H - 1);
    const bool fast_row = ly0 >= oy0 && ly1 < oy1 && ly1 == 2 * cy + 1 && fast_cx1 > fast_cx0;
    auto general = [&](int c0, int c1) {
      for (int cx = c0; cx < c1; ++cx) {
        const int b = o[cx];
        int acc = 0, n = 0;
        for (int ly = ly0; ly <= ly1; ++ly) {
          for (int lx = 2 * cx; lx <= std::min(2 * cx + 1, W - 1); ++lx) {
            ++n;
            const int px = lx - x, py = ly - y;
            if (px < 0 || py < 0 || px >= fw || py >= fh) {
              acc += b * 256;
              continue;
            }
            const int a = alpha(px, py);
            acc += row_of<T>(fg, py >> 1)[px >> 1] * a + b * (256 - a);
          }
        }
        o[cx] = T((acc + n * 128) / (n * 256));
      }
    };
    if (fast_row) {
      general(cx0, fast_cx0);
      if (even) {
        std::memcpy(o + fast_cx0, row_of<T>(fg, cy - y / 2) + (fast_cx0 - x / 2), size_t(fast_cx1 - fast_cx0) * sizeof(T));
      } else {
        const T* r0 = row_of<T>(fg, (ly0 - y) >> 1);
        const T* r1 = row_of<T>(fg, (ly1 - y) >> 1);
        for (int cx = fast_cx0; cx < fast_cx1; ++cx) {
          const int a = (2 * cx - x) >> 1, b = (2 * cx + 1 - x) >> 1;
          o[cx] = T((r0[a] + r0[b] + r1[a] + r1[b] + 2) >> 2);
        }
      }
      general(fast_cx1, cx1);
    } else {
      general(cx0, cx1);
    }
  }
}

}  // namespace vidkompy
