// The render stage: output frame i = bg frame map[i] with fg frame i composited, at fg's frame rate and bg's
// size. bg is decoded forward once for monotonic maps (the usual case); a map that steps back rewinds bg.
// Everything goes to a temporary file in the output's folder that is renamed only when complete.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "progress.hpp"
#include "vidkompy/compositor.hpp"
#include "vidkompy/pipeline.hpp"
#include "vidkompy/video.hpp"

namespace vidkompy {

namespace fs = std::filesystem;

namespace {

// A temporary file next to the target; removed unless commit() renamed it over the target.
class TempFile {
 public:
  explicit TempFile(const std::string& target) : target_(target) {
    fs::path t(target);
    fs::path dir = t.parent_path();
    // Built with += : GCC 12 warns falsely (-Wrestrict) about "literal" + std::string&&.
    std::string name = ".";
    name += t.filename().string();
    name += ".vidkompy-XXXXXX";
    std::string templ = (dir.empty() ? fs::path(name) : dir / name).string();
    int fd = ::mkstemp(templ.data());
    if (fd < 0) return;
    // mkstemp makes the file 0600; give the result the permissions a plain create would.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    ::close(fd);
    path_ = templ;
  }
  ~TempFile() {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  const std::string& path() const { return path_; }
  bool commit() {
    if (std::rename(path_.c_str(), target_.c_str()) != 0) return false;
    path_.clear();
    return true;
  }

 private:
  std::string target_, path_;
};

// The encoder's messages name the file it writes; the user knows that file by the output's name.
Status as_output(Status st, const TempFile& tmp, const std::string& output) {
  for (std::string& e : st.errors)
    if (const size_t at = e.find(tmp.path()); !tmp.path().empty() && at != std::string::npos)
      e.replace(at, tmp.path().size(), output);
  return st;
}

Status interrupted(const Context& ctx) {
  const int sig = ctx.interrupted();
  return Status::Fail(sig == SIGTERM ? kExitSigterm : kExitSigint, ctx.opt.output,
                      "interrupted; no output written");
}

}  // namespace

Status render(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const Placement& spatial,
              const TimeMap& temporal) {
  const Options& opt = ctx.opt;
  const int fw = std::max(1, int(std::lround(fg.width * spatial.scale)));
  const int fh = std::max(1, int(std::lround(fg.height * spatial.scale)));
  const Layout layout = make_layout(bg.width, bg.height, fw, fh, int(std::lround(spatial.x)),
                                    int(std::lround(spatial.y)));
  const Compositor compositor(layout, opt.border, opt.blend);
  // --frames A:B renders fg frames [A, B) only: a segment of a render split across machines.
  const int64_t first = opt.first_frame;
  const int64_t end = opt.end_frame < 0 ? int64_t(temporal.map.size()) : std::min<int64_t>(opt.end_frame, temporal.map.size());
  const int64_t frames = end - first;
  const bool segment = !opt.frames.empty();

  Status st;
  // At the probed size: a stream that changes size midway is scaled back, never overruns the output buffer.
  auto bg_src = open_frames(ctx, bg.path, {bg.width, bg.height}, st);
  if (!st.ok()) return st;
  auto fg_src = open_frames(ctx, fg.path, {fw, fh}, st);
  if (!st.ok()) return st;

  EncodeOptions eo;
  eo.width = bg.width & ~1;  // 4:2:0 needs even sizes: an odd last row/column of bg is dropped
  eo.height = bg.height & ~1;
  eo.fps = fg.fps;
  eo.crf = opt.crf;
  eo.preset = opt.preset;
  eo.audio.duration = frames / fg.fps.value();
  if (segment) {
    // Segments carry no audio: joined, they would repeat the encoder's priming at every seam; the recipe in the
    // README muxes the audio once, onto the joined video.
  } else if (fg.has_audio) {
    eo.audio.path = fg.path;
    eo.audio.start = fg.start_time;
  } else if (bg.has_audio) {
    eo.audio.path = bg.path;
    eo.audio.start = bg_audio_start(bg, fg, temporal);
  }
  ctx.log->debug("render: fg {}x{} at ({}, {}) in {}x{}, {} frames at {}/{} fps, audio {}", fw, fh, layout.fg.x,
                 layout.fg.y, bg.width, bg.height, frames, fg.fps.num, fg.fps.den,
                 eo.audio.path.empty() ? "none" : fmt::format("from {} at {:.3f} s", eo.audio.path, eo.audio.start));

  TempFile tmp(opt.output);
  if (tmp.path().empty())
    return Status::Fail(kExitOutput, opt.output, std::string("cannot create a file in its folder: ") + std::strerror(errno));
  auto enc = open_encoder(ctx, tmp.path(), eo, st);
  if (!st.ok()) return as_output(st, tmp, opt.output);

  ImageBuffer out(bg.width, bg.height);
  Image bg_img, fg_img;
  bool have_bg = false, bg_ended = false;
  Progress progress(ctx, "render", frames);
  int64_t written = 0;
  for (int64_t i = 0; i < first; ++i) {  // fg frames before the segment: decoded and dropped, frame-exact
    if (ctx.interrupted()) return interrupted(ctx);
    if (!fg_src->next(fg_img)) {
      if (!fg_src->status().ok()) return fg_src->status();
      return Status::Fail(kExitInput, fg.path, fmt::format("ends at frame {}, before --frames starts", i));
    }
  }
  for (int64_t i = first; i < end; ++i) {
    if (ctx.interrupted()) return interrupted(ctx);
    const int64_t want = temporal.map[i];
    if (want < bg_src->index()) {  // the map steps back: start bg over
      if (st = bg_src->rewind(); !st.ok()) return st;
      have_bg = bg_ended = false;
    }
    while (!bg_ended && bg_src->index() < want) {
      if (bg_src->next(bg_img)) {
        have_bg = true;
      } else {
        if (ctx.interrupted()) return interrupted(ctx);
        if (!bg_src->status().ok()) return bg_src->status();
        bg_ended = true;
        ctx.log->warn("{}: ends at frame {}; using it for fg frames mapped past it", bg.path, bg_src->index());
      }
    }
    if (!have_bg) return Status::Fail(kExitInput, bg.path, "no decodable video frame");
    if (!fg_src->next(fg_img)) {
      if (ctx.interrupted()) return interrupted(ctx);
      if (!fg_src->status().ok()) return fg_src->status();
      ctx.log->warn("{}: only {} of {} frames could be decoded; the output is shorter", fg.path, i - first, frames);
      break;
    }
    compositor.compose(bg_img, fg_img, out.image);
    if (st = enc->write(out.image); !st.ok()) return as_output(st, tmp, opt.output);
    ++written;
    progress.update(written);
  }
  if (written == 0) return Status::Fail(kExitInput, fg.path, "no frame could be rendered");
  if (st = enc->finish(); !st.ok()) return as_output(st, tmp, opt.output);
  enc.reset();
  if (ctx.interrupted()) return interrupted(ctx);
  if (!tmp.commit())
    return Status::Fail(kExitOutput, opt.output, std::string("cannot rename the finished file: ") + std::strerror(errno));
  ctx.log->info("wrote {} ({} frames)", opt.output, written);
  return Status::Ok();
}

}  // namespace vidkompy
