// The vidkompy binary end to end: --help/--version, exit codes 1-4 with one-line "vidkompy: error:" messages,
// no leftover files after any failure, and rendering from a hand-written alignment (default name, --json, -q).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testutil.hpp"
#include "vidkompy/gpu.hpp"
#include "vidkompy/types.hpp"
#include "vidkompy/video.hpp"

namespace fs = std::filesystem;
using vt::quote;

namespace {

const std::string kErr = "vidkompy: error: ";

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// Exactly one line on stderr that starts with the error prefix, and nothing else but, on a GPU machine, the
// one-line notes of a hardware path that fell back to the CPU (an H100 has no NVENC: every render says so).
void expect_one_error_line(const vt::Run& r) {
  std::string err;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);)
    if (line.find(" is not usable (") == std::string::npos) err += line + "\n";
  EXPECT_EQ(count_lines(err), 1) << r.err;
  EXPECT_EQ(err.rfind(kErr, 0), 0u) << r.err;
  EXPECT_FALSE(r.err.empty() || r.err.back() != '\n') << r.err;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// A hand-written alignment report: fg at (x, y), scale 1, the given time map.
std::string alignment_json(int x, int y, const std::vector<int64_t>& map) {
  nlohmann::json j = {{"spatial", {{"x", x}, {"y", y}, {"scale", 1}}}, {"temporal", {{"map", map}}}};
  return j.dump();
}

std::vector<int64_t> offset_map(int n, int offset) {
  std::vector<int64_t> m;
  for (int i = 0; i < n; ++i) m.push_back(i + offset);
  return m;
}

// Runs the binary from `cwd` (the default output name is relative to the working directory).
vt::Run vidkompy_in(const std::string& cwd, const std::vector<std::string>& args) {
  vt::TempDir io;
  std::string cmd = "cd ";
  cmd += quote(cwd);
  cmd += " && ";
  cmd += quote(VIDKOMPY_BIN);
  for (const std::string& a : args) {
    cmd += ' ';
    cmd += quote(a);
  }
  cmd += " </dev/null >";
  cmd += quote(io / "out");
  cmd += " 2>";
  cmd += quote(io / "err");
  const int rc = std::system(cmd.c_str());
  vt::Run r;
  r.code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  r.out = vt::slurp(io / "out");
  r.err = vt::slurp(io / "err");
  return r;
}

// Inputs shared by the whole file, generated once: bg 320x240 blue with AAC audio (30 frames at 25 fps),
// fg 160x120 testsrc2 (25 frames at 25 fps), and a valid alignment placing fg at (40, 60), 2 frames into bg.
class Cli : public ::testing::Test {
 protected:
  static constexpr int kBgFrames = 30, kFgFrames = 25, kX = 40, kY = 60, kOffset = 2;

  static void SetUpTestSuite() {
    vidkompy::set_ffmpeg_log_level(0);
    in_ = new vt::TempDir();
    // (Lengths set on the sources: -frames:v would end the file before the audio is muxed.)
    ASSERT_TRUE(vt::ffmpeg("-f lavfi -i color=c=blue:size=320x240:rate=25:duration=1.2 "
                           "-f lavfi -i sine=frequency=300:duration=1.2 -pix_fmt yuv420p -c:a aac " + quote(bg())));
    ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=160x120:rate=25 -frames:v 25 -pix_fmt yuv420p " + quote(fg())));
    write_file(align(), alignment_json(kX, kY, offset_map(kFgFrames, kOffset)));
  }
  static void TearDownTestSuite() {
    delete in_;
    in_ = nullptr;
  }

  static std::string bg() { return *in_ / "wide.mp4"; }
  static std::string fg() { return *in_ / "detail.mp4"; }
  static std::string align() { return *in_ / "align.json"; }

  // The input folder must look the same after every run (nothing written next to the inputs).
  void TearDown() override {
    EXPECT_EQ(in_->list(), (std::vector<std::string>{"align.json", "detail.mp4", "wide.mp4"}));
  }

  static vt::TempDir* in_;
};
vt::TempDir* Cli::in_ = nullptr;

// ------------------------------------------------------------------------------------------------ help/version

TEST(CliHelp, ListsEveryOptionWithDefaults) {
  const vt::Run r = vt::vidkompy({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(r.err.empty()) << r.err;
  for (const char* opt : {"--bg", "--fg", "-o,--output", "--border", "--blend", "--gpu", "--crf", "--preset", "--json",
                          "--align-only", "--alignment", "-v,--verbose", "-q,--quiet", "--version", "-h,--help"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << "missing " << opt << " in\n" << r.out;
  for (const char* def : {"=8", "=18", "=medium", "=auto", "<bg-stem>_overlay_<fg-stem>.mp4"})
    EXPECT_NE(r.out.find(def), std::string::npos) << "missing default " << def << " in\n" << r.out;
  EXPECT_NE(r.out.find("Exit codes"), std::string::npos);
  EXPECT_EQ(vt::vidkompy({"-h"}).out, r.out);
}

// The README and the man page document every option --help lists, with the same default.
TEST(CliHelp, EveryOptionAndDefaultIsInTheReadmeAndManPage) {
  const vt::Run r = vt::vidkompy({"--help"});
  ASSERT_EQ(r.code, 0);
  const std::string readme = vt::slurp(VIDKOMPY_SOURCE_DIR "/README.md");
  const std::string man = vt::slurp(VIDKOMPY_SOURCE_DIR "/docs/vidkompy.1");
  const size_t from = readme.find("## Usage"), to = readme.find("\n## ", from + 1);
  ASSERT_NE(from, std::string::npos);
  const std::string usage = readme.substr(from, to - from);
  std::istringstream lines(r.out);
  int options = 0;
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, std::regex(R"(^  (-[a-z],)?(--[a-z-]+))"))) continue;
    ++options;
    const std::string name = m[2];
    // The table row: `--name ...` or `-x, --name ...`.
    const size_t row = usage.find("`" + name) != std::string::npos ? usage.find("`" + name) : usage.find(", " + name);
    ASSERT_NE(row, std::string::npos) << name << " is not in the README's Usage section";
    std::string troff;  // the man page writes each - as \-
    for (char ch : name) troff += ch == '-' ? std::string("\\-") : std::string(1, ch);
    const size_t entry = man.find(troff, man.find(".SH OPTIONS"));  // its entry under OPTIONS
    EXPECT_NE(entry, std::string::npos) << name << " is not in docs/vidkompy.1";
    std::smatch d;
    if (std::regex_search(line, d, std::regex(R"(=([a-z0-9]+)$)"))) {
      const std::string row_text = usage.substr(row, usage.find('\n', row) - row);
      EXPECT_NE(row_text.find("| " + d[1].str() + " |"), std::string::npos)
          << name << ": --help says default " << d[1] << ", the README row says: " << row_text;
      if (entry != std::string::npos) {
        const std::string man_entry = man.substr(entry, man.find(".TP", entry) - entry);
        EXPECT_NE(man_entry.find("efault " + d[1].str()), std::string::npos)
            << name << ": --help says default " << d[1] << ", the man page says: " << man_entry;
      }
    }
  }
  EXPECT_GE(options, 16);
}

TEST(CliHelp, Version) {
  const vt::Run r = vt::vidkompy({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, std::string("vidkompy ") + VIDKOMPY_VERSION + "\n");
  EXPECT_TRUE(r.err.empty()) << r.err;
}

// ------------------------------------------------------------------------------------------------ usage (1)

struct UsageCase {
  const char* name;
  std::vector<std::string> args;
  const char* mentions;  // the offending option, named in the message
};

class CliUsage : public ::testing::TestWithParam<UsageCase> {};

TEST_P(CliUsage, ExitsOneWithOneLine) {
  const UsageCase& c = GetParam();
  vt::TempDir dir;
  std::vector<std::string> args = c.args;
  args.insert(args.end(), {"-o", dir / "out.mp4"});
  const vt::Run r = vt::vidkompy(args);
  EXPECT_EQ(r.code, 1) << r.err;
  expect_one_error_line(r);
  EXPECT_NE(r.err.find(c.mentions), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_TRUE(dir.list().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Errors, CliUsage,
    ::testing::Values(
        UsageCase{"MissingBg", {"--fg", "f.mp4"}, "--bg"},
        UsageCase{"MissingFg", {"--bg", "b.mp4"}, "--fg"},
        UsageCase{"UnknownOption", {"--bg", "b.mp4", "--fg", "f.mp4", "--frobnicate"}, "--frobnicate"},
        UsageCase{"GpuBogus", {"--bg", "b.mp4", "--fg", "f.mp4", "--gpu", "bogus"}, "--gpu"},
        UsageCase{"Crf99", {"--bg", "b.mp4", "--fg", "f.mp4", "--crf", "99"}, "--crf"},
        UsageCase{"CrfNotANumber", {"--bg", "b.mp4", "--fg", "f.mp4", "--crf", "high"}, "--crf"},
        UsageCase{"PresetBogus", {"--bg", "b.mp4", "--fg", "f.mp4", "--preset", "bogus"}, "--preset"},
        UsageCase{"BorderNegative", {"--bg", "b.mp4", "--fg", "f.mp4", "--border", "-1"}, "--border"},
        UsageCase{"AlignOnlyWithAlignment", {"--bg", "b.mp4", "--fg", "f.mp4", "--align-only", "--alignment", "a.json"},
                  "--alignment"},
        UsageCase{"VerboseWithQuiet", {"--bg", "b.mp4", "--fg", "f.mp4", "-v", "-q"}, "--quiet"},
        UsageCase{"BatchWithBg", {"--batch", "p.tsv", "--bg", "b.mp4"}, "--batch"},
        UsageCase{"FramesWithoutAlignment", {"--bg", "b.mp4", "--fg", "f.mp4", "--frames", "0:10"}, "--alignment"},
        UsageCase{"FramesBackwards", {"--bg", "b.mp4", "--fg", "f.mp4", "--alignment", "a.json", "--frames", "9:3"},
                  "--frames 9:3"},
        UsageCase{"FramesNotARange", {"--bg", "b.mp4", "--fg", "f.mp4", "--alignment", "a.json", "--frames", "5"},
                  "--frames 5"},
        UsageCase{"FramesNegative", {"--bg", "b.mp4", "--fg", "f.mp4", "--alignment", "a.json", "--frames=-2:5"},
                  "--frames -2:5"}),
    [](const auto& info) { return std::string(info.param.name); });

// ------------------------------------------------------------------------------------------------ input (2)

// Makes a bad input of the given kind in dir and returns its path.
std::string make_bad_input(const vt::TempDir& dir, const std::string& kind) {
  if (kind == "missing") return dir / "missing.mp4";
  if (kind == "directory") {
    fs::create_directory(dir / "folder.mp4");
    return dir / "folder.mp4";
  }
  if (kind == "empty") {
    write_file(dir / "empty.mp4", "");
    return dir / "empty.mp4";
  }
  if (kind == "noise") {
    std::mt19937 rng(7);
    std::string bytes(32 * 1024, '\0');
    for (char& c : bytes) c = char(rng());
    write_file(dir / "noise.mp4", bytes);
    return dir / "noise.mp4";
  }
  if (kind == "png") {
    EXPECT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=64x48 -frames:v 1 " + quote(dir / "still.png")));
    return dir / "still.png";
  }
  if (kind == "audio") {
    EXPECT_TRUE(vt::ffmpeg("-f lavfi -i sine=duration=1 -c:a aac " + quote(dir / "tone.m4a")));
    return dir / "tone.m4a";
  }
  ADD_FAILURE() << "unknown kind " << kind;
  return {};
}

class CliInput : public Cli, public ::testing::WithParamInterface<std::string> {};

TEST_P(CliInput, BadBgOrFgExitsTwoNamingThePath) {
  vt::TempDir bad_dir, out;
  const std::string bad = make_bad_input(bad_dir, GetParam());
  for (bool as_bg : {true, false}) {
    const vt::Run r = vt::vidkompy({"--bg", as_bg ? bad : bg(), "--fg", as_bg ? fg() : bad, "--alignment", align(),
                                    "-o", out / "out.mp4"});
    EXPECT_EQ(r.code, 2) << (as_bg ? "bg: " : "fg: ") << r.err;
    expect_one_error_line(r);
    EXPECT_EQ(r.err.rfind(kErr + bad + ": ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_TRUE(out.list().empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, CliInput,
                         ::testing::Values("missing", "directory", "empty", "noise", "png", "audio"),
                         [](const auto& info) { return info.param; });

TEST_F(Cli, BothInputsBadReportsBoth) {
  vt::TempDir bad_dir, out;
  const std::string bad_bg = make_bad_input(bad_dir, "missing");
  const std::string bad_fg = make_bad_input(bad_dir, "png");
  const vt::Run r = vt::vidkompy({"--bg", bad_bg, "--fg", bad_fg, "-o", out / "out.mp4"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 2) << r.err;
  EXPECT_EQ(r.err.rfind(kErr + bad_bg + ": ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("\n" + kErr + bad_fg + ": "), std::string::npos) << r.err;
  EXPECT_TRUE(out.list().empty());
}

// ------------------------------------------------------------------------------------------------ align (3)

TEST_F(Cli, GpuOnWithoutDeviceExitsTwo) {
  if (vidkompy::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  vt::TempDir out;
  const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", align(), "--gpu", "on", "-o",
                                  out / "out.mp4"});
  EXPECT_EQ(r.code, 2) << r.err;
  expect_one_error_line(r);
  EXPECT_EQ(r.err.rfind(kErr + std::string("--gpu on: no usable NVIDIA GPU"), 0), 0u) << r.err;
  EXPECT_TRUE(out.list().empty());
}

// b.mp4 (testsrc2, 25 frames) and f.mp4, its 160x120 crop at (40, 60), frame for frame.
static void make_crop_pair(const vt::TempDir& dir) {
  ASSERT_TRUE(
      vt::ffmpeg("-f lavfi -i testsrc2=size=320x240:rate=25 -frames:v 25 -pix_fmt yuv420p " + quote(dir / "b.mp4")));
  ASSERT_TRUE(
      vt::ffmpeg("-i " + quote(dir / "b.mp4") + " -vf crop=160:120:40:60 -pix_fmt yuv420p " + quote(dir / "f.mp4")));
}

TEST_F(Cli, AlignsAndRendersByItself) {
  // fg is a crop of bg at (40, 60), frame for frame: with no --alignment, vidkompy finds both by itself.
  vt::TempDir dir, out;
  make_crop_pair(dir);
  if (HasFatalFailure()) return;
  const vt::Run r = vt::vidkompy({"--bg", dir / "b.mp4", "--fg", dir / "f.mp4", "-o", out / "out.mp4", "--json",
                                  out / "report.json", "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
  EXPECT_EQ(out.list(), (std::vector<std::string>{"out.mp4", "report.json"}));
  const nlohmann::json rep = nlohmann::json::parse(vt::slurp(out / "report.json"));
  EXPECT_NEAR(rep["spatial"]["x"].get<double>(), 40.0, 1.0);
  EXPECT_NEAR(rep["spatial"]["y"].get<double>(), 60.0, 1.0);
  EXPECT_NEAR(rep["spatial"]["scale"].get<double>(), 1.0, 0.01);
  const std::vector<int64_t> map = rep["temporal"]["map"].get<std::vector<int64_t>>();
  ASSERT_EQ(map.size(), 25u);
  for (size_t i = 0; i < map.size(); ++i) EXPECT_EQ(map[i], int64_t(i)) << "fg frame " << i;

  // With -v and stderr in a file: a plain progress line for each long stage, ending at its total.
  const vt::Run v = vt::vidkompy({"--bg", dir / "b.mp4", "--fg", dir / "f.mp4", "-o", out / "out.mp4", "-v"});
  ASSERT_EQ(v.code, 0) << v.err;
  for (const char* line : {"vidkompy: decode 50/50 frames, ", "vidkompy: match 50/50 frames, ",
                           "vidkompy: render 25/25 frames, "})
    EXPECT_NE(v.err.find(line), std::string::npos) << line << " missing in\n" << v.err;
}

// --batch: many pairs in one process, one JSON line per pair on stdout, going on past a failing pair; the exit
// code is the first failure's.
TEST_F(Cli, BatchRunsEveryPairAndReportsEachOnOneLine) {
  vt::TempDir dir, out;
  make_crop_pair(dir);
  if (HasFatalFailure()) return;
  const std::string list = dir / "pairs.tsv";
  std::ofstream(list) << dir / "b.mp4" << '\t' << dir / "f.mp4" << '\t' << out / "one.mp4" << "\n"
                      << "# a comment, then a pair whose fg is missing\n"
                      << dir / "b.mp4" << '\t' << dir / "missing.mp4" << '\t' << out / "two.mp4" << "\n"
                      << dir / "b.mp4" << '\t' << dir / "f.mp4" << '\t' << out / "three.mp4" << "\n";
  const vt::Run r = vt::vidkompy({"--batch", list, "--preset", "ultrafast"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(kErr + dir / "missing.mp4"), std::string::npos) << r.err;
  std::istringstream lines(r.out);
  std::vector<nlohmann::json> results;
  for (std::string line; std::getline(lines, line);) results.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(results.size(), 3u) << r.out;
  for (size_t k : {0u, 2u}) {
    EXPECT_EQ(results[k]["exit"], 0) << results[k];
    EXPECT_NEAR(results[k]["spatial"]["x"].get<double>(), 40.0, 1.0);
    EXPECT_NEAR(results[k]["spatial"]["y"].get<double>(), 60.0, 1.0);
    EXPECT_EQ(results[k]["temporal"]["frames"], 25);
  }
  EXPECT_EQ(results[1]["exit"], 2);
  EXPECT_EQ(results[1]["line"], 3);
  EXPECT_TRUE(results[1]["output"].is_null());
  EXPECT_EQ(out.list(), (std::vector<std::string>{"one.mp4", "three.mp4"}));
}

// ------------------------------------------------------------------------------------------------ alignment file (2)

struct AlignCase {
  const char* name;
  std::string text;  // empty: the file does not exist
  const char* why;
};

class CliAlignment : public Cli, public ::testing::WithParamInterface<AlignCase> {};

TEST_P(CliAlignment, BadReportExitsTwoNamingTheFile) {
  const AlignCase& c = GetParam();
  vt::TempDir dir, out;
  const std::string path = dir / "report.json";
  if (!c.text.empty()) write_file(path, c.text);
  const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", path, "-o", out / "out.mp4"});
  EXPECT_EQ(r.code, 2) << r.err;
  expect_one_error_line(r);
  EXPECT_EQ(r.err.rfind(kErr + path + ": ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(c.why), std::string::npos) << r.err;
  EXPECT_TRUE(out.list().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Reports, CliAlignment,
    ::testing::Values(
        AlignCase{"Missing", "", "cannot read"},
        AlignCase{"MalformedJson", R"({"spatial": {"x": 1, "y": )", "invalid alignment report"},
        AlignCase{"NotAnObject", "[1, 2, 3]", "not a JSON object"},
        AlignCase{"MapTooShort", alignment_json(0, 0, offset_map(24, 0)), "24 entries but fg has 25 frames"},
        AlignCase{"MapTooLong", alignment_json(0, 0, offset_map(26, 0)), "26 entries but fg has 25 frames"},
        AlignCase{"IndexPastBgEnd", alignment_json(0, 0, offset_map(25, 6)), "past bg's last frame (29)"},
        AlignCase{"OutsideBg", alignment_json(320, 0, offset_map(25, 0)), "outside bg"}),
    [](const auto& info) { return std::string(info.param.name); });

// ------------------------------------------------------------------------------------------------ output (4)

TEST_F(Cli, OutputFolderMissing) {
  vt::TempDir out;
  const std::string target = out / "nosuch/out.mp4";
  const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", align(), "-o", target});
  EXPECT_EQ(r.code, 4) << r.err;
  expect_one_error_line(r);
  EXPECT_EQ(r.err.rfind(kErr + target + ": ", 0), 0u) << r.err;
  EXPECT_TRUE(out.list().empty());
}

TEST_F(Cli, OutputParentIsAFile) {
  vt::TempDir out;
  write_file(out / "notes.txt", "x");
  const std::string target = out / "notes.txt/out.mp4";
  const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", align(), "-o", target});
  EXPECT_EQ(r.code, 4) << r.err;
  expect_one_error_line(r);
  EXPECT_EQ(r.err.rfind(kErr + target + ": ", 0), 0u) << r.err;
  EXPECT_EQ(out.list(), std::vector<std::string>{"notes.txt"});
  EXPECT_EQ(vt::slurp(out / "notes.txt"), "x");
}

TEST_F(Cli, OutputIsADirectory) {
  vt::TempDir out;
  fs::create_directory(out / "out.mp4");
  const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", align(), "-o", out / "out.mp4"});
  EXPECT_EQ(r.code, 4) << r.err;
  expect_one_error_line(r);
  EXPECT_EQ(out.list(), std::vector<std::string>{"out.mp4"});
  EXPECT_TRUE(fs::is_empty(out / "out.mp4"));
}

TEST_F(Cli, OutputFolderReadOnly) {
  vt::TempDir out;
  // Root writes into a 0555 folder anyway: as root, the folder is a read-only tmpfs instead.
  const bool root = ::geteuid() == 0;
  if (root && std::system(("mount -t tmpfs -o ro,size=16k tmpfs " + quote(out.path()) + " 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "root, and cannot mount a read-only tmpfs here";
  if (!root) fs::permissions(out.path(), fs::perms::owner_read | fs::perms::owner_exec);
  const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", align(), "-o", out / "out.mp4"});
  if (root) {
    EXPECT_EQ(std::system(("umount " + quote(out.path())).c_str()), 0);
  }
  fs::permissions(out.path(), fs::perms::owner_all);
  EXPECT_EQ(r.code, 4) << r.err;
  expect_one_error_line(r);
  EXPECT_TRUE(out.list().empty());
}

// A full disk: a 16 KiB tmpfs as the output folder. Writing fails: exit 4 naming the output, nothing left there.
TEST_F(Cli, DiskFullExitsFourAndLeavesNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  vt::TempDir out;
  if (std::system(("mount -t tmpfs -o size=16k tmpfs " + quote(out.path()) + " 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here";
  const std::string target = out / "out.mp4";
  const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", align(), "-o", target});
  const std::vector<std::string> left = out.list();
  EXPECT_EQ(std::system(("umount " + quote(out.path())).c_str()), 0);
  EXPECT_EQ(r.code, 4) << r.err;
  expect_one_error_line(r);
  EXPECT_NE(r.err.find(kErr + target + ": "), std::string::npos) << r.err;
  EXPECT_TRUE(left.empty()) << left.size() << " files left, first " << left[0];
}

// Two runs rendering to the same path at once: each writes its own temporary file and renames it when complete,
// so both succeed and the survivor is whole.
TEST_F(Cli, TwoRunsToOneOutputLeaveOneWholeFile) {
  vt::TempDir out;
  const std::string target = out / "same.mp4";
  const std::vector<std::string> args = {"--bg", bg(), "--fg", fg(), "--alignment", align(), "-o", target, "-q"};
  vt::Run a, b;
  std::thread other([&] { b = vt::vidkompy(args); });
  a = vt::vidkompy(args);
  other.join();
  EXPECT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(out.list(), std::vector<std::string>{"same.mp4"});
  const auto fg_frames = vt::decode_all(fg());
  const auto frames = vt::decode_all(target);
  ASSERT_EQ(frames.size(), size_t(kFgFrames));
  for (size_t i = 0; i < frames.size(); ++i)
    EXPECT_GT(vt::psnr(frames[i]->image, fg_frames[i]->image, 0, {kX, kY, 160, 120}, 0, 0), 32.0) << "frame " << i;
}

// Paths that start with a dash (given as --opt=value, as with any getopt-style tool), with spaces and Unicode.
TEST_F(Cli, PathsWithALeadingDashSpacesAndUnicode) {
  vt::TempDir dir;
  fs::copy_file(bg(), dir / "-wide \u00e9.mp4");
  fs::copy_file(fg(), dir / "-detail \u00fc.mp4");
  fs::copy_file(align(), dir / "-align.json");
  const vt::Run r = vidkompy_in(dir.path(), {"--bg=-wide \u00e9.mp4", "--fg=-detail \u00fc.mp4", "--alignment=-align.json",
                                             "--output=-out \u00df.mp4", "-q"});
  EXPECT_EQ(r.code, 0) << r.err;
  vidkompy::VideoInfo info;
  EXPECT_TRUE(vidkompy::probe(dir / "-out \u00df.mp4", info).ok());
  EXPECT_EQ(info.frames, kFgFrames);
}

// A fuzzer's find: a 7 KB file whose header claims 14 million frames. Memory reserved from that count (12 GB)
// failed; now the run ends with an ordinary one-line error and no output.
TEST_F(Cli, HeaderClaimingMillionsOfFramesFailsCleanly) {
  vt::TempDir dir;
  const std::string odd = VIDKOMPY_SOURCE_DIR "/fuzz/regressions/probe/oom-fa79a081f85ad02c70ecacd3270534b99f4197f3";
  const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", odd, "-o", dir / "out.mp4"});
  EXPECT_TRUE(r.code == 2 || r.code == 3) << r.code << ": " << r.err;
  expect_one_error_line(r);
  EXPECT_TRUE(dir.list().empty());
}

// A 1 GiB --alignment file (sparse) is refused at once by its size, without reading it.
TEST_F(Cli, GigabyteAlignmentIsRefusedBySize) {
  vt::TempDir dir;
  const std::string huge = dir / "huge.json";
  std::ofstream(huge) << "{\"spatial\": [";
  fs::resize_file(huge, uintmax_t(1) << 30);
  const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", huge, "-o", dir / "out.mp4"});
  EXPECT_EQ(r.code, 2) << r.err;
  expect_one_error_line(r);
  EXPECT_NE(r.err.find(huge + ": alignment report is too large"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out.mp4"));
}

TEST_F(Cli, OutputEqualToAnInputIsRefused) {
  const auto before_bg = vt::slurp(bg()), before_fg = vt::slurp(fg()), before_align = vt::slurp(align());
  // The same file under other spellings counts too.
  for (const std::string& target : {bg(), fg(), align(), in_->path() + "/./wide.mp4", in_->path() + "//detail.mp4"}) {
    const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", align(), "-o", target});
    EXPECT_EQ(r.code, 4) << target << ": " << r.err;
    expect_one_error_line(r);
    EXPECT_NE(r.err.find("overwrite the input"), std::string::npos) << r.err;
  }
  EXPECT_EQ(vt::slurp(bg()), before_bg);
  EXPECT_EQ(vt::slurp(fg()), before_fg);
  EXPECT_EQ(vt::slurp(align()), before_align);
  // TearDown checks that no temporary file was left next to the inputs.
}

TEST_F(Cli, ReportOverAnInputOrTheVideoIsRefused) {
  const auto before_bg = vt::slurp(bg()), before_fg = vt::slurp(fg());
  vt::TempDir out;
  for (bool align_only : {false, true}) {
    for (const std::string& report : {bg(), fg(), in_->path() + "/./wide.mp4"}) {
      std::vector<std::string> args = {"--bg", bg(), "--fg", fg(), "--json", report, "-o", out / "out.mp4"};
      if (align_only) {
        args.push_back("--align-only");  // fails with 3 in this version, but must not touch the input first
      } else {
        args.insert(args.end(), {"--alignment", align()});
      }
      const vt::Run r = vt::vidkompy(args);
      EXPECT_NE(r.code, 0) << report;
      expect_one_error_line(r);
      if (!align_only) {
        EXPECT_EQ(r.code, 4) << r.err;
        EXPECT_EQ(r.err.rfind(kErr + report + ": ", 0), 0u) << r.err;
        EXPECT_NE(r.err.find("overwrite the input"), std::string::npos) << r.err;
      }
    }
  }
  EXPECT_EQ(vt::slurp(bg()), before_bg);
  EXPECT_EQ(vt::slurp(fg()), before_fg);
  // --json naming the video output itself: one would silently replace the other.
  const vt::Run r = vt::vidkompy(
      {"--bg", bg(), "--fg", fg(), "--alignment", align(), "--json", out / "out.mp4", "-o", out / "./out.mp4"});
  EXPECT_EQ(r.code, 4) << r.err;
  expect_one_error_line(r);
  EXPECT_TRUE(out.list().empty());
}

TEST_F(Cli, OutputNameTooLongFailsAtRenderWithoutLeftovers) {
  // The folder exists and is writable, so the early check passes; creating the file itself then fails.
  vt::TempDir out;
  const std::string target = out / (std::string(300, 'x') + ".mp4");
  const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", align(), "-o", target});
  EXPECT_EQ(r.code, 4) << r.err;
  expect_one_error_line(r);
  EXPECT_EQ(r.err.rfind(kErr + target + ": ", 0), 0u) << r.err;
  EXPECT_TRUE(out.list().empty());
}

TEST_F(Cli, ReportFolderMissingExitsFour) {
  vt::TempDir out;
  const std::string report = out / "nosuch/report.json";
  const vt::Run r =
      vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", align(), "--json", report, "-o", out / "out.mp4"});
  EXPECT_EQ(r.code, 4) << r.err;
  expect_one_error_line(r);
  EXPECT_EQ(r.err.rfind(kErr + report + ": ", 0), 0u) << r.err;
  EXPECT_TRUE(out.list().empty());  // no render after a failed report
}

// ------------------------------------------------------------------------------------------------ success (0)

// LibTorch is a plugin loaded by the stages that need it: a binary without it still renders a saved alignment,
// and an alignment run says which file is missing (exit 2) instead of crashing.
TEST_F(Cli, WithoutTheTorchPluginOnlyAlignmentFails) {
  if (fs::exists(VIDKOMPY_INSTALLED_PLUGIN)) GTEST_SKIP() << "an installed plugin would be found: " << VIDKOMPY_INSTALLED_PLUGIN;
  vt::TempDir dir;
  const std::string bin = dir / "vidkompy";
  fs::copy_file(VIDKOMPY_BIN, bin);
  const vt::Run a = vt::run_binary(bin, {"--bg", bg(), "--fg", fg(), "--align-only"});
  EXPECT_EQ(a.code, 2) << a.err;
  expect_one_error_line(a);
  EXPECT_NE(a.err.find("libvidkompy_torch.so: cannot load the LibTorch plugin"), std::string::npos) << a.err;
  EXPECT_TRUE(a.out.empty()) << a.out;

  const std::string target = dir / "result.mp4";
  const vt::Run r = vt::run_binary(bin, {"--bg", bg(), "--fg", fg(), "--alignment", align(), "-o", target, "-q",
                                         "--preset", "ultrafast"});
  ASSERT_EQ(r.code, 0) << r.err;
  vidkompy::VideoInfo info;
  ASSERT_TRUE(vidkompy::probe(target, info).ok());
  EXPECT_EQ(info.frames, kFgFrames);
}

TEST_F(Cli, RendersFromHandWrittenAlignment) {
  vt::TempDir out;
  const std::string target = out / "result.mp4";
  const vt::Run r = vt::vidkompy(
      {"--bg", bg(), "--fg", fg(), "--alignment", align(), "-o", target, "--preset", "ultrafast", "--crf", "10"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(r.err.find(kErr), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("wrote " + target), std::string::npos) << r.err;
  EXPECT_EQ(out.list(), std::vector<std::string>{"result.mp4"});

  // bg's size, fg's frame count and rate, bg's audio.
  vidkompy::VideoInfo info;
  ASSERT_TRUE(vidkompy::probe(target, info).ok());
  EXPECT_EQ(info.width, 320);
  EXPECT_EQ(info.height, 240);
  EXPECT_EQ(info.frames, kFgFrames);
  EXPECT_EQ(info.fps.num, 25);
  EXPECT_EQ(info.fps.den, 1);
  EXPECT_EQ(info.codec, "h264");
  EXPECT_TRUE(info.has_audio);
  EXPECT_EQ(info.audio_codec, "aac");

  // fg sits at (40, 60) frame for frame; the rest is bg's blue (BT.601 Y 41).
  const auto fg_frames = vt::decode_all(fg());
  const auto frames = vt::decode_all(target);
  ASSERT_EQ(frames.size(), size_t(kFgFrames));
  for (size_t i = 0; i < frames.size(); ++i) {
    const vidkompy::Image& o = frames[i]->image;
    EXPECT_GT(vt::psnr(o, fg_frames[i]->image, 0, {kX, kY, 160, 120}, 0, 0), 32.0) << "frame " << i;
    if (i + 1 < frames.size()) {
      EXPECT_LT(vt::psnr(o, fg_frames[i + 1]->image, 0, {kX, kY, 160, 120}, 0, 0),
                vt::psnr(o, fg_frames[i]->image, 0, {kX, kY, 160, 120}, 0, 0))
          << "frame " << i;
    }
    const std::pair<int, int> outside[] = {
        {5, 5}, {315, 235}, {kX - 4, kY + 50}, {kX + 164, kY + 50}, {kX + 80, kY + 124}};
    for (auto [x, y] : outside)
      EXPECT_NEAR(o.plane[0].row(y)[x], 41, 3) << "frame " << i << " at " << x << "," << y;
  }
}

TEST_F(Cli, DefaultOutputNameInWorkingDirectory) {
  vt::TempDir cwd;
  const vt::Run r =
      vidkompy_in(cwd.path(), {"--bg", bg(), "--fg", fg(), "--alignment", align(), "--preset", "ultrafast"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(cwd.list(), std::vector<std::string>{"wide_overlay_detail.mp4"});
  vidkompy::VideoInfo info;
  EXPECT_TRUE(vidkompy::probe(cwd / "wide_overlay_detail.mp4", info).ok());
  EXPECT_EQ(info.frames, kFgFrames);
}

TEST_F(Cli, JsonToStdoutKeepsLogsOnStderr) {
  vt::TempDir out;
  const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", align(), "--json", "-", "-o",
                                  out / "out.mp4", "--preset", "ultrafast"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.front(), '{');
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(r.out)) << r.out;
  EXPECT_EQ(j.at("spatial").at("x").get<double>(), kX);
  EXPECT_EQ(j.at("spatial").at("y").get<double>(), kY);
  EXPECT_EQ(j.at("spatial").at("scale").get<double>(), 1.0);
  EXPECT_EQ(j.at("temporal").at("map").get<std::vector<int64_t>>(), offset_map(kFgFrames, kOffset));
  EXPECT_EQ(j.at("bg").at("width").get<int>(), 320);
  EXPECT_EQ(j.at("bg").at("frames").get<int>(), kBgFrames);
  EXPECT_EQ(j.at("fg").at("frames").get<int>(), kFgFrames);
  EXPECT_EQ(j.at("fg").at("fps").get<std::string>(), "25/1");
  EXPECT_EQ(j.at("version").get<std::string>(), VIDKOMPY_VERSION);
  // Logs (the "wrote" line) went to stderr, and the render happened.
  EXPECT_EQ(r.out.find("vidkompy:"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("wrote "), std::string::npos) << r.err;
  EXPECT_EQ(out.list(), std::vector<std::string>{"out.mp4"});
}

TEST_F(Cli, JsonToFileRoundTrips) {
  vt::TempDir out;
  const std::string report = out / "report.json";
  const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", align(), "--json", report, "-o",
                                  out / "a.mp4", "--preset", "ultrafast", "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(out.list(), (std::vector<std::string>{"a.mp4", "report.json"}));
  EXPECT_EQ(vt::report_schema_errors(vt::slurp(report)), std::vector<std::string>{});
  // The written report is itself a valid --alignment input.
  const vt::Run again = vt::vidkompy(
      {"--bg", bg(), "--fg", fg(), "--alignment", report, "-o", out / "b.mp4", "--preset", "ultrafast", "-q"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(out.list(), (std::vector<std::string>{"a.mp4", "b.mp4", "report.json"}));
}

// The schema check itself: it must catch what a broken report would get wrong.
TEST(ReportSchema, RejectsMissingWrongTypedAndExtraFields) {
  nlohmann::json ok = {{"version", "1"}, {"timings", {{"probe", 0.1}}},
                       {"spatial", {{"x", 1.5}, {"y", -2}, {"scale", 1}, {"confidence", 0.9}, {"x_px", 2}, {"y_px", -2}}},
                       {"temporal", {{"map", {0, 1}}, {"confidence", 1}, {"clamped_start", 0}, {"clamped_end", 0},
                                     {"rate_ratio", nullptr}, {"offset_seconds", nullptr}, {"model", nullptr}}}};
  nlohmann::json video = {{"path", "a"}, {"container", "mp4"}, {"codec", "h264"}, {"pix_fmt", "yuv420p"},
                          {"color_range", "tv"}, {"color_space", "unknown"},
                          {"width", 2}, {"height", 2}, {"fps", "25/1"}, {"fps_value", 25.0}, {"frames", 2},
                          {"duration", 0.08}, {"start_time", 0.0}, {"rotation", 0}, {"audio", nullptr}};
  ok["bg"] = ok["fg"] = video;
  EXPECT_EQ(vt::report_schema_errors(ok.dump()), std::vector<std::string>{});
  nlohmann::json bad = ok;
  bad["spatial"].erase("scale");
  bad["temporal"]["map"][1] = -1;
  bad["fg"]["rotation"] = 45;
  bad["bg"]["width"] = "2";
  bad["extra"] = 1;
  const std::vector<std::string> errs = vt::report_schema_errors(bad.dump());
  EXPECT_EQ(errs.size(), 5u) << ::testing::PrintToString(errs);
}

// With -v and stderr not a terminal (here a file), the render reports progress as plain lines; without -v, or
// with -q, it does not.
TEST_F(Cli, VerboseWithoutTerminalPrintsProgressLines) {
  vt::TempDir out;
  const std::vector<std::string> base = {"--bg", bg(), "--fg", fg(), "--alignment", align(), "-o", out / "out.mp4",
                                         "--preset", "ultrafast"};
  std::vector<std::string> verbose = base;
  verbose.push_back("-v");
  const vt::Run v = vt::vidkompy(verbose);
  ASSERT_EQ(v.code, 0) << v.err;
  EXPECT_NE(v.err.find("vidkompy: render " + std::to_string(kFgFrames) + "/" + std::to_string(kFgFrames) + " frames, "),
            std::string::npos) << v.err;
  EXPECT_EQ(v.err.find('\r'), std::string::npos);  // no terminal redraws in a file
  const vt::Run plain = vt::vidkompy(base);
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_EQ(plain.err.find("vidkompy: render "), std::string::npos) << plain.err;
}

// --frames renders a segment: exactly B-A frames, the right ones, no audio; a range past fg's end is a usage error.
TEST_F(Cli, FramesRendersOneSegment) {
  vt::TempDir out;
  const std::string target = out / "seg.mp4";
  const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", align(), "--frames", "5:12", "-o", target,
                                  "--preset", "ultrafast", "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  vidkompy::VideoInfo info;
  ASSERT_TRUE(vidkompy::probe(target, info).ok());
  EXPECT_EQ(info.frames, 7);
  EXPECT_FALSE(info.has_audio);
  const auto fg_frames = vt::decode_all(fg());
  const auto frames = vt::decode_all(target);
  ASSERT_EQ(frames.size(), 7u);
  for (size_t i = 0; i < frames.size(); ++i)
    EXPECT_GT(vt::psnr(frames[i]->image, fg_frames[5 + i]->image, 0, {kX, kY, 160, 120}, 0, 0), 32.0) << "frame " << i;

  const vt::Run past = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", align(), "--frames", "20:26", "-o",
                                     out / "past.mp4"});
  EXPECT_EQ(past.code, 1) << past.err;
  expect_one_error_line(past);
  EXPECT_NE(past.err.find("--frames 20:26: the alignment has only 25 fg frames"), std::string::npos) << past.err;
  EXPECT_FALSE(fs::exists(out / "past.mp4"));
}

// --preview writes a PNG contact sheet: nine 320 px tiles of the output with fg outlined in magenta, and the map.
TEST_F(Cli, PreviewWritesAContactSheet) {
  vt::TempDir out;
  const std::string png = out / "look.png", rgb = out / "look.rgb";
  const vt::Run r = vt::vidkompy({"--bg", bg(), "--fg", fg(), "--alignment", align(), "-o", out / "out.mp4",
                                  "--preset", "ultrafast", "--preview", png, "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(png) + " -f rawvideo -pix_fmt rgb24 " + quote(rgb)));
  const std::string px = vt::slurp(rgb);
  // 3 columns of 320 px tiles with 8 px gaps; rows of 240 + 16 px label; the 240 px map plot below.
  const int w = 8 + 3 * (320 + 8), h = 8 + 3 * (240 + 16 + 8) + 240 + 8;
  ASSERT_EQ(px.size(), size_t(w) * h * 3);
  auto at = [&](int x, int y) {
    const size_t i = (size_t(y) * w + x) * 3;
    return std::array<int, 3>{uint8_t(px[i]), uint8_t(px[i + 1]), uint8_t(px[i + 2])};
  };
  // The outline of fg (at (40, 60), 160x120, scale 1 on a 320x240 bg) in the first and the last tile.
  EXPECT_EQ(at(8 + kX, 8 + kY), (std::array<int, 3>{255, 0, 255}));
  EXPECT_EQ(at(8 + 2 * 328 + kX + 159, 8 + 2 * 264 + kY + 119), (std::array<int, 3>{255, 0, 255}));
  // Inside the outline the tile shows fg (not bg's blue); outside it bg's blue.
  const auto in = at(8 + kX + 80, 8 + kY + 60), outside = at(8 + 10, 8 + 10);
  EXPECT_GT(outside[2], 200);
  EXPECT_LT(outside[0], 60);
  EXPECT_NE(in, outside);
}

// The preview shows colours as players would: made RGB with bg's matrix (BT.709 here, named), not libswscale's
// default BT.601 (7.1 levels off on average before).
TEST(Preview, ColoursFollowBgsMatrix) {
  vt::TempDir dir;
  const std::string bg = dir / "bg.mp4", fg = dir / "fg.mp4", align = dir / "a.json", png = dir / "p.png";
  ASSERT_TRUE(vt::ffmpeg("-f lavfi -i testsrc2=size=1280x720:rate=25:duration=0.4 -vf "
                         "scale=out_color_matrix=bt709:flags=accurate_rnd -c:v libx264 -crf 10 -pix_fmt yuv420p "
                         "-colorspace bt709 " + quote(bg)));
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(bg) + " -vf crop=640:360:320:180 -c:v libx264 -crf 10 -colorspace bt709 " +
                         quote(fg)));
  std::ofstream(align) << R"({"spatial": {"x": 320, "y": 180, "scale": 1}, "temporal": {"map": [0,1,2,3,4,5,6,7,8,9]}})";
  const vt::Run r = vt::vidkompy({"--bg", bg, "--fg", fg, "--alignment", align, "-o", dir / "o.mp4", "--preset",
                                  "ultrafast", "--preview", png, "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string sheet = dir / "p.rgb", truth = dir / "t.rgb";
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(png) + " -f rawvideo -pix_fmt rgb24 " + quote(sheet)));
  ASSERT_TRUE(vt::ffmpeg("-i " + quote(bg) + " -frames:v 1 -vf scale=320:180:flags=area:in_color_matrix=bt709 "
                         "-f rawvideo -pix_fmt rgb24 " + quote(truth)));
  const std::string p = vt::slurp(sheet), t = vt::slurp(truth);
  const int w = 8 + 3 * (320 + 8);
  ASSERT_EQ(t.size(), size_t(320) * 180 * 3);
  // The first tile (bg frame 0) above the placed fg: bg alone.
  double diff = 0;
  int n = 0;
  for (int y = 4; y < 40; ++y)
    for (int x = 4; x < 316; ++x)
      for (int c = 0; c < 3; ++c, ++n)
        diff += std::abs(int(uint8_t(p[(size_t(8 + y) * w + 8 + x) * 3 + c])) - int(uint8_t(t[(size_t(y) * 320 + x) * 3 + c])));
  EXPECT_LT(diff / n, 1.5);
}

TEST_F(Cli, QuietPrintsNothingOnSuccess) {
  vt::TempDir out;
  for (const char* q : {"-q", "--quiet"}) {
    const vt::Run r = vt::vidkompy(
        {"--bg", bg(), "--fg", fg(), "--alignment", align(), "-o", out / "out.mp4", "--preset", "ultrafast", q});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  EXPECT_EQ(out.list(), std::vector<std::string>{"out.mp4"});  // overwritten in place, no temporary left
}

TEST_F(Cli, VerbosePrintsTimingTable) {
  vt::TempDir out;
  const vt::Run r = vt::vidkompy(
      {"--bg", bg(), "--fg", fg(), "--alignment", align(), "-o", out / "out.mp4", "--preset", "ultrafast", "-v"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  for (const char* stage : {"probe", "load", "render", "total"})
    EXPECT_NE(r.err.find(stage), std::string::npos) << r.err;
  // The total's row: wall seconds, CPU seconds, and their ratio, the cores kept busy (more than none, at most the
  // machine's and a little for rounding). (Stages under 0.01 s show no ratio.)
  std::istringstream table(r.err.substr(r.err.find("\ntotal ") + 1));
  std::string name;
  double secs = 0, cpu = 0, cores = 0;
  ASSERT_TRUE(table >> name >> secs >> cpu >> cores) << r.err;
  EXPECT_GT(secs, 0);
  EXPECT_GT(cpu, 0);
  EXPECT_NEAR(cores, cpu / secs, 0.01 + (cores + 1) * 0.0005 / secs);  // (all three rounded as printed)
  EXPECT_LE(cores, std::thread::hardware_concurrency() + 0.1);
  EXPECT_NE(r.err.find("cpu s  cores"), std::string::npos) << r.err;
}

}  // namespace
