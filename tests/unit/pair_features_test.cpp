// Edge cases of the pair features (pair-egocentric, pair-position, approach-avoidance,
// pair-interaction-filter): one animal, an all-NaN animal, a single frame, absent rows, unsorted
// input, 100 animals; and the DECISIONS fixes F7 (angles along the shorter arc) and F8
// (center_mode).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <tuple>
#include <numbers>
#include <random>
#include <set>

#include "mosaic/errors.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/simulate.hpp"

namespace mosaic {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const char* const kFeatures[] = {"pair-egocentric", "pair-position", "approach-avoidance", "pair-interaction-filter"};

// Params that make pair-interaction-filter find something in simulated data.
Json params_for(const std::string& feature) {
  if (feature == "pair-interaction-filter")
    return Json{{"max_dist", 400.0}, {"require_facing", false}, {"min_run_frames", 5}, {"morphological_structure_size", 3},
                {"frame_padding", 2}};
  return Json::object();
}

Table sim(int animals, int64_t frames, uint64_t seed = 3, double arena = 1000.0) {
  SimulationOptions o;
  o.animals = animals;
  o.keypoints = 7;
  o.frames = frames;
  o.seed = seed;
  o.arena = arena;
  Table t = simulate_sequence(o, 0);
  t.add_column("group", Column::constant_string("g", t.num_rows()));
  t.add_column("sequence", Column::constant_string("s", t.num_rows()));
  return t;
}

Table run(const std::string& feature, const Table& t, Json params = Json()) {
  if (params.is_null()) params = params_for(feature);
  auto f = make_feature(feature, std::nullopt, params);
  return f->apply(t);
}

Table keep_rows(const Table& t, const std::function<bool(std::size_t)>& pred) {
  std::vector<uint8_t> m(t.num_rows());
  for (std::size_t r = 0; r < t.num_rows(); ++r) m[r] = pred(r) ? 1 : 0;
  return t.filter(m);
}

Table only_ids(const Table& t, std::set<int64_t> ids) {
  const Column& id = t.column("id");
  return keep_rows(t, [&](std::size_t r) { return ids.count(id.i64()[r]) > 0; });
}

// The rows of a pair output that involve exactly the animals a and b.
Table pair_rows(const std::string& feature, const Table& out, int64_t a, int64_t b) {
  const bool pif = feature == "pair-interaction-filter";
  const Column& c1 = out.column(pif ? "id_a" : "id1");
  const Column& c2 = out.column(pif ? "id_b" : "id2");
  return keep_rows(out, [&](std::size_t r) {
    int64_t x = c1.i64()[r], y = c2.i64()[r];
    return (x == a && y == b) || (x == b && y == a);
  });
}

void expect_same(const Table& a, const Table& b, const std::string& what) {
  if (a.num_rows() == 0 && b.num_rows() == 0) return;  // empty results may list fewer columns
  ASSERT_EQ(a.column_names(), b.column_names()) << what;
  ASSERT_EQ(a.num_rows(), b.num_rows()) << what;
  for (std::size_t c = 0; c < a.num_columns(); ++c)
    EXPECT_TRUE(a.column(c).equals(b.column(c))) << what << ": column " << a.column_names()[c];
}

TEST(PairFeatures, OneAnimal) {
  Table t = only_ids(sim(3, 50), {1});
  try {
    run("pair-egocentric", t);
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("No sequence with at least two IDs"), std::string::npos) << e.what();
  }
  Table pp = run("pair-position", t);
  EXPECT_EQ(pp.num_rows(), 0u);
  EXPECT_EQ(pp.column_names().front(), "frame");
  EXPECT_EQ(pp.num_columns(), 19u);
  Table aa = run("approach-avoidance", t);
  EXPECT_EQ(aa.num_rows(), 0u);
  EXPECT_EQ(aa.num_columns(), 7u);
  Table pif = run("pair-interaction-filter", t);
  EXPECT_EQ(pif.num_rows(), 0u);
  EXPECT_EQ(pif.num_columns(), 6u);
}

TEST(PairFeatures, AllNanAnimalDropsOut) {
  Table t = sim(3, 80);
  // animal 2: every value missing
  for (const auto& name : t.column_names()) {
    if (name == "frame" || name == "time" || name == "id" || name == "group" || name == "sequence") continue;
    Column& c = t.mutable_column(name);
    auto v = c.f64_mut();
    for (std::size_t r = 0; r < t.num_rows(); ++r)
      if (t.column("id").i64()[r] == 2) v[r] = kNaN;
  }
  for (const char* f : kFeatures) {
    Table out = run(f, t);
    Table two = run(f, only_ids(t, {0, 1}));
    expect_same(out, two, f);
  }
}

TEST(PairFeatures, SingleFrame) {
  Table t = keep_rows(sim(3, 20), [](std::size_t r) { return r < 3; });  // frame 0, ids 0..2
  for (const char* f : {"pair-egocentric", "pair-position"}) {
    try {
      run(f, t);
      FAIL() << f << ": expected an error";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("share a single frame"), std::string::npos) << e.what();
    }
  }
  Table aa = run("approach-avoidance", t);  // pairs with < 2 joined frames are skipped
  EXPECT_EQ(aa.num_rows(), 0u);
  Table pif = run("pair-interaction-filter", t,
                  Json{{"max_dist", 5000.0}, {"require_facing", false}, {"min_run_frames", 1}, {"morphological_structure_size", 0},
                       {"frame_padding", 0}});
  EXPECT_EQ(pif.num_rows(), 3u);  // every pair close in its one frame
}

TEST(PairFeatures, AbsentRowsOnlyTouchTheirPairs) {
  Table t = sim(3, 120);
  // animal 1 absent (no rows) for frames 40..59
  Table gap = keep_rows(t, [&](std::size_t r) {
    int64_t f = t.column("frame").i64()[r];
    return !(t.column("id").i64()[r] == 1 && f >= 40 && f < 60);
  });
  for (const char* f : kFeatures) {
    Table full = run(f, t), holed = run(f, gap);
    // pairs without animal 1 are unchanged
    expect_same(pair_rows(f, holed, 0, 2), pair_rows(f, full, 0, 2), std::string(f) + " pair (0,2)");
    if (std::string(f) == "pair-interaction-filter") continue;
    // pairs with animal 1 have no row in the gap
    Table p01 = pair_rows(f, holed, 0, 1);
    for (std::size_t r = 0; r < p01.num_rows(); ++r) {
      int64_t fr = p01.column("frame").i64()[r];
      EXPECT_TRUE(fr < 40 || fr >= 60) << f << " frame " << fr;
    }
    EXPECT_LT(p01.num_rows(), pair_rows(f, full, 0, 1).num_rows()) << f;
  }
}

TEST(PairFeatures, UnsortedInputGivesTheSameOutput) {
  Table t = sim(4, 90);
  std::vector<int64_t> perm(t.num_rows());
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937 rng(11);
  std::shuffle(perm.begin(), perm.end(), rng);
  Table shuffled = t.take(perm);
  for (const char* f : kFeatures) expect_same(run(f, shuffled), run(f, t), f);
}

TEST(PairFeatures, HundredAnimalsEqualTheirPairsAlone) {
  Table t = sim(100, 40, 5, 4000.0);
  for (const char* f : kFeatures) {
    Table out = run(f, t);
    for (auto [a, b] : {std::pair<int64_t, int64_t>{17, 42}, {0, 99}, {63, 64}}) {
      Table alone = run(f, only_ids(t, {a, b}));
      expect_same(pair_rows(f, out, a, b), alone, std::string(f) + " pair " + std::to_string(a) + "," + std::to_string(b));
    }
    if (std::string(f) == "pair-egocentric") {
      // rows sorted by (frame, id1, id2), one per ordered pair of animals present
      const auto fr = out.column("frame").i64(), i1 = out.column("id1").i64(), i2 = out.column("id2").i64();
      for (std::size_t r = 1; r < out.num_rows(); ++r)
        ASSERT_TRUE(std::tie(fr[r - 1], i1[r - 1], i2[r - 1]) < std::tie(fr[r], i1[r], i2[r])) << r;
    }
  }
}

// --- DECISIONS F7: angles along the shorter arc -------------------------------------------------

// Two animals moving west (heading about pi), A's ANGLE missing at frames 10..12 between 3.1 and
// -3.13: the reference interpolates 3.1 -> -3.13 through 0 (heading east), the fix across pi.
Table westward_pair(bool with_gap) {
  const int64_t n = 30;
  std::vector<int64_t> frame, id;
  std::vector<double> x, y, ang;
  for (int64_t f = 0; f < n; ++f) {
    for (int64_t k = 0; k < 2; ++k) {
      frame.push_back(f);
      id.push_back(k);
      x.push_back(k == 0 ? 150.0 - 10.0 * static_cast<double>(f) : 50.0 - 8.0 * static_cast<double>(f));
      y.push_back(k == 0 ? 0.0 : 1.0);
      double a = k == 0 ? (f % 2 ? -3.13 : 3.1) : -3.12;
      if (k == 0 && f >= 10 && f <= 12) a = with_gap ? kNaN : (f == 11 ? -3.13 : 3.1);
      if (k == 0 && f == 9) a = 3.1;
      if (k == 0 && f == 13) a = -3.13;
      ang.push_back(a);
    }
  }
  Table t;
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("id", Column::from_int64(id));
  t.add_column("X", Column::from_float64(x));
  t.add_column("Y", Column::from_float64(y));
  t.add_column("ANGLE", Column::from_float64(ang));
  t.add_column("group", Column::constant_string("g", frame.size()));
  t.add_column("sequence", Column::constant_string("s", frame.size()));
  return t;
}

TEST(PairFeaturesF7, PairPositionInterpolatesAcrossPi) {
  Table out = run("pair-position", westward_pair(true));
  // A->B rows (perspective 0) come first, in frame order
  const auto cosv = out.column("A_heading_cos").f32();
  const double inc = (2 * std::numbers::pi - 6.23) / 4.0;  // 3.1 -> -3.13 the short way, 4 steps
  for (int64_t f = 10; f <= 12; ++f) {
    double th = 3.1 + inc * static_cast<double>(f - 9);
    EXPECT_NEAR(cosv[static_cast<std::size_t>(f)], std::cos(th), 1e-6) << f;
    EXPECT_LT(cosv[static_cast<std::size_t>(f)], -0.99) << f;  // still heading west (the reference: > 0)
  }
  // the angular speed stays small across the gap (the reference sees a half turn and back)
  const auto w = out.column("A_ang_speed").f32();
  for (int64_t f = 9; f <= 13; ++f) EXPECT_LT(std::fabs(w[static_cast<std::size_t>(f)]), 30 * 0.3) << f;
}

TEST(PairFeaturesF7, PairPositionSmoothsAcrossPi) {
  // ANGLE alternating 3.1 / -3.1 (both west): a 3-frame box of the raw values averages to about
  // +-1.03 (east-ish); unwrapped it stays at about +-pi.
  Table t = westward_pair(false);
  Table out = run("pair-position", t, Json{{"sampling", {{"smooth_win", 3}}}});
  const auto cosv = out.column("A_heading_cos").f32();
  for (std::size_t f = 0; f < 30; ++f) EXPECT_LT(cosv[f], -0.99) << f;
  EXPECT_THROW(make_feature("pair-position", std::nullopt, Json{{"sampling", {{"smooth_win", 4}}}}), InputError);
}

TEST(PairFeaturesF7, ApproachAvoidanceGateUsesTheShorterArc) {
  // A approaches B from the east, B flees west: an approach-avoidance episode in direction 12.
  Table truth = run("approach-avoidance", westward_pair(false));
  Table fixed = run("approach-avoidance", westward_pair(true));
  ASSERT_EQ(truth.num_rows(), 30u);
  const auto e_truth = truth.column("aa_event_12").i8(), e_fixed = fixed.column("aa_event_12").i8();
  for (std::size_t f = 0; f < 30; ++f) EXPECT_EQ(e_fixed[f], e_truth[f]) << f;
  // with the reference's linear fill the gate fails at 10..12 (heading east vs moving west)
  EXPECT_EQ(e_truth[11], 1);
}

// --- DECISIONS F8: center_mode ------------------------------------------------------------------

TEST(PairFeaturesF8, CenterModeKeypoint) {
  Table t = sim(2, 30);
  Table mean = run("pair-egocentric", t);
  Table k0 = run("pair-egocentric", t, Json{{"center_mode", "0"}});
  Table k0i = run("pair-egocentric", t, Json{{"center_mode", 0}});
  expect_same(k0, k0i, "center_mode \"0\" vs 0");
  EXPECT_FALSE(mean.column("AB_dist").equals(k0.column("AB_dist")));
  // AB_dist with keypoint 0 as centre = |nose_B - nose_A| where both are observed
  const auto d = k0.column("AB_dist").f32();
  const auto fr = k0.column("frame").i64();
  const auto x0 = t.column("poseX0").f64(), y0 = t.column("poseY0").f64();
  for (std::size_t r = 0; r < k0.num_rows(); ++r) {
    std::size_t ra = static_cast<std::size_t>(fr[r]) * 2, rb = ra + 1;  // simulate: sorted by frame then id
    if (std::isnan(x0[ra]) || std::isnan(x0[rb])) continue;
    const double dx = x0[rb] - x0[ra], dy = y0[rb] - y0[ra];
    EXPECT_EQ(d[r], static_cast<float>(std::sqrt(dx * dx + dy * dy))) << r;
  }
  EXPECT_THROW(make_feature("pair-egocentric", std::nullopt, Json{{"center_mode", "median"}}), InputError);
  EXPECT_THROW(make_feature("pair-egocentric", std::nullopt, Json{{"center_mode", 9}}), InputError);
  EXPECT_THROW(make_feature("pair-egocentric", std::nullopt, Json{{"sampling", {{"smooth_win", 2}}}}), InputError);
}

}  // namespace
}  // namespace mosaic
