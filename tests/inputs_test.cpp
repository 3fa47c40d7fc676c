// The input matrix: containers, codecs, pixel formats, sizes, rotation, frame timing, audio codecs and damaged
// files, each run through the binary as a user would (align, render, report). Every pair is cut from one
// lossless testsrc2 master with known truth: bg shows master frames 0-49, fg frames 10-39 cropped at (64, 48).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testutil.hpp"
#include "vidkompy/types.hpp"
#include "vidkompy/video.hpp"

namespace fs = std::filesystem;
using vt::quote;

namespace {

// fg's default cut of the master: frames 10..39, a 160x120 crop at (64, 48).
const std::string kFgCut = "trim=start_frame=10:end_frame=40,setpts=PTS-STARTPTS,crop=160:120:64:48";
const std::string kSine = "-f lavfi -i sine=frequency=440:sample_rate=48000:duration=2 ";

struct InputCase {
  std::string name;
  // ffmpeg arguments after "-i master.nut" ending in the output's extension as "{}" (the file name goes there);
  // empty: bg is the whole master as H.264 in MP4, fg the default cut likewise.
  std::string bg, fg;
  int code = 0;                  // expected exit status
  std::string error;             // with a non-zero status: text the one error line contains
  double x = 64, y = 48, scale = 1;
  int fg_frames = 30;            // frames the output has; -1: fewer than 30 (a truncated fg), with a warning
  int first = 10, step = 1;      // map[i] == first + step * i (the master frame shown), when check_map
  bool check_map = true;
  bool check_place = true;
  double exact = 0.95;           // share of map entries that must be exact
  int bg_w = 320, bg_h = 240;    // the output's size
  bool audio = false;            // the output carries audio
};

// gtest prints a parameter by its name, not as bytes.
void PrintTo(const InputCase& c, std::ostream* os) { *os << c.name; }

// Splits "<ffmpeg options> {}.ext" into the options and the extension.
std::pair<std::string, std::string> split_spec(const std::string& spec) {
  const size_t at = spec.find("{}");
  return {spec.substr(0, at), spec.substr(at + 2)};
}

class Inputs : public ::testing::TestWithParam<InputCase> {
 protected:
  static void SetUpTestSuite() {
    vidkompy::set_ffmpeg_log_level(0);
    dir_ = new vt::TempDir();
    ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 50 -c:v ffv1 -pix_fmt yuv420p " +
                           quote(master())));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string master() { return *dir_ / "master.nut"; }

  // Makes one input from the master (`spec` as in InputCase) at base + the spec's extension; returns its path.
  static std::string make(const std::string& spec, const std::string& base) {
    const auto [opts, ext] = split_spec(spec);
    const std::string path = base + ext;
    EXPECT_TRUE(vt::ffmpeg("-i " + quote(master()) + " " + opts + quote(path))) << spec;
    return path;
  }

  static vt::TempDir* dir_;
};
vt::TempDir* Inputs::dir_ = nullptr;

TEST_P(Inputs, AlignAndRenderOrFailCleanly) {
  const InputCase& c = GetParam();
  vt::TempDir work;
  const std::string bg_spec = c.bg.empty() ? "-c:v libx264 -preset ultrafast -crf 12 -pix_fmt yuv420p {}.mp4" : c.bg;
  const std::string fg_spec =
      c.fg.empty() ? "-vf " + kFgCut + " -c:v libx264 -preset ultrafast -crf 12 -pix_fmt yuv420p {}.mp4" : c.fg;
  // Names with spaces, Unicode and a leading dash: paths reach FFmpeg untouched.
  const std::string bg = make(bg_spec, work / "-bg wide \u00e9");
  const std::string fg = make(fg_spec, work / "fg detail \u00fc");
  ASSERT_FALSE(HasFailure());
  if (c.name == "Rotated90") {
    // The display matrix survives only a stream copy in this FFmpeg: tag the encoded file afterwards.
    const std::string tagged = work / "tagged.mp4";
    ASSERT_TRUE(vt::ffmpeg("-i " + quote(fg) + " -c copy -metadata:s:v:0 rotate=90 " + quote(tagged)));
    fs::rename(tagged, fg);
  }
  if (c.name == "FgCorruptMidStream" || c.name == "FgEndsMidFrame") {
    // Damage the file after it is written: garbage over a run of bytes in the middle, or the last 30% cut off.
    std::fstream f(fg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const std::streamoff size = f.tellg();
    if (c.name == "FgCorruptMidStream") {
      f.seekp(size / 2);
      for (int i = 0; i < 400; ++i) f.put(char((i * 131 + 7) & 0xff));
      f.close();
    } else {
      f.close();
      fs::resize_file(fg, fs::file_size(fg) * 7 / 10);
    }
  }
  const std::string out = work / "out.mp4", report = work / "report.json";
  const vt::Run r = vt::vidkompy({"--bg", bg, "--fg", fg, "-o", out, "--json", report, "--preset", "ultrafast"});
  ASSERT_EQ(r.code, c.code) << r.err;
  if (c.code != 0) {
    EXPECT_NE(r.err.find("vidkompy: error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.error), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
    return;
  }
  EXPECT_EQ(vt::report_schema_errors(vt::slurp(report)), std::vector<std::string>{});
  const nlohmann::json j = nlohmann::json::parse(vt::slurp(report));
  EXPECT_EQ(j["temporal"]["model"], "vidkompy-embedder.pt");
  if (c.check_place) {
    EXPECT_NEAR(j["spatial"]["x"].get<double>(), c.x, 1.0) << j["spatial"];
    EXPECT_NEAR(j["spatial"]["y"].get<double>(), c.y, 1.0) << j["spatial"];
    EXPECT_NEAR(j["spatial"]["scale"].get<double>(), c.scale, 0.01 * c.scale) << j["spatial"];
  }
  const std::vector<int64_t> map = j["temporal"]["map"].get<std::vector<int64_t>>();
  int frames = c.fg_frames;
  if (frames < 0) {
    frames = int(map.size());
    EXPECT_GT(frames, 0);
    EXPECT_LT(frames, 30);
    EXPECT_NE(r.err.find("vidkompy: warning: " + fg + ": " + std::to_string(frames) + " frames decoded, header says 30"),
              std::string::npos) << r.err;
  }
  ASSERT_EQ(int(map.size()), frames);
  if (c.check_map) {
    int exact = 0;
    for (size_t i = 0; i < map.size(); ++i) {
      const int64_t want = c.first + c.step * int64_t(i);
      EXPECT_LE(std::abs(map[i] - want), 1) << "fg frame " << i;
      exact += map[i] == want;
    }
    EXPECT_GE(exact, c.exact * double(map.size())) << exact << " of " << map.size();
  }
  vidkompy::VideoInfo info;
  ASSERT_TRUE(vidkompy::probe(out, info).ok());
  EXPECT_EQ(info.width, c.bg_w);
  EXPECT_EQ(info.height, c.bg_h);
  EXPECT_EQ(info.frames, frames);
  EXPECT_EQ(info.has_audio, c.audio);
}

InputCase fg_as(const std::string& name, const std::string& spec) {
  InputCase c;
  c.name = name;
  c.fg = spec;
  return c;
}

std::vector<InputCase> cases() {
  const std::string cut = "-vf " + kFgCut + " ";
  std::vector<InputCase> v;
  // Containers and codecs (fg), each decoded by the Debian FFmpeg.
  v.push_back(fg_as("MatroskaH264", cut + "-c:v libx264 -preset ultrafast -crf 12 {}.mkv"));
  v.push_back(fg_as("WebmVp9", cut + "-c:v libvpx-vp9 -crf 20 -b:v 0 -deadline realtime -cpu-used 8 {}.webm"));
  v.push_back(fg_as("WebmVp8", cut + "-c:v libvpx -crf 8 -b:v 1M {}.webm"));
  v.push_back(fg_as("MovHevc", cut + "-c:v libx265 -crf 16 -preset ultrafast -x265-params log-level=none {}.mov"));
  v.push_back(fg_as("AviMpeg4", cut + "-c:v mpeg4 -q:v 2 {}.avi"));
  v.push_back(fg_as("MatroskaAv1", cut + "-c:v libaom-av1 -crf 20 -cpu-used 8 -row-mt 1 {}.mkv"));
  // Pixel formats.
  v.push_back(fg_as("Yuv420p10", cut + "-c:v libx264 -preset ultrafast -crf 12 -pix_fmt yuv420p10le {}.mkv"));
  v.push_back(fg_as("Yuv444p", cut + "-c:v libx264 -preset ultrafast -crf 12 -pix_fmt yuv444p {}.mp4"));
  v.push_back(fg_as("Yuv422pProres", cut + "-c:v prores_ks -profile:v 1 {}.mov"));
  // Semi-planar, as NVDEC hands frames back (Cli.RawSemiPlanarCropOfTestsrc2 has a size that used to crash).
  v.push_back(fg_as("RawNv12", cut + "-c:v rawvideo -pix_fmt nv12 {}.nut"));
  InputCase gray = fg_as("Gray", cut + "-c:v ffv1 -pix_fmt gray {}.mkv");
  v.push_back(gray);
  // Frame timing and coding structure.
  v.push_back(fg_as("BFramesOpenGop",
                    cut + "-c:v libx264 -preset ultrafast -crf 12 -bf 3 -x264-params open-gop=1:keyint=8:b-adapt=0 {}.mp4"));
  v.push_back(fg_as("InterlacedFlag", cut + "-c:v libx264 -preset ultrafast -crf 12 -flags +ildct+ilme {}.mp4"));
  {
    // Variable frame rate: frames 10-39 kept, their timestamps spread unevenly (1, 2 or 3 ticks of 1/50 s apart).
    InputCase c = fg_as("VariableFrameRate",
                        "-vf trim=start_frame=10:end_frame=40,setpts='(N*2+mod(N\\,3)-1)/50/TB',crop=160:120:64:48 "
                        "-fps_mode vfr -c:v libx264 -preset ultrafast -crf 12 {}.mkv");
    v.push_back(c);
  }
  {
    // Stored sideways with a display matrix (FFmpeg's tag rotate=90: players turn it 90 degrees counter-clockwise):
    // decoded upright, it is the usual crop.
    v.push_back(fg_as("Rotated90", cut.substr(0, cut.size() - 1) +
                                       ",transpose=clock -c:v libx264 -preset ultrafast -crf 12 {}.mp4"));
  }
  // Audio: fg's is used when it has one.
  for (const auto& [name, codec] : std::vector<std::pair<std::string, std::string>>{
           {"AudioAac", "-c:a aac {}.mp4"}, {"AudioMp3", "-c:a libmp3lame {}.mkv"},
           {"AudioOpus", "-c:a libopus {}.webm"}, {"AudioVorbis", "-c:a libvorbis {}.mkv"},
           {"AudioPcm", "-c:a pcm_s16le {}.mov"}}) {
    const bool webm = codec.find("webm") != std::string::npos;
    InputCase c = fg_as(name, kSine + cut + (webm ? "-c:v libvpx-vp9 -crf 20 -b:v 0 -deadline realtime -cpu-used 8 "
                                                   : "-c:v libx264 -preset ultrafast -crf 12 ") +
                                  "-shortest " + codec);
    c.audio = true;
    v.push_back(c);
  }
  {
    InputCase c;  // bg's audio when fg has none
    c.name = "BgAudioOnly";
    c.bg = kSine + "-c:v libx264 -preset ultrafast -crf 12 -c:a aac -shortest {}.mp4";
    c.audio = true;
    v.push_back(c);
  }
  // Sizes.
  {
    InputCase c;  // odd-sized bg (4:4:4, as 4:2:0 cannot be odd-sized)
    c.name = "OddSizedBg";
    c.bg = "-vf scale=853:479 -c:v libx264 -preset ultrafast -crf 12 -pix_fmt yuv444p {}.mp4";
    c.fg = "-vf trim=start_frame=10:end_frame=40,setpts=PTS-STARTPTS,scale=853:479,crop=401:301:171:97 "
           "-c:v libx264 -preset ultrafast -crf 12 -pix_fmt yuv444p {}.mp4";
    c.x = 171, c.y = 97, c.bg_w = 852, c.bg_h = 478;  // 4:2:0 output: the odd last column and row are dropped
    v.push_back(c);
  }
  {
    InputCase c;  // 4K bg, HD fg
    c.name = "UhdBg";
    c.bg = "-vf scale=3840:2160 -c:v libx264 -preset ultrafast -crf 18 {}.mp4";
    c.fg = "-vf trim=start_frame=10:end_frame=40,setpts=PTS-STARTPTS,scale=3840:2160,crop=1280:720:768:576 "
           "-c:v libx264 -preset ultrafast -crf 18 {}.mp4";
    c.x = 768, c.y = 576, c.bg_w = 3840, c.bg_h = 2160;
    v.push_back(c);
  }
  {
    InputCase c;  // a 16x16 fg on 320x240: below the search's smallest cover (10% of bg's width), refused with exit 3
    c.name = "TinyFg";
    c.fg = "-vf trim=start_frame=10:end_frame=40,setpts=PTS-STARTPTS,crop=16:16:64:48 -c:v libx264 -preset "
           "ultrafast -crf 12 {}.mp4";
    c.code = 3;
    c.error = "cannot find fg inside bg";
    v.push_back(c);
  }
  {
    InputCase c;  // 16x16 bg and fg: found exactly
    c.name = "TinyBgAndFg";
    c.bg = "-vf scale=16:16 -c:v libx264 -preset ultrafast -crf 12 {}.mp4";
    c.fg = "-vf trim=start_frame=10:end_frame=40,setpts=PTS-STARTPTS,scale=16:16 -c:v libx264 -preset ultrafast "
           "-crf 12 {}.mp4";
    c.x = 0, c.y = 0, c.bg_w = 16, c.bg_h = 16;
    v.push_back(c);
  }
  {
    InputCase c;  // fg and bg the same file content
    c.name = "Identical";
    c.fg = "-c:v libx264 -preset ultrafast -crf 12 -pix_fmt yuv420p {}.mp4";
    c.x = 0, c.y = 0, c.fg_frames = 50, c.first = 0;
    v.push_back(c);
  }
  {
    InputCase c;  // fg as large as bg, a later stretch of the same footage
    c.name = "FgSizeOfBg";
    c.fg = "-vf trim=start_frame=10:end_frame=40,setpts=PTS-STARTPTS -c:v libx264 -preset ultrafast -crf 12 {}.mp4";
    c.x = 0, c.y = 0;
    v.push_back(c);
  }
  {
    InputCase c;  // fg larger than bg: scaled down to fit
    c.name = "FgLargerThanBg";
    c.fg = "-vf trim=start_frame=10:end_frame=40,setpts=PTS-STARTPTS,scale=640:480 -c:v libx264 -preset ultrafast "
           "-crf 12 {}.mp4";
    c.x = 0, c.y = 0, c.scale = 0.5;
    v.push_back(c);
  }
  {
    InputCase c;  // fg a single frame (a still as a one-frame video)
    c.name = "FgSingleFrame";
    c.fg = "-vf trim=start_frame=20:end_frame=21,setpts=PTS-STARTPTS,crop=160:120:64:48 -c:v libx264 -preset "
           "ultrafast -crf 12 {}.mp4";
    c.fg_frames = 1, c.first = 20;
    v.push_back(c);
  }
  {
    // bg a single frame: every fg frame shows over it. The frame is master frame 25, the moment of fg's middle
    // sample (fg frame 15), so the placement can be found and checked; with another moment of the moving
    // testsrc2 the best placement is a repeat of its pattern elsewhere (the next case).
    InputCase c;
    c.name = "BgSingleFrame";
    c.bg = "-vf trim=start_frame=25:end_frame=26 -c:v libx264 -preset ultrafast -crf 12 {}.mp4";
    c.first = 0, c.step = 0;
    v.push_back(c);
  }
  {
    // The same with master frame 10, a moment none of fg's samples shows: refused, not placed on a repeat of
    // testsrc2's pattern (it was, 86 px off, before the confidence counted the peak's sharpness).
    InputCase c;
    c.name = "BgSingleFrameOfAnotherMoment";
    c.bg = "-vf trim=start_frame=10:end_frame=11 -c:v libx264 -preset ultrafast -crf 12 {}.mp4";
    c.code = 3;
    c.error = "cannot find fg inside bg";
    v.push_back(c);
  }
  {
    // 400 bytes of garbage in the middle: the decoder conceals the damage, every frame is rendered.
    InputCase c = fg_as("FgCorruptMidStream", cut + "-c:v libx264 -preset ultrafast -crf 12 -movflags +faststart {}.mp4");
    c.check_map = false;
    v.push_back(c);
  }
  {
    // Cut off at 70%: the frames that decode are rendered, and a warning says how many.
    InputCase c = fg_as("FgEndsMidFrame", cut + "-c:v libx264 -preset ultrafast -crf 12 -movflags +faststart {}.mp4");
    c.fg_frames = -1;
    v.push_back(c);
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(Matrix, Inputs, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
