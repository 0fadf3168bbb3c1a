// Template sampling kernels: golden parity (the reservoir rows of extract-templates/wp-ego and
// the reservoir + farthest-first rows of extract-templates/scaled-ff, both driven by
// default_rng(42), must equal templates.parquet value for value, with the same provenance
// counts) plus the reference's unit-test scenarios (test_extract_templates.py, spec §1.4).
#include "features/kernels/templates.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <set>

#include "kernels/golden_csv.hpp"

namespace mosaic::kernels {
namespace {

namespace fs = std::filesystem;
using mosaic::testing::GoldenMatrix;

const char* const kDatasets[] = {"synth", "jabs_mice4", "deepof_mice2", "sleap_flies2"};
const char* const kVariants[] = {"upstream", "fixed"};

bool same_value(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

struct GoldenRun {
  fs::path dir;
  nlohmann::json run_info;
  GoldenMatrix templates;
  GoldenMatrix provenance;
};

GoldenRun load_run(const fs::path& dir) {
  GoldenRun run;
  run.dir = dir;
  run.run_info = nlohmann::json::parse(mosaic::testing::read_text(dir / "run_info.json"));
  run.templates = mosaic::testing::read_golden_table(dir / "state/export/templates.parquet.csv");
  run.provenance = mosaic::testing::read_golden_table(dir / "state/export/template_provenance.parquet.csv");
  return run;
}

// The per-entry feature matrices the fit streamed (= the entries' apply() outputs, which are
// pass-throughs of the merged inputs), in manifest order, restricted to the template columns.
std::vector<GoldenMatrix> entry_inputs(const GoldenRun& run) {
  std::vector<GoldenMatrix> out;
  for (const auto& e : run.run_info.at("entries"))
    out.push_back(mosaic::testing::read_golden_table(run.dir / (e.at("entry_key").get<std::string>() + ".csv"))
                      .select(run.templates.columns));
  return out;
}

// Compare selected rows with the golden templates, value by value, and the provenance counts.
void expect_rows_equal(const GoldenRun& run, const std::vector<const double*>& rows,
                       const std::vector<int64_t>& counts) {
  ASSERT_EQ(rows.size(), run.templates.rows);
  const std::size_t dim = run.templates.cols();
  int mismatched_rows = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    bool equal = true;
    for (std::size_t c = 0; c < dim; ++c) equal = equal && same_value(rows[r][c], run.templates.at(r, c));
    mismatched_rows += !equal;
  }
  EXPECT_EQ(mismatched_rows, 0);
  ASSERT_EQ(counts.size(), run.provenance.rows);
  const auto golden_counts = run.provenance.column("count");
  for (std::size_t e = 0; e < counts.size(); ++e) EXPECT_EQ(counts[e], golden_counts[e]) << "entry " << e;
}

TEST(TemplatesGolden, ReservoirWpEgo) {
  MOSAIC_REQUIRE_GOLDEN();
  int cases = 0;
  for (const char* ds : kDatasets) {
    for (const char* variant : kVariants) {
      const fs::path dir = mosaic::testing::golden_dir() / ds / "extract-templates/wp-ego" / variant;
      if (!fs::exists(dir / "state/export/templates.parquet.csv")) continue;
      SCOPED_TRACE(std::string(ds) + "/" + variant);
      ++cases;
      const GoldenRun run = load_run(dir);
      const auto& params = run.run_info.at("params_model_dump");
      ASSERT_EQ(params.at("pool").at("allocation"), "reservoir");
      ASSERT_TRUE(params.at("pool").at("max_entry_fraction").is_null());
      const auto pool_size = params.at("pool").at("size").is_null()
                                 ? params.at("n_templates").get<std::size_t>()
                                 : params.at("pool").at("size").get<std::size_t>();
      const std::vector<GoldenMatrix> inputs = entry_inputs(run);
      Pcg64 rng(params.at("random_state").get<uint64_t>());
      TemplateReservoir pool(pool_size, run.templates.cols());
      for (const auto& m : inputs) pool.add_entry(m.values.data(), m.rows, rng);
      std::vector<const double*> rows;
      for (std::size_t s = 0; s < pool.filled(); ++s) rows.push_back(pool.templates().data() + s * pool.dim());
      expect_rows_equal(run, rows, count_per_entry(pool.template_entries(), pool.n_entries()));
      // The provenance row indices point at the same values in the inputs.
      for (std::size_t s = 0; s < pool.filled(); ++s) {
        const GoldenMatrix& m = inputs[pool.template_entries()[s]];
        ASSERT_TRUE(same_value(m.at(pool.template_rows()[s], 0), rows[s][0]));
      }
    }
  }
  EXPECT_GT(cases, 0);
}

TEST(TemplatesGolden, ReservoirThenFarthestFirstScaledFf) {
  MOSAIC_REQUIRE_GOLDEN();
  int cases = 0;
  for (const char* ds : kDatasets) {
    for (const char* variant : kVariants) {
      const fs::path dir = mosaic::testing::golden_dir() / ds / "extract-templates/scaled-ff" / variant;
      if (!fs::exists(dir / "state/export/templates.parquet.csv")) continue;
      SCOPED_TRACE(std::string(ds) + "/" + variant);
      ++cases;
      const GoldenRun run = load_run(dir);
      const auto& params = run.run_info.at("params_model_dump");
      ASSERT_EQ(params.at("strategy"), "farthest_first");
      const auto n_templates = params.at("n_templates").get<std::size_t>();
      const auto pool_size = params.at("pool").at("size").get<std::size_t>();
      const std::vector<GoldenMatrix> inputs = entry_inputs(run);
      Pcg64 rng(params.at("random_state").get<uint64_t>());
      TemplateReservoir pool(pool_size, run.templates.cols());
      for (const auto& m : inputs) pool.add_entry(m.values.data(), m.rows, rng);
      ASSERT_GT(pool.filled(), n_templates);
      const std::vector<int64_t> sel = farthest_first(pool.templates().data(), pool.filled(), pool.dim(), n_templates, rng);
      std::vector<const double*> rows;
      std::vector<int32_t> entries;
      for (int64_t s : sel) {
        rows.push_back(pool.templates().data() + static_cast<std::size_t>(s) * pool.dim());
        entries.push_back(pool.template_entries()[static_cast<std::size_t>(s)]);
      }
      expect_rows_equal(run, rows, count_per_entry(entries, pool.n_entries()));
    }
  }
  EXPECT_GT(cases, 0);
}

// --- the reference's unit-test scenarios -------------------------------------------------------

std::vector<double> ramp(std::size_t n, std::size_t dim, double offset) {
  std::vector<double> v(n * dim);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = offset + static_cast<double>(i);
  return v;
}

TEST(TemplatesExact, QuotasAreProportional) {
  EXPECT_EQ(exact_quotas(std::vector<int64_t>{100, 200, 300}, 60), (std::vector<int64_t>{10, 20, 30}));
  // A tiny entry gets quota 0 (and later contributes nothing, with no draw).
  const auto q = exact_quotas(std::vector<int64_t>{1, 1000}, 20);
  EXPECT_EQ(q[0], 0);
  Pcg64 a(1), b(1);
  EXPECT_TRUE(exact_entry_rows(1, q[0], a).empty());
  EXPECT_EQ(a.next64(), b.next64());
  // max_entry_fraction 0.5 caps the big entry at 50 of 100; the remainder goes to the others.
  const auto capped = exact_quotas(std::vector<int64_t>{10, 10, 1000}, 100, 0.5);
  EXPECT_LE(capped[2], 50);
  EXPECT_EQ(capped, (std::vector<int64_t>{25, 25, 50}));
  // With one entry the cap is the whole pool (1/n_entries = 1).
  EXPECT_EQ(exact_quotas(std::vector<int64_t>{100}, 20, 0.1), (std::vector<int64_t>{20}));
}

TEST(TemplatesExact, EntryRowsSmallEntryTakesAllElseChoice) {
  Pcg64 rng(42);
  EXPECT_EQ(exact_entry_rows(3, 5, rng), (std::vector<int64_t>{0, 1, 2}));
  Pcg64 a(42), b(42);
  EXPECT_EQ(exact_entry_rows(100, 10, a), b.choice(100, 10));
}

TEST(TemplatesReservoir, KeepsEverythingBelowPoolSize) {
  Pcg64 rng(42), untouched(42);
  TemplateReservoir pool(50, 2);
  const auto a = ramp(10, 2, 0), b = ramp(15, 2, 1000);
  pool.add_entry(a.data(), 10, rng);
  pool.add_entry(b.data(), 15, rng);
  EXPECT_EQ(pool.filled(), 25u);
  EXPECT_EQ(count_per_entry(pool.template_entries(), pool.n_entries()), (std::vector<int64_t>{10, 15}));
  EXPECT_EQ(pool.templates()[2 * 10], 1000.0);  // rows copied in order
  EXPECT_EQ(rng.next64(), untouched.next64());   // filling draws nothing
}

TEST(TemplatesReservoir, FullPoolFollowsAlgorithmR) {
  // Replay the reference by hand: 5 entries of 30 rows, pool 20.
  const std::size_t pool_size = 20, dim = 1;
  Pcg64 rng(7), oracle(7);
  TemplateReservoir pool(pool_size, dim);
  std::vector<double> expect(pool_size);
  std::vector<int32_t> expect_entry(pool_size);
  uint64_t seen = 0;
  for (int e = 0; e < 5; ++e) {
    const auto rows = ramp(30, dim, 100.0 * e);
    pool.add_entry(rows.data(), 30, rng);
    std::size_t start = 0;
    if (seen < pool_size) {
      const std::size_t take = std::min<std::size_t>(pool_size - seen, 30);
      for (std::size_t k = 0; k < take; ++k) expect[seen + k] = rows[k], expect_entry[seen + k] = e;
      seen += take;
      start = take;
    }
    std::vector<std::size_t> incl;
    for (std::size_t t = 1; start + t - 1 < 30; ++t)
      if (oracle.random() < static_cast<double>(pool_size) / static_cast<double>(seen + t)) incl.push_back(start + t - 1);
    for (std::size_t r : incl) {
      const auto slot = static_cast<std::size_t>(oracle.integers(0, pool_size));
      expect[slot] = rows[r];
      expect_entry[slot] = e;
    }
    seen += 30 - start;
  }
  EXPECT_EQ(pool.filled(), pool_size);
  EXPECT_EQ(pool.n_seen(), 150u);
  EXPECT_EQ(std::vector<double>(pool.templates().begin(), pool.templates().end()), expect);
  EXPECT_EQ(std::vector<int32_t>(pool.template_entries().begin(), pool.template_entries().end()), expect_entry);
  EXPECT_EQ(count_per_entry(pool.template_entries(), 5).size(), 5u);
  // Same seed, same rows.
  Pcg64 again(7);
  TemplateReservoir pool2(pool_size, dim);
  for (int e = 0; e < 5; ++e) {
    const auto rows = ramp(30, dim, 100.0 * e);
    pool2.add_entry(rows.data(), 30, again);
  }
  EXPECT_TRUE(std::equal(pool.templates().begin(), pool.templates().end(), pool2.templates().begin()));
}

TEST(TemplatesReservoir, MaxEntryFractionCapsLaterEntriesOnly) {
  // Running entry count: the first entry's cap is max(0.5, 1/1) * pool = pool (never capped);
  // the second entry's cap is max(0.5, 1/2) * 100 = 50 rows, chosen by rng.choice.
  Pcg64 rng(3), oracle(3);
  TemplateReservoir pool(100, 1, 0.5);
  const auto a = ramp(40, 1, 0), b = ramp(500, 1, 1000);
  pool.add_entry(a.data(), 40, rng);
  pool.add_entry(b.data(), 500, rng);
  const auto chosen = oracle.choice(500, 50);
  EXPECT_EQ(pool.filled(), 90u);
  for (std::size_t k = 0; k < 50; ++k) {
    EXPECT_EQ(pool.template_rows()[40 + k], chosen[k]);
    EXPECT_EQ(pool.templates()[40 + k], 1000.0 + static_cast<double>(chosen[k]));
  }
  EXPECT_EQ(entry_cap(0.5, 2, 100), 50);
  EXPECT_EQ(entry_cap(0.001, 4, 100), 25);
  EXPECT_EQ(entry_cap(0.0, 1000, 100), 1);
}

TEST(TemplatesFarthestFirst, PicksTheCorners) {
  // 4 corners + 6 points near the centre: farthest-first of 4 selects the 4 corners.
  const std::vector<double> pts{0, 0, 10, 0, 0, 10, 10, 10, 5, 5, 5.1, 5, 4.9, 5, 5, 5.1, 5, 4.9, 5.05, 5.05};
  for (uint64_t seed : {0u, 1u, 2u, 42u}) {
    Pcg64 rng(seed);
    const auto sel = farthest_first(pts.data(), 10, 2, 4, rng);
    std::set<int64_t> s(sel.begin(), sel.end());
    if (sel[0] < 4) {
      EXPECT_EQ(s, (std::set<int64_t>{0, 1, 2, 3})) << seed;
    } else {
      EXPECT_EQ(sel.size(), 4u);  // a centre start: the next three are corners
      EXPECT_EQ(s.count(sel[0]), 1u);
    }
  }
  // n_select >= n returns n rows; identical points can be selected twice.
  const std::vector<double> same{1, 1, 1, 1, 1, 1};
  Pcg64 rng(5);
  const auto sel = farthest_first(same.data(), 3, 2, 3, rng);
  EXPECT_EQ(sel.size(), 3u);
  Pcg64 empty_rng(5), untouched(5);
  EXPECT_TRUE(farthest_first(nullptr, 0, 2, 3, empty_rng).empty());
  EXPECT_EQ(empty_rng.next64(), untouched.next64());
}

}  // namespace
}  // namespace mosaic::kernels
