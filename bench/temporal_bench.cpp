// Temporal alignment speed for 500 fg frames against 600 bg frames (and 20k against 20k): embedding (the bundled
// model), FAISS k-NN, and the matching (k-NN, line fit, both DTW passes and the source-cadence fit) on synthetic
// features.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "vidkompy/temporal.hpp"

using namespace vidkompy;

namespace {

// fg at 30 fps and bg at 25 fps showing the same stretch of "moments" (random unit vectors and random
// thumbnails), fg starting 2 s later. Thumbnails repeat every 997 moments to bound memory for long runs.
void synthetic(Features& fg, Features& bg, int fg_frames = 500, int bg_frames = 600) {
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0, 1);
  std::uniform_int_distribution<int> byte(0, 255);
  const int moments = 2 * bg_frames, dim = 256, pool = 997;
  std::vector<float> emb(size_t(moments) * dim);
  std::vector<uint8_t> th(size_t(pool) * kThumb * kThumb);
  for (int m = 0; m < moments; ++m) {
    double n = 0;
    for (int d = 0; d < dim; ++d) n += double(emb[size_t(m) * dim + d] = g(rng)) * emb[size_t(m) * dim + d];
    for (int d = 0; d < dim; ++d) emb[size_t(m) * dim + d] /= float(std::sqrt(n));
  }
  for (uint8_t& p : th) p = uint8_t(byte(rng));
  auto take = [&](Features& f, int frames, double step, int start) {
    f.dim = dim;
    for (int i = 0; i < frames; ++i) {
      const int m = std::min(moments - 1, start + int(std::lround(i * step)));
      f.emb.insert(f.emb.end(), emb.begin() + long(m) * dim, emb.begin() + long(m + 1) * dim);
      const long t = m % pool;
      f.thumbs.insert(f.thumbs.end(), th.begin() + t * kThumb * kThumb, th.begin() + (t + 1) * kThumb * kThumb);
    }
  };
  take(bg, bg_frames, 2.0, 0);               // 25 fps over a 50 fps moment clock
  take(fg, fg_frames, 50.0 / 30, 100);       // 30 fps, starting 2 s later
}

// The stage's options for this pair: its nominal rates, so the source-cadence fit runs as it does on real pairs.
MatchOptions options() {
  MatchOptions o;
  o.fg_fps = 30, o.bg_fps = 25;
  return o;
}

}  // namespace

static void BM_Knn500x600(benchmark::State& state) {
  Features fg, bg;
  synthetic(fg, bg);
  for (auto _ : state) benchmark::DoNotOptimize(knn(fg, bg, 10).index.data());
}
BENCHMARK(BM_Knn500x600)->Unit(benchmark::kMillisecond);

static void BM_Match500x600(benchmark::State& state) {
  Features fg, bg;
  synthetic(fg, bg);
  for (auto _ : state) {
    MatchResult r = match_frames(fg, bg, 25.0 / 30.0, options());
    benchmark::DoNotOptimize(r.time.map.data());
  }
}
BENCHMARK(BM_Match500x600)->Unit(benchmark::kMillisecond);

// A long pair: 20k fg against 20k bg frames (11 and 13 minutes). The DTW passes stay in bands around the time
// line, so this grows with frames, not frames squared; the exhaustive FAISS k-NN is most of it.
static void BM_Match20000x20000(benchmark::State& state) {
  Features fg, bg;
  synthetic(fg, bg, 20000, 20000);
  for (auto _ : state) {
    MatchResult r = match_frames(fg, bg, 25.0 / 30.0, options());
    benchmark::DoNotOptimize(r.time.map.data());
  }
}
BENCHMARK(BM_Match20000x20000)->Unit(benchmark::kMillisecond)->Iterations(1);

static void BM_EmbedBatch32(benchmark::State& state) {
  const std::string model = default_model_path();
  if (model.empty()) {
    state.SkipWithError("bundled model not found next to the binary");
    return;
  }
  auto e = load_torchscript_embedder(model, 0);
  std::vector<float> pics(size_t(32) * 3 * kEmbedInput * kEmbedInput, 0.25f);
  std::vector<float> out(size_t(32) * e->dim());
  for (auto _ : state) e->embed(pics.data(), 32, out.data());
  state.SetItemsProcessed(state.iterations() * 32);
}
BENCHMARK(BM_EmbedBatch32)->Unit(benchmark::kMillisecond);
