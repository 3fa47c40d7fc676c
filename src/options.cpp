// The command line: CLI11 fills Options (defaults live in the struct and show in --help), then
// finish_options derives the output name. Usage errors become one-line Status messages with exit code 1.
#include "vidkompy/options.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iostream>

namespace vidkompy {

namespace fs = std::filesystem;

static const char* kFooter = R"(Examples:
  vidkompy --bg wide.mp4 --fg detail.mp4                      align and render wide_overlay_detail.mp4
  vidkompy --bg a.mp4 --fg b.mp4 --align-only --json a.json   only write the alignment report
  vidkompy --bg a.mp4 --fg b.mp4 --alignment a.json --blend   render from a saved (or hand-written) report

Exit codes: 0 ok, 1 usage error, 2 input error, 3 alignment failed, 4 output/encode error,
130/143 interrupted by SIGINT/SIGTERM.)";

CliResult parse_cli(int argc, char** argv, Options& opt) {
  CliResult res;
  CLI::App app{"vidkompy: overlay a foreground video onto a background video, aligned in space and time."};
  app.option_defaults()->always_capture_default();
  app.footer(kFooter);
  app.get_formatter()->column_width(30);

  auto* bg = app.add_option("--bg", opt.bg, "Background video (sets output size)")->option_text("FILE");
  auto* fg = app.add_option("--fg", opt.fg, "Foreground video (source of truth: every frame, its fps)")
                 ->option_text("FILE");
  auto* output = app.add_option("-o,--output", opt.output, "Output .mp4, .m4v, .mov or .mkv [default: <bg-stem>_overlay_<fg-stem>.mp4]")
                     ->option_text("FILE");
  app.add_option("--border", opt.border, "Seam band width in px for --blend and border matching")
      ->check(CLI::Range(0, 4096));
  app.add_flag("--blend", opt.blend, "Feather the fg edges where bg stays visible");
  app.add_option("--gpu", opt.gpu, "Use an NVIDIA GPU")->check(CLI::IsMember({"auto", "on", "off"}));
  app.add_option("--crf", opt.crf, "libx264 quality: 0 lossless .. 51 worst")->check(CLI::Range(0, 51));
  app.add_option("--preset", opt.preset, "libx264 preset (speed vs size)")
      ->check(CLI::IsMember(
          {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"}));
  auto* json = app.add_option("--json", opt.json, "Write the alignment report to FILE, or - for stdout")
                   ->option_text("FILE|-");
  auto* align_only = app.add_flag("--align-only", opt.align_only, "Compute the alignment, write the report, no render");
  auto* alignment = app.add_option("--alignment", opt.alignment, "Render with the alignment from a saved report")
                        ->option_text("FILE")
                        ->excludes(align_only);
  auto* frames = app.add_option("--frames", opt.frames, "Render only fg frames A..B-1, without audio (a segment, for render farms)")
                     ->option_text("A:B")
                     ->needs(alignment);
  auto* preview = app.add_option("--preview", opt.preview, "Write a PNG: nine output frames with fg outlined, and the frame map")
                      ->option_text("FILE.png");
  app.add_option("--batch", opt.batch, "Many pairs in one run: bg, fg and optional output per line, tab-separated")
      ->option_text("FILE")
      ->excludes(bg)
      ->excludes(fg)
      ->excludes(output)
      ->excludes(alignment)
      ->excludes(json)
      ->excludes(preview)
      ->excludes(frames);
  app.add_option("--model", opt.model, "TorchScript frame embedder [default: the bundled model]")
      ->option_text("FILE");
  app.add_flag("-v,--verbose", opt.verbose, "More log lines and the per-stage timing table");
  app.add_flag("-q,--quiet", opt.quiet, "Only errors");
  app.set_version_flag("--version", std::string("vidkompy ") + VIDKOMPY_VERSION);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    app.exit(e);
    res.done = true;
  } catch (const CLI::CallForVersion& e) {
    app.exit(e);
    res.done = true;
  } catch (const CLI::ParseError& e) {
    std::string why = e.what();
    if (why.empty()) why = e.get_name();
    res.status = Status::Fail(kExitUsage, "", why + " (see --help)");
  }
  return res;
}

std::string default_output(const std::string& bg, const std::string& fg) {
  return fs::path(bg).stem().string() + "_overlay_" + fs::path(fg).stem().string() + ".mp4";
}

std::string output_container(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".mp4" || ext == ".m4v") return "mp4";
  if (ext == ".mov") return "mov";
  if (ext == ".mkv") return "matroska";
  return {};
}

Status finish_options(Options& opt) {
  if (opt.batch.empty() && opt.bg.empty()) return Status::Fail(kExitUsage, "", "--bg is required (see --help)");
  if (opt.batch.empty() && opt.fg.empty()) return Status::Fail(kExitUsage, "", "--fg is required (see --help)");
  if (opt.output.empty() && opt.batch.empty()) opt.output = default_output(opt.bg, opt.fg);
  if (opt.verbose && opt.quiet) return Status::Fail(kExitUsage, "", "--verbose and --quiet exclude each other");
  if (!opt.frames.empty()) {
    unsigned long long a = 0, b = 0;
    char extra = 0;
    if (std::sscanf(opt.frames.c_str(), "%llu:%llu%c", &a, &b, &extra) != 2 || opt.frames[0] == '-' ||
        opt.frames.find(":-") != std::string::npos || a >= b || b > (1ull << 40))
      return Status::Fail(kExitUsage, "", "--frames " + opt.frames + ": expected A:B with 0 <= A < B");
    opt.first_frame = int64_t(a), opt.end_frame = int64_t(b);
  }
  return Status::Ok();
}

std::shared_ptr<spdlog::logger> make_logger(const Options& opt) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto log = std::make_shared<spdlog::logger>("vidkompy", sink);
  log->set_pattern("vidkompy: %^%l%$: %v");
  log->set_level(opt.quiet ? spdlog::level::err : opt.verbose ? spdlog::level::debug : spdlog::level::info);
  return log;
}

double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

}  // namespace vidkompy
