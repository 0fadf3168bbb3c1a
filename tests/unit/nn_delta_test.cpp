// nn-delta-response and nn-delta-bins (features.md §2.11, §2.12): hand-computed values, column
// order and dtypes as the reference's pandas produces them, and the edge cases of issue 5.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <random>

#include "features/kernels/signal.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/simulate.hpp"

namespace mosaic {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Table apply(const std::string& name, const Json& params, const Table& t) {
  auto f = make_feature(name, std::nullopt, params);
  f->load_state({}, {}, {});
  return f->apply(t);
}

Table shuffled(const Table& t, uint64_t seed) {
  std::vector<int64_t> idx(t.num_rows());
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(idx.begin(), idx.end(), rng);
  return t.take(idx);
}

// Two animals over frames 0..5: id 0 moves along x and turns; id 1 is its neighbour.
Table response_input(bool with_ego = true) {
  Table t;
  std::vector<int64_t> frame, id, nn;
  std::vector<double> x, y, a, speed, ex, ey, wx, wy;
  std::vector<int64_t> focal;
  for (int64_t f = 0; f < 6; ++f)
    for (int64_t k = 0; k < 2; ++k) {
      frame.push_back(f);
      id.push_back(k);
      nn.push_back(1 - k);
      x.push_back(k == 0 ? 2.0 * static_cast<double>(f) : 10.0);
      y.push_back(k == 0 ? 0.0 : static_cast<double>(f));
      a.push_back(k == 0 ? 3.0 - 0.5 * static_cast<double>(f) : 0.25);  // id 0 crosses +-pi
      speed.push_back(k == 0 ? static_cast<double>(f * f) : 1.0);
      ex.push_back(100.0 + static_cast<double>(f));
      ey.push_back(-static_cast<double>(k));
      wx.push_back(k == 0 ? 1.0 : -1.0);
      wy.push_back(0.0);
      focal.push_back(k == 0 ? 1 : 0);
    }
  const std::size_t n = frame.size();
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("time", Column::from_float64(std::vector<double>(n, 0.5)));
  t.add_column("id", Column::from_int64(id));
  t.add_column("X", Column::from_float64(x));
  t.add_column("Y", Column::from_float64(y));
  t.add_column("ANGLE", Column::from_float64(a));
  t.add_column("speed", Column::from_float64(speed));
  t.add_column("nn_id", Column::from_int64(nn));
  t.add_column("nn_delta_x", Column::from_float64(wx));
  t.add_column("nn_delta_y", Column::from_float64(wy));
  if (with_ego) {
    t.add_column("nn_delta_x_ego", Column::from_float64(ex));
    t.add_column("nn_delta_y_ego", Column::from_float64(ey));
  }
  t.add_column("Focal_fish", Column::from_int64(focal));
  t.add_column("group", Column::constant_string("g", n));
  t.add_column("sequence", Column::constant_string("s", n));
  return t;
}

TEST(NnDeltaResponse, HandComputedDeltas) {
  Json p = {{"diff_numframes", 2}, {"sampling", {{"fps_default", 10.0}}}};
  Table out = apply("nn-delta-response", p, response_input());
  EXPECT_EQ(out.column_names(),
            (std::vector<std::string>{"frame", "time", "group", "sequence", "id", "nn_id", "neighbor_x", "neighbor_y",
                                      "neighbor_focal", "dx", "dy", "dt", "dangle", "dspeed", "Focal_fish", "X", "Y",
                                      "ANGLE", "speed", "nn_delta_x", "nn_delta_y", "nn_delta_x_ego",
                                      "nn_delta_y_ego"}));
  // id 0 first (first appearance), frames 0..3 each (frames 4, 5 have no frame + 2).
  ASSERT_EQ(out.num_rows(), 8u);
  EXPECT_EQ(out.column("id").as_int64(0), 0);
  EXPECT_EQ(out.column("id").as_int64(4), 1);
  EXPECT_EQ(out.column("dx").f64()[1], 4.0);
  EXPECT_EQ(out.column("dy").f64()[5], 2.0);
  EXPECT_EQ(out.column("dt").f64()[0], 2.0);
  EXPECT_EQ(out.column("dt").type(), DType::kFloat64);
  EXPECT_EQ(out.column("dspeed").f64()[3], 25.0 - 9.0);
  // dangle = wrap(-1.0) / 2 * 10
  EXPECT_DOUBLE_EQ(out.column("dangle").f64()[0], kernels::wrap_angle(-1.0) / 2 * 10);
  EXPECT_EQ(out.column("neighbor_x").f64()[2], 102.0);
  EXPECT_EQ(out.column("neighbor_y").f64()[6], -1.0);
  // The neighbour of id 0 is id 1 (not focal) and vice versa; every lookup found -> int64.
  EXPECT_EQ(out.column("neighbor_focal").type(), DType::kInt64);
  EXPECT_EQ(out.column("neighbor_focal").as_int64(0), 0);
  EXPECT_EQ(out.column("neighbor_focal").as_int64(4), 1);
  EXPECT_EQ(out.column("nn_id").type(), DType::kInt64);
}

TEST(NnDeltaResponse, WorldOffsetsAreRotatedWithoutEgoColumns) {
  Table out = apply("nn-delta-response", {{"diff_numframes", 1}}, response_input(false));
  const double h = 3.0;  // id 0's heading at frame 0; world offset (1, 0)
  EXPECT_DOUBLE_EQ(out.column("neighbor_x").f64()[0], std::cos(h));
  EXPECT_DOUBLE_EQ(out.column("neighbor_y").f64()[0], -std::sin(h));
}

TEST(NnDeltaResponse, MissingNeighbourBecomesFloatNaN) {
  Table t = response_input();
  std::vector<double> nn(t.num_rows());
  for (std::size_t r = 0; r < nn.size(); ++r) nn[r] = r == 0 ? kNaN : t.column("nn_id").as_double(r);
  t.set_column("nn_id", Column::from_float64(nn));
  Table out = apply("nn-delta-response", Json::object(), t);
  EXPECT_EQ(out.column("nn_id").type(), DType::kFloat64);
  EXPECT_EQ(out.column("neighbor_focal").type(), DType::kFloat64);
  EXPECT_TRUE(std::isnan(out.column("neighbor_focal").f64()[0]));
  EXPECT_EQ(out.column("neighbor_focal").f64()[1], 0.0);
}

TEST(NnDeltaResponse, EmptyWithoutNeighbourColumnsAndErrorsWithoutAngle) {
  Table t = response_input();
  t.drop_column("nn_id");
  EXPECT_EQ(apply("nn-delta-response", Json::object(), t).num_rows(), 0u);
  Table u = response_input();
  u.drop_column("speed");
  EXPECT_EQ(apply("nn-delta-response", Json::object(), u).num_rows(), 0u);
  Table v = response_input();
  v.drop_column("ANGLE");
  EXPECT_THROW(apply("nn-delta-response", Json::object(), v), SchemaError);
  // `nn_fishID` is the reference's fallback id column; it is copied into nn_id.
  Table w = response_input();
  w = w.rename({{"nn_id", "nn_fishID"}});
  Table out = apply("nn-delta-response", Json::object(), w);
  ASSERT_TRUE(out.has_column("nn_id"));
  ASSERT_TRUE(out.has_column("nn_fishID"));
  EXPECT_TRUE(out.column("nn_id").equals(out.column("nn_fishID")));
}

TEST(NnDeltaResponse, EdgeCases) {
  Table t = response_input();
  // Unsorted input: the same rows and values.
  EXPECT_TRUE(apply("nn-delta-response", Json::object(), t).equals(apply("nn-delta-response", Json::object(), shuffled(t, 9))));
  // One frame: nothing has a future frame. One animal: its own rows only.
  EXPECT_EQ(apply("nn-delta-response", Json::object(), t.slice(0, 2)).num_rows(), 0u);
  std::vector<uint8_t> only0(t.num_rows());
  for (std::size_t r = 0; r < only0.size(); ++r) only0[r] = t.column("id").as_int64(r) == 0;
  Table one = apply("nn-delta-response", {{"diff_numframes", 1}}, t.filter(only0));
  EXPECT_EQ(one.num_rows(), 5u);
  EXPECT_TRUE(std::isnan(one.column("neighbor_focal").f64()[0]));  // its neighbour has no row
  // Absent rows: drop id 0 at frame 2 -> frames 0 and 1 (diff 1) lose their partner rows.
  std::vector<uint8_t> keep(t.num_rows(), 1);
  for (std::size_t r = 0; r < keep.size(); ++r)
    keep[r] = !(t.column("id").as_int64(r) == 0 && t.column("frame").as_int64(r) == 2);
  Table gap = apply("nn-delta-response", {{"diff_numframes", 1}}, t.filter(keep));
  EXPECT_EQ(gap.num_rows(), 5u + 3u);  // id 1: 5 rows; id 0: frames 0, 3, 4 (1 -> 3 is a 2-frame gap)
  // An all-NaN animal keeps its rows (the frame step is valid) with NaN deltas.
  Table nan_t = t;
  std::vector<double> x(t.column("X").f64().begin(), t.column("X").f64().end());
  for (std::size_t r = 0; r < x.size(); ++r)
    if (t.column("id").as_int64(r) == 1) x[r] = kNaN;
  nan_t.set_column("X", Column::from_float64(x));
  Table nan_out = apply("nn-delta-response", Json::object(), nan_t);
  EXPECT_TRUE(std::isnan(nan_out.column("dx").f64()[nan_out.num_rows() - 1]));
}

TEST(NnDeltaResponse, HundredAnimalsAgainstDirectComputation) {
  SimulationOptions o;
  o.animals = 100;
  o.frames = 30;
  o.arena = 3000;
  Table t = simulate_sequence(o, 0);
  const std::size_t n = t.num_rows();
  std::vector<double> nn(n), speed(n);
  for (std::size_t r = 0; r < n; ++r) {
    nn[r] = static_cast<double>((t.column("id").as_int64(r) + 1) % 100);
    speed[r] = t.column("X").f64()[r] * 0.5;
  }
  t.add_column("nn_id", Column::from_float64(nn));
  t.add_column("speed", Column::from_float64(speed));
  Table out = apply("nn-delta-response", Json::object(), t);
  ASSERT_EQ(out.num_rows(), 100u * 26u);
  // Rows are per id (first appearance = 0..99), frames 0..25; dx = X(f+4) - X(f).
  auto x_at = [&](int64_t f, int64_t id) { return t.column("X").f64()[static_cast<std::size_t>(f * 100 + id)]; };
  for (std::size_t r = 0; r < out.num_rows(); r += 37) {
    const int64_t id = out.column("id").as_int64(r), f = out.column("frame").as_int64(r);
    EXPECT_EQ(static_cast<std::size_t>(id), r / 26);
    const double expected = x_at(f + 4, id) - x_at(f, id);
    if (std::isnan(expected)) EXPECT_TRUE(std::isnan(out.column("dx").f64()[r]));
    else EXPECT_EQ(out.column("dx").f64()[r], expected);
  }
}

// ---- nn-delta-bins -------------------------------------------------------------------------------

Table bins_input() {
  Table t;
  // Focal 1 animals at group size 2, neighbours focal 0 or 1, positions on both sides.
  const std::vector<double> nx = {1.0, 2.0, 3.0, -5.0, 4.0, 0.5};
  const std::vector<double> ny = {0.5, -1.0, 2.0, 6.0, -3.0, kNaN};
  const std::vector<double> da = {0.2, -0.4, 1.0, 0.3, 0.6, 0.1};
  const std::vector<double> ds = {1.0, 2.0, 3.0, 4.0, 5.0, 6.0};
  t.add_column("neighbor_x", Column::from_float64(nx));
  t.add_column("neighbor_y", Column::from_float64(ny));
  t.add_column("dangle", Column::from_float64(da));
  t.add_column("dspeed", Column::from_float64(ds));
  t.add_column("Focal_fish", Column::from_int64({1, 1, 1, 0, 1, 1}));
  t.add_column("neighbor_focal", Column::from_float64({0, 1, 0, 1, kNaN, 0}));
  t.add_column("group_size", Column::from_int64({2, 2, 2, 2, 3, 2}));
  t.add_column("group", Column::constant_string("g", 6));
  t.add_column("sequence", Column::constant_string("s", 6));
  return t;
}

TEST(NnDeltaBins, LayoutAndHandComputedBins) {
  // nbins 3: 1-D edges {-14, 0, 14} (2 bins); 2-D x edges {-14, 0, 14}, y edges in thirds (3 bins).
  Table out = apply("nn-delta-bins", {{"nbins", 3}}, bins_input());
  EXPECT_EQ(out.column_names(),
            (std::vector<std::string>{"dim", "Exp", "Trial", "center_category", "neighbor_category", "group_size",
                                      "metric", "bin_idx", "value", "bin_x", "bin_y", "sum_value", "count", "group",
                                      "sequence"}));
  const std::size_t per_call = 2 * 2 + 2 * 2 * 3;
  // Calls: (0, 2) all + neighbour 1; (1, 2) all + neighbours 0, 1; (1, 3) all + neighbour NaN ("all").
  ASSERT_EQ(out.num_rows(), 7 * per_call);
  auto cat = [&](std::size_t call) {
    const std::size_t r = call * per_call;
    return std::make_tuple(out.column("center_category").as_int64(r), std::string(out.column("neighbor_category").str(r)),
                           out.column("group_size").as_int64(r));
  };
  EXPECT_EQ(cat(0), std::make_tuple(int64_t{0}, std::string("all"), int64_t{2}));
  EXPECT_EQ(cat(1), std::make_tuple(int64_t{0}, std::string("1"), int64_t{2}));
  EXPECT_EQ(cat(2), std::make_tuple(int64_t{1}, std::string("all"), int64_t{2}));
  EXPECT_EQ(cat(3), std::make_tuple(int64_t{1}, std::string("0"), int64_t{2}));
  EXPECT_EQ(cat(4), std::make_tuple(int64_t{1}, std::string("1"), int64_t{2}));
  EXPECT_EQ(cat(6), std::make_tuple(int64_t{1}, std::string("all"), int64_t{3}));
  EXPECT_EQ(std::string(out.column("Exp").str(0)), "");
  // Call 2 = focal 1, size 2 rows {0, 1, 2} (row 5 has NaN neighbor_y and is dropped first).
  // Turn (0 <= x <= 5): y {0.5, -1, 2} + mirrored {-0.5, 1, -2}, dangle {.2, -.4, 1, -.2, .4, -1}.
  // Bin 0 = [-14, 0): y -1, -0.5, -2 -> (-0.4 - 0.2 - 1) / 3; bin 1: (0.2 + 1 + 0.4) / 3.
  const std::size_t r0 = 2 * per_call;
  EXPECT_EQ(std::string(out.column("metric").str(r0)), "turn");
  EXPECT_DOUBLE_EQ(out.column("value").f64()[r0], ((-0.4 + -0.2) + -1.0) / 3);
  EXPECT_DOUBLE_EQ(out.column("value").f64()[r0 + 1], ((0.2 + 1.0) + 0.4) / 3);
  // Speed (|y| <= 2.5): x {1, 2, 3}, dspeed {1, 2, 3}: all in bin 1.
  EXPECT_TRUE(std::isnan(out.column("value").f64()[r0 + 2]));
  EXPECT_EQ(out.column("value").f64()[r0 + 3], 2.0);
  EXPECT_TRUE(std::isnan(out.column("bin_x").f64()[r0]));
  // 2-D turn counts: x all in bin 1; each original and its mirror, so 6 samples.
  double count = 0;
  for (std::size_t r = r0 + 4; r < r0 + 4 + 6; ++r) count += out.column("count").f64()[r];
  EXPECT_EQ(count, 6.0);
  EXPECT_EQ(out.column("bin_idx").type(), DType::kFloat64);
  EXPECT_EQ(out.column("neighbor_category").type(), DType::kString);
  EXPECT_EQ(out.column("center_category").type(), DType::kInt64);
}

TEST(NnDeltaBins, EmptyAndErrors) {
  Table t = bins_input();
  Table nan_t = t;
  nan_t.set_column("dangle", Column::from_float64(std::vector<double>(6, kNaN)));
  EXPECT_EQ(apply("nn-delta-bins", Json::object(), nan_t).num_columns(), 0u);
  Table missing = t;
  missing.drop_column("dspeed");
  EXPECT_THROW(apply("nn-delta-bins", Json::object(), missing), SchemaError);
  // Without a focal column: neighbour categories of all rows (the non-focal flag column is absent).
  Table nf = t;
  nf.drop_column("Focal_fish");
  Table out = apply("nn-delta-bins", {{"nbins", 3}}, nf);
  EXPECT_GT(out.num_rows(), 0u);
  EXPECT_TRUE(out.column("center_category").is_null(0));
  // Unsorted rows change only the summation order of the sums.
  Table a = apply("nn-delta-bins", {{"nbins", 5}}, t);
  Table b = apply("nn-delta-bins", {{"nbins", 5}}, shuffled(t, 2));
  ASSERT_EQ(a.num_rows(), b.num_rows());
  for (std::size_t r = 0; r < a.num_rows(); ++r) {
    const double x = a.column("sum_value").f64()[r], y = b.column("sum_value").f64()[r];
    if (std::isnan(x)) EXPECT_TRUE(std::isnan(y));
    else EXPECT_NEAR(x, y, 1e-12);
  }
}

}  // namespace
}  // namespace mosaic
