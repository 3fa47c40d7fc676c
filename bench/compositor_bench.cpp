// Compositor throughput per 1080p output frame: a 1280x720 fg on a 1920x1080 bg, hard edges and --blend.
#include <benchmark/benchmark.h>

#include "vidkompy/compositor.hpp"

using namespace vidkompy;

static void BM_Compose1080p(benchmark::State& state) {
  const bool blend = state.range(0) != 0;
  const int x = int(state.range(1));  // odd x exercises the general chroma path
  ImageBuffer bg(1920, 1080), fg(1280, 720), out(1920, 1080);
  bg.fill(40, 120, 130);
  fg.fill(200, 90, 160);
  Compositor comp(make_layout(1920, 1080, 1280, 720, x, 180), 8, blend);
  for (auto _ : state) {
    comp.compose(bg.image, fg.image, out.image);
    benchmark::DoNotOptimize(out.bytes.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Compose1080p)->ArgNames({"blend", "x"})->Args({0, 320})->Args({1, 320})->Args({0, 321})->Args({1, 321});
