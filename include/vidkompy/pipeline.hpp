// The stages main() runs in order. Each takes the Context and returns a Status; none calls exit().
#pragma once
#include "vidkompy/options.hpp"
#include "vidkompy/types.hpp"

namespace vidkompy {

// Probes both inputs and reports every problem with either of them at once.
Status probe_inputs(Context& ctx, VideoInfo& bg, VideoInfo& fg);

// The output (and the --json report) must be creatable and must not be one of the inputs.
Status check_output(const Context& ctx);

// --gpu on needs a usable CUDA device (input error otherwise); auto and off never fail.
Status check_gpu(const Context& ctx);

// Reads --alignment and checks it against the inputs.
Status load_alignment(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, Placement& spatial, TimeMap& temporal);

// Computes the alignment (spatial, then temporal).
Status align(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, Placement& spatial, TimeMap& temporal);

// Writes the report to --json (or stdout for --align-only without --json).
Status report(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const Placement& spatial,
              const TimeMap& temporal);

// Decodes, composites, encodes and muxes audio into a temporary file, renamed to --output when complete.
Status render(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const Placement& spatial,
              const TimeMap& temporal);

// --preview: nine output frames (fg outlined, labelled with fg and bg frame numbers) and a plot of the map, as a
// PNG (src/preview.cpp).
Status write_preview(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const Placement& spatial,
                     const TimeMap& temporal);

// The per-stage timing table (--verbose), on stderr.
void print_timings(const Context& ctx);

// Where bg's audio comes from: the source second that belongs at output time 0, and the speed (source seconds
// per output second). The speed is 1 unless the map runs at another one (a speed change: film at 24 fps shown
// frame for frame at 25, bg's audio then plays 25/24 as fast, pitched up as PAL does) by enough to move the
// audio by over 20 ms over the output; it is the median slope between frames half the matched span apart, taken
// only where three quarters of them agree within 1% (not an edited fg's jumps). The start: the median of bg time
// minus speed x fg time over the frames that are not clamped to bg's first/last frame. Robust to a few
// mismatched frames. A frame's time is index / fps, or its own time from the video's first frame where given
// (variable_frame_times).
struct BgAudio {
  double start = 0.0;
  double speed = 1.0;
};
BgAudio bg_audio(const VideoInfo& bg, const VideoInfo& fg, const TimeMap& temporal,
                 const std::vector<double>& bg_times = {}, const std::vector<double>& fg_times = {});

}  // namespace vidkompy
