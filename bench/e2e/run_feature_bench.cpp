// End-to-end run_feature throughput on a 10 M-row simulated dataset (issue 3): speed-angvel with
// 1 and 2 workers, next to the I/O floor measured in the same run (read every input table and
// write an output of the same shape, with no compute).
//
//   build/bench/run_feature_bench [--benchmark_filter=...]
//   MOSAIC_BENCH_ROWS=2000000 build/bench/run_feature_bench   # a smaller dataset
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>

#include "mosaic/dataset.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/files.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/run_feature.hpp"
#include "mosaic/simulate.hpp"

namespace fs = std::filesystem;
using namespace mosaic;

namespace {

constexpr int kSequences = 10;
constexpr int kAnimals = 10;

int64_t total_rows() {
  const char* env = std::getenv("MOSAIC_BENCH_ROWS");
  return env ? std::atoll(env) : 10'000'000;
}

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

// The simulated dataset, built once per process (in a temporary folder removed at exit).
struct BenchData {
  fs::path root;
  std::unique_ptr<Dataset> ds;
  int64_t rows = 0;
  BenchData() {
    root = fs::temp_directory_path() / ("mosaic-bench-" + std::to_string(::getpid()));
    ds = std::make_unique<Dataset>(Dataset::create(root, {.name = "bench", .fps = 30.0}));
    SimulationOptions opt;
    opt.animals = kAnimals;
    opt.keypoints = 7;
    opt.frames = total_rows() / (kSequences * kAnimals);
    opt.fps = 30.0;
    opt.seed = 1;
    for (int s = 0; s < kSequences; ++s) {
      Table t = simulate_sequence(opt, s);
      rows += static_cast<int64_t>(t.num_rows());
      ds->write_tracks("", simulated_sequence_name(s), t, {.std_format = "simulated"});
    }
  }
  ~BenchData() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

BenchData& data() {
  static BenchData d;
  return d;
}

// I/O floor: read each input whole (as run_feature does) and write an output table of the same
// shape as speed-angvel's (5 float columns + frame, group, id, sequence, time), no compute.
void BM_IoFloor(benchmark::State& state) {
  BenchData& d = data();
  fs::path out_dir = d.root / "floor";
  make_dirs(out_dir);
  for (auto _ : state) {
    for (const auto& e : d.ds->tracks_index()) {
      Table in = read_parquet(e.path);
      Table out;
      for (const char* c : {"X", "Y", "ANGLE", "poseX0", "poseY0"}) out.add_column(std::string("v_") + c, in.shared_column(*in.column_index(c)));
      for (const char* c : {"frame", "group", "id", "sequence", "time"}) out.add_column(c, in.shared_column(*in.column_index(c)));
      write_parquet(out, out_dir / (e.sequence + ".parquet"));
    }
  }
  state.SetItemsProcessed(state.iterations() * d.rows);
  state.counters["peak_rss_mb"] = peak_rss_mb();
}

void BM_SpeedAngvel(benchmark::State& state) {
  BenchData& d = data();
  int workers = static_cast<int>(state.range(0));
  RunTiming last;
  for (auto _ : state) {
    auto f = make_feature("speed-angvel", std::nullopt, Json{{"fps", 30.0}, {"smooth_window", 7}, {"step_size", 5}});
    RunOptions opt;
    opt.parallel_workers = workers;
    opt.overwrite = true;
    opt.log = false;
    opt.no_registry = true;
    last = run_feature(*d.ds, *f, opt).timing;
  }
  state.SetItemsProcessed(state.iterations() * d.rows);
  state.counters["read_s"] = last.read_seconds;
  state.counters["apply_s"] = last.apply_seconds;
  state.counters["write_s"] = last.write_seconds;
  state.counters["peak_rss_mb"] = peak_rss_mb();
}

}  // namespace

BENCHMARK(BM_IoFloor)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK(BM_SpeedAngvel)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK_MAIN();
