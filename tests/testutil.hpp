// Helpers shared by the test suites: temporary folders, generating clips with the ffmpeg CLI, running the
// vidkompy binary, decoding frames through the library and comparing pictures.
#pragma once
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "vidkompy/compositor.hpp"
#include "vidkompy/options.hpp"
#include "vidkompy/video.hpp"

namespace vt {

// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  // Names of the entries in the folder (sorted), to check that nothing partial was left behind.
  std::vector<std::string> list() const;

 private:
  std::string path_;
};

// Quotes one argument for /bin/sh.
std::string quote(const std::string& s);

// Runs `ffmpeg -v error -y <args>`; returns true on success. Example:
//   ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=2 -pix_fmt yuv420p " + quote(path))
bool ffmpeg(const std::string& args);

struct Run {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs the built vidkompy binary with these arguments (no shell interpretation of them).
Run vidkompy(const std::vector<std::string>& args);
Run run_binary(const std::string& binary, const std::vector<std::string>& args);  // another copy of it

// Checks a report against docs/report.schema.json; returns one line per violation (empty: valid). Supports the
// keywords that schema uses: type, required, properties, additionalProperties, items, enum, minimum, maximum,
// exclusiveMinimum and local $ref.
std::vector<std::string> report_schema_errors(const std::string& report_text);

// A Context whose logger discards everything (for calling library stages directly).
vidkompy::Context quiet_context();
// A Context whose logger writes every message, debug ones too, to `log` (for tests that check what a stage did).
vidkompy::Context logging_context(std::ostringstream& log);

// All frames of a video decoded as YUV 4:2:0 at its own size (or w x h when given), 8-bit (or 10-bit: depth 10).
std::vector<std::unique_ptr<vidkompy::ImageBuffer>> decode_all(const std::string& path, int w = 0, int h = 0,
                                                               int depth = 8);

// Copies an Image into an owning buffer.
std::unique_ptr<vidkompy::ImageBuffer> copy_image(const vidkompy::Image& img);

// PSNR in dB of plane `p` (0 = Y) of a over rect r (in that plane's coordinates) against plane p of b, where
// b's rect starts at (bx, by). Returns 99 for identical pixels.
double psnr(const vidkompy::Image& a, const vidkompy::Image& b, int p, vidkompy::Rect r, int bx = -1, int by = -1);

// Reads a whole file.
std::string slurp(const std::string& path);

}  // namespace vt
