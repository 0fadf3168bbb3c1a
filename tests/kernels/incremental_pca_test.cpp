// IncrementalPCA kernel: golden parity with pair-posedistance-pca (the feature batches are
// rebuilt from the golden tracks with the cleaning of spec §0.4 and the distance vectors of
// §1.1, then fed to partial_fit in the reference's order), and a float64 batch-PCA oracle.
#include "features/kernels/incremental_pca.hpp"

#include <gtest/gtest.h>

#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>

#include "kernels/golden_csv.hpp"

namespace mosaic::kernels {
namespace {

namespace fs = std::filesystem;
using mosaic::testing::GoldenMatrix;

// --- test helper: pair-posedistance-pca feature batches from tracks ---------------------------

// np.interp(p, xp, fp) at one point (numpy's formula; constant beyond the ends).
double np_interp(double p, const std::vector<double>& xp, const std::vector<double>& fp) {
  if (p <= xp.front()) return fp.front();
  if (p >= xp.back()) return fp.back();
  const std::size_t j = static_cast<std::size_t>(std::upper_bound(xp.begin(), xp.end(), p) - xp.begin()) - 1;
  if (xp[j] == p) return fp[j];
  const double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
  return slope * (p - xp[j]) + fp[j];
}

// pandas ffill(limit) on one column: a NaN run after a value gets that value for `limit` cells.
void fill_forward(std::vector<double>& y, int limit) {
  double last = NAN;
  int gap = 0;
  for (double& v : y) {
    if (!std::isnan(v)) {
      last = v;
      gap = 0;
    } else if (++gap <= limit && !std::isnan(last)) {
      v = last;
    }
  }
}

// clean_animal_track for one animal (rows sorted by frame): interpolate, edge fills, row drop,
// median fill. Columns are modified in place; returns the kept row positions.
std::vector<std::size_t> clean_track(std::vector<std::vector<double>>& cols, int interp_limit, int edge_limit,
                                     double max_missing) {
  const std::size_t n = cols.empty() ? 0 : cols[0].size();
  const auto lim = static_cast<std::size_t>(interp_limit);
  for (auto& y : cols) {
    for (double& v : y)
      if (std::isinf(v)) v = NAN;
    // interpolate(method="linear", limit=L, limit_direction="both") by row position: a NaN is
    // filled (np.interp over all valid points) when a valid value lies within L positions.
    std::vector<double> xp, fp;
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isnan(y[i])) xp.push_back(static_cast<double>(i)), fp.push_back(y[i]);
    if (!xp.empty() && xp.size() < n) {
      std::vector<double> filled = y;
      for (std::size_t i = 0; i < n; ++i) {
        if (!std::isnan(y[i])) continue;
        bool near = false;
        for (std::size_t j = i >= lim ? i - lim : 0; j <= std::min(n - 1, i + lim) && !near; ++j) near = !std::isnan(y[j]);
        if (near) filled[i] = np_interp(static_cast<double>(i), xp, fp);
      }
      y = filled;
    }
    fill_forward(y, edge_limit);
    std::reverse(y.begin(), y.end());
    fill_forward(y, edge_limit);  // bfill
    std::reverse(y.begin(), y.end());
  }
  std::vector<std::size_t> keep;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t missing = 0;
    for (const auto& y : cols) missing += std::isnan(y[i]);
    if (static_cast<double>(missing) / static_cast<double>(cols.size()) <= max_missing) keep.push_back(i);
  }
  for (auto& y : cols) {  // median of the kept rows, NaN-skipping, for what is still missing
    std::vector<double> v;
    for (std::size_t i : keep)
      if (!std::isnan(y[i])) v.push_back(y[i]);
    if (v.size() == keep.size() || v.empty()) continue;
    std::sort(v.begin(), v.end());
    const double med = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2.0;
    for (std::size_t i : keep)
      if (std::isnan(y[i])) y[i] = med;
  }
  return keep;
}

struct Animal {
  std::vector<double> frames;
  std::vector<std::vector<double>> xs, ys;  // per keypoint, per kept row
};

// The float32 batch of one pair (perspective 0 rows, then perspective 1 rows) as §1.1 builds it.
std::vector<float> pair_batch(const Animal& a, const Animal& b, std::size_t& rows_out) {
  const std::size_t kp = a.xs.size();
  std::map<double, std::size_t> b_row;
  for (std::size_t i = 0; i < b.frames.size(); ++i) b_row[b.frames[i]] = i;
  std::vector<std::pair<std::size_t, std::size_t>> merged;  // inner merge on frame, A's order
  for (std::size_t i = 0; i < a.frames.size(); ++i)
    if (auto it = b_row.find(a.frames[i]); it != b_row.end()) merged.emplace_back(i, it->second);
  auto dist = [](double x1, double y1, double x2, double y2) {
    const double dx = x1 - x2, dy = y1 - y2;
    return std::sqrt(dx * dx + dy * dy);
  };
  auto feature = [&](const Animal& p, std::size_t ip, const Animal& q, std::size_t iq, std::vector<float>& out) {
    for (const Animal* who : {&p, &q}) {
      const std::size_t r = who == &p ? ip : iq;
      for (std::size_t i = 1; i < kp; ++i)  // np.tril_indices(N, k=-1)
        for (std::size_t j = 0; j < i; ++j)
          out.push_back(static_cast<float>(dist(who->xs[i][r], who->ys[i][r], who->xs[j][r], who->ys[j][r])));
    }
    for (std::size_t i = 0; i < kp; ++i)
      for (std::size_t j = 0; j < kp; ++j)
        out.push_back(static_cast<float>(dist(p.xs[i][ip], p.ys[i][ip], q.xs[j][iq], q.ys[j][iq])));
  };
  std::vector<float> out;
  for (const auto& [ia, ib] : merged) feature(a, ia, b, ib, out);
  for (const auto& [ia, ib] : merged) feature(b, ib, a, ia, out);
  rows_out = 2 * merged.size();
  return out;
}

// One sequence's tracks -> cleaned animals by id.
std::map<int64_t, Animal> clean_sequence(const GoldenMatrix& tracks, const std::vector<int>& keypoints,
                                         const nlohmann::json& interp) {
  std::map<int64_t, std::vector<std::size_t>> rows_by_id;
  for (std::size_t r = 0; r < tracks.rows; ++r) rows_by_id[static_cast<int64_t>(tracks.at(r, tracks.col("id")))].push_back(r);
  std::map<int64_t, Animal> animals;
  for (auto& [id, rows] : rows_by_id) {
    std::stable_sort(rows.begin(), rows.end(), [&](std::size_t l, std::size_t r) {
      return tracks.at(l, tracks.col("frame")) < tracks.at(r, tracks.col("frame"));
    });
    std::vector<std::vector<double>> cols;  // xs then ys
    for (const char* prefix : {"poseX", "poseY"})
      for (int k : keypoints) {
        std::vector<double> c;
        const std::size_t ci = tracks.col(prefix + std::to_string(k));
        for (std::size_t r : rows) c.push_back(tracks.at(r, ci));
        cols.push_back(std::move(c));
      }
    const auto keep = clean_track(cols, interp.at("linear_interp_limit").get<int>(),
                                  interp.at("edge_fill_limit").get<int>(), interp.at("max_missing_fraction").get<double>());
    Animal a;
    const std::size_t kp = keypoints.size();
    a.xs.assign(kp, {});
    a.ys.assign(kp, {});
    for (std::size_t i : keep) {
      a.frames.push_back(tracks.at(rows[i], tracks.col("frame")));
      for (std::size_t k = 0; k < kp; ++k) {
        a.xs[k].push_back(cols[k][i]);
        a.ys[k].push_back(cols[kp + k][i]);
      }
    }
    animals.emplace(id, std::move(a));
  }
  return animals;
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double scale = 0.0, worst = 0.0;
  for (double v : b) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / scale);
  return worst;
}

TEST(IncrementalPcaGolden, ComponentsMeanAndScoresOfPairPoseDistancePca) {
  MOSAIC_REQUIRE_GOLDEN();
  int cases = 0;
  for (const char* ds : {"synth", "jabs_mice4", "deepof_mice2", "sleap_flies2"}) {
    for (const char* variant : {"upstream", "fixed"}) {
      const fs::path root = mosaic::testing::golden_dir() / ds;
      const fs::path run = root / "pair-posedistance-pca/defaults" / variant;
      if (!fs::exists(run / "state/export/model.joblib.summary.json") && !fs::exists(run / "run_info.json")) continue;
      SCOPED_TRACE(std::string(ds) + "/" + variant);
      ++cases;
      const auto info = nlohmann::json::parse(mosaic::testing::read_text(run / "run_info.json"));
      const auto& params = info.at("params_model_dump");
      std::vector<int> keypoints;
      if (params.at("pose").at("pose_indices").is_null()) {
        for (int k = 0; k < params.at("pose").at("pose_n").get<int>(); ++k) keypoints.push_back(k);
      } else {
        keypoints = params.at("pose").at("pose_indices").get<std::vector<int>>();
      }
      const int n_components = params.at("n_components").get<int>();
      IncrementalPca pca(n_components);
      std::size_t dim = 0;
      std::map<std::string, std::vector<std::pair<std::pair<int64_t, int64_t>, std::vector<float>>>> batches;
      for (const auto& e : info.at("entries")) {  // manifest order
        const std::string key = e.at("entry_key").get<std::string>();
        const GoldenMatrix tracks = mosaic::testing::read_golden_table(root / "_inputs/tracks" / (key + ".csv"));
        const auto animals = clean_sequence(tracks, keypoints, params.at("interpolation"));
        for (auto a = animals.begin(); a != animals.end(); ++a)
          for (auto b = std::next(a); b != animals.end(); ++b) {
            std::size_t rows = 0;
            std::vector<float> batch = pair_batch(a->second, b->second, rows);
            if (rows == 0) continue;
            ASSERT_LE(rows / 2, params.at("batch_size").get<std::size_t>());  // one chunk per pair
            dim = batch.size() / rows;
            ASSERT_EQ(pca.partial_fit(batch.data(), rows, dim), IncrementalPca::FitStatus::kOk);
            batches[key].push_back({{a->first, b->first}, std::move(batch)});
          }
      }
      const fs::path ex = run / "state/export";
      const auto summary = nlohmann::json::parse(mosaic::testing::read_text(ex / "model.joblib.summary.json"));
      EXPECT_EQ(pca.n_samples_seen(), summary.at("model.joblib.ipca").at("n_samples_seen_").get<int64_t>());
      const GoldenMatrix comp = mosaic::testing::read_golden_array(ex / "model.joblib.ipca.components.csv");
      const GoldenMatrix mean = mosaic::testing::read_golden_array(ex / "model.joblib.ipca.mean.csv");
      const GoldenMatrix var = mosaic::testing::read_golden_array(ex / "model.joblib.ipca.var.csv");
      const GoldenMatrix sv = mosaic::testing::read_golden_array(ex / "model.joblib.ipca.singular_values.csv");
      ASSERT_EQ(comp.values.size(), pca.components().size());
      // Components up to sign per row; the largest |entry| is positive on both sides, so a flip
      // only happens when two entries nearly tie.
      std::vector<double> signs(static_cast<std::size_t>(n_components));
      double comp_err = 0.0;
      for (std::size_t i = 0; i < signs.size(); ++i) {
        double dot = 0.0;
        for (std::size_t c = 0; c < dim; ++c) dot += pca.components()[i * dim + c] * comp.values[i * dim + c];
        signs[i] = dot < 0 ? -1.0 : 1.0;
        for (std::size_t c = 0; c < dim; ++c)
          comp_err = std::max(comp_err, std::abs(signs[i] * pca.components()[i * dim + c] - comp.values[i * dim + c]));
      }
      const double mean_err = max_rel_diff(pca.mean(), mean.values);
      const double var_err = max_rel_diff(pca.var(), var.values);
      const double sv_err = max_rel_diff(pca.singular_values(), sv.values);
      // Scores of every golden output row (transform of the same batches).
      double score_err = 0.0;
      for (const auto& [key, list] : batches) {
        const GoldenMatrix out = mosaic::testing::read_golden_table(run / (key + ".csv"));
        // fixed/ gives perspective-1 rows id1 = b, id2 = a; look rows up by (focal, partner, perspective, frame).
        std::map<std::tuple<int64_t, int64_t, int64_t, int64_t>, std::size_t> row_of;
        for (std::size_t r = 0; r < out.rows; ++r)
          row_of[{static_cast<int64_t>(out.at(r, out.col("id1"))), static_cast<int64_t>(out.at(r, out.col("id2"))),
                  static_cast<int64_t>(out.at(r, out.col("perspective"))), static_cast<int64_t>(out.at(r, out.col("frame")))}] = r;
        std::vector<double> pc_scale(static_cast<std::size_t>(n_components), 0.0);
        for (std::size_t r = 0; r < out.rows; ++r)
          for (int i = 0; i < n_components; ++i)
            pc_scale[i] = std::max(pc_scale[i], std::abs(out.at(r, out.col("PC" + std::to_string(i)))));
        for (const auto& [pair, batch] : list) {
          const std::size_t rows = batch.size() / dim;
          std::vector<double> scores(rows * static_cast<std::size_t>(n_components));
          pca.transform(batch.data(), rows, scores.data());
          const GoldenMatrix tracks = mosaic::testing::read_golden_table(root / "_inputs/tracks" / (key + ".csv"));
          const auto animals = clean_sequence(tracks, keypoints, params.at("interpolation"));
          const Animal& a = animals.at(pair.first);
          std::map<double, bool> in_b;
          for (double f : animals.at(pair.second).frames) in_b[f] = true;
          std::vector<double> frames;
          for (double f : a.frames)
            if (in_b.count(f)) frames.push_back(f);
          ASSERT_EQ(frames.size() * 2, rows);
          for (std::size_t r = 0; r < rows; ++r) {
            const int64_t persp = r < frames.size() ? 0 : 1;
            const auto frame = static_cast<int64_t>(frames[r % frames.size()]);
            auto it = row_of.find({pair.first, pair.second, persp, frame});
            if (it == row_of.end()) it = row_of.find({pair.second, pair.first, persp, frame});
            ASSERT_NE(it, row_of.end());
            for (int i = 0; i < n_components; ++i) {
              const double g = out.at(it->second, out.col("PC" + std::to_string(i)));
              score_err = std::max(score_err, std::abs(signs[i] * scores[r * n_components + i] - g) / pc_scale[i]);
            }
          }
        }
      }
      std::printf("[ipca %s/%s] fits %lld rows, dim %zu: max |dC| %.3g, mean rel %.3g, var rel %.3g, S rel %.3g, scores rel %.3g\n",
                  ds, variant, static_cast<long long>(pca.n_samples_seen()), dim, comp_err, mean_err, var_err, sv_err, score_err);
      EXPECT_LT(comp_err, 1e-4);
      EXPECT_LT(mean_err, 1e-12);
      EXPECT_LT(var_err, 1e-9);
      EXPECT_LT(sv_err, 1e-5);
      // Spec §0.6: ~1e-4 for IPCA scores. The goldens carry sgesdd's own float32 error of that
      // size on synth (a float64 first-batch SVD here lands no closer: 1.0e-4).
      EXPECT_LT(score_err, 1e-4);
    }
  }
  EXPECT_GT(cases, 0);
}

// --- oracle: float64 batch PCA of all rows ------------------------------------------------------

using MatrixXdRow = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Principal axes of the centred data (rows of V^T, largest |entry| positive) and singular values.
void batch_pca(const MatrixXdRow& x, MatrixXdRow& vt, Eigen::VectorXd& s, Eigen::RowVectorXd& mean) {
  mean = x.colwise().mean();
  const MatrixXdRow xc = x.rowwise() - mean;
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(xc, Eigen::ComputeThinV);
  s = svd.singularValues();
  vt = svd.matrixV().transpose();
  for (Eigen::Index r = 0; r < vt.rows(); ++r) {
    Eigen::Index arg;
    vt.row(r).cwiseAbs().maxCoeff(&arg);
    if (vt(r, arg) < 0) vt.row(r) *= -1.0;
  }
}

std::vector<float> random_batch(std::mt19937_64& gen, std::size_t rows, std::size_t dim, double shift) {
  // Correlated data with well separated variances (so every component is well defined).
  std::normal_distribution<double> normal;
  std::vector<float> x(rows * dim);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < dim; ++c) {
      const double base = normal(gen) * std::pow(2.0, static_cast<double>(dim - c));
      x[r * dim + c] = static_cast<float>(base + 0.3 * (c ? x[r * dim + c - 1] : 0.0f) + shift * static_cast<double>(c));
    }
  }
  return x;
}

TEST(IncrementalPcaOracle, KeepingAllComponentsEqualsBatchPca) {
  // With n_components = n_features nothing is truncated, so the incremental update is exact in
  // exact arithmetic and must reproduce the PCA of all rows at once (float64 reference) up to
  // the float32 rounding of the first batch (centred data and SVD in float32): ~1e-7 relative.
  std::mt19937_64 gen(11);
  const std::size_t dim = 6;
  IncrementalPca pca(static_cast<int>(dim));
  std::vector<float> all;
  for (std::size_t b = 0; b < 5; ++b) {
    const auto x = random_batch(gen, 40 + 13 * b, dim, 0.5 * static_cast<double>(b));
    ASSERT_EQ(pca.partial_fit(x.data(), x.size() / dim, dim), IncrementalPca::FitStatus::kOk);
    all.insert(all.end(), x.begin(), x.end());
  }
  const std::size_t n = all.size() / dim;
  MatrixXdRow x(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim));
  for (std::size_t i = 0; i < all.size(); ++i) x.data()[i] = static_cast<double>(all[i]);
  MatrixXdRow vt;
  Eigen::VectorXd s;
  Eigen::RowVectorXd mean;
  batch_pca(x, vt, s, mean);
  EXPECT_EQ(pca.n_samples_seen(), static_cast<int64_t>(n));
  EXPECT_FALSE(pca.float32_state());
  for (std::size_t c = 0; c < dim; ++c) {
    EXPECT_NEAR(pca.mean()[c], mean(static_cast<Eigen::Index>(c)), 1e-12 * std::max(1.0, std::abs(mean(static_cast<Eigen::Index>(c)))));
    const double var = (x.col(static_cast<Eigen::Index>(c)).array() - mean(static_cast<Eigen::Index>(c))).square().mean();
    EXPECT_NEAR(pca.var()[c], var, 1e-10 * var);
  }
  for (std::size_t i = 0; i < dim; ++i) {
    EXPECT_NEAR(pca.singular_values()[i], s(static_cast<Eigen::Index>(i)), 1e-6 * s(0));
    for (std::size_t c = 0; c < dim; ++c)
      EXPECT_NEAR(pca.components()[i * dim + c], vt(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(c)), 1e-6);
  }
  // transform = (X - mean) V^T
  std::vector<double> scores(n * dim);
  pca.transform(all.data(), n, scores.data());
  const MatrixXdRow expected = (x.rowwise() - mean) * vt.transpose();
  for (std::size_t i = 0; i < scores.size(); ++i)
    EXPECT_NEAR(scores[i], expected.data()[i], 1e-6 * expected.cwiseAbs().maxCoeff());
}

TEST(IncrementalPcaOracle, SingleBatchIsFloat32AndTruncates) {
  std::mt19937_64 gen(5);
  const std::size_t dim = 8;
  const auto x = random_batch(gen, 200, dim, 1.0);
  IncrementalPca pca(3);
  ASSERT_EQ(pca.partial_fit(x.data(), 200, dim), IncrementalPca::FitStatus::kOk);
  EXPECT_TRUE(pca.float32_state());
  for (double v : pca.components()) EXPECT_EQ(v, static_cast<double>(static_cast<float>(v)));
  MatrixXdRow xd(200, static_cast<Eigen::Index>(dim));
  for (std::size_t i = 0; i < x.size(); ++i) xd.data()[i] = static_cast<double>(x[i]);
  MatrixXdRow vt;
  Eigen::VectorXd s;
  Eigen::RowVectorXd mean;
  batch_pca(xd, vt, s, mean);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(pca.singular_values()[i], s(static_cast<Eigen::Index>(i)), 1e-5 * s(0));
    for (std::size_t c = 0; c < dim; ++c)
      EXPECT_NEAR(pca.components()[i * dim + c], vt(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(c)), 1e-5);
  }
  std::vector<double> scores(200 * 3);
  pca.transform(x.data(), 200, scores.data());
  for (double v : scores) EXPECT_EQ(v, static_cast<double>(static_cast<float>(v)));  // float32 output
  // noise variance = mean of the discarded explained variances.
  double discarded = 0.0;
  for (Eigen::Index i = 3; i < s.size(); ++i) discarded += s(i) * s(i) / 199.0;
  EXPECT_NEAR(pca.noise_variance(), discarded / static_cast<double>(s.size() - 3), 1e-4 * discarded);
  // A restored model transforms identically.
  const IncrementalPca back = IncrementalPca::from_state(3, dim, pca.n_samples_seen(), pca.components(),
                                                         pca.singular_values(), pca.mean(), pca.var(), true);
  std::vector<double> again(scores.size());
  back.transform(x.data(), 200, again.data());
  EXPECT_EQ(again, scores);
  EXPECT_EQ(back.explained_variance(), pca.explained_variance());
}

TEST(IncrementalPcaOracle, RejectsWhatSklearnRejects) {
  const std::vector<float> x(5 * 4, 1.0f);
  IncrementalPca too_many(6);
  EXPECT_EQ(too_many.partial_fit(x.data(), 5, 4), IncrementalPca::FitStatus::kFeatureMismatch);  // k > features
  IncrementalPca pca(4);
  EXPECT_EQ(pca.partial_fit(x.data(), 3, 4), IncrementalPca::FitStatus::kTooFewRows);
  EXPECT_FALSE(pca.fitted());
  EXPECT_EQ(pca.partial_fit(x.data(), 5, 4), IncrementalPca::FitStatus::kOk);
  EXPECT_EQ(pca.partial_fit(x.data(), 2, 4), IncrementalPca::FitStatus::kOk);  // later batches may be small
  EXPECT_EQ(pca.partial_fit(x.data(), 4, 5), IncrementalPca::FitStatus::kFeatureMismatch);
}

}  // namespace
}  // namespace mosaic::kernels
