// orientation-rel (features.md §2.4): a hand-computed pair in both directions, the body-scale
// lookup, quantile naming, NaN propagation and the edge cases of issue 5.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>

#include "common/feature_check.hpp"
#include "common/test_util.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/parquet.hpp"

namespace mosaic {
namespace {

using testing::apply_feature;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Two animals in one frame, two keypoints each: A = (-1,0),(1,0) heading 0; B = (4,1),(6,1)
// heading pi/2.
Table pair_frame() {
  Table t;
  t.add_column("frame", Column::from_int64({0, 0}));
  t.add_column("id", Column::from_int64({2, 1}));  // unsorted on purpose
  t.add_column("ANGLE", Column::from_float64({std::numbers::pi / 2, 0}));
  t.add_column("poseX0", Column::from_float64({4, -1}));
  t.add_column("poseY0", Column::from_float64({1, 0}));
  t.add_column("poseX1", Column::from_float64({6, 1}));
  t.add_column("poseY1", Column::from_float64({1, 0}));
  t.add_column("group", Column::constant_string("g", 2));
  t.add_column("sequence", Column::constant_string("s", 2));
  return t;
}

double at(const Table& t, const char* c, std::size_t r) { return t.column(c).as_double(r); }

TEST(OrientationRel, HandComputedPairWithLocalScale) {
  Table out = apply_feature("orientation-rel", Json::object(), pair_frame());
  EXPECT_EQ(out.column_names(),
            (std::vector<std::string>{"frame", "id_a", "id_b", "sequence", "group", "dx", "dy", "dtheta", "dist_min",
                                      "dist_median", "dist_max", "dist_q25", "dist_q50", "dist_q75", "x_min",
                                      "x_median", "x_max", "y_min", "y_median", "y_max", "near_0", "near_1",
                                      "near_2"}));
  ASSERT_EQ(out.num_rows(), 2u);
  // Row 0: a=1 -> b=2, scale = median pdist of A = 2; B's points become (2, .5) and (3, .5).
  EXPECT_EQ(out.column("id_a").i64()[0], 1);
  EXPECT_EQ(out.column("id_b").i64()[0], 2);
  EXPECT_EQ(at(out, "dx", 0), 2.5);
  EXPECT_EQ(at(out, "dy", 0), 0.5);
  EXPECT_DOUBLE_EQ(at(out, "dtheta", 0), std::numbers::pi / 2);
  const double a = std::sqrt(4.25), b = std::sqrt(9.25);
  EXPECT_EQ(at(out, "dist_min", 0), a);
  EXPECT_EQ(at(out, "dist_max", 0), b);
  EXPECT_EQ(at(out, "dist_median", 0), (a + b) / 2);
  EXPECT_EQ(at(out, "dist_q25", 0), a + (b - a) * 0.25);
  EXPECT_EQ(at(out, "dist_q50", 0), b - (b - a) * 0.5);
  EXPECT_EQ(at(out, "dist_q75", 0), b - (b - a) * 0.25);
  EXPECT_EQ(at(out, "x_min", 0), 2);
  EXPECT_EQ(at(out, "x_median", 0), 2.5);
  EXPECT_EQ(at(out, "y_max", 0), 0.5);
  EXPECT_EQ(at(out, "near_1", 0), b);
  EXPECT_TRUE(std::isnan(at(out, "near_2", 0)));
  // Row 1: a=2 (heading pi/2) -> b=1: A's points relative to (5, 1), rotated by -pi/2, / 2.
  EXPECT_EQ(out.column("id_a").i64()[1], 2);
  EXPECT_NEAR(at(out, "x_min", 1), -0.5, 1e-15);
  EXPECT_NEAR(at(out, "y_min", 1), 2, 1e-15);
  EXPECT_NEAR(at(out, "y_max", 1), 3, 1e-15);
  EXPECT_NEAR(at(out, "dx", 1), -0.5, 1e-15);
  EXPECT_NEAR(at(out, "dy", 1), 2.5, 1e-15);
  EXPECT_DOUBLE_EQ(at(out, "dtheta", 1), -std::numbers::pi / 2);
}

TEST(OrientationRel, BodyScaleLookupNormalisesDistances) {
  testing::TempDir tmp;
  Table scale;
  scale.add_column("frame", Column::from_int64({0, 0, 1}));
  scale.add_column("id", Column::from_int64({1, 2, 1}));
  scale.add_column("scale", Column::from_float64({4, 4, kNaN}));
  write_parquet(scale, tmp / "g__s.parquet");
  DependencyLookups lk = {{"scale", {{{"g", "s"}, tmp / "g__s.parquet"}}}};
  Table out = apply_feature("orientation-rel", Json::object(), pair_frame(), lk);
  EXPECT_EQ(at(out, "dx", 0), 1.25);  // 5 / mean(4, 4)
  EXPECT_EQ(at(out, "x_max", 0), 1.5);
  // A sequence without a body-scale entry falls back to the local scale.
  DependencyLookups other = {{"scale", {{{"g", "other"}, tmp / "g__s.parquet"}}}};
  EXPECT_EQ(at(apply_feature("orientation-rel", Json::object(), pair_frame(), other), "dx", 0), 2.5);
}

TEST(OrientationRel, QuantileNamesNearestKAndParamErrors) {
  Table out = apply_feature("orientation-rel", {{"quantiles", {0.29, 0.5, 0.505}}, {"nearest_k", 1}}, pair_frame());
  // int(0.29 * 100) = 28 (float truncation, as Python); 0.5 and 0.505 share dist_q50 (the last wins).
  EXPECT_EQ(out.column_names()[11], "dist_q28");
  EXPECT_EQ(out.column_names()[12], "dist_q50");
  EXPECT_EQ(out.column_names()[13], "x_min");
  EXPECT_EQ(out.column_names().back(), "near_0");
  const double a = std::sqrt(4.25), b = std::sqrt(9.25);
  EXPECT_EQ(at(out, "dist_q50", 0), b - (b - a) * (1 - 0.505));
  Table none = apply_feature("orientation-rel", {{"quantiles", Json::array()}}, pair_frame());
  EXPECT_EQ(none.column_names()[11], "x_min");
  EXPECT_THROW(make_feature("orientation-rel", std::nullopt, {{"quantiles", {1.5}}}), InputError);
  EXPECT_THROW(make_feature("orientation-rel", std::nullopt, {{"nearest_k", 0}}), InputError);
}

TEST(OrientationRel, NaNHeadingMakesThePairNaN) {
  Table t = pair_frame();
  t.set_column("ANGLE", Column::from_float64({kNaN, 0}));
  Table out = apply_feature("orientation-rel", Json::object(), t);
  ASSERT_EQ(out.num_rows(), 2u);
  for (const char* c : {"dx", "dist_min", "dist_q25", "x_median", "near_0"}) EXPECT_TRUE(std::isnan(at(out, c, 1))) << c;
  EXPECT_TRUE(std::isnan(at(out, "dtheta", 0)));
  EXPECT_FALSE(std::isnan(at(out, "dx", 0)));
}

TEST(OrientationRel, MissingColumnsAndNoPose) {
  Table t = pair_frame();
  t.drop_column("ANGLE");
  EXPECT_THROW(apply_feature("orientation-rel", Json::object(), t), SchemaError);
  Table no_pose = testing::simulated_tracks(2, 5, 1);
  for (const char* c : {"poseX0", "poseY0", "poseP0"}) no_pose.drop_column(c);
  EXPECT_EQ(apply_feature("orientation-rel", Json::object(), no_pose).num_columns(), 0u);
}

TEST(OrientationRel, EdgeCases) {
  // One animal: no pair, empty output.
  EXPECT_EQ(apply_feature("orientation-rel", Json::object(), testing::simulated_tracks(1, 20)).num_rows(), 0u);
  // An all-NaN animal never takes part; absent rows only remove that frame's pairs.
  Table t = testing::simulated_tracks(4, 30);
  for (const std::string c : {"poseX0", "poseX1", "poseX2", "poseX3", "poseX4", "poseX5", "poseX6"})
    testing::set_nan_where(t, c, [&](std::size_t r) { return t.column("id").as_int64(r) == 1; });
  std::vector<uint8_t> keep(t.num_rows());
  for (std::size_t r = 0; r < t.num_rows(); ++r)
    keep[r] = !(t.column("id").as_int64(r) == 2 && t.column("frame").as_int64(r) < 10);
  t = t.filter(keep);
  Table out = apply_feature("orientation-rel", Json::object(), t);
  for (std::size_t r = 0; r < out.num_rows(); ++r) {
    EXPECT_NE(out.column("id_a").i64()[r], 1);
    EXPECT_NE(out.column("id_b").i64()[r], 1);
  }
  // Unsorted input: the same rows.
  Table shuffled = apply_feature("orientation-rel", Json::object(), testing::shuffled(t));
  EXPECT_TRUE(testing::tables_equal_by_keys(out, shuffled, {"frame", "id_a", "id_b"}));
  // A single frame, 100 animals: every ordered pair of animals with two valid keypoints.
  Table many = testing::rows_where(testing::simulated_tracks(100, 3), "frame", [](double f) { return f == 2; });
  Table pairs = apply_feature("orientation-rel", Json::object(), many);
  EXPECT_GE(pairs.num_rows(), 95u * 94u);
  EXPECT_LE(pairs.num_rows(), 100u * 99u);
}

}  // namespace
}  // namespace mosaic
