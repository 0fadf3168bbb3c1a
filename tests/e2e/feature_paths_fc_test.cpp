// Path equivalence (STYLE.md §4, issue 5) for ffgroups, ffgroups-metrics, nn-delta-response,
// nn-delta-bins and temporal-stack:
//  - 1 worker vs 2 workers: the same output bytes;
//  - the library vs the `mosaic run-feature` CLI: the same output bytes;
//  - one recording split into consecutive sequences of a group (global frame numbers), run with
//    overlap >= the feature's temporal reach, gives the values of the unsplit recording. The two
//    summary features (ffgroups-metrics, nn-delta-bins) summarise a sequence by definition, and
//    ffgroups' event ids are numbered per sequence, so those are excluded from that check.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <map>

#include "common/test_util.hpp"
#include "features/kernels/signal.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/files.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/run_feature.hpp"
#include "mosaic/simulate.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kFrames = 900;
constexpr int64_t kPart = 300;
constexpr int kAnimals = 5;

struct PathCase {
  std::string feature;
  Json params;
  int64_t overlap;                  // >= the feature's temporal reach
  std::vector<std::string> keys;    // for comparing split vs whole
  std::vector<std::string> ignore;  // columns scoped to a sequence by design
  bool split_invariant = true;
  bool upstream_speed = false;      // input = a speed-angvel run instead of tracks
};

std::ostream& operator<<(std::ostream& os, const PathCase& c) { return os << c.feature << " " << c.params.dump(); }

// One recording with the columns the nearest-neighbour features expect in their tracks: speed,
// nn_id + offsets (brute force per frame), Focal_fish, and group_size/event (ffgroups on the whole
// recording), plus the nn-delta-response columns nn-delta-bins bins.
Table recording() {
  SimulationOptions o;
  o.animals = kAnimals;
  o.frames = kFrames;
  o.seed = 17;
  o.arena = 600;
  Table t = simulate_sequence(o, 0);
  const std::size_t n = t.num_rows();
  auto x = t.column("X").f64(), y = t.column("Y").f64(), a = t.column("ANGLE").f64();
  std::vector<double> speed(n, kNaN), nn(n, kNaN), dx(n, kNaN), dy(n, kNaN), ex(n, kNaN), ey(n, kNaN);
  std::vector<int64_t> focal(n);
  for (std::size_t r = 0; r < n; ++r) {
    const auto f = static_cast<std::size_t>(t.column("frame").as_int64(r));
    const auto id = static_cast<std::size_t>(t.column("id").as_int64(r));
    focal[r] = static_cast<int64_t>(id % 2);
    if (f > 0) speed[r] = std::hypot(x[r] - x[r - kAnimals], y[r] - y[r - kAnimals]);
    double best = INFINITY;
    for (std::size_t k = 0; k < static_cast<std::size_t>(kAnimals); ++k) {
      const std::size_t s = f * kAnimals + k;
      const double d = std::hypot(x[s] - x[r], y[s] - y[r]);
      if (k != id && d < best) {
        best = d;
        nn[r] = static_cast<double>(k);
        dx[r] = x[s] - x[r];
        dy[r] = y[s] - y[r];
      }
    }
    const double h = std::isnan(a[r]) ? 0.0 : a[r];
    ex[r] = dx[r] * std::cos(h) + dy[r] * std::sin(h);
    ey[r] = -dx[r] * std::sin(h) + dy[r] * std::cos(h);
  }
  t.add_column("speed", Column::from_float64(speed));
  t.add_column("nn_id", Column::from_float64(nn));
  t.add_column("nn_delta_x", Column::from_float64(dx));
  t.add_column("nn_delta_y", Column::from_float64(dy));
  t.add_column("nn_delta_x_ego", Column::from_float64(ex));
  t.add_column("nn_delta_y_ego", Column::from_float64(ey));
  t.add_column("Focal_fish", Column::from_int64(focal));
  auto groups = make_feature("ffgroups", std::nullopt, {{"distance_cutoff", 120.0}});
  Table g = groups->apply(t);
  t.add_column("group_size", g.shared_column(*g.column_index("group_size")));
  t.add_column("event", g.shared_column(*g.column_index("event")));
  // nn-delta-bins' inputs (scaled into its default +-14 bin range).
  std::vector<double> nbx(n), nby(n), dangle(n), dspeed(n);
  for (std::size_t r = 0; r < n; ++r) {
    nbx[r] = ex[r] / 20.0;
    nby[r] = ey[r] / 20.0;
    dangle[r] = std::sin(static_cast<double>(r));
    dspeed[r] = std::cos(static_cast<double>(r) * 0.7);
  }
  t.add_column("neighbor_x", Column::from_float64(nbx));
  t.add_column("neighbor_y", Column::from_float64(nby));
  t.add_column("dangle", Column::from_float64(dangle));
  t.add_column("dspeed", Column::from_float64(dspeed));
  t.add_column("neighbor_focal", Column::from_float64(std::vector<double>(n, 1.0)));
  return t;
}

Table frames_in(const Table& t, int64_t lo, int64_t hi) {
  std::vector<uint8_t> keep(t.num_rows());
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    const int64_t f = t.column("frame").as_int64(r);
    keep[r] = f >= lo && f < hi;
  }
  return t.filter(keep);
}

RunResult run(const Dataset& ds, const std::string& feature, const Json& params, std::optional<Inputs> inputs,
              int workers, int64_t overlap, bool overwrite) {
  auto f = make_feature(feature, std::move(inputs), params);
  RunOptions o;
  o.parallel_workers = workers;
  o.overlap_frames = overlap;
  o.overwrite = overwrite;
  o.log = false;
  RunResult r = run_feature(ds, *f, o);
  EXPECT_TRUE(r.failures.empty()) << (r.failures.empty() ? "" : r.failures[0].message);
  return r;
}

// A dataset with the recording whole ("rec"/"whole") or in three consecutive parts; with
// `upstream_speed`, also a speed-angvel run (overlap 1 for the parts: its first frame needs the
// previous one) that temporal-stack reads. Returns the inputs to use.
std::optional<Inputs> make_dataset(const fs::path& dir, bool split, const PathCase& c) {
  Dataset ds = Dataset::create(dir, {.name = "paths", .fps = 30.0});
  Table rec = recording();
  if (split) {
    for (int64_t p = 0; p < kFrames / kPart; ++p)
      ds.write_tracks("rec", fmt::format("part{}", p + 1), frames_in(rec, p * kPart, (p + 1) * kPart), {.std_format = "simulated"});
  } else {
    ds.write_tracks("rec", "whole", rec, {.std_format = "simulated"});
  }
  if (!c.upstream_speed) return std::nullopt;
  RunResult up = run(ds, "speed-angvel", {{"fps", 30.0}}, std::nullopt, 1, split ? 1 : 0, false);
  return Inputs::of({Result{up.result.feature, up.result.run_id}});
}

std::map<std::string, std::string> output_bytes(const fs::path& run_root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(run_root))
    if (e.path().extension() == ".parquet") out[e.path().filename().string()] = read_file_text(e.path());
  return out;
}

Table read_outputs(const Dataset& ds, const RunResult& r, const std::vector<std::string>& ignore) {
  fs::path root = ds.root("features") / r.result.feature / *r.result.run_id;
  std::vector<Table> parts;
  for (const auto& [name, bytes] : output_bytes(root)) {
    Table t = read_parquet(root / name);
    for (const char* c : {"group", "sequence"}) t.drop_column(c);
    for (const auto& c : ignore) t.drop_column(c);
    // pandas' dtype rule, kept by nn-delta-response: neighbor_focal is int64 when every
    // neighbour lookup of the sequence hits, float64 otherwise, so a part may differ from the whole.
    if (t.has_column("neighbor_focal")) t.set_column("neighbor_focal", t.column("neighbor_focal").cast(DType::kFloat64));
    if (t.num_rows() > 0) parts.push_back(t);
  }
  return Table::concat(parts);
}

class FeaturePathsFc : public ::testing::TestWithParam<PathCase> {};

TEST_P(FeaturePathsFc, WorkersAndCliGiveTheSameBytes) {
  const PathCase& c = GetParam();
  testing::TempDir tmp;
  auto inputs = make_dataset(tmp / "lib", true, c);
  fs::copy(tmp / "lib", tmp / "cli", fs::copy_options::recursive);
  Dataset ds = Dataset::open(tmp / "lib");
  RunResult one = run(ds, c.feature, c.params, inputs, 1, 0, false);
  fs::path root = ds.root("features") / one.result.feature / *one.result.run_id;
  auto bytes1 = output_bytes(root);
  ASSERT_EQ(bytes1.size(), 3u);
  RunResult two = run(ds, c.feature, c.params, inputs, 2, 0, true);
  EXPECT_EQ(*two.result.run_id, *one.result.run_id);
  EXPECT_TRUE(output_bytes(root) == bytes1) << "1 vs 2 workers";

  std::string input_arg;
  if (inputs) {
    const Result& up = std::get<Result>(inputs->items()[0]);
    input_arg = fmt::format(" --input '{}:{}'", up.feature, *up.run_id);
  }
  auto cmd = testing::run_mosaic(fmt::format("run-feature '{}' {} --params '{}'{} -j 2 --quiet", (tmp / "cli").string(),
                                             c.feature, c.params.dump(), input_arg));
  ASSERT_EQ(cmd.exit_code, 0) << cmd.err << cmd.out;
  fs::path cli_root = tmp / "cli" / fs::relative(root, tmp / "lib");
  ASSERT_TRUE(fs::exists(cli_root)) << cli_root << "\n" << cmd.out << cmd.err;
  EXPECT_TRUE(output_bytes(cli_root) == bytes1) << "library vs CLI";
}

TEST_P(FeaturePathsFc, SplitRecordingWithOverlapEqualsTheWhole) {
  const PathCase& c = GetParam();
  if (!c.split_invariant) GTEST_SKIP() << "a per-sequence summary by definition";
  testing::TempDir tmp;
  auto in_whole = make_dataset(tmp / "whole", false, c);
  auto in_split = make_dataset(tmp / "split", true, c);
  Dataset whole = Dataset::open(tmp / "whole");
  Dataset split = Dataset::open(tmp / "split");
  Table a = read_outputs(whole, run(whole, c.feature, c.params, in_whole, 1, 0, false), c.ignore);
  Table b = read_outputs(split, run(split, c.feature, c.params, in_split, 2, c.overlap, false), c.ignore);
  ASSERT_GT(a.num_rows(), 0u);
  ASSERT_EQ(a.column_names(), b.column_names());
  ASSERT_EQ(a.num_rows(), b.num_rows());
  Table as = a.sort_by(c.keys), bs = b.sort_by(c.keys);
  for (std::size_t col = 0; col < as.num_columns(); ++col)
    EXPECT_TRUE(as.column(col).equals(bs.column(col))) << "column " << as.column_names()[col];
}

INSTANTIATE_TEST_SUITE_P(
    GroupAndStackFeatures, FeaturePathsFc,
    ::testing::Values(
        // Reach: the distance window's half width (window_size 5 -> 2 frames).
        PathCase{"ffgroups", {{"distance_cutoff", 120.0}}, 2, {"frame", "id"}, {"event"}},
        PathCase{"ffgroups-metrics", Json::object(), 0, {}, {}, false},
        PathCase{"ffgroups-metrics", {{"frame_chunk", 100}}, 0, {}, {}, false},
        // Reach: diff_numframes frames ahead.
        PathCase{"nn-delta-response", {{"diff_numframes", 4}}, 4, {"id", "frame"}},
        PathCase{"nn-delta-bins", {{"nbins", 15}}, 0, {}, {}, false},
        // Reach: half + the stack radius (2 + 8) and the pool radius (8 with the defaults).
        PathCase{"temporal-stack",
                 {{"half", 2}, {"skip", 2}, {"sigma_stack", 2.0}, {"pool_stats", {"mean", "std"}}},
                 10,
                 {"id", "frame"},
                 {},
                 true,
                 true}),
    [](const ::testing::TestParamInfo<PathCase>& info) {
      std::string s = info.param.feature + "_" + std::to_string(info.index);
      for (auto& ch : s)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return s;
    });

}  // namespace
}  // namespace mosaic
