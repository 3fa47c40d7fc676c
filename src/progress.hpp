// Progress of a long stage (decode, match, render) on stderr: on a terminal, one line redrawn a few times a
// second (frames done/total, fps, ETA); with -v and stderr not a terminal (a log file, a CI job), a plain line
// every 10% of the frames, at most one every 2 s, and the last one; nothing with -q. update() may be called
// from several threads (both videos decode at once).
#pragma once
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

#include "vidkompy/options.hpp"

namespace vidkompy {

class Progress {
 public:
  Progress(const Context& ctx, std::string what, int64_t total)
      : what_(std::move(what)), tty_(ctx.progress), lines_(!ctx.progress && ctx.opt.verbose && !ctx.opt.quiet),
        total_(std::max<int64_t>(1, total)) {}
  ~Progress() {
    if (drawn_) std::fputs("\n", stderr);
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(int64_t done) {
    if (!tty_ && !lines_) return;
    std::lock_guard<std::mutex> hold(lock_);
    const auto now = std::chrono::steady_clock::now();
    if (tty_ && done < total_ && now - last_ < std::chrono::milliseconds(250)) return;
    if (lines_ && done != total_ &&
        (done * 10 / total_ == shown_ * 10 / total_ || now - last_ < std::chrono::seconds(2)))
      return;
    last_ = now;
    shown_ = done;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double fps = secs > 0 ? done / secs : 0;
    const double eta = fps > 0 && done < total_ ? (total_ - done) / fps : 0;
    if (tty_) {
      fmt::print(stderr, "\r{} {}/{} frames  {:.1f} fps  ETA {:.0f} s   ", what_, done, total_, fps, eta);
      drawn_ = true;
    } else {
      fmt::print(stderr, "vidkompy: {} {}/{} frames, {:.1f} fps, ETA {:.0f} s\n", what_, done, total_, fps, eta);
    }
  }

 private:
  std::string what_;
  bool tty_, lines_;
  int64_t total_, shown_ = 0;
  bool drawn_ = false;
  std::mutex lock_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
};

}  // namespace vidkompy
