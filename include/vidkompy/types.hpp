// Plain data shared by the stages: rationals, probe results, the alignment (placement + time map) and the
// error model (Status). Nothing here touches FFmpeg, so tests and tools can use it freely.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vidkompy {

// Exit codes are part of the CLI contract (README, "Exit codes").
enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,
  kExitInput = 2,
  kExitAlign = 3,
  kExitOutput = 4,
  kExitSigint = 130,
  kExitSigterm = 143,
};

struct Rational {
  int num = 0;
  int den = 1;
  double value() const { return den ? double(num) / den : 0.0; }
  bool valid() const { return num > 0 && den > 0; }
};

// What a video's YUV numbers mean (FFmpeg's AVColor* codes; 2 is "unspecified" for the last three). The output
// takes bg's; fg is converted into it where its own differs (render).
struct Colour {
  static constexpr int kUnspecified = 2, kBt709 = 1, kSmpte170m = 6;  // matrices (BT.601 is SMPTE 170M)
  static constexpr int kPq = 16, kHlg = 18;                            // HDR transfers
  bool full_range = false;     // 0-255 ("pc", JPEG) rather than 16-235 ("tv", MPEG)
  int matrix = kUnspecified;   // AVColorSpace: how Y, Cb and Cr make R, G and B
  int primaries = kUnspecified;  // AVColorPrimaries
  int transfer = kUnspecified;   // AVColorTransferCharacteristic
  bool hdr() const { return transfer == kPq || transfer == kHlg; }
};

// Black bars along a picture's edges (letterbox, pillarbox), in pixels of the picture as decoded and turned.
struct Bars {
  int left = 0, top = 0, right = 0, bottom = 0;
  bool any() const { return left || top || right || bottom; }
};

struct VideoInfo {
  std::string path;
  std::string container;   // demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
  std::string codec;       // video codec name
  std::string pix_fmt;     // decoder pixel format name
  int width = 0;
  int height = 0;
  Rational fps;            // average frame rate (r_frame_rate when the average is unknown)
  Rational time_base;      // of the stream's timestamps (Reel::pts)
  int64_t frames = 0;      // frame count: header value, else counted by demuxing packets
  double duration = 0.0;   // seconds
  double start_time = 0.0; // seconds, pts of the first video frame
  int rotation = 0;        // degrees from the display matrix, normalised to 0/90/180/270
  Colour colour;           // as the first frame says (else the stream's header)
  Rational sar{1, 1};      // a pixel's shape as displayed, width:height (HDV 1440x1080: 4:3); 1:1 when not given
  int depth = 8;           // bits per sample of its decoded pixel format (8; 10 for HEVC Main 10, ProRes, ...)
  Bars bars;               // fg's black bars, which its decoders cut off (probe_inputs); width x height is the rest
  bool alpha = false;      // its pixel format carries transparency (ProRes 4444, PNG, QuickTime RLE, ...)
  bool has_audio = false;
  std::string audio_codec;
  int audio_rate = 0;
  int audio_channels = 0;
};

// Where fg goes in bg: top-left corner in bg pixels (floats; rendering rounds) and the factor applied to fg.
struct Placement {
  double x = 0.0;
  double y = 0.0;
  double scale = 1.0;
  double confidence = 0.0;
};

// One bg frame index (0-based, decode/presentation order) per fg frame.
struct TimeMap {
  std::vector<int64_t> map;
  double confidence = 0.0;
  int clamped_start = 0;  // fg frames before bg starts (shown over bg's first frame)
  int clamped_end = 0;    // fg frames after bg ends (shown over bg's last frame)
  // The fitted time relation, bg index = rate * fg index + offset * bg fps, and the embedder used (empty for an
  // alignment loaded from a file).
  double rate = 0.0;    // bg frames per fg frame
  double offset = 0.0;  // seconds into bg (from its first frame) that fg's first frame shows
  std::string model;
  // Per fg frame: the thumbnail NCC with its bg frame, NaN where clamped; empty for a loaded alignment.
  // Shown by --preview, not written to the report.
  std::vector<float> similarity;
  int stretches = 0;  // stretches of fg matched on time lines of their own (an edited fg); not in the report
};

// Expected failures travel as a Status: an exit code and one line per problem ("<file>: <why>").
// Several problems (both inputs unreadable, say) are reported together.
struct Status {
  int code = kExitOk;
  std::vector<std::string> errors;

  bool ok() const { return code == kExitOk; }
  static Status Ok() { return {}; }
  static Status Fail(int code, const std::string& file, const std::string& why);
  // Adds other's problems; the first failure's exit code wins.
  Status& merge(const Status& other);
};

}  // namespace vidkompy
