// trajectory-smooth (features.md §2.8): bad-frame detection and expansion, interpolation with edge
// fills, the Savitzky-Golay step and its NaN handling (our "+cpp.1" fix), output layout, and the
// edge cases of issue 5.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "common/feature_check.hpp"
#include "features/kernels/signal.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/run_feature.hpp"
#include "mosaic/feature.hpp"
#include "common/test_util.hpp"

namespace mosaic {
namespace {

using testing::apply_feature;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Table one_id(std::vector<double> x, std::vector<double> y = {}) {
  const std::size_t n = x.size();
  if (y.empty()) y.assign(n, 0.0);
  std::vector<int64_t> frame(n);
  for (std::size_t r = 0; r < n; ++r) frame[r] = static_cast<int64_t>(r);
  Table t;
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("id", Column::constant_int64(4, n));
  t.add_column("X", Column::from_float64(std::move(x)));
  t.add_column("Y", Column::from_float64(std::move(y)));
  return t;
}

std::vector<double> col(const Table& t, const char* name) {
  Column c = t.column(name).cast(DType::kFloat64);
  return {c.f64().begin(), c.f64().end()};
}

TEST(TrajectorySmooth, BadFramesAreDetectedExpandedAndInterpolated) {
  Table t = one_id({0, 1, 2, 100, 4, 5, 6, 7});
  // Speed 98 at frame 3 and 96 at frame 4 exceed 10 units/frame.
  Table a = apply_feature("trajectory-smooth", {{"speed_threshold", 10.0}, {"expand_frames", 0}}, t);
  EXPECT_EQ(col(a, "bad_frame"), (std::vector<double>{0, 0, 0, 1, 1, 0, 0, 0}));
  EXPECT_EQ(col(a, "X"), (std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7}));
  // Expanded by one frame: 2..5 are bad and re-interpolated between frames 1 and 6.
  Table b = apply_feature("trajectory-smooth", {{"speed_threshold", 10.0}, {"expand_frames", 1}}, t);
  EXPECT_EQ(col(b, "bad_frame"), (std::vector<double>{0, 0, 1, 1, 1, 1, 0, 0}));
  EXPECT_EQ(col(b, "X"), (std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7}));
  // fps converts units/s to units/frame: 300 / 30 = 10.
  Table c = apply_feature("trajectory-smooth", {{"speed_threshold", 300.0}, {"fps", 30.0}, {"expand_frames", 0}}, t);
  EXPECT_EQ(col(c, "bad_frame"), col(a, "bad_frame"));
  EXPECT_EQ(c.column("bad_frame").type(), DType::kBool);
}

TEST(TrajectorySmooth, EdgesAreFilledWithTheNearestValue) {
  Table t = one_id({kNaN, 50, 1, 2, kNaN, 3, kNaN});
  // Frame 2's speed is 49 (frame 1's is NaN: its predecessor is missing); expanded by one frame,
  // frames 1..3 are bad.
  Table out = apply_feature("trajectory-smooth", {{"speed_threshold", 10.0}, {"expand_frames", 1}}, t);
  EXPECT_EQ(col(out, "bad_frame"), (std::vector<double>{0, 1, 1, 1, 0, 0, 0}));
  // Leading bad/NaN frames take the first valid value (3 at frame 5 after the gap), the internal
  // gap is linear, trailing NaN takes the last value.
  EXPECT_EQ(col(out, "X"), (std::vector<double>{3, 3, 3, 3, 3, 3, 3}));
  Table u = apply_feature("trajectory-smooth", Json::object(), one_id({kNaN, 1, kNaN, kNaN, 4, kNaN}));
  EXPECT_EQ(col(u, "X"), (std::vector<double>{1, 1, 2, 3, 4, 4}));
  EXPECT_EQ(col(u, "bad_frame"), (std::vector<double>{0, 0, 0, 0, 0, 0}));
}

TEST(TrajectorySmooth, NoCentroidInterpolationKeepsGaps) {
  Table out = apply_feature("trajectory-smooth", {{"interpolate_centroid", false}}, one_id({kNaN, 1, kNaN, 3}));
  auto x = col(out, "X");
  EXPECT_TRUE(std::isnan(x[0]) && std::isnan(x[2]));
}

TEST(TrajectorySmooth, SavgolMatchesScipyOnCleanData) {
  std::vector<double> x(20);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.3 * static_cast<double>(i)) * 10 + static_cast<double>(i % 3);
  Table out = apply_feature("trajectory-smooth", {{"savgol_window", 7}, {"savgol_polyorder", 2}}, one_id(x));
  std::vector<double> want(x.size());
  kernels::savgol_filter(x, 7, 2, want);
  EXPECT_EQ(col(out, "X"), want);
  // Too short an id is left unsmoothed.
  Table short_id = apply_feature("trajectory-smooth", {{"savgol_window", 7}}, one_id({1, 5, 2}));
  EXPECT_EQ(col(short_id, "X"), (std::vector<double>{1, 5, 2}));
}

TEST(TrajectorySmooth, SavgolInterpolatesOverMissingKeypointsInsteadOfZeros) {
  // A keypoint far from the origin with a two-frame gap, not interpolated (interpolate_pose false).
  std::vector<double> px = {500, 501, 502, kNaN, kNaN, 505, 506, 507, 508, 509};
  Table t = one_id(std::vector<double>(10, 1.0));
  t.add_column("poseX0", Column::from_float64(px));
  t.add_column("poseY0", Column::constant_float64(7.0, 10));
  Table out = apply_feature("trajectory-smooth", {{"savgol_window", 5}, {"savgol_polyorder", 2}}, t);
  auto got = col(out, "poseX0");
  EXPECT_TRUE(std::isnan(got[3]) && std::isnan(got[4]));
  // A straight line is kept by a degree-2 filter once the gap is bridged; zero-filling (the
  // reference) would pull frames 1-6 toward 0.
  for (std::size_t i : {0u, 1u, 2u, 5u, 6u, 9u}) EXPECT_NEAR(got[i], px[i], 1e-9) << i;
}

TEST(TrajectorySmooth, OutputLayoutInfinitiesAndErrors) {
  Table t = testing::simulated_tracks(3, 40);
  std::vector<double> p(t.num_rows(), 0.5);
  p[5] = std::numeric_limits<double>::infinity();
  t.set_column("poseP0", Column::from_float64(p));
  Table out = apply_feature("trajectory-smooth", Json::object(), t);
  std::vector<std::string> names = t.column_names();
  names.push_back("bad_frame");
  EXPECT_EQ(out.column_names(), names);
  bool saw_nan = false;
  for (double v : out.column("poseP0").f64()) {
    EXPECT_FALSE(std::isinf(v));
    saw_nan |= std::isnan(v);
  }
  EXPECT_TRUE(saw_nan);
  // Per-id blocks, frames ascending inside each.
  auto id = out.column("id").i64();
  auto fr = out.column("frame").i64();
  for (std::size_t r = 1; r < out.num_rows(); ++r) {
    if (id[r] == id[r - 1]) {
      EXPECT_LT(fr[r - 1], fr[r]);
    }
  }
  EXPECT_THROW(make_feature("trajectory-smooth", std::nullopt, {{"savgol_window", 3}, {"savgol_polyorder", 3}}),
               InputError);
  Table no_id = t;
  no_id.drop_column("id");
  EXPECT_THROW(apply_feature("trajectory-smooth", Json::object(), no_id), SchemaError);
  EXPECT_EQ(apply_feature("trajectory-smooth", Json::object(), Table()).num_columns(), 0u);
}

// Each id is processed on its own: the whole table equals the per-id runs, whatever the row order,
// with absent rows, an all-NaN animal, a single frame and 100 animals.
TEST(TrajectorySmooth, EdgeCasesEqualPerIdProcessing) {
  const Json p = {{"speed_threshold", 6.0}, {"interpolate_pose", true}, {"savgol_window", 5}};
  Table t = testing::simulated_tracks(100, 60);
  // id 3 entirely missing, id 4 absent for frames 10-19.
  testing::set_nan_where(t, "X", [&](std::size_t r) { return t.column("id").as_int64(r) == 3; });
  testing::set_nan_where(t, "Y", [&](std::size_t r) { return t.column("id").as_int64(r) == 3; });
  std::vector<uint8_t> keep(t.num_rows());
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    const int64_t id = t.column("id").as_int64(r), f = t.column("frame").as_int64(r);
    keep[r] = !(id == 4 && f >= 10 && f < 20);
  }
  t = t.filter(keep);
  Table whole = apply_feature("trajectory-smooth", p, testing::shuffled(t));
  for (int64_t id : {0, 3, 4, 99}) {
    Table mine = testing::rows_where(whole, "id", [&](double v) { return v == static_cast<double>(id); });
    Table alone = apply_feature("trajectory-smooth", p, testing::rows_where(t, "id", [&](double v) { return v == static_cast<double>(id); }));
    EXPECT_TRUE(testing::tables_equal_by_keys(mine, alone, {"frame"})) << "id " << id;
  }
  const Table three = testing::rows_where(whole, "id", [](double v) { return v == 3; });
  for (double v : three.column("X").f64()) EXPECT_TRUE(std::isnan(v));
  Table single = apply_feature("trajectory-smooth", p, testing::rows_where(t, "frame", [](double f) { return f == 0; }));
  EXPECT_EQ(single.num_rows(), 100u);
}

}  // namespace
}  // namespace mosaic

namespace mosaic {
namespace {

// docs/cpp_decisions.md C1: speed-angvel runs on trajectory-smooth's cleaned tracks (the demo
// chain) and gives exactly what it gives when applied to that cleaned table directly.
TEST(TrajectorySmooth, SpeedAngvelRunsOnTheCleanedTracks) {
  testing::TempDir tmp;
  Dataset ds = Dataset::create(tmp / "d", {.fps = 30.0});
  Table tracks = testing::simulated_tracks(3, 400);
  ds.write_tracks("g", "s1", tracks, {});
  auto smooth = make_feature("trajectory-smooth", std::nullopt,
                             Json{{"speed_threshold", 400.0}, {"fps", 30.0}, {"savgol_window", 7}});
  RunOptions o;
  o.log = false;
  RunResult rs = run_feature(ds, *smooth, o);
  auto speed = make_feature("speed-angvel", Inputs::of({rs.result}), Json{{"fps", 30.0}, {"step_size", 3}});
  RunResult rv = run_feature(ds, *speed, o);
  EXPECT_EQ(rv.result.feature, "speed-angvel__from__trajectory-smooth__from__tracks");
  Table cleaned = read_parquet(ds.root("features") / rs.result.feature / *rs.result.run_id / "g__s1.parquet");
  Table got = read_parquet(ds.root("features") / rv.result.feature / *rv.result.run_id / "g__s1.parquet");
  Table want = testing::apply_feature("speed-angvel", Json{{"fps", 30.0}, {"step_size", 3}}, cleaned);
  ASSERT_EQ(got.num_rows(), want.num_rows());
  for (const char* c : {"speed", "angvel", "speed_step", "angvel_step"}) {
    auto a = got.column(c).f64(), b = want.column(c).f64();
    for (std::size_t r = 0; r < a.size(); ++r)
      ASSERT_TRUE(a[r] == b[r] || (std::isnan(a[r]) && std::isnan(b[r]))) << c << " row " << r;
  }
  // The cleaned tracks differ from the raw ones somewhere (the threshold and smoothing did work).
  Table raw_speed = testing::apply_feature("speed-angvel", Json{{"fps", 30.0}}, tracks);
  EXPECT_NE(raw_speed.column("speed").f64()[5], got.column("speed").f64()[5]);
}

}  // namespace
}  // namespace mosaic
