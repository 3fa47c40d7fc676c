// libFuzzer target: arbitrary bytes as a --alignment report. Parsing must fail with a one-line input error or
// succeed, and check_alignment must then judge the result against plausible inputs; never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "vidkompy/report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vidkompy;
  const std::string text(reinterpret_cast<const char*>(data), size);
  Placement spatial;
  TimeMap temporal;
  const Status st = parse_alignment(text, "fuzz.json", spatial, temporal);
  if (!st.ok()) {
    if (st.code != kExitInput || st.errors.size() != 1 || st.errors[0].find('\n') != std::string::npos) __builtin_trap();
    return 0;
  }
  VideoInfo bg, fg;
  bg.width = 1920, bg.height = 1080, bg.frames = 600;
  fg.width = 1280, fg.height = 720, fg.frames = int64_t(temporal.map.size());
  (void)check_alignment("fuzz.json", bg, fg, spatial, temporal);
  return 0;
}
