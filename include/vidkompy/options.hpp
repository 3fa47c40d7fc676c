// Options (every CLI flag, with its default in-class) and the Context handed to each stage: options, the
// logger, the per-stage timings and the interrupt flag. CLI11 fills Options in parse_cli().
#pragma once
#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "vidkompy/types.hpp"

namespace spdlog { class logger; }

namespace vidkompy {

struct Options {
  std::string bg;
  std::string fg;
  std::string output;          // default: <bg-stem>_overlay_<fg-stem>.mp4 next to the working directory
  int border = 8;              // width of the seam band in px (blend ramp, border-weighted matching)
  bool blend = false;          // feather the visible fg edges over `border` px
  std::string gpu = "auto";    // auto | on | off
  int verbose = 0;             // -v: per-stage timings, debug logs
  bool quiet = false;          // -q: errors only
  std::string json;            // alignment report: FILE or "-" for stdout
  bool align_only = false;     // report, no render
  std::string alignment;       // render from a saved report
  int crf = 18;                // libx264 constant rate factor
  std::string preset = "medium";  // libx264 preset
  std::string model;           // TorchScript frame embedder; empty: the bundled one
  std::string preview;         // --preview FILE.png: contact sheet and map plot
  std::string batch;           // --batch FILE: many pairs (bg, fg[, output] per line, tab-separated)
  std::string frames;          // --frames A:B: render only fg frames A..B-1 (with --alignment), no audio
  int64_t first_frame = 0;     // A, parsed by finish_options
  int64_t end_frame = -1;      // B; -1: to the end
};

// Parses argv into opt. `done` is set when --help or --version was printed (exit 0); a usage error comes back
// in `status` (exit 1). CLI11 checks the value ranges.
struct CliResult {
  bool done = false;  // --help or --version was printed
  Status status;
};
CliResult parse_cli(int argc, char** argv, Options& opt);

// <bg-stem>_overlay_<fg-stem>.mp4, in the working directory.
std::string default_output(const std::string& bg, const std::string& fg);

// The container an output path's extension names: "mp4" (.mp4, .m4v), "mov" (.mov), "matroska" (.mkv); empty
// for any other.
std::string output_container(const std::string& path);

// Fills in derived defaults (the output name) and checks what CLI11 cannot (-v with -q, --bg/--fg or --batch).
Status finish_options(Options& opt);

struct StageTime {
  std::string name;
  double seconds = 0.0;
  double cpu = 0.0;  // CPU seconds of the whole process meanwhile (0: not measured); cpu / seconds = cores used
};

struct Context {
  Options opt;
  std::shared_ptr<spdlog::logger> log;
  std::vector<StageTime> timings;
  // Set by the SIGINT/SIGTERM handler (0, SIGINT or SIGTERM); long loops poll it and return early.
  const volatile std::sig_atomic_t* interrupt = nullptr;
  bool progress = false;  // stderr is a terminal and not --quiet: draw progress lines
  // What the alignment may keep in memory for the whole of both videos (reels, thumbnails, embeddings); a pair
  // that needs more takes the long-video path (see long_pair). Tests lower it to run that path on short clips.
  double memory_budget = 1024.0 * 1024 * 1024;

  int interrupted() const { return interrupt ? int(*interrupt) : 0; }
  // Adds to a stage's time: a stage that runs more than once (a re-match) stays one row, in first-run order.
  void add_time(const std::string& name, double seconds, double cpu = 0.0) {
    for (StageTime& t : timings)
      if (t.name == name) return void((t.seconds += seconds, t.cpu += cpu));
    timings.push_back({name, seconds, cpu});
  }
};

// Makes the stderr logger for the verbosity in opt.
std::shared_ptr<spdlog::logger> make_logger(const Options& opt);

// User and system CPU time of the whole process so far, every thread's.
double process_cpu_seconds();

// Records how long a stage took (wall and CPU) into ctx.timings when it goes out of scope.
class ScopedTimer {
 public:
  ScopedTimer(Context& ctx, std::string name)
      : ctx_(ctx), name_(std::move(name)), start_(std::chrono::steady_clock::now()), cpu_(process_cpu_seconds()) {}
  ~ScopedTimer() {
    std::chrono::duration<double> d = std::chrono::steady_clock::now() - start_;
    ctx_.add_time(name_, d.count(), process_cpu_seconds() - cpu_);
  }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  Context& ctx_;
  std::string name_;
  std::chrono::steady_clock::time_point start_;
  double cpu_;
};

}  // namespace vidkompy
