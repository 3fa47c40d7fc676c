// Composition of fg onto bg in YUV 4:2:0, and the minimal border mask: the bands along only those fg edges
// beyond which bg stays visible. Pure functions over Image views, so they are tested without any video.
#pragma once
#include <vector>

#include "vidkompy/video.hpp"

namespace vidkompy {

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
  bool empty() const { return w <= 0 || h <= 0; }
  bool operator==(const Rect&) const = default;
};

// Which fg edges have bg visible beyond them (an edge on or past the frame border is not visible).
struct Edges {
  bool left = false, right = false, top = false, bottom = false;
  bool operator==(const Edges&) const = default;
};

// The placed fg (already scaled to w x h) at integer (x, y) in a bg of bg_w x bg_h.
struct Layout {
  int bg_w = 0, bg_h = 0;
  Rect fg;       // placed fg in bg coordinates; may extend past bg
  Rect visible;  // fg clipped to bg
  Edges edges;
};
Layout make_layout(int bg_w, int bg_h, int fg_w, int fg_h, int x, int y);

// The minimal border mask: at most 4 non-overlapping rectangles (bg coordinates), `border` px wide, inside
// the visible fg along its visible edges. None when fg covers the frame; exactly one when one edge shows.
std::vector<Rect> border_mask(const Layout& layout, int border);

// Weight of fg (0..256) at distance d px (0 = outermost fg pixel) from a feathered edge: a linear ramp
// (d + 1) / (border + 1) over `border` px, then 256.
int ramp_weight(int d, int border);

// Puts fg frames onto bg frames with one fixed layout. Alpha tables are built once.
class Compositor {
 public:
  // blend: feather the visible edges over `border` px; otherwise a hard edge.
  Compositor(const Layout& layout, int border, bool blend);
  // out = bg with fg composited. out and bg have the bg size; fg has the layout's fg size. out may alias bg.
  // All three have one depth (8-bit samples, or 16-bit words holding 10 bits).
  void compose(const Image& bg, const Image& fg, Image& out) const;
  const Layout& layout() const { return layout_; }

 private:
  int alpha(int px, int py) const { return (ax_[px] * ay_[py] + 128) >> 8; }
  template <typename T> void compose_luma(const Plane& fg, Plane& out) const;
  template <typename T> void compose_chroma(const Plane& fg, Plane& out) const;

  Layout layout_;
  std::vector<int> ax_, ay_;  // per fg column / row weight, 0..256
  int opaque_x0_ = 0, opaque_x1_ = 0, opaque_y0_ = 0, opaque_y1_ = 0;  // where the weights are 256
};

}  // namespace vidkompy
