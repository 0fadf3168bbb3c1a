// simulate_bench: throughput of the track simulator, which is also the source of the large
// benchmark datasets (an hour of video x 10 animals is about a million rows).
//
//   build-*/bench/simulate_bench --benchmark_format=json > simulate.json
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdint>

#include "common/bench_util.hpp"
#include "mosaic/simulate.hpp"

namespace {

using mosaic::bench::peak_rss_mib;

// Args: animals, keypoints, frames (at 30 fps).
void BM_SimulateSequence(benchmark::State& state) {
  mosaic::SimulationOptions options;
  options.animals = static_cast<int>(state.range(0));
  options.keypoints = static_cast<int>(state.range(1));
  options.frames = state.range(2);
  options.seed = 1;
  int64_t rows = 0;
  for (auto _ : state) {
    // The same sequence every time, so iterations do identical work.
    mosaic::Table table = mosaic::simulate_sequence(options, 0);
    benchmark::DoNotOptimize(table);
    rows += static_cast<int64_t>(table.num_rows());
  }
  state.SetItemsProcessed(rows);
  state.counters["rows"] = static_cast<double>(options.animals) * static_cast<double>(options.frames);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

// Fits in L2: 3 animals x 1,000 frames.
BENCHMARK(BM_SimulateSequence)->Args({3, 7, 1000})->Unit(benchmark::kMillisecond);
// The demo's sequence: 3 animals x 5 minutes.
BENCHMARK(BM_SimulateSequence)->Args({3, 7, 9000})->Unit(benchmark::kMillisecond);
// An hour of video x 10 animals x 7 keypoints (CalMS21 layout): 1.08 M rows.
BENCHMARK(BM_SimulateSequence)->Args({10, 7, 108000})->Unit(benchmark::kMillisecond)->UseRealTime();
// An hour of 2 flies x 24 keypoints (sleap_flies2 layout): wide rows.
BENCHMARK(BM_SimulateSequence)->Args({2, 24, 108000})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
