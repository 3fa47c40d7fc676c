// The small stages around the heavy ones: probing both inputs, checking the output path, loading a saved
// alignment, writing the report and printing the timing table.
#include "vidkompy/pipeline.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>

#include "progress.hpp"
#include "torch_plugin.hpp"
#include "vidkompy/gpu.hpp"
#include "vidkompy/parallel.hpp"
#include "vidkompy/report.hpp"
#include "vidkompy/spatial.hpp"
#include "vidkompy/temporal.hpp"
#include "vidkompy/video.hpp"

namespace vidkompy {

namespace fs = std::filesystem;

Status probe_inputs(Context& ctx, VideoInfo& bg, VideoInfo& fg) {
  Status st;
  st.merge(probe(ctx.opt.bg, bg));
  st.merge(probe(ctx.opt.fg, fg));
  if (!st.ok()) return st;
  for (const VideoInfo* v : {&bg, &fg}) {
    ctx.log->debug("{}: {} {}x{} (pixels {}:{}) {} ({} range, matrix {}) {}/{} fps, {} frames, {:.3f} s{}{}", v->path,
                   v->codec, v->width, v->height, v->sar.num, v->sar.den, v->pix_fmt,
                   v->colour.full_range ? "full" : "limited",
                   colour_name(v->colour.matrix), v->fps.num, v->fps.den, v->frames, v->duration,
                   v->has_audio ? ", audio " + v->audio_codec : std::string(", no audio"),
                   v->rotation ? fmt::format(", rotated {}°", v->rotation) : std::string());
  }
  if (bg.width < 2 || bg.height < 2) st.merge(Status::Fail(kExitInput, bg.path, "bg must be at least 2x2 pixels"));
  // fg's black bars (a 4:3 picture pillarboxed in 16:9, a letterboxed film) are not part of its picture: bg has
  // nothing like them to match, and shown over bg they would hide it. Every decoder of fg cuts them off, and fg is
  // matched, placed and shown as the picture inside them (before, such a fg was not found in bg: exit 3).
  if (fg.bars = find_bars(fg); fg.bars.any()) {
    const int w = fg.width - fg.bars.left - fg.bars.right, h = fg.height - fg.bars.top - fg.bars.bottom;
    ctx.log->info("{}: black bars (left {}, top {}, right {}, bottom {} px) are left out; its picture is {}x{}",
                  fg.path, fg.bars.left, fg.bars.top, fg.bars.right, fg.bars.bottom, w, h);
    fg.width = w, fg.height = h;
  }
  // The output keeps bg's pixel shape. A fg whose pixels have another shape (a 720x480 DV clip, 8:9, in
  // square-pixel HD) is matched and shown resampled to bg's: its width here is the one it has in bg's pixels, and
  // its decoders deliver frames at that size (before, it was placed with its own pixels, at a compromise scale).
  if (const double stretch = fg.sar.value() / bg.sar.value(); std::abs(stretch - 1) > 0.01) {
    const int w = std::max(2, int(std::lround(fg.width * stretch)));
    ctx.log->info("{}: its pixels are {}:{} (width:height) and bg's {}:{}; it is matched and shown resampled to "
                  "bg's, {}x{} instead of {}x{}", fg.path, fg.sar.num, fg.sar.den, bg.sar.num, bg.sar.den, w,
                  fg.height, fg.width, fg.height);
    fg.width = w;
  }
  // The composite is opaque fg over bg (fg is a rendition of bg's footage, not a graphic to key over it).
  if (fg.alpha)
    ctx.log->warn("{}: it has an alpha channel, which is not used: fg is shown opaque, its transparent parts with "
                  "the colours stored there", fg.path);
  // Transfers are not converted (no tone mapping): an HDR picture shown as SDR, or the reverse, looks wrong.
  if (const bool fg_hdr = fg.colour.hdr(); fg_hdr != bg.colour.hdr())
    ctx.log->warn("{}: {} is HDR and {} is not; fg is shown without tone mapping, so its colours will look {}",
                  fg.path, fg_hdr ? "fg" : "bg", fg_hdr ? "bg" : "fg", fg_hdr ? "washed out" : "far too bright");
  return st;
}

Status check_output(const Context& ctx) {
  const std::string& out = ctx.opt.output;
  // The report must not replace an input video, nor be replaced by the rendered video.
  if (const std::string& json = ctx.opt.json; !json.empty() && json != "-") {
    std::error_code ec;
    for (const std::string& in : {ctx.opt.bg, ctx.opt.fg})
      if (fs::equivalent(json, in, ec)) return Status::Fail(kExitOutput, json, "report would overwrite the input " + in);
    std::error_code ec_json, ec_out;
    const fs::path j = fs::weakly_canonical(json, ec_json), o = fs::weakly_canonical(out, ec_out);
    if (!ctx.opt.align_only && !ec_json && !ec_out && j == o)
      return Status::Fail(kExitOutput, json, "the report and the video output are the same file");
    fs::path dir = fs::path(json).parent_path();
    if (dir.empty()) dir = ".";
    if (!fs::is_directory(dir, ec))
      return Status::Fail(kExitOutput, json, "cannot create the report file: folder " + dir.string() + " does not exist");
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
      return Status::Fail(kExitOutput, json, "cannot create the report file: " + std::string(std::strerror(errno)));
  }
  if (ctx.opt.align_only) return Status::Ok();
  struct stat os {};
  const bool exists = ::stat(out.c_str(), &os) == 0;
  if (exists && S_ISDIR(os.st_mode)) return Status::Fail(kExitOutput, out, "is a directory");
  for (const std::string& in : {ctx.opt.bg, ctx.opt.fg, ctx.opt.alignment}) {
    struct stat is {};
    if (exists && !in.empty() && ::stat(in.c_str(), &is) == 0 && is.st_dev == os.st_dev && is.st_ino == os.st_ino)
      return Status::Fail(kExitOutput, out, "output would overwrite the input " + in);
  }
  fs::path dir = fs::path(out).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::Fail(kExitOutput, out, "folder " + dir.string() + " does not exist");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return Status::Fail(kExitOutput, out, "cannot write to folder " + dir.string() + ": " + std::strerror(errno));
  if (output_container(out).empty())
    return Status::Fail(kExitUsage, out, "the output is H.264 video in MP4, MOV or Matroska: name it .mp4, .m4v, "
                                         ".mov or .mkv");
  return Status::Ok();
}

Status check_gpu(const Context& ctx) {
  const int devices = cuda_device_count();
  if (ctx.opt.gpu == "on" && devices == 0)
    return Status::Fail(kExitInput, "--gpu on",
                        "no usable NVIDIA GPU (no device or driver, or this build has no CUDA support)");
  if (ctx.opt.gpu != "off" && devices > 0)
    ctx.log->debug("{} CUDA device(s) found: phase correlation, embeddings and encoding try the GPU; decoding {}",
                   devices, use_nvdec(ctx) ? "too (NVDEC)" : "stays on the CPU's threads (NVDEC with --gpu on)");
  return Status::Ok();
}

Status load_alignment(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, Placement& spatial,
                      TimeMap& temporal) {
  Status st = read_alignment(ctx.opt.alignment, spatial, temporal);
  if (!st.ok()) return st;
  if (st = check_alignment(ctx.opt.alignment, bg, fg, spatial, temporal); !st.ok()) return st;
  if (ctx.opt.end_frame > int64_t(temporal.map.size()))
    return Status::Fail(kExitUsage, "", fmt::format("--frames {}: the alignment has only {} fg frames", ctx.opt.frames,
                                                     temporal.map.size()));
  return Status::Ok();
}

namespace {

// Reel sizes: 512 px on each video's long side (or its own size when smaller), within ctx.memory_budget, which
// also holds what the temporal stage keeps per frame while the reels live: a thumbnail and an embedding (~17 KB;
// bg's frames also 2 KB of colour); the reels get what is left, at least half. With 128 MiB a 30-minute 480p
// pair got 40x22 reels, on which the spatial search settled 28 px off on a vertically scrolling pattern (114x64
// reels found it).
// A long pair (long_pair) gets sparse reels instead: up to 1,024 frames of bg spread over its length (every
// second frame at least), 256 px on the long side (what the spatial search's thumbnails need), and of fg only
// its samples. Every stage then decodes the frames it needs again, and what alignment keeps grows by about 1 KB
// a frame (the embeddings).
struct ReelPlan {
  int bw = 0, bh = 0, fw = 0, fh = 0;
  int64_t bstep = 1, fstep = 1;
};

ReelPlan plan_reels(const Context& ctx, const VideoInfo& bg, const VideoInfo& fg) {
  auto even = [](double v) { return std::max(16, 2 * int(std::lround(v / 2))); };
  ReelPlan p;
  if (long_pair(ctx, bg, fg)) {
    const double f = std::min(1.0, 256.0 / std::max(bg.width, bg.height));
    p.bw = even(bg.width * f), p.bh = even(bg.height * f);
    p.fw = 16, p.fh = 16;
    p.bstep = std::max<int64_t>(2, (bg.frames + 1023) / 1024);  // always sparse: one path for long pairs
    p.fstep = std::numeric_limits<int64_t>::max();
    return p;
  }
  constexpr double kLongSide = 512;
  constexpr double kPerFrame = double(kThumb) * kThumb + 256 * sizeof(float);
  constexpr double kBgChroma = 2.0 * kChroma * kChroma;  // bg's frames also keep their colour (grade_map)
  const double total = ctx.memory_budget;
  const double budget = std::max(total / 2, total - kPerFrame * double(std::max<int64_t>(0, bg.frames) +
                                                                      std::max<int64_t>(0, fg.frames)) -
                                                kBgChroma * double(std::max<int64_t>(0, bg.frames)));
  double f = std::min(1.0, kLongSide / std::max(bg.width, bg.height));
  double g = std::min(1.0, kLongSide / std::max(fg.width, fg.height));
  const double bytes = 1.5 * (double(bg.width) * bg.height * f * f * double(bg.frames) +
                              double(fg.width) * fg.height * g * g * double(fg.frames));
  if (bytes > budget) {
    const double k = std::sqrt(budget / bytes);
    f *= k, g *= k;
  }
  p.bw = even(bg.width * f), p.bh = even(bg.height * f), p.fw = even(fg.width * g), p.fh = even(fg.height * g);
  return p;
}

// Both videos decoded at once, one thread each: the alignment's only full pass over them.
Status read_reels(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, Reel& bg_reel, Reel& fg_reel) {
  const ReelPlan p = plan_reels(ctx, bg, fg);
  Status st, fs;
  Progress progress(ctx, "decode", bg.frames + fg.frames);
  std::atomic<int64_t> decoded{0};
  auto tick = [&] { progress.update(++decoded); };
  run_both([&] { fs = read_reel(ctx, fg, p.fw, p.fh, 3, p.fstep, fg_reel, tick); },
           [&] { st = read_reel(ctx, bg, p.bw, p.bh, 0, p.bstep, bg_reel, tick); });
  st.merge(fs);
  ctx.log->debug("reels: bg {}x{} x {} of {} frames, fg {}x{} x {} of {} frames, {:.0f} MB{}", p.bw, p.bh,
                 bg_reel.stored(), bg_reel.frames(), p.fw, p.fh, fg_reel.stored(), fg_reel.frames(),
                 double(bg_reel.yuv.size() + fg_reel.yuv.size()) / 1e6,
                 bg_reel.step > 1 ? " (a long pair: sparse reels, frames decoded again where needed)" : "");
  return st;
}

// The alignment proper: reels, placement, match and re-checks.
Status align_on_reels(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, Placement& spatial, TimeMap& temporal) {
  Reel bg_reel, fg_reel;
  Status st;
  std::thread loader([] { torch_status(); });  // LibTorch's initialisers run beside the decoders
  {
    ScopedTimer t(ctx, "decode");  // one pass over both videos, scaled down, for everything below
    st = read_reels(ctx, bg, fg, bg_reel, fg_reel);
  }
  loader.join();
  if (!st.ok()) return st;
  {
    ScopedTimer t(ctx, "libtorch");  // the plugin with the FFT and the embedder: loaded by now, or why not
    st = torch_status();
  }
  if (!st.ok()) return st;
  // Where fg sits, which bg frame shows each fg frame, and the placement re-checked on the matched pairs.
  Placement matched_on;  // the placement the map was last matched on
  auto locate = [&](const std::vector<Gray>* samples, const std::vector<int64_t>* sample_index,
                    double min_confidence) -> Status {
    Status st;
    {
      ScopedTimer t(ctx, "place");  // where fg sits in bg
      st = place(ctx, bg, fg, bg_reel, fg_reel, spatial, samples, sample_index);
    }
    if (!st.ok()) return st;
    if (spatial.confidence < min_confidence)
      return Status::Fail(kExitAlign, fg.path, fmt::format("placement confidence {:.3f} below {:.2f}",
                                                           spatial.confidence, min_confidence));
    {
      ScopedTimer t(ctx, "match");  // which bg frame shows each fg frame's moment
      st = match(ctx, bg, fg, spatial, temporal, &bg_reel, &fg_reel);
      matched_on = spatial;
    }
    if (!st.ok()) return st;
    // Second look at the placement, now on frame pairs known to show the same moment (a pan or zoom can fake a
    // match at another moment). If it moved, the map was matched on a slightly wrong region: match again.
    // Up to three rounds: a re-check that moves the placement (or finds the map whole frames off, see
    // recheck_placement) is followed by a re-match and another re-check.
    double agree = -1;  // how well the last re-check's pairs fit
    for (int round = 0; round < 3; ++round) {
      bool moved = false;
      std::optional<Placement> runner_up;
      {
        ScopedTimer t(ctx, "recheck");
        st = recheck_placement(ctx, bg, fg, bg_reel, fg_reel, temporal, spatial, moved, &agree, &runner_up);
      }
      if (!st.ok()) return st;
      // Along a tilt a placement a pixel or two off and a map a frame off can fit the reels' pairs as well as the
      // truth (random14_11 in bench/pairs: 0.9973 against 0.9969, 26.5% exact). Matched again on the other, the
      // right one shows itself in how alike all the matched frames are: the median misfit fell from 0.0024 to
      // 0.0004 there. Taken where it halves the map's. (At 0.62 of it, a pan over a still at CRF 40 took a
      // placement 0.8 px nearer the truth than the map's, from which the polish then fitted a worse one.)
      if (!moved && runner_up) {
        TimeMap other;
        Placement at = *runner_up;
        {
          ScopedTimer t(ctx, "rematch");
          st = match(ctx, bg, fg, at, other, &bg_reel, &fg_reel, true);
        }
        if (ctx.interrupted()) return st;
        ctx.log->debug("spatial: matched again at x {:.2f} y {:.2f} scale {:.4f} (the re-check's runner-up): median "
                       "similarity {:.5f} against {:.5f}", at.x, at.y, at.scale, other.confidence, temporal.confidence);
        if (st.ok() && 1 - other.confidence < 0.5 * (1 - temporal.confidence)) {
          spatial = at, temporal = std::move(other), matched_on = spatial;
          continue;
        }
        st = Status::Ok();
      }
      if (!moved) break;
      ScopedTimer t(ctx, "rematch");
      if (st = match(ctx, bg, fg, spatial, temporal, &bg_reel, &fg_reel, true); !st.ok()) return st;
      matched_on = spatial;
    }
    if (agree >= 0 && agree < kRecheckFloor)
      return Status::Fail(kExitAlign, fg.path,
                          fmt::format("fg does not match bg where it was placed (x={:.0f} y={:.0f} scale={:.3f}): "
                                      "the matched frames agree at NCC {:.2f}, below {:.2f}",
                                      spatial.x, spatial.y, spatial.scale, agree, kRecheckFloor));
    return st;
  };
  st = locate(nullptr, nullptr, 0);
  // Where that fails, once more with fg's burned-in overlays (subtitles, a logo) hidden from the spatial search:
  // over a smooth sky a subtitle box pulled it 50 px off (bench/pairs/overlay6). Only then: a static shot's own
  // edges look like overlays too, and the first search does better with them.
  if (st.code == kExitAlign) {
    std::vector<Gray> samples = fg_reel.samples;
    if (const double share = hide_static(samples); share > 0) {
      ctx.log->debug("{}; searching again with {:.1f}% of fg hidden: edges in the same place in every fg sample "
                     "(burned-in subtitles, a logo)", st.errors.empty() ? "" : st.errors[0], 100 * share);
      if (Status again = locate(&samples, nullptr, 0); again.code != kExitAlign) st = again;
    }
  }
  // The three samples lie at 1/6, 1/2 and 5/6 of fg: where fg runs far past bg's end, or starts far before it,
  // two of them show moments bg lacks, and a soft picture is then not found sharply enough with one (random14_8 in
  // bench/pairs: fg's first 38% in bg, refused). Once more with three samples from fg's first third, and then its
  // last third. Samples that close confirm each other less, and two more searches are two more chances for a
  // chance match: only a placement of full confidence is kept (the refused real pairs of bench/pairs: 0.997-0.999;
  // a smooth unrelated gradient, 40 seeds: up to 0.919).
  for (const int64_t third : {0, 2}) {
    if (st.code != kExitAlign || fg_reel.pts.size() < 9) break;
    const int64_t n = int64_t(fg_reel.pts.size());
    std::vector<int64_t> index;
    for (const int64_t k : {1, 3, 5}) index.push_back(n * (6 * third + k) / 18);
    // (Under a second apart they show nearly one moment: a bg of one frame took a placement 4 px off along
    // testsrc2's moving pattern from three fg frames within 0.3 s of its moment, at confidence 0.998.)
    if (!fg.fps.valid() || double(index[2] - index[0]) / fg.fps.value() < 1.0) break;
    std::vector<Gray> samples;
    if (Status dec = decode_gray_frames(ctx, fg, index, samples, fg_reel.pts); !dec.ok() || samples.size() != 3)
      break;
    ctx.log->debug("{}; searching again with samples from fg's {} third (frames {}, {}, {})",
                   st.errors.empty() ? "" : st.errors[0], third ? "last" : "first", index[0], index[1], index[2]);
    if (Status again = locate(&samples, &index, 0.99); again.code != kExitAlign) st = again;
  }
  if (!st.ok()) return st;
  // Last, the placement to a fraction of a pixel at full resolution; where it now lies more than a tenth of a
  // pixel from where the map was matched, the map is matched once more on the sharper region (not in a long pair,
  // where that would read both files a third time: the composite still gets the sharper placement). (A re-check
  // at full size also moves it by less than half a pixel without a re-match: 0.3 px on random12_13 in
  // bench/pairs, a slow shake over gravel, whose map then ran one source frame late.)
  {
    ScopedTimer t(ctx, "polish");
    if (st = polish_placement(ctx, bg, fg, temporal, spatial, bg_reel, fg_reel); !st.ok()) return st;
  }
  if (px_apart(spatial, matched_on, fg) > 0.1 && !long_pair(ctx, bg, fg)) {
    ScopedTimer t(ctx, "rematch");
    st = match(ctx, bg, fg, spatial, temporal, &bg_reel, &fg_reel, true);
  }
  return st;
}

}  // namespace

Status align(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, Placement& spatial, TimeMap& temporal) {
  Status st = align_on_reels(ctx, bg, fg, spatial, temporal);
  // Said of the final map only: a first map on a rough placement can take a stretch the re-match does not.
  if (st.ok() && temporal.stretches > 0)
    ctx.log->info("{}: {} stretch(es) of fg follow time lines of their own (an edited fg: cuts, reordered scenes)",
                  fg.path, temporal.stretches);
  if (st.ok() && (temporal.clamped_start || temporal.clamped_end))
    ctx.log->info("{} fg frame(s) before bg starts and {} after it ends show bg's first/last frame",
                  temporal.clamped_start, temporal.clamped_end);
  // The reels and features are freed by now; glibc keeps freed heap pages mapped unless told, and the render
  // would carry them through its whole run.
  ::malloc_trim(0);
  return st;
}

Status report(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const Placement& spatial,
              const TimeMap& temporal) {
  std::string dest = ctx.opt.json;
  if (dest.empty() && ctx.opt.align_only) dest = "-";
  if (dest.empty()) return Status::Ok();
  Report r{bg, fg, spatial, temporal, ctx.timings};
  return write_report(dest, r);
}

void print_timings(const Context& ctx) {
  // Stages in the order they ran; "stage.part" entries are shown under their stage and not added to the total.
  // CPU seconds are the whole process's while the stage ran (every thread's), so cpu / seconds is the cores it
  // kept busy: what is below the machine's count is time a stage waits or runs on one thread.
  double total = 0, total_cpu = 0;
  auto row = [](const std::string& name, double secs, double cpu) {
    if (cpu <= 0) return fmt::format("{:<14} {:>9.3f}\n", name, secs);
    if (secs < 0.01) return fmt::format("{:<14} {:>9.3f} {:>8.3f}\n", name, secs, cpu);  // too short to say
    return fmt::format("{:<14} {:>9.3f} {:>8.3f} {:>6.2f}\n", name, secs, cpu, cpu / secs);
  };
  std::string table = fmt::format("{:<14} {:>9} {:>8} {:>6}\n", "stage", "seconds", "cpu s", "cores");
  for (const StageTime& t : ctx.timings) {
    if (t.name.find('.') != std::string::npos) continue;
    total += t.seconds, total_cpu += t.cpu;
    table += row(t.name, t.seconds, t.cpu);
    for (const StageTime& p : ctx.timings)
      if (p.name.rfind(t.name + ".", 0) == 0) table += row("  " + p.name.substr(t.name.size() + 1), p.seconds, p.cpu);
  }
  table += row("total", total, total_cpu);
  fmt::print(stderr, "{}", table);
}

BgAudio bg_audio(const VideoInfo& bg, const VideoInfo& fg, const TimeMap& t, const std::vector<double>& bg_times,
                 const std::vector<double>& fg_times) {
  const int64_t last = bg.frames - 1;
  auto time = [](const std::vector<double>& times, int64_t i, Rational fps) {
    return i >= 0 && size_t(i) < times.size() ? times[size_t(i)] : double(i) / fps.value();
  };
  std::vector<size_t> inside;  // fg frames not clamped
  for (size_t i = 0; i < t.map.size(); ++i)
    if (t.map[i] > 0 && t.map[i] < last) inside.push_back(i);
  BgAudio a;
  if (inside.size() >= 2) {
    const size_t h = inside.size() / 2;
    std::vector<double> slopes;
    for (size_t q = 0; q + h < inside.size(); ++q) {
      const size_t i0 = inside[q], i1 = inside[q + h];
      const double dt = time(fg_times, int64_t(i1), fg.fps) - time(fg_times, int64_t(i0), fg.fps);
      if (dt > 0) slopes.push_back((time(bg_times, t.map[i1], bg.fps) - time(bg_times, t.map[i0], bg.fps)) / dt);
    }
    if (!slopes.empty()) {
      std::vector<double> v = slopes;
      std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
      const double s = v[v.size() / 2];
      const size_t agree = size_t(std::count_if(slopes.begin(), slopes.end(), [&](double x) { return std::abs(x - s) <= 0.01 * s; }));
      const double span = time(fg_times, int64_t(t.map.size()) - 1, fg.fps) + 1 / fg.fps.value();
      if (s > 0.5 && s < 2 && 4 * agree >= 3 * slopes.size() && std::abs(s - 1) * span > 0.02) a.speed = s;
    }
  }
  std::vector<double> d, all;
  for (size_t i = 0; i < t.map.size(); ++i) {
    const double diff = time(bg_times, t.map[i], bg.fps) - a.speed * time(fg_times, int64_t(i), fg.fps);
    all.push_back(diff);
    if (t.map[i] > 0 && t.map[i] < last) d.push_back(diff);
  }
  std::vector<double>& v = d.empty() ? all : d;
  if (v.empty()) {
    a.start = bg.start_time;
    return a;
  }
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  a.start = bg.start_time + v[v.size() / 2];
  return a;
}

}  // namespace vidkompy
