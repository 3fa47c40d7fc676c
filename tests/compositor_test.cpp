// Tests the pure composition code: make_layout, border_mask, ramp_weight and Compositor::compose (hard and
// feathered edges, clipping, odd offsets and sizes, aliasing) on YUV 4:2:0 frames synthesized in code.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <sstream>
#include <tuple>
#include <string>
#include <vector>

#include "testutil.hpp"

using namespace vidkompy;

namespace {

// ---- synthetic pictures ----

// A YUV 4:2:0 picture whose planes have padded strides and guard bytes before and after, so that a write
// outside any plane (or into the stride padding) is detected.
struct Guarded {
  static constexpr uint8_t kGuard = 0xA5;
  static constexpr int kPad = 7;
  static constexpr int kMargin = 64;
  std::vector<uint8_t> bytes[3];
  Image image;

  Guarded(int w, int h) {
    image.width = w;
    image.height = h;
    for (int i = 0; i < 3; ++i) {
      const int pw = i ? (w + 1) / 2 : w, ph = i ? (h + 1) / 2 : h;
      const int stride = pw + kPad;
      bytes[i].assign(2 * kMargin + size_t(stride) * ph, kGuard);
      image.plane[i] = {bytes[i].data() + kMargin, stride, pw, ph};
    }
  }
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;

  // True when every byte outside the planes' pixels still holds the guard value.
  bool guards_intact() const {
    for (int i = 0; i < 3; ++i) {
      const Plane& p = image.plane[i];
      for (size_t k = 0; k < bytes[i].size(); ++k) {
        const std::ptrdiff_t off = std::ptrdiff_t(k) - kMargin;
        const bool pixel = off >= 0 && off < std::ptrdiff_t(p.stride) * p.height && off % p.stride < p.width;
        if (!pixel && bytes[i][k] != kGuard) return false;
      }
    }
    return true;
  }
};

using Pattern = std::function<uint8_t(int, int)>;

void fill(const Plane& p, const Pattern& f) {
  for (int y = 0; y < p.height; ++y)
    for (int x = 0; x < p.width; ++x) p.row(y)[x] = f(x, y);
}

// bg and fg use disjoint value ranges in every plane, so a pixel from the wrong source is always caught.
uint8_t bg_y(int x, int y) { return uint8_t(20 + (x * 5 + y * 3) % 50); }    // 20..69
uint8_t bg_u(int x, int y) { return uint8_t(100 + (x + 2 * y) % 20); }       // 100..119
uint8_t bg_v(int x, int y) { return uint8_t(150 + (2 * x + y) % 20); }       // 150..169
uint8_t fg_y(int x, int y) { return uint8_t(120 + (x * 7 + y * 11) % 120); } // 120..239
uint8_t fg_u(int x, int y) { return uint8_t(30 + (x * 3 + y * 5) % 40); }    // 30..69
uint8_t fg_v(int x, int y) { return uint8_t(200 + (x + y * 3) % 50); }       // 200..249

void fill_bg(const Image& img) {
  fill(img.plane[0], bg_y);
  fill(img.plane[1], bg_u);
  fill(img.plane[2], bg_v);
}
void fill_fg(const Image& img) {
  fill(img.plane[0], fg_y);
  fill(img.plane[1], fg_u);
  fill(img.plane[2], fg_v);
}
void fill_const(const Image& img, uint8_t y, uint8_t u, uint8_t v) {
  fill(img.plane[0], [=](int, int) { return y; });
  fill(img.plane[1], [=](int, int) { return u; });
  fill(img.plane[2], [=](int, int) { return v; });
}

// ---- an independent, per-sample model of the documented composition ----

// Sample (x, y) of plane p, at the picture's depth (bytes, or 16-bit words).
int get(const Image& im, int p, int x, int y) {
  if (im.depth > 8) return reinterpret_cast<const uint16_t*>(im.plane[p].row(y))[x];
  return im.plane[p].row(y)[x];
}
void put(const Image& im, int p, int x, int y, int v) {
  if (im.depth > 8)
    reinterpret_cast<uint16_t*>(im.plane[p].row(y))[x] = uint16_t(v);
  else
    im.plane[p].row(y)[x] = uint8_t(v);
}

int model_axis_weight(bool near_edge, bool far_edge, int p, int size, int border, bool blend) {
  int w = 256;
  if (!blend) return w;
  if (near_edge) w = std::min(w, ramp_weight(p, border));
  if (far_edge) w = std::min(w, ramp_weight(size - 1 - p, border));
  return w;
}

int model_alpha(const Layout& l, int px, int py, int border, bool blend) {
  const int ax = model_axis_weight(l.edges.left, l.edges.right, px, l.fg.w, border, blend);
  const int ay = model_axis_weight(l.edges.top, l.edges.bottom, py, l.fg.h, border, blend);
  return (ax * ay + 128) >> 8;
}

// What compose() must produce: luma blended per pixel; each chroma sample the alpha-weighted average over
// its 2x2 luma footprint (clipped to the frame), rounded as (acc + n*128) / (n*256).
std::unique_ptr<ImageBuffer> model_compose(const Layout& l, int border, bool blend, const Image& bg, const Image& fg) {
  const int W = bg.width, H = bg.height;
  auto out = std::make_unique<ImageBuffer>(W, H, bg.depth);
  auto inside = [&](int px, int py) { return px >= 0 && py >= 0 && px < l.fg.w && py < l.fg.h; };
  for (int by = 0; by < H; ++by) {
    for (int bx = 0; bx < W; ++bx) {
      const int px = bx - l.fg.x, py = by - l.fg.y;
      const int b = get(bg, 0, bx, by);
      int v = b;
      if (inside(px, py)) {
        const int a = model_alpha(l, px, py, border, blend);
        v = (get(fg, 0, px, py) * a + b * (256 - a) + 128) >> 8;
      }
      put(out->image, 0, bx, by, v);
    }
  }
  for (int p = 1; p < 3; ++p) {
    const Plane& bp = bg.plane[p];
    for (int cy = 0; cy < bp.height; ++cy) {
      for (int cx = 0; cx < bp.width; ++cx) {
        const int b = get(bg, p, cx, cy);
        int acc = 0, n = 0;
        for (int ly = 2 * cy; ly <= std::min(2 * cy + 1, H - 1); ++ly) {
          for (int lx = 2 * cx; lx <= std::min(2 * cx + 1, W - 1); ++lx) {
            ++n;
            const int px = lx - l.fg.x, py = ly - l.fg.y;
            if (!inside(px, py)) {
              acc += b * 256;
            } else {
              const int a = model_alpha(l, px, py, border, blend);
              acc += get(fg, p, px >> 1, py >> 1) * a + b * (256 - a);
            }
          }
        }
        put(out->image, p, cx, cy, (acc + n * 128) / (n * 256));
      }
    }
  }
  return out;
}

// Number of differing samples (all planes); describes the first few in *why.
int diff_images(const Image& got, const Image& want, std::string* why) {
  int bad = 0;
  std::ostringstream os;
  for (int p = 0; p < 3; ++p) {
    const Plane& g = got.plane[p];
    const Plane& w = want.plane[p];
    if (g.width != w.width || g.height != w.height) {
      os << "plane " << p << " size differs; ";
      ++bad;
      continue;
    }
    for (int y = 0; y < g.height; ++y) {
      for (int x = 0; x < g.width; ++x) {
        if (get(got, p, x, y) != get(want, p, x, y)) {
          if (bad < 4) os << "plane " << p << " (" << x << "," << y << "): got " << get(got, p, x, y) << " want "
                          << get(want, p, x, y) << "; ";
          ++bad;
        }
      }
    }
  }
  if (why) *why = os.str();
  return bad;
}

// Composes patterned fg onto patterned bg at (x, y) into a guarded output pre-filled with junk, and checks
// the result against the model and the guards.
::testing::AssertionResult compose_matches_model(int W, int H, int fw, int fh, int x, int y, int border, bool blend) {
  Guarded bg(W, H), fg(fw, fh), out(W, H);
  fill_bg(bg.image);
  fill_fg(fg.image);
  fill_const(out.image, 0xEE, 0xEE, 0xEE);
  const Layout l = make_layout(W, H, fw, fh, x, y);
  Compositor(l, border, blend).compose(bg.image, fg.image, out.image);
  const auto want = model_compose(l, border, blend, bg.image, fg.image);
  std::string why;
  const int bad = diff_images(out.image, want->image, &why);
  const bool guards = out.guards_intact() && bg.guards_intact() && fg.guards_intact();
  if (bad == 0 && guards) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "bg " << W << "x" << H << " fg " << fw << "x" << fh << " at (" << x << ","
                                       << y << ") border " << border << " blend " << blend << ": " << bad
                                       << " samples differ (" << why << ")" << (guards ? "" : " guard bytes overwritten");
}

}  // namespace

// ====================================== make_layout ======================================

TEST(MakeLayout, CentredHasAllFourEdgesVisible) {
  const Layout l = make_layout(100, 80, 40, 20, 30, 30);
  EXPECT_EQ(l.bg_w, 100);
  EXPECT_EQ(l.bg_h, 80);
  EXPECT_EQ(l.fg, (Rect{30, 30, 40, 20}));
  EXPECT_EQ(l.visible, (Rect{30, 30, 40, 20}));
  EXPECT_EQ(l.edges, (Edges{true, true, true, true}));
}

TEST(MakeLayout, TouchingEachEdgeHidesThatEdge) {
  // Edges order: left, right, top, bottom.
  EXPECT_EQ(make_layout(100, 80, 40, 20, 0, 30).edges, (Edges{false, true, true, true}));
  EXPECT_EQ(make_layout(100, 80, 40, 20, 60, 30).edges, (Edges{true, false, true, true}));
  EXPECT_EQ(make_layout(100, 80, 40, 20, 30, 0).edges, (Edges{true, true, false, true}));
  EXPECT_EQ(make_layout(100, 80, 40, 20, 30, 60).edges, (Edges{true, true, true, false}));
  EXPECT_EQ(make_layout(100, 80, 40, 20, 0, 30).visible, (Rect{0, 30, 40, 20}));
  EXPECT_EQ(make_layout(100, 80, 40, 20, 60, 30).visible, (Rect{60, 30, 40, 20}));
  EXPECT_EQ(make_layout(100, 80, 40, 20, 30, 0).visible, (Rect{30, 0, 40, 20}));
  EXPECT_EQ(make_layout(100, 80, 40, 20, 30, 60).visible, (Rect{30, 60, 40, 20}));
  // One pixel away from the border, the edge shows again.
  EXPECT_TRUE(make_layout(100, 80, 40, 20, 1, 30).edges.left);
  EXPECT_TRUE(make_layout(100, 80, 40, 20, 59, 30).edges.right);
  EXPECT_TRUE(make_layout(100, 80, 40, 20, 30, 1).edges.top);
  EXPECT_TRUE(make_layout(100, 80, 40, 20, 30, 59).edges.bottom);
}

TEST(MakeLayout, TouchingEachCornerHidesTwoEdges) {
  const Layout tl = make_layout(100, 80, 40, 20, 0, 0);
  EXPECT_EQ(tl.edges, (Edges{false, true, false, true}));
  EXPECT_EQ(tl.visible, (Rect{0, 0, 40, 20}));
  const Layout tr = make_layout(100, 80, 40, 20, 60, 0);
  EXPECT_EQ(tr.edges, (Edges{true, false, false, true}));
  EXPECT_EQ(tr.visible, (Rect{60, 0, 40, 20}));
  const Layout bl = make_layout(100, 80, 40, 20, 0, 60);
  EXPECT_EQ(bl.edges, (Edges{false, true, true, false}));
  EXPECT_EQ(bl.visible, (Rect{0, 60, 40, 20}));
  const Layout br = make_layout(100, 80, 40, 20, 60, 60);
  EXPECT_EQ(br.edges, (Edges{true, false, true, false}));
  EXPECT_EQ(br.visible, (Rect{60, 60, 40, 20}));
}

TEST(MakeLayout, ExtendingPastEachEdgeClipsVisibleAndKeepsFg) {
  const Layout l = make_layout(100, 80, 40, 20, -10, 30);
  EXPECT_EQ(l.fg, (Rect{-10, 30, 40, 20}));
  EXPECT_EQ(l.visible, (Rect{0, 30, 30, 20}));
  EXPECT_EQ(l.edges, (Edges{false, true, true, true}));

  const Layout r = make_layout(100, 80, 40, 20, 70, 30);
  EXPECT_EQ(r.fg, (Rect{70, 30, 40, 20}));
  EXPECT_EQ(r.visible, (Rect{70, 30, 30, 20}));
  EXPECT_EQ(r.edges, (Edges{true, false, true, true}));

  const Layout t = make_layout(100, 80, 40, 20, 30, -5);
  EXPECT_EQ(t.visible, (Rect{30, 0, 40, 15}));
  EXPECT_EQ(t.edges, (Edges{true, true, false, true}));

  const Layout b = make_layout(100, 80, 40, 20, 30, 70);
  EXPECT_EQ(b.visible, (Rect{30, 70, 40, 10}));
  EXPECT_EQ(b.edges, (Edges{true, true, true, false}));

  const Layout c = make_layout(100, 80, 40, 20, -10, -5);
  EXPECT_EQ(c.visible, (Rect{0, 0, 30, 15}));
  EXPECT_EQ(c.edges, (Edges{false, true, false, true}));

  const Layout c2 = make_layout(100, 80, 40, 20, 75, 66);
  EXPECT_EQ(c2.visible, (Rect{75, 66, 25, 14}));
  EXPECT_EQ(c2.edges, (Edges{true, false, true, false}));
}

TEST(MakeLayout, FgEqualToOrLargerThanBgHasNoVisibleEdges) {
  const Layout same = make_layout(100, 80, 100, 80, 0, 0);
  EXPECT_EQ(same.visible, (Rect{0, 0, 100, 80}));
  EXPECT_EQ(same.edges, (Edges{}));
  const Layout larger = make_layout(100, 80, 130, 90, -20, -7);
  EXPECT_EQ(larger.visible, (Rect{0, 0, 100, 80}));
  EXPECT_EQ(larger.edges, (Edges{}));
}

TEST(MakeLayout, FgEntirelyOutsideHasEmptyVisibleAndNoEdges) {
  const int pos[][2] = {{100, 30}, {-40, 30}, {30, 80}, {30, -20}, {500, 500}, {-41, -21}, {100, 80}, {-40, -20}};
  for (const auto& p : pos) {
    const Layout l = make_layout(100, 80, 40, 20, p[0], p[1]);
    EXPECT_TRUE(l.visible.empty()) << p[0] << "," << p[1];
    EXPECT_EQ(l.edges, (Edges{})) << p[0] << "," << p[1];
    EXPECT_EQ(l.fg, (Rect{p[0], p[1], 40, 20}));
  }
  // One pixel overlapping is still visible.
  EXPECT_EQ(make_layout(100, 80, 40, 20, 99, 79).visible, (Rect{99, 79, 1, 1}));
  EXPECT_EQ(make_layout(100, 80, 40, 20, -39, -19).visible, (Rect{0, 0, 1, 1}));
}

// ====================================== border_mask ======================================

namespace {

// A layout in a 100x80 bg whose visible edges are exactly `want` (all 16 combinations are reachable):
// an edge is hidden by letting fg run past that side of the frame.
Layout layout_with_edges(Edges want, int fw_inner = 60, int fh_inner = 50) {
  int x, fw, y, fh;
  if (want.left && want.right) x = 10, fw = fw_inner;
  else if (want.left) x = 10, fw = 100;
  else if (want.right) x = -10, fw = fw_inner;
  else x = -10, fw = 120;
  if (want.top && want.bottom) y = 10, fh = fh_inner;
  else if (want.top) y = 10, fh = 80;
  else if (want.bottom) y = -10, fh = fh_inner;
  else y = -10, fh = 100;
  return make_layout(100, 80, fw, fh, x, y);
}

Edges edges_of(int bits) { return Edges{bool(bits & 1), bool(bits & 2), bool(bits & 4), bool(bits & 8)}; }

std::vector<Rect> sorted(std::vector<Rect> v) {
  std::sort(v.begin(), v.end(), [](const Rect& a, const Rect& b) {
    return std::tie(a.x, a.y, a.w, a.h) < std::tie(b.x, b.y, b.w, b.h);
  });
  return v;
}

std::string str(const std::vector<Rect>& v) {
  std::ostringstream os;
  for (const Rect& r : v) os << "{" << r.x << "," << r.y << "," << r.w << "," << r.h << "} ";
  return os.str();
}

// The defining properties of the mask: at most 4 non-empty rectangles inside the visible fg, no overlap, and
// together exactly the visible pixels within `border` px of a visible edge.
void check_mask_properties(const Layout& l, int border) {
  SCOPED_TRACE(::testing::Message() << "visible {" << l.visible.x << "," << l.visible.y << "," << l.visible.w << ","
                                    << l.visible.h << "} edges " << l.edges.left << l.edges.right << l.edges.top
                                    << l.edges.bottom << " border " << border);
  const std::vector<Rect> rects = border_mask(l, border);
  EXPECT_LE(rects.size(), 4u);
  const Rect& v = l.visible;
  const int n_edges = l.edges.left + l.edges.right + l.edges.top + l.edges.bottom;
  if (border <= 0 || n_edges == 0 || v.empty()) {
    EXPECT_TRUE(rects.empty()) << str(rects);
    return;
  }
  if (n_edges == 1) {
    EXPECT_EQ(rects.size(), 1u) << str(rects);
  }
  std::vector<int> cover(size_t(std::max(v.w, 0)) * std::max(v.h, 0), 0);
  for (const Rect& r : rects) {
    EXPECT_FALSE(r.empty()) << str(rects);
    EXPECT_GE(r.x, v.x);
    EXPECT_GE(r.y, v.y);
    EXPECT_LE(r.x + r.w, v.x + v.w);
    EXPECT_LE(r.y + r.h, v.y + v.h);
    if (r.empty() || r.x < v.x || r.y < v.y || r.x + r.w > v.x + v.w || r.y + r.h > v.y + v.h) return;
    for (int y = r.y; y < r.y + r.h; ++y)
      for (int x = r.x; x < r.x + r.w; ++x) ++cover[size_t(y - v.y) * v.w + (x - v.x)];
  }
  int wrong = 0;
  for (int y = 0; y < v.h; ++y) {
    for (int x = 0; x < v.w; ++x) {
      const bool in_band = (l.edges.left && x < border) || (l.edges.right && v.w - 1 - x < border) ||
                           (l.edges.top && y < border) || (l.edges.bottom && v.h - 1 - y < border);
      const int c = cover[size_t(y) * v.w + x];
      if (c != (in_band ? 1 : 0) && wrong++ < 3)
        ADD_FAILURE() << "pixel (" << v.x + x << "," << v.y + y << ") covered " << c << " times, in band " << in_band
                      << "; rects " << str(rects);
    }
  }
}

}  // namespace

TEST(BorderMask, AllSixteenEdgeCombinationsGiveExactBands) {
  const int b = 4;
  for (int bits = 0; bits < 16; ++bits) {
    const Edges want = edges_of(bits);
    const Layout l = layout_with_edges(want);
    ASSERT_EQ(l.edges, want) << "bits " << bits;
    const Rect v = l.visible;
    // Expected rectangles: left and right bands take the full visible height, top and bottom the width
    // between them.
    std::vector<Rect> expect;
    const int left = want.left ? b : 0, right = want.right ? b : 0;
    if (want.left) expect.push_back({v.x, v.y, b, v.h});
    if (want.right) expect.push_back({v.x + v.w - b, v.y, b, v.h});
    if (want.top) expect.push_back({v.x + left, v.y, v.w - left - right, b});
    if (want.bottom) expect.push_back({v.x + left, v.y + v.h - b, v.w - left - right, b});
    const std::vector<Rect> got = border_mask(l, b);
    EXPECT_EQ(sorted(got), sorted(expect)) << "bits " << bits << ": got " << str(got) << " want " << str(expect);
    EXPECT_EQ(got.size(), size_t(__builtin_popcount(unsigned(bits)))) << "bits " << bits;
    check_mask_properties(l, b);
    // Border 0 (or negative) gives no mask at all.
    EXPECT_TRUE(border_mask(l, 0).empty()) << "bits " << bits;
    EXPECT_TRUE(border_mask(l, -3).empty()) << "bits " << bits;
  }
}

TEST(BorderMask, ExactRectanglesForKnownLayouts) {
  // fg 60x50 at (10,10) in 100x80, all four edges.
  EXPECT_EQ(sorted(border_mask(make_layout(100, 80, 60, 50, 10, 10), 4)),
            sorted({{10, 10, 4, 50}, {66, 10, 4, 50}, {14, 10, 52, 4}, {14, 56, 52, 4}}));
  // Only the left edge shows (fg runs past the right, top and bottom).
  EXPECT_EQ(border_mask(make_layout(100, 80, 100, 100, 10, -10), 4), (std::vector<Rect>{{10, 0, 4, 80}}));
  // Only the top edge shows.
  EXPECT_EQ(border_mask(make_layout(100, 80, 120, 80, -10, 10), 5), (std::vector<Rect>{{0, 10, 100, 5}}));
  // Only the bottom edge shows.
  EXPECT_EQ(border_mask(make_layout(100, 80, 120, 50, -10, -10), 3), (std::vector<Rect>{{0, 37, 100, 3}}));
  // Only the right edge shows, fg clipped at the top-left corner.
  EXPECT_EQ(border_mask(make_layout(100, 80, 50, 100, -10, -10), 2), (std::vector<Rect>{{38, 0, 2, 80}}));
  // Top-right corner of fg in the frame: right and top bands; the top band stops at the right band.
  EXPECT_EQ(sorted(border_mask(make_layout(100, 80, 50, 100, -10, 10), 3)),
            sorted({{37, 10, 3, 70}, {0, 10, 37, 3}}));
}

TEST(BorderMask, NoneWhenFgCoversTheFrameOrIsOutside) {
  EXPECT_TRUE(border_mask(make_layout(100, 80, 100, 80, 0, 0), 8).empty());
  EXPECT_TRUE(border_mask(make_layout(100, 80, 140, 100, -20, -10), 8).empty());
  EXPECT_TRUE(border_mask(make_layout(100, 80, 40, 20, 100, 30), 8).empty());
  EXPECT_TRUE(border_mask(make_layout(100, 80, 40, 20, -50, -50), 8).empty());
}

TEST(BorderMask, BorderLargerThanFgClamps) {
  // 6x4 fg, all edges visible, border 20: one band covers all of it, nothing overlaps.
  const Layout l = make_layout(100, 80, 6, 4, 10, 10);
  EXPECT_EQ(border_mask(l, 20), (std::vector<Rect>{{10, 10, 6, 4}}));
  // Border 3: the left and right bands meet; no room left for top/bottom.
  EXPECT_EQ(sorted(border_mask(l, 3)), sorted({{10, 10, 3, 4}, {13, 10, 3, 4}}));
  // Border 2: four bands, top and bottom meet in the middle.
  EXPECT_EQ(sorted(border_mask(l, 2)), sorted({{10, 10, 2, 4}, {14, 10, 2, 4}, {12, 10, 2, 2}, {12, 12, 2, 2}}));
  // Only the top edge visible, border taller than fg: the whole visible fg.
  EXPECT_EQ(border_mask(make_layout(100, 80, 120, 5, -10, 75), 9), (std::vector<Rect>{{0, 75, 100, 5}}));
  for (int border : {2, 3, 4, 5, 20}) check_mask_properties(l, border);
}

TEST(BorderMask, PropertiesHoldOverManyLayoutsAndBorders) {
  const int W = 23, H = 17;
  for (int fw : {1, 2, 3, 5, 8, 23, 30}) {
    for (int fh : {1, 2, 4, 7, 17, 20}) {
      for (int x = -fw; x <= W; x += 2) {
        for (int y = -fh; y <= H; y += 3) {
          const Layout l = make_layout(W, H, fw, fh, x, y);
          for (int border : {0, 1, 2, 3, 6, 40}) check_mask_properties(l, border);
          if (::testing::Test::HasFailure()) return;
        }
      }
    }
  }
}

// ====================================== ramp_weight ======================================

TEST(RampWeight, ExactValues) {
  // border 4: ((d+1)*256 + 2) / 5
  EXPECT_EQ(ramp_weight(0, 4), 51);
  EXPECT_EQ(ramp_weight(1, 4), 102);
  EXPECT_EQ(ramp_weight(2, 4), 154);
  EXPECT_EQ(ramp_weight(3, 4), 205);
  EXPECT_EQ(ramp_weight(4, 4), 256);
  EXPECT_EQ(ramp_weight(100, 4), 256);
  // border 1 and 3
  EXPECT_EQ(ramp_weight(0, 1), 128);
  EXPECT_EQ(ramp_weight(1, 1), 256);
  EXPECT_EQ(ramp_weight(0, 3), 64);
  EXPECT_EQ(ramp_weight(1, 3), 128);
  EXPECT_EQ(ramp_weight(2, 3), 192);
  EXPECT_EQ(ramp_weight(3, 3), 256);
  // border 0 or negative: no feathering.
  EXPECT_EQ(ramp_weight(0, 0), 256);
  EXPECT_EQ(ramp_weight(5, 0), 256);
  EXPECT_EQ(ramp_weight(0, -2), 256);
}

TEST(RampWeight, MatchesFormulaAndRisesStrictlyBelow256) {
  for (int border = 1; border <= 200; ++border) {
    int prev = 0;
    for (int d = 0; d < border; ++d) {
      const int w = ramp_weight(d, border);
      EXPECT_EQ(w, ((d + 1) * 256 + (border + 1) / 2) / (border + 1)) << d << "/" << border;
      EXPECT_GE(w, 1);
      EXPECT_LT(w, 256) << d << "/" << border;
      EXPECT_GE(w, prev) << d << "/" << border;
      prev = w;
    }
    EXPECT_EQ(ramp_weight(border, border), 256);
    EXPECT_EQ(ramp_weight(border + 7, border), 256);
  }
}

// ====================================== compose, hard edge ======================================

TEST(Compose, HardEdgeLumaIsFgInsideAndBgOutsideChromaExactForEvenOffsets) {
  const int W = 64, H = 48, fw = 20, fh = 14, X = 10, Y = 6;
  Guarded bg(W, H), fg(fw, fh), out(W, H);
  fill_bg(bg.image);
  fill_fg(fg.image);
  fill_const(out.image, 0xEE, 0xEE, 0xEE);
  const Layout l = make_layout(W, H, fw, fh, X, Y);
  Compositor(l, 8, false).compose(bg.image, fg.image, out.image);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const bool in = x >= X && x < X + fw && y >= Y && y < Y + fh;
      ASSERT_EQ(out.image.plane[0].row(y)[x], in ? fg_y(x - X, y - Y) : bg_y(x, y)) << x << "," << y;
    }
  for (int cy = 0; cy < H / 2; ++cy)
    for (int cx = 0; cx < W / 2; ++cx) {
      const bool in = cx >= X / 2 && cx < (X + fw) / 2 && cy >= Y / 2 && cy < (Y + fh) / 2;
      ASSERT_EQ(out.image.plane[1].row(cy)[cx], in ? fg_u(cx - X / 2, cy - Y / 2) : bg_u(cx, cy)) << cx << "," << cy;
      ASSERT_EQ(out.image.plane[2].row(cy)[cx], in ? fg_v(cx - X / 2, cy - Y / 2) : bg_v(cx, cy)) << cx << "," << cy;
    }
  EXPECT_TRUE(out.guards_intact());
  EXPECT_TRUE(compose_matches_model(W, H, fw, fh, X, Y, 8, false));
}

TEST(Compose, OddSizedFgAtEvenOffsetAveragesThePartlyCoveredChroma) {
  // fg 21x15 at (10,6): chroma column 15 sees fg in luma column 30 only, row 10 sees fg in luma row 20 only.
  const int W = 64, H = 48, fw = 21, fh = 15, X = 10, Y = 6;
  Guarded bg(W, H), fg(fw, fh), out(W, H);
  fill_const(bg.image, 16, 110, 160);
  fill_const(fg.image, 235, 40, 220);
  Compositor(make_layout(W, H, fw, fh, X, Y), 0, false).compose(bg.image, fg.image, out.image);
  const Plane& u = out.image.plane[1];
  EXPECT_EQ(u.row(3)[5], 40);    // fully inside
  EXPECT_EQ(u.row(9)[14], 40);   // last fully covered sample
  EXPECT_EQ(u.row(3)[15], 75);   // half covered: (2*40*256 + 2*110*256 + 512) / 1024 = 75
  EXPECT_EQ(u.row(10)[5], 75);   // half covered vertically
  EXPECT_EQ(u.row(10)[15], 93);  // quarter covered: (40*256 + 3*110*256 + 512) / 1024 = 93
  EXPECT_EQ(u.row(3)[16], 110);  // outside
  EXPECT_EQ(u.row(11)[5], 110);
  EXPECT_EQ(out.image.plane[2].row(10)[15], 175);  // (220 + 3*160 + 2) / 4
  EXPECT_EQ(out.image.plane[0].row(20)[30], 235);
  EXPECT_EQ(out.image.plane[0].row(20)[31], 16);
  EXPECT_EQ(out.image.plane[0].row(21)[30], 16);
  EXPECT_TRUE(out.guards_intact());
  EXPECT_TRUE(compose_matches_model(W, H, fw, fh, X, Y, 0, false));
}

TEST(Compose, ClippingAtEachEdgeAndCornerNeverWritesOutOfBounds) {
  const int W = 64, H = 48, fw = 20, fh = 14;
  const int pos[][2] = {{-7, 5},  {-8, 6},  {50, 5},  {51, 6},   {10, -5}, {10, -6}, {10, 40}, {11, 41},
                        {-3, -3}, {55, 41}, {-4, 40}, {50, -10}, {-19, 0}, {63, 47}, {0, 0},   {44, 34}};
  for (const auto& p : pos) {
    const int X = p[0], Y = p[1];
    Guarded bg(W, H), fg(fw, fh), out(W, H);
    fill_bg(bg.image);
    fill_fg(fg.image);
    fill_const(out.image, 0xEE, 0xEE, 0xEE);
    Compositor(make_layout(W, H, fw, fh, X, Y), 4, false).compose(bg.image, fg.image, out.image);
    int bad = 0;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const bool in = x >= X && x < X + fw && y >= Y && y < Y + fh;
        const int want = in ? fg_y(x - X, y - Y) : bg_y(x, y);
        if (out.image.plane[0].row(y)[x] != want && bad++ < 3)
          ADD_FAILURE() << "at (" << X << "," << Y << ") luma (" << x << "," << y << ") got "
                        << int(out.image.plane[0].row(y)[x]) << " want " << want;
      }
    EXPECT_TRUE(out.guards_intact()) << X << "," << Y;
    EXPECT_TRUE(compose_matches_model(W, H, fw, fh, X, Y, 4, false));
  }
  // Even offsets: chroma inside the clipped fg maps one to one.
  Guarded bg(W, H), fg(fw, fh), out(W, H);
  fill_bg(bg.image);
  fill_fg(fg.image);
  Compositor(make_layout(W, H, fw, fh, -8, -6), 0, false).compose(bg.image, fg.image, out.image);
  EXPECT_EQ(out.image.plane[1].row(0)[0], fg_u(4, 3));
  EXPECT_EQ(out.image.plane[2].row(3)[5], fg_v(9, 6));
  EXPECT_EQ(out.image.plane[1].row(0)[6], bg_u(6, 0));
  EXPECT_EQ(out.image.plane[1].row(4)[0], bg_u(0, 4));
}

TEST(Compose, OddOffsetsKeepLumaExactAndAverageStraddledChroma) {
  const int W = 64, H = 48, fw = 20, fh = 14;
  const int offs[][2] = {{11, 6}, {10, 7}, {11, 7}, {-7, -5}, {45, 35}};
  for (const auto& o : offs) {
    const int X = o[0], Y = o[1];
    SCOPED_TRACE(::testing::Message() << "offset " << X << "," << Y);
    Guarded bg(W, H), fg(fw, fh), out(W, H);
    fill_bg(bg.image);
    fill_fg(fg.image);
    Compositor(make_layout(W, H, fw, fh, X, Y), 0, false).compose(bg.image, fg.image, out.image);
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const bool in = x >= X && x < X + fw && y >= Y && y < Y + fh;
        ASSERT_EQ(out.image.plane[0].row(y)[x], in ? fg_y(x - X, y - Y) : bg_y(x, y)) << x << "," << y;
      }
    int checked = 0;
    for (int p = 1; p < 3; ++p) {
      const auto f = p == 1 ? fg_u : fg_v;
      for (int cy = 0; cy < H / 2; ++cy)
        for (int cx = 0; cx < W / 2; ++cx) {
          const int px = 2 * cx - X, py = 2 * cy - Y;
          if (px < 0 || py < 0 || px + 1 >= fw || py + 1 >= fh) continue;  // footprint not wholly inside fg
          const int k0 = px >> 1, k1 = (px + 1) >> 1, r0 = py >> 1, r1 = (py + 1) >> 1;
          // (acc + 4*128) / (4*256) with every alpha 256 is the rounded mean of the four footprint samples.
          const int want = (f(k0, r0) + f(k1, r0) + f(k0, r1) + f(k1, r1) + 2) / 4;
          ASSERT_EQ(out.image.plane[p].row(cy)[cx], want) << "plane " << p << " " << cx << "," << cy;
          ++checked;
        }
    }
    EXPECT_GT(checked, 0);
    EXPECT_TRUE(out.guards_intact());
    EXPECT_TRUE(compose_matches_model(W, H, fw, fh, X, Y, 0, false));
  }
  // Hand-computed: x odd straddles two fg chroma columns, (a + b + 1) / 2; both odd straddles four.
  Guarded bg(W, H), fg(4, 4), out(W, H);
  fill_const(bg.image, 16, 128, 128);
  fill(fg.image.plane[0], [](int, int) { return uint8_t(200); });
  const uint8_t u[2][2] = {{10, 21}, {40, 100}};
  fill(fg.image.plane[1], [&](int x, int y) { return u[y][x]; });
  fill(fg.image.plane[2], [&](int x, int y) { return u[y][x]; });
  Compositor(make_layout(W, H, 4, 4, 11, 10), 0, false).compose(bg.image, fg.image, out.image);
  EXPECT_EQ(out.image.plane[1].row(5)[6], 16);  // (10 + 21 + 1) / 2
  EXPECT_EQ(out.image.plane[1].row(6)[6], 70);  // (40 + 100 + 1) / 2
  Compositor(make_layout(W, H, 4, 4, 11, 11), 0, false).compose(bg.image, fg.image, out.image);
  EXPECT_EQ(out.image.plane[2].row(6)[6], 43);  // (10 + 21 + 40 + 100 + 2) / 4
}

TEST(Compose, OddBackgroundSizes) {
  const int W = 33, H = 17;
  // Touching the bottom-right corner (last chroma column and row cover one luma column / row).
  {
    Guarded bg(W, H), fg(10, 6), out(W, H);
    fill_bg(bg.image);
    fill_fg(fg.image);
    Compositor(make_layout(W, H, 10, 6, 23, 11), 0, false).compose(bg.image, fg.image, out.image);
    EXPECT_EQ(out.image.plane[0].row(16)[32], fg_y(9, 5));
    EXPECT_EQ(out.image.plane[0].row(10)[32], bg_y(32, 10));
    // Chroma (16,8): footprint is the single luma pixel (32,16) = fg (9,5) -> fg chroma (4,2).
    EXPECT_EQ(out.image.plane[1].row(8)[16], fg_u(4, 2));
    EXPECT_EQ(out.image.plane[2].row(8)[16], fg_v(4, 2));
    EXPECT_TRUE(out.guards_intact());
  }
  // At an even offset ending at the frame edge: one-to-one chroma up to the last column.
  {
    Guarded bg(W, H), fg(11, 7), out(W, H);
    fill_bg(bg.image);
    fill_fg(fg.image);
    Compositor(make_layout(W, H, 11, 7, 22, 10), 0, false).compose(bg.image, fg.image, out.image);
    for (int cy = 5; cy < 9; ++cy)
      for (int cx = 11; cx < 17; ++cx) EXPECT_EQ(out.image.plane[1].row(cy)[cx], fg_u(cx - 11, cy - 5)) << cx << "," << cy;
    EXPECT_EQ(out.image.plane[1].row(4)[11], bg_u(11, 4));
    EXPECT_TRUE(out.guards_intact());
  }
  for (int x : {-5, -4, 0, 1, 11, 22, 23, 24, 30, 32})
    for (int y : {-3, -2, 0, 1, 7, 10, 11, 12, 16})
      for (bool blend : {false, true}) EXPECT_TRUE(compose_matches_model(W, H, 10, 6, x, y, 3, blend));
}

TEST(Compose, FgEntirelyOutsideLeavesBgUntouched) {
  const int W = 33, H = 17;
  for (const auto& p : std::vector<std::pair<int, int>>{{33, 0}, {-10, 0}, {0, 17}, {0, -6}, {-50, 40}}) {
    Guarded bg(W, H), fg(10, 6), out(W, H);
    fill_bg(bg.image);
    fill_fg(fg.image);
    fill_const(out.image, 0xEE, 0xEE, 0xEE);
    Compositor(make_layout(W, H, 10, 6, p.first, p.second), 3, true).compose(bg.image, fg.image, out.image);
    std::string why;
    EXPECT_EQ(diff_images(out.image, bg.image, &why), 0) << why;
    EXPECT_TRUE(out.guards_intact());
  }
}

TEST(Compose, MatchesModelOverManyPlacements) {
  // Every offset around and across the frame, for even and odd bg sizes and fg sizes, hard and feathered.
  const int bgs[][2] = {{33, 17}, {32, 18}};
  const int fgs[][2] = {{1, 1}, {5, 3}, {10, 6}, {11, 7}, {34, 19}};
  for (const auto& b : bgs)
    for (const auto& f : fgs)
      for (int x = -f[0] - 1; x <= b[0] + 1; ++x)
        for (int y = -f[1] - 1; y <= b[1] + 1; ++y)
          for (int border : {0, 1, 3})
            for (bool blend : {false, true}) {
              if (!blend && border != 3) continue;
              ASSERT_TRUE(compose_matches_model(b[0], b[1], f[0], f[1], x, y, border, blend));
            }
}

// ====================================== compose, feathered ======================================

TEST(ComposeBlend, RampOnOneVisibleEdgeAndNoFeatherOnFrameBorder) {
  // fg 54x48 at (10,0) in 64x48: only the left edge shows; the other three lie on the frame border.
  const int W = 64, H = 48, border = 4;
  Guarded bg(W, H), fg(54, 48), out(W, H);
  fill_const(bg.image, 16, 110, 160);
  fill_const(fg.image, 235, 40, 220);
  const Layout l = make_layout(W, H, 54, 48, 10, 0);
  ASSERT_EQ(l.edges, (Edges{true, false, false, false}));
  Compositor(l, border, true).compose(bg.image, fg.image, out.image);
  const int hand[4] = {60, 103, 148, 191};  // (235*a + 16*(256-a) + 128) >> 8 for a = 51, 102, 154, 205
  for (int y = 0; y < H; ++y) {
    const uint8_t* row = out.image.plane[0].row(y);
    for (int x = 0; x < 10; ++x) ASSERT_EQ(row[x], 16) << x << "," << y;
    for (int d = 0; d < border; ++d) {
      const int a = ramp_weight(d, border);
      ASSERT_EQ(row[10 + d], (235 * a + 16 * (256 - a) + 128) >> 8) << d;
      ASSERT_EQ(row[10 + d], hand[d]) << d;
    }
    for (int x = 10 + border; x < W; ++x) ASSERT_EQ(row[x], 235) << x << "," << y;  // right/top/bottom unfeathered
  }
  // Chroma column 5 covers fg columns 0 and 1 (a = 51 and 102):
  // (2*(40*51 + 110*205) + 2*(40*102 + 110*154) + 512) / 1024 = 89.
  for (int cy = 0; cy < H / 2; ++cy) {
    EXPECT_EQ(out.image.plane[1].row(cy)[4], 110);
    EXPECT_EQ(out.image.plane[1].row(cy)[5], 89);
    EXPECT_EQ(out.image.plane[1].row(cy)[7], 40);  // fg columns 4, 5: opaque
    EXPECT_EQ(out.image.plane[1].row(cy)[31], 40);
  }
  EXPECT_TRUE(out.guards_intact());
}

TEST(ComposeBlend, EachSingleEdgeRampsFromItsSide) {
  const int W = 64, H = 48, border = 5;
  struct Case {
    int fw, fh, x, y;
    Edges e;
  };
  const Case cases[] = {{54, 48, 10, 0, {true, false, false, false}},
                        {50, 48, 0, 0, {false, true, false, false}},
                        {64, 40, 0, 8, {false, false, true, false}},
                        {64, 40, 0, 0, {false, false, false, true}}};
  for (const Case& c : cases) {
    const Layout l = make_layout(W, H, c.fw, c.fh, c.x, c.y);
    ASSERT_EQ(l.edges, c.e);
    Guarded bg(W, H), fg(c.fw, c.fh), out(W, H);
    fill_bg(bg.image);
    fill_fg(fg.image);
    Compositor(l, border, true).compose(bg.image, fg.image, out.image);
    for (int py = 0; py < c.fh; ++py)
      for (int px = 0; px < c.fw; ++px) {
        const int d = c.e.left ? px : c.e.right ? c.fw - 1 - px : c.e.top ? py : c.fh - 1 - py;
        const int a = ramp_weight(d, border);
        const int bx = c.x + px, by = c.y + py;
        const int want = (fg_y(px, py) * a + bg_y(bx, by) * (256 - a) + 128) >> 8;
        ASSERT_EQ(out.image.plane[0].row(by)[bx], want) << px << "," << py;
        if (d >= border) {
          ASSERT_EQ(out.image.plane[0].row(by)[bx], fg_y(px, py));
        }
      }
    EXPECT_TRUE(out.guards_intact());
    EXPECT_TRUE(compose_matches_model(W, H, c.fw, c.fh, c.x, c.y, border, true));
  }
}

TEST(ComposeBlend, CornersMultiplyTheTwoRampsAndInteriorIsExact) {
  const int W = 64, H = 48, fw = 30, fh = 20, X = 10, Y = 10, border = 3;
  {
    Guarded bg(W, H), fg(fw, fh), out(W, H);
    fill_const(bg.image, 16, 128, 128);
    fill_const(fg.image, 235, 128, 128);
    Compositor(make_layout(W, H, fw, fh, X, Y), border, true).compose(bg.image, fg.image, out.image);
    // Corner: a = (64*64 + 128) >> 8 = 16 -> (235*16 + 16*240 + 128) >> 8 = 30, at all four corners.
    EXPECT_EQ(out.image.plane[0].row(Y)[X], 30);
    EXPECT_EQ(out.image.plane[0].row(Y)[X + fw - 1], 30);
    EXPECT_EQ(out.image.plane[0].row(Y + fh - 1)[X], 30);
    EXPECT_EQ(out.image.plane[0].row(Y + fh - 1)[X + fw - 1], 30);
    // (d=1 across, d=0 down): a = (128*64 + 128) >> 8 = 32 -> (235*32 + 16*224 + 128) >> 8 = 43
    EXPECT_EQ(out.image.plane[0].row(Y)[X + 1], 43);
    EXPECT_EQ(out.image.plane[0].row(Y + 1)[X], 43);
  }
  Guarded bg(W, H), fg(fw, fh), out(W, H);
  fill_bg(bg.image);
  fill_fg(fg.image);
  const Layout l = make_layout(W, H, fw, fh, X, Y);
  Compositor(l, border, true).compose(bg.image, fg.image, out.image);
  for (int py = 0; py < fh; ++py)
    for (int px = 0; px < fw; ++px) {
      const int ax = std::min(ramp_weight(px, border), ramp_weight(fw - 1 - px, border));
      const int ay = std::min(ramp_weight(py, border), ramp_weight(fh - 1 - py, border));
      const int a = (ax * ay + 128) >> 8;
      const int want = (fg_y(px, py) * a + bg_y(X + px, Y + py) * (256 - a) + 128) >> 8;
      ASSERT_EQ(out.image.plane[0].row(Y + py)[X + px], want) << px << "," << py;
    }
  // Interior (at least `border` from every edge) is exact fg in luma and, at even offsets, in chroma.
  for (int py = border; py < fh - border; ++py)
    for (int px = border; px < fw - border; ++px) ASSERT_EQ(out.image.plane[0].row(Y + py)[X + px], fg_y(px, py));
  for (int cy = (Y + border + 1) / 2; cy < (Y + fh - border) / 2; ++cy)
    for (int cx = (X + border + 1) / 2; cx < (X + fw - border) / 2; ++cx) {
      ASSERT_EQ(out.image.plane[1].row(cy)[cx], fg_u(cx - X / 2, cy - Y / 2)) << cx << "," << cy;
      ASSERT_EQ(out.image.plane[2].row(cy)[cx], fg_v(cx - X / 2, cy - Y / 2)) << cx << "," << cy;
    }
  EXPECT_TRUE(out.guards_intact());
  EXPECT_TRUE(compose_matches_model(W, H, fw, fh, X, Y, border, true));
}

TEST(ComposeBlend, FgAtFrameCornerFeathersOnlyTheInnerEdges) {
  const int W = 64, H = 48, fw = 30, fh = 20, border = 4;
  Guarded bg(W, H), fg(fw, fh), out(W, H);
  fill_bg(bg.image);
  fill_fg(fg.image);
  const Layout l = make_layout(W, H, fw, fh, 0, 0);
  ASSERT_EQ(l.edges, (Edges{false, true, false, true}));
  Compositor(l, border, true).compose(bg.image, fg.image, out.image);
  // Left column and top row lie on the frame border: exact fg except where the right/bottom ramps reach.
  for (int py = 0; py < fh - border; ++py) EXPECT_EQ(out.image.plane[0].row(py)[0], fg_y(0, py)) << py;
  for (int px = 0; px < fw - border; ++px) EXPECT_EQ(out.image.plane[0].row(0)[px], fg_y(px, 0)) << px;
  EXPECT_EQ(out.image.plane[1].row(0)[0], fg_u(0, 0));
  // The right edge ramps.
  const int a = ramp_weight(0, border);
  EXPECT_EQ(out.image.plane[0].row(5)[fw - 1], (fg_y(fw - 1, 5) * a + bg_y(fw - 1, 5) * (256 - a) + 128) >> 8);
  EXPECT_TRUE(compose_matches_model(W, H, fw, fh, 0, 0, border, true));
  // Clipped past the left and top: still no feathering there.
  EXPECT_TRUE(compose_matches_model(W, H, fw, fh, -5, -3, border, true));
  EXPECT_TRUE(compose_matches_model(W, H, fw, fh, -5, 31, border, true));
  EXPECT_TRUE(compose_matches_model(W, H, fw, fh, 39, -3, border, true));
}

TEST(ComposeBlend, BorderZeroOrTinyFgBehaves) {
  const int W = 64, H = 48;
  // border 0 with blend is a hard edge.
  {
    Guarded bg(W, H), fg(20, 14), hard(W, H), soft(W, H);
    fill_bg(bg.image);
    fill_fg(fg.image);
    const Layout l = make_layout(W, H, 20, 14, 11, 7);
    Compositor(l, 0, false).compose(bg.image, fg.image, hard.image);
    Compositor(l, 0, true).compose(bg.image, fg.image, soft.image);
    std::string why;
    EXPECT_EQ(diff_images(soft.image, hard.image, &why), 0) << why;
  }
  // Border wider than fg: never fully opaque, still matches the model.
  for (int border : {8, 30, 600}) {
    EXPECT_TRUE(compose_matches_model(W, H, 6, 4, 10, 10, border, true));
    EXPECT_TRUE(compose_matches_model(W, H, 7, 5, 11, 9, border, true));
  }
}

TEST(ComposeBlend, WideBorderWhoseRampReaches255IsStillBlended) {
  // With border 300 the innermost ramp step is 255, not 256: that column must be blended, not copied.
  ASSERT_EQ(ramp_weight(299, 300), 255);
  const Layout l = make_layout(720, 8, 700, 8, 10, 0);
  ASSERT_EQ(l.edges, (Edges{true, true, false, false}));
  EXPECT_TRUE(compose_matches_model(720, 8, 700, 8, 10, 0, 300, true));
  EXPECT_TRUE(compose_matches_model(720, 8, 700, 8, 11, 0, 300, true));
}

// ====================================== aliasing ======================================

TEST(Compose, OutMayAliasBg) {
  struct Case {
    int W, H, fw, fh, x, y, border;
    bool blend;
  };
  const Case cases[] = {{64, 48, 20, 14, 10, 6, 0, false}, {64, 48, 20, 14, 11, 7, 4, true},
                        {33, 17, 10, 6, 23, 11, 3, true},  {33, 17, 40, 20, -3, -1, 2, true},
                        {64, 48, 21, 15, -5, 40, 5, false}, {33, 17, 10, 6, 50, 0, 3, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.W << "x" << c.H << " at " << c.x << "," << c.y);
    Guarded bg(c.W, c.H), fg(c.fw, c.fh), separate(c.W, c.H);
    fill_bg(bg.image);
    fill_fg(fg.image);
    const Layout l = make_layout(c.W, c.H, c.fw, c.fh, c.x, c.y);
    const Compositor comp(l, c.border, c.blend);
    comp.compose(bg.image, fg.image, separate.image);
    const auto want = model_compose(l, c.border, c.blend, bg.image, fg.image);
    comp.compose(bg.image, fg.image, bg.image);  // in place
    std::string why;
    EXPECT_EQ(diff_images(bg.image, want->image, &why), 0) << why;
    EXPECT_EQ(diff_images(separate.image, want->image, &why), 0) << why;
    EXPECT_TRUE(bg.guards_intact());
  }
}

// A 10-bit bg's output is composed on 16-bit words with the same weights and rounding: samples up to 1023 (the
// sums of a 2x2 chroma footprint reach 4 x 1023 x 256) come out as the model says, at odd offsets and with blending.
TEST(Compose, TenBitSamplesFollowTheSameModel) {
  struct Case {
    int W, H, fw, fh, x, y, border;
    bool blend;
  };
  const Case cases[] = {{64, 48, 20, 14, 10, 6, 0, false}, {64, 48, 20, 14, 11, 7, 4, true},
                        {33, 17, 40, 20, -3, -1, 2, true}, {33, 17, 10, 6, 23, 11, 3, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.W << "x" << c.H << " at " << c.x << "," << c.y);
    ImageBuffer bg(c.W, c.H, 10), fg(c.fw, c.fh, 10), out(c.W, c.H, 10);
    // bg low (0..511), fg high (512..1023), every value's low two bits in use.
    for (int p = 0; p < 3; ++p) {
      for (int y = 0; y < bg.image.plane[p].height; ++y)
        for (int x = 0; x < bg.image.plane[p].width; ++x) put(bg.image, p, x, y, (x * 37 + y * 11 + p * 5) % 512);
      for (int y = 0; y < fg.image.plane[p].height; ++y)
        for (int x = 0; x < fg.image.plane[p].width; ++x) put(fg.image, p, x, y, 512 + (x * 29 + y * 13 + p) % 512);
    }
    const Layout l = make_layout(c.W, c.H, c.fw, c.fh, c.x, c.y);
    Compositor(l, c.border, c.blend).compose(bg.image, fg.image, out.image);
    const auto want = model_compose(l, c.border, c.blend, bg.image, fg.image);
    std::string why;
    EXPECT_EQ(diff_images(out.image, want->image, &why), 0) << why;
    EXPECT_EQ(get(out.image, 0, c.W - 1, c.H - 1) < 512, c.x + c.fw < c.W || c.y + c.fh < c.H);  // a bg corner
  }
  ImageBuffer solid(8, 6, 10);
  solid.fill(1000, 3, 777);
  EXPECT_EQ(get(solid.image, 0, 7, 5), 1000);
  EXPECT_EQ(get(solid.image, 2, 3, 2), 777);
}

TEST(Compose, WorksOnImageBuffers) {
  // The owning buffer type used by the pipeline (stride = width).
  ImageBuffer bg(33, 17), fg(10, 6), out(33, 17);
  bg.fill(16, 128, 128);
  fg.fill(235, 60, 200);
  const Layout l = make_layout(33, 17, 10, 6, 4, 2);
  Compositor(l, 0, false).compose(bg.image, fg.image, out.image);
  EXPECT_EQ(out.image.plane[0].row(2)[4], 235);
  EXPECT_EQ(out.image.plane[0].row(7)[13], 235);
  EXPECT_EQ(out.image.plane[0].row(8)[13], 16);
  EXPECT_EQ(out.image.plane[0].row(7)[14], 16);
  EXPECT_EQ(out.image.plane[1].row(1)[2], 60);
  EXPECT_EQ(out.image.plane[2].row(3)[6], 200);
  EXPECT_EQ(out.image.plane[2].row(4)[6], 128);
  EXPECT_EQ(out.image.plane[2].row(8)[16], 128);
  EXPECT_EQ(Compositor(l, 0, false).layout().fg, (Rect{4, 2, 10, 6}));
}
