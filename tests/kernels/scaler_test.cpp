// StandardScaler kernel (global-scaler): golden parity with the reference's fitted mean/var/scale
// and scaled templates (scikit-learn 1.8 on the extract-templates/wp-ego templates), a naive
// long-double oracle with NaNs, and the constant-column rule.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "features/kernels/scaler.hpp"
#include "kernels/golden_csv.hpp"

namespace mosaic::kernels {
namespace {

namespace fs = std::filesystem;

TEST(ScalerGolden, MeanVarScaleAndScaledTemplatesOfGlobalScaler) {
  MOSAIC_REQUIRE_GOLDEN();
  int cases = 0;
  for (const char* ds : {"synth", "jabs_mice4", "deepof_mice2", "sleap_flies2"}) {
    for (const char* variant : {"upstream", "fixed"}) {
      const fs::path root = mosaic::testing::golden_dir() / ds;
      const fs::path tpl = root / "extract-templates/wp-ego" / variant / "state/export/templates.parquet.csv";
      const fs::path ex = root / "global-scaler/wp-ego" / variant / "state/export";
      if (!fs::exists(tpl) || !fs::exists(ex / "scaler.joblib.scaler.mean.csv")) continue;
      SCOPED_TRACE(std::string(ds) + "/" + variant);
      ++cases;
      const auto t = mosaic::testing::read_golden_table(tpl);
      const auto mean = mosaic::testing::read_golden_array(ex / "scaler.joblib.scaler.mean.csv");
      const auto var = mosaic::testing::read_golden_array(ex / "scaler.joblib.scaler.var.csv");
      const auto scale = mosaic::testing::read_golden_array(ex / "scaler.joblib.scaler.scale.csv");
      const auto scaled = mosaic::testing::read_golden_table(ex / "scaled_templates.parquet.csv");
      ASSERT_EQ(mean.values.size(), t.cols());
      std::vector<double> scratch(t.rows), out(t.rows);
      double worst = 0.0;
      for (std::size_t c = 0; c < t.cols(); ++c) {
        const std::vector<double> x = t.column(t.columns[c]);
        const ScalerColumnStats s = standard_scaler_fit(x, scratch);
        EXPECT_EQ(s.mean, mean.values[c]) << t.columns[c];
        EXPECT_EQ(s.var, var.values[c]) << t.columns[c];
        EXPECT_EQ(s.scale, scale.values[c]) << t.columns[c];
        standard_scale(x, s.mean, s.scale, out);
        const std::vector<double> g = scaled.column(t.columns[c]);
        for (std::size_t r = 0; r < t.rows; ++r) worst = std::max(worst, std::abs(out[r] - g[r]));
      }
      EXPECT_EQ(worst, 0.0);
    }
  }
  EXPECT_GT(cases, 0);
}

TEST(ScalerOracle, MatchesLongDoubleTwoPassWithNaNs) {
  std::mt19937_64 gen(5);
  std::normal_distribution<double> normal(1000.0, 3.0);
  for (std::size_t n : {1u, 2u, 7u, 8u, 127u, 128u, 129u, 1000u, 4099u}) {
    std::vector<double> x(n);
    for (auto& v : x) v = normal(gen);
    if (n > 3) x[1] = x[n - 2] = std::nan("");
    long double sum = 0, cnt = 0;
    for (double v : x)
      if (!std::isnan(v)) sum += v, cnt += 1;
    const long double m = sum / cnt;
    long double ss = 0;
    for (double v : x)
      if (!std::isnan(v)) ss += (v - m) * (v - m);
    std::vector<double> scratch(n);
    const ScalerColumnStats s = standard_scaler_fit(x, scratch);
    EXPECT_EQ(s.count, static_cast<int64_t>(cnt));
    EXPECT_NEAR(s.mean, static_cast<double>(m), 1e-13 * 1000.0) << n;
    if (n > 1) {
      EXPECT_NEAR(s.var, static_cast<double>(ss / cnt), 1e-9 * static_cast<double>(ss / cnt)) << n;
      EXPECT_DOUBLE_EQ(s.scale, std::sqrt(s.var));
    }
    std::vector<double> out(n);
    standard_scale(x, s.mean, s.scale, out);
    for (std::size_t i = 0; i < n; ++i) {
      if (std::isnan(x[i])) EXPECT_TRUE(std::isnan(out[i]));
      else EXPECT_EQ(out[i], (x[i] - s.mean) / s.scale);
    }
  }
}

TEST(ScalerOracle, ConstantAndAllNaNColumns) {
  std::vector<double> c(50, 3.25), scratch(50);
  ScalerColumnStats s = standard_scaler_fit(c, scratch);
  EXPECT_EQ(s.mean, 3.25);
  EXPECT_EQ(s.var, 0.0);
  EXPECT_EQ(s.scale, 1.0);  // sklearn: constant column -> scale 1, so transform gives exact zeros
  // 0.1 repeated: rounding leaves a tiny variance that the n*eps bound still calls constant.
  std::vector<double> tenth(1000, 0.1);
  scratch.resize(1000);
  s = standard_scaler_fit(tenth, scratch);
  EXPECT_EQ(s.scale, 1.0);
  std::vector<double> nan(4, std::nan(""));
  s = standard_scaler_fit(nan, scratch);
  EXPECT_EQ(s.count, 0);
  EXPECT_TRUE(std::isnan(s.mean));
  EXPECT_TRUE(std::isnan(s.scale));
  std::vector<double> one{2.0};
  s = standard_scaler_fit(one, scratch);
  EXPECT_EQ(s.mean, 2.0);
  EXPECT_EQ(s.scale, 1.0);
}

}  // namespace
}  // namespace mosaic::kernels
