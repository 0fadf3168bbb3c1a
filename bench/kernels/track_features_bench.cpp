// track_features_bench: rows/s of trajectory-smooth, nearest-neighbor, orientation-rel,
// id-tag-columns, movement-smooth and movement-filter-interpolate on two simulated shapes, next to
// the I/O floor measured in the same run.
//
// Shapes: "hour" = 1 h x 10 animals x 7 keypoints at 30 fps (108,000 frames, 1.08 M rows);
// "crowd" = 100 animals x 1,000 frames (100,000 rows).
// For each feature and shape:
//   BM_Apply     the feature's apply on the in-memory table (compute only);
//   BM_IoFloor   read_parquet of the input + write_parquet of that feature's output, no compute;
//   BM_EndToEnd  read + apply + write, what run_feature does per entry.
// items_per_second is input rows per second in all three.
//
//   build-*/bench/track_features_bench --benchmark_format=json > track_features.json
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "common/bench_util.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/simulate.hpp"

namespace {

namespace fs = std::filesystem;
using mosaic::Json;
using mosaic::Table;

using mosaic::bench::peak_rss_mib;

fs::path work_dir() { return mosaic::bench::scratch_dir("track-features"); }

using mosaic::bench::Shape;
constexpr const auto& kShapes = mosaic::bench::kIssueShapes;

// The simulated input of a shape, as run_feature hands it to apply, and its parquet file.
struct Input {
  Table table;
  fs::path parquet;
  fs::path labels;
};

const Input& input(int shape) {
  static std::map<int, std::unique_ptr<Input>> cache;
  auto& slot = cache[shape];
  if (!slot) {
    const Shape& s = kShapes[shape];
    mosaic::SimulationOptions o;
    o.animals = s.animals;
    o.frames = s.frames;
    o.keypoints = 7;
    o.seed = 7;
    o.arena = s.animals > 20 ? 4000.0 : 1000.0;
    slot = std::make_unique<Input>();
    slot->table = mosaic::simulate_sequence(o, 0);
    const std::size_t n = slot->table.num_rows();
    slot->table.add_column("group", mosaic::Column::constant_string("g", n));
    slot->table.add_column("sequence", mosaic::Column::constant_string("s", n));
    slot->parquet = work_dir() / (std::string(s.name) + "_input.parquet");
    mosaic::write_parquet(slot->table, slot->parquet);
    std::vector<int64_t> ids(static_cast<std::size_t>(s.animals)), tags(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      ids[i] = static_cast<int64_t>(i);
      tags[i] = static_cast<int64_t>(i % 2);
    }
    slot->labels = work_dir() / (std::string(s.name) + "_labels.npz");
    const auto k = static_cast<int64_t>(ids.size());
    mosaic::write_npz(slot->labels, {{"ids", mosaic::NpyArray::from_int64({k}, ids)},
                                     {"Focal_fish", mosaic::NpyArray::from_int64({k}, tags)}});
  }
  return *slot;
}

struct FeatureCase {
  const char* name;
  const char* params;
};
constexpr FeatureCase kFeatures[] = {
    {"trajectory-smooth", R"({"speed_threshold": 600.0, "fps": 30.0, "interpolate_pose": true, "savgol_window": 7})"},
    {"nearest-neighbor", "{}"},
    {"orientation-rel", R"({"scale": {"feature": ""}})"},
    {"id-tag-columns", "{}"},
    {"movement-smooth", "{}"},
    {"movement-filter-interpolate", "{}"},
};

std::unique_ptr<mosaic::Feature> make(int feature, int shape) {
  auto f = mosaic::make_feature(kFeatures[feature].name, std::nullopt, mosaic::python_json_loads(kFeatures[feature].params));
  mosaic::DependencyLookups lookups = {{"labels", {{{"g", "s"}, input(shape).labels}}}};
  f->load_state({}, {}, lookups);
  return f;
}

void label(benchmark::State& state, int feature, int shape, int64_t rows) {
  state.SetItemsProcessed(rows);
  state.SetLabel(std::string(kFeatures[feature].name) + "/" + kShapes[shape].name);
  state.counters["rows_in"] = static_cast<double>(input(shape).table.num_rows());
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

void BM_Apply(benchmark::State& state) {
  const int feature = static_cast<int>(state.range(0)), shape = static_cast<int>(state.range(1));
  const Table& in = input(shape).table;
  auto f = make(feature, shape);
  int64_t rows = 0;
  for (auto _ : state) {
    Table out = f->apply(in);
    benchmark::DoNotOptimize(out);
    rows += static_cast<int64_t>(in.num_rows());
    state.counters["rows_out"] = static_cast<double>(out.num_rows());
  }
  label(state, feature, shape, rows);
}

void BM_IoFloor(benchmark::State& state) {
  const int feature = static_cast<int>(state.range(0)), shape = static_cast<int>(state.range(1));
  const Table out = make(feature, shape)->apply(input(shape).table);  // outside the timing
  const fs::path dst = work_dir() / "floor_out.parquet";
  int64_t rows = 0;
  for (auto _ : state) {
    Table in = mosaic::read_parquet(input(shape).parquet);
    benchmark::DoNotOptimize(in);
    mosaic::write_parquet(out, dst);
    rows += static_cast<int64_t>(in.num_rows());
  }
  label(state, feature, shape, rows);
}

void BM_EndToEnd(benchmark::State& state) {
  const int feature = static_cast<int>(state.range(0)), shape = static_cast<int>(state.range(1));
  auto f = make(feature, shape);
  const fs::path dst = work_dir() / "e2e_out.parquet";
  int64_t rows = 0;
  for (auto _ : state) {
    Table in = mosaic::read_parquet(input(shape).parquet);
    Table out = f->apply(in);
    mosaic::write_parquet(out, dst);
    rows += static_cast<int64_t>(in.num_rows());
  }
  label(state, feature, shape, rows);
}

void all_cases(benchmark::internal::Benchmark* b) {
  for (int shape = 0; shape < 2; ++shape)
    for (int feature = 0; feature < static_cast<int>(std::size(kFeatures)); ++feature) b->Args({feature, shape});
}

BENCHMARK(BM_Apply)->Apply(all_cases)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_IoFloor)->Apply(all_cases)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EndToEnd)->Apply(all_cases)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::error_code ec;
  fs::remove_all(work_dir(), ec);
  return 0;
}
