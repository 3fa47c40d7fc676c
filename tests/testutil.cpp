// Implementation of the shared test helpers.
#include "testutil.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>
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

namespace {

using nlohmann::json;

bool has_type(const json& v, const std::string& t) {
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "integer") return v.is_number_integer();
  if (t == "number") return v.is_number();
  if (t == "boolean") return v.is_boolean();
  if (t == "null") return v.is_null();
  return false;
}

void check(const json& root, const json& schema, const json& v, const std::string& at, std::vector<std::string>& errs) {
  if (schema.contains("$ref")) {
    const std::string ref = schema["$ref"];  // "#/$defs/name"
    return check(root, root.at(json::json_pointer(ref.substr(1))), v, at, errs);
  }
  if (schema.contains("type")) {
    bool ok = false;
    if (schema["type"].is_array()) {
      for (const json& t : schema["type"]) ok = ok || has_type(v, t);
    } else {
      ok = has_type(v, schema["type"]);
    }
    if (!ok) return errs.push_back(at + ": " + v.dump().substr(0, 40) + " is not " + schema["type"].dump());
  }
  if (schema.contains("enum") && std::find(schema["enum"].begin(), schema["enum"].end(), v) == schema["enum"].end())
    errs.push_back(at + ": " + v.dump() + " is not one of " + schema["enum"].dump());
  if (v.is_number()) {
    const double d = v.get<double>();
    if (schema.contains("minimum") && d < schema["minimum"].get<double>()) errs.push_back(at + ": below minimum");
    if (schema.contains("maximum") && d > schema["maximum"].get<double>()) errs.push_back(at + ": above maximum");
    if (schema.contains("exclusiveMinimum") && d <= schema["exclusiveMinimum"].get<double>())
      errs.push_back(at + ": not above exclusiveMinimum");
  }
  if (v.is_object()) {
    for (const json& r : schema.value("required", json::array()))
      if (!v.contains(r.get<std::string>())) errs.push_back(at + ": missing " + r.get<std::string>());
    const json props = schema.value("properties", json::object());
    for (const auto& [key, value] : v.items()) {
      if (props.contains(key)) {
        check(root, props[key], value, at + "." + key, errs);
      } else if (schema.contains("additionalProperties")) {
        const json& extra = schema["additionalProperties"];
        if (extra.is_boolean() && !extra.get<bool>()) errs.push_back(at + ": unexpected " + key);
        if (extra.is_object()) check(root, extra, value, at + "." + key, errs);
      }
    }
  }
  if (v.is_array() && schema.contains("items"))
    for (size_t i = 0; i < v.size(); ++i) check(root, schema["items"], v[i], at + "[" + std::to_string(i) + "]", errs);
}

}  // namespace

std::vector<std::string> report_schema_errors(const std::string& report_text) {
  const json schema = json::parse(slurp(VIDKOMPY_SOURCE_DIR "/docs/report.schema.json"));
  std::vector<std::string> errs;
  const json report = json::parse(report_text, nullptr, false);
  if (report.is_discarded()) return {"not JSON"};
  check(schema, schema, report, "report", errs);
  return errs;
}

vidkompy::Context quiet_context() {
  vidkompy::Context ctx;
  ctx.log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  return ctx;
}

vidkompy::Context logging_context(std::ostringstream& log) {
  vidkompy::Context ctx;
  ctx.log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_st>(log));
  ctx.log->set_level(spdlog::level::debug);
  return ctx;
}

std::unique_ptr<vidkompy::ImageBuffer> copy_image(const vidkompy::Image& img) {
  auto buf = std::make_unique<vidkompy::ImageBuffer>(img.width, img.height, img.depth);
  for (int p = 0; p < 3; ++p) {
    const vidkompy::Plane& s = img.plane[p];
    vidkompy::Plane& d = buf->image.plane[p];
    for (int r = 0; r < s.height; ++r) std::memcpy(d.row(r), s.row(r), size_t(s.width) * img.bytes());
  }
  return buf;
}

std::vector<std::unique_ptr<vidkompy::ImageBuffer>> decode_all(const std::string& path, int w, int h, int depth) {
  vidkompy::Context ctx = quiet_context();
  vidkompy::Status st;
  std::vector<std::unique_ptr<vidkompy::ImageBuffer>> frames;
  auto src = vidkompy::open_frames(ctx, path, {w, h, {}, depth}, st);
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
