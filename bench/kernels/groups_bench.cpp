// groups_bench: rows/s of ffgroups, ffgroups-metrics, nn-delta-response, nn-delta-bins and
// temporal-stack on two simulated shapes, next to the I/O floor measured in the same run.
//
// Shapes: "hour" = 1 h x 10 animals x 7 keypoints at 30 fps (108,000 frames, 1.08 M rows);
// "crowd" = 100 animals x 1,000 frames (100,000 rows).
// Inputs are the simulated tracks with the columns these features read from their tracks:
// speed, nearest-neighbour id and offsets (brute force per frame), Focal_fish, ffgroups'
// group_size/event, and nn-delta-response's columns for nn-delta-bins; temporal-stack reads a
// speed-angvel output of the same tracks (per-animal data, default params: 25 offsets + pool).
// For each feature and shape:
//   BM_Apply     the feature's apply on the in-memory table (compute only);
//   BM_IoFloor   read_parquet of the input + write_parquet of that feature's output, no compute.
// items_per_second is input rows per second in both.
//
//   build-*/bench/groups_bench --benchmark_format=json > groups.json
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bench_util.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/simulate.hpp"

namespace {

namespace fs = std::filesystem;
using mosaic::Column;
using mosaic::Json;
using mosaic::Table;

using mosaic::bench::peak_rss_mib;

fs::path work_dir() { return mosaic::bench::scratch_dir("groups"); }

using mosaic::bench::Shape;
constexpr const auto& kShapes = mosaic::bench::kIssueShapes;

struct FeatureCase {
  const char* name;
  const char* params;
  bool speed_input;  // reads speed-angvel's output instead of the augmented tracks
};
constexpr FeatureCase kFeatures[] = {
    {"ffgroups", R"({"distance_cutoff": 120.0})", false},
    {"ffgroups-metrics", "{}", false},
    {"nn-delta-response", "{}", false},
    {"nn-delta-bins", "{}", false},
    {"temporal-stack", "{}", true},
};

std::unique_ptr<mosaic::Feature> build(const FeatureCase& f) {
  std::optional<mosaic::Inputs> inputs;
  if (f.speed_input) inputs = mosaic::Inputs::of({mosaic::Result{"speed-angvel__from__tracks", std::string("0.1-x")}});
  return mosaic::make_feature(f.name, inputs, Json::parse(f.params));
}

// The tracks of a shape with the nearest-neighbour feature columns added.
Table augmented(const Shape& s) {
  mosaic::SimulationOptions o;
  o.animals = s.animals;
  o.frames = s.frames;
  o.keypoints = 7;
  o.seed = 7;
  o.arena = s.animals > 20 ? 4000.0 : 1000.0;
  Table t = mosaic::simulate_sequence(o, 0);
  const std::size_t n = t.num_rows();
  const auto a = static_cast<std::size_t>(s.animals);
  auto x = t.column("X").f64(), y = t.column("Y").f64(), ang = t.column("ANGLE").f64();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> speed(n, nan), nn(n, nan), ex(n, nan), ey(n, nan), dangle(n), dspeed(n);
  std::vector<int64_t> focal(n);
  for (std::size_t r = 0; r < n; ++r) {
    const std::size_t f = r / a, id = r % a;  // rows are frame-major, ids 0..a-1
    focal[r] = static_cast<int64_t>(id % 2);
    if (f > 0) speed[r] = std::hypot(x[r] - x[r - a], y[r] - y[r - a]);
    double best = INFINITY, dx = nan, dy = nan;
    for (std::size_t k = 0; k < a; ++k) {
      const double d = std::hypot(x[f * a + k] - x[r], y[f * a + k] - y[r]);
      if (k != id && d < best) {
        best = d;
        nn[r] = static_cast<double>(k);
        dx = x[f * a + k] - x[r];
        dy = y[f * a + k] - y[r];
      }
    }
    const double h = std::isnan(ang[r]) ? 0.0 : ang[r];
    ex[r] = dx * std::cos(h) + dy * std::sin(h);
    ey[r] = -dx * std::sin(h) + dy * std::cos(h);
    dangle[r] = std::sin(static_cast<double>(r));
    dspeed[r] = std::cos(0.7 * static_cast<double>(r));
  }
  t.add_column("speed", Column::from_float64(speed));
  t.add_column("nn_id", Column::from_float64(nn));
  t.add_column("nn_delta_x_ego", Column::from_float64(ex));
  t.add_column("nn_delta_y_ego", Column::from_float64(ey));
  t.add_column("Focal_fish", Column::from_int64(focal));
  Table g = build(kFeatures[0])->apply(t);
  t.add_column("group_size", g.shared_column(*g.column_index("group_size")));
  t.add_column("event", g.shared_column(*g.column_index("event")));
  std::vector<double> bx(n), by(n);
  for (std::size_t r = 0; r < n; ++r) {
    bx[r] = ex[r] / 20.0;
    by[r] = ey[r] / 20.0;
  }
  t.add_column("neighbor_x", Column::from_float64(bx));
  t.add_column("neighbor_y", Column::from_float64(by));
  t.add_column("dangle", Column::from_float64(dangle));
  t.add_column("dspeed", Column::from_float64(dspeed));
  t.add_column("neighbor_focal", Column::from_float64(std::vector<double>(n, 1.0)));
  t.add_column("group", Column::constant_string("g", n));
  t.add_column("sequence", Column::constant_string("s", n));
  return t;
}

struct Input {
  Table table;
  fs::path parquet;
};

// Inputs per (shape, kind): kind 0 = augmented tracks, 1 = speed-angvel output.
const Input& input(int shape, bool speed) {
  static std::map<std::pair<int, bool>, std::unique_ptr<Input>> cache;
  auto& slot = cache[{shape, speed}];
  if (!slot) {
    const Shape& s = kShapes[shape];
    slot = std::make_unique<Input>();
    if (speed) {
      auto sa = mosaic::make_feature("speed-angvel", std::nullopt, Json{{"fps", 30.0}});
      slot->table = sa->apply(input(shape, false).table);
    } else {
      slot->table = augmented(s);
    }
    slot->parquet = work_dir() / (std::string(s.name) + (speed ? "_speed.parquet" : "_tracks.parquet"));
    mosaic::write_parquet(slot->table, slot->parquet);
  }
  return *slot;
}

// Args: feature index, shape index.
void BM_Apply(benchmark::State& state) {
  const FeatureCase& fc = kFeatures[state.range(0)];
  const Input& in = input(static_cast<int>(state.range(1)), fc.speed_input);
  auto feature = build(fc);
  int64_t rows = 0;
  std::size_t out_rows = 0;
  for (auto _ : state) {
    Table out = feature->apply(in.table);
    out_rows = out.num_rows();
    benchmark::DoNotOptimize(out);
    rows += static_cast<int64_t>(in.table.num_rows());
  }
  state.SetItemsProcessed(rows);
  state.SetLabel(std::string(fc.name) + "/" + kShapes[state.range(1)].name);
  state.counters["out_rows"] = static_cast<double>(out_rows);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

// The same input read and the same output written, without compute.
void BM_IoFloor(benchmark::State& state) {
  const FeatureCase& fc = kFeatures[state.range(0)];
  const Input& in = input(static_cast<int>(state.range(1)), fc.speed_input);
  const Table out = build(fc)->apply(in.table);
  const fs::path out_path = work_dir() / (std::string(fc.name) + "_out.parquet");
  int64_t rows = 0;
  for (auto _ : state) {
    Table t = mosaic::read_parquet(in.parquet);
    benchmark::DoNotOptimize(t);
    mosaic::write_parquet(out, out_path);
    rows += static_cast<int64_t>(in.table.num_rows());
  }
  state.SetItemsProcessed(rows);
  state.SetLabel(std::string(fc.name) + "/" + kShapes[state.range(1)].name);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

void feature_args(benchmark::internal::Benchmark* b) {
  for (int s = 0; s < 2; ++s)
    for (int f = 0; f < 5; ++f) b->Args({f, s});
}

BENCHMARK(BM_Apply)->Apply(feature_args)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_IoFloor)->Apply(feature_args)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
