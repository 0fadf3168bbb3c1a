// pipeline_cache_bench: how long a rerun of a fully cached pipeline takes (issue 4).
//
// 1,000 sequences (2 animals x 7 keypoints x 60 frames each, so the data is tiny and only the
// cache bookkeeping is measured) and a four-step pipeline: body-scale, trajectory-smooth,
// speed-angvel on the smoothed tracks, nearest-neighbor. The first run computes every step
// (reported once as "first_run_s"); then `status` and a cached `run` are timed. Cache state
// comes from each storage's index.csv and run record, never from walking the output folders.
//
//   build/bench/pipeline_cache_bench
//   MOSAIC_BENCH_SEQUENCES=5000 build/bench/pipeline_cache_bench
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "common/bench_util.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/files.hpp"
#include "mosaic/pipeline.hpp"
#include "mosaic/simulate.hpp"

namespace fs = std::filesystem;
using namespace mosaic;

namespace {

int sequences() {
  const char* env = std::getenv("MOSAIC_BENCH_SEQUENCES");
  return env ? std::atoi(env) : 1000;
}

using mosaic::bench::peak_rss_mib;

Pipeline make_pipeline() {
  StepRunOptions defaults;
  defaults.parallel_workers = 2;
  Pipeline p(defaults);
  p.add(FeatureStep{"scale", "body-scale", Json::object()});
  p.add(FeatureStep{"smooth", "trajectory-smooth", Json{{"speed_threshold", 400.0}, {"fps", 30.0}}});
  p.add(FeatureStep{"speed", "speed-angvel", Json{{"fps", 30.0}}, {"smooth"}});
  p.add(FeatureStep{"nn", "nearest-neighbor", Json::object()});
  return p;
}

// The dataset and its computed pipeline, built once per process (removed at exit).
struct CachedPipeline {
  fs::path root;
  std::unique_ptr<Dataset> ds;
  Pipeline pipeline = make_pipeline();
  double first_run_s = 0;
  CachedPipeline() {
    root = fs::temp_directory_path() / ("mosaic-cache-bench-" + std::to_string(::getpid()));
    ds = std::make_unique<Dataset>(Dataset::create(root, {.name = "bench", .fps = 30.0}));
    SimulationOptions opt{.sequences = sequences(), .animals = 2, .keypoints = 7, .frames = 60, .fps = 30.0, .seed = 3};
    for (int s = 0; s < opt.sequences; ++s)
      ds->write_tracks("", simulated_sequence_name(s), simulate_sequence(opt, s), {.std_format = "simulated", .sources = {}});
    auto t0 = std::chrono::steady_clock::now();
    PipelineHooks quiet;
    quiet.log = false;
    pipeline.run(*ds, std::nullopt, quiet);
    first_run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& st : pipeline.status(*ds))
      if (!st.cached) throw std::runtime_error("step " + st.step + " is not cached after the first run: " + st.error);
  }
  ~CachedPipeline() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

CachedPipeline& data() {
  static CachedPipeline d;
  return d;
}

void BM_StatusCached(benchmark::State& state) {
  auto& d = data();
  for (auto _ : state) benchmark::DoNotOptimize(d.pipeline.status(*d.ds));
  state.counters["sequences"] = sequences();
  state.counters["first_run_s"] = d.first_run_s;
  state.counters["peak_rss_mib"] = peak_rss_mib();
}

void BM_RunCached(benchmark::State& state) {
  auto& d = data();
  PipelineHooks quiet;
  quiet.log = false;
  for (auto _ : state) benchmark::DoNotOptimize(d.pipeline.run(*d.ds, std::nullopt, quiet));
  state.counters["sequences"] = sequences();
  state.counters["steps"] = 4;
  state.counters["peak_rss_mib"] = peak_rss_mib();
}

}  // namespace

BENCHMARK(BM_StatusCached)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_RunCached)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_MAIN();
