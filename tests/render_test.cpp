// End-to-end rendering from a known alignment: generate bg and fg, render with --alignment, decode the output
// and compare every frame with the composite of the inputs it should show; audio, signals, partial files.
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <tuple>
#include <filesystem>

#include "testutil.hpp"
#include "vidkompy/report.hpp"

using namespace vidkompy;
using vt::quote;

namespace {

struct Pair {
  vt::TempDir dir;
  std::string bg, fg, align, out;
  Placement place;
  std::vector<int64_t> map;
};

void write_alignment(const std::string& path, const Placement& p, const std::vector<int64_t>& map) {
  nlohmann::json j = {{"spatial", {{"x", p.x}, {"y", p.y}, {"scale", p.scale}}}, {"temporal", {{"map", map}}}};
  std::ofstream(path) << j.dump();
}

// Output frame i must equal the composite of bg frame map[i] and fg frame i (up to encoding loss), and must
// match bg frame map[i] better than its neighbours (the map was honoured, not a nearby frame).
void expect_composite(const Pair& p, int border, bool blend) {
  VideoInfo bgi, fgi;
  ASSERT_TRUE(probe(p.bg, bgi).ok());
  ASSERT_TRUE(probe(p.fg, fgi).ok());
  const int fw = int(std::lround(fgi.width * p.place.scale)), fh = int(std::lround(fgi.height * p.place.scale));
  auto bg = vt::decode_all(p.bg);
  auto fg = vt::decode_all(p.fg, fw, fh);
  auto out = vt::decode_all(p.out);
  ASSERT_EQ(out.size(), p.map.size());
  const Layout layout = make_layout(bgi.width, bgi.height, fw, fh, int(std::lround(p.place.x)),
                                    int(std::lround(p.place.y)));
  Compositor comp(layout, border, blend);
  ImageBuffer expect(bgi.width, bgi.height);
  const int ow = bgi.width & ~1, oh = bgi.height & ~1;
  const Rect v = layout.visible;
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t m = p.map[i];
    comp.compose(bg[m]->image, fg[i]->image, expect.image);
    ASSERT_EQ(out[i]->image.width, ow);
    ASSERT_EQ(out[i]->image.height, oh);
    EXPECT_GT(vt::psnr(out[i]->image, expect.image, 0, {0, 0, ow, oh}), 40.0) << "frame " << i;
    EXPECT_GT(vt::psnr(out[i]->image, expect.image, 1, {0, 0, ow / 2, oh / 2}), 40.0) << "frame " << i;
    // fg region (inside the feathered band) against fg frame i alone.
    const int in = blend ? border : 0;
    const Rect fr{v.x + in, v.y + in, std::min(v.w, ow - v.x) - 2 * in, std::min(v.h, oh - v.y) - 2 * in};
    EXPECT_GT(vt::psnr(out[i]->image, fg[i]->image, 0, fr, fr.x - layout.fg.x, fr.y - layout.fg.y), 40.0)
        << "frame " << i;
    // The bg region (rows above fg) identifies the bg frame.
    if (v.y >= 8) {
      const Rect top{0, 0, ow, v.y};
      const double good = vt::psnr(out[i]->image, bg[m]->image, 0, top);
      EXPECT_GT(good, 38.0) << "frame " << i;
      for (int64_t d : {-1, 1}) {
        if (m + d < 0 || m + d >= int64_t(bg.size())) continue;
        EXPECT_GT(good, vt::psnr(out[i]->image, bg[m + d]->image, 0, top) + 3.0) << "frame " << i << " vs " << m + d;
      }
    }
  }
}

// bg: a 25 fps clip where every frame differs; fg: another source at 30 fps.
// Extra inputs/filters go in *_extra; bg_codec may be replaced for sizes libx264 cannot take (odd).
void make_pair(Pair& p, const std::string& bg_extra = "", const std::string& fg_extra = "",
               const std::string& bg_name = "bg.mp4", const std::string& bg_codec = "-c:v libx264 -crf 12",
               int bg_seconds = 3, int fg_seconds = 2) {
  p.bg = p.dir / bg_name;
  p.fg = p.dir / "fg.mp4";
  p.align = p.dir / "align.json";
  p.out = p.dir / "out.mp4";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=" + std::to_string(bg_seconds) + " " +
                         bg_extra + " " + bg_codec +
                         " -pix_fmt yuv420p " + quote(p.bg)));
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i mandelbrot=size=160x120:rate=30 " + fg_extra +
                         " -t " + std::to_string(fg_seconds) + " -c:v libx264 -crf 12 -pix_fmt yuv420p " + quote(p.fg)));
}

// fg placed at `place`, its 60 frames mapped onto bg's at their nearest earlier moment (30 fps over 25), saved.
void align_by_rate(Pair& p, const Placement& place) {
  p.place = place;
  for (int i = 0; i < 60; ++i) p.map.push_back(i * 25 / 30);
  write_alignment(p.align, p.place, p.map);
}

// The standard output of a shell command.
std::string capture(const std::string& cmd) {
  FILE* f = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (f && std::fgets(buf, sizeof buf, f)) out += buf;
  if (f) ::pclose(f);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string ffprobe(const std::string& args) { return capture("ffprobe -v error " + args); }

std::string audio_codec(const std::string& path) {
  return ffprobe("-select_streams a:0 -show_entries stream=codec_name -of csv=p=0 " + quote(path));
}

double audio_duration(const std::string& path) {
  const std::string s = ffprobe("-select_streams a:0 -show_entries stream=duration -of csv=p=0 " + quote(path));
  return s.empty() ? -1 : std::stod(s);
}

}  // namespace

TEST(Render, CompositeMatchesInputsFrameByFrame) {
  Pair p;
  make_pair(p, "-f lavfi -i sine=frequency=440:duration=3 -c:a aac -shortest");
  p.place = {81, 41, 1.0};
  for (int i = 0; i < 60; ++i) p.map.push_back(10 + (i * 25 + 15) / 30);
  write_alignment(p.align, p.place, p.map);
  vt::Run r = vt::vidkompy({"--bg", p.bg, "--fg", p.fg, "--alignment", p.align, "-o", p.out, "--crf", "10",
                            "--preset", "veryfast", "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");  // stdout carries results only
  EXPECT_EQ(r.err, "");  // --quiet
  VideoInfo o;
  ASSERT_TRUE(probe(p.out, o).ok());
  EXPECT_EQ(o.width, 320);
  EXPECT_EQ(o.height, 240);
  EXPECT_EQ(o.fps.num, 30);
  EXPECT_EQ(o.fps.den, 1);
  EXPECT_EQ(o.frames, 60);
  // fg has no audio, so bg's audio comes along, shifted to the map and cut to the output's 2 s.
  EXPECT_TRUE(o.has_audio);
  EXPECT_EQ(audio_codec(p.out), "aac");
  EXPECT_NEAR(audio_duration(p.out), 2.0, 0.06);
  expect_composite(p, 8, false);
  EXPECT_EQ(p.dir.list(), (std::vector<std::string>{"align.json", "bg.mp4", "fg.mp4", "out.mp4"}));
}

TEST(Render, BlendFeathersVisibleEdges) {
  Pair p;
  make_pair(p);
  align_by_rate(p, {40, 30, 1.0});
  vt::Run r = vt::vidkompy({"--bg", p.bg, "--fg", p.fg, "--alignment", p.align, "-o", p.out, "--crf", "10",
                            "--blend", "--border", "6"});
  ASSERT_EQ(r.code, 0) << r.err;
  expect_composite(p, 6, true);
}

TEST(Render, ScaledClippedOddSizesAndBackwardMap) {
  Pair p;
  make_pair(p, "-vf scale=321:241", "", "bg.mkv", "-c:v ffv1");
  // fg 160x120 scaled by 1.5 to 240x180, hanging past the right and bottom edges of a 321x241 bg.
  p.place = {151, 101, 1.5};
  for (int i = 0; i < 60; ++i) p.map.push_back(i < 30 ? 40 - i : i);  // steps back, then forward
  write_alignment(p.align, p.place, p.map);
  vt::Run r = vt::vidkompy({"--bg", p.bg, "--fg", p.fg, "--alignment", p.align, "-o", p.out, "--crf", "10"});
  ASSERT_EQ(r.code, 0) << r.err;
  VideoInfo o;
  ASSERT_TRUE(probe(p.out, o).ok());
  EXPECT_EQ(o.width, 320);  // even size: the odd last column/row of bg is dropped
  EXPECT_EQ(o.height, 240);
  EXPECT_FALSE(o.has_audio);
  expect_composite(p, 8, false);
}

// A map far into bg, back near its start and far on again: the far jumps start decoding at the keyframe before
// them (FrameSource::skip_to) and must still show exactly the mapped bg frames.
TEST(Render, FarJumpsThroughBgShowTheMappedFrames) {
  Pair p;
  make_pair(p, "", "", "bg.mp4", "-c:v libx264 -crf 12 -g 25 -bf 2", 10);
  p.place = {81, 41, 1.0};
  for (int i = 0; i < 60; ++i) p.map.push_back(i < 20 ? 160 + i : i < 40 ? i - 10 : 190 + i);
  write_alignment(p.align, p.place, p.map);
  vt::Run r = vt::vidkompy({"--bg", p.bg, "--fg", p.fg, "--alignment", p.align, "-o", p.out, "--crf", "10",
                            "--preset", "veryfast", "-v"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("cannot seek"), std::string::npos) << r.err;
  expect_composite(p, 8, false);
}

// A map that passes every other bg frame by (bg at twice fg's rate, say): the frames it does not show, where no
// other frame refers to them (B-frames), are not decoded, and every output frame still shows its mapped bg frame.
TEST(Render, MapPassingBgFramesByShowsTheMappedFrames) {
  Pair p;
  make_pair(p, "", "", "bg.mp4", "-c:v libx264 -crf 10 -g 50 -bf 3", 6);
  p.place = {81, 41, 1.0};
  for (int i = 0; i < 60; ++i) p.map.push_back(7 + 2 * i);
  write_alignment(p.align, p.place, p.map);
  vt::Run r = vt::vidkompy({"--bg", p.bg, "--fg", p.fg, "--alignment", p.align, "-o", p.out, "--crf", "10",
                            "--preset", "veryfast", "-v"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("bg.mp4: decoding 61 of its 150 frames"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("do not add up"), std::string::npos) << r.err;
  expect_composite(p, 8, false);
}

// A --frames segment that starts far into fg skips to it (FrameSource::skip_to on fg and bg) and is, frame for
// frame, the same part of a single run (lossless, so exactly).
TEST(Render, SegmentFarIntoFgEqualsThatPartOfTheSingleRun) {
  Pair p;
  make_pair(p, "", "-g 30", "bg.mp4", "-c:v libx264 -crf 12 -g 25", 10, 6);
  p.place = {81, 41, 1.0};
  for (int i = 0; i < 180; ++i) p.map.push_back(40 + i * 25 / 30);
  write_alignment(p.align, p.place, p.map);
  const std::string seg = p.dir / "seg.mp4";
  for (const auto& [out, frames] : {std::pair{p.out, std::string("0:180")}, std::pair{seg, std::string("130:180")}}) {
    vt::Run r = vt::vidkompy({"--bg", p.bg, "--fg", p.fg, "--alignment", p.align, "-o", out, "--crf", "0",
                              "--preset", "ultrafast", "--frames", frames, "-q"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  const auto whole = vt::decode_all(p.out), part = vt::decode_all(seg);
  ASSERT_EQ(whole.size(), 180u);
  ASSERT_EQ(part.size(), 50u);
  for (size_t k = 0; k < part.size(); ++k) {
    const Image& a = part[k]->image;
    for (int c = 0; c < 3; ++c)
      EXPECT_EQ(vt::psnr(a, whole[130 + k]->image, c, {0, 0, a.plane[c].width, a.plane[c].height}), 99.0)
          << "frame " << 130 + k << " plane " << c;
  }
}

TEST(Render, FgAudioIsCopiedOrReencoded) {
  Pair p;
  make_pair(p, "-f lavfi -i sine=frequency=220:duration=3 -c:a aac -shortest",
            "-f lavfi -i sine=frequency=880:duration=2 -c:a aac -shortest");
  align_by_rate(p, {0, 0, 1.0});
  vt::Run r = vt::vidkompy({"--bg", p.bg, "--fg", p.fg, "--alignment", p.align, "-o", p.out});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(audio_codec(p.out), "aac");
  EXPECT_NEAR(audio_duration(p.out), 2.0, 0.06);
  // The fg's own packets were copied: the 880 Hz tone, not bg's 220 Hz one. Compare the first audio packet.
  const std::string fg_pkt = ffprobe("-select_streams a:0 -show_entries packet=size -of csv=p=0 -read_intervals %+#3 " + quote(p.fg));
  const std::string out_pkt = ffprobe("-select_streams a:0 -show_entries packet=size -of csv=p=0 -read_intervals %+#3 " + quote(p.out));
  EXPECT_EQ(fg_pkt, out_pkt);

  // Vorbis in Matroska cannot be copied into MP4: re-encoded to AAC, same duration.
  const std::string mkv = p.dir / "fg.mkv";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i mandelbrot=size=160x120:rate=30 -f lavfi -i sine=frequency=880 -t 2 "
                         "-c:v libx264 -pix_fmt yuv420p -c:a libvorbis " + quote(mkv)));
  const std::string out2 = p.dir / "out2.mp4";
  r = vt::vidkompy({"--bg", p.bg, "--fg", mkv, "--alignment", p.align, "-o", out2});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(audio_codec(out2), "aac");
  EXPECT_NEAR(audio_duration(out2), 2.0, 0.06);
}

// The output's extension names its container, as with ffmpeg: .mkv gives Matroska, which takes Vorbis as it is;
// .mov gives QuickTime (AAC, like MP4). Any other extension is refused before any work, and nothing is written.
TEST(Render, OutputContainerFollowsTheExtension) {
  Pair p;
  make_pair(p);
  align_by_rate(p, {0, 0, 1.0});
  const std::string fg = p.dir / "fg.mkv";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i mandelbrot=size=160x120:rate=30 -f lavfi -i sine=frequency=880 -t 2 "
                         "-c:v libx264 -pix_fmt yuv420p -c:a libvorbis " + quote(fg)));
  auto format = [](const std::string& path) { return ffprobe("-show_entries format=format_name -of csv=p=0 " + quote(path)); };
  for (const auto& [name, container, audio] : {std::tuple{"out.mkv", "\"matroska,webm\"", "vorbis"},
                                               std::tuple{"out.mov", "\"mov,mp4,m4a,3gp,3g2,mj2\"", "aac"},
                                               std::tuple{"OUT.M4V", "\"mov,mp4,m4a,3gp,3g2,mj2\"", "aac"}}) {
    const std::string out = p.dir / name;
    const vt::Run r = vt::vidkompy({"--bg", p.bg, "--fg", fg, "--alignment", p.align, "-o", out, "-q"});
    ASSERT_EQ(r.code, 0) << name << ": " << r.err;
    EXPECT_EQ(format(out), container) << name;
    EXPECT_EQ(audio_codec(out), audio) << name;
    EXPECT_EQ(vt::decode_all(out).size(), 60u) << name;
  }
  const std::string avi = p.dir / "out.avi";
  const vt::Run r = vt::vidkompy({"--bg", p.bg, "--fg", fg, "--alignment", p.align, "-o", avi});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "vidkompy: error: " + avi + ": the output is H.264 video in MP4, MOV or Matroska: name it .mp4, "
                   ".m4v, .mov or .mkv\n");
  EXPECT_FALSE(std::filesystem::exists(avi));
}

TEST(Render, SignalRemovesPartialOutput) {
  for (int sig : {SIGINT, SIGTERM}) {
    vt::TempDir dir;
    const std::string bg = dir / "bg.mp4", fg = dir / "fg.mp4", al = dir / "a.json", out = dir / "out.mp4";
    ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=640x480:rate=25:duration=20 -c:v libx264 -preset ultrafast " + quote(bg)));
    ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=20 -c:v libx264 -preset ultrafast " + quote(fg)));
    std::vector<int64_t> map(500);
    for (int i = 0; i < 500; ++i) map[i] = i;
    write_alignment(al, {10, 10, 1.0}, map);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::execl(VIDKOMPY_BIN, VIDKOMPY_BIN, "--bg", bg.c_str(), "--fg", fg.c_str(), "--alignment", al.c_str(), "-o",
              out.c_str(), "--preset", "veryslow", "-q", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Wait until the temporary file exists, i.e. rendering has started.
    for (int i = 0; i < 200 && dir.list().size() < 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    ::kill(pid, sig);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), sig == SIGTERM ? 143 : 130);
    EXPECT_EQ(dir.list(), (std::vector<std::string>{"a.json", "bg.mp4", "fg.mp4"}));
  }
}

// Semi-planar fg frames (NVDEC hands NV12 back; raw NV12 and NV21 files) are split into planes on decoding: the
// composite is the one of the same pictures stored planar, to the bit (NV21 keeps V first: no swapped colours).
TEST(Render, SemiPlanarFgRendersAsItsPlanarTwin) {
  Pair p;
  make_pair(p);
  p.place = {81, 41, 1.0};
  for (int i = 0; i < 60; ++i) p.map.push_back(10 + (i * 25 + 15) / 30);
  write_alignment(p.align, p.place, p.map);
  std::vector<std::string> sums;
  for (const char* pf : {"yuv420p", "nv12", "nv21"}) {
    const std::string fg = p.dir / (std::string(pf) + ".nut"), out = p.dir / (std::string(pf) + ".mp4");
    ASSERT_TRUE(vt::ffmpeg("-i " + quote(p.fg) + " -c:v rawvideo -pix_fmt " + pf + " " + quote(fg)));
    const vt::Run r = vt::vidkompy({"--bg", p.bg, "--fg", fg, "--alignment", p.align, "-o", out, "--crf", "0",
                                    "--preset", "ultrafast", "-q"});
    ASSERT_EQ(r.code, 0) << pf << ": " << r.err;
    sums.push_back(capture("ffmpeg -nostdin -v error -i " + quote(out) + " -f framemd5 -"));
  }
  EXPECT_FALSE(sums[0].empty());
  EXPECT_EQ(sums[1], sums[0]);
  EXPECT_EQ(sums[2], sums[0]);
}

// The output takes bg's colour: its range and matrix in the stream's header, and fg converted into them. fg is a
// crop of bg made in another range or matrix, so the fg region of the output must show what bg shows there.
// (Before: a full-range VP9 fg kept its numbers, 12.8 levels off on average; a BT.601 fg in a BT.709 bg, 14.6.)
TEST(Render, FgIsConvertedIntoBgsRangeAndMatrix) {
  vt::TempDir dir;
  const std::string bg_tv = dir / "bg_tv.mp4", bg_pc = dir / "bg_pc.webm", bg709 = dir / "bg709.mp4";
  const std::string align = dir / "align.json";
  const std::string vp9 = " -c:v libvpx-vp9 -crf 20 -b:v 0 -deadline realtime -cpu-used 8 -pix_fmt yuv420p ";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 -c:v libx264 -crf 10 -pix_fmt yuv420p " +
                         quote(bg_tv)));
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(bg_tv) + " -vf scale=out_range=full" + vp9 + "-color_range pc " + quote(bg_pc)));
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 -vf "
                         "scale=out_color_matrix=bt709:flags=accurate_rnd -c:v libx264 -crf 10 -pix_fmt yuv420p "
                         "-colorspace bt709 -color_primaries bt709 -color_trc bt709 " + quote(bg709)));
  const Placement place{80, 40, 1.0};
  std::vector<int64_t> map;
  for (int i = 0; i < 25; ++i) map.push_back(i);
  write_alignment(align, place, map);
  const std::string crop = "crop=160:120:80:40";
  struct Case {
    const char* name;
    std::string bg, fg_filter, fg_codec;
    bool full;
    int matrix;
  } cases[] = {
      {"full-range fg in a limited bg", bg_tv, crop + ",scale=out_range=full", vp9 + "-color_range pc", false, 2},
      {"limited fg in a full-range bg", bg_pc, crop, " -c:v libx264 -crf 10 -pix_fmt yuv420p", true, 2},
      {"BT.601 fg in a BT.709 bg", bg709, crop + ",scale=in_color_matrix=bt709:out_color_matrix=bt601:flags=accurate_rnd",
       " -c:v libx264 -crf 10 -pix_fmt yuv420p -colorspace smpte170m", false, 1},
  };
  for (const Case& c : cases) {
    const std::string fg = dir / "fg.mkv", out = dir / "out.mp4";
    ASSERT_TRUE(vt::ffmpeg("-i " + quote(c.bg) + " -vf " + c.fg_filter + c.fg_codec + " " + quote(fg))) << c.name;
    const vt::Run r = vt::vidkompy({"--bg", c.bg, "--fg", fg, "--alignment", align, "-o", out, "--crf", "10", "-q"});
    ASSERT_EQ(r.code, 0) << c.name << ": " << r.err;
    VideoInfo o;
    ASSERT_TRUE(probe(out, o).ok());
    EXPECT_EQ(o.colour.full_range, c.full) << c.name;
    EXPECT_EQ(o.colour.matrix, c.matrix) << c.name;
    // Both decoded into limited range: the fg region (inside a margin for chroma's reach) against bg's.
    const auto b = vt::decode_all(c.bg), v = vt::decode_all(out);
    ASSERT_EQ(v.size(), 25u) << c.name;
    for (int p = 0; p < 3; ++p) {
      const int k = p ? 2 : 1;
      const Rect fr{(80 + 8) / k, (40 + 8) / k, (160 - 16) / k, (120 - 16) / k};
      EXPECT_GT(vt::psnr(v[12]->image, b[12]->image, p, fr), 33.0) << c.name << ", plane " << p;
    }
  }
}

// Anamorphic video (HDV's 1440x1080 shown 16:9, DV): the output keeps bg's pixel shape, so it is displayed as bg
// is (it was written with square pixels: 25% too narrow).
TEST(Render, OutputKeepsBgsPixelShape) {
  vt::TempDir dir;
  const std::string bg = dir / "bg.mp4", fg = dir / "fg.mp4", out = dir / "out.mp4";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=480x270:rate=25:duration=1 -vf setsar=4/3 -c:v libx264 -crf 12 "
                         "-pix_fmt yuv420p " + quote(bg)));
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(bg) + " -vf crop=240:136:80:40 -c:v libx264 -crf 12 " + quote(fg)));
  VideoInfo b;
  ASSERT_TRUE(probe(bg, b).ok());
  EXPECT_EQ(b.sar.num, 4);
  EXPECT_EQ(b.sar.den, 3);
  vt::Run r = vt::vidkompy({"--bg", bg, "--fg", fg, "-o", out, "--preset", "ultrafast"});
  ASSERT_EQ(r.code, 0) << r.err;
  VideoInfo o;
  ASSERT_TRUE(probe(out, o).ok());
  EXPECT_EQ(o.sar.num, 4);
  EXPECT_EQ(o.sar.den, 3);
  EXPECT_EQ(ffprobe("-show_entries stream=display_aspect_ratio -of csv=p=0 " + quote(out)), "64:27");  // as bg shows
}

// A fg whose pixels have another shape than bg's (a DV clip, 8:9, in square-pixel video) is matched and shown
// resampled to bg's shape. Here fg is a 320x240 crop of bg stored 360 wide with 8:9 pixels: found at the crop's
// place, unscaled, and the composite shows bg's picture there. (Before: placed with its own pixels at scale 0.90,
// 1.6 px and 21 px off.)
TEST(Render, FgWithAnotherPixelShapeIsMatchedInBgs) {
  vt::TempDir dir;
  const std::string bg = dir / "bg.mp4", fg = dir / "fg.mp4", out = dir / "out.mp4", report = dir / "r.json";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=640x360:rate=25:duration=2 -c:v libx264 -crf 12 -pix_fmt yuv420p " +
                         quote(bg)));
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(bg) + " -vf crop=320:240:160:60,scale=360:240,setsar=8/9 -c:v libx264 -crf 12 " +
                         quote(fg)));
  const vt::Run r = vt::vidkompy({"--bg", bg, "--fg", fg, "-o", out, "--json", report, "--crf", "10"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("vidkompy: info: " + fg + ": its pixels are 8:9 (width:height) and bg's 1:1; it is matched and "
                       "shown resampled to bg's, 320x240 instead of 360x240"),
            std::string::npos)
      << r.err;
  const nlohmann::json j = nlohmann::json::parse(vt::slurp(report));
  EXPECT_EQ(j["fg"]["width"], 320);
  EXPECT_NEAR(j["spatial"]["x"].get<double>(), 160, 0.5);
  EXPECT_NEAR(j["spatial"]["y"].get<double>(), 60, 0.5);
  EXPECT_NEAR(j["spatial"]["scale"].get<double>(), 1.0, 0.005);
  const auto b = vt::decode_all(bg), v = vt::decode_all(out);
  ASSERT_EQ(v.size(), 50u);
  for (const size_t i : {size_t(10), size_t(40)})
    EXPECT_GT(vt::psnr(v[i]->image, b[i]->image, 0, {168, 68, 304, 224}), 30.0) << "frame " << i;
}

// The composite is opaque: a fg with an alpha channel (QuickTime RLE, ARGB here) gets a warning saying it is not
// used, and is rendered all the same.
TEST(Render, FgAlphaIsWarnedOf) {
  vt::TempDir dir;
  const std::string bg = dir / "bg.mp4", fg = dir / "fg.mov", out = dir / "out.mp4";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 -c:v libx264 -crf 12 -pix_fmt yuv420p " +
                         quote(bg)));
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(bg) + " -vf crop=160:120:80:40,format=argb -c:v qtrle " + quote(fg)));
  VideoInfo f;
  ASSERT_TRUE(probe(fg, f).ok());
  EXPECT_TRUE(f.alpha);
  const vt::Run r = vt::vidkompy({"--bg", bg, "--fg", fg, "-o", out, "--preset", "ultrafast"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("vidkompy: warning: " + fg + ": it has an alpha channel, which is not used: fg is shown opaque, "
                       "its transparent parts with the colours stored there"),
            std::string::npos)
      << r.err;
}

// Transfers are not converted: an HDR (PQ) fg in an SDR bg gets a warning saying so.
TEST(Render, HdrFgInSdrBgIsWarnedOf) {
  vt::TempDir dir;
  const std::string bg = dir / "bg.mp4", fg = dir / "fg.mp4";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 -c:v libx264 -crf 12 -pix_fmt yuv420p " +
                         quote(bg)));
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(bg) + " -vf crop=160:120:80:40 -c:v libx264 -crf 12 -color_trc smpte2084 "
                         "-color_primaries bt2020 -colorspace bt2020nc " + quote(fg)));
  const vt::Run r = vt::vidkompy({"--bg", bg, "--fg", fg, "--align-only", "--json", dir / "r.json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("vidkompy: warning: " + fg + ": fg is HDR and bg is not; fg is shown without tone mapping, so "
                       "its colours will look washed out"),
            std::string::npos)
      << r.err;
}

// Frame times in seconds (presentation order) as ffprobe reads them.
std::vector<double> frame_times(const std::string& path) {
  std::vector<double> t;
  std::istringstream in(ffprobe("-select_streams v -show_entries frame=pts_time -of csv=p=0 " + quote(path)));
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line != ",") t.push_back(std::stod(line));
  return t;
}

// A variable-rate fg (a 30 fps capture that drops to 15 fps for a second, as phones do in low light and screen
// recorders where nothing moves) is matched by its frames' times, and the output shows each of its frames at its
// own time. Until session 16 its frame index was taken for time: on a 4 s pair made like this one, 39 of 105 fg
// frames took a bg frame up to 8 frames off (confidence 0.9999), and the output, at the average rate, ran up to
// 0.23 s off fg's times (its audio).
TEST(Render, VariableRateFgIsMatchedAndShownByItsTimes) {
  vt::TempDir dir;
  const std::string bg = dir / "bg.mp4", fg = dir / "fg.mp4", out = dir / "out.mp4", report = dir / "r.json";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=30:duration=3 -c:v libx264 -crf 12 -preset veryfast " +
                         quote(bg)));
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(bg) + " -vf \"select='not(between(t,1,2)*mod(n,2))',crop=160:120:80:60\" "
                         "-fps_mode vfr -c:v libx264 -crf 12 -preset veryfast " + quote(fg)));
  const std::vector<double> fg_t = frame_times(fg);
  ASSERT_EQ(fg_t.size(), 75u);  // 30 + 16 + 29: 15 of the second second's frames dropped
  const vt::Run r = vt::vidkompy({"--bg", bg, "--fg", fg, "-o", out, "--json", report, "--crf", "12"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("matched on a grid of 30.000 fps"), std::string::npos) << r.err;
  const auto map = nlohmann::json::parse(vt::slurp(report))["temporal"]["map"].get<std::vector<int64_t>>();
  ASSERT_EQ(map.size(), fg_t.size());
  for (size_t i = 0; i < map.size(); ++i) EXPECT_EQ(map[i], std::lround(fg_t[i] * 30)) << "fg frame " << i;
  const std::vector<double> out_t = frame_times(out);
  ASSERT_EQ(out_t.size(), fg_t.size());
  for (size_t i = 0; i < out_t.size(); ++i) EXPECT_NEAR(out_t[i] - out_t[0], fg_t[i] - fg_t[0], 0.001) << "frame " << i;
}

// A variable-rate bg is matched by its frames' times too: each fg frame takes the bg frame nearest its moment
// (until session 16, 42 of 120 fg frames were up to 5 frames off on a 4 s pair made like this one).
TEST(Render, VariableRateBgIsMatchedByItsTimes) {
  vt::TempDir dir;
  const std::string src = dir / "src.mp4", bg = dir / "bg.mp4", fg = dir / "fg.mp4", report = dir / "r.json";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=30:duration=3 -c:v libx264 -crf 12 -preset veryfast " +
                         quote(src)));
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(src) + " -vf \"select='not(between(t,1,2)*mod(n,2))'\" -fps_mode vfr -c:v libx264 "
                         "-crf 12 -preset veryfast " + quote(bg)));
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(src) + " -vf crop=160:120:80:60 -c:v libx264 -crf 12 -preset veryfast " + quote(fg)));
  std::vector<int64_t> shows;  // the source frame of each bg frame
  for (const double t : frame_times(bg)) shows.push_back(std::lround(t * 30));
  const vt::Run r = vt::vidkompy({"--bg", bg, "--fg", fg, "--align-only", "--json", report});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto map = nlohmann::json::parse(vt::slurp(report))["temporal"]["map"].get<std::vector<int64_t>>();
  ASSERT_EQ(map.size(), 90u);
  for (size_t i = 0; i < map.size(); ++i) {
    int64_t nearest = INT64_MAX;
    for (const int64_t s : shows) nearest = std::min<int64_t>(nearest, std::abs(s - int64_t(i)));
    ASSERT_LT(size_t(map[i]), shows.size());
    EXPECT_EQ(std::abs(shows[size_t(map[i])] - int64_t(i)), nearest) << "fg frame " << i << " took bg " << map[i];
  }
}

// A speed change (fg: film at 24 fps shown frame for frame at 25, as PAL does) and no audio of fg's own: bg's
// audio plays 25/24 as fast, so that each sound stays with its picture. bg beeps at 2, 4 and 6 s; the map shows
// bg from 1 s on, one frame per fg frame, so the output must beep at (t - 1) x 24/25: 0.96, 2.88 and 4.80 s.
// Until session 17 it beeped at 1, 3 and 5 s (0.2 s late after 5 s).
TEST(Render, SpeedChangedFgTakesBgAudioAtTheMapsSpeed) {
  vt::TempDir dir;
  const std::string bg = dir / "bg.mp4", fg = dir / "fg.mp4", align = dir / "a.json", out = dir / "out.mp4",
                    pcm = dir / "out.raw";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=24:duration=8 -f lavfi -i "
                         "\"aevalsrc=if(lt(mod(t\\,2)\\,0.05)*gte(t\\,1.9)\\,sin(2*PI*1000*t)\\,0):s=48000:d=8\" "
                         "-c:v libx264 -crf 18 -preset veryfast -c:a aac -b:a 128k " + quote(bg)));
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i mandelbrot=size=160x120:rate=25 -t 6 -c:v libx264 -crf 18 -preset veryfast " +
                         quote(fg)));
  std::vector<int64_t> map;
  for (int i = 0; i < 150; ++i) map.push_back(24 + i);
  write_alignment(align, {40, 30, 1.0}, map);
  const vt::Run r = vt::vidkompy({"--bg", bg, "--fg", fg, "--alignment", align, "-o", out, "--preset", "veryfast"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("its audio plays 1.0417x as fast"), std::string::npos) << r.err;
  EXPECT_NEAR(audio_duration(out), 6.0, 0.06);
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(out) + " -vn -ac 1 -ar 8000 -f s16le " + quote(pcm)));
  const std::string raw = vt::slurp(pcm);
  std::vector<double> onsets;  // seconds where a beep starts
  for (size_t i = 0, quiet = 1000; i + 1 < raw.size(); i += 2) {
    int16_t x;
    std::memcpy(&x, raw.data() + i, 2);
    if (std::abs(x) > 3000 && quiet >= 800) onsets.push_back(double(i / 2) / 8000);
    quiet = std::abs(x) > 3000 ? 0 : quiet + 1;
  }
  ASSERT_EQ(onsets.size(), 3u);
  EXPECT_NEAR(onsets[0], 0.96, 0.02);
  EXPECT_NEAR(onsets[1], 2.88, 0.02);
  EXPECT_NEAR(onsets[2], 4.80, 0.02);
}

// A pillarboxed fg (a 4:3 picture in a 16:9 frame, bars baked in) is placed by its picture, and its bars are not
// shown over bg. Until session 16 it was not found in bg (exit 3: the bars match nothing there).
TEST(Render, PillarboxedFgIsPlacedByItsPictureAndItsBarsLeftOut) {
  vt::TempDir dir;
  const std::string bg = dir / "bg.mp4", fg = dir / "fg.mp4", out = dir / "out.mp4", report = dir / "r.json";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=640x480:rate=25:duration=2 -c:v libx264 -crf 12 -preset veryfast " +
                         quote(bg)));
  // The 320x240 picture at (160, 120) of bg, made 240x180 and pillarboxed to 320x180.
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(bg) + " -vf crop=320:240:160:120,scale=240:180,pad=320:180:40:0 -c:v libx264 "
                         "-crf 12 -preset veryfast " + quote(fg)));
  const vt::Run r = vt::vidkompy({"--bg", bg, "--fg", fg, "-o", out, "--json", report, "--crf", "10"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("black bars (left 40, top 0, right 40, bottom 0 px) are left out; its picture is 240x180"),
            std::string::npos) << r.err;
  const nlohmann::json j = nlohmann::json::parse(vt::slurp(report));
  EXPECT_NEAR(j["spatial"]["x"].get<double>(), 160, 1.0);
  EXPECT_NEAR(j["spatial"]["y"].get<double>(), 120, 1.0);
  EXPECT_NEAR(j["spatial"]["scale"].get<double>(), 4.0 / 3, 0.01);
  EXPECT_EQ(j["fg"]["width"].get<int>(), 240);
  EXPECT_EQ(j["fg"]["bars"], (nlohmann::json{{"left", 40}, {"top", 0}, {"right", 40}, {"bottom", 0}}));
  EXPECT_TRUE(vt::report_schema_errors(vt::slurp(report)).empty());
  // Where the bars would have gone (53 px of bg left and right of the picture), bg shows, not black.
  const auto b = vt::decode_all(bg), v = vt::decode_all(out);
  ASSERT_EQ(v.size(), b.size());
  for (const int i : {10, 40}) {
    EXPECT_GT(vt::psnr(v[size_t(i)]->image, b[size_t(i)]->image, 0, {110, 124, 46, 232}), 35.0) << "frame " << i;
    EXPECT_GT(vt::psnr(v[size_t(i)]->image, b[size_t(i)]->image, 0, {484, 124, 46, 232}), 35.0) << "frame " << i;
  }
}

// A 10-bit bg (HEVC Main 10, ProRes, HDR footage) keeps its depth: composed and encoded as yuv420p10le (High 10),
// an 8-bit fg converted up into it. Written as 8 bits, as until session 16, every bg sample lost its low two bits
// (a smooth 10-bit ramp came out 1.4 levels off on average, in bands).
TEST(Render, TenBitBgKeepsItsDepth) {
  vt::TempDir dir;
  const std::string bg = dir / "bg.mkv", fg = dir / "fg.mkv", out = dir / "out.mp4", align = dir / "align.json";
  // Ramps that use every 10-bit level, moving from frame to frame; fg a crop of it made 8-bit.
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=0.4 -vf \"format=yuv420p10le,"
                         "geq=lum='64+X*2+Y*0.6+N*3':cb='512+X/2':cr='400+Y'\" -c:v ffv1 " + quote(bg)));
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(bg) + " -vf crop=160:120:80:60,scale=sws_dither=none,format=yuv420p -c:v ffv1 " + quote(fg)));
  write_alignment(align, {80, 60, 1.0}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  const auto b = vt::decode_all(bg, 0, 0, 10), f = vt::decode_all(fg, 0, 0, 10);
  ASSERT_EQ(f.size(), 10u);
  auto at = [](const vidkompy::Image& im, int p, int x, int y) {
    return int(reinterpret_cast<const uint16_t*>(im.plane[p].row(y))[x]);
  };
  // --crf 0 is lossless at 10 bits too (as qp 0: x264's crf 0 is not, there).
  for (const std::string crf : {"4", "0"}) {
    SCOPED_TRACE("--crf " + crf);
    const vt::Run r = vt::vidkompy({"--bg", bg, "--fg", fg, "--alignment", align, "-o", out, "--crf", crf, "-q"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(ffprobe("-select_streams v -show_entries stream=pix_fmt,profile -of csv=p=0 " + quote(out)),
              crf == "0" ? "High 4:4:4 Predictive,yuv420p10le" : "High 10,yuv420p10le");
    const auto v = vt::decode_all(out, 0, 0, 10);
    ASSERT_EQ(v.size(), 10u);
    for (const int i : {0, 5, 9}) {
      for (int p = 0; p < 3; ++p) {
        const int k = p ? 2 : 1;
        const vidkompy::Image &o = v[size_t(i)]->image, &bi = b[size_t(i)]->image, &fi = f[size_t(i)]->image;
        double bg_err = 0, fg_err = 0;
        int nb = 0, nf = 0;
        for (int y = 0; y < o.plane[p].height; ++y) {
          for (int x = 0; x < o.plane[p].width; ++x) {
            const int lx = x * k, ly = y * k;
            if (lx >= 80 + 4 && lx < 240 - 4 && ly >= 60 + 4 && ly < 180 - 4) {
              fg_err += std::abs(at(o, p, x, y) - at(fi, p, x - 80 / k, y - 60 / k)), ++nf;
            } else if (lx < 80 - 4 || lx >= 240 + 4 || ly < 60 - 4 || ly >= 180 + 4) {
              bg_err += std::abs(at(o, p, x, y) - at(bi, p, x, y)), ++nb;
            }
          }
        }
        // 10-bit levels. At --crf 4, bg's area: 0.2 measured, 1.4 for session 15's 8-bit output; fg's: its 8-bit
        // steps, which x264 smooths a little (0.4-0.7); a fg not converted up to 10 bits would be hundreds off.
        EXPECT_LE(bg_err / nb, crf == "0" ? 0.0 : 0.5) << "frame " << i << " plane " << p;
        EXPECT_LE(fg_err / nf, crf == "0" ? 0.0 : 1.5) << "frame " << i << " plane " << p;
      }
    }
  }
}

// An RGB fg (a screen recording, say) in a bg that names no matrix: made YUV with the matrix players assume for
// bg's size, BT.709 for HD (libswscale's default, BT.601, put it 14.5 levels off on average).
TEST(Render, RgbFgInAnUntaggedHdBgIsMadeBt709) {
  vt::TempDir dir;
  const std::string bg = dir / "bg.mp4", fg = dir / "fg.nut", out = dir / "out.mp4", align = dir / "align.json";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=1280x720:rate=25:duration=0.4 -vf "
                         "scale=out_color_matrix=bt709:flags=accurate_rnd -c:v libx264 -crf 10 -pix_fmt yuv420p " +
                         quote(bg)));
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=1280x720:rate=25:duration=0.4 -vf crop=640:360:320:180,format=rgb24 "
                         "-c:v rawvideo " + quote(fg)));
  write_alignment(align, {320, 180, 1.0}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  const vt::Run r = vt::vidkompy({"--bg", bg, "--fg", fg, "--alignment", align, "-o", out, "--crf", "10", "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto b = vt::decode_all(bg), v = vt::decode_all(out);
  ASSERT_EQ(v.size(), 10u);
  for (int p = 0; p < 3; ++p) {
    const int k = p ? 2 : 1;
    const Rect fr{(320 + 8) / k, (180 + 8) / k, (640 - 16) / k, (360 - 16) / k};
    EXPECT_GT(vt::psnr(v[5]->image, b[5]->image, p, fr), 35.0) << "plane " << p;
  }
}
