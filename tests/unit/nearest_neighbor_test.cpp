// nearest-neighbor (features.md §2.2 + DECISIONS F3): hand-computed values, the F3 fix and the
// edge cases of issue 5 (one animal, an all-NaN animal, one frame, absent rows, unsorted input,
// 100 animals against a naive per-frame oracle).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <numbers>

#include "common/feature_check.hpp"
#include "features/kernels/signal.hpp"
#include "mosaic/errors.hpp"

namespace mosaic {
namespace {

using testing::apply_feature;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Table frame_table(std::vector<int64_t> frame, std::vector<int64_t> id, std::vector<double> x, std::vector<double> y,
                  std::vector<double> angle = {}) {
  Table t;
  const std::size_t n = frame.size();
  t.add_column("frame", Column::from_int64(std::move(frame)));
  t.add_column("id", Column::from_int64(std::move(id)));
  t.add_column("X", Column::from_float64(std::move(x)));
  t.add_column("Y", Column::from_float64(std::move(y)));
  if (!angle.empty()) t.add_column("ANGLE", Column::from_float64(std::move(angle)));
  t.add_column("group", Column::constant_string("g", n));
  t.add_column("sequence", Column::constant_string("s", n));
  return t;
}

TEST(NearestNeighbor, HandComputedFrame) {
  const double pi = std::numbers::pi;
  Table t = frame_table({0, 0, 0}, {7, 8, 9}, {0, 3, 10}, {0, 4, 0}, {0, pi / 2, -3.0});
  Table out = apply_feature("nearest-neighbor", Json::object(), t);
  EXPECT_EQ(out.column_names(), (std::vector<std::string>{"nn_id", "nn_delta_x", "nn_delta_y", "nn_dist",
                                                           "nn_delta_x_ego", "nn_delta_y_ego", "nn_delta_angle",
                                                           "frame", "group", "id", "sequence"}));
  // 7 -> 8 (dist 5), 8 -> 7 (5 vs sqrt(65)), 9 -> 8 (sqrt(65) vs 10)
  EXPECT_EQ(out.column("nn_id").f64()[0], 8);
  EXPECT_EQ(out.column("nn_id").f64()[1], 7);
  EXPECT_EQ(out.column("nn_id").f64()[2], 8);
  EXPECT_EQ(out.column("nn_dist").f64()[0], 5);
  EXPECT_EQ(out.column("nn_dist").f64()[2], std::sqrt(65.0));
  EXPECT_EQ(out.column("nn_delta_x").f64()[2], -7);
  EXPECT_EQ(out.column("nn_delta_y").f64()[2], 4);
  // Ego frame of 8 (heading pi/2): the offset (-3, -4) becomes (-4, 3) up to rounding.
  EXPECT_NEAR(out.column("nn_delta_x_ego").f64()[1], -4, 1e-12);
  EXPECT_NEAR(out.column("nn_delta_y_ego").f64()[1], 3, 1e-12);
  EXPECT_EQ(out.column("nn_delta_x_ego").f64()[0], 3);  // heading 0
  EXPECT_DOUBLE_EQ(out.column("nn_delta_angle").f64()[0], pi / 2);
  EXPECT_DOUBLE_EQ(out.column("nn_delta_angle").f64()[2], kernels::wrap_angle(pi / 2 + 3.0));
  EXPECT_EQ(out.column("id").type(), DType::kInt64);
  EXPECT_EQ(out.column("nn_id").type(), DType::kFloat64);
}

TEST(NearestNeighbor, NoAngleColumnMeansWorldFrameAndNoDeltaAngle) {
  Table t = frame_table({0, 0}, {1, 2}, {0, 1}, {0, 2});
  Table out = apply_feature("nearest-neighbor", Json::object(), t);
  EXPECT_FALSE(out.has_column("nn_delta_angle"));
  EXPECT_EQ(out.column("nn_delta_x_ego").f64()[0], 1);
  EXPECT_EQ(out.column("nn_delta_y_ego").f64()[0], 2);
}

TEST(NearestNeighbor, NaNDistanceNeverWinsF3) {
  // id 2 is missing; the reference's argmin would hand it to 1 and 3 as their neighbour.
  Table t = frame_table({5, 5, 5}, {1, 2, 3}, {0, kNaN, 10}, {0, kNaN, 0}, {0.1, 0.2, 0.3});
  Table out = apply_feature("nearest-neighbor", Json::object(), t);
  EXPECT_EQ(out.column("nn_id").f64()[0], 3);
  EXPECT_EQ(out.column("nn_id").f64()[2], 1);
  for (const char* c : {"nn_id", "nn_delta_x", "nn_delta_y", "nn_dist", "nn_delta_x_ego", "nn_delta_y_ego",
                        "nn_delta_angle"})
    EXPECT_TRUE(std::isnan(out.column(c).f64()[1])) << c;
}

TEST(NearestNeighbor, AnimalWhoseOnlyNeighbourIsMissingGetsNaNEverywhere) {
  Table t = frame_table({0, 0}, {1, 2}, {0, kNaN}, {0, 1}, {0, 0});
  Table out = apply_feature("nearest-neighbor", Json::object(), t);
  for (std::size_t r = 0; r < 2; ++r)
    for (const char* c : {"nn_id", "nn_dist", "nn_delta_x_ego", "nn_delta_angle"})
      EXPECT_TRUE(std::isnan(out.column(c).f64()[r])) << c << " row " << r;
}

TEST(NearestNeighbor, OneAnimalAndAbsentRows) {
  // Frame 0: only id 1; frame 1: ids 1 and 2; frame 2: only id 2.
  Table t = frame_table({0, 1, 1, 2}, {1, 1, 2, 2}, {0, 0, 3, 3}, {0, 0, 4, 4});
  Table out = apply_feature("nearest-neighbor", Json::object(), t);
  ASSERT_EQ(out.num_rows(), 4u);
  EXPECT_TRUE(std::isnan(out.column("nn_id").f64()[0]));
  EXPECT_EQ(out.column("nn_id").f64()[1], 2);
  EXPECT_EQ(out.column("nn_id").f64()[2], 1);
  EXPECT_TRUE(std::isnan(out.column("nn_dist").f64()[3]));
  Table one = apply_feature("nearest-neighbor", Json::object(), testing::simulated_tracks(1, 50));
  for (double v : one.column("nn_dist").f64()) EXPECT_TRUE(std::isnan(v));
}

TEST(NearestNeighbor, EmptyInputGivesEmptyOutputAndMissingColumnsAreNamed) {
  EXPECT_EQ(apply_feature("nearest-neighbor", Json::object(), Table()).num_columns(), 0u);
  Table t = frame_table({0}, {1}, {0}, {0});
  t.drop_column("X");
  try {
    apply_feature("nearest-neighbor", Json::object(), t);
    FAIL() << "no error";
  } catch (const SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("missing column 'X'"), std::string::npos) << e.what();
  }
}

TEST(NearestNeighbor, AllNaNAnimalAndSingleFrame) {
  Table t = testing::simulated_tracks(4, 30);
  testing::set_nan_where(t, "X", [&](std::size_t r) { return t.column("id").as_int64(r) == 2; });
  Table out = apply_feature("nearest-neighbor", Json::object(), t);
  for (std::size_t r = 0; r < out.num_rows(); ++r) {
    if (out.column("id").as_int64(r) == 2) EXPECT_TRUE(std::isnan(out.column("nn_id").f64()[r]));
    else EXPECT_NE(out.column("nn_id").f64()[r], 2.0);
  }
  Table single = testing::rows_where(t, "frame", [](double f) { return f == 7; });
  Table one_frame = apply_feature("nearest-neighbor", Json::object(), single);
  EXPECT_EQ(one_frame.num_rows(), 4u);
}

TEST(NearestNeighbor, UnsortedInputGivesTheSameRows) {
  Table t = testing::simulated_tracks(5, 200);
  Table a = apply_feature("nearest-neighbor", Json::object(), t);
  Table b = apply_feature("nearest-neighbor", Json::object(), testing::shuffled(t));
  EXPECT_TRUE(testing::tables_equal_by_keys(a, b, {"frame", "id"}));
  // Rows come out sorted by frame.
  auto f = b.column("frame").i64();
  EXPECT_TRUE(std::is_sorted(f.begin(), f.end()));
}

// 100 animals per frame: the k-d tree path of the feature against a naive per-frame oracle.
TEST(NearestNeighbor, HundredAnimalsMatchTheNaiveOracle) {
  Table t = testing::simulated_tracks(100, 40);
  Table out = apply_feature("nearest-neighbor", Json::object(), t);
  ASSERT_EQ(out.num_rows(), t.num_rows());
  std::map<std::pair<int64_t, int64_t>, std::size_t> row_of;
  for (std::size_t r = 0; r < out.num_rows(); ++r)
    row_of[{out.column("frame").as_int64(r), out.column("id").as_int64(r)}] = r;
  auto x = t.column("X").f64(), y = t.column("Y").f64(), ang = t.column("ANGLE").f64();
  std::size_t checked = 0;
  for (std::size_t i = 0; i < t.num_rows(); ++i) {
    const int64_t fi = t.column("frame").as_int64(i);
    double best = 0;
    int64_t arg = -1;
    for (std::size_t j = 0; j < t.num_rows(); ++j) {
      if (j == i || t.column("frame").as_int64(j) != fi) continue;
      const double dx = x[j] - x[i], dy = y[j] - y[i], d = std::sqrt(dx * dx + dy * dy);
      if (std::isnan(d)) continue;
      if (arg < 0 || d < best) {
        best = d;
        arg = static_cast<int64_t>(j);
      }
    }
    const std::size_t r = row_of.at({fi, t.column("id").as_int64(i)});
    if (arg < 0) {
      EXPECT_TRUE(std::isnan(out.column("nn_id").f64()[r]));
      continue;
    }
    const auto j = static_cast<std::size_t>(arg);
    EXPECT_EQ(out.column("nn_id").f64()[r], t.column("id").as_double(j));
    EXPECT_EQ(out.column("nn_dist").f64()[r], best);
    const double dx = x[j] - x[i], dy = y[j] - y[i];
    const double ego = dx * std::cos(ang[i]) + dy * std::sin(ang[i]);
    if (std::isnan(ego)) EXPECT_TRUE(std::isnan(out.column("nn_delta_x_ego").f64()[r]));
    else EXPECT_EQ(out.column("nn_delta_x_ego").f64()[r], ego);
    ++checked;
  }
  EXPECT_GT(checked, 3000u);
}

}  // namespace
}  // namespace mosaic
