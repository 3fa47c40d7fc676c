// libFuzzer target: arbitrary bytes as a video file. probe() must accept or reject them with a status, and an
// accepted file must decode without crashing: into a small reel (and a frame again by seeking), a sparse one as a
// long pair's, and frame by frame as the render reads it, every frame and only some.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "vidkompy/options.hpp"
#include "vidkompy/video.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vidkompy;
  static const bool quiet = (set_ffmpeg_log_level(0), true);
  (void)quiet;
  // An anonymous in-memory file: FFmpeg opens it by path like any input.
  const int fd = ::memfd_create("fuzz", 0);
  if (fd < 0) return 0;
  if (size && ::write(fd, data, size) != ssize_t(size)) return ::close(fd), 0;
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  Context ctx;
  ctx.log = std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  VideoInfo info;
  // One reader an input, chosen by its last byte (which the fuzzer mutates like any other): each input is decoded
  // once, so a run tries four times as many as when every input went through every reader.
  if (probe(path, info).ok()) {
    Reel reel;
    Status st;
    switch (size ? data[size - 1] % 4 : 0) {
      case 0: {  // the alignment's reel, then a frame decoded again by seeking back to it
        if (read_reel(ctx, info, 32, 18, 1, 1, reel).ok() && !reel.pts.empty()) {
          std::vector<Gray> g;
          (void)decode_gray_at(ctx, info, reel.pts[reel.pts.size() / 2], 3, g);
        }
        break;
      }
      case 1:  // a long pair's sparse reel: told by the packets' timestamps, skipping what it can
        (void)read_reel(ctx, info, 32, 18, 3, 3, reel);
        break;
      default:  // frame by frame as the render reads it: every frame, or only some
        if (auto src = open_frames(ctx, path, DecodeOptions{}, st)) {
          if (data[size - 1] % 4 == 3) src->want_only({0, 2, 5, 9, 40});
          Image img;
          for (int i = 0; i < 64 && src->next(img); ++i) {
          }
        }
    }
  }
  ::close(fd);
  return 0;
}
