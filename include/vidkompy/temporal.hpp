// Temporal alignment: which bg frame shows the moment of each fg frame. The overlap region of every frame is
// embedded (TorchScript), FAISS k-NN proposes candidates, a robust line fit gives the time relation, a banded
// monotonic DTW follows the evidence around it, and a pixel comparison of small thumbnails picks the exact frame.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vidkompy/types.hpp"
#include "vidkompy/video.hpp"

namespace vidkompy {

struct Context;

// Input of the embedder: RGB floats in [0, 1], N x 3 x kEmbedInput x kEmbedInput (the size the bundled network
// works at). Output: N x D, L2-normalised.
constexpr int kEmbedInput = 96;

class Embedder {
 public:
  virtual ~Embedder() = default;
  // Embeds n pictures (n x 3 x kEmbedInput x kEmbedInput floats) into n x dim() floats, L2-normalised.
  virtual void embed(const float* pictures, int n, float* out) = 0;
  virtual int dim() const = 0;
  virtual std::string name() const = 0;
  virtual std::string device() const { return "cpu"; }  // where it runs: "cpu" or "cuda"
};

// Loads a TorchScript image embedder (any model with the signature above). Throws std::runtime_error. With
// `gpu`, it runs on CUDA when the LibTorch it was built with sees a device (Debian's LibTorch is CPU-only: a GPU
// build compiles the plugin against a CUDA LibTorch), else on the CPU.
std::unique_ptr<Embedder> load_torchscript_embedder(const std::string& path, int threads, bool gpu = false);

// Where the bundled model is: next to the binary (models/), then under the install prefix. Empty if absent.
std::string default_model_path();

// What the decode pass keeps per frame: its embedding and a small gray thumbnail of the overlap region.
constexpr int kThumb = 128;  // thumbnails are kThumb x kThumb
constexpr int kChroma = 32;  // Features::chroma is kChroma x kChroma: thumbnail pixel (x, y) has (x / 4, y / 4)'s
struct Features {
  int dim = 0;
  std::vector<float> emb;       // frames x dim
  std::vector<uint8_t> thumbs;  // frames x kThumb x kThumb; empty for a long pair (MatchOptions::scores)
  // bg's only, with its thumbnails: frames x 2 x kChroma x kChroma, the picture's U then V (BT.601, 128
  // neutral), for grade_map.
  std::vector<uint8_t> chroma;
  size_t frames() const { return dim ? emb.size() / size_t(dim) : 0; }
  const float* e(size_t i) const { return &emb[i * size_t(dim)]; }
  const uint8_t* t(size_t i) const { return &thumbs[i * kThumb * kThumb]; }
  // Frame i's chroma; null where none is kept.
  const uint8_t* c(size_t i) const {
    const size_t n = size_t(2) * kChroma * kChroma;
    return chroma.size() == frames() * n ? &chroma[i * n] : nullptr;
  }
};

// Whether a pair is too long to keep a thumbnail of every frame of both videos in memory (over half of
// ctx.memory_budget; 32k frames at 1 GiB, about ten minutes of 25 + 30 fps). Then the reels are sparse, the
// features keep embeddings only (1 KB a frame), and the exact-frame pass reads both videos again in step.
bool long_pair(const Context& ctx, const VideoInfo& bg, const VideoInfo& fg);

// bg index = slope * fg index + offset.
struct TimeLine {
  double slope = 1.0;
  double offset = 0.0;
  int inliers = 0;
  // fit_line's vote for the best other offset (over two bins away), as a share of the winner's: near 1 where the
  // footage repeats itself (loops, periodic patterns) and the vote alone cannot tell where fg lies.
  double runner_up = 0.0;
};

// OpenBLAS on one thread (FAISS's k-NN and the thumbnail products): our products are small, and between calls its
// idle workers spin on sched_yield for about 0.1 s, taking a core from the decoders. Measured: k-NN of 500
// against 600 frames 4.0 -> 1.2 ms, 20,000 against 20,000 frames' matching 4.39 -> 4.49 s, the benchmark pair's
// alignment 0.2-0.35 s of CPU less. Call once, before the alignment's threads start.
void use_one_blas_thread();

// Candidate bg frames for each fg frame (FAISS inner-product k-NN): k per fg frame, best first.
struct Candidates {
  int k = 0;
  std::vector<int64_t> index;  // fg frames x k (-1 where fewer exist)
  std::vector<float> sim;      // fg frames x k
};
Candidates knn(const Features& fg, const Features& bg, int k);

// Robust line through the candidates: the slope is the frame-rate ratio, the offset found by weighted voting and
// refined over the inliers. (match_frames follows drift on exact matches, not on these candidates.)
TimeLine fit_line(const Candidates& c, double rate_ratio);

// Weights of thumbnail pixels for border-aware matching: 1 inside, `band_weight` within the seam band
// (the minimal border mask scaled to the thumbnail). Default: uniform. Halved twice when made, as thumb_ncc
// compares at three scales.
class ThumbWeights {
 public:
  ThumbWeights() = default;
  explicit ThumbWeights(const std::vector<float>& w);  // kThumb x kThumb
  // The weights at the three scales, one after the other; null when uniform.
  const float* levels() const { return levels_.empty() ? nullptr : levels_.data(); }

 private:
  std::vector<float> levels_;
};

struct MatchOptions {
  int band = 12;               // DTW band half-width in bg frames around the line
  // Cost per bg frame of distance from the line: it decides only where frames look alike (static scenes).
  double line_weight = 0.004;       // pass 1, embeddings: keeps the path near the line unless content disagrees
  double fine_line_weight = 0.25;   // pass 2, thumbnails: the line's pull per bg frame, in units of the noise floor
  double between_line_weight = 1.5;  // the same for an fg frame showing a moment between two bg frames
  double cadence_weight = 1.0;  // the same towards the bg frames a fitted source cadence names (exact, not +-0.5)
  double fg_fps = 0, bg_fps = 0;     // nominal rates, for the source-cadence model (0: line only)
  ThumbWeights weights;
  bool coarse_by_thumbs = false;  // pass 1 on the 32 px thumbnails (weighted), not the embeddings: overlays, grades
  // The placement was re-fitted on matched frames (a re-match): the thumbnails' offset scan may then overrule the
  // embeddings' vote on a paired test (match_line).
  bool refitted = false;
  // Pass 2's scores when the features hold no thumbnails (a long pair): fills nccs[q] with the thumbnail NCC of
  // fg frame first + q against bg frames lo[q]..hi[q] (both ascending in q). False: stop, no map.
  std::function<bool(size_t first, const std::vector<int64_t>& lo, const std::vector<int64_t>& hi,
                     std::vector<std::vector<double>>& nccs)>
      scores;
};

// Weighted NCC of two thumbnails, in [-1, 1]; 0 when either is flat.
double thumb_ncc(const uint8_t* a, const uint8_t* b, const ThumbWeights& w);

// Every offset of the line (slope given, offset in whole bg frames) against the thumbnails at 32 x 32: the mean
// cost (1 - NCC) of the frames it runs through. Empty without thumbnails (a long pair).
struct OffsetScan {
  std::vector<std::pair<double, double>> cost;  // offset, mean cost
  double fine = 0;                              // the best offset to a twentieth of a frame
  double at(double offset) const;               // the nearest scanned offset's cost (infinity: none)
  std::pair<double, double> best() const;       // offset, cost (cost infinity: none)
};
OffsetScan scan_offsets(const Features& fg, const Features& bg, double slope, const ThumbWeights& w);
// The same for several slopes at once (one matrix product).
std::vector<OffsetScan> scan_offsets(const Features& fg, const Features& bg, const std::vector<double>& slopes,
                                     const ThumbWeights& w);

// Both videos as frame-rate conversions of one source of `rate` fps: fg frame i shows source frame
// floor(i pf + a), bg frame j floor(j pb + b). rate 0: no such source was found.
struct Cadence {
  double rate = 0, pf = 0, pb = 0, a = 0, b = 0;
  // The bg frames showing the source frame nearest fg frame i's (one, or a run of repeats), searched near `near`.
  std::pair<int64_t, int64_t> bg_frames(int64_t i, int64_t near) const;
};

// fg frame `fg` shows the source frame that bg frames lo..hi show (hi > lo: bg repeats it).
struct Shown {
  int64_t fg = 0, lo = 0, hi = 0;
};
// Consecutive frames that clearly show different moments: fg frames i and i + 1, bg frames j and j + 1.
struct Changes {
  std::vector<int64_t> fg, bg;
};
// Fits a Cadence to fg/bg frame pairs known to show one moment, fg frames known to fall between two bg frames
// and the changes (a cadence must show another source frame there); rate 0 unless it explains them (and better
// than the line).
Cadence fit_cadence(const std::vector<Shown>& exact, const std::vector<int64_t>& between,
                    const TimeLine& line, double fg_fps, double bg_fps, const Changes& changes = {});

struct MatchResult {
  TimeMap time;
  TimeLine line;     // the main piece's
  Cadence cadence;   // the main piece's
  // Stretches [first, end) of fg matched on time lines of their own (an edited fg), besides the main one.
  std::vector<std::pair<size_t, size_t>> pieces;
};

// A grade (more contrast, crushed blacks, a curve per channel such as ffmpeg's `vintage`, more saturation): the
// levels of pictures bs as a function of those of fs, over pairs of pictures of the same moment (fs[k], bs[k],
// levels 0-255; pixels of weight 0 left out: fg's overlays). First a level map by distributions (the bs level at
// the same quantile as each fs level), then, where fs's chroma is given (fcs[k], 2 x kChroma x kChroma), a cubic
// in (level, U, V) added to it, for grades that move a level by its colour. Each is kept only where it fits bs's
// pixels clearly better than what is simpler (under 0.7 of the squared error a gain and offset leaves, or the
// level map for the cubic; NCC takes a gain and offset in its stride) and leaves under 3% of their variance
// (pictures of one moment; not pictures that do not match); else empty. The temporal stage grades bg's
// thumbnails as fg was (fs: bg's), so that bg loses the detail fg's grade lost.
struct Grade {
  std::vector<uint8_t> levels;  // level -> level; empty: none
  std::vector<double> cubic;    // added to levels' (or to the level itself); empty: none
  bool empty() const { return levels.empty() && cubic.empty(); }
  // One thumbnail (kThumb x kThumb) with its chroma (used by the cubic; null: without it).
  void apply(uint8_t* thumb, const uint8_t* chroma) const;
};
Grade grade_map(const std::vector<std::vector<float>>& fs, const std::vector<std::vector<uint8_t>>& fcs,
                const std::vector<std::vector<float>>& bs, const std::vector<float>& weights = {});

// The slope of the time line, bg frames per fg frame: the frame rates' ratio, unless the pair is a speed change
// (film at 24 fps run at 25 for PAL, or back: the same frames one for one at another rate), which fits the
// thumbnails clearly better (half the cost along its best line; the embeddings' vote on a long pair).
// `one`: the slope of one bg frame per fg frame in these features' units (1 / step for a sparse bg reel).
double speed_slope(const Features& fg, const Features& bg, double rate_ratio, const ThumbWeights& w, double one = 1.0);

// The map from features: line (the embeddings' vote, overruled by scan_offsets where the thumbnails fit another
// offset clearly better), banded DTW on embeddings, then the exact frame by thumbnails (a second DTW in a narrow
// band, pulled towards a fitted source cadence). Monotonic non-decreasing, except where stretches of fg that the
// line leaves unexplained (an edited fg) are matched on lines of their own. The slope: speed_slope's. Pure: no I/O.
MatchResult match_frames(const Features& fg, const Features& bg, double rate_ratio, const MatchOptions& opt);

// Below this confidence the map is rejected (exit 3).
constexpr double kTemporalThreshold = 0.5;

// The stage: the overlap region of every frame of both videos (from the reels when they show it in enough detail,
// else decoded again), embed, match. Fails with exit 3 below the threshold. `refitted`: a re-match, on a placement
// re-fitted on the matched frames (MatchOptions::refitted).
Status match(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const Placement& placement, TimeMap& time,
             const Reel* bg_reel = nullptr, const Reel* fg_reel = nullptr, bool refitted = false);

}  // namespace vidkompy
