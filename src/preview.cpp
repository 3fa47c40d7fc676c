// --preview FILE.png: a picture to check an alignment at a glance, without watching the render. Nine output
// frames spread over fg (bg with fg composited and outlined, labelled "fg N bg M") above a plot of the map (bg
// frame against fg frame, one dot per fg frame coloured by similarity, the fitted time line in grey). Encoded
// with FFmpeg's PNG encoder.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "ffmpeg.hpp"
#include "vidkompy/compositor.hpp"
#include "vidkompy/pipeline.hpp"
#include "vidkompy/video.hpp"

namespace vidkompy {
namespace {

constexpr int kCols = 3, kRows = 3, kTileW = 320, kLabelH = 16, kPlotH = 240, kPad = 8;

struct Rgb {
  uint8_t r, g, b;
};

// An RGB24 canvas with the few drawing operations the preview needs.
struct Canvas {
  int w, h;
  std::vector<uint8_t> px;
  Canvas(int width, int height) : w(width), h(height), px(size_t(width) * height * 3, 24) {}
  void dot(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    uint8_t* p = &px[(size_t(y) * w + x) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  void rect(int x0, int y0, int x1, int y1, Rgb c) {  // outline, inclusive, 2 px thick
    for (int t = 0; t < 2; ++t) {
      for (int x = x0; x <= x1; ++x) dot(x, y0 + t, c), dot(x, y1 - t, c);
      for (int y = y0; y <= y1; ++y) dot(x0 + t, y, c), dot(x1 - t, y, c);
    }
  }
  void line(double x0, double y0, double x1, double y1, Rgb c) {
    const int n = int(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
    for (int i = 0; i <= n; ++i)
      dot(int(std::lround(x0 + (x1 - x0) * i / n)), int(std::lround(y0 + (y1 - y0) * i / n)), c);
  }
  // Text in a 3x5 pixel font, scaled 2x: digits, "f", "g", "b" and space.
  void text(int x, int y, const std::string& s, Rgb c) {
    static const std::array<const char*, 13> glyphs = {
        "111101101101111", "010110010010111", "111001111100111", "111001111001111", "101101111001001",
        "111100111001111", "111100111101111", "111001001001001", "111101111101111", "111101111001111",
        "011100110100100", "011101011001110", "100100111101111"};  // 0-9, f, g, b
    for (char ch : s) {
      int g = ch >= '0' && ch <= '9' ? ch - '0' : ch == 'f' ? 10 : ch == 'g' ? 11 : ch == 'b' ? 12 : -1;
      if (g >= 0)
        for (int r = 0; r < 5; ++r)
          for (int q = 0; q < 3; ++q)
            if (glyphs[size_t(g)][r * 3 + q] == '1')
              for (int k = 0; k < 4; ++k) dot(x + 2 * q + k % 2, y + 2 * r + k / 2, c);
      x += 8;
    }
  }
};

Status write_png(const std::string& path, const Canvas& canvas) {
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
  if (!codec) return Status::Fail(kExitOutput, path, "this FFmpeg has no PNG encoder");
  CodecPtr enc(avcodec_alloc_context3(codec));
  FramePtr frame(av_frame_alloc());
  PacketPtr pkt(av_packet_alloc());
  if (!enc || !frame || !pkt) return Status::Fail(kExitOutput, path, "out of memory");
  enc->width = canvas.w, enc->height = canvas.h, enc->pix_fmt = AV_PIX_FMT_RGB24, enc->time_base = {1, 1};
  if (int err = avcodec_open2(enc.get(), codec, nullptr); err < 0)
    return Status::Fail(kExitOutput, path, "cannot open the PNG encoder: " + av_error(err));
  frame->format = AV_PIX_FMT_RGB24, frame->width = canvas.w, frame->height = canvas.h;
  frame->data[0] = const_cast<uint8_t*>(canvas.px.data());
  frame->linesize[0] = canvas.w * 3;
  if (avcodec_send_frame(enc.get(), frame.get()) < 0 || avcodec_send_frame(enc.get(), nullptr) < 0 ||
      avcodec_receive_packet(enc.get(), pkt.get()) < 0)
    return Status::Fail(kExitOutput, path, "cannot encode the preview");
  // Written beside the target and renamed, like the video: never a partial file.
  const std::string tmp = path + ".vidkompy-tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Status::Fail(kExitOutput, path, std::string("cannot write: ") + std::strerror(errno));
  const bool ok = std::fwrite(pkt->data, 1, size_t(pkt->size), f) == size_t(pkt->size);
  if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::Fail(kExitOutput, path, "cannot write the preview (disk full?)");
  }
  return Status::Ok();
}

}  // namespace

Status write_preview(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const Placement& spatial,
                     const TimeMap& temporal) {
  const std::string& path = ctx.opt.preview;
  const int64_t n = int64_t(temporal.map.size());
  if (n == 0) return Status::Fail(kExitInput, fg.path, "no fg frame to preview");
  const int fw = std::max(1, int(std::lround(fg.width * spatial.scale)));
  const int fh = std::max(1, int(std::lround(fg.height * spatial.scale)));
  const Layout layout = make_layout(bg.width, bg.height, fw, fh, int(std::lround(spatial.x)), int(std::lround(spatial.y)));
  const Compositor compositor(layout, ctx.opt.border, ctx.opt.blend);
  const int tile_h = std::max(2, 2 * int(std::lround(double(kTileW) * bg.height / bg.width / 2)));
  const int cell_h = tile_h + kLabelH;
  Canvas canvas(kPad + kCols * (kTileW + kPad), kPad + kRows * (cell_h + kPad) + kPlotH + kPad);

  Status st;
  // As the render composes them (bg's colour), then made RGB with the matrix and range players would show.
  const Colour colour = shown_colour(bg);
  auto bg_src = open_frames(ctx, bg.path, {bg.width, bg.height, colour, 8, {}}, st);
  if (!st.ok()) return st;
  auto fg_src = open_frames(ctx, fg.path, {fw, fh, colour, 8, fg.bars}, st);
  if (!st.ok()) return st;
  ImageBuffer out(bg.width, bg.height);
  BgCursor bg_at(ctx, bg.path, *bg_src);
  Image fg_img;
  SwsPtr sws;
  const double sx = double(kTileW) / bg.width, sy = double(tile_h) / bg.height;
  for (int k = 0; k < kCols * kRows; ++k) {
    const int64_t i = n == 1 ? 0 : std::llround(double(k) * double(n - 1) / (kCols * kRows - 1));
    const int64_t want = temporal.map[size_t(i)];
    while (fg_src->index() < i)
      if (!fg_src->next(fg_img)) return fg_src->status().ok() ? Status::Fail(kExitInput, fg.path, "ends early") : fg_src->status();
    if (st = bg_at.seek(want); !st.ok()) return st;  // past bg's end: its last frame, as the render does
    compositor.compose(bg_at.image(), fg_img, out.image);
    const int x0 = kPad + (k % kCols) * (kTileW + kPad), y0 = kPad + (k / kCols) * (cell_h + kPad);
    sws = SwsPtr(sws_getCachedContext(sws.release(), bg.width, bg.height, AV_PIX_FMT_YUV420P, kTileW, tile_h,
                                      AV_PIX_FMT_RGB24, SWS_AREA, nullptr, nullptr, nullptr));
    if (!sws) return Status::Fail(kExitOutput, path, "cannot scale the preview");
    const int* table = sws_getCoefficients(colour.matrix);
    sws_setColorspaceDetails(sws.get(), table, colour.full_range, table, 1, 0, 1 << 16, 1 << 16);
    const uint8_t* src[4] = {out.image.plane[0].data, out.image.plane[1].data, out.image.plane[2].data, nullptr};
    const int src_stride[4] = {out.image.plane[0].stride, out.image.plane[1].stride, out.image.plane[2].stride, 0};
    uint8_t* dst[4] = {&canvas.px[(size_t(y0) * canvas.w + x0) * 3], nullptr, nullptr, nullptr};
    const int dst_stride[4] = {canvas.w * 3, 0, 0, 0};
    sws_scale(sws.get(), src, src_stride, 0, bg.height, dst, dst_stride);
    const Rect& r = layout.fg;
    canvas.rect(x0 + int(r.x * sx), y0 + int(r.y * sy), x0 + int((r.x + r.w) * sx) - 1, y0 + int((r.y + r.h) * sy) - 1,
                {255, 0, 255});
    canvas.text(x0, y0 + tile_h + 3, fmt::format("fg {}  bg {}", i, want), {230, 230, 230});
  }

  // The map: x = fg frame, y = bg frame (up), one dot per fg frame, the fitted line in grey when known.
  const int px0 = kPad, py0 = canvas.h - kPad - kPlotH, pw = canvas.w - 2 * kPad, ph = kPlotH;
  const int64_t bg_max = std::max<int64_t>(1, std::max(bg.frames - 1, *std::max_element(temporal.map.begin(), temporal.map.end())));
  auto X = [&](double i) { return px0 + (n > 1 ? i / double(n - 1) : 0.5) * (pw - 1); };
  auto Y = [&](double j) { return py0 + ph - 1 - j / double(bg_max) * (ph - 1); };
  canvas.rect(px0, py0, px0 + pw - 1, py0 + ph - 1, {90, 90, 90});
  if (temporal.rate > 0) {
    const double b = temporal.offset * bg.fps.value();
    canvas.line(X(0), Y(std::clamp(b, 0.0, double(bg_max))), X(double(n - 1)),
                Y(std::clamp(temporal.rate * double(n - 1) + b, 0.0, double(bg_max))), {150, 150, 150});
  }
  // Dots coloured by how alike the two frames are: green from 0.9 (thumbnail NCC), yellow from 0.7, red below;
  // grey where unknown (clamped frames, a loaded alignment).
  for (int64_t i = 0; i < n; ++i) {
    const int x = int(std::lround(X(double(i)))), y = int(std::lround(Y(double(temporal.map[size_t(i)]))));
    const float v = size_t(i) < temporal.similarity.size() ? temporal.similarity[size_t(i)] : std::nanf("");
    const Rgb c = std::isnan(v) ? Rgb{170, 170, 170} : v >= 0.9f ? Rgb{80, 220, 120} : v >= 0.7f ? Rgb{240, 200, 40}
                                                                                      : Rgb{240, 60, 60};
    for (int d = 0; d < 4; ++d) canvas.dot(x + d % 2, y + d / 2, c);
  }
  canvas.text(px0 + 6, py0 + 6, fmt::format("bg {}", bg_max), {200, 200, 200});
  canvas.text(px0 + pw - 8 * 12, py0 + ph - 16, fmt::format("fg {}", n - 1), {200, 200, 200});
  if (st = write_png(path, canvas); !st.ok()) return st;
  ctx.log->info("wrote {} (preview)", path);
  return Status::Ok();
}

}  // namespace vidkompy
