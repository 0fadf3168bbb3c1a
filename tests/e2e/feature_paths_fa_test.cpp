// Path equivalence (STYLE.md §4, issue 5) for trajectory-smooth, nearest-neighbor,
// orientation-rel, id-tag-columns, movement-smooth and movement-filter-interpolate:
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
#include "mosaic/npz.hpp"
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
  bool body_scale = false;  // needs a body-scale run (orientation-rel's default `scale`)
  bool labels = false;      // needs labels/id_tags
  bool split_invariant = true;
};

std::ostream& operator<<(std::ostream& os, const PathCase& c) { return os << c.feature << " " << c.params.dump(); }

constexpr int64_t kFrames = 1200;
constexpr int64_t kPart = 400;

// One 4-animal recording; a few one-frame jumps (two of them around a part boundary) give
// trajectory-smooth bad frames to repair.
Table recording() {
  SimulationOptions o;
  o.animals = 4;
  o.frames = kFrames;
  o.seed = 21;
  o.absent_stretches = false;
  Table t = simulate_sequence(o, 0);
  Column x = t.column("X");
  std::vector<double> v(x.f64().begin(), x.f64().end());
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    const int64_t f = t.column("frame").as_int64(r), id = t.column("id").as_int64(r);
    if ((id == 1 && (f == 150 || f == 398 || f == 401)) || (id == 2 && f == 777)) v[r] += 250;
  }
  t.set_column("X", Column::from_float64(std::move(v)));
  return t;
}

void write_labels(const Dataset& ds, const std::vector<std::pair<std::string, std::string>>& entries) {
  fs::path dir = ds.root("labels") / "id_tags";
  make_dirs(dir);
  std::ostringstream idx;
  idx << "group,sequence,abs_path\n";
  for (const auto& [g, s] : entries) {
    fs::path f = dir / (g + "__" + s + ".npz");
    write_npz(f, {{"ids", NpyArray::from_int64({4}, {0, 1, 2, 3})},
                  {"Focal_fish", NpyArray::from_int64({4}, {1, 0, 1, 0})},
                  {"tag_size", NpyArray::from_int64({4}, {0, 2, 4, 1})}});
    idx << g << "," << s << "," << f.string() << "\n";
  }
  std::ofstream(dir / "index.csv") << idx.str();
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
  if (c.labels) write_labels(ds, entries);
  if (c.body_scale) {
    auto bs = make_feature("body-scale", std::nullopt, Json::object());
    RunOptions o;
    o.log = false;
    run_feature(ds, *bs, o);
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

class FeaturePaths : public ::testing::TestWithParam<PathCase> {};

TEST_P(FeaturePaths, WorkersAndCliGiveTheSameBytes) {
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

TEST_P(FeaturePaths, SplitRecordingWithOverlapEqualsTheWhole) {
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
    PerFrameFeatures, FeaturePaths,
    ::testing::Values(
        // Reach: the filter window (3), bad-frame expansion (2 + 1) and the short repaired runs.
        PathCase{"trajectory-smooth",
                 {{"speed_threshold", 60.0}, {"interpolate_pose", true}, {"savgol_window", 7}},
                 30,
                 {"id", "frame"}},
        PathCase{"nearest-neighbor", Json::object(), 0, {"frame", "id"}},
        // The default `scale` is a per-sequence mean, which a split changes by design; the
        // per-pair local scale (no body-scale run) is what is split-invariant.
        PathCase{"orientation-rel", {{"scale", {{"feature", ""}}}}, 0, {"frame", "id_a", "id_b"}},
        // A body-scale run is stored as body-scale__from__tracks (the `scale` default, "body-scale",
        // names no storage, in the reference too), pinned to its latest run when run_id is null.
        PathCase{"orientation-rel",
                 {{"scale", {{"feature", "body-scale__from__tracks"}}}},
                 0,
                 {"frame", "id_a", "id_b"},
                 true,
                 false,
                 false},
        PathCase{"id-tag-columns", Json::object(), 0, {"frame", "id"}, false, true},
        PathCase{"movement-smooth", Json::object(), 5, {"frame", "id"}},
        PathCase{"movement-smooth", {{"method", "rolling"}, {"window", 4}, {"statistic", "mean"}}, 5, {"frame", "id"}},
        PathCase{"movement-filter-interpolate", {{"max_gap", 5}}, 10, {"frame", "id"}}),
    [](const ::testing::TestParamInfo<PathCase>& info) {
      std::string s = info.param.feature + "_" + std::to_string(info.index);
      for (auto& ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return s;
    });

}  // namespace
}  // namespace mosaic
