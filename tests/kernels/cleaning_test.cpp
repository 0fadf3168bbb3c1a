// Cleaning kernels (features.md §0.4): the fast kernels against a deliberately naive per-column
// implementation written from the pandas definitions, plus the documented cases (gaps shorter and
// longer than L, leading/trailing gaps, the gap of 25, all-NaN columns, F7 angle fills) and
// smooth_1d / reflect padding.
#include "features/kernels/cleaning.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>

#include "features/track_cleaning.hpp"

namespace mosaic::kernels {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

// --- naive reference ------------------------------------------------------------------------

// pandas interpolate(method="linear", limit=L, limit_direction="both") by definition: a NaN at p is
// filled iff some valid value lies within L positions on either side; the value is np.interp over
// ALL valid positions (searched from scratch for every p).
std::vector<double> naive_interpolate(const std::vector<double>& x, int64_t limit) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<int64_t> valid;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isnan(x[i])) valid.push_back(i);
  std::vector<double> out = x;
  if (valid.empty()) return out;
  for (int64_t p = 0; p < n; ++p) {
    if (!std::isnan(x[p])) continue;
    bool near = false;
    for (int64_t d = 1; d <= limit; ++d) {
      if (p - d >= 0 && !std::isnan(x[p - d])) near = true;
      if (p + d < n && !std::isnan(x[p + d])) near = true;
    }
    if (!near) continue;
    if (p < valid.front()) {
      out[p] = x[valid.front()];
    } else if (p > valid.back()) {
      out[p] = x[valid.back()];
    } else {
      std::size_t j = 0;
      while (!(valid[j] < p && p < valid[j + 1])) ++j;
      const double xa = static_cast<double>(valid[j]), xb = static_cast<double>(valid[j + 1]);
      const double slope = (x[valid[j + 1]] - x[valid[j]]) / (xb - xa);
      out[p] = slope * (static_cast<double>(p) - xa) + x[valid[j]];
    }
  }
  return out;
}

std::vector<double> naive_ffill(std::vector<double> x, int64_t limit) {
  // by definition: position i gets the last valid value v at k < i if i - k <= limit and every
  // position in (k, i) was NaN in the input of this step
  std::vector<double> in = x;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isnan(in[i])) continue;
    for (std::size_t k = i; k-- > 0;) {
      if (!std::isnan(in[k])) {
        if (static_cast<int64_t>(i - k) <= limit) x[i] = in[k];
        break;
      }
    }
  }
  return x;
}

std::vector<double> naive_bfill(std::vector<double> x, int64_t limit) {
  std::reverse(x.begin(), x.end());
  x = naive_ffill(x, limit);
  std::reverse(x.begin(), x.end());
  return x;
}

double naive_median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double d) { return std::isnan(d); }), v.end());
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  std::size_t m = v.size();
  return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2.0;
}

// Returns the kept rows and the cleaned values (column-major).
std::pair<std::vector<std::size_t>, std::vector<std::vector<double>>> naive_clean(std::vector<std::vector<double>> cols,
                                                                                   const CleaningConfig& cfg) {
  for (auto& c : cols) {
    for (auto& v : c)
      if (std::isinf(v)) v = kNaN;
    c = naive_interpolate(c, cfg.linear_interp_limit);
    if (cfg.edge_fill_limit > 0) c = naive_bfill(naive_ffill(c, cfg.edge_fill_limit), cfg.edge_fill_limit);
  }
  const std::size_t n = cols.empty() ? 0 : cols[0].size();
  std::vector<std::size_t> kept;
  for (std::size_t r = 0; r < n; ++r) {
    double nan = 0;
    for (auto& c : cols) nan += std::isnan(c[r]);
    if (nan / static_cast<double>(cols.size()) <= cfg.max_missing_fraction) kept.push_back(r);
  }
  std::vector<std::vector<double>> out(cols.size());
  for (std::size_t c = 0; c < cols.size(); ++c) {
    for (std::size_t r : kept) out[c].push_back(cols[c][r]);
    double med = naive_median(out[c]);
    for (auto& v : out[c])
      if (std::isnan(v)) v = med;
  }
  return {kept, out};
}

std::pair<std::vector<std::size_t>, std::vector<std::vector<double>>> fast_clean(std::vector<std::vector<double>> cols,
                                                                                  const CleaningConfig& cfg,
                                                                                  std::vector<double> periods = {}) {
  std::vector<std::span<double>> spans(cols.begin(), cols.end());
  std::vector<std::size_t> kept(cols.empty() ? 0 : cols[0].size());
  CleaningScratch scratch;
  std::size_t k = clean_animal_track(spans, periods, cfg, kept, scratch);
  kept.resize(k);
  for (auto& c : cols) c.resize(k);
  return {kept, cols};
}

// --- documented cases --------------------------------------------------------------------------

std::vector<double> with_gap(std::size_t n, std::size_t from, std::size_t len) {
  std::vector<double> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = 1.0 + 0.5 * static_cast<double>(i) + (i % 3 == 0 ? 0.25 : 0.0);
  for (std::size_t i = from; i < from + len; ++i) x[i] = kNaN;
  return x;
}

TEST(CleaningKernel, ShortGapIsInterpolatedLinearly) {
  std::vector<double> x = {0.0, kNaN, kNaN, kNaN, 8.0};
  interpolate_limited(x, 10);
  EXPECT_EQ(x, (std::vector<double>{0, 2, 4, 6, 8}));
}

TEST(CleaningKernel, LongGapKeepsItsMiddle) {
  // gap of 30 (positions 1..30), L = 10: 1..10 and 21..30 interpolated, 11..20 stay NaN
  std::vector<double> x = with_gap(32, 1, 30);
  interpolate_limited(x, 10);
  for (std::size_t p = 1; p <= 30; ++p) EXPECT_EQ(std::isnan(x[p]), p >= 11 && p <= 20) << p;
}

TEST(CleaningKernel, GapOf25Gets10Plus3FromEachSide) {
  // positions 1..25 missing between valid 0 and 26: interpolation fills 1..10 and 16..25, ffill
  // takes 11..13 from position 10, bfill 14..15 from position 16 (it could take 3, 2 are left).
  std::vector<double> x = with_gap(27, 1, 25);
  const std::vector<double> orig = x;
  interpolate_limited(x, 10);
  const double v10 = x[10], v16 = x[16];
  for (std::size_t p = 11; p <= 15; ++p) EXPECT_TRUE(std::isnan(x[p])) << p;
  fill_limited(x, 3);
  for (std::size_t p = 11; p <= 13; ++p) EXPECT_EQ(x[p], v10) << p;
  for (std::size_t p = 14; p <= 15; ++p) EXPECT_EQ(x[p], v16) << p;
  // a gap of 33: 10 interpolated + 3 forward from the left, 3 back + 10 interpolated from the right
  std::vector<double> y = with_gap(35, 1, 33);
  interpolate_limited(y, 10);
  fill_limited(y, 3);
  for (std::size_t p = 1; p <= 33; ++p) EXPECT_EQ(std::isnan(y[p]), p >= 14 && p <= 20) << p;
  EXPECT_EQ(y[11], y[10]);
  EXPECT_EQ(y[13], y[10]);
  EXPECT_EQ(y[21], y[24]);
  EXPECT_EQ(y[23], y[24]);
  EXPECT_EQ(x[0], orig[0]);
}

TEST(CleaningKernel, LeadingAndTrailingGapsTakeTheEdgeValueWithinLimits) {
  // 14 leading NaNs: within L = 10 of the first valid (position 14) -> constant, then bfill 3 more
  std::vector<double> x(30, kNaN);
  for (std::size_t i = 14; i < 16; ++i) x[i] = 5.0 + static_cast<double>(i);
  interpolate_limited(x, 10);
  for (std::size_t p = 0; p < 14; ++p) EXPECT_EQ(std::isnan(x[p]), p < 4) << p;
  for (std::size_t p = 4; p < 14; ++p) EXPECT_EQ(x[p], 19.0);
  for (std::size_t p = 16; p < 30; ++p) EXPECT_EQ(std::isnan(x[p]), p > 25) << p;
  fill_limited(x, 3);
  for (std::size_t p = 0; p < 14; ++p) EXPECT_EQ(std::isnan(x[p]), p < 1) << p;
  for (std::size_t p = 16; p < 30; ++p) EXPECT_EQ(std::isnan(x[p]), p > 28) << p;
  EXPECT_EQ(x[28], 20.0);
}

TEST(CleaningKernel, AllNanColumnStaysNanAndDropsOrMedianFills) {
  // 2 columns, one all NaN: every row has NaN fraction 0.5 > 0.10 -> everything dropped
  std::vector<std::vector<double>> cols = {{1, 2, 3}, {kNaN, kNaN, kNaN}};
  auto [kept, vals] = fast_clean(cols, CleaningConfig{});
  EXPECT_TRUE(kept.empty());
  // with max_missing_fraction 0.5 the rows stay and the all-NaN column keeps NaN (no median)
  CleaningConfig loose;
  loose.max_missing_fraction = 0.5;
  auto [kept2, vals2] = fast_clean(cols, loose);
  EXPECT_EQ(kept2.size(), 3u);
  for (double v : vals2[1]) EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(vals2[0], (std::vector<double>{1, 2, 3}));
}

TEST(CleaningKernel, MedianFillsWhatSurvivesTheDrop) {
  // 14 columns: 1 NaN per row allowed (1/14 <= 0.10). Column 0 has a long gap in the middle.
  std::vector<std::vector<double>> cols(14, std::vector<double>(60));
  for (std::size_t c = 0; c < 14; ++c)
    for (std::size_t r = 0; r < 60; ++r) cols[c][r] = static_cast<double>(c * 100 + r);
  for (std::size_t r = 5; r < 55; ++r) cols[0][r] = kNaN;
  auto [kept, vals] = fast_clean(cols, CleaningConfig{});
  ASSERT_EQ(kept.size(), 60u);
  // left: 5..14 interpolated? no: the valid neighbours are 4 and 55, so 5..14 and 45..54 are
  // interpolated, 15..17 ffilled, 42..44 bfilled, 18..41 take the median of the rest
  auto [nk, nv] = naive_clean(cols, CleaningConfig{});
  EXPECT_EQ(kept, nk);
  for (std::size_t r = 0; r < 60; ++r) EXPECT_TRUE(same(vals[0][r], nv[0][r])) << r;
  EXPECT_EQ(vals[0][30], vals[0][18]);  // both median-filled
}

TEST(CleaningKernel, InfinitiesAreMissing) {
  std::vector<std::vector<double>> cols = {{1, INFINITY, 3, -INFINITY, 5}};
  auto [kept, vals] = fast_clean(cols, CleaningConfig{});
  EXPECT_EQ(vals[0], (std::vector<double>{1, 2, 3, 4, 5}));
}

TEST(CleaningKernel, EdgeFillZeroMeansNone) {
  std::vector<double> x = with_gap(40, 1, 30);
  interpolate_limited(x, 10);
  std::vector<double> y = x;
  fill_limited(y, 0);
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_TRUE(same(x[i], y[i]));
}

// --- F7: angle columns ---------------------------------------------------------------------------

TEST(CleaningKernel, AngleFillFollowsTheShorterArcAcrossPi) {
  const double pi = std::numbers::pi;
  // 3.0 -> (2 missing) -> -3.0: the short way crosses +pi (increment 2 pi - 6 = 0.283...)
  std::vector<double> a = {3.0, kNaN, kNaN, -3.0};
  interpolate_limited_circular(a, 10, 2 * pi);
  const double inc = (2 * pi - 6.0) / 3.0;
  EXPECT_NEAR(a[1], 3.0 + inc, 1e-12);
  double second = 3.0 + 2 * inc;  // > pi: wrapped back into [-pi, pi)
  EXPECT_NEAR(a[2], second - 2 * pi, 1e-12);
  EXPECT_LT(a[2], -3.0 + 1e-9);
  EXPECT_GE(a[2], -pi);
  // the plain interpolation goes the long way round through 0
  std::vector<double> b = {3.0, kNaN, kNaN, -3.0};
  interpolate_limited(b, 10);
  EXPECT_DOUBLE_EQ(b[1], 1.0);
  EXPECT_DOUBLE_EQ(b[2], -1.0);
  // no crossing: bit-identical to the plain kernel
  std::vector<double> c = {0.1, kNaN, kNaN, kNaN, 1.7, kNaN, -1.2};
  std::vector<double> d = c;
  interpolate_limited_circular(c, 10, 2 * pi);
  interpolate_limited(d, 10);
  for (std::size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i], d[i]) << i;
  // degrees
  std::vector<double> e = {170.0, kNaN, -170.0};
  interpolate_limited_circular(e, 10, 360.0);
  EXPECT_DOUBLE_EQ(e[1], -180.0);
}

TEST(CleaningKernel, UnwrapIncrementMatchesNumpy) {
  const double pi = std::numbers::pi;
  EXPECT_EQ(unwrap_increment(0.5, 1.0, 2 * pi), 0.5);
  EXPECT_NEAR(unwrap_increment(3.0, -3.0, 2 * pi), 2 * pi - 6.0, 1e-15);
  EXPECT_NEAR(unwrap_increment(-3.0, 3.0, 2 * pi), 6.0 - 2 * pi, 1e-15);
  EXPECT_EQ(unwrap_increment(0.0, pi, 2 * pi), pi);     // +pi keeps its sign (numpy)
  EXPECT_EQ(unwrap_increment(0.0, -pi, 2 * pi), -pi);
  EXPECT_TRUE(std::isnan(unwrap_increment(kNaN, 1.0, 2 * pi)));
}

// --- random oracle ---------------------------------------------------------------------------------

TEST(CleaningKernel, RandomColumnsMatchTheNaiveOracle) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  for (int trial = 0; trial < 400; ++trial) {
    const std::size_t n = 1 + rng() % 80;
    const std::size_t ncols = 1 + rng() % 5;
    CleaningConfig cfg;
    cfg.linear_interp_limit = 1 + static_cast<int64_t>(rng() % 12);
    cfg.edge_fill_limit = static_cast<int64_t>(rng() % 5);
    cfg.max_missing_fraction = std::vector<double>{0.0, 0.1, 0.25, 0.5, 1.0}[rng() % 5];
    const double miss = std::vector<double>{0.0, 0.05, 0.3, 0.7, 1.0}[rng() % 5];
    std::vector<std::vector<double>> cols(ncols, std::vector<double>(n));
    for (auto& c : cols) {
      bool in_gap = false;
      for (auto& v : c) {
        if (u(rng) < 0.1) in_gap = !in_gap;  // bursty gaps of varied length
        v = (in_gap && u(rng) < miss) || u(rng) < miss * 0.2 ? kNaN : std::round(u(rng) * 1000) / 8;
      }
    }
    auto [fk, fv] = fast_clean(cols, cfg);
    auto [nk, nv] = naive_clean(cols, cfg);
    ASSERT_EQ(fk, nk) << "trial " << trial;
    for (std::size_t c = 0; c < ncols; ++c)
      for (std::size_t r = 0; r < fk.size(); ++r)
        ASSERT_TRUE(same(fv[c][r], nv[c][r])) << "trial " << trial << " col " << c << " row " << r << ": "
                                              << fv[c][r] << " vs " << nv[c][r];
  }
}

TEST(CleaningKernel, EmptyAndSingleRow) {
  auto [k0, v0] = fast_clean({{}}, CleaningConfig{});
  EXPECT_TRUE(k0.empty());
  auto [k1, v1] = fast_clean({{2.5}, {kNaN}}, CleaningConfig{});
  EXPECT_TRUE(k1.empty());  // 1 of 2 NaN
  auto [k2, v2] = fast_clean({{2.5}, {1.0}}, CleaningConfig{});
  EXPECT_EQ(k2, (std::vector<std::size_t>{0}));
}

TEST(CleaningKernel, GroupedSortsDropsAndCleansPerGroup) {
  // rows: group 1 (unsorted frames), group 0, a dropped row (-1)
  std::vector<int64_t> group = {1, 1, 0, -1, 1, 0};
  std::vector<double> order = {3, 1, 0, 9, 2, 1};
  std::vector<double> x = {30, 10, 0, 99, kNaN, 1};
  std::vector<std::span<const double>> cols = {x};
  CleanedTracks out;
  clean_tracks_grouped(group, 2, order, cols, {}, CleaningConfig{}, out);
  EXPECT_EQ(out.group_offsets, (std::vector<std::size_t>{0, 2, 5}));
  EXPECT_EQ(out.source_rows, (std::vector<std::size_t>{2, 5, 1, 4, 0}));
  EXPECT_EQ(out.columns[0], (std::vector<double>{0, 1, 10, 20, 30}));
}

// --- smooth_1d ---------------------------------------------------------------------------------------

TEST(Smooth1d, ReflectPaddedBoxFilter) {
  std::vector<double> x = {1, 2, 4, 8, 16};
  std::vector<double> out(5);
  ASSERT_TRUE(smooth_1d(x, 3, out));
  // reflect pad: [2, 1 2 4 8 16, 8]
  EXPECT_DOUBLE_EQ(out[0], (2 + 1 + 2) / 3.0);
  EXPECT_DOUBLE_EQ(out[2], (2 + 4 + 8) / 3.0);
  EXPECT_DOUBLE_EQ(out[4], (8 + 16 + 8) / 3.0);
  ASSERT_TRUE(smooth_1d(x, 1, out));
  EXPECT_EQ(out, x);
  EXPECT_FALSE(smooth_1d(x, 4, out));  // even windows are refused
  // numpy pads beyond the length by repeated reflection: np.pad([1,2,3], 5, "reflect")
  std::vector<double> p;
  std::vector<double> small = {1, 2, 3};
  for (int64_t j = -5; j < 8; ++j) p.push_back(small[reflect_index(j, 3)]);
  EXPECT_EQ(p, (std::vector<double>{2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2}));
  EXPECT_EQ(reflect_index(-3, 1), 0u);
  // window longer than the series still works (numpy reflects repeatedly)
  std::vector<double> o3(3);
  ASSERT_TRUE(smooth_1d(small, 7, o3));
  // padded positions -3..3 of [1 2 3] are 2 3 2 1 2 3 2
  EXPECT_DOUBLE_EQ(o3[0], (2 + 3 + 2 + 1 + 2 + 3 + 2) / 7.0);
}

// --- Table adapter ------------------------------------------------------------------------------------

TEST(CleaningTable, GroupedTableLayoutFollowsPandas) {
  Table t;
  t.add_column("frame", Column::from_int64({1, 0, 1, 0, 2}));
  t.add_column("id", Column::from_int64({2, 2, 1, 1, 1}));
  t.add_column("sequence", Column::from_strings({"s", "s", "s", "s", "s"}));
  t.add_column("X", Column::from_float64({5, 4, kNaN, 1, 3}));
  t.add_column("tag", Column::from_strings({"a", "b", "c", "d", "e"}));
  Table out = mosaic::features::clean_tracks_grouped(t, {"sequence", "id"}, {"X"}, "frame", CleaningConfig{});
  EXPECT_EQ(out.column_names(), (std::vector<std::string>{"sequence", "id", "frame", "X", "tag"}));
  EXPECT_EQ(out.column("id").i64()[0], 1);
  EXPECT_EQ(std::vector<double>(out.column("X").f64().begin(), out.column("X").f64().end()),
            (std::vector<double>{1, 2, 3, 4, 5}));
  EXPECT_EQ(out.column("tag").str(1), "c");
}

TEST(CleaningTable, MergeSortedFramesIsAnInnerJoinInLeftOrder) {
  std::vector<double> a = {0, 1, 2, 5, 7}, b = {1, 2, 3, 7, 8};
  std::vector<std::size_t> ia, ib;
  mosaic::features::merge_sorted_frames(a, b, ia, ib);
  EXPECT_EQ(ia, (std::vector<std::size_t>{1, 2, 4}));
  EXPECT_EQ(ib, (std::vector<std::size_t>{0, 1, 3}));
  std::vector<double> c = {1, 1, 2}, d = {1, 1};
  mosaic::features::merge_sorted_frames(c, d, ia, ib);
  EXPECT_EQ(ia, (std::vector<std::size_t>{0, 0, 1, 1}));
  EXPECT_EQ(ib, (std::vector<std::size_t>{0, 1, 0, 1}));
}

}  // namespace
}  // namespace mosaic::kernels
