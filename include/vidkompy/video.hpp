// Video I/O on FFmpeg: probe a file, decode it frame by frame into YUV 4:2:0 at a requested size, and write
// the composite as H.264/MP4 with audio. Interfaces (FrameSource, Encoder) are small so tests can fake them.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vidkompy/types.hpp"

namespace vidkompy {

struct Context;

// One plane of samples: bytes for 8-bit pictures, little-endian 16-bit words for deeper ones (Image::depth).
// stride is in bytes, width in samples. Not owning.
struct Plane {
  uint8_t* data = nullptr;
  int stride = 0;
  int width = 0;
  int height = 0;
  uint8_t* row(int y) const { return data + std::ptrdiff_t(y) * stride; }
};

// A YUV 4:2:0 picture (planes 1 and 2 are ceil(w/2) x ceil(h/2)). Not owning.
struct Image {
  int width = 0;
  int height = 0;
  int depth = 8;  // bits per sample: 8 (one byte each), or 10 (two bytes each, yuv420p10le: a 10-bit bg's output)
  Plane plane[3];
  int bytes() const { return depth > 8 ? 2 : 1; }  // per sample
};

// An owning YUV 4:2:0 picture, for tests and scratch buffers.
struct ImageBuffer {
  std::vector<uint8_t> bytes;
  Image image;
  ImageBuffer() = default;
  ImageBuffer(int width, int height, int depth = 8) { reset(width, height, depth); }
  void reset(int width, int height, int depth = 8);
  ImageBuffer(const ImageBuffer&) = delete;
  ImageBuffer& operator=(const ImageBuffer&) = delete;
  void fill(int y, int u, int v);  // sample values at the picture's depth
};

// FFmpeg's own log: silent by default, errors with -v, everything with -vv.
void set_ffmpeg_log_level(int verbose);

// FFmpeg's name of a matrix (Colour::matrix): "bt709", "smpte170m", "unknown", ...
std::string colour_name(int matrix);

// v's colour as players show it: where it names no matrix, the one they assume for its size (BT.709 from 1280
// wide or 577 high, else BT.601, as mpv and VLC guess).
Colour shown_colour(const VideoInfo& v);

// A grayscale picture (luma), 8-bit, tightly packed.
struct Gray {
  int w = 0, h = 0;
  std::vector<uint8_t> px;
  uint8_t at(int x, int y) const { return px[size_t(y) * w + x]; }
};

// Decodes `count` consecutive frames at full resolution, starting with the one whose stream timestamp is
// `pts` (one seek, then decoding forward).
Status decode_gray_at(const Context& ctx, const VideoInfo& info, int64_t pts, int count, std::vector<Gray>& out);

// A region of a video's frames in its own pixel coordinates.
struct Region {
  double x = 0, y = 0, w = 0, h = 0;
};

// One decode pass over the video (loop filter on: matching needs every detail). For every frame, `region` is resized to
// rgb_size x rgb_size RGB (floats in [0, 1], planar, for the embedder) and gray_size x gray_size luma (none for
// gray_size 0), and handed to `sink`, which may return a failure to stop early. Only frames [first, end) when
// given: from the keyframe before `first` where the frames' timestamps (`pts`, Reel::pts; else the packets')
// tell frames apart.
Status extract_region(const Context& ctx, const VideoInfo& info, const Region& region, int rgb_size, int gray_size,
                      const std::function<Status(const float* rgb, const uint8_t* gray)>& sink, int64_t first = 0,
                      int64_t end = INT64_MAX, const std::vector<int64_t>& pts = {});

// The alignment's one decode pass over a video: every frame scaled down to w x h (YUV 4:2:0, area average), its
// timestamp, and a few full-resolution luma samples at the centres of equal spans. Spatial and temporal
// alignment both work from it, so neither has to decode the file again. A long video's reel is sparse: it keeps
// every step-th frame only (what the spatial search's thumbnails need), and the stages decode the rest again.
struct Reel {
  int w = 0, h = 0;
  double sx = 1, sy = 1;     // reel pixels per video pixel
  int64_t step = 1;          // frame i is kept in slot i / step
  std::vector<uint8_t> yuv;  // stored() x frame_bytes()
  std::vector<int64_t> pts;  // stream timestamp of every frame (for decoding one again at full size)
  std::vector<int64_t> keys;  // the frames the decoder marked as keyframes, ascending (where seeking lands)
  std::vector<Gray> samples;
  std::vector<int64_t> sample_index;
  size_t frames() const { return pts.size(); }
  size_t stored() const { return frame_bytes() ? yuv.size() / frame_bytes() : 0; }
  size_t frame_bytes() const { return size_t(w) * h + 2 * size_t((w + 1) / 2) * ((h + 1) / 2); }
  // Views into yuv: frame i, or in a sparse reel the last kept frame at or before it.
  Image image(size_t i) const;
  Gray luma(size_t i) const;
  // Whether a w x h area of the video keeps enough detail in the reel to work there: 96 px either way, three
  // quarters of the 128 px thumbnails cut from it, and every frame kept. Otherwise it is decoded again.
  bool shows(double area_w, double area_h) const { return step == 1 && area_w * sx >= 96 && area_h * sy >= 96; }
};

// Keeps frames 0, step, 2 step, ... (step 1: all). on_frame, when given, is called after each decoded frame
// (progress).
Status read_reel(const Context& ctx, const VideoInfo& info, int w, int h, int samples, int64_t step, Reel& out,
                 const std::function<void()>& on_frame = {});

// extract_region on a reel: `region` in the video's pixels, cut from the reel's scaled frames (every `stride`-th:
// a sparse reel's kept frames with its step).
Status reel_regions(const Context& ctx, const Reel& reel, const Region& region, int rgb_size, int gray_size,
                    const std::function<Status(const float* rgb, const uint8_t* gray)>& sink, size_t stride = 1);

// Thumbnails of `region` of every frame in order, one at a time (the gray half of extract_region), so that two
// videos can be read in step without keeping the thumbnails of either.
class ThumbReader {
 public:
  virtual ~ThumbReader() = default;
  // The next frame's size x size thumbnail (valid until the next call), or null at the end or on a fatal error.
  virtual const uint8_t* next() = 0;
  virtual const Status& status() const = 0;
  // Before the first next(): moves on so that next() gives frame `want`, as FrameSource::skip_to, telling frames
  // by `pts` (Reel::pts; else the packets' timestamps). False: it did not move; read from frame 0.
  virtual bool skip_to(int64_t, const std::vector<int64_t>& = {}) { return false; }
};
std::unique_ptr<ThumbReader> open_thumbs(const Context& ctx, const VideoInfo& info, const Region& region, int size,
                                         Status& status);

// Whether `pts` (Reel::pts) can tell frames by their timestamps: ascending, every one known.
bool indexes_frames(const std::vector<int64_t>& pts);

// A variable-rate video's frame times in seconds from its first frame, in presentation order: from `pts` (every
// frame's timestamp, Reel::pts) where given, else from its packets (no decoding). Empty for a video whose frames
// keep its average rate (each within a quarter frame of i / fps), or whose timestamps cannot tell frames apart.
std::vector<double> variable_frame_times(const VideoInfo& info, const std::vector<int64_t>* pts = nullptr);

// Full-resolution luma of the frames at these (ascending) indices, in one sequential pass that stops after the
// last of them. With `pts`, the timestamp of every frame (Reel::pts), the pass starts at the keyframe before the
// first of them instead of the first frame.
Status decode_gray_frames(const Context& ctx, const VideoInfo& info, const std::vector<int64_t>& indices,
                          std::vector<Gray>& out, const std::vector<int64_t>& pts = {});

// Black bars (letterbox, pillarbox) that every one of a few frames spread over the video shows (its first, and the
// keyframes at 1/6 ... 5/6 of it): rows and columns at the edges no brighter than luma 32 and flat (within 6
// levels along their length: black codes exactly, a night scene's dark edge does not), in at least three frames
// that show something else (frames dark all over, a fade, say nothing). Each bar at least 2% of the picture and
// 4 px, even-sized (4:2:0); none where they would leave less than half of it.
Bars find_bars(const VideoInfo& info);

// Reads probe data. Fails with kExitInput and a one-line reason for anything that is not a decodable video.
Status probe(const std::string& path, VideoInfo& info);

struct DecodeOptions {
  int width = 0;   // output size; 0 keeps the coded size
  int height = 0;
  // The colour frames are converted into: this range, and this matrix where both it and the frame's are given.
  Colour colour;
  int depth = 8;   // frames come as yuv420p (8) or yuv420p10le (10)
  Bars bars;       // cut off each frame before it is scaled (VideoInfo::bars)
};

// Sequential frames of one video in presentation order. Each Image stays valid until the next call.
class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // The next frame, or false at the end of the stream (or on a fatal error: see status()).
  virtual bool next(Image& out) = 0;
  // Index of the frame last returned by next() (-1 before the first).
  virtual int64_t index() const = 0;
  // Starts again from frame 0.
  virtual Status rewind() = 0;
  // Moves on so that next() returns frame `want` (> index() + 1), skipping the decoding of the frames before the
  // keyframe that precedes it where the file's timestamps tell frames apart. False: it did not move (or went back
  // to frame 0); decode forward instead.
  virtual bool skip_to(int64_t) { return false; }
  // Only these frames (ascending) will be asked for: the others need not be decoded where no frame refers to them.
  // next() then returns only some of the others (index() tells which); where the file's timestamps cannot tell its
  // frames apart it returns every frame as before.
  virtual void want_only(const std::vector<int64_t>&) {}
  // Fatal errors; decode errors mid-stream are logged and skipped while frames remain.
  virtual const Status& status() const = 0;
};

std::unique_ptr<FrameSource> open_frames(const Context& ctx, const std::string& path, const DecodeOptions& opt,
                                         Status& status);

// Follows a frame map through bg for the render and the preview: seek(want) leaves bg frame `want` in image(),
// decoding forward (from the start again where the map steps back), or bg's last frame when bg ends before it
// (warned once). Fails on decode errors and when bg has no frame at all; when interrupted it stops early and
// the caller, which checks ctx.interrupted() after it, says so.
// A jump of more than this many frames is made by FrameSource::skip_to (about 4 s at 25 fps).
constexpr int64_t kSkipFrames = 100;

class BgCursor {
 public:
  BgCursor(const Context& ctx, const std::string& path, FrameSource& src) : ctx_(ctx), path_(path), src_(src) {}
  Status seek(int64_t want);
  const Image& image() const { return img_; }

 private:
  const Context& ctx_;
  std::string path_;
  FrameSource& src_;
  Image img_;
  bool have_ = false, ended_ = false;
};

// Audio for the output: copy (or re-encode) `path`'s audio from source time `start` for `duration` seconds.
struct AudioPlan {
  std::string path;   // empty: no audio
  double start = 0.0; // source seconds that land at output time 0 (may be negative: audio starts later)
  double duration = 0.0;
  double speed = 1.0;  // source seconds per output second (a speed change): resampled, so never copied
};

struct EncodeOptions {
  std::string container = "mp4";  // output_container's name: mp4, mov or matroska
  int width = 0;   // even
  int height = 0;  // even
  Rational fps;    // the average rate; frame i is shown at i / fps, or at times[i] where those are given
  std::vector<double> times;  // seconds from the first frame (a variable-rate fg's own times); empty: constant rate
  Colour colour;   // written into the stream's header (range, matrix, primaries, transfer)
  Rational sar{1, 1};  // the pixels' shape, written into the stream's header
  int depth = 8;       // 8: yuv420p (High profile); 10: yuv420p10le (High 10), the frames written have this depth
  int crf = 18;
  std::string preset = "medium";
  AudioPlan audio;
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  // Frame i of the output (i counts calls); the image may be larger than the output and is cropped.
  virtual Status write(const Image& frame) = 0;
  // Flushes the encoder and audio and closes the file. Only a finished file is complete.
  virtual Status finish() = 0;
};

// H.264 (libx264, yuv420p or yuv420p10le) in opt.container (MP4 and MOV with +faststart), written to `path` (the caller's
// temporary name).
std::unique_ptr<Encoder> open_encoder(const Context& ctx, const std::string& path, const EncodeOptions& opt,
                                      Status& status);

}  // namespace vidkompy
