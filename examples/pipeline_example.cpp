// pipeline_example: build and run a mosaic pipeline from your own C++ program.
//
//   build/bin/pipeline_example DATASET_DIR
//
// Simulates a small dataset in DATASET_DIR when it has none, then runs a three-step pipeline
// (clean the trajectories, speed on the cleaned tracks, nearest neighbours) and a callback
// that reads the speed results back and prints the mean speed per sequence. A second run of
// the same pipeline finds every step cached; the program checks that and exits non-zero if not,
// which is what the test of this example (ctest -R example) relies on.
#include <cstdio>
#include <filesystem>
#include <map>

#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/pipeline.hpp"
#include "mosaic/simulate.hpp"

namespace fs = std::filesystem;
using mosaic::Json;

namespace {

mosaic::Dataset open_or_simulate(const fs::path& dir) {
  if (fs::exists(dir / "dataset.yaml")) return mosaic::Dataset::open(dir);
  std::printf("simulating a dataset in %s\n", dir.c_str());
  mosaic::SimulationOptions sim{.sequences = 3, .animals = 2, .keypoints = 7, .frames = 3000, .fps = 30.0, .seed = 7};
  mosaic::Dataset ds = mosaic::Dataset::create(dir, {.name = "example", .fps = sim.fps});
  for (int s = 0; s < sim.sequences; ++s)
    ds.write_tracks("", mosaic::simulated_sequence_name(s), mosaic::simulate_sequence(sim, s),
                    {.std_format = "simulated", .sources = {}});
  return ds;
}

// A result's entries are listed in its storage's index.csv; each entry is one Parquet file.
void print_mean_speed(const mosaic::Dataset& ds, const mosaic::Result& speed) {
  fs::path storage = ds.root("features") / speed.feature;
  fs::path run_root = storage / *speed.run_id;
  for (const auto& entry : mosaic::index_entries(storage / "index.csv", *speed.run_id, ds.base_dir(), run_root, true)) {
    mosaic::Table t = mosaic::read_parquet(entry.path, {.columns = {"speed"}});
    double sum = 0;
    std::size_t n = 0;
    for (double v : t.column("speed").f64())
      if (v == v) sum += v, ++n;
    std::printf("  %-8s mean speed %7.2f px/s over %zu frames\n", entry.sequence.c_str(), n ? sum / n : 0.0, n);
  }
}

mosaic::Pipeline build_pipeline() {
  mosaic::StepRunOptions defaults;
  defaults.parallel_workers = 2;
  mosaic::Pipeline p(defaults);
  p.add(mosaic::FeatureStep{"smooth", "trajectory-smooth",
                            Json{{"speed_threshold", 400.0}, {"fps", 30.0}, {"savgol_window", 7}}});
  p.add(mosaic::FeatureStep{"speed", "speed-angvel", Json{{"fps", 30.0}}, {"smooth"}});
  p.add(mosaic::FeatureStep{"nn", "nearest-neighbor", Json::object()});
  p.add(mosaic::CallbackStep{"report",
                             [](const mosaic::Dataset& ds, const mosaic::StepResults& results) {
                               print_mean_speed(ds, results.at("speed"));
                             },
                             {"speed"}});
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DATASET_DIR\n", argv[0]);
    return 2;
  }
  try {
    mosaic::Dataset ds = open_or_simulate(argv[1]);
    mosaic::Pipeline pipeline = build_pipeline();

    std::printf("first run:\n");
    pipeline.run(ds);

    std::printf("second run (everything cached):\n");
    pipeline.run(ds);
    int not_cached = 0;
    for (const auto& st : pipeline.status(ds)) {
      if (st.is_callback) continue;
      std::printf("  %-7s %-18s %s %s\n", st.step.c_str(), st.feature.c_str(), st.expected_run_id.c_str(),
                  st.cached ? "cached" : "NOT cached");
      not_cached += !st.cached;
    }
    return not_cached == 0 ? 0 : 1;
  } catch (const mosaic::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
