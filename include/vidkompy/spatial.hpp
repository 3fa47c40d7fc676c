// Spatial alignment: where fg sits inside bg (x, y, scale) by FFT phase correlation. Candidates come from the
// phase-correlation surface; each is verified by normalised cross-correlation (NCC) in the pixel domain, which
// also handles the template being smaller than bg and gives the confidence. Coarse-to-fine over a pyramid.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vidkompy/types.hpp"
#include "vidkompy/video.hpp"

namespace vidkompy {

struct Context;

// A float picture, tightly packed, with optional summed-area tables of its values and squares, so NCC needs
// only the cross term per pixel (build_sums()).
struct GrayF {
  int w = 0, h = 0;
  std::vector<float> px;
  std::vector<double> sum, sum2;  // (w + 1) x (h + 1): sums over [0, x) x [0, y)
  float at(int x, int y) const { return px[size_t(y) * w + x]; }
  void build_sums();
};

// The FFT seam: phase correlation of one template against a batch of reference images, all zero-padded onto a
// canvas of h x w. torch::fft on the CPU; cuFFT on the GPU (issue #7) must give the same surfaces.
class Fft2d {
 public:
  virtual ~Fft2d() = default;
  // Keeps the spectra of the references (each h x w, already windowed and zero-padded).
  virtual void set_references(const std::vector<std::vector<float>>& refs, int h, int w) = 0;
  // surfaces[r] = IFFT(R_r * conj(T) / |R_r * conj(T)|) for the h x w template; peak at T's offset in R_r.
  // Called from several threads at once (one fg sample each) between set_references calls.
  virtual void phase_correlate(const std::vector<float>& templ, std::vector<std::vector<float>>& surfaces) = 0;
};

// torch::fft (pocketfft inside LibTorch) on the CPU.
std::unique_ptr<Fft2d> make_cpu_fft();

// Resizes with area averaging when shrinking and bicubic when enlarging (libswscale).
Gray resize_gray(const Gray& src, int w, int h);

// Solves the n x n system a x = r in place (Gaussian elimination with partial pivoting); false if singular.
bool solve_linear(std::vector<double>& a, std::vector<double>& r, int n);

// fg's own overlays (a station logo, a subtitle box, a timecode burned in): they do not move with the picture, and
// pull NCC fits and matches towards wherever they happen to look like bg. Found on pairs of pictures of one w x h
// grid, fg's and bg's (fgs[k], bgs[k]: w x h values, bg < 0 where it shows nothing), matched at the same moment
// (or nearly): the pixels where fg, brought to bg's levels by gain and offset, differs from bg in every pair (of
// 3 or more) by over 0.15 of bg's standard deviation from the range bg spans within `reach` pixels of it (so that
// a placement a pixel or two off flags no edge, and motion, which differs between pairs, flags nothing). Kept
// where solid (3 or more of 8 neighbours differ too) and large (joined within 2 pixels, 0.1% of the picture or
// more: clipped highlights and grain are neither); rows where 8% differ are taken whole (the parts of a subtitle
// box over dark picture, the gaps between letters); grown by a pixel. Returns 1 for those, 0 elsewhere, and their
// share of the pixels shown in `share`; empty where under 1% or over 40% differ (nothing that matters; or no
// overlay but another picture, a regrade).
std::vector<uint8_t> overlay_mask(const std::vector<std::vector<float>>& fgs, const std::vector<std::vector<float>>& bgs,
                                  int w, int h, int reach, double* share = nullptr);

// Normalised cross-correlation of template t placed with its top-left at (x, y) in b, over their overlap. With
// `cover` (the coarse search on thumbnails, which picks the candidates), where over 5% of t lies outside b, times
// the square root of the share of t's variance inside (the part of t over bg's edge counts as matching nothing). Returns a value in [-1, 1]; 0 when either side is flat (no detail), -1 when they overlap less than
// half of t.
double ncc_at(const GrayF& t, const GrayF& b, int x, int y, bool cover = false);

// A smooth FFT-friendly size >= n (only factors 2, 3 and 5).
int fft_size(int n);

struct SpatialOptions {
  // Smallest fg on bg the search considers, as a fraction of bg's width (or height, whichever is larger).
  double min_cover = 0.1;
  // Prefer the unscaled placement when it scores within this much NCC of the best scale.
  double prefer_unscaled = 0.01;
  // The scale that shows fg unscaled: 1.0, or the reel's factor when bg is searched at reduced size.
  double unscaled = 1.0;
  // Peak sharpness (phase-correlation peak over its surface, in standard deviations) that counts as fully
  // distinct; below it the confidence is scaled down in proportion. Measured: chance matches of unrelated pairs
  // 0.6-11.2, real pairs 17.8-435 (20 and more on real footage), a synthetic crop with heavy noise 12.2.
  double sharp_peak = 16.0;
  // The same where every fg sample's best bg frame shows it at one time offset (SpatialInput::fg_times): three
  // moments of fg found in bg in their own order and spacing are not a chance match of a soft picture. Measured: a
  // real crop of the soft cockatoo clip 7.3 (exit 3 before), chance matches 0.6-11.2 (none of them so timed).
  double sharp_peak_timed = 8.0;
};

struct SpatialInput {
  int bg_w = 0, bg_h = 0;
  std::vector<Gray> fg;                  // full-resolution fg samples
  std::vector<Gray> bg_thumbs;           // every thumb_stride-th bg frame, small, all the same size
  int64_t thumb_stride = 1;              // bg frames per thumbnail: thumbnail m shows bg frame m * thumb_stride
  // Seconds: each fg sample's time and one frame's duration of either video (empty / 0: unknown, no evidence).
  std::vector<double> fg_times;
  double fg_frame_s = 0, bg_frame_s = 0;
  // Coarse references beyond the 32 evenly spread thumbnails: those whose brightness histogram overlaps an fg
  // sample's most. For a long bg, whose spread thumbnails are far apart in time.
  int likely_refs = 0;
  // Full-resolution bg frames first .. first+count-1 (fewer at the end of the video).
  std::function<std::vector<Gray>(size_t first, size_t count)> bg_frames;
};

struct SpatialResult {
  Placement placement;
  int fg_sample = -1;     // the fg sample and bg thumbnail that decided it
  int64_t bg_thumb = -1;  // as a bg frame index
  int agreeing = 0;       // fg samples whose best-matching bg frame confirms the placement (NCC >= 0.5)
  bool timed = false;     // every fg sample matched well at one time offset (SpatialOptions::sharp_peak_timed)
  std::vector<std::string> notes;  // how the search went, for --verbose
};

// Finds the placement of fg in bg. Pure apart from the bg_frame callback: no I/O of its own.
// Coarse (thumbnails): phase correlation of every fg sample at every scale of a geometric grid against an even
// subset of bg thumbnails (and in.likely_refs more, chosen by their brightness histograms), peaks verified by NCC. Then each candidate pairs every fg sample with its
// best-matching bg thumbnail over all of them (the same moment, so motion and zoom cannot fake a match) and
// re-fits the scale there; candidates compete on their mean NCC. Medium (~640 px): golden-section over scale.
// Finest level (bg frames as given: full size, or a reel): scale again, translation, then refine_subpixel.
// Confidence: that pair's NCC, scaled down where fg's phase-correlation peak stands less than opt.sharp_peak
// standard deviations above the rest of the surface (a chance match does not stand out): in that pair, or summed
// over every fg sample that confirms the placement with its best bg frame, whichever stands out more; half as much
// suffices where those frames show the samples at one time offset (SpatialResult::timed).
SpatialResult find_placement(const SpatialInput& in, Fft2d& fft, const SpatialOptions& opt = {});

// Sub-pixel polish of a placement on fg frames paired with the bg frames of the same moment (fg, bg): Gauss-Newton
// on the pixel difference over x, y and a continuous scale (kept when fix_scale), with gain and offset per pair.
// Returns the start when it does not converge near it or fits worse. Pure: no I/O.
Placement refine_subpixel(const std::vector<std::pair<const Gray*, const Gray*>>& frames, const Placement& start,
                          bool fix_scale);

// Re-fits a placement on fg frames and the bg frames the temporal map gives them (bg[k]: the matched frame, then
// its neighbours; the one showing the very same moment fits best, a neighbour only by 0.001 NCC or more): hill
// climbing on NCC, then refine_subpixel
// over the pairs that fit within 0.002 NCC of the best (those show the very same moment), from the median of
// their whole-pixel fits, or from the start unless those fits match better than it by 0.001 NCC on average (on
// smooth content they would only wander). The scale is refined too unless fix_scale. With `one_moment` (pairs
// chosen to show one moment each), a pair whose own fit lies over 0.75 px from the others' median is left out
// while most of five or more agree. Pure: no I/O.
Placement refine_on_pairs(const std::vector<Gray>& fg, const std::vector<std::vector<Gray>>& bg,
                          const Placement& start, bool fix_scale, bool one_moment = false);

// The stage's second look: twelve fg frames spread over the matched range and the bg frames the map gives them,
// from the reels (nothing decoded again), and re-fits the placement there (refine_on_pairs). Only a change of
// over half a reel pixel (at fg's far edge) is taken; `moved` tells so, and the map should then be matched again.
// `agree`, where given: the mean NCC of the spread pairs at the placement kept (on the reels; -1 where not
// measured: a long pair's full-size re-check). A right placement and map give 0.85-1 (kRecheckFloor).
// `runner_up`, where given, gets the placement of the map moved a frame where that fitted within 0.001 NCC of the
// map as it is without being taken, and lies over half a pixel away (else it is left alone): along a tilt the two
// can fit the reels alike, and only matching again on it tells them apart.
Status recheck_placement(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const Reel& bg_reel,
                         const Reel& fg_reel, const TimeMap& time, Placement& placement, bool& moved,
                         double* agree = nullptr, std::optional<Placement>* runner_up = nullptr);

// Below this agreement of the re-check's pairs the alignment is refused (exit 3): fg is not where it was placed
// (fg's own overlays over smooth picture can fake a placement that then wanders from one re-check to the next).
constexpr double kRecheckFloor = 0.6;

// The placement to a small fraction of a pixel: re-fitted at full resolution on six pairs early in the match
// that show one moment (the matched bg frame alone, decoded again). Along a pan a placement a fraction of a pixel
// off reads as a fraction of a frame in time (0.4 px cost 18% of exact frames on random9_s15 in bench/pairs);
// the reels cannot see that finely. With the alignment's reels (their frames' timestamps and keyframes) each video
// is decoded from the keyframe before the first pair, not its start, and the pairs are taken where that decodes
// least. How far it moved: px_apart.
Status polish_placement(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const TimeMap& time,
                        Placement& placement, const Reel& bg_reel = {}, const Reel& fg_reel = {});

// How far apart two placements of fg put it, in bg pixels: the larger offset, or the scale's change at fg's far edge.
double px_apart(const Placement& a, const Placement& b, const VideoInfo& fg);

// Below this confidence the placement is rejected (exit 3): measured on unrelated pairs, see README.
constexpr double kSpatialThreshold = 0.7;

// The stage: find the placement from the reels (bg at reel size, fg's full-size samples), nothing decoded again;
// fail with exit 3 below the threshold.
// `samples`: fg's samples to search with instead of the reel's (with its burned-in overlays hidden: hide_static;
// or other frames of fg), and `sample_index` their frame numbers where they are not the reel's samples.
Status place(Context& ctx, const VideoInfo& bg, const VideoInfo& fg, const Reel& bg_reel, const Reel& fg_reel,
             Placement& placement, const std::vector<Gray>* samples = nullptr,
             const std::vector<int64_t>* sample_index = nullptr);

// fg's burned-in overlays (subtitles, a logo) from fg alone: the edges that are in the same place in every one of
// `samples` (3 or more, spread over fg), facing the same way, while the picture around them changes. On a grid up
// to 256 px wide an edge is a pixel whose gradient is in its sample's top fifth (and 8 levels or more); kept where
// every sample has one, rising or falling along the same axis, and solid (3 of 8 neighbours); grown by 3 px; filled with each sample's mean elsewhere. Returns the share hidden;
// nothing where under 0.5% or over 30% of the picture is such (a static shot keeps all its edges).
double hide_static(std::vector<Gray>& samples);

}  // namespace vidkompy
