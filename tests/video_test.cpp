// Video I/O through the library: probe() of generated clips (frame rates, audio, Matroska/WebM, rotation, bad
// inputs) and open_frames() decoding (frame counts, pixel values, scaling, rewind, presentation order).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include "testutil.hpp"
#include "vidkompy/types.hpp"
#include "vidkompy/video.hpp"

namespace fs = std::filesystem;
using vt::quote;

namespace {

// FFmpeg's own log stays silent, as in the CLI without -v (damaged inputs below would otherwise spam it).
const bool kQuietFfmpeg = (vidkompy::set_ffmpeg_log_level(0), true);

// stdout of a shell command (used for ffprobe cross-checks).
std::string shell_out(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// A testsrc2 clip of n frames at `rate` (an ffmpeg rate string), 160x120, H.264 unless extra says otherwise.
void make_clip(const std::string& path, const std::string& rate, int n, const std::string& extra = "") {
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=160x120:rate=" + rate + " -frames:v " + std::to_string(n) +
                         " -pix_fmt yuv420p " + extra + " " + quote(path)));
}

vidkompy::VideoInfo probe_ok(const std::string& path) {
  vidkompy::VideoInfo info;
  const vidkompy::Status st = vidkompy::probe(path, info);
  EXPECT_TRUE(st.ok()) << path << ": " << (st.errors.empty() ? "" : st.errors[0]);
  return info;
}

// Mean of plane p over the whole picture.
double plane_mean(const vidkompy::Image& img, int p) {
  const vidkompy::Plane& pl = img.plane[p];
  double sum = 0;
  for (int y = 0; y < pl.height; ++y)
    for (int x = 0; x < pl.width; ++x) sum += pl.row(y)[x];
  return sum / (double(pl.width) * pl.height);
}

// Largest deviation of plane p from `value`.
int plane_max_dev(const vidkompy::Image& img, int p, int value) {
  const vidkompy::Plane& pl = img.plane[p];
  int dev = 0;
  for (int y = 0; y < pl.height; ++y)
    for (int x = 0; x < pl.width; ++x) dev = std::max(dev, std::abs(int(pl.row(y)[x]) - value));
  return dev;
}

vidkompy::Rect full(const vidkompy::Image& img) { return {0, 0, img.width, img.height}; }

// ------------------------------------------------------------------------------------------------ probe

struct RateCase {
  const char* rate;
  int num, den;
  int frames;
};

class ProbeRate : public ::testing::TestWithParam<RateCase> {};

TEST_P(ProbeRate, ExactRationalFramesSizeDuration) {
  const RateCase c = GetParam();
  vt::TempDir dir;
  const std::string path = dir / "clip.mp4";
  make_clip(path, c.rate, c.frames);
  const vidkompy::VideoInfo info = probe_ok(path);
  EXPECT_EQ(info.path, path);
  EXPECT_EQ(info.fps.num, c.num);
  EXPECT_EQ(info.fps.den, c.den);
  EXPECT_EQ(info.frames, c.frames);
  EXPECT_EQ(info.width, 160);
  EXPECT_EQ(info.height, 120);
  EXPECT_EQ(info.codec, "h264");
  EXPECT_EQ(info.pix_fmt, "yuv420p");
  EXPECT_NE(info.container.find("mp4"), std::string::npos) << info.container;
  EXPECT_NEAR(info.duration, double(c.frames) * c.den / c.num, 0.02);
  EXPECT_NEAR(info.start_time, 0.0, 1e-6);
  EXPECT_EQ(info.rotation, 0);
  EXPECT_FALSE(info.has_audio);
  EXPECT_TRUE(info.audio_codec.empty());
}

INSTANTIATE_TEST_SUITE_P(Rates, ProbeRate,
                         ::testing::Values(RateCase{"24", 24, 1, 24}, RateCase{"25", 25, 1, 25},
                                           RateCase{"30000/1001", 30000, 1001, 30}, RateCase{"60", 60, 1, 60}),
                         [](const auto& info) {
                           std::string n = info.param.rate;
                           for (char& ch : n)
                             if (ch == '/') ch = '_';
                           return "fps" + n;
                         });

TEST(Probe, WithAacAudio) {
  vt::TempDir dir;
  const std::string path = dir / "av.mp4";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=160x120:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 "
                         "-frames:v 25 -t 1 -pix_fmt yuv420p -c:a aac " + quote(path)));
  const vidkompy::VideoInfo info = probe_ok(path);
  EXPECT_TRUE(info.has_audio);
  EXPECT_EQ(info.audio_codec, "aac");
  EXPECT_EQ(info.audio_rate, 48000);
  EXPECT_EQ(info.audio_channels, 1);
  // The audio stream does not disturb the video facts.
  EXPECT_EQ(info.fps.num, 25);
  EXPECT_EQ(info.fps.den, 1);
  EXPECT_EQ(info.frames, 25);
  EXPECT_EQ(info.width, 160);
  EXPECT_EQ(info.height, 120);
  EXPECT_NEAR(info.duration, 1.0, 0.02);
}

TEST(Probe, MatroskaH264FramesCountedByDemuxing) {
  vt::TempDir dir;
  const std::string path = dir / "clip.mkv";
  make_clip(path, "25", 37);
  // Precondition: the header carries no frame count, so probe() has to count packets.
  ASSERT_EQ(shell_out("ffprobe -v error -select_streams v:0 -show_entries stream=nb_frames -of csv=p=0 " + quote(path))
                .substr(0, 3),
            "N/A");
  const vidkompy::VideoInfo info = probe_ok(path);
  EXPECT_NE(info.container.find("matroska"), std::string::npos) << info.container;
  EXPECT_EQ(info.frames, 37);
  EXPECT_EQ(info.fps.num, 25);
  EXPECT_EQ(info.fps.den, 1);
  EXPECT_NEAR(info.duration, 37 / 25.0, 0.05);
  EXPECT_EQ(vt::decode_all(path).size(), 37u);
}

// An MP4 cut without re-encoding (-ss before -i, -c copy) keeps the frames before the cut for the decoder, and
// its edit list drops them: the header counts them (150 here), the decoder shows 117, and so must the probe.
TEST(Probe, CutMp4CountsTheFramesItsEditListShows) {
  vt::TempDir dir;
  const std::string whole = dir / "whole.mp4", cut = dir / "cut.mp4";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=160x120:rate=25:duration=6 -c:v libx264 -g 50 -pix_fmt yuv420p " +
                         quote(whole)));
  ASSERT_TRUE(vt::ffmpeg("-ss 1.3 -i " + quote(whole) + " -c copy " + quote(cut)));
  // Precondition: the header counts the frames before the cut too.
  ASSERT_EQ(shell_out("ffprobe -v error -select_streams v:0 -show_entries stream=nb_frames -of csv=p=0 " + quote(cut))
                .substr(0, 3),
            "150");
  const size_t shown = vt::decode_all(cut).size();
  EXPECT_EQ(shown, 117u);
  EXPECT_EQ(probe_ok(cut).frames, int64_t(shown));
}

// Black bars: found where every sampled frame shows them dark and flat, of any width on each side; not in a dark
// border that varies (noise, a night scene's edge), nor in a video dark all over.
TEST(Probe, BlackBarsAreFoundWhereEveryFrameShowsThem) {
  vt::TempDir dir;
  struct Case {
    std::string name, vf;
    vidkompy::Bars want;
  };
  const std::vector<Case> cases = {
      {"letterbox", "scale=320:180,pad=320:240:0:30", {0, 30, 0, 30}},
      {"pillarbox, uneven", "scale=240:240,pad=320:240:50:0", {50, 0, 30, 0}},
      {"a dark border with noise", "scale=280:200,pad=320:240:20:20:color=0x141414,noise=alls=12:allf=t", {}},
      {"no bars", "null", {}},
      // Subtitles set in the letterbox (changing every second), a logo in a pillarbox: they go with their bar
      // (until session 17 the bar stopped at them, and the fg was not found in bg).
      {"letterbox with subtitles in it", "scale=320:180,pad=320:240:0:30,drawbox=x=110:y=215:w=70:h=12:color=white:t=fill:"
       "enable='lt(mod(t\\,2)\\,1)',drawbox=x=90:y=214:w=50:h=14:color=white:t=fill,drawbox=x=150:y=214:w=20:h=14:color=white:t=fill:enable='gte(mod(t\\,2)\\,1)'",
       {0, 30, 0, 30}},
      {"pillarbox with a logo in it", "scale=240:240,pad=320:240:40:0,drawbox=x=6:y=10:w=28:h=30:color=red:t=fill",
       {40, 0, 40, 0}},
      // testsrc2's dark blue stripe at the crop's left edge, crossed by its moving band: no bar.
      {"a dark stripe at the edge", "crop=160:120:160:120", {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string f = dir / "v.mp4";
    ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25:duration=3 -vf \"" + c.vf +
                           "\" -c:v libx264 -g 25 -crf 16 -pix_fmt yuv420p " + quote(f)));
    const vidkompy::Bars b = vidkompy::find_bars(probe_ok(f));
    EXPECT_EQ(b.left, c.want.left);
    EXPECT_EQ(b.top, c.want.top);
    EXPECT_EQ(b.right, c.want.right);
    EXPECT_EQ(b.bottom, c.want.bottom);
  }
  const std::string dark = dir / "dark.mp4";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i color=black:size=320x240:rate=25:duration=3 -vf \"drawbox=140:100:40:40:white:t=fill\" "
                         "-c:v libx264 -crf 16 -pix_fmt yuv420p " + quote(dark)));
  // A square on black looks barred all round, but those bars would leave less than half the picture: none.
  EXPECT_FALSE(vidkompy::find_bars(probe_ok(dark)).any());
}

TEST(Probe, WebmVp8FramesCountedByDemuxing) {
  vt::TempDir dir;
  const std::string path = dir / "clip.webm";
  make_clip(path, "30", 45, "-c:v libvpx -deadline realtime -b:v 200k");
  const vidkompy::VideoInfo info = probe_ok(path);
  EXPECT_NE(info.container.find("webm"), std::string::npos) << info.container;
  EXPECT_EQ(info.codec, "vp8");
  EXPECT_EQ(info.frames, 45);
  EXPECT_EQ(info.fps.num, 30);
  EXPECT_EQ(info.fps.den, 1);
  EXPECT_EQ(info.width, 160);
  EXPECT_EQ(info.height, 120);
  EXPECT_NEAR(info.duration, 1.5, 0.05);
  EXPECT_EQ(vt::decode_all(path).size(), 45u);
}

// rotation is in clockwise degrees, the direction ffmpeg's own autorotate turns the picture: a display matrix
// of -90 (the usual portrait phone clip) is 90. The `rotate` tag's sign differs between ffmpeg releases, so the
// test reads the matrix back with ffprobe and requires that both quarter turns are told apart.
// Streams stored sideways (phones) are reported and decoded as displayed.
TEST(Probe, RotationFromDisplayMatrixIsApplied) {
  vt::TempDir dir;
  const std::string plain = dir / "plain.mp4";
  make_clip(plain, "25", 10);
  std::set<int> seen;
  for (int tag : {90, 180, 270}) {
    const std::string path = dir / ("rot" + std::to_string(tag) + ".mp4");
    ASSERT_TRUE(vt::ffmpeg("-i " + quote(plain) + " -c copy -metadata:s:v:0 rotate=" + std::to_string(tag) + " " +
                           quote(path)));
    const std::string matrix = shell_out(
        "ffprobe -v error -select_streams v:0 -show_entries stream_side_data=rotation -of csv=p=0 " + quote(path));
    ASSERT_FALSE(matrix.empty()) << "no display matrix written for rotate=" << tag;
    const int ccw = int(std::lround(std::strtod(matrix.c_str(), nullptr)));  // ffprobe: counter-clockwise
    const int expected = ((-ccw) % 360 + 360) % 360;
    const vidkompy::VideoInfo info = probe_ok(path);
    EXPECT_EQ(info.rotation, expected) << "rotate=" << tag << ", display matrix " << ccw;
    // The displayed size, and the displayed pixels: the same as the ffmpeg CLI's (it turns frames by default).
    const bool sideways = expected % 180 != 0;
    EXPECT_EQ(info.width, sideways ? 120 : 160);
    EXPECT_EQ(info.height, sideways ? 160 : 120);
    const std::string shown = dir / ("shown" + std::to_string(tag) + ".nut");
    ASSERT_TRUE(vt::ffmpeg("-i " + quote(path) + " -c:v rawvideo -pix_fmt yuv420p " + quote(shown)));
    const auto ours = vt::decode_all(path), theirs = vt::decode_all(shown);
    ASSERT_EQ(ours.size(), 10u);
    ASSERT_EQ(theirs.size(), 10u);
    for (size_t i = 0; i < ours.size(); ++i) {
      const vidkompy::Image &a = ours[i]->image, &b = theirs[i]->image;
      ASSERT_EQ(a.width, info.width);
      ASSERT_EQ(a.height, info.height);
      EXPECT_EQ(vt::psnr(a, b, 0, {0, 0, a.width, a.height}), 99.0) << "rotate=" << tag << " frame " << i;
      EXPECT_EQ(vt::psnr(a, b, 1, {0, 0, a.width / 2, a.height / 2}), 99.0) << "rotate=" << tag << " frame " << i;
    }
    seen.insert(info.rotation);
  }
  EXPECT_EQ(seen, (std::set<int>{90, 180, 270}));
  EXPECT_EQ(probe_ok(plain).rotation, 0);
}

// ------------------------------------------------------------------------------------------------ decode

TEST(Decode, FrameCountMatchesProbe) {
  vt::TempDir dir;
  for (const char* rate : {"24", "30000/1001"}) {
    const std::string path = dir / "clip.mp4";
    make_clip(path, rate, 29);
    const vidkompy::VideoInfo info = probe_ok(path);
    EXPECT_EQ(info.frames, 29);
    vidkompy::Context ctx = vt::quiet_context();
    vidkompy::Status st;
    auto src = vidkompy::open_frames(ctx, path, {}, st);
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(src);
    EXPECT_EQ(src->index(), -1);
    vidkompy::Image img;
    int64_t n = 0;
    while (src->next(img)) {
      EXPECT_EQ(src->index(), n);
      EXPECT_EQ(img.width, 160);
      EXPECT_EQ(img.height, 120);
      EXPECT_EQ(img.plane[1].width, 80);
      EXPECT_EQ(img.plane[1].height, 60);
      ++n;
    }
    EXPECT_EQ(n, info.frames) << rate;
    EXPECT_TRUE(src->status().ok());
    EXPECT_FALSE(src->next(img));  // stays at the end
  }
}

TEST(Decode, SolidColoursHaveKnownYuv) {
  struct Colour {
    const char* name;
    int y, u, v;
  };
  // BT.601 limited range, which is what lavfi's colour source and libx264 produce for these.
  const Colour colours[] = {{"black", 16, 128, 128}, {"white", 235, 128, 128}, {"red", 81, 90, 240}};
  vt::TempDir dir;
  for (const Colour& c : colours) {
    const std::string path = dir / (std::string(c.name) + ".mp4");
    ASSERT_TRUE(vt::ffmpeg(std::string("-f lavfi -i color=c=") + c.name +
                           ":size=64x48:rate=25 -frames:v 5 -pix_fmt yuv420p " + quote(path)));
    const auto frames = vt::decode_all(path);
    ASSERT_EQ(frames.size(), 5u) << c.name;
    for (const auto& f : frames) {
      EXPECT_LE(plane_max_dev(f->image, 0, c.y), 2) << c.name << " Y mean " << plane_mean(f->image, 0);
      EXPECT_LE(plane_max_dev(f->image, 1, c.u), 2) << c.name << " U mean " << plane_mean(f->image, 1);
      EXPECT_LE(plane_max_dev(f->image, 2, c.v), 2) << c.name << " V mean " << plane_mean(f->image, 2);
    }
  }
}

TEST(Decode, ScalesToRequestedSize) {
  vt::TempDir dir;
  const std::string path = dir / "clip.mp4";
  make_clip(path, "25", 6);
  const auto big = vt::decode_all(path);
  const auto small = vt::decode_all(path, 80, 60);
  ASSERT_EQ(big.size(), 6u);
  ASSERT_EQ(small.size(), 6u);
  for (size_t i = 0; i < small.size(); ++i) {
    const vidkompy::Image& s = small[i]->image;
    EXPECT_EQ(s.width, 80);
    EXPECT_EQ(s.height, 60);
    EXPECT_EQ(s.plane[1].width, 40);
    EXPECT_EQ(s.plane[2].height, 30);
    // The scaled picture is the same picture: compare with a 2x2 box average of the full-size luma.
    vidkompy::ImageBuffer ref(80, 60);
    ref.fill(0, 128, 128);
    const vidkompy::Plane& b = big[i]->image.plane[0];
    for (int y = 0; y < 60; ++y)
      for (int x = 0; x < 80; ++x)
        ref.image.plane[0].row(y)[x] = uint8_t((b.row(2 * y)[2 * x] + b.row(2 * y)[2 * x + 1] +
                                                b.row(2 * y + 1)[2 * x] + b.row(2 * y + 1)[2 * x + 1] + 2) / 4);
    EXPECT_GT(vt::psnr(s, ref.image, 0, full(s)), 35.0) << "frame " << i;
  }
  // Odd and enlarged sizes work too.
  const auto odd = vt::decode_all(path, 33, 17);
  ASSERT_EQ(odd.size(), 6u);
  EXPECT_EQ(odd[0]->image.width, 33);
  EXPECT_EQ(odd[0]->image.height, 17);
  EXPECT_EQ(odd[0]->image.plane[1].width, 17);
  EXPECT_EQ(odd[0]->image.plane[1].height, 9);
  const auto large = vt::decode_all(path, 320, 240);
  ASSERT_EQ(large.size(), 6u);
  EXPECT_EQ(large[0]->image.width, 320);
  EXPECT_EQ(large[0]->image.height, 240);
}

TEST(Decode, RewindRestartsAtFrameZeroWithIdenticalPixels) {
  vt::TempDir dir;
  const std::string path = dir / "clip.mp4";
  make_clip(path, "25", 12);
  for (vidkompy::DecodeOptions opt : {vidkompy::DecodeOptions{}, vidkompy::DecodeOptions{80, 60, {}}}) {
    vidkompy::Context ctx = vt::quiet_context();
    vidkompy::Status st;
    auto src = vidkompy::open_frames(ctx, path, opt, st);
    ASSERT_TRUE(src);
    std::vector<std::unique_ptr<vidkompy::ImageBuffer>> first;
    vidkompy::Image img;
    for (int i = 0; i < 7; ++i) {
      ASSERT_TRUE(src->next(img));
      first.push_back(vt::copy_image(img));
    }
    ASSERT_TRUE(src->rewind().ok());
    EXPECT_EQ(src->index(), -1);
    for (int i = 0; i < 7; ++i) {
      ASSERT_TRUE(src->next(img));
      EXPECT_EQ(src->index(), i);
      for (int p = 0; p < 3; ++p)
        EXPECT_EQ(vt::psnr(img, first[i]->image, p, {0, 0, img.plane[p].width, img.plane[p].height}), 99.0)
            << "frame " << i << " plane " << p;
    }
    // Rewind after running to the end, too.
    while (src->next(img)) {
    }
    EXPECT_EQ(src->index(), 11);
    ASSERT_TRUE(src->rewind().ok());
    ASSERT_TRUE(src->next(img));
    EXPECT_EQ(vt::psnr(img, first[0]->image, 0, full(img)), 99.0);
  }
}

TEST(Decode, PresentationOrderWithBFrames) {
  vt::TempDir dir;
  const std::string intra = dir / "intra.mp4", bframes = dir / "bframes.mp4";
  // Each testsrc2 frame differs from its neighbours (moving parts and a running clock).
  make_clip(intra, "25", 25, "-c:v libx264 -g 1 -crf 12");
  make_clip(bframes, "25", 25, "-c:v libx264 -bf 3 -crf 12");
  // Precondition: the second file really is coded out of order.
  const std::string types =
      shell_out("ffprobe -v error -select_streams v:0 -show_entries frame=pict_type -of csv=p=0 " + quote(bframes));
  ASSERT_NE(types.find('B'), std::string::npos) << types;
  const auto a = vt::decode_all(intra);
  const auto b = vt::decode_all(bframes);
  ASSERT_EQ(a.size(), 25u);
  ASSERT_EQ(b.size(), 25u);
  for (size_t i = 0; i < a.size(); ++i) {
    const vidkompy::Image& ai = a[i]->image;
    const double same = vt::psnr(ai, b[i]->image, 0, full(ai));
    EXPECT_GT(same, 35.0) << "frame " << i;
    // And the neighbours are clearly worse matches, so a swapped pair would be caught.
    for (size_t j : {i - 1, i + 1}) {
      if (j >= a.size()) continue;
      EXPECT_GT(same, vt::psnr(ai, b[j]->image, 0, full(ai)) + 3.0) << "frame " << i << " vs " << j;
    }
  }
}

// skip_to lands on the very frame that decoding forward gives at that index, and decoding goes on from it: with
// B-frames in an MP4, open GOPs in Matroska (the frames after a seek lead in from the GOP before) and a raw H.264
// stream, whose packets carry no timestamps (it cannot skip there, and says so; the frames stay right).
TEST(Decode, SkipToGivesTheFrameDecodingForwardGives) {
  vt::TempDir dir;
  struct Case {
    std::string name, extra;
    bool skips;
  };
  for (const Case& c : {Case{"bframes.mp4", "-c:v libx264 -g 24 -bf 3 -crf 20", true},
                        Case{"opengop.mkv", "-c:v libx264 -x264-params keyint=24:open_gop=1 -bf 3 -crf 20", true},
                        Case{"raw.h264", "-c:v libx264 -g 24 -f h264", false}}) {
    SCOPED_TRACE(c.name);
    const std::string path = dir / c.name;
    make_clip(path, "25", 240, c.extra);
    const auto all = vt::decode_all(path);
    ASSERT_EQ(all.size(), 240u);
    for (const int64_t want : {101, 150, 239}) {
      vidkompy::Context ctx = vt::quiet_context();
      vidkompy::Status st;
      auto src = vidkompy::open_frames(ctx, path, {}, st);
      ASSERT_TRUE(src);
      EXPECT_EQ(src->skip_to(want), c.skips) << want;
      vidkompy::Image img;
      while (src->index() + 1 < want) ASSERT_TRUE(src->next(img));
      for (int64_t i = want; i < std::min<int64_t>(want + 3, 240); ++i) {
        ASSERT_TRUE(src->next(img));
        ASSERT_EQ(src->index(), i);
        for (int p = 0; p < 3; ++p)
          EXPECT_EQ(vt::psnr(img, all[size_t(i)]->image, p, {0, 0, img.plane[p].width, img.plane[p].height}), 99.0)
              << "frame " << i << " plane " << p;
      }
    }
  }
}

// What the seeking tests skip through: 240 frames, a keyframe every 24, B-frames.
static vidkompy::VideoInfo make_gop_clip(const std::string& path) {
  make_clip(path, "25", 240, "-c:v libx264 -g 24 -bf 3 -crf 20");
  return probe_ok(path);
}

// A thumbnail reader (a long pair's second reading) that skips to a frame gives the thumbnails of reading from
// the start, from that frame on.
TEST(Decode, ThumbReaderSkipsToTheFrameReadingGives) {
  vt::TempDir dir;
  const std::string path = dir / "clip.mp4";
  const vidkompy::VideoInfo info = make_gop_clip(path);
  vidkompy::Context ctx = vt::quiet_context();
  const vidkompy::Region region{10.5, 20.25, 100, 80};
  vidkompy::Status st;
  auto all = vidkompy::open_thumbs(ctx, info, region, 32, st);
  ASSERT_TRUE(all && st.ok());
  std::vector<std::vector<uint8_t>> thumbs;
  while (const uint8_t* t = all->next()) thumbs.emplace_back(t, t + 32 * 32);
  ASSERT_EQ(thumbs.size(), 240u);
  auto skip = vidkompy::open_thumbs(ctx, info, region, 32, st);
  ASSERT_TRUE(skip && st.ok());
  ASSERT_TRUE(skip->skip_to(150));
  for (size_t i = 150; i < 240; ++i) {
    const uint8_t* t = skip->next();
    ASSERT_TRUE(t) << i;
    EXPECT_TRUE(std::equal(t, t + 32 * 32, thumbs[i].begin())) << "frame " << i;
  }
  EXPECT_FALSE(skip->next());
  EXPECT_TRUE(skip->status().ok());
}

// decode_gray_frames with the frames' timestamps (the reel's) starts at a keyframe near the first wanted frame,
// skips the B-frames nobody refers to on the way, and gives the same pictures as the pass from the start. (It
// falls back to that pass by itself where seeking cannot be trusted: the log says it did not here.)
TEST(Decode, GrayFramesFromAKeyframeMatchThePassFromTheStart) {
  vt::TempDir dir;
  const std::string path = dir / "clip.mp4";
  const vidkompy::VideoInfo info = make_gop_clip(path);
  std::ostringstream log;
  vidkompy::Context ctx = vt::logging_context(log);
  vidkompy::Reel reel;
  ASSERT_TRUE(vidkompy::read_reel(ctx, info, 32, 24, 0, 1, reel).ok());
  ASSERT_EQ(reel.pts.size(), 240u);
  EXPECT_EQ(reel.keys, (std::vector<int64_t>{0, 24, 48, 72, 96, 120, 144, 168, 192, 216}));
  const std::vector<int64_t> want = {130, 131, 131, 200, 239};
  std::vector<vidkompy::Gray> seek, from_start;
  ASSERT_TRUE(vidkompy::decode_gray_frames(ctx, info, want, seek, reel.pts).ok());
  EXPECT_EQ(log.str().find("by seeking"), std::string::npos) << log.str();
  ASSERT_TRUE(vidkompy::decode_gray_frames(ctx, info, want, from_start).ok());
  ASSERT_EQ(seek.size(), want.size());
  ASSERT_EQ(from_start.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    EXPECT_EQ(seek[k].w, 160);
    EXPECT_TRUE(seek[k].px == from_start[k].px) << "frame " << want[k];
    if (k) {
      EXPECT_EQ(seek[k].px == seek[k - 1].px, want[k] == want[k - 1]) << "frame " << want[k];
    }
  }
}

// A sparse reel (a long pair's: one frame kept in `step`) does not decode the B-frames nobody refers to, telling
// frames by the packets' timestamps; it must keep the very frames, timestamps, keyframes and samples of the reel
// that decodes every frame.
TEST(Decode, SparseReelSkipsWhatItDoesNotKeepAndMatchesTheFullOne) {
  vt::TempDir dir;
  const std::string path = dir / "clip.mp4";
  const vidkompy::VideoInfo info = make_gop_clip(path);
  std::ostringstream log;
  vidkompy::Context ctx = vt::logging_context(log);
  vidkompy::Reel full, sparse;
  ASSERT_TRUE(vidkompy::read_reel(ctx, info, 32, 24, 3, 1, full).ok());
  int64_t ticks = 0;
  ASSERT_TRUE(vidkompy::read_reel(ctx, info, 32, 24, 3, 5, sparse, [&] { ++ticks; }).ok());
  EXPECT_EQ(log.str().find("do not add up"), std::string::npos) << log.str();
  EXPECT_EQ(ticks, 240);  // progress counts the skipped frames too
  ASSERT_EQ(sparse.frames(), 240u);
  EXPECT_EQ(sparse.stored(), 48u);
  EXPECT_EQ(sparse.pts, full.pts);
  EXPECT_EQ(sparse.keys, full.keys);
  EXPECT_EQ(sparse.sample_index, full.sample_index);
  for (size_t k = 0; k < full.samples.size(); ++k) EXPECT_TRUE(sparse.samples[k].px == full.samples[k].px) << k;
  for (size_t i = 0; i < 240; i += 5) EXPECT_TRUE(sparse.luma(i).px == full.luma(i).px) << "frame " << i;
}

// A damaged file (cut off mid-stream) does not add up to its packets' timestamps: the sparse reel then decodes every
// frame, and counts the frames that decode, as the full reel and the render do.
TEST(Decode, SparseReelOfADamagedFileCountsTheFramesThatDecode) {
  vt::TempDir dir;
  const std::string path = dir / "cut.mp4";
  make_clip(path, "25", 120, "-c:v libx264 -g 24 -bf 3 -crf 20 -movflags +faststart");
  fs::resize_file(path, fs::file_size(path) * 6 / 10);
  vidkompy::VideoInfo info;
  ASSERT_TRUE(vidkompy::probe(path, info).ok());
  std::ostringstream log;
  vidkompy::Context ctx = vt::logging_context(log);
  vidkompy::Reel full, sparse;
  ASSERT_TRUE(vidkompy::read_reel(ctx, info, 32, 24, 3, 1, full).ok());
  ASSERT_TRUE(vidkompy::read_reel(ctx, info, 32, 24, 3, 4, sparse).ok());
  EXPECT_NE(log.str().find("do not add up"), std::string::npos) << log.str();
  EXPECT_LT(full.frames(), 120u);
  EXPECT_EQ(sparse.pts, full.pts);
  EXPECT_EQ(vt::decode_all(path).size(), full.frames());
  for (size_t i = 0; i < full.frames(); i += 4) EXPECT_TRUE(sparse.luma(i).px == full.luma(i).px) << "frame " << i;
}

// A frame source told which frames will be asked for (the render's bg: the frames the map shows) skips decoding
// B-frames no other frame refers to; each frame it returns carries the index the pass over every frame gives it,
// also in a file cut off mid-stream.
TEST(Decode, FramesWantedOnlyKeepTheIndexesOfThePassOverEveryFrame) {
  vt::TempDir dir;
  const std::string good = dir / "clip.mp4", cut = dir / "cut.mp4";
  make_gop_clip(good);
  make_clip(cut, "25", 120, "-c:v libx264 -g 24 -bf 3 -crf 20 -movflags +faststart");
  fs::resize_file(cut, fs::file_size(cut) * 6 / 10);
  for (const std::string& path : {good, cut}) {
    const auto all = vt::decode_all(path);
    ASSERT_GT(all.size(), 40u);
    const std::vector<int64_t> want = {3, 4, 20, 21, 22, 35, int64_t(all.size()) - 1};
    std::ostringstream log;
    vidkompy::Context ctx = vt::logging_context(log);
    vidkompy::Status st;
    auto src = vidkompy::open_frames(ctx, path, {}, st);
    ASSERT_TRUE(src && st.ok());
    src->want_only(want);
    vidkompy::Image img;
    std::vector<int64_t> got;
    while (src->next(img)) {
      got.push_back(src->index());
      ASSERT_LT(size_t(src->index()), all.size()) << path;
      EXPECT_EQ(vt::psnr(img, all[size_t(src->index())]->image, 0, {0, 0, img.width, img.height}), 99.0)
          << path << " frame " << src->index();
    }
    EXPECT_TRUE(std::is_sorted(got.begin(), got.end())) << path;
    for (const int64_t w : want) EXPECT_TRUE(std::count(got.begin(), got.end(), w)) << path << " frame " << w;
    if (path == good) {
      EXPECT_LT(got.size(), all.size()) << "nothing was skipped";
      EXPECT_EQ(log.str().find("do not add up"), std::string::npos) << log.str();
    }
  }
}

// ------------------------------------------------------------------------------------------------ bad inputs

// probe() and open_frames() fail with the input code and a message that starts with the path.
void expect_input_error(const std::string& path, const std::string& why_part = "") {
  vidkompy::VideoInfo info;
  const vidkompy::Status st = vidkompy::probe(path, info);
  EXPECT_EQ(st.code, vidkompy::kExitInput) << path;
  ASSERT_EQ(st.errors.size(), 1u) << path;
  EXPECT_EQ(st.errors[0].rfind(path + ": ", 0), 0u) << st.errors[0];
  EXPECT_GT(st.errors[0].size(), path.size() + 2) << "no reason given";
  EXPECT_EQ(st.errors[0].find('\n'), std::string::npos);
  if (!why_part.empty()) {
    EXPECT_NE(st.errors[0].find(why_part), std::string::npos) << st.errors[0];
  }

  vidkompy::Context ctx = vt::quiet_context();
  vidkompy::Status ost;
  auto src = vidkompy::open_frames(ctx, path, {}, ost);
  if (src) {  // a container that opens but holds no decodable video yields no frame and then an input error
    vidkompy::Image img;
    EXPECT_FALSE(src->next(img)) << path;
    EXPECT_EQ(src->status().code, vidkompy::kExitInput) << path;
  } else {
    EXPECT_EQ(ost.code, vidkompy::kExitInput) << path;
    ASSERT_FALSE(ost.errors.empty());
    EXPECT_EQ(ost.errors[0].rfind(path + ": ", 0), 0u) << ost.errors[0];
  }
}

TEST(ProbeBad, MissingFile) {
  vt::TempDir dir;
  expect_input_error(dir / "missing.mp4", "No such file");
}

TEST(ProbeBad, Directory) {
  vt::TempDir dir;
  fs::create_directory(dir / "sub.mp4");
  expect_input_error(dir / "sub.mp4", "directory");
}

TEST(ProbeBad, ZeroByteFile) {
  vt::TempDir dir;
  std::ofstream(dir / "empty.mp4").close();
  expect_input_error(dir / "empty.mp4", "empty");
}

TEST(ProbeBad, RandomBytes) {
  vt::TempDir dir;
  std::mt19937 rng(1234);
  std::string bytes(64 * 1024, '\0');
  for (char& c : bytes) c = char(rng());
  std::ofstream(dir / "noise.mp4", std::ios::binary) << bytes;
  expect_input_error(dir / "noise.mp4");
}

TEST(ProbeBad, PngImage) {
  vt::TempDir dir;
  const std::string path = dir / "still.png";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=64x48 -frames:v 1 " + quote(path)));
  expect_input_error(path, "image");
}

TEST(ProbeBad, AudioOnlyFiles) {
  vt::TempDir dir;
  for (const char* name : {"tone.mp3", "tone.m4a"}) {
    const std::string path = dir / name;
    ASSERT_TRUE(vt::ffmpeg("-f lavfi -i sine=duration=1 " + quote(path)));
    expect_input_error(path, "no video stream");
  }
}

TEST(ProbeBad, TruncatedMp4) {
  vt::TempDir dir;
  const std::string path = dir / "cut.mp4";
  make_clip(path, "25", 50, "-movflags +faststart");
  const auto size = fs::file_size(path);
  fs::resize_file(path, size * 6 / 10);
  vidkompy::VideoInfo info;
  const vidkompy::Status st = vidkompy::probe(path, info);
  if (st.ok()) {
    // The index (moov, at the front) survives: the header's frame count, and fewer frames actually decode.
    EXPECT_EQ(info.frames, 50);
    EXPECT_EQ(info.width, 160);
    const auto frames = vt::decode_all(path);
    EXPECT_GE(frames.size(), 1u);
    EXPECT_LT(int64_t(frames.size()), info.frames);
    std::printf("truncated MP4: probe ok, header frames %lld, decoded %zu\n", (long long)info.frames, frames.size());
  } else {
    std::printf("truncated MP4: probe failed: %s\n", st.errors[0].c_str());
    EXPECT_EQ(st.code, vidkompy::kExitInput);
    ASSERT_EQ(st.errors.size(), 1u);
    EXPECT_EQ(st.errors[0].rfind(path + ": ", 0), 0u) << st.errors[0];
  }
}

TEST(ProbeBad, HeaderOnlyMp4) {
  // Cut right after the moov atom: the index is whole but no frame data is left, so nothing decodes.
  vt::TempDir dir;
  const std::string path = dir / "stub.mp4";
  make_clip(path, "25", 50, "-movflags +faststart");
  const std::string data = vt::slurp(path);
  const size_t mdat = data.find("mdat");
  ASSERT_NE(mdat, std::string::npos);
  fs::resize_file(path, mdat + 4);
  expect_input_error(path, "no decodable video frame");
}

}  // namespace
