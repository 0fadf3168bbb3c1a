// Path equivalence (STYLE.md §4, issue 5) for the pair features pair-egocentric, pair-position,
// approach-avoidance and pair-interaction-filter:
//  - 1 worker vs 2 workers: the same output bytes;
//  - the library vs the `mosaic run-feature` CLI: the same output bytes;
//  - one recording split into consecutive sequences of a group (global frame numbers), run with
//    --overlap at least the feature's temporal reach, gives the values of the unsplit recording.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <sstream>

#include "common/feature_check.hpp"
#include "common/test_util.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/files.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/run_feature.hpp"
#include "mosaic/simulate.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;

struct PathCase {
  std::string feature;
  Json params;
  int64_t overlap;        // >= the feature's temporal reach
  std::vector<std::string> keys;
  bool split_invariant = true;
};

std::ostream& operator<<(std::ostream& os, const PathCase& c) { return os << c.feature << " " << c.params.dump(); }

constexpr int64_t kFrames = 1200;
constexpr int64_t kPart = 400;

// One 4-animal recording with 1% missing keypoints; animal 2 is absent (no rows) for frames
// 380..419, across the first part boundary, so pairs with it have a hole in their joined frames.
Table recording() {
  SimulationOptions o;
  o.animals = 4;
  o.frames = kFrames;
  o.seed = 21;
  o.absent_stretches = false;
  Table t = simulate_sequence(o, 0);
  std::vector<uint8_t> keep(t.num_rows(), 1);
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    const int64_t f = t.column("frame").as_int64(r), id = t.column("id").as_int64(r);
    if (id == 2 && f >= 380 && f < 420) keep[r] = 0;
  }
  return t.filter(keep);
}

// A dataset holding the recording whole ("rec"/"whole") or in three consecutive parts.
Dataset make_dataset(const fs::path& dir, bool split, const PathCase& c) {
  Dataset ds = Dataset::create(dir, {.name = "paths", .fps = 30.0});
  Table rec = recording();
  std::vector<std::pair<std::string, std::string>> entries;
  if (split) {
    for (int64_t p = 0; p < kFrames / kPart; ++p) {
      Table part = testing::rows_where(rec, "frame", [&](double f) { return f >= p * kPart && f < (p + 1) * kPart; });
      std::string seq = fmt::format("part{}", p + 1);
      ds.write_tracks("rec", seq, part, {.std_format = "simulated"});
      entries.emplace_back("rec", seq);
    }
  } else {
    ds.write_tracks("rec", "whole", rec, {.std_format = "simulated"});
    entries.emplace_back("rec", "whole");
  }
  return ds;
}

std::map<std::string, std::string> output_bytes(const fs::path& run_root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(run_root))
    if (e.path().extension() == ".parquet") out[e.path().filename().string()] = read_file_text(e.path());
  return out;
}

RunResult run(const Dataset& ds, const PathCase& c, int workers, int64_t overlap, bool overwrite) {
  auto f = make_feature(c.feature, std::nullopt, c.params);
  RunOptions o;
  o.parallel_workers = workers;
  o.overlap_frames = overlap;
  o.overwrite = overwrite;
  o.log = false;
  RunResult r = run_feature(ds, *f, o);
  EXPECT_TRUE(r.failures.empty()) << (r.failures.empty() ? "" : r.failures[0].message);
  return r;
}

Table read_outputs(const Dataset& ds, const RunResult& r) {
  fs::path root = ds.root("features") / r.result.feature / *r.result.run_id;
  std::vector<Table> parts;
  for (const auto& [name, bytes] : output_bytes(root)) {
    Table t = read_parquet(root / name);
    t.drop_column("group");
    t.drop_column("sequence");
    if (t.num_rows() > 0) parts.push_back(t);
  }
  return Table::concat(parts);
}

class PairFeaturePaths : public ::testing::TestWithParam<PathCase> {};

TEST_P(PairFeaturePaths, WorkersAndCliGiveTheSameBytes) {
  const PathCase& c = GetParam();
  testing::TempDir tmp;
  Dataset ds = make_dataset(tmp / "lib", true, c);
  fs::copy(tmp / "lib", tmp / "cli", fs::copy_options::recursive);
  RunResult one = run(ds, c, 1, 0, false);
  fs::path root = ds.root("features") / one.result.feature / *one.result.run_id;
  auto bytes1 = output_bytes(root);
  ASSERT_EQ(bytes1.size(), 3u);
  RunResult two = run(ds, c, 2, 0, true);
  EXPECT_EQ(*two.result.run_id, *one.result.run_id);
  EXPECT_TRUE(output_bytes(root) == bytes1) << "1 vs 2 workers";

  auto cmd = testing::run_mosaic(fmt::format("run-feature '{}' {} --params '{}' -j 2 --quiet", (tmp / "cli").string(),
                                             c.feature, c.params.dump()));
  ASSERT_EQ(cmd.exit_code, 0) << cmd.err << cmd.out;
  fs::path cli_root = tmp / "cli" / fs::relative(root, tmp / "lib");
  ASSERT_TRUE(fs::exists(cli_root)) << cli_root << "\n" << cmd.out << cmd.err;
  EXPECT_TRUE(output_bytes(cli_root) == bytes1) << "library vs CLI";
}

TEST_P(PairFeaturePaths, SplitRecordingWithOverlapEqualsTheWhole) {
  const PathCase& c = GetParam();
  if (!c.split_invariant) GTEST_SKIP() << "depends on a per-sequence statistic by design";
  testing::TempDir tmp;
  Dataset whole = make_dataset(tmp / "whole", false, c);
  Dataset split = make_dataset(tmp / "split", true, c);
  Table a = read_outputs(whole, run(whole, c, 1, 0, false));
  Table b = read_outputs(split, run(split, c, 2, c.overlap, false));
  ASSERT_GT(a.num_rows(), 0u);
  EXPECT_TRUE(testing::tables_equal_by_keys(b, a, c.keys));
}

INSTANTIATE_TEST_SUITE_P(
    PairFeatures, PairFeaturePaths,
    ::testing::Values(
        // Reach: the cleaning (isolated missing keypoints are filled from their neighbours; rows
        // are dropped by their own NaNs), numpy.gradient and the local unwrap (1 joined frame), and
        // the hole of animal 2 across the part boundary (40 frames): 60 frames cover it all.
        PathCase{"pair-egocentric", Json::object(), 60, {"frame", "id1", "id2"}},
        PathCase{"pair-egocentric", {{"sampling", {{"smooth_win", 5}}}, {"center_mode", "3"}}, 60, {"frame", "id1", "id2"}},
        PathCase{"pair-position", Json::object(), 60, {"id1", "id2", "perspective", "frame"}},
        PathCase{"pair-position", {{"sampling", {{"smooth_win", 5}}}}, 60, {"id1", "id2", "perspective", "frame"}},
        // + the continuity window (10 frames) and the sliding mean (0.5 s = 15 frames)
        PathCase{"approach-avoidance", Json::object(), 60, {"id1", "id2", "frame"}},
        PathCase{"approach-avoidance", {{"smooth_window_sec", 0.5}, {"orientation_gate_cos", nullptr}}, 60, {"id1", "id2", "frame"}},
        // interaction_id counts the segments of a pair from the start of the input, and
        // interaction_start / _end are the frames where a run starts and ends, however far: a
        // split changes them by design (no bounded temporal reach).
        PathCase{"pair-interaction-filter",
                 {{"max_dist", 150.0}, {"require_facing", false}, {"min_run_frames", 20}, {"morphological_structure_size", 5},
                  {"frame_padding", 3}},
                 0,
                 {},
                 false}),
    [](const ::testing::TestParamInfo<PathCase>& info) {
      std::string s = info.param.feature + "_" + std::to_string(info.index);
      for (auto& ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return s;
    });

}  // namespace
}  // namespace mosaic
