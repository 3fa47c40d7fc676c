// vidkompy's entry point: parse the command line, then run the stages in order, each one line and timed.
// Signals only set a flag; stages poll it and unwind normally, so temporary files are always removed.
#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "vidkompy/pipeline.hpp"
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

}  // namespace

int main(int argc, char** argv) {
  Context ctx;
  CliResult cli = parse_cli(argc, argv, ctx.opt);
  if (cli.done || !cli.status.ok()) return finish(ctx, cli.status);
  if (Status st = finish_options(ctx.opt); !st.ok()) return finish(ctx, st);
  ctx.log = make_logger(ctx.opt);
  set_ffmpeg_log_level(ctx.opt.verbose);
  ctx.interrupt = &g_signal;
  ctx.progress = !ctx.opt.quiet && ::isatty(STDERR_FILENO);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  const bool render_video = !ctx.opt.align_only;
  VideoInfo bg, fg;
  Placement spatial;
  TimeMap temporal;
  Status st;
  st = check_output(ctx);                                              // fail before any work
  if (st.ok()) st = check_gpu(ctx);
  {
    ScopedTimer t(ctx, "probe");                                        // both inputs, all problems at once
    if (st.ok()) st = probe_inputs(ctx, bg, fg);
  }
  if (!st.ok()) return finish(ctx, st);
  if (!ctx.opt.alignment.empty()) {
    ScopedTimer t(ctx, "load");                                         // saved or hand-written alignment
    st = load_alignment(ctx, bg, fg, spatial, temporal);
  } else {
    st = align(ctx, bg, fg, spatial, temporal);                         // where and when fg sits in bg
  }
  if (!st.ok()) return finish(ctx, st);
  if (render_video) {
    ScopedTimer t(ctx, "render");                                       // decode, composite, encode, mux
    st = render(ctx, bg, fg, spatial, temporal);
  }
  if (st.ok() && !ctx.opt.preview.empty()) {
    ScopedTimer t(ctx, "preview");                                      // contact sheet and map plot
    st = write_preview(ctx, bg, fg, spatial, temporal);
  }
  if (st.ok()) st = report(ctx, bg, fg, spatial, temporal);            // --json / --align-only
  return finish(ctx, st);
}
