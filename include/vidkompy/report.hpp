// The alignment report: written by --json, read back by --alignment. Reading accepts hand-written files that
// carry only spatial.{x,y,scale} and temporal.map, and rejects anything malformed with one clear line.
#pragma once
#include <string>
#include <vector>

#include "vidkompy/options.hpp"
#include "vidkompy/types.hpp"

namespace vidkompy {

struct Report {
  VideoInfo bg, fg;
  Placement spatial;
  TimeMap temporal;
  std::vector<StageTime> timings;
};

// The report as JSON text (pretty-printed, trailing newline).
std::string report_json(const Report& report);

// Writes the report to `dest`: a path, or "-" for stdout.
Status write_report(const std::string& dest, const Report& report);

// Reads spatial.{x,y,scale} and temporal.map from a report file. Only the file's own shape is checked here;
// check_alignment() checks it against the inputs.
Status read_alignment(const std::string& path, Placement& spatial, TimeMap& temporal);
// The same on the file's text; `path` only names it in messages (the fuzz target calls this directly).
Status parse_alignment(const std::string& text, const std::string& path, Placement& spatial, TimeMap& temporal);

// Checks an alignment against the probed inputs: map length = fg frames, indices within bg, a sane placement.
Status check_alignment(const std::string& path, const VideoInfo& bg, const VideoInfo& fg, const Placement& spatial,
                       const TimeMap& temporal);

}  // namespace vidkompy
