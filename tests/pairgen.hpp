// Test pairs with exact temporal ground truth: a source decoded once to raw frames, and bg/fg encoded from
// explicit lists of source frame numbers, so the bg frames showing each fg frame's moment are known exactly.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "testutil.hpp"

namespace vt {

// An exact frame rate.
struct Fps {
  int64_t num = 0;
  int64_t den = 1;
  double value() const { return double(num) / double(den); }
  std::string str() const { return std::to_string(num) + "/" + std::to_string(den); }
};

// Raw yuv420p source frames, all w x h at `fps`. `timeline` is the source as the clips see it: virtual source
// frame -> stored frame. It is the identity unless frames were held (a static segment repeats one stored frame).
struct Source {
  int w = 0, h = 0;
  Fps fps{60, 1};
  std::vector<uint8_t> yuv;
  std::vector<int> timeline;
  size_t frame_bytes() const { return size_t(w) * size_t(h) * 3 / 2; }
  int frames() const { return int(timeline.size()); }
  const uint8_t* frame(int v) const { return yuv.data() + size_t(timeline[size_t(v)]) * frame_bytes(); }
};

// Appends `seconds` of an ffmpeg lavfi graph (which must run at s.fps) brought to s.w x s.h.
inline bool append_lavfi(Source& s, const std::string& graph, double seconds) {
  const std::string cmd = "ffmpeg -nostdin -v error -f lavfi -i " + quote(graph) + " -t " + std::to_string(seconds) +
                          " -an -vf " + quote("scale=" + std::to_string(s.w) + ":" + std::to_string(s.h)) +
                          " -f rawvideo -pix_fmt yuv420p -";
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return false;
  const size_t before = s.yuv.size();
  std::vector<uint8_t> buf(1 << 16);
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;) s.yuv.insert(s.yuv.end(), buf.begin(), buf.begin() + long(n));
  const int rc = ::pclose(f);
  const size_t added = s.yuv.size() - before;
  if (rc != 0 || added == 0 || added % s.frame_bytes()) {
    ADD_FAILURE() << "decoding the source failed: " << cmd;
    return false;
  }
  const int stored = int(before / s.frame_bytes());
  for (int i = 0; i < int(added / s.frame_bytes()); ++i) s.timeline.push_back(stored + i);
  return true;
}

// Holds virtual frame v: it is shown `extra` more times (a static segment of extra / fps seconds).
inline void hold(Source& s, int v, int extra) {
  s.timeline.insert(s.timeline.begin() + v + 1, size_t(extra), s.timeline[size_t(v)]);
}

// The virtual source frames a clip at `fps` shows when it covers source frames [first, last): frame k shows
// round-half-up(first + k * source_fps / fps), while that is below `last`.
inline std::vector<int> pick(const Source& s, Fps fps, int first, int last) {
  if (last > s.frames()) last = s.frames();
  std::vector<int> out;
  // k * (sn / sd) / (fn / fd) = k * sn * fd / (sd * fn); round half up in integers.
  const int64_t num = s.fps.num * fps.den, den = s.fps.den * fps.num;
  for (int64_t k = 0;; ++k) {
    const int64_t v = first + (2 * k * num + den) / (2 * den);
    if (v >= last) break;
    out.push_back(int(v));
  }
  return out;
}

// Encodes the listed virtual frames as H.264 at `fps` (`vf`: optional filters, e.g. a crop and a scale). One
// encoder thread, so that every machine writes the same bytes.
inline bool encode(const Source& s, const std::vector<int>& frames, Fps fps, const std::string& vf, int crf,
                   const std::string& path) {
  std::string cmd = "ffmpeg -nostdin -v error -y -f rawvideo -pix_fmt yuv420p -s " + std::to_string(s.w) + "x" +
                    std::to_string(s.h) + " -framerate " + fps.str() + " -i -";
  if (!vf.empty()) cmd += " -vf " + quote(vf);
  cmd += " -c:v libx264 -preset veryfast -threads 1 -crf " + std::to_string(crf) +
         " -pix_fmt yuv420p " + quote(path);
  FILE* f = ::popen(cmd.c_str(), "w");
  if (!f) return false;
  bool ok = true;
  for (int v : frames) ok = ok && std::fwrite(s.frame(v), 1, s.frame_bytes(), f) == s.frame_bytes();
  const int rc = ::pclose(f);
  if (!ok || rc != 0) ADD_FAILURE() << "encoding failed: " << cmd;
  return ok && rc == 0;
}

// For each fg frame, the acceptable bg frames: those whose virtual source frame is nearest to the fg frame's
// (ties give several), and any bg frame showing the very same stored picture (a held frame).
inline std::vector<std::vector<int64_t>> truth(const Source& s, const std::vector<int>& fg, const std::vector<int>& bg) {
  std::vector<std::vector<int64_t>> best(fg.size());
  for (size_t i = 0; i < fg.size(); ++i) {
    int d = std::numeric_limits<int>::max();
    for (int b : bg) d = std::min(d, std::abs(b - fg[i]));
    for (size_t j = 0; j < bg.size(); ++j)
      if (std::abs(bg[j] - fg[i]) == d || s.timeline[size_t(bg[j])] == s.timeline[size_t(fg[i])])
        best[i].push_back(int64_t(j));
  }
  return best;
}

}  // namespace vt
