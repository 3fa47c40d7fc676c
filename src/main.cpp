// vidkompy's entry point: parse the command line, then run the stages in order, each one line and timed.
// Signals only set a flag; stages poll it and unwind normally, so temporary files are always removed.
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vidkompy/pipeline.hpp"
#include "vidkompy/temporal.hpp"
#include "vidkompy/video.hpp"

using namespace vidkompy;

namespace {

volatile std::sig_atomic_t g_signal = 0;  // the one global: a signal handler can reach nothing else
extern "C" void on_signal(int sig) { g_signal = sig; }

int finish(const Context& ctx, const Status& st) {
  for (const std::string& e : st.errors) std::fprintf(stderr, "vidkompy: error: %s\n", e.c_str());
  if (ctx.opt.verbose && !ctx.timings.empty()) print_timings(ctx);
  return st.code;
}

// One pair, start to finish: the stages in order, each one line and timed.
Status run_pair(Context& ctx, VideoInfo& bg, VideoInfo& fg, Placement& spatial, TimeMap& temporal) {
  Status st = check_output(ctx);                                       // fail before any work
  if (st.ok()) st = check_gpu(ctx);
  {
    ScopedTimer t(ctx, "probe");                                        // both inputs, all problems at once
    if (st.ok()) st = probe_inputs(ctx, bg, fg);
  }
  if (!st.ok()) return st;
  if (!ctx.opt.alignment.empty()) {
    ScopedTimer t(ctx, "load");                                         // saved or hand-written alignment
    st = load_alignment(ctx, bg, fg, spatial, temporal);
  } else {
    st = align(ctx, bg, fg, spatial, temporal);                         // where and when fg sits in bg
  }
  if (!st.ok()) return st;
  if (!ctx.opt.align_only) {
    ScopedTimer t(ctx, "render");                                       // decode, composite, encode, mux
    st = render(ctx, bg, fg, spatial, temporal);
  }
  if (st.ok() && !ctx.opt.preview.empty()) {
    ScopedTimer t(ctx, "preview");                                      // contact sheet and map plot
    st = write_preview(ctx, bg, fg, spatial, temporal);
  }
  if (st.ok() && ctx.opt.batch.empty()) st = report(ctx, bg, fg, spatial, temporal);  // --json / --align-only
  return st;
}

// --batch FILE: every pair in one process (LibTorch loads once), one JSON line per pair on stdout, going on past
// a failing pair; the exit code is the first failing pair's, or 0.
int run_batch(Context& ctx) {
  std::ifstream in(ctx.opt.batch);
  if (!in) return finish(ctx, Status::Fail(kExitInput, ctx.opt.batch, "cannot read the batch file"));
  int code = kExitOk, line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    for (size_t at = 0;;) {
      const size_t tab = line.find('\t', at);
      f.push_back(line.substr(at, tab - at));
      if (tab == std::string::npos) break;
      at = tab + 1;
    }
    Status st;
    if (f.size() < 2 || f.size() > 3 || f[0].empty() || f[1].empty())
      st = Status::Fail(kExitUsage, ctx.opt.batch,
                        fmt::format("line {}: expected bg, fg and an optional output, tab-separated", line_no));
    ctx.opt.bg = f.size() > 0 ? f[0] : "", ctx.opt.fg = f.size() > 1 ? f[1] : "";
    ctx.opt.output = f.size() > 2 && !f[2].empty() ? f[2] : default_output(ctx.opt.bg, ctx.opt.fg);
    ctx.timings.clear();
    VideoInfo bg, fg;
    Placement spatial;
    TimeMap temporal;
    const auto t0 = std::chrono::steady_clock::now();
    if (st.ok()) st = run_pair(ctx, bg, fg, spatial, temporal);
    for (const std::string& e : st.errors) std::fprintf(stderr, "vidkompy: error: %s\n", e.c_str());
    nlohmann::json j = {{"line", line_no}, {"bg", ctx.opt.bg}, {"fg", ctx.opt.fg},
                        {"output", ctx.opt.align_only || !st.ok() ? nlohmann::json(nullptr) : nlohmann::json(ctx.opt.output)},
                        {"exit", st.code}, {"errors", st.errors},
                        {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
    if (st.ok())
      j["spatial"] = {{"x", spatial.x}, {"y", spatial.y}, {"scale", spatial.scale}, {"confidence", spatial.confidence}},
      j["temporal"] = {{"frames", temporal.map.size()}, {"confidence", temporal.confidence}};
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    std::fflush(stdout);
    if (!st.ok() && code == kExitOk) code = st.code;
    if (ctx.interrupted()) return st.code;  // a signal ends the batch, not just this pair
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  Context ctx;
  CliResult cli = parse_cli(argc, argv, ctx.opt);
  if (cli.done || !cli.status.ok()) return finish(ctx, cli.status);
  if (Status st = finish_options(ctx.opt); !st.ok()) return finish(ctx, st);
  ctx.log = make_logger(ctx.opt);
  set_ffmpeg_log_level(ctx.opt.verbose);
  use_one_blas_thread();
  ctx.interrupt = &g_signal;
  ctx.progress = !ctx.opt.quiet && ::isatty(STDERR_FILENO);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  if (!ctx.opt.batch.empty()) return run_batch(ctx);                  // many pairs, one JSON line each
  VideoInfo bg, fg;
  Placement spatial;
  TimeMap temporal;
  return finish(ctx, run_pair(ctx, bg, fg, spatial, temporal));
}
