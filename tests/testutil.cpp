// Implementation of the shared test helpers.
#include "testutil.hpp"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace vt {

TempDir::TempDir() {
  std::string templ = (fs::temp_directory_path() / "vidkompy-test-XXXXXX").string();
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(path_, ec);
}

std::vector<std::string> TempDir::list() const {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(path_)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

bool ffmpeg(const std::string& args) {
  const std::string cmd = "ffmpeg -nostdin -v error -y " + args;
  const int rc = std::system(cmd.c_str());
  if (rc != 0) ADD_FAILURE() << "ffmpeg failed: " << cmd;
  return rc == 0;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Run vidkompy(const std::vector<std::string>& args) { return run_binary(VIDKOMPY_BIN, args); }

Run run_binary(const std::string& binary, const std::vector<std::string>& args) {
  TempDir io;
  std::string cmd = quote(binary);
  for (const std::string& a : args) {
    cmd += ' ';  // not " " + quote(a): GCC 12 warns falsely (-Wrestrict) about "literal" + std::string&&
    cmd += quote(a);
  }
  cmd += " </dev/null >" + quote(io / "out") + " 2>" + quote(io / "err");
  const int rc = std::system(cmd.c_str());
  Run r;
  r.code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  r.out = slurp(io / "out");
  r.err = slurp(io / "err");
  return r;
}

vidkompy::Context quiet_context() {
  vidkompy::Context ctx;
  ctx.log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  return ctx;
}

std::unique_ptr<vidkompy::ImageBuffer> copy_image(const vidkompy::Image& img) {
  auto buf = std::make_unique<vidkompy::ImageBuffer>(img.width, img.height);
  for (int p = 0; p < 3; ++p) {
    const vidkompy::Plane& s = img.plane[p];
    vidkompy::Plane& d = buf->image.plane[p];
    for (int r = 0; r < s.height; ++r) std::memcpy(d.row(r), s.row(r), size_t(s.width));
  }
  return buf;
}

std::vector<std::unique_ptr<vidkompy::ImageBuffer>> decode_all(const std::string& path, int w, int h) {
  vidkompy::Context ctx = quiet_context();
  vidkompy::Status st;
  std::vector<std::unique_ptr<vidkompy::ImageBuffer>> frames;
  auto src = vidkompy::open_frames(ctx, path, {w, h}, st);
  EXPECT_TRUE(st.ok()) << (st.errors.empty() ? "" : st.errors[0]);
  if (!src) return frames;
  vidkompy::Image img;
  while (src->next(img)) frames.push_back(copy_image(img));
  return frames;
}

double psnr(const vidkompy::Image& a, const vidkompy::Image& b, int p, vidkompy::Rect r, int bx, int by) {
  if (bx < 0) bx = r.x;
  if (by < 0) by = r.y;
  double se = 0;
  for (int y = 0; y < r.h; ++y) {
    const uint8_t* pa = a.plane[p].row(r.y + y) + r.x;
    const uint8_t* pb = b.plane[p].row(by + y) + bx;
    for (int x = 0; x < r.w; ++x) {
      const double d = double(pa[x]) - pb[x];
      se += d * d;
    }
  }
  const double mse = se / (double(r.w) * r.h);
  return mse <= 0 ? 99.0 : 10 * std::log10(255.0 * 255.0 / mse);
}

}  // namespace vt
