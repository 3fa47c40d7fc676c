// Tests the alignment report: report_json/write_report output, read_alignment round trips and its rejection
// of malformed files (exit code 2, "<path>: <why>"), and check_alignment against hand-built VideoInfo values.
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "testutil.hpp"
#include "vidkompy/report.hpp"

using namespace vidkompy;
using nlohmann::json;

namespace {

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

VideoInfo video(const std::string& path, int w, int h, int64_t frames, Rational fps = {25, 1}) {
  VideoInfo v;
  v.path = path;
  v.container = "mov,mp4,m4a,3gp,3g2,mj2";
  v.codec = "h264";
  v.pix_fmt = "yuv420p";
  v.width = w;
  v.height = h;
  v.fps = fps;
  v.frames = frames;
  v.duration = fps.valid() ? double(frames) / fps.value() : 0.0;
  return v;
}

Report sample_report() {
  Report r;
  r.bg = video("/videos/bg.mp4", 1920, 1080, 300, {30000, 1001});
  r.bg.has_audio = true;
  r.bg.audio_codec = "aac";
  r.bg.audio_rate = 48000;
  r.bg.audio_channels = 2;
  r.fg = video("/videos/fg.mov", 1280, 720, 5, {25, 1});
  r.fg.rotation = 90;
  r.spatial.x = 0.1 + 0.2;  // not exactly representable in short decimal: must still round-trip exactly
  r.spatial.y = -3.25;
  r.spatial.scale = 0.7512345678901234;
  r.spatial.confidence = 0.93;
  r.temporal.map = {0, 0, 7, 8, 8999999999999999};
  r.temporal.confidence = 0.875;
  r.timings = {{"probe", 0.0123456}, {"spatial", 1.23456}};
  return r;
}

// Reads `text` as a report file; expects failure with exit code 2 and one error line "<path>: ..." that
// contains `phrase`.
void expect_rejected(const std::string& text, const std::string& phrase) {
  SCOPED_TRACE("report text: " + text);
  vt::TempDir dir;
  const std::string path = dir / "bad.json";
  write_file(path, text);
  Placement s;
  TimeMap t;
  const Status st = read_alignment(path, s, t);
  EXPECT_EQ(st.code, kExitInput);
  ASSERT_EQ(st.errors.size(), 1u);
  EXPECT_EQ(st.errors[0].rfind(path + ": ", 0), 0u) << st.errors[0];
  EXPECT_NE(st.errors[0].find(phrase), std::string::npos) << st.errors[0];
  EXPECT_EQ(st.errors[0].find('\n'), std::string::npos) << st.errors[0];
}

bool has_error_containing(const Status& st, const std::string& phrase) {
  for (const std::string& e : st.errors)
    if (e.find(phrase) != std::string::npos) return true;
  return false;
}

std::string errors(const Status& st) {
  std::string s;
  for (const std::string& e : st.errors) s += e + " | ";
  return s;
}

}  // namespace

// ====================================== writing ======================================

TEST(ReportJson, ContainsVersionProbeFieldsConfidencesAndTimings) {
  const Report r = sample_report();
  const std::string text = report_json(r);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  EXPECT_NE(text.find("\n  \""), std::string::npos) << "pretty-printed with 2-space indent";
  const json j = json::parse(text);
  EXPECT_EQ(j.at("version"), VIDKOMPY_VERSION);

  const json& bg = j.at("bg");
  EXPECT_EQ(bg.at("path"), "/videos/bg.mp4");
  EXPECT_EQ(bg.at("width"), 1920);
  EXPECT_EQ(bg.at("height"), 1080);
  EXPECT_EQ(bg.at("fps"), "30000/1001");
  EXPECT_DOUBLE_EQ(bg.at("fps_value").get<double>(), 30000.0 / 1001.0);
  EXPECT_EQ(bg.at("frames"), 300);
  EXPECT_EQ(bg.at("codec"), "h264");
  EXPECT_EQ(bg.at("pix_fmt"), "yuv420p");
  EXPECT_EQ(bg.at("audio").at("codec"), "aac");
  EXPECT_EQ(bg.at("audio").at("sample_rate"), 48000);
  EXPECT_EQ(bg.at("audio").at("channels"), 2);

  const json& fg = j.at("fg");
  EXPECT_EQ(fg.at("path"), "/videos/fg.mov");
  EXPECT_EQ(fg.at("width"), 1280);
  EXPECT_EQ(fg.at("height"), 720);
  EXPECT_EQ(fg.at("fps"), "25/1");
  EXPECT_EQ(fg.at("frames"), 5);
  EXPECT_EQ(fg.at("rotation"), 90);
  EXPECT_TRUE(fg.at("audio").is_null());

  const json& sp = j.at("spatial");
  EXPECT_EQ(sp.at("x").get<double>(), r.spatial.x);
  EXPECT_EQ(sp.at("y").get<double>(), -3.25);
  EXPECT_EQ(sp.at("scale").get<double>(), r.spatial.scale);
  EXPECT_EQ(sp.at("confidence").get<double>(), 0.93);
  EXPECT_EQ(sp.at("x_px"), 0);
  EXPECT_EQ(sp.at("y_px"), -3);

  const json& tm = j.at("temporal");
  EXPECT_EQ(tm.at("confidence").get<double>(), 0.875);
  EXPECT_EQ(tm.at("map"), json::parse("[0, 0, 7, 8, 8999999999999999]"));

  // Timings are seconds rounded to 0.1 ms.
  EXPECT_DOUBLE_EQ(j.at("timings").at("probe").get<double>(), 0.0123);
  EXPECT_DOUBLE_EQ(j.at("timings").at("spatial").get<double>(), 1.2346);
}

TEST(WriteReport, WritesTheFileAtomicallyAndReadsBackExactly) {
  vt::TempDir dir;
  const std::string path = dir / "report.json";
  const Report r = sample_report();
  const Status w = write_report(path, r);
  ASSERT_TRUE(w.ok()) << errors(w);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"report.json"});  // no temporary left behind
  EXPECT_EQ(vt::slurp(path), report_json(r));

  Placement s;
  TimeMap t;
  const Status st = read_alignment(path, s, t);
  ASSERT_TRUE(st.ok()) << errors(st);
  EXPECT_EQ(s.x, r.spatial.x);  // exact, not approximately
  EXPECT_EQ(s.y, r.spatial.y);
  EXPECT_EQ(s.scale, r.spatial.scale);
  EXPECT_EQ(s.confidence, r.spatial.confidence);
  EXPECT_EQ(t.map, r.temporal.map);
  EXPECT_EQ(t.confidence, r.temporal.confidence);

  // Overwriting an existing report replaces it.
  Report r2 = sample_report();
  r2.temporal.map = {3, 4};
  ASSERT_TRUE(write_report(path, r2).ok());
  ASSERT_TRUE(read_alignment(path, s, t).ok());
  EXPECT_EQ(t.map, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(dir.list(), std::vector<std::string>{"report.json"});
}

TEST(WriteReport, DashWritesToStdout) {
  const Report r = sample_report();
  ::testing::internal::CaptureStdout();
  const Status st = write_report("-", r);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(out, report_json(r));
}

TEST(WriteReport, UnwritableDestinationIsAnOutputError) {
  vt::TempDir dir;
  const std::string path = dir / "missing-dir/report.json";
  const Status st = write_report(path, sample_report());
  EXPECT_EQ(st.code, kExitOutput);
  ASSERT_EQ(st.errors.size(), 1u);
  EXPECT_EQ(st.errors[0], path + ": cannot create the report file");
  EXPECT_TRUE(dir.list().empty());
}

// ====================================== reading ======================================

TEST(ReadAlignment, AcceptsMinimalHandWrittenFile) {
  vt::TempDir dir;
  const std::string path = dir / "min.json";
  write_file(path, R"({"spatial":{"x":10,"y":20,"scale":1},"temporal":{"map":[0,1,2]}})");
  Placement s;
  s.confidence = 0.25;
  TimeMap t;
  t.map = {99, 98};  // replaced, not appended to
  const Status st = read_alignment(path, s, t);
  ASSERT_TRUE(st.ok()) << errors(st);
  EXPECT_EQ(s.x, 10.0);
  EXPECT_EQ(s.y, 20.0);
  EXPECT_EQ(s.scale, 1.0);
  EXPECT_EQ(s.confidence, 1.0);  // absent: taken as certain
  EXPECT_EQ(t.map, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(t.confidence, 1.0);
}

TEST(ReadAlignment, AcceptsIntegralFloatsAndExtraFields) {
  vt::TempDir dir;
  const std::string path = dir / "floats.json";
  write_file(path, R"({"comment":"by hand","spatial":{"x":-12.5,"y":3e1,"scale":0.5,"confidence":0.5},
                       "temporal":{"map":[3.0, 4, 5.000, 0e0, 1E2],"confidence":0.75},"extra":[1,2]})");
  Placement s;
  TimeMap t;
  const Status st = read_alignment(path, s, t);
  ASSERT_TRUE(st.ok()) << errors(st);
  EXPECT_EQ(s.x, -12.5);
  EXPECT_EQ(s.y, 30.0);
  EXPECT_EQ(s.scale, 0.5);
  EXPECT_EQ(s.confidence, 0.5);
  EXPECT_EQ(t.map, (std::vector<int64_t>{3, 4, 5, 0, 100}));
  EXPECT_EQ(t.confidence, 0.75);
}

TEST(ReadAlignment, AcceptsEmptyMapAndLargestIndex) {
  vt::TempDir dir;
  const std::string path = dir / "edge.json";
  write_file(path, R"({"spatial":{"x":0,"y":0,"scale":2},"temporal":{"map":[]}})");
  Placement s;
  TimeMap t;
  ASSERT_TRUE(read_alignment(path, s, t).ok());
  EXPECT_TRUE(t.map.empty());
  write_file(path, R"({"spatial":{"x":0,"y":0,"scale":2},"temporal":{"map":[9000000000000000]}})");
  ASSERT_TRUE(read_alignment(path, s, t).ok());
  EXPECT_EQ(t.map, (std::vector<int64_t>{9000000000000000}));
}

TEST(ReadAlignment, RejectsMalformedFiles) {
  const std::string ok_spatial = R"("spatial":{"x":1,"y":2,"scale":1})";
  const std::string ok_temporal = R"("temporal":{"map":[0,1]})";
  expect_rejected("this is not json", "invalid alignment report: parse error");
  expect_rejected("", "invalid alignment report: parse error");
  expect_rejected(R"({"spatial":{"x":1,"y":2,"scale":1},"temporal":{"map":[0,1)", "parse error");  // truncated
  expect_rejected(R"([{"spatial":{}}])", "not a JSON object");
  expect_rejected(R"("just a string")", "not a JSON object");
  expect_rejected("{" + ok_temporal + "}", "missing object 'spatial'");
  expect_rejected(R"({"spatial":[1,2,1],)" + ok_temporal + "}", "missing object 'spatial'");
  expect_rejected("{" + ok_spatial + "}", "missing object 'temporal'");
  expect_rejected("{" + ok_spatial + R"(,"temporal":7})", "missing object 'temporal'");
  expect_rejected("{" + ok_spatial + R"(,"temporal":{}})", "temporal.map is not an array");
  expect_rejected("{" + ok_spatial + R"(,"temporal":{"map":{"0":1}}})", "temporal.map is not an array");
  expect_rejected("{" + ok_spatial + R"(,"temporal":{"map":"0,1,2"}})", "temporal.map is not an array");
  expect_rejected("{" + ok_spatial + R"(,"temporal":{"map":[0,"1",2]}})", "temporal.map[1] is not an integer");
  expect_rejected("{" + ok_spatial + R"(,"temporal":{"map":[0,1,null]}})", "temporal.map[2] is not an integer");
  expect_rejected("{" + ok_spatial + R"(,"temporal":{"map":[true]}})", "temporal.map[0] is not an integer");
  expect_rejected("{" + ok_spatial + R"(,"temporal":{"map":[0,-1]}})", "temporal.map[1] is negative");
  expect_rejected("{" + ok_spatial + R"(,"temporal":{"map":[0,1,-2.0]}})", "temporal.map[2] is negative");
  expect_rejected("{" + ok_spatial + R"(,"temporal":{"map":[0,1.5]}})", "temporal.map[1] is not an integer");
  expect_rejected("{" + ok_spatial + R"(,"temporal":{"map":[0,1,1e300]}})", "temporal.map[2] is out of range");
  expect_rejected("{" + ok_spatial + R"(,"temporal":{"map":[18446744073709551615]}})",
                  "temporal.map[0] is out of range");
  expect_rejected("{" + ok_spatial + R"(,"temporal":{"map":[9007199254740993]}})", "temporal.map[0] is out of range");
  expect_rejected("{" + ok_spatial + R"(,"temporal":{"map":[NaN]}})", "parse error");  // no NaN in JSON
  expect_rejected(R"({"spatial":{"x":"10","y":2,"scale":1},)" + ok_temporal + "}", "spatial.x is not a number");
  expect_rejected(R"({"spatial":{"x":1,"y":null,"scale":1},)" + ok_temporal + "}", "spatial.y is not a number");
  expect_rejected(R"({"spatial":{"x":1,"y":2},)" + ok_temporal + "}", "missing spatial.scale");
  expect_rejected(R"({"spatial":{"y":2,"scale":1},)" + ok_temporal + "}", "missing spatial.x");
  expect_rejected(R"({"spatial":{"x":1,"y":2,"scale":true},)" + ok_temporal + "}", "spatial.scale is not a number");
}

TEST(ReadAlignment, OverflowingNumbersAreRejected) {
  // 1e400 overflows a double: whether the parser or the reader catches it, the file is refused.
  vt::TempDir dir;
  const std::string path = dir / "inf.json";
  for (const std::string& text :
       {std::string(R"({"spatial":{"x":1e400,"y":2,"scale":1},"temporal":{"map":[0]}})"),
        std::string(R"({"spatial":{"x":1,"y":2,"scale":1},"temporal":{"map":[1e400]}})")}) {
    write_file(path, text);
    Placement s;
    TimeMap t;
    const Status st = read_alignment(path, s, t);
    EXPECT_EQ(st.code, kExitInput) << text;
    ASSERT_EQ(st.errors.size(), 1u);
    EXPECT_EQ(st.errors[0].rfind(path + ": invalid alignment report: ", 0), 0u) << st.errors[0];
  }
}

TEST(ReadAlignment, DirectoryAndMissingPathAreInputErrors) {
  vt::TempDir dir;
  Placement s;
  TimeMap t;
  const Status d = read_alignment(dir.path(), s, t);
  EXPECT_EQ(d.code, kExitInput);
  ASSERT_EQ(d.errors.size(), 1u);
  EXPECT_EQ(d.errors[0], dir.path() + ": is a directory, not an alignment report");

  const std::string missing = dir / "nope.json";
  const Status m = read_alignment(missing, s, t);
  EXPECT_EQ(m.code, kExitInput);
  ASSERT_EQ(m.errors.size(), 1u);
  EXPECT_EQ(m.errors[0].rfind(missing + ": cannot read the alignment report", 0), 0u) << m.errors[0];
  EXPECT_NE(m.errors[0].find("No such file"), std::string::npos) << m.errors[0];
}

// ====================================== checking ======================================

TEST(CheckAlignment, ValidAlignmentIsOk) {
  const VideoInfo bg = video("bg.mp4", 640, 360, 10), fg = video("fg.mp4", 320, 180, 4);
  Placement s;
  s.x = 100.4;
  s.y = -20;
  s.scale = 1.5;
  TimeMap t;
  t.map = {0, 3, 3, 9};
  const Status st = check_alignment("a.json", bg, fg, s, t);
  EXPECT_TRUE(st.ok()) << errors(st);
  EXPECT_TRUE(st.errors.empty());
  // Limits: scale 64 on a tiny fg, fg just one pixel inside each side.
  const VideoInfo tiny = video("fg.mp4", 8, 8, 4);
  s.scale = 64;
  s.x = 0;
  s.y = 0;
  EXPECT_TRUE(check_alignment("a.json", bg, tiny, s, t).ok());
  s.scale = 1;
  for (auto [x, y] : {std::pair{639.0, 0.0}, {0.0, 359.0}, {-7.0, 0.0}, {0.0, -7.0}, {-7.4, -7.4}}) {
    s.x = x;
    s.y = y;
    EXPECT_TRUE(check_alignment("a.json", bg, tiny, s, t).ok()) << x << "," << y;
  }
}

TEST(CheckAlignment, MapLengthMismatchNamesBothNumbers) {
  const VideoInfo bg = video("bg.mp4", 640, 360, 100), fg = video("fg.mp4", 320, 180, 5);
  Placement s;
  TimeMap t;
  t.map = {0, 1, 2};
  const Status st = check_alignment("a.json", bg, fg, s, t);
  EXPECT_EQ(st.code, kExitInput);
  ASSERT_EQ(st.errors.size(), 1u);
  EXPECT_EQ(st.errors[0], "a.json: temporal.map has 3 entries but fg has 5 frames");
  t.map = {0, 1, 2, 3, 4, 5, 6};
  const Status longer = check_alignment("a.json", bg, fg, s, t);
  EXPECT_TRUE(has_error_containing(longer, "7 entries but fg has 5 frames")) << errors(longer);
}

TEST(CheckAlignment, IndexPastBgsLastFrame) {
  const VideoInfo bg = video("bg.mp4", 640, 360, 10), fg = video("fg.mp4", 320, 180, 4);
  Placement s;
  TimeMap t;
  t.map = {0, 9, 10, 11};
  const Status st = check_alignment("r.json", bg, fg, s, t);
  EXPECT_EQ(st.code, kExitInput);
  ASSERT_EQ(st.errors.size(), 1u) << errors(st);  // only the first offending entry
  EXPECT_EQ(st.errors[0], "r.json: temporal.map[2] = 10 is past bg's last frame (9)");
  t.map = {0, 1, 2, 9};
  EXPECT_TRUE(check_alignment("r.json", bg, fg, s, t).ok());
}

TEST(CheckAlignment, BadScales) {
  const VideoInfo bg = video("bg.mp4", 640, 360, 10), fg = video("fg.mp4", 320, 180, 2);
  TimeMap t;
  t.map = {0, 1};
  for (double scale : {0.0, -1.0, -0.0, 64.0001, 1e300, std::numeric_limits<double>::infinity(),
                       std::numeric_limits<double>::quiet_NaN()}) {
    Placement s;
    s.scale = scale;
    const Status st = check_alignment("a.json", bg, fg, s, t);
    EXPECT_EQ(st.code, kExitInput) << scale;
    EXPECT_TRUE(has_error_containing(st, "a.json: spatial.scale must be in (0, 64]")) << errors(st);
  }
  Placement s;
  s.scale = 0;
  EXPECT_TRUE(has_error_containing(check_alignment("a.json", bg, fg, s, t), "got 0.000000"));
  // A legal scale that makes fg absurdly large.
  s.scale = 64;  // 320*64 = 20480 wide, 180*64 = 11520: fine
  EXPECT_TRUE(check_alignment("a.json", bg, fg, s, t).ok());
  const VideoInfo wide = video("fg.mp4", 1024, 16, 2);  // 65536 px wide at 64x
  const Status big = check_alignment("a.json", bg, wide, s, t);
  EXPECT_EQ(big.code, kExitInput);
  EXPECT_TRUE(has_error_containing(big, "larger than 32768 px")) << errors(big);
}

TEST(CheckAlignment, PlacementsOutOfRangeOrOutsideBg) {
  const VideoInfo bg = video("bg.mp4", 640, 360, 10), fg = video("fg.mp4", 100, 50, 2);
  TimeMap t;
  t.map = {0, 1};
  auto check = [&](double x, double y) {
    Placement s;
    s.x = x;
    s.y = y;
    s.scale = 1;
    return check_alignment("a.json", bg, fg, s, t);
  };
  for (auto [x, y] : {std::pair{640.0, 0.0}, {0.0, 360.0}, {-100.0, 0.0}, {0.0, -50.0}, {5000.0, 5000.0},
                      {-99.6, 10.0}, {639.5, 10.0}}) {
    const Status st = check(x, y);
    EXPECT_EQ(st.code, kExitInput) << x << "," << y;
    EXPECT_TRUE(has_error_containing(st, "a.json: the placement puts fg entirely outside bg")) << errors(st);
  }
  for (auto [x, y] : {std::pair{639.0, 359.0}, {-99.0, -49.0}, {-99.4, 0.0}}) EXPECT_TRUE(check(x, y).ok()) << x << "," << y;
  const Status far = check(2e6, 0);
  EXPECT_EQ(far.code, kExitInput);
  EXPECT_TRUE(has_error_containing(far, "spatial.x/y are out of range")) << errors(far);
  EXPECT_TRUE(has_error_containing(check(0, -1e7), "spatial.x/y are out of range"));
}

TEST(CheckAlignment, SeveralProblemsAreReportedTogether) {
  const VideoInfo bg = video("bg.mp4", 640, 360, 10), fg = video("fg.mp4", 100, 50, 3);
  Placement s;
  s.scale = -2;
  TimeMap t;
  t.map = {0, 50};
  const Status st = check_alignment("a.json", bg, fg, s, t);
  EXPECT_EQ(st.code, kExitInput);
  EXPECT_EQ(st.errors.size(), 3u) << errors(st);
  EXPECT_TRUE(has_error_containing(st, "spatial.scale must be in (0, 64]"));
  EXPECT_TRUE(has_error_containing(st, "2 entries but fg has 3 frames"));
  EXPECT_TRUE(has_error_containing(st, "temporal.map[1] = 50 is past bg's last frame (9)"));
}
