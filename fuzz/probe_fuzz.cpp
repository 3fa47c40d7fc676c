// libFuzzer target: arbitrary bytes as a video file. probe() must accept or reject them with a status, and an
// accepted file must decode (into a small reel, a sparse one as a long pair's, and frame by frame as the render
// reads it, every frame and only some) without crashing.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

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
  if (probe(path, info).ok()) {
    Reel reel;
    (void)read_reel(ctx, info, 32, 18, 1, 1, reel);
    (void)read_reel(ctx, info, 32, 18, 3, 3, reel);  // told by the packets' timestamps, skipping what it can
    Status st;
    for (const bool some : {false, true})
      if (auto src = open_frames(ctx, path, DecodeOptions{}, st)) {
        if (some) src->want_only({0, 2, 5, 9, 40});
        Image img;
        for (int i = 0; i < 64 && src->next(img); ++i) {
        }
      }
  }
  ::close(fd);
  return 0;
}
