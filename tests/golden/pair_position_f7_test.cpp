// pair-position and DECISIONS F7 on the golden corpus. The reference interpolates ANGLE gaps as raw
// numbers; F7 interpolates along the shorter arc. Where a gap's two ends lie more than pi apart
// the numbers change, and the goldens (there is no fixed/ variant) differ there. This test checks,
// for every pair-position golden case and entry:
//  1. with F7 off, our output equals the golden on EVERY row (the rest of the port is exact);
//  2. with F7 on (the registered feature), the rows that change are exactly rows of pairs with an
//     animal that has such a gap, and the angle-free columns (speeds, distance, keys) never change.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <set>

#include "common/test_util.hpp"
#include "features/pair_position_internal.hpp"
#include "golden/golden_corpus.hpp"
#include "mosaic/dataset.hpp"

namespace mosaic::golden {
namespace {

// Ids whose ANGLE has a NaN run between finite values at least pi apart (rows sorted by frame).
std::set<int64_t> ids_with_crossing_gaps(const Table& tracks) {
  Table t = tracks.sort_by({"id", "frame"});
  const Column& id = t.column("id");
  Column ang = t.column("ANGLE").cast(DType::kFloat64);
  std::set<int64_t> out;
  std::size_t r = 0;
  while (r < t.num_rows()) {
    std::size_t e = r;
    while (e < t.num_rows() && id.as_int64(e) == id.as_int64(r)) ++e;
    double last = std::nan("");
    bool in_gap = false;
    for (std::size_t i = r; i < e; ++i) {
      double v = ang.f64()[i];
      if (std::isnan(v)) {
        in_gap = !std::isnan(last);
        continue;
      }
      if (in_gap && std::fabs(v - last) >= std::numbers::pi) out.insert(id.as_int64(r));
      in_gap = false;
      last = v;
    }
    r = e;
  }
  return out;
}

bool row_equal(const Table& a, const Table& b, std::size_t r) {
  for (std::size_t c = 0; c < a.num_columns(); ++c) {
    const Column& x = a.column(c);
    const Column& y = b.column(c);
    if (x.type() == DType::kString) {
      if (x.str(r) != y.str(r)) return false;
      continue;
    }
    double u = x.as_double(r), v = y.as_double(r);
    if (!((std::isnan(u) && std::isnan(v)) || u == v)) return false;
  }
  return true;
}

TEST(GoldenPairPositionF7, ReferenceAnglesMatchEveryRowAndTheFixOnlyTouchesCrossingGaps) {
  auto cases = find_cases("pair-position", true);
  if (cases.empty()) GTEST_SKIP() << "needs ../shared/golden (absent)";
  std::size_t changed_total = 0;
  for (const Case& c : cases) {
    testing::TempDir tmp;
    Replay replay = prepare_replay(c, tmp.path());
    for (const auto& e : c.run_info["outputs"]) {
      const std::string key = e["entry"].get<std::string>();
      std::string group, sequence;
      for (const auto& en : c.run_info["entries"])
        if (en["entry_key"] == key) {
          group = en["group"].get<std::string>();
          sequence = en["sequence"].get<std::string>();
        }
      Table tracks = replay.dataset.load_tracks(group, sequence);
      if (replay.options.start_frame || replay.options.end_frame) {
        std::vector<uint8_t> keep(tracks.num_rows(), 1);
        for (std::size_t r = 0; r < tracks.num_rows(); ++r) {
          int64_t f = tracks.column("frame").as_int64(r);
          if (replay.options.start_frame && f < *replay.options.start_frame) keep[r] = 0;
          if (replay.options.end_frame && f >= *replay.options.end_frame) keep[r] = 0;
        }
        tracks = tracks.filter(keep);
      }
      const std::string where = c.dataset + "/" + c.variant + " " + key;
      Table golden = read_table(c.dir / (key + ".csv"));
      Table reference = features::pair_position_apply(replay.params, tracks, false);
      CompareOptions opt;
      EXPECT_EQ(compare_tables(reference, golden, opt), "") << where << " (F7 off)";
      Table fixed = features::pair_position_apply(replay.params, tracks, true);
      ASSERT_EQ(fixed.num_rows(), reference.num_rows()) << where;
      if (fixed.num_rows() == 0) continue;
      const std::set<int64_t> crossing = ids_with_crossing_gaps(tracks);
      for (const char* col : {"A_speed", "B_speed", "AB_dist", "frame", "id1", "id2", "perspective"})
        EXPECT_TRUE(fixed.column(col).equals(reference.column(col))) << where << " column " << col;
      std::size_t changed = 0;
      for (std::size_t r = 0; r < fixed.num_rows(); ++r) {
        if (row_equal(fixed, reference, r)) continue;
        ++changed;
        const int64_t a = fixed.column("id1").i64()[r], b = fixed.column("id2").i64()[r];
        EXPECT_TRUE(crossing.count(a) || crossing.count(b))
            << where << ": row " << r << " (frame " << fixed.column("frame").i64()[r] << ", ids " << a << "," << b
            << ") changed but neither animal has an ANGLE gap across +-pi";
      }
      changed_total += changed;
      std::printf("[ F7 ] %s: %zu of %zu rows changed by F7\n", where.c_str(), changed, fixed.num_rows());
    }
  }
  EXPECT_GT(changed_total, 0u) << "the corpus should exercise F7 (deepof_mice2, trex_guppies8)";
}

}  // namespace
}  // namespace mosaic::golden
