// ffgroups and ffgroups-metrics (features.md §2.9, §2.10): hand-computed frames, the window's
// NaN padding, events, and the edge cases of issue 5 (one animal, an all-NaN animal, one frame,
// absent rows, unsorted input, 100 animals against a naive full-matrix oracle).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>

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

Table tracks(std::vector<int64_t> frame, std::vector<int64_t> id, std::vector<double> x, std::vector<double> y) {
  Table t;
  const std::size_t n = frame.size();
  t.add_column("frame", Column::from_int64(std::move(frame)));
  std::vector<double> time(n);
  for (std::size_t r = 0; r < n; ++r) time[r] = static_cast<double>(t.column("frame").i64()[r]) / 30.0;
  t.add_column("time", Column::from_float64(std::move(time)));
  t.add_column("id", Column::from_int64(std::move(id)));
  t.add_column("X", Column::from_float64(std::move(x)));
  t.add_column("Y", Column::from_float64(std::move(y)));
  t.add_column("group", Column::constant_string("g", n));
  t.add_column("sequence", Column::constant_string("s", n));
  return t;
}

std::vector<int64_t> ints(const Table& t, const char* col) {
  std::vector<int64_t> v;
  for (std::size_t r = 0; r < t.num_rows(); ++r) v.push_back(t.column(col).as_int64(r));
  return v;
}

Table shuffled(const Table& t, uint64_t seed) {
  std::vector<int64_t> idx(t.num_rows());
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(idx.begin(), idx.end(), rng);
  return t.take(idx);
}

TEST(FFGroups, HandComputedComponentsSizesAndEvents) {
  // Animals 0 and 1 are 5 apart, animal 2 is far away; five frames.
  std::vector<int64_t> f, id;
  std::vector<double> x, y;
  for (int64_t fr = 0; fr < 5; ++fr)
    for (int64_t a = 0; a < 3; ++a) {
      f.push_back(fr);
      id.push_back(a);
      x.push_back(a == 0 ? 0.0 : (a == 1 ? 3.0 : 500.0));
      y.push_back(a == 1 ? 4.0 : 0.0);
    }
  Table out = apply("ffgroups", {{"distance_cutoff", 10.0}, {"window_size", 1}}, tracks(f, id, x, y));
  EXPECT_EQ(out.column_names(), (std::vector<std::string>{"frame", "id", "group_membership", "group_size", "time",
                                                           "sequence", "group", "event"}));
  EXPECT_EQ(out.column("group_membership").type(), DType::kInt32);
  EXPECT_EQ(out.column("group_size").type(), DType::kInt32);
  EXPECT_EQ(out.column("event").type(), DType::kInt64);
  ASSERT_EQ(out.num_rows(), 15u);
  for (std::size_t r = 0; r < 15; ++r) {
    const int64_t a = static_cast<int64_t>(r % 3);
    EXPECT_EQ(out.column("group_membership").as_int64(r), a == 2 ? 1 : 0);
    EXPECT_EQ(out.column("group_size").as_int64(r), a == 2 ? 1 : 2);
    // Member sets in tuple order: (0, 1) is event 0, (2,) is event 1.
    EXPECT_EQ(out.column("event").as_int64(r), a == 2 ? 1 : 0);
  }
  EXPECT_DOUBLE_EQ(out.column("time").f64()[3], 1.0 / 30.0);
  EXPECT_EQ(out.column("sequence").str(0), "s");
}

TEST(FFGroups, WindowAveragesIgnoringNaNPadding) {
  // Pair distance 5, 15, 5, 15 over four frames; cutoff 10, window 3 (nanmean over t-1..t+1).
  // frame 0: mean(pad, 5, 15) = 10 -> not < 10; frame 1: 25/3 -> joined; frame 2: 35/3 -> apart;
  // frame 3: mean(5, 15, pad) = 10 -> apart.
  std::vector<int64_t> f, id;
  std::vector<double> x, y;
  const double d[] = {5, 15, 5, 15};
  for (int64_t fr = 0; fr < 4; ++fr)
    for (int64_t a = 0; a < 2; ++a) {
      f.push_back(fr);
      id.push_back(a);
      x.push_back(a == 0 ? 0.0 : d[fr]);
      y.push_back(0.0);
    }
  Table out = apply("ffgroups", {{"distance_cutoff", 10.0}, {"window_size", 3}}, tracks(f, id, x, y));
  EXPECT_EQ(ints(out, "group_size"), (std::vector<int64_t>{1, 1, 2, 2, 1, 1, 1, 1}));
  EXPECT_EQ(ints(out, "group_membership"), (std::vector<int64_t>{0, 1, 0, 0, 0, 1, 0, 1}));
}

TEST(FFGroups, EvenWindowIsRejected) {
  try {
    make_feature("ffgroups", std::nullopt, {{"window_size", 4}});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("window_size"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("odd"), std::string::npos) << e.what();
  }
}

TEST(FFGroups, OneAnimalOneFrameAndEmpty) {
  Table one = apply("ffgroups", Json::object(), tracks({0, 1, 2}, {4, 4, 4}, {1, 2, 3}, {0, 0, 0}));
  EXPECT_EQ(ints(one, "group_membership"), (std::vector<int64_t>{0, 0, 0}));
  EXPECT_EQ(ints(one, "group_size"), (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(ints(one, "event"), (std::vector<int64_t>{0, 0, 0}));  // alone for frames 0..2
  Table frame = apply("ffgroups", Json::object(), tracks({9, 9}, {1, 2}, {0, 1}, {0, 0}));
  EXPECT_EQ(ints(frame, "group_size"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(ints(frame, "event"), (std::vector<int64_t>{-1, -1}));  // one frame spans no duration
  EXPECT_EQ(apply("ffgroups", Json::object(), Table()).num_rows(), 0u);
}

TEST(FFGroups, AllNaNAnimalAndAbsentRowsAreSingletons) {
  // id 2 is all NaN; id 1 has no rows at frames 2 and 3; frames 0-3 then a gap to 6-7.
  std::vector<int64_t> f, id;
  std::vector<double> x, y;
  for (int64_t fr : {0, 1, 2, 3, 6, 7})
    for (int64_t a = 0; a < 3; ++a) {
      if (a == 1 && (fr == 2 || fr == 3)) continue;
      f.push_back(fr);
      id.push_back(a);
      x.push_back(a == 2 ? kNaN : static_cast<double>(a));
      y.push_back(a == 2 ? kNaN : 0.0);
    }
  Table out = apply("ffgroups", {{"window_size", 1}}, tracks(f, id, x, y));
  ASSERT_EQ(out.num_rows(), 18u);  // the full 6 x 3 grid
  EXPECT_EQ(ints(out, "group_size"), (std::vector<int64_t>{2, 2, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 2, 2, 1, 2, 2, 1}));
  // Events in member-tuple order per run: run 0-3: (0,) over 2-3 is event 0, (0, 1) over 0-1 is
  // event 1, (1,) over 2-3 is event 2, (2,) over 0-3 is event 3; run 6-7: (0, 1) 4, (2,) 5.
  EXPECT_EQ(ints(out, "event"), (std::vector<int64_t>{1, 1, 3, 1, 1, 3, 0, 2, 3, 0, 2, 3, 4, 4, 5, 4, 4, 5}));
}

TEST(FFGroups, UnsortedInputGivesTheSameGrid) {
  SimulationOptions o;
  o.animals = 5;
  o.frames = 300;
  o.seed = 4;
  Table t = simulate_sequence(o, 0);
  t.add_column("group", Column::constant_string("g", t.num_rows()));
  t.add_column("sequence", Column::constant_string("s", t.num_rows()));
  Json p = {{"distance_cutoff", 150.0}};
  Table a = apply("ffgroups", p, t);
  Table b = apply("ffgroups", p, shuffled(t, 3));
  EXPECT_TRUE(a.equals(b));
}

// Naive oracle: full T x N x N float32 tensor, the reference's nanmean, full-matrix union-find.
struct NaiveGroups {
  std::vector<int32_t> labels, sizes;
};
NaiveGroups naive_groups(const std::vector<float>& px, const std::vector<float>& py, std::size_t t_count, std::size_t n,
                         int win, double cutoff) {
  std::vector<float> dist(t_count * n * n);
  for (std::size_t t = 0; t < t_count; ++t)
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) {
        const float dx = px[t * n + i] - px[t * n + j], dy = py[t * n + i] - py[t * n + j];
        dist[(t * n + i) * n + j] = i == j ? NAN : std::sqrt(dx * dx + dy * dy);
      }
  NaiveGroups g;
  const int pad = win / 2;
  for (std::size_t t = 0; t < t_count; ++t) {
    std::vector<int> parent(n);
    std::iota(parent.begin(), parent.end(), 0);
    std::vector<int> rank(n, 0);
    std::function<int(int)> root = [&](int i) {
      if (parent[static_cast<std::size_t>(i)] != i) parent[static_cast<std::size_t>(i)] = root(parent[static_cast<std::size_t>(i)]);
      return parent[static_cast<std::size_t>(i)];
    };
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i + 1; j < n; ++j) {
        float s = 0;
        int c = 0;
        for (int k = -pad; k <= pad; ++k) {
          const auto tt = static_cast<int64_t>(t) + k;
          if (tt < 0 || tt >= static_cast<int64_t>(t_count)) continue;
          const float v = dist[(static_cast<std::size_t>(tt) * n + i) * n + j];
          if (!std::isnan(v)) {
            s += v;
            ++c;
          }
        }
        const float m = c ? static_cast<float>(static_cast<double>(s) / c) : NAN;
        if (!(static_cast<double>(m) < cutoff)) continue;
        int rx = root(static_cast<int>(i)), ry = root(static_cast<int>(j));
        if (rx == ry) continue;
        if (rank[static_cast<std::size_t>(rx)] < rank[static_cast<std::size_t>(ry)]) parent[static_cast<std::size_t>(rx)] = ry;
        else if (rank[static_cast<std::size_t>(rx)] > rank[static_cast<std::size_t>(ry)]) parent[static_cast<std::size_t>(ry)] = rx;
        else {
          parent[static_cast<std::size_t>(ry)] = rx;
          ++rank[static_cast<std::size_t>(rx)];
        }
      }
    std::vector<int> comp(n);
    for (std::size_t i = 0; i < n; ++i) comp[i] = root(static_cast<int>(i));
    std::set<int> roots(comp.begin(), comp.end());
    std::map<int, int> size;
    for (int c : comp) ++size[c];
    for (std::size_t i = 0; i < n; ++i) {
      g.labels.push_back(static_cast<int32_t>(std::distance(roots.begin(), roots.find(comp[i]))));
      g.sizes.push_back(size[comp[i]]);
    }
  }
  return g;
}

TEST(FFGroups, HundredAnimalsAgainstNaiveOracle) {
  SimulationOptions o;
  o.animals = 100;
  o.frames = 40;
  o.seed = 8;
  o.arena = 3000;
  Table t = simulate_sequence(o, 0);
  Table out = apply("ffgroups", {{"distance_cutoff", 120.0}}, t);
  const std::size_t n = 100, t_count = 40;
  ASSERT_EQ(out.num_rows(), n * t_count);
  std::vector<float> px(n * t_count), py(n * t_count);
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    const auto cell = static_cast<std::size_t>(t.column("frame").as_int64(r)) * n + static_cast<std::size_t>(t.column("id").as_int64(r));
    px[cell] = static_cast<float>(t.column("X").f64()[r]);
    py[cell] = static_cast<float>(t.column("Y").f64()[r]);
  }
  NaiveGroups g = naive_groups(px, py, t_count, n, 5, 120.0);
  std::vector<int64_t> labels(g.labels.begin(), g.labels.end()), sizes(g.sizes.begin(), g.sizes.end());
  EXPECT_EQ(ints(out, "group_membership"), labels);
  EXPECT_EQ(ints(out, "group_size"), sizes);
  std::set<int64_t> distinct(sizes.begin(), sizes.end());
  EXPECT_GT(distinct.size(), 2u) << "the oracle comparison should see groups of several sizes";
}

// ---- ffgroups-metrics --------------------------------------------------------------------------

Table metrics_input() {
  // Three animals over four frames; ids 0 and 1 form a group (event 0) in frames 0-2, id 2 is
  // alone (event 1); in frame 3 everyone is alone (event -1, ranked together).
  Table t;
  const std::vector<int64_t> frame = {0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3};
  const std::vector<int64_t> id = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2};
  const std::vector<double> x = {0, 4, 50, 0, 6, 51, 1, 5, 52, 0, 10, 60};
  const std::vector<double> y = {0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0};
  const std::vector<int64_t> gs = {2, 2, 1, 2, 2, 1, 2, 2, 1, 1, 1, 1};
  const std::vector<int64_t> ev = {0, 0, 1, 0, 0, 1, 0, 0, 1, -1, -1, -1};
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("time", Column::from_float64({0, 0, 0, 0.5, 0.5, 0.5, 1, 1, 1, 1.5, 1.5, 1.5}));
  t.add_column("id", Column::from_int64(id));
  t.add_column("X", Column::from_float64(x));
  t.add_column("Y", Column::from_float64(y));
  t.add_column("speed", Column::from_float64(std::vector<double>(12, 1.0)));
  t.add_column("group_size", Column::from_int64(gs));
  t.add_column("event", Column::from_int64(ev));
  t.add_column("group", Column::constant_string("g", 12));
  t.add_column("sequence", Column::constant_string("s", 12));
  return t;
}

TEST(FFGroupsMetrics, HandComputedSummary) {
  Table out = apply("ffgroups-metrics", Json::object(), metrics_input());
  EXPECT_EQ(out.column_names(),
            (std::vector<std::string>{"id", "group_size", "fractime_norm2", "avg_duration_frame", "med_duration_frame",
                                      "ftime_periphery", "ftime_periphery_norm", "sequence", "event", "chunk_id",
                                      "chunk_start_frame", "chunk_end_frame", "chunk_start_time", "chunk_end_time"}));
  // Rows: (0,1) (0,2) (1,1) (1,2) (2,1).
  EXPECT_EQ(ints(out, "id"), (std::vector<int64_t>{0, 0, 1, 1, 2}));
  EXPECT_EQ(ints(out, "group_size"), (std::vector<int64_t>{1, 2, 1, 2, 1}));
  const auto frac = out.column("fractime_norm2").f64();
  EXPECT_EQ(frac[0], 0.25);
  EXPECT_EQ(frac[1], 0.75);
  EXPECT_EQ(frac[4], 1.0);
  EXPECT_EQ(out.column("avg_duration_frame").f64()[1], 3.0);
  EXPECT_EQ(out.column("med_duration_frame").f64()[4], 4.0);
  // Pair (0, 1): the centroid is the midpoint, both members tie at the same distance, rank "max"
  // gives both rank 2 == group size -> both are "farthest" in all three frames.
  EXPECT_EQ(out.column("ftime_periphery").f64()[1], 1.0);
  EXPECT_EQ(out.column("ftime_periphery_norm").f64()[1], 2.0);
  EXPECT_EQ(out.column("ftime_periphery").f64()[3], 1.0);
  // Frame 3 ranks all three (event -1) together: rank 1 (== group size 1) is the *closest*, id 1
  // at x=10 is nearest to the centroid x=70/3; ids 0 and 2 were never "farthest" at size 1 -> NaN.
  EXPECT_TRUE(std::isnan(out.column("ftime_periphery").f64()[0]));
  EXPECT_EQ(out.column("ftime_periphery").f64()[2], 1.0);
  EXPECT_EQ(out.column("ftime_periphery").f64()[4], 0.75);  // id 2 alone in its event, frames 0-2
  // §4.18: the "event" column carries the first row's event value; chunk = whole sequence.
  EXPECT_EQ(ints(out, "event"), (std::vector<int64_t>(5, 0)));
  EXPECT_EQ(ints(out, "chunk_start_frame"), (std::vector<int64_t>(5, 0)));
  EXPECT_EQ(ints(out, "chunk_end_frame"), (std::vector<int64_t>(5, 3)));
  EXPECT_EQ(out.column("chunk_end_time").f64()[0], 1.5);
}

TEST(FFGroupsMetrics, ChunksAndMissingColumns) {
  Table out = apply("ffgroups-metrics", {{"frame_chunk", 2}}, metrics_input());
  std::set<int64_t> chunks;
  for (int64_t c : ints(out, "chunk_id")) chunks.insert(c);
  EXPECT_EQ(chunks, (std::set<int64_t>{0, 1}));
  EXPECT_EQ(out.column("chunk_end_frame").as_int64(out.num_rows() - 1), 4);  // exclusive end for frame chunks
  Table by_time = apply("ffgroups-metrics", {{"time_chunk_sec", 1.0}}, metrics_input());
  EXPECT_EQ(by_time.column("chunk_start_time").f64()[0], 0.0);
  EXPECT_EQ(by_time.column("chunk_end_time").f64()[0], 1.0);
  Table no_speed = metrics_input();
  no_speed.drop_column("speed");
  EXPECT_THROW(apply("ffgroups-metrics", Json::object(), no_speed), SchemaError);
  // Excluded rows are dropped first.
  Table ex = metrics_input();
  ex.add_column("bad", Column::from_bool({1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  Table out_ex = apply("ffgroups-metrics", {{"exclude_cols", {"bad"}}}, ex);
  EXPECT_EQ(ints(out_ex, "chunk_start_frame")[0], 1);
}

TEST(FFGroupsMetrics, EdgeCases) {
  // One animal, one frame, unsorted input, an all-NaN animal, 100 animals.
  Table t = metrics_input();
  Table a = apply("ffgroups-metrics", Json::object(), t);
  Table b = apply("ffgroups-metrics", Json::object(), shuffled(t, 5));
  EXPECT_TRUE(a.equals(b));
  std::vector<uint8_t> keep(t.num_rows());
  for (std::size_t r = 0; r < t.num_rows(); ++r) keep[r] = t.column("id").as_int64(r) == 2;
  Table one = apply("ffgroups-metrics", Json::object(), t.filter(keep));
  EXPECT_EQ(ints(one, "id"), (std::vector<int64_t>{2}));
  Table frame = apply("ffgroups-metrics", Json::object(), t.slice(0, 3));
  EXPECT_EQ(frame.num_rows(), 3u);
  Table nan_x = t;
  std::vector<double> x(t.column("X").f64().begin(), t.column("X").f64().end());
  for (std::size_t r = 0; r < x.size(); ++r)
    if (t.column("id").as_int64(r) == 2) x[r] = kNaN;
  nan_x.set_column("X", Column::from_float64(x));
  Table nan_out = apply("ffgroups-metrics", Json::object(), nan_x);
  EXPECT_TRUE(std::isnan(nan_out.column("ftime_periphery").f64()[nan_out.num_rows() - 1]));
  // 100 animals through ffgroups then metrics: every (id, size) row has fractions summing to 1.
  SimulationOptions o;
  o.animals = 100;
  o.frames = 60;
  o.arena = 3000;
  Table sim = simulate_sequence(o, 0);
  Table groups = apply("ffgroups", {{"distance_cutoff", 120.0}}, sim);
  sim.add_column("group_size", groups.shared_column(*groups.column_index("group_size")));
  sim.add_column("event", groups.shared_column(*groups.column_index("event")));
  sim.add_column("speed", Column::constant_float64(1.0, sim.num_rows()));
  Table m = apply("ffgroups-metrics", Json::object(), sim);
  std::map<int64_t, double> total;
  for (std::size_t r = 0; r < m.num_rows(); ++r) total[m.column("id").as_int64(r)] += m.column("fractime_norm2").f64()[r];
  EXPECT_EQ(total.size(), 100u);
  for (const auto& [id, s] : total) EXPECT_NEAR(s, 1.0, 1e-12) << id;
}

}  // namespace
}  // namespace mosaic
