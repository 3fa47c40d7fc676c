// JSON for the alignment report (nlohmann-json). Schema: README, "Alignment report". Parsing never throws
// past this file: every library exception becomes an input-error Status naming the file.
#include "vidkompy/report.hpp"
#include "vidkompy/video.hpp"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace vidkompy {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json video_json(const VideoInfo& v) {
  json audio = nullptr;
  if (v.has_audio) audio = {{"codec", v.audio_codec}, {"sample_rate", v.audio_rate}, {"channels", v.audio_channels}};
  json j = {{"path", v.path},
          {"container", v.container},
          {"codec", v.codec},
          {"pix_fmt", v.pix_fmt},
          {"color_range", v.colour.full_range ? "pc" : "tv"},
          {"color_space", colour_name(v.colour.matrix)},
          {"width", v.width},
          {"height", v.height},
          {"fps", std::to_string(v.fps.num) + "/" + std::to_string(v.fps.den)},
          {"fps_value", v.fps.value()},
          {"frames", v.frames},
          {"duration", v.duration},
          {"start_time", v.start_time},
          {"rotation", v.rotation},
          {"audio", audio}};
  // fg's black bars, left out: width and height are the picture inside them, which spatial.x/y place.
  if (v.bars.any())
    j["bars"] = {{"left", v.bars.left}, {"top", v.bars.top}, {"right", v.bars.right}, {"bottom", v.bars.bottom}};
  return j;
}

// Finite number or throws a message for the caller to wrap.
double number_at(const json& obj, const char* key, const char* where) {
  if (!obj.contains(key)) throw std::runtime_error(std::string("missing ") + where + "." + key);
  const json& v = obj.at(key);
  if (!v.is_number()) throw std::runtime_error(std::string(where) + "." + key + " is not a number");
  const double d = v.get<double>();
  if (!std::isfinite(d)) throw std::runtime_error(std::string(where) + "." + key + " is not finite");
  return d;
}

}  // namespace

std::string report_json(const Report& r) {
  json timings = json::object();
  for (const StageTime& t : r.timings) timings[t.name] = std::round(t.seconds * 1e4) / 1e4;
  json j = {
      {"version", VIDKOMPY_VERSION},
      {"bg", video_json(r.bg)},
      {"fg", video_json(r.fg)},
      {"spatial",
       {{"x", r.spatial.x},
        {"y", r.spatial.y},
        {"scale", r.spatial.scale},
        {"confidence", r.spatial.confidence},
        {"x_px", std::lround(r.spatial.x)},
        {"y_px", std::lround(r.spatial.y)}}},
      {"temporal",
       {{"map", r.temporal.map},
        {"confidence", r.temporal.confidence},
        {"clamped_start", r.temporal.clamped_start},
        {"clamped_end", r.temporal.clamped_end},
        {"rate_ratio", r.temporal.model.empty() ? json(nullptr) : json(r.temporal.rate)},
        {"offset_seconds", r.temporal.model.empty() ? json(nullptr) : json(r.temporal.offset)},
        {"model", r.temporal.model.empty() ? json(nullptr) : json(r.temporal.model)}}},
      {"timings", timings},
  };
  // File names need not be UTF-8; replace what is not rather than throw.
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Status write_report(const std::string& dest, const Report& r) {
  std::string text;
  try {
    text = report_json(r);
  } catch (const std::exception& e) {
    return Status::Fail(kExitOutput, dest, std::string("cannot write the report: ") + e.what());
  }
  if (dest == "-") {
    std::cout << text << std::flush;
    return std::cout ? Status::Ok() : Status::Fail(kExitOutput, "<stdout>", "cannot write the report");
  }
  // Same rule as the video: write a hidden temporary file next to it, rename when complete.
  const fs::path d(dest);
  std::string name = ".";  // built with += : GCC 12 warns falsely (-Wrestrict) about "literal" + std::string&&
  name += d.filename().string();
  name += ".vidkompy-";
  name += std::to_string(::getpid());
  const std::string tmp = (d.parent_path() / name).string();
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::Fail(kExitOutput, dest, "cannot create the report file");
    out << text;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return Status::Fail(kExitOutput, dest, "cannot write the report file");
    }
  }
  if (std::rename(tmp.c_str(), dest.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::Fail(kExitOutput, dest, "cannot write the report file");
  }
  return Status::Ok();
}

Status read_alignment(const std::string& path, Placement& spatial, TimeMap& temporal) {
  // A report for ten hours at 60 fps is about 20 MB; anything far larger is not a report.
  constexpr uintmax_t kMaxBytes = 256u << 20;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return Status::Fail(kExitInput, path, "is a directory, not an alignment report");
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) return Status::Fail(kExitInput, path, "cannot read the alignment report: " + ec.message());
  if (size > kMaxBytes) return Status::Fail(kExitInput, path, "alignment report is too large (over 256 MiB)");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Fail(kExitInput, path, "cannot read the alignment report");
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_alignment(buf.str(), path, spatial, temporal);
}

Status parse_alignment(const std::string& text, const std::string& path, Placement& spatial, TimeMap& temporal) {
  try {
    const json j = json::parse(text);
    if (!j.is_object()) throw std::runtime_error("not a JSON object");
    if (!j.contains("spatial") || !j.at("spatial").is_object()) throw std::runtime_error("missing object 'spatial'");
    if (!j.contains("temporal") || !j.at("temporal").is_object())
      throw std::runtime_error("missing object 'temporal'");
    const json& s = j.at("spatial");
    spatial.x = number_at(s, "x", "spatial");
    spatial.y = number_at(s, "y", "spatial");
    spatial.scale = number_at(s, "scale", "spatial");
    spatial.confidence = s.contains("confidence") && s.at("confidence").is_number() ? s.at("confidence").get<double>() : 1.0;
    const json& t = j.at("temporal");
    if (!t.contains("map") || !t.at("map").is_array()) throw std::runtime_error("temporal.map is not an array");
    const json& m = t.at("map");
    temporal.map.clear();
    temporal.map.reserve(m.size());
    for (size_t i = 0; i < m.size(); ++i) {
      const json& v = m[i];
      const bool integral = v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                                      v.get<double>() == std::floor(v.get<double>()));
      if (!integral) throw std::runtime_error("temporal.map[" + std::to_string(i) + "] is not an integer");
      const double d = v.get<double>();
      if (d < 0) throw std::runtime_error("temporal.map[" + std::to_string(i) + "] is negative");
      if (d > 9e15) throw std::runtime_error("temporal.map[" + std::to_string(i) + "] is out of range");
      temporal.map.push_back(v.is_number_unsigned() ? int64_t(v.get<uint64_t>()) : int64_t(d));
    }
    temporal.confidence =
        t.contains("confidence") && t.at("confidence").is_number() ? t.at("confidence").get<double>() : 1.0;
  } catch (const std::exception& e) {
    std::string why = e.what();
    if (auto p = why.find("] "); why.rfind("[json.exception", 0) == 0 && p != std::string::npos) why = why.substr(p + 2);
    return Status::Fail(kExitInput, path, "invalid alignment report: " + why);
  }
  return Status::Ok();
}

Status check_alignment(const std::string& path, const VideoInfo& bg, const VideoInfo& fg, const Placement& s,
                       const TimeMap& t) {
  Status st;
  if (!(s.scale > 0) || s.scale > 64)
    st.merge(Status::Fail(kExitInput, path, "spatial.scale must be in (0, 64], got " + std::to_string(s.scale)));
  if (std::abs(s.x) > 1e6 || std::abs(s.y) > 1e6)
    st.merge(Status::Fail(kExitInput, path, "spatial.x/y are out of range"));
  if (st.ok()) {
    const double w = fg.width * s.scale, h = fg.height * s.scale;
    if (w > 32768 || h > 32768) st.merge(Status::Fail(kExitInput, path, "spatial.scale makes fg larger than 32768 px"));
    const double x = std::round(s.x), y = std::round(s.y);
    if (x >= bg.width || y >= bg.height || x + std::max(1.0, std::round(w)) <= 0 || y + std::max(1.0, std::round(h)) <= 0)
      st.merge(Status::Fail(kExitInput, path, "the placement puts fg entirely outside bg"));
  }
  if (int64_t(t.map.size()) != fg.frames)
    st.merge(Status::Fail(kExitInput, path,
                          "temporal.map has " + std::to_string(t.map.size()) + " entries but fg has " +
                              std::to_string(fg.frames) + " frames"));
  for (size_t i = 0; i < t.map.size(); ++i) {
    if (t.map[i] < 0 || t.map[i] >= bg.frames) {
      st.merge(Status::Fail(kExitInput, path,
                            "temporal.map[" + std::to_string(i) + "] = " + std::to_string(t.map[i]) +
                                " is past bg's last frame (" + std::to_string(bg.frames - 1) + ")"));
      break;
    }
  }
  return st;
}

}  // namespace vidkompy
