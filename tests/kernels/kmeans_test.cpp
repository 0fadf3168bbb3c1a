// k-means kernels: golden parity with global-kmeans (k-means++ on the MT19937 stream, Lloyd in
// float32) on the same templates, the pinned sklearn 1.8 seeding check, and oracle tests.
#include "features/kernels/kmeans.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <set>

#include "kernels/golden_csv.hpp"

namespace mosaic::kernels {
namespace {

namespace fs = std::filesystem;
using mosaic::testing::GoldenMatrix;

const char* const kDatasets[] = {"synth", "jabs_mice4", "deepof_mice2", "sleap_flies2"};
const char* const kVariants[] = {"upstream", "fixed"};

std::vector<float> to_f32(const GoldenMatrix& m) {
  std::vector<float> out(m.values.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(m.values[i]);
  return out;
}

// Two labelings describe the same partition (a bijection between their ids).
bool same_partition(const std::vector<int32_t>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  std::map<int32_t, double> ab;
  std::map<double, int32_t> ba;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto [it1, new1] = ab.emplace(a[i], b[i]);
    auto [it2, new2] = ba.emplace(b[i], a[i]);
    if (it1->second != b[i] || it2->second != a[i]) return false;
  }
  return true;
}

// Fit on the golden templates with the reference's parameters.
struct GoldenKMeans {
  std::vector<std::string> features;
  GoldenMatrix templates;
  nlohmann::json model;
};

GoldenKMeans load_case(const fs::path& root, const char* variant) {
  GoldenKMeans c;
  const fs::path km = root / "global-kmeans/defaults" / variant;
  const auto summary = nlohmann::json::parse(mosaic::testing::read_text(km / "state/export/model.joblib.summary.json"));
  c.features = summary.at("feature_columns").get<std::vector<std::string>>();
  c.model = summary.at("model.joblib.kmeans");
  c.templates = mosaic::testing::read_golden_table(root / "extract-templates/scaled-ff" / variant /
                                                   "state/export/templates.parquet.csv")
                    .select(c.features);
  return c;
}

KMeansResult fit_case(const GoldenKMeans& c, int threads) {
  const std::vector<float> x = to_f32(c.templates);
  KMeansOptions opt;
  opt.n_clusters = c.model.at("params").at("n_clusters").get<int>();
  opt.max_iter = c.model.at("params").at("max_iter").get<int>();
  opt.accumulation_threads = threads;
  Mt19937RandomState rs(c.model.at("params").at("random_state").get<uint32_t>());
  return kmeans_fit(x.data(), c.templates.rows, c.templates.cols(), opt, rs);
}

TEST(KMeansGolden, CentresLabelsInertiaAndPredictionsAreExact) {
  MOSAIC_REQUIRE_GOLDEN();
  int cases = 0;
  for (const char* ds : kDatasets) {
    for (const char* variant : kVariants) {
      const fs::path root = mosaic::testing::golden_dir() / ds;
      const fs::path km = root / "global-kmeans/defaults" / variant;
      if (!fs::exists(km / "state/export/cluster_centers.npz.centers.csv")) continue;
      SCOPED_TRACE(std::string(ds) + "/" + variant);
      ++cases;
      const GoldenKMeans c = load_case(root, variant);
      const KMeansResult fit = fit_case(c, 2);  // the goldens ran with 2 OpenMP threads
      const std::size_t n = c.templates.rows, dim = c.templates.cols();
      const auto k = static_cast<std::size_t>(c.model.at("params").at("n_clusters").get<int>());

      const GoldenMatrix centers = mosaic::testing::read_golden_array(km / "state/export/cluster_centers.npz.centers.csv");
      const GoldenMatrix labels = mosaic::testing::read_golden_array(km / "state/export/model.joblib.kmeans.labels.csv");
      const GoldenMatrix art = mosaic::testing::read_golden_array(km / "state/export/artifact_labels.npz.labels.csv");
      ASSERT_EQ(centers.values.size(), k * dim);
      for (std::size_t i = 0; i < centers.values.size(); ++i)
        ASSERT_EQ(static_cast<double>(fit.centers[i]), centers.values[i]) << "centre value " << i;
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(fit.labels[i], labels.values[i]) << "label " << i;
      EXPECT_EQ(fit.n_iter, c.model.at("n_iter_").get<int>());
      EXPECT_EQ(fit.inertia, static_cast<float>(c.model.at("inertia_").get<double>()));
      EXPECT_EQ(std::set<int64_t>(fit.seed_indices.begin(), fit.seed_indices.end()).size(), k);

      // artifact labels = predict(templates)
      const std::vector<float> x = to_f32(c.templates);
      std::vector<int32_t> pred(n);
      kmeans_predict(x.data(), n, dim, fit.centers.data(), k, pred);
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(pred[i], art.values[i]) << "artifact label " << i;

      // apply(): every finite row of each sequence, features as float32.
      for (const auto& entry : fs::directory_iterator(km)) {
        const std::string name = entry.path().filename().string();
        if (name.size() < 10 || name.substr(name.size() - 10) != ".meta.json") continue;
        const std::string key = name.substr(0, name.size() - 10);
        const GoldenMatrix in = mosaic::testing::read_golden_table(
            root / "extract-templates/scaled-ff" / variant / (key + ".csv")).select(c.features);
        const std::vector<double> golden = mosaic::testing::read_golden_table(km / (key + ".csv")).column("cluster");
        std::vector<float> q;
        for (std::size_t r = 0; r < in.rows; ++r) {
          bool finite = true;
          for (std::size_t col = 0; col < dim; ++col) finite = finite && std::isfinite(in.at(r, col));
          if (!finite) continue;
          for (std::size_t col = 0; col < dim; ++col) q.push_back(static_cast<float>(in.at(r, col)));
        }
        const std::size_t m = q.size() / dim;
        ASSERT_EQ(m, golden.size()) << key;
        std::vector<int32_t> got(m);
        kmeans_predict(q.data(), m, dim, fit.centers.data(), k, got);
        std::size_t wrong = 0;
        for (std::size_t r = 0; r < m; ++r) wrong += got[r] != golden[r];
        EXPECT_EQ(wrong, 0u) << key;
      }

      // Single-thread accumulation rounds the centre sums differently (a few float32 ulp) but
      // gives the same clustering here.
      const KMeansResult one = fit_case(c, 1);
      EXPECT_TRUE(same_partition(one.labels, labels.column("c0")));
      for (std::size_t i = 0; i < centers.values.size(); ++i)
        ASSERT_NEAR(one.centers[i], centers.values[i], 1e-6 * std::max(1.0, std::abs(centers.values[i])));
      // The first k-means++ centre for n = 300 is RandomState(42).choice(300, p=1/300) = 112
      // (pinned_checks.json "first_centre_choice_p").
      EXPECT_EQ(fit.seed_indices[0], 112);
    }
  }
  EXPECT_GT(cases, 0);
}

// --- oracle tests --------------------------------------------------------------------------------

std::vector<float> blobs(std::size_t per_blob, const std::vector<std::pair<float, float>>& centres, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::vector<float> x;
  for (std::size_t i = 0; i < per_blob; ++i)
    for (const auto& [cx, cy] : centres) {
      x.push_back(cx + noise(gen));
      x.push_back(cy + noise(gen));
    }
  return x;
}

TEST(KMeansOracle, RecoversSeparatedBlobs) {
  const std::vector<std::pair<float, float>> centres{{0, 0}, {10, 0}, {0, 10}, {10, 10}};
  const std::vector<float> x = blobs(50, centres, 1);
  const std::size_t n = x.size() / 2;
  KMeansOptions opt;
  opt.n_clusters = 4;
  Mt19937RandomState rs(42);
  const KMeansResult fit = kmeans_fit(x.data(), n, 2, opt, rs);
  // Each blob is one cluster (rows cycle through the 4 blobs).
  for (std::size_t i = 4; i < n; ++i) EXPECT_EQ(fit.labels[i], fit.labels[i % 4]);
  EXPECT_EQ(std::set<int32_t>(fit.labels.begin(), fit.labels.end()).size(), 4u);
  EXPECT_TRUE(fit.strict_convergence);
  for (std::size_t j = 0; j < 4; ++j) {
    const auto c = static_cast<std::size_t>(fit.labels[j]);
    EXPECT_NEAR(fit.centers[c * 2], centres[j].first, 0.05);
    EXPECT_NEAR(fit.centers[c * 2 + 1], centres[j].second, 0.05);
  }
  // predict = brute-force nearest centre in double (no near-ties here).
  std::vector<int32_t> pred(n);
  kmeans_predict(x.data(), n, 2, fit.centers.data(), 4, pred);
  for (std::size_t i = 0; i < n; ++i) {
    double best = 1e300;
    int32_t arg = -1;
    for (int32_t j = 0; j < 4; ++j) {
      const double dx = x[i * 2] - fit.centers[j * 2], dy = x[i * 2 + 1] - fit.centers[j * 2 + 1];
      if (dx * dx + dy * dy < best) best = dx * dx + dy * dy, arg = j;
    }
    EXPECT_EQ(pred[i], arg);
    EXPECT_EQ(pred[i], fit.labels[i]);
  }
}

TEST(KMeansOracle, DegenerateSizes) {
  // k = 1: the centre is the float32 mean.
  const std::vector<float> x{1, 2, 3, 4, 5, 6};
  Mt19937RandomState rs(0);
  KMeansOptions opt;
  opt.n_clusters = 1;
  const KMeansResult one = kmeans_fit(x.data(), 3, 2, opt, rs);
  EXPECT_FLOAT_EQ(one.centers[0], 3.0f);
  EXPECT_FLOAT_EQ(one.centers[1], 4.0f);
  EXPECT_EQ(one.labels, (std::vector<int32_t>{0, 0, 0}));
  // k = n: every point is its own centre, inertia 0.
  Mt19937RandomState rs2(0);
  opt.n_clusters = 3;
  const KMeansResult all = kmeans_fit(x.data(), 3, 2, opt, rs2);
  EXPECT_EQ(std::set<int32_t>(all.labels.begin(), all.labels.end()).size(), 3u);
  EXPECT_EQ(all.inertia, 0.0f);
  // Seeding consumes 1 + (k-1) * n_local_trials uniforms: 2 + int(ln 3) = 3 trials.
  Mt19937RandomState a(0), b(0);
  std::vector<float> centred{-2, -2, 0, 0, 2, 2};
  kmeans_plusplus(centred.data(), 3, 2, 3, a);
  for (int i = 0; i < 1 + 2 * 3; ++i) b.random_sample();
  EXPECT_EQ(a.next32(), b.next32());
}

TEST(KMeansOracle, FewerDistinctPointsThanClusters) {
  // 20 copies of (0,0) and one (5,5) with k = 3: after two seeds the potential is 0, so the third
  // seed duplicates a centre (searchsorted of 0 in a flat cumsum is row 0). Its cluster stays
  // empty; sklearn does not relocate it because every point already sits on a centre.
  std::vector<float> x;
  for (int i = 0; i < 20; ++i) x.insert(x.end(), {0.0f, 0.0f});
  x.insert(x.end(), {5.0f, 5.0f});
  KMeansOptions opt;
  opt.n_clusters = 3;
  Mt19937RandomState rs(1);
  const KMeansResult fit = kmeans_fit(x.data(), 21, 2, opt, rs);
  EXPECT_EQ(fit.seed_indices.size(), 3u);
  EXPECT_EQ(std::set<int32_t>(fit.labels.begin(), fit.labels.end()).size(), 2u);
  EXPECT_NE(fit.labels[20], fit.labels[0]);
  EXPECT_NEAR(fit.inertia, 0.0f, 1e-10f);  // centred float32 means round-trip to ~1 ulp
  EXPECT_TRUE(fit.strict_convergence);
}

}  // namespace
}  // namespace mosaic::kernels
