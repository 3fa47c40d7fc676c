// The render stage: output frame i = bg frame map[i] with fg frame i composited, at fg's frame rate and bg's
// size. bg is decoded forward once for monotonic maps (the usual case); a map that steps back rewinds bg.
// Everything goes to a temporary file in the output's folder that is renamed only when complete.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

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

// A bounded ring of composites between the decoding thread and the encoder (one producer, one consumer).
class CompositeRing {
 public:
  CompositeRing(size_t slots, int w, int h, int depth) : slots_(slots) {
    for (ImageBuffer& b : slots_) b.reset(w, h, depth);
  }
  // Producer: the next free slot, or null once the consumer cancelled.
  ImageBuffer* acquire() {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return cancelled_ || count_ < slots_.size(); });
    return cancelled_ ? nullptr : &slots_[(tail_ + count_) % slots_.size()];
  }
  void publish() {
    std::lock_guard<std::mutex> lock(m_);
    ++count_;
    cv_.notify_all();
  }
  void close() {
    std::lock_guard<std::mutex> lock(m_);
    closed_ = true;
    cv_.notify_all();
  }
  // Consumer: the oldest composite, or null when the producer closed and all were taken.
  ImageBuffer* front() {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return count_ > 0 || closed_; });
    return count_ ? &slots_[tail_] : nullptr;
  }
  void pop() {
    std::lock_guard<std::mutex> lock(m_);
    tail_ = (tail_ + 1) % slots_.size();
    --count_;
    cv_.notify_all();
  }
  void cancel() {
    std::lock_guard<std::mutex> lock(m_);
    cancelled_ = true;
    cv_.notify_all();
  }

 private:
  std::vector<ImageBuffer> slots_;
  size_t tail_ = 0, count_ = 0;
  bool closed_ = false, cancelled_ = false;
  std::mutex m_;
  std::condition_variable cv_;
};

// Output frames [first, end): bg frame map[i] (decoded forward; rewound where the map steps back) with fg frame i
// composited, into the ring. fg frames before `first` are decoded and dropped (a --frames segment).
Status produce_composites(const Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const TimeMap& temporal,
                          const Compositor& compositor, FrameSource& bg_src, FrameSource& fg_src, int64_t first,
                          int64_t end, CompositeRing& ring) {
  BgCursor bg_at(ctx, bg.path, bg_src);
  Image fg_img;
  // fg frames before the segment: skipped from the keyframe before it where the timestamps allow, else decoded and
  // dropped; frame-exact either way.
  if (first > kSkipFrames) fg_src.skip_to(first);
  while (fg_src.index() + 1 < first) {
    if (ctx.interrupted()) return interrupted(ctx);
    if (!fg_src.next(fg_img)) {
      if (!fg_src.status().ok()) return fg_src.status();
      return Status::Fail(kExitInput, fg.path, fmt::format("ends at frame {}, before --frames starts", fg_src.index() + 1));
    }
  }
  for (int64_t i = first; i < end; ++i) {
    if (ctx.interrupted()) return interrupted(ctx);
    if (Status st = bg_at.seek(temporal.map[size_t(i)]); !st.ok()) return st;
    if (ctx.interrupted()) return interrupted(ctx);
    if (!fg_src.next(fg_img)) {
      if (ctx.interrupted()) return interrupted(ctx);
      if (!fg_src.status().ok()) return fg_src.status();
      ctx.log->warn("{}: only {} of {} frames could be decoded; the output is shorter", fg.path, i - first, end - first);
      break;
    }
    ImageBuffer* out = ring.acquire();
    if (!out) return Status::Ok();  // the encoder failed; it reports why
    compositor.compose(bg_at.image(), fg_img, out->image);
    ring.publish();
  }
  return Status::Ok();
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
  // Both in bg's colour as players show it (shown_colour: its range, and its matrix or the one assumed for its
  // size): bg's frames pass as they are, fg is converted where its own differs.
  // A bg of more than 8 bits (10-bit HEVC or ProRes, HDR) keeps 10 of them: composed and encoded at that depth, fg
  // converted up to it; x264 writes no more than 10.
  const Colour colour = shown_colour(bg);
  const int depth = bg.depth > 8 ? 10 : 8;
  auto bg_src = open_frames(ctx, bg.path, {bg.width, bg.height, colour, depth, {}}, st);
  if (!st.ok()) return st;
  auto fg_src = open_frames(ctx, fg.path, {fw, fh, colour, depth, fg.bars}, st);
  if (!st.ok()) return st;
  // Where the map passes bg frames by (bg at a higher rate than fg, or fg starting later), those that no other
  // frame refers to are not decoded (a 60 fps 1080p bg under a 30 fps fg: render 3.97 -> 3.52 s, CPU 7.4 -> 6.5 s).
  if (first < end) {
    std::vector<int64_t> wanted(temporal.map.begin() + first, temporal.map.begin() + end);
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    if (wanted.back() + 1 > int64_t(wanted.size())) bg_src->want_only(wanted);  // some frame up to the last is not
  }

  EncodeOptions eo;
  eo.container = output_container(opt.output);  // (check_output refused any other)
  eo.width = bg.width & ~1;  // 4:2:0 needs even sizes: an odd last row/column of bg is dropped
  eo.height = bg.height & ~1;
  eo.fps = fg.fps;
  // A variable-rate fg (a screen recording, a phone clip in low light) keeps its own frame times: at its average
  // rate its frames would drift from its audio (by 0.14-0.23 s in the test, where fg drops to half rate for 1 s).
  const std::vector<double> fg_times = variable_frame_times(fg);
  if (!fg_times.empty()) {
    for (int64_t i = first; i < end && size_t(i) < fg_times.size(); ++i) eo.times.push_back(fg_times[size_t(i)] - fg_times[size_t(first)]);
    ctx.log->info("{}: variable frame rate; its frames keep their own times", fg.path);
  }
  eo.colour = bg.colour;
  eo.sar = bg.sar;
  eo.depth = depth;
  eo.crf = opt.crf;
  eo.preset = opt.preset;
  eo.audio.duration = eo.times.empty() ? frames / fg.fps.value() : eo.times.back() + 1 / fg.fps.value();
  if (segment) {
    // Segments carry no audio: joined, they would repeat the encoder's priming at every seam; the recipe in the
    // README muxes the audio once, onto the joined video.
  } else if (fg.has_audio) {
    eo.audio.path = fg.path;
    eo.audio.start = fg.start_time;
  } else if (bg.has_audio) {
    eo.audio.path = bg.path;
    const BgAudio a = bg_audio(bg, fg, temporal, variable_frame_times(bg), fg_times);
    eo.audio.start = a.start;
    eo.audio.speed = a.speed;
    if (a.speed != 1.0)
      ctx.log->info("{}: its audio plays {:.4f}x as fast, as the map runs (a speed change)", bg.path, a.speed);
  }
  ctx.log->debug("render: fg {}x{} at ({}, {}) in {}x{}, {} frames at {}/{} fps, audio {}", fw, fh, layout.fg.x,
                 layout.fg.y, bg.width, bg.height, frames, fg.fps.num, fg.fps.den,
                 eo.audio.path.empty() ? "none" : fmt::format("from {} at {:.3f} s", eo.audio.path, eo.audio.start));

  TempFile tmp(opt.output);
  if (tmp.path().empty())
    return Status::Fail(kExitOutput, opt.output, std::string("cannot create a file in its folder: ") + std::strerror(errno));
  auto enc = open_encoder(ctx, tmp.path(), eo, st);
  if (!st.ok()) return as_output(st, tmp, opt.output);

  // Decoding and compositing run on a second thread, a few frames ahead of the encoder: on two cores the
  // decoders, the compositor and x264 then overlap instead of taking turns. The composites go through a small
  // ring of output-sized buffers (no allocation per frame).
  CompositeRing ring(4, bg.width, bg.height, depth);
  Status produced;
  std::thread producer([&] {
    try {
      produced = produce_composites(ctx, bg, fg, temporal, compositor, *bg_src, *fg_src, first, end, ring);
    } catch (const std::exception& e) {  // out of memory: reported like any other failure, not std::terminate
      produced = Status::Fail(kExitInput, fg.path, std::string("cannot render: ") + e.what());
    }
    ring.close();
  });
  Progress progress(ctx, "render", frames);
  int64_t written = 0;
  while (ImageBuffer* composite = ring.front()) {
    if (st = enc->write(composite->image); !st.ok()) break;
    ring.pop();
    progress.update(++written);
  }
  ring.cancel();  // an encoder error stops the producer at its next frame
  producer.join();
  if (!st.ok()) return as_output(st, tmp, opt.output);
  if (!produced.ok()) return produced;
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
