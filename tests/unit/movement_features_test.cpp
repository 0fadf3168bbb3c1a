// movement-smooth and movement-filter-interpolate (features.md §2.19, movement 0.16 semantics,
// DECISIONS F10): hand-computed expectations, the keypoint/confidence mapping past 10 keypoints,
// write-back, errors and the edge cases of issue 5.
#include <gtest/gtest.h>

#include <cmath>
#include <fmt/format.h>
#include <limits>

#include "common/feature_check.hpp"
#include "features/kernels/movement.hpp"
#include "features/kernels/signal.hpp"
#include "mosaic/errors.hpp"

namespace mosaic {
namespace {

using testing::apply_feature;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Table series_table(std::vector<double> x, std::vector<double> y = {}) {
  const std::size_t n = x.size();
  if (y.empty()) y.assign(n, 0.0);
  std::vector<int64_t> frame(n);
  for (std::size_t r = 0; r < n; ++r) frame[r] = static_cast<int64_t>(r);
  Table t;
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("id", Column::constant_int64(0, n));
  t.add_column("X", Column::from_float64(std::move(x)));
  t.add_column("Y", Column::from_float64(std::move(y)));
  return t;
}

std::vector<double> col(const Table& t, const char* name) {
  Column c = t.column(name).cast(DType::kFloat64);
  return {c.f64().begin(), c.f64().end()};
}

bool same(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!((std::isnan(a[i]) && std::isnan(b[i])) || a[i] == b[i])) return false;
  return true;
}

TEST(MovementSmooth, RollingMedianByHand) {
  // Reflect-padded: 5 | 1 5 2 8 3 | 8; centred medians of 3.
  Table out = apply_feature("movement-smooth", {{"method", "rolling"}, {"window", 3}}, series_table({1, 5, 2, 8, 3}));
  EXPECT_EQ(col(out, "X"), (std::vector<double>{5, 2, 5, 3, 8}));
  // Mean with a NaN: min_periods decides.
  Table t = series_table({1, kNaN, 3, 4, 5});
  EXPECT_TRUE(same(col(apply_feature("movement-smooth", {{"method", "rolling"}, {"window", 3}, {"statistic", "mean"}}, t), "X"),
                   {kNaN, kNaN, kNaN, 4, static_cast<float>(13.0 / 3)}));  // right pad reflects x[3] = 4
  // Frame 0's window is [NaN, 1, NaN] (reflected), so min_periods 2 leaves it NaN.
  EXPECT_TRUE(same(col(apply_feature("movement-smooth",
                                     {{"method", "rolling"}, {"window", 3}, {"statistic", "mean"}, {"min_periods", 2}}, t),
                       "X"),
                   {kNaN, 2, 3.5, 4, static_cast<float>(13.0 / 3)}));
  EXPECT_TRUE(same(col(apply_feature("movement-smooth", {{"method", "rolling"}, {"window", 2}, {"statistic", "max"}},
                                     series_table({1, 5, 2, 8})),
                       "X"),
                   {5, 5, 5, 8}));  // window [t-1, t], reflect pad: 5 | 1 5 2 8 | 2
}

TEST(MovementSmooth, SavgolNearestByHandAndFloat32Output) {
  // window 3, polyorder 1: a centred mean of 3 with the edge sample repeated.
  Table out = apply_feature("movement-smooth", {{"window", 3}, {"polyorder", 1}}, series_table({0.1, 3, 6, 30}));
  std::vector<double> got = col(out, "X");
  const std::vector<double> want = {(0.1f + 0.1f + 3.0) / 3, (0.1f + 3.0 + 6) / 3, (3.0 + 6 + 30) / 3, (6.0 + 30 + 30) / 3};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-6) << i;
    EXPECT_EQ(got[i], static_cast<double>(static_cast<float>(got[i])));  // movement works in float32
  }
  EXPECT_EQ(out.column("X").type(), DType::kFloat64);
  // The defaults (window 5, polyorder 2) keep a parabola away from the edges.
  std::vector<double> p(10);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<double>(i * i);
  auto sm = col(apply_feature("movement-smooth", Json::object(), series_table(p)), "X");
  for (std::size_t i = 2; i < 8; ++i) EXPECT_NEAR(sm[i], p[i], 1e-4) << i;
}

TEST(MovementSmooth, CentroidCanBeLeftAlone) {
  Table t = series_table({1, 5, 2, 8, 3});
  t.add_column("poseX0", Column::from_float64({1, 5, 2, 8, 3}));
  t.add_column("poseY0", Column::from_float64({0, 0, 0, 0, 0}));
  Table out = apply_feature("movement-smooth", {{"method", "rolling"}, {"window", 3}, {"include_centroid", false}}, t);
  EXPECT_EQ(col(out, "X"), (std::vector<double>{1, 5, 2, 8, 3}));
  EXPECT_EQ(col(out, "poseX0"), (std::vector<double>{5, 2, 5, 3, 8}));
}

TEST(MovementSmooth, ParameterAndDataErrors) {
  EXPECT_THROW(make_feature("movement-smooth", std::nullopt, {{"method", "rolling"}, {"window", 1}}), InputError);
  EXPECT_THROW(make_feature("movement-smooth", std::nullopt, {{"method", "rolling"}, {"min_periods", 0}}), InputError);
  EXPECT_THROW(make_feature("movement-smooth", std::nullopt, {{"window", 3}, {"polyorder", 3}}), InputError);
  EXPECT_THROW(make_feature("movement-smooth", std::nullopt, {{"savgol_mode", "reflect"}}), InputError);
  EXPECT_THROW(make_feature("movement-smooth", std::nullopt, {{"method", "median"}}), InputError);
  // interp mode: the window must fit and the edge windows must be complete.
  EXPECT_THROW(apply_feature("movement-smooth", {{"savgol_mode", "interp"}}, series_table({1, 2, 3})), InputError);
  EXPECT_THROW(apply_feature("movement-smooth", {{"savgol_mode", "interp"}, {"window", 3}},
                             series_table({1, kNaN, 3, 4, 5, 6})),
               InputError);
  auto ok = col(apply_feature("movement-smooth", {{"savgol_mode", "interp"}, {"window", 3}, {"polyorder", 1}},
                              series_table({1, 2, 3, 4, 5, 6})),
                "X");
  for (std::size_t i = 0; i < 6; ++i) EXPECT_NEAR(ok[i], i + 1.0, 1e-5);
  Table t = series_table({1, 2});
  t.add_column("poseX0", Column::from_float64({1, 2}));
  t.add_column("poseY0", Column::from_float64({1, 2}));
  EXPECT_THROW(apply_feature("movement-smooth", {{"keypoint_names", {"a", "b"}}}, t), InputError);
  EXPECT_THROW(apply_feature("movement-smooth", {{"keypoint_names", {"centroid"}}}, t), InputError);
  Table no_kp = series_table({1, 2});
  EXPECT_THROW(apply_feature("movement-smooth", {{"include_centroid", false}}, no_kp), SchemaError);
  no_kp.drop_column("frame");
  EXPECT_THROW(apply_feature("movement-smooth", Json::object(), no_kp), SchemaError);
}

TEST(MovementFilterInterpolate, ConfidenceFilterThenLinearGaps) {
  Table t = series_table({0, 1, 2, 3, 4, 5});
  t.add_column("poseX0", Column::from_float64({10, 11, 99, 99, 14, 15}));
  t.add_column("poseY0", Column::from_float64({0, 0, 0, 0, 0, 0}));
  t.add_column("poseP0", Column::from_float64({0.9, 0.9, 0.2, kNaN, 0.6, 0.9}));
  Table out = apply_feature("movement-filter-interpolate", Json::object(), t);
  // 0.2 and NaN confidence are dropped (movement 0.16), then the gap is interpolated; 0.6 passes
  // (compared as float32 with 0.6f).
  EXPECT_EQ(col(out, "poseX0"), (std::vector<double>{10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(col(out, "X"), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  // poseP comes back as float32 values; NaN stays NaN.
  auto p = col(out, "poseP0");
  EXPECT_EQ(p[0], static_cast<double>(0.9f));
  EXPECT_TRUE(std::isnan(p[3]));
  // max_gap 1 leaves the 2-frame gap open; leading/trailing gaps are never filled.
  Table g = apply_feature("movement-filter-interpolate", {{"max_gap", 1}}, t);
  EXPECT_TRUE(same(col(g, "poseX0"), {10, 11, kNaN, kNaN, 14, 15}));
  Table edge = series_table({kNaN, 1, kNaN, 3, kNaN});
  EXPECT_TRUE(same(col(apply_feature("movement-filter-interpolate", Json::object(), edge), "X"), {kNaN, 1, 2, 3, kNaN}));
  EXPECT_THROW(make_feature("movement-filter-interpolate", std::nullopt, {{"interpolation_method", "cubic"}}), InputError);
}

TEST(MovementFilterInterpolate, ConfidenceColumnsFollowKeypointIndexF10) {
  // 11 keypoints: lexicographic pair order is 0, 1, 10, 2, ...; poseX10 must use poseP10.
  Table t = series_table({0, 1, 2});
  for (int k = 0; k <= 10; ++k) {
    t.add_column(fmt::format("poseX{}", k), Column::from_float64({100.0 + k, 7.0, 100.0 + k}));
    t.add_column(fmt::format("poseY{}", k), Column::from_float64({0, 0, 0}));
    const double p = k == 10 ? 0.1 : 0.9;  // keypoint 10 is unreliable at frame 1
    t.add_column(fmt::format("poseP{}", k), Column::from_float64({0.9, p, 0.9}));
  }
  Table out = apply_feature("movement-filter-interpolate", Json::object(), t);
  EXPECT_EQ(col(out, "poseX10")[1], 110.0);  // dropped and re-interpolated
  // poseX9 is the 11th pair in lexicographic order: the reference gave it poseP10 and dropped it.
  EXPECT_EQ(col(out, "poseX9")[1], 7.0);
  EXPECT_EQ(col(out, "poseX2")[1], 7.0);
  EXPECT_EQ(col(out, "poseP10")[1], static_cast<double>(0.1f));
}

TEST(MovementFilterInterpolate, NoConfidenceColumnsOnlyInterpolates) {
  Table t = series_table({0, kNaN, 2});
  t.add_column("poseX0", Column::from_float64({5, kNaN, 7}));
  t.add_column("poseY0", Column::from_float64({0, 0, 0}));
  Table out = apply_feature("movement-filter-interpolate", {{"confidence_threshold", 2.0}}, t);
  EXPECT_EQ(col(out, "poseX0"), (std::vector<double>{5, 6, 7}));
  EXPECT_EQ(col(out, "X"), (std::vector<double>{0, 1, 2}));
}

// Edge cases: rows and order kept, absent rows (the frame axis is shared by all animals), an
// all-NaN animal, one frame, unsorted input, 100 animals (each animal on its own gives the same).
TEST(MovementFeatures, EdgeCases) {
  for (const char* name : {"movement-smooth", "movement-filter-interpolate"}) {
    for (const Json& p : {Json::object(), Json{{"method", "rolling"}, {"min_periods", 1}}}) {
      if (std::string(name) == "movement-filter-interpolate" && p.contains("method")) continue;
      Table t = testing::simulated_tracks(100, 40);
      testing::set_nan_where(t, "X", [&](std::size_t r) { return t.column("id").as_int64(r) == 5; });
      Table out = apply_feature(name, p, t);
      ASSERT_EQ(out.column_names(), t.column_names());
      ASSERT_EQ(out.num_rows(), t.num_rows());
      EXPECT_TRUE(testing::tables_equal_by_keys(out.select({"frame", "id", "time"}), t.select({"frame", "id", "time"}), {}));
      for (int64_t id : {0, 5, 99}) {
        Table alone = apply_feature(name, p, testing::rows_where(t, "id", [&](double v) { return v == static_cast<double>(id); }));
        Table mine = testing::rows_where(out, "id", [&](double v) { return v == static_cast<double>(id); });
        EXPECT_TRUE(testing::tables_equal_by_keys(mine, alone, {"frame"})) << name << " id " << id;
      }
      const Table five = testing::rows_where(out, "id", [](double v) { return v == 5; });
      for (double v : five.column("X").f64()) EXPECT_TRUE(std::isnan(v));
      Table shuffled = apply_feature(name, p, testing::shuffled(t));
      EXPECT_TRUE(testing::tables_equal_by_keys(out, shuffled, {"frame", "id"})) << name;
      Table one_frame = apply_feature(name, p, testing::rows_where(t, "frame", [](double f) { return f == 3; }));
      EXPECT_EQ(one_frame.num_rows(), 100u);
      Table one = apply_feature(name, p, testing::simulated_tracks(1, 30));
      EXPECT_EQ(one.num_rows(), 30u);
    }
  }
  // Absent rows: animal 1 has no rows for frames 5-9; those frames stay NaN in its series (so the
  // rolling window sees them as missing) and get no rows back.
  Table t = testing::simulated_tracks(2, 20);
  std::vector<uint8_t> keep(t.num_rows());
  for (std::size_t r = 0; r < t.num_rows(); ++r)
    keep[r] = !(t.column("id").as_int64(r) == 1 && t.column("frame").as_int64(r) >= 5 && t.column("frame").as_int64(r) < 10);
  Table gap = t.filter(keep);
  Table out = apply_feature("movement-smooth", {{"method", "rolling"}, {"window", 3}}, gap);
  EXPECT_EQ(out.num_rows(), gap.num_rows());
  Table a1 = testing::rows_where(out, "id", [](double v) { return v == 1; });
  for (std::size_t r = 0; r < a1.num_rows(); ++r) {
    const int64_t f = a1.column("frame").as_int64(r);
    if (f == 4 || f == 10) {
      EXPECT_TRUE(std::isnan(a1.column("X").f64()[r])) << f;
    }
  }
}

}  // namespace
}  // namespace mosaic
