// Ward kernels: golden parity (linkage matrix, fcluster labels via the exported centroids, and
// the per-frame cluster ids of apply) and a naive-agglomeration oracle on random data.
#include "features/kernels/ward.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "kernels/golden_csv.hpp"

namespace mosaic::kernels {
namespace {

namespace fs = std::filesystem;
using mosaic::testing::GoldenMatrix;

const char* const kDatasets[] = {"synth", "jabs_mice4", "deepof_mice2", "sleap_flies2"};
const char* const kVariants[] = {"upstream", "fixed"};

std::vector<int32_t> ward_fit_labels(const GoldenMatrix& t, int n_clusters, std::vector<double>* z_out) {
  const std::size_t n = t.rows;
  std::vector<double> d(n * (n - 1) / 2);
  pdist_euclidean(t.values.data(), n, t.cols(), d);
  std::vector<double> z((n - 1) * 4);
  ward_linkage(d, n, z);
  std::vector<int32_t> labels(n);
  fcluster_maxclust(z, n, n_clusters, labels);
  if (z_out) *z_out = z;
  return labels;
}

TEST(WardGolden, LinkageLabelsCentroidsAndAssignment) {
  MOSAIC_REQUIRE_GOLDEN();
  int cases = 0;
  for (const char* ds : kDatasets) {
    for (const char* variant : kVariants) {
      const fs::path root = mosaic::testing::golden_dir() / ds;
      const fs::path ward = root / "global-ward/defaults" / variant;
      const fs::path tmpl = root / "extract-templates/scaled-ff" / variant / "state/export/templates.parquet.csv";
      if (!fs::exists(ward / "state/export/model.joblib.linkage_matrix.csv") || !fs::exists(tmpl)) continue;
      SCOPED_TRACE(std::string(ds) + "/" + variant);
      ++cases;
      const GoldenMatrix templates = mosaic::testing::read_golden_table(tmpl);
      const auto summary = nlohmann::json::parse(
          mosaic::testing::read_text(ward / "state/export/model.joblib.summary.json"));
      const auto features = summary.at("feature_columns").get<std::vector<std::string>>();
      const auto cluster_ids = summary.at("cluster_ids").get<std::vector<int32_t>>();
      const GoldenMatrix x = templates.select(features);
      const std::size_t n = x.rows;

      std::vector<double> z;
      const std::vector<int32_t> labels = ward_fit_labels(x, 20, &z);

      // 1. The linkage matrix: children and sizes exactly, heights to the last bit.
      const GoldenMatrix zg = mosaic::testing::read_golden_array(ward / "state/export/model.joblib.linkage_matrix.csv");
      ASSERT_EQ(zg.rows, n - 1);
      double max_rel = 0.0;
      int structure_mismatch = 0;
      for (std::size_t r = 0; r + 1 < n; ++r) {
        if (z[r * 4] != zg.at(r, 0) || z[r * 4 + 1] != zg.at(r, 1) || z[r * 4 + 3] != zg.at(r, 3))
          ++structure_mismatch;
        max_rel = std::max(max_rel, std::abs(z[r * 4 + 2] - zg.at(r, 2)) / zg.at(r, 2));
      }
      EXPECT_EQ(structure_mismatch, 0);
      EXPECT_EQ(max_rel, 0.0) << "max relative height difference";

      // 2. fcluster labels, checked through the exported per-cluster centroids (fit_X rows are
      //    the centroids of labels 1..20 in ascending order).
      const ClusterCentroids c = cluster_centroids(x.values.data(), n, x.cols(), labels);
      EXPECT_EQ(c.ids, cluster_ids);
      const GoldenMatrix fit_x = mosaic::testing::read_golden_array(ward / "state/export/model.joblib.assign_nn.fit_X.csv");
      ASSERT_EQ(fit_x.rows, c.ids.size());
      for (std::size_t i = 0; i < fit_x.values.size(); ++i) ASSERT_EQ(c.centroids[i], fit_x.values[i]) << i;

      // 3. Apply: every finite row of each sequence (features cast to float32) gets the id of its
      //    nearest centroid.
      for (const auto& entry : fs::directory_iterator(ward)) {
        const std::string name = entry.path().filename().string();
        if (name.size() < 10 || name.substr(name.size() - 10) != ".meta.json") continue;
        const std::string key = name.substr(0, name.size() - 10);
        const GoldenMatrix in = mosaic::testing::read_golden_table(
            root / "extract-templates/scaled-ff" / variant / (key + ".csv")).select(features);
        const GoldenMatrix out = mosaic::testing::read_golden_table(ward / (key + ".csv"));
        std::vector<double> q;
        for (std::size_t r = 0; r < in.rows; ++r) {
          bool finite = true;
          for (std::size_t col = 0; col < in.cols(); ++col) finite = finite && std::isfinite(in.at(r, col));
          if (!finite) continue;
          for (std::size_t col = 0; col < in.cols(); ++col)
            q.push_back(static_cast<double>(static_cast<float>(in.at(r, col))));
        }
        const std::size_t m = q.size() / in.cols();
        ASSERT_EQ(m, out.rows) << key;
        std::vector<int64_t> nearest(m);
        assign_nearest_centroid(q.data(), m, in.cols(), c.centroids.data(), c.ids.size(), nearest);
        const std::vector<double> golden_cluster = out.column("cluster");
        int wrong = 0;
        for (std::size_t r = 0; r < m; ++r) wrong += c.ids[nearest[r]] != golden_cluster[r];
        EXPECT_EQ(wrong, 0) << key;
      }
    }
  }
  EXPECT_GT(cases, 0);
}

// Naive O(n^3) agglomeration: always merge the globally closest pair (lowest ids on ties),
// with the same Lance-Williams update, new node id n + step.
std::vector<double> naive_ward(const std::vector<double>& x, std::size_t n, std::size_t dim) {
  std::vector<std::vector<double>> d(n, std::vector<double>(n, 0.0));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::size_t c = 0; c < dim; ++c) s += (x[i * dim + c] - x[j * dim + c]) * (x[i * dim + c] - x[j * dim + c]);
      d[i][j] = std::sqrt(s);
    }
  std::vector<int> size(n, 1);
  std::vector<std::size_t> id(n);
  for (std::size_t i = 0; i < n; ++i) id[i] = i;
  std::vector<double> z;
  for (std::size_t step = 0; step + 1 < n; ++step) {
    double best = std::numeric_limits<double>::infinity();
    std::size_t bx = 0, by = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i + 1; j < n; ++j)
        if (size[i] && size[j] && d[i][j] < best) best = d[i][j], bx = i, by = j;
    z.insert(z.end(), {static_cast<double>(std::min(id[bx], id[by])), static_cast<double>(std::max(id[bx], id[by])),
                       best, static_cast<double>(size[bx] + size[by])});
    for (std::size_t i = 0; i < n; ++i) {
      if (!size[i] || i == bx || i == by) continue;
      const double t = 1.0 / (size[bx] + size[by] + size[i]);
      const double v = std::sqrt((size[i] + size[bx]) * t * d[i][bx] * d[i][bx] +
                                 (size[i] + size[by]) * t * d[i][by] * d[i][by] - size[i] * t * best * best);
      d[i][by] = d[by][i] = v;
    }
    size[by] += size[bx];
    size[bx] = 0;
    id[by] = n + step;
  }
  return z;
}

TEST(WardOracle, NnChainEqualsNaiveAgglomeration) {
  std::mt19937_64 gen(1234);
  std::normal_distribution<double> normal;
  for (std::size_t n : {2u, 3u, 7u, 40u, 120u}) {
    for (std::size_t dim : {1u, 3u, 10u}) {
      std::vector<double> x(n * dim);
      for (double& v : x) v = normal(gen);
      std::vector<double> d(n * (n - 1) / 2);
      pdist_euclidean(x.data(), n, dim, d);
      std::vector<double> z((n - 1) * 4);
      ward_linkage(d, n, z);
      const std::vector<double> expected = naive_ward(x, n, dim);
      for (std::size_t r = 0; r + 1 < n; ++r) {
        EXPECT_EQ(z[r * 4], expected[r * 4]) << n << "x" << dim << " row " << r;
        EXPECT_EQ(z[r * 4 + 1], expected[r * 4 + 1]) << n << "x" << dim << " row " << r;
        EXPECT_NEAR(z[r * 4 + 2], expected[r * 4 + 2], 1e-12 * expected[r * 4 + 2]);
        EXPECT_EQ(z[r * 4 + 3], expected[r * 4 + 3]);
      }
      // Cutting into k clusters gives exactly k labels 1..k, and the same partition as undoing
      // the last k-1 merges.
      for (int k : {1, 2, 5}) {
        if (static_cast<std::size_t>(k) > n) continue;
        std::vector<int32_t> labels(n);
        fcluster_maxclust(z, n, k, labels);
        std::set<int32_t> distinct(labels.begin(), labels.end());
        EXPECT_EQ(distinct.size(), static_cast<std::size_t>(k));
        EXPECT_EQ(*distinct.begin(), 1);
        EXPECT_EQ(*distinct.rbegin(), k);
      }
    }
  }
}

TEST(WardOracle, FclusterNumberingFollowsScipyWalk) {
  // Points 0,1 close together, 2 alone, 3,4 close together, on a line: merges (0,1) -> node 5,
  // (3,4) -> 6, then 2 joins {0,1} -> 7 = (2, 5), then the root (6, 7).
  const std::vector<double> x{0.0, 0.1, 5.0, 10.0, 10.2};
  std::vector<double> d(10);
  pdist_euclidean(x.data(), 5, 1, d);
  std::vector<double> z(16);
  ward_linkage(d, 5, z);
  EXPECT_EQ(z[0], 0.0);
  EXPECT_EQ(z[1], 1.0);
  EXPECT_EQ(z[4], 3.0);
  EXPECT_EQ(z[5], 4.0);
  EXPECT_EQ(z[8], 2.0);
  EXPECT_EQ(z[9], 5.0);
  EXPECT_EQ(z[12], 6.0);
  EXPECT_EQ(z[13], 7.0);
  std::vector<int32_t> labels(5);
  // 3 clusters: {0,1}, {2}, {3,4}. scipy walks the root's left child (node 6 = {3,4}) first,
  // descends into node 7's non-leaf child (5 = {0,1}) before numbering the leaf 2.
  fcluster_maxclust(z, 5, 3, labels);
  EXPECT_EQ(labels, (std::vector<int32_t>{2, 2, 3, 1, 1}));
  fcluster_maxclust(z, 5, 5, labels);
  EXPECT_EQ(labels, (std::vector<int32_t>{1, 2, 3, 4, 5}));
  fcluster_maxclust(z, 5, 1, labels);
  EXPECT_EQ(labels, (std::vector<int32_t>{1, 1, 1, 1, 1}));
}

TEST(WardOracle, NearestCentroidClipsAndPrefersFirst) {
  const std::vector<double> c{0.0, 0.0, 2.0, 0.0, 2.0, 0.0};  // centroids 1 and 2 identical
  const std::vector<double> q{1.9, 0.1, 0.0, 0.0, 1.0, 0.0};
  std::vector<int64_t> nearest(3);
  assign_nearest_centroid(q.data(), 3, 2, c.data(), 3, nearest);
  EXPECT_EQ(nearest, (std::vector<int64_t>{1, 0, 0}));  // 1.0 is equidistant: first wins
}

}  // namespace
}  // namespace mosaic::kernels
