// global_state_test: the saved state of the template and clustering features against the
// reference's exported state (state/export/ of each golden case): extract-templates' and
// extract-labeled-templates' templates.parquet and template_provenance.parquet, global-kmeans'
// centres, template labels and cluster sizes, global-ward's linkage matrix and centroids.
// The golden runner compares the per-sequence outputs; these are the intermediates spec §0.6
// recommends (reservoir slots, k-means++ seeds and centres, the Ward linkage).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <sstream>

#include "common/test_util.hpp"
#include "golden/golden_corpus.hpp"
#include "mosaic/files.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/parquet.hpp"

namespace mosaic::golden {
namespace {

// A headerless numeric CSV (an exported npz array) as rows of doubles.
std::vector<std::vector<double>> read_matrix_csv(const fs::path& p) {
  std::vector<std::vector<double>> out;
  std::istringstream in(csv_text(p));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<double> row;
    std::istringstream ls(line);
    std::string cell;
    while (std::getline(ls, cell, ',')) row.push_back(cell.empty() ? NAN : std::stod(cell));
    out.push_back(std::move(row));
  }
  return out;
}

// Replay the case and return our run folder (the state files live there).
fs::path run_case(const Case& c, const fs::path& work) {
  Replay replay = prepare_replay(c, work);
  auto feature = make_feature(c.feature, replay.inputs, replay.params);
  RunResult result = run_feature(replay.dataset, *feature, replay.options);
  EXPECT_TRUE(result.failures.empty());
  return replay.dataset.root("features") / result.result.feature / *result.result.run_id;
}

void expect_matrix(const std::vector<double>& ours, std::size_t cols, const fs::path& golden_csv, double rtol,
                   const std::string& what) {
  auto g = read_matrix_csv(golden_csv);
  ASSERT_EQ(ours.size(), g.size() * cols) << what << ": shape differs (golden rows " << g.size() << ")";
  std::size_t bad = 0;
  for (std::size_t r = 0; r < g.size(); ++r) {
    ASSERT_EQ(g[r].size(), cols) << what;
    for (std::size_t c = 0; c < cols; ++c) {
      double a = ours[r * cols + c], b = g[r][c];
      if (std::isnan(a) && std::isnan(b)) continue;
      if (!(std::fabs(a - b) <= rtol * std::fabs(b))) {
        if (bad++ < 5) ADD_FAILURE() << what << " [" << r << "," << c << "]: ours " << a << " golden " << b;
      }
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": mismatching values";
}

void check_tables(const fs::path& run_root, const Case& c, const std::vector<std::string>& files) {
  for (const auto& name : files) {
    fs::path golden = c.dir / "state" / "export" / (name + ".csv");
    ASSERT_TRUE(fs::exists(run_root / name)) << "no " << name << " in " << run_root;
    Table ours = read_parquet(run_root / name);
    Table g = read_table(golden);
    CompareOptions opt;
    std::string report = compare_tables(ours, g, opt);
    EXPECT_TRUE(report.empty()) << c.dir.string() << " " << name << ":\n" << report;
  }
}

template <class F>
void for_each_case(const std::string& feature, F&& check) {
  if (golden_root().empty()) GTEST_SKIP() << "needs ../shared/golden (absent)";
  auto cases = find_cases(feature, true);
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c.dir.string());
    testing::TempDir tmp;
    fs::path run_root = run_case(c, tmp.path());
    check(c, run_root);
  }
}

TEST(GoldenState, ExtractTemplatesTemplatesAndProvenance) {
  for_each_case("extract-templates", [](const Case& c, const fs::path& run_root) {
    check_tables(run_root, c, {"templates.parquet", "template_provenance.parquet"});
  });
}

TEST(GoldenState, ExtractLabeledTemplatesTemplatesAndProvenance) {
  for_each_case("extract-labeled-templates", [](const Case& c, const fs::path& run_root) {
    check_tables(run_root, c, {"templates.parquet", "template_provenance.parquet"});
  });
}

TEST(GoldenState, GlobalKMeansCentresLabelsSizes) {
  for_each_case("global-kmeans", [](const Case& c, const fs::path& run_root) {
    fs::path ex = c.dir / "state" / "export";
    NpzArchive centers = read_npz(run_root / "cluster_centers.npz");
    const NpyArray& a = centers.at("centers");
    std::vector<double> v = a.to_double();
    // Centres are float32: the exported text is their exact value.
    expect_matrix(v, static_cast<std::size_t>(a.shape[1]), ex / "cluster_centers.npz.centers.csv", 0.0, "centers");
    std::vector<int64_t> labels = read_npz(run_root / "artifact_labels.npz").at("labels").to_int64();
    std::vector<double> lv(labels.begin(), labels.end());
    expect_matrix(lv, 1, ex / "artifact_labels.npz.labels.csv", 0.0, "artifact labels");
    check_tables(run_root, c, {"cluster_sizes.parquet"});
  });
}

TEST(GoldenState, GlobalWardLinkageAndCentroids) {
  for_each_case("global-ward", [](const Case& c, const fs::path& run_root) {
    fs::path ex = c.dir / "state" / "export";
    NpzArchive npz = read_npz(run_root / "ward_model.npz");
    expect_matrix(npz.at("linkage_matrix").to_double(), 4, ex / "model.joblib.linkage_matrix.csv", 1e-12, "linkage");
    const NpyArray& cen = npz.at("centroids");
    expect_matrix(cen.to_double(), static_cast<std::size_t>(cen.shape[1]), ex / "model.joblib.assign_nn.fit_X.csv",
                  1e-12, "centroids");
  });
}

}  // namespace
}  // namespace mosaic::golden
