// temporal-stack (features.md §1.9 + DECISIONS F2): grouping by (id1, id2, perspective) or id with a
// stable frame sort, offsets and names, pooled statistics and the win_sec-honouring pool radius,
// pool_stats normalisation, the edge cases of issue 5, and the pooling kernel against the
// golden's pool columns with the reference's radius (the one number F2 changes on purpose).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <numeric>
#include <random>

#include "features/kernels/filters.hpp"
#include "kernels/golden_csv.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/feature.hpp"

namespace mosaic {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Table run_stack(const Json& params, const Table& t) {
  auto f = make_feature("temporal-stack", Inputs::of({Result{"upstream", std::string("0.1-x")}}), params);
  return f->apply(t);
}

// The reference's smoothing of one column (float32 in and out).
std::vector<float> smooth(const std::vector<float>& x, double sigma, int64_t radius) {
  std::vector<double> w(static_cast<std::size_t>(2 * radius + 1)), scratch(x.size() + w.size());
  kernels::gaussian_kernel1d(sigma, radius, w);
  std::vector<float> out(x.size());
  kernels::gaussian_filter1d_nearest(x, w, out, scratch);
  return out;
}

// Pair data: two pairs x two perspectives, interleaved, frames in reverse order.
Table pair_input() {
  Table t;
  std::vector<int64_t> frame, id1, id2;
  std::vector<int8_t> persp;
  std::vector<double> a, b;
  for (int64_t f = 9; f >= 0; --f)
    for (int64_t p = 0; p < 2; ++p)
      for (int64_t pair = 0; pair < 2; ++pair) {
        frame.push_back(f);
        id1.push_back(pair == 0 ? (p == 0 ? 0 : 1) : (p == 0 ? 0 : 2));
        id2.push_back(pair == 0 ? (p == 0 ? 1 : 0) : (p == 0 ? 2 : 0));
        persp.push_back(static_cast<int8_t>(p));
        a.push_back(static_cast<double>(f * f) + 100.0 * static_cast<double>(p) + 10.0 * static_cast<double>(pair));
        b.push_back(std::sin(static_cast<double>(f)) * (p ? -1 : 1));
      }
  const std::size_t n = frame.size();
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("id1", Column::from_int64(id1));
  t.add_column("id2", Column::from_int64(id2));
  t.add_column("perspective", Column::from_int8(persp));
  t.add_column("b_feat", Column::from_float64(b));
  t.add_column("a_feat", Column::from_float64(a));
  t.add_column("sequence", Column::constant_string("s", n));
  t.add_column("group", Column::constant_string("g", n));
  return t;
}

TEST(TemporalStack, PairGroupsByPerspectiveWithStableFrameSort) {
  Json p = {{"half", 2}, {"skip", 2}, {"sigma_stack", 1.0}, {"pool_stats", {"mean", "variance", "std"}}};
  Table out = run_stack(p, pair_input());
  std::vector<std::string> expected;
  for (const char* o : {"-02", "+00", "+02"})
    for (const char* c : {"a_feat", "b_feat"}) expected.push_back(std::string(c) + "__t" + o);
  for (const char* s : {"__pool_mean", "__pool_var", "__pool_std"})
    for (const char* c : {"a_feat", "b_feat"}) expected.push_back(std::string(c) + s);
  for (const char* m : {"frame", "group", "id1", "id2", "perspective", "sequence"}) expected.emplace_back(m);
  EXPECT_EQ(out.column_names(), expected);
  EXPECT_EQ(out.column("perspective").type(), DType::kInt8);
  EXPECT_EQ(out.column("a_feat__t+00").type(), DType::kFloat32);
  ASSERT_EQ(out.num_rows(), 40u);
  // Groups by first appearance: (0,1,p0), (0,2,p0), (1,0,p1), (2,0,p1); frames ascending in each.
  const int64_t id1[] = {0, 0, 1, 2}, id2[] = {1, 2, 0, 0}, pp[] = {0, 0, 1, 1};
  for (std::size_t g = 0; g < 4; ++g)
    for (std::size_t f = 0; f < 10; ++f) {
      const std::size_t r = g * 10 + f;
      ASSERT_EQ(out.column("frame").as_int64(r), static_cast<int64_t>(f));
      ASSERT_EQ(out.column("id1").as_int64(r), id1[g]);
      ASSERT_EQ(out.column("id2").as_int64(r), id2[g]);
      ASSERT_EQ(out.column("perspective").as_int64(r), pp[g]);
    }
  // Group 2 = pair 0, perspective 1: a = f^2 + 100; the stack never mixes in perspective 0.
  std::vector<float> base(10);
  for (std::size_t f = 0; f < 10; ++f) base[f] = static_cast<float>(static_cast<double>(f * f) + 100.0);
  const std::vector<float> s = smooth(base, 1.0, 4);
  for (std::size_t f = 0; f < 10; ++f) {
    EXPECT_EQ(out.column("a_feat__t+00").f32()[20 + f], s[f]);
    EXPECT_EQ(out.column("a_feat__t-02").f32()[20 + f], s[f >= 2 ? f - 2 : 0]);
    EXPECT_EQ(out.column("a_feat__t+02").f32()[20 + f], s[std::min<std::size_t>(f + 2, 9)]);
  }
  // Pooling with the defaults (sigma 30, win_sec 0.5, fps 30): radius 8 (F2), not 30.
  const std::vector<float> m = smooth(base, 30.0, 8);
  std::vector<float> sq(10);
  for (std::size_t f = 0; f < 10; ++f) sq[f] = base[f] * base[f];
  const std::vector<float> m2 = smooth(sq, 30.0, 8);
  for (std::size_t f = 0; f < 10; ++f) {
    EXPECT_EQ(out.column("a_feat__pool_mean").f32()[20 + f], m[f]);
    const float var = std::max(m2[f] - m[f] * m[f], 0.0f);
    EXPECT_EQ(out.column("a_feat__pool_var").f32()[20 + f], var);
    EXPECT_EQ(out.column("a_feat__pool_std").f32()[20 + f], std::sqrt(var));
  }
}

TEST(TemporalStack, PoolWindowHonoursWinSec) {
  // Defaults: win = 15 frames -> radius int(15 / 60 * 30 + 0.5) = 8 (the reference: 30).
  std::vector<double> w;
  auto radius = [](double sigma_pool, double fps, double win_sec) {
    double sigma = sigma_pool > 0 ? sigma_pool : std::max(1.0, win_sec * fps / 6.0);
    const double win = std::max(1.0, std::nearbyint(win_sec * fps));
    return kernels::gaussian_radius(sigma, win / (2 * sigma));
  };
  EXPECT_EQ(radius(30, 30, 0.5), 8);
  EXPECT_EQ(radius(30, 15, 0.5), 4);  // round(7.5) = 8 (half to even)
  EXPECT_EQ(radius(30, 30, 2.0), 30);
  // sigma_pool <= 0 (sigma = win / 6): truncate 3, as in the reference (F2 changes nothing there).
  EXPECT_EQ(radius(0, 30, 0.5), kernels::gaussian_radius(2.5, 3.0));
  // The feature's pool equals a win_sec-wide smoothing: a longer win_sec changes the pool.
  Table t = pair_input();
  Table a = run_stack({{"half", 0}, {"win_sec", 0.5}}, t);
  Table b = run_stack({{"half", 0}, {"win_sec", 1.0}}, t);
  EXPECT_FALSE(a.column("a_feat__pool_mean").equals(b.column("a_feat__pool_mean")));
}

TEST(TemporalStack, PoolStatsAreNormalised) {
  auto f = make_feature("temporal-stack", Inputs::of({Result{"u", std::string("0.1-x")}}), {{"pool_stats", "MEAN"}});
  EXPECT_EQ(f->params()["pool_stats"], Json::array({"mean"}));
  auto g = make_feature("temporal-stack", Inputs::of({Result{"u", std::string("0.1-x")}}),
                        {{"pool_stats", Json::array({"Mean", "STD"})}});
  EXPECT_EQ(g->params()["pool_stats"], Json::array({"mean", "std"}));
  EXPECT_EQ(f->info().version, "0.3+cpp.1");
  Table out = run_stack({{"pool_stats", Json::array()}, {"half", 0}}, pair_input());
  EXPECT_FALSE(out.has_column("a_feat__pool_mean"));
  Table flat = run_stack({{"use_temporal_stack", false}, {"add_pool", false}}, pair_input());
  EXPECT_TRUE(flat.has_column("a_feat"));
  EXPECT_EQ(flat.column("a_feat").type(), DType::kFloat32);
}

TEST(TemporalStack, PerAnimalDataIsGroupedById) {
  // Two animals interleaved: each is smoothed on its own (the reference mixed them).
  Table t;
  std::vector<int64_t> frame, id;
  std::vector<double> v;
  for (int64_t f = 0; f < 6; ++f)
    for (int64_t k = 0; k < 2; ++k) {
      frame.push_back(f);
      id.push_back(k);
      v.push_back(k == 0 ? 1.0 : 1000.0);
    }
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("id", Column::from_int64(id));
  t.add_column("speed", Column::from_float64(v));
  t.add_column("time", Column::from_float64(std::vector<double>(12, 0.0)));
  Table out = run_stack({{"half", 2}, {"skip", 1}}, t);
  for (std::size_t r = 0; r < 6; ++r) EXPECT_EQ(out.column("speed__t+01").f32()[r], 1.0f);
  for (std::size_t r = 6; r < 12; ++r) EXPECT_EQ(out.column("speed__pool_mean").f32()[r], 1000.0f);
  EXPECT_EQ(out.column_names().back(), "time");
}

TEST(TemporalStack, EdgeCases) {
  Table t = pair_input();
  // Unsorted input: same values per (pair, perspective, frame); only the group order may change.
  std::vector<int64_t> idx(t.num_rows());
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937_64 rng(1);
  std::shuffle(idx.begin(), idx.end(), rng);
  Table a = run_stack(Json::object(), t).sort_by({"id1", "id2", "perspective", "frame"});
  Table b = run_stack(Json::object(), t.take(idx)).sort_by({"id1", "id2", "perspective", "frame"});
  EXPECT_TRUE(a.equals(b));
  // One frame, one pair, a NaN column (NaN spreads over the smoothing radius, as in scipy).
  Table one = run_stack({{"half", 2}, {"skip", 2}}, t.slice(0, 1));
  EXPECT_EQ(one.num_rows(), 1u);
  EXPECT_EQ(one.column("a_feat__t-02").f32()[0], static_cast<float>(t.column("a_feat").f64()[0]));
  Table nan_t = t;
  nan_t.set_column("b_feat", Column::from_float64(std::vector<double>(t.num_rows(), kNaN)));
  Table nan_out = run_stack(Json::object(), nan_t);
  EXPECT_TRUE(std::isnan(nan_out.column("b_feat__t+00").f32()[0]));
  EXPECT_FALSE(std::isnan(nan_out.column("a_feat__t+00").f32()[0]));
  // Absent rows: a missing frame is simply not there (offsets count rows, as the reference).
  Table gap = run_stack({{"half", 1}, {"skip", 1}, {"sigma_stack", 0.0}}, t.slice(8, t.num_rows() - 8));
  EXPECT_EQ(gap.num_rows(), t.num_rows() - 8);
  // No feature column: an error naming the problem.
  Table meta_only = t;
  meta_only.drop_column("a_feat");
  meta_only.drop_column("b_feat");
  EXPECT_THROW(run_stack(Json::object(), meta_only), SchemaError);
  // 100 animals, per-animal input: each id's pool equals its own smoothing.
  Table many;
  std::vector<int64_t> frame, id;
  std::vector<double> v;
  for (int64_t f = 0; f < 20; ++f)
    for (int64_t k = 0; k < 100; ++k) {
      frame.push_back(f);
      id.push_back(k);
      v.push_back(static_cast<double>(k * 1000 + f * f));
    }
  many.add_column("frame", Column::from_int64(frame));
  many.add_column("id", Column::from_int64(id));
  many.add_column("x", Column::from_float64(v));
  Table mo = run_stack({{"half", 3}, {"skip", 3}, {"sigma_stack", 2.0}}, many);
  ASSERT_EQ(mo.num_rows(), 2000u);
  for (int64_t k : {0, 57, 99}) {
    std::vector<float> base(20);
    for (std::size_t f = 0; f < 20; ++f) base[f] = static_cast<float>(static_cast<double>(k * 1000) + static_cast<double>(f * f));
    const auto s = smooth(base, 2.0, 8), m = smooth(base, 30.0, 8);
    for (std::size_t f = 0; f < 20; ++f) {
      const std::size_t r = static_cast<std::size_t>(k) * 20 + f;
      ASSERT_EQ(mo.column("id").as_int64(r), k);
      EXPECT_EQ(mo.column("x__t+00").f32()[r], s[f]);
      EXPECT_EQ(mo.column("x__pool_mean").f32()[r], m[f]);
    }
  }
}

// The golden pools with the reference's radius (30 frames): our kernel, on the golden's input
// grouped as DECISIONS F2 groups it, reproduces those columns. This covers the one set of columns
// the golden runner cannot compare (tests/golden/cases/temporal-stack.yaml).
TEST(TemporalStack, PoolKernelMatchesGoldenWithReferenceRadius) {
  MOSAIC_REQUIRE_GOLDEN();
  namespace fs = std::filesystem;
  int checked = 0;
  for (const char* ds : {"synth", "jabs_mice4", "deepof_mice2", "sleap_flies2"}) {
    const fs::path out_dir = testing::golden_dir() / ds / "temporal-stack" / "pca-small" / "fixed";
    const fs::path in_dir = testing::golden_dir() / ds / "pair-posedistance-pca" / "defaults" / "fixed";
    if (!fs::exists(out_dir)) continue;
    for (const auto& e : fs::directory_iterator(out_dir)) {
      const std::string name = e.path().filename().string();
      if (name.size() < 10 || name.substr(name.size() - 10) != ".meta.json") continue;
      const std::string key = name.substr(0, name.size() - 10);
      const auto in = testing::read_golden_table(in_dir / (key + ".csv"));
      const auto out = testing::read_golden_table(out_dir / (key + ".csv"));
      // Groups (id1, id2, perspective) by first appearance, frames stably sorted.
      std::map<std::tuple<double, double, double>, std::size_t> index;
      std::vector<std::vector<std::size_t>> groups;
      for (std::size_t r = 0; r < in.rows; ++r) {
        auto k = std::make_tuple(in.at(r, in.col("id1")), in.at(r, in.col("id2")), in.at(r, in.col("perspective")));
        auto [it, inserted] = index.emplace(k, groups.size());
        if (inserted) groups.emplace_back();
        groups[it->second].push_back(r);
      }
      std::size_t at = 0;
      for (auto& g : groups) {
        std::stable_sort(g.begin(), g.end(), [&](std::size_t a, std::size_t b) {
          return in.at(a, in.col("frame")) < in.at(b, in.col("frame"));
        });
        for (int pc = 0; pc < 6; ++pc) {
          const std::string col = "PC" + std::to_string(pc);
          std::vector<float> base(g.size());
          for (std::size_t i = 0; i < g.size(); ++i) base[i] = static_cast<float>(in.at(g[i], in.col(col)));
          const std::vector<float> m = smooth(base, 30.0, 30);
          for (std::size_t i = 0; i < g.size(); ++i) {
            const double golden = out.at(at + i, out.col(col + "__pool_mean"));
            ASSERT_EQ(out.at(at + i, out.col("frame")), in.at(g[i], in.col("frame")));
            ASSERT_NEAR(m[i], golden, 1e-6 * std::fabs(golden) + 1e-30) << ds << " " << key << " " << col << " row " << at + i;
          }
        }
        at += g.size();
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace mosaic
