// CWT kernels: the pinned PyWavelets 1.9 numbers (central frequency, float32 scales), golden
// parity of pair-wavelet's log-power on the golden PCA signals, and a long-double direct-sum
// oracle for the direct and FFT convolutions.
#include "features/kernels/cwt.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <tuple>

#include "kernels/golden_csv.hpp"

namespace mosaic::kernels {
namespace {

namespace fs = std::filesystem;
using mosaic::testing::GoldenMatrix;

const ComplexMorlet kCmor{1.5, 1.0};

TEST(Cwt, ParseName) {
  const auto w = parse_cmor("cmor1.5-1.0");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->bandwidth, 1.5);
  EXPECT_EQ(w->center, 1.0);
  EXPECT_FALSE(parse_cmor("morl"));
  EXPECT_FALSE(parse_cmor("cmor1.5"));
  EXPECT_FALSE(parse_cmor("cmor1.5-"));
  EXPECT_FALSE(parse_cmor("cmor-1.0"));
}

TEST(Cwt, CentralFrequencyIsExactlyOne) {
  EXPECT_EQ(central_frequency(kCmor, 8), 1.0);  // pinned_checks.json central_frequency_cmor1.5-1.0
}

TEST(Cwt, NumpyLogfIsTheSimdKernel) {
  EXPECT_EQ(std::bit_cast<uint32_t>(numpy_logf(1.0f)), 0x00000000u);
  EXPECT_EQ(std::bit_cast<uint32_t>(numpy_logf(2.0f)), 0x3F317218u);  // NPY_LOGE2f
  EXPECT_EQ(numpy_logf(0.0f), -INFINITY);
  EXPECT_TRUE(std::isnan(numpy_logf(-1.0f)));
  EXPECT_TRUE(std::isnan(numpy_logf(NAN)));
  EXPECT_EQ(numpy_logf(INFINITY), INFINITY);
  // Within the kernel's documented 3.83 ulp of the correctly rounded log, normals and denormals.
  int max_ulp = 0;
  for (float x = 1e-44f; x < 1e38f; x = std::max(x * 1.0007f, std::nextafter(x, INFINITY))) {
    const float got = numpy_logf(x);
    const auto ref = static_cast<float>(std::log(static_cast<double>(x)));
    const int ulp = std::abs(std::bit_cast<int32_t>(got) - std::bit_cast<int32_t>(ref));
    max_ulp = std::max(max_ulp, ulp);
  }
  EXPECT_LE(max_ulp, 4);
}

TEST(Cwt, LinspaceMatchesNumpy) {
  std::vector<double> x(4096);
  linspace(-8.0, 8.0, x);
  const double step = 16.0 / 4095.0;
  EXPECT_EQ(x[0], -8.0);
  EXPECT_EQ(x[1], step - 8.0);
  EXPECT_EQ(x[2047], 2047 * step - 8.0);
  EXPECT_EQ(x[4095], 8.0);
}

TEST(Cwt, ScalesMatchPinnedFloat32List) {
  MOSAIC_REQUIRE_GOLDEN();
  const auto pins = nlohmann::json::parse(mosaic::testing::read_text(mosaic::testing::golden_dir() / "pinned_checks.json"));
  const auto expected = pins.at("pywt").at("scales_float32").get<std::vector<double>>();
  const WaveletBand band = wavelet_band(0.2, 5.0, 25, 30.0, kCmor);
  ASSERT_EQ(band.scales.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(static_cast<double>(band.scales[i]), expected[i]) << i;
  EXPECT_EQ(band.central_frequency, 1.0);
  EXPECT_EQ(band.frequencies.front(), 0.2f);
  EXPECT_EQ(band.frequencies.back(), 5.0f);
  // pair-wavelet attrs of the golden runs (n_freq 3): frequencies_hz [0.2, 1, 5], scales [150, 30, 6].
  const WaveletBand three = wavelet_band(0.2, 5.0, 3, 30.0, kCmor);
  EXPECT_EQ(three.frequencies, (std::vector<float>{0.2f, 1.0f, 5.0f}));
  EXPECT_EQ(three.scales, (std::vector<float>{150.0f, 30.0f, 6.0f}));
}

TEST(Cwt, ScaleFilterFollowsPywtIndexing) {
  const MorletCwt cwt(kCmor);
  ASSERT_EQ(cwt.int_psi().size(), 4096u);
  // Scale 150: ceil(150 * 16 + 1) = 2401 samples, j = floor(k / (150 * step)) never past 4095.
  const auto f150 = cwt.scale_filter(150.0f);
  EXPECT_EQ(f150.size(), 2401u);
  EXPECT_EQ(f150.back(), cwt.int_psi()[0]);  // reversed: the last tap is int_psi[0]
  // Scale 6: 97 samples, j = floor(k / (6 * step)) with step = 16/4095.
  const auto f6 = cwt.scale_filter(6.0f);
  EXPECT_EQ(f6.size(), 97u);
  std::vector<double> x(4096);
  linspace(-8.0, 8.0, x);
  const double step = x[1] - x[0];
  EXPECT_EQ(f6.front(), cwt.int_psi()[static_cast<std::size_t>(96.0 / (6.0 * step))]);
  // int_psi is the conjugated running integral: its imaginary part ends near -integral(Im psi) = 0.
  EXPECT_NEAR(cwt.int_psi().back().imag(), 0.0, 1e-12);
}

// --- oracle: long-double direct convolution on the same filter --------------------------------

std::vector<std::complex<long double>> oracle_coefficients(const MorletCwt& cwt, const std::vector<double>& x, float scale) {
  const auto f = cwt.scale_filter(scale);
  const std::size_t n = x.size(), l = f.size();
  std::vector<std::complex<long double>> conv(n + l - 1);
  for (std::size_t c = 0; c < conv.size(); ++c) {
    std::complex<long double> acc = 0;
    for (std::size_t k = 0; k < l; ++k)
      if (c >= k && c - k < n) acc += static_cast<long double>(x[c - k]) * std::complex<long double>(f[k]);
    conv[c] = acc;
  }
  const std::size_t first = (l - 2) / 2;
  const long double s = std::sqrt(scale);
  std::vector<std::complex<long double>> coef(n);
  for (std::size_t t = 0; t < n; ++t) coef[t] = -s * (conv[t + first + 1] - conv[t + first]);
  return coef;
}

TEST(CwtOracle, DirectAndFftAgreeWithLongDoubleSums) {
  const MorletCwt cwt(kCmor);
  std::mt19937_64 gen(7);
  std::normal_distribution<double> normal(0.0, 50.0);
  double worst_direct = 0.0, worst_fft = 0.0;
  for (std::size_t n : {1u, 2u, 13u, 200u, 1000u}) {
    std::vector<double> x(n);
    double walk = 0.0;
    for (double& v : x) v = (walk += normal(gen) * 0.1) + normal(gen);  // smooth plus noise, like PCs
    for (float s : {6.0f, 17.544105529785156f, 30.0f, 150.0f}) {
      const auto oracle = oracle_coefficients(cwt, x, s);
      long double scale_max = 0;
      for (const auto& c : oracle) scale_max = std::max(scale_max, std::abs(c));
      std::vector<std::complex<double>> direct(n), fft(n);
      ASSERT_TRUE(cwt.coefficients(x, s, direct, CwtMethod::kDirect));
      ASSERT_TRUE(cwt.coefficients(x, s, fft, CwtMethod::kFft));
      for (std::size_t t = 0; t < n; ++t) {
        const auto o = std::complex<double>(oracle[t]);
        worst_direct = std::max(worst_direct, std::abs(direct[t] - o) / static_cast<double>(scale_max));
        worst_fft = std::max(worst_fft, std::abs(fft[t] - o) / static_cast<double>(scale_max));
      }
    }
  }
  std::printf("[cwt oracle] max |coef - oracle| / max|coef|: direct %.3g, fft %.3g\n", worst_direct, worst_fft);
  EXPECT_LT(worst_direct, 1e-13);
  EXPECT_LT(worst_fft, 1e-12);
}

TEST(CwtOracle, NanOnlySpoilsItsWindowAndTinyScalesFail) {
  const MorletCwt cwt(kCmor);
  std::vector<double> x(300);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.3 * static_cast<double>(i));
  x[150] = NAN;
  const float s = 6.0f;  // 97-tap filter: the NaN reaches outputs within ~48 samples
  std::vector<std::complex<double>> direct(300), fft(300);
  ASSERT_TRUE(cwt.coefficients(x, s, direct, CwtMethod::kDirect));
  ASSERT_TRUE(cwt.coefficients(x, s, fft, CwtMethod::kFft));  // falls back to direct sums
  for (std::size_t t = 0; t < x.size(); ++t) {
    const bool near = t + 60 > 150 && t < 150 + 60;
    if (!near) {
      EXPECT_TRUE(std::isfinite(direct[t].real())) << t;
    }
    EXPECT_EQ(std::isnan(direct[t].real()), std::isnan(fft[t].real())) << t;
  }
  EXPECT_TRUE(std::isnan(direct[150].real()));
  std::vector<float> logp(300);
  ASSERT_TRUE(cwt.log_power(x, std::vector<float>{s}, -3.0f, logp));
  EXPECT_TRUE(std::isnan(logp[150]));
  EXPECT_GE(logp[0], -3.0f);
  // A scale whose filter has fewer than 2 taps is rejected (pywt raises).
  std::vector<std::complex<double>> out(300);
  EXPECT_FALSE(cwt.coefficients(x, 0.01f, out));
  EXPECT_FALSE(cwt.log_power(x, std::vector<float>{6.0f, 0.01f}, -3.0f, logp));
  EXPECT_TRUE(cwt.coefficients({}, 6.0f, {}));
}

TEST(CwtOracle, BatchEqualsSingleSignals) {
  const MorletCwt cwt(kCmor);
  const std::size_t n = 500, k = 3;
  std::vector<double> x(n * k);
  std::mt19937_64 gen(3);
  std::normal_distribution<double> normal;
  for (double& v : x) v = normal(gen);
  x[n + 10] = NAN;  // the second signal takes the direct path
  const std::vector<float> scales{6.0f, 30.0f, 150.0f};
  std::vector<float> batch(k * scales.size() * n);
  ASSERT_TRUE(cwt.log_power(x, k, scales, -3.0f, batch));
  for (std::size_t s = 0; s < k; ++s) {
    std::vector<float> one(scales.size() * n);
    ASSERT_TRUE(cwt.log_power(std::span<const double>(x).subspan(s * n, n), scales, -3.0f, one));
    for (std::size_t i = 0; i < one.size(); ++i) {
      const float b = batch[s * scales.size() * n + i];
      ASSERT_TRUE(b == one[i] || (std::isnan(b) && std::isnan(one[i]))) << s << " " << i;
    }
  }
}

// --- golden: pair-wavelet/pca-nfreq3 on the golden PCA outputs --------------------------------

TEST(CwtGolden, LogPowerOfPcaSignals) {
  MOSAIC_REQUIRE_GOLDEN();
  const char* const datasets[] = {"synth", "jabs_mice4", "deepof_mice2", "sleap_flies2"};
  const MorletCwt cwt(kCmor);
  int cases = 0;
  for (const char* ds : datasets) {
    for (const char* variant : {"upstream", "fixed"}) {
      const fs::path root = mosaic::testing::golden_dir() / ds;
      const fs::path wav = root / "pair-wavelet/pca-nfreq3" / variant;
      if (!fs::exists(wav / "run_info.json")) continue;
      const auto info = nlohmann::json::parse(mosaic::testing::read_text(wav / "run_info.json"));
      const auto& params = info.at("params_model_dump");
      const auto input_dir = root / "pair-posedistance-pca/defaults" / variant;
      SCOPED_TRACE(std::string(ds) + "/" + variant);
      ++cases;
      double max_rel[3] = {0, 0, 0}, max_abs[3] = {0, 0, 0};
      std::size_t values = 0, exact = 0;
      for (const auto& e : info.at("entries")) {
        const std::string key = e.at("entry_key").get<std::string>();
        const auto meta = nlohmann::json::parse(mosaic::testing::read_text(wav / (key + ".meta.json")));
        const double fps = meta.at("attrs").at("fps").get<double>();
        const WaveletBand band = wavelet_band(params.at("f_min").get<double>(), params.at("f_max").get<double>(),
                                              params.at("n_freq").get<int>(), fps, kCmor);
        EXPECT_EQ(band.scales, meta.at("attrs").at("scales").get<std::vector<float>>());
        const auto cols = meta.at("attrs").at("input_columns").get<std::vector<std::string>>();
        const GoldenMatrix pca = mosaic::testing::read_golden_table(input_dir / (key + ".csv"));
        const GoldenMatrix out = mosaic::testing::read_golden_table(wav / (key + ".csv"));
        ASSERT_EQ(pca.rows, out.rows);
        // Both tables are sorted by (id1, id2, perspective, frame): groups are runs of equal keys.
        std::size_t start = 0;
        while (start < pca.rows) {
          auto key_of = [&](std::size_t r) {
            return std::make_tuple(pca.at(r, pca.col("id1")), pca.at(r, pca.col("id2")), pca.at(r, pca.col("perspective")));
          };
          std::size_t end = start;
          while (end < pca.rows && key_of(end) == key_of(start)) ++end;
          const std::size_t n = end - start;
          for (const auto& col : cols) {
            std::vector<double> signal(n);
            for (std::size_t t = 0; t < n; ++t) signal[t] = pca.at(start + t, pca.col(col));
            for (int m = 0; m < 3; ++m) {
              std::vector<float> logp(band.scales.size() * n);
              ASSERT_TRUE(cwt.log_power(signal, band.scales, params.at("log_floor").get<float>(), logp,
                                        static_cast<CwtMethod>(m)));
              for (std::size_t fi = 0; fi < band.scales.size(); ++fi) {
                const std::size_t oc = out.col("W_" + col + "_f" + std::to_string(fi));
                for (std::size_t t = 0; t < n; ++t) {
                  const double g = out.at(start + t, oc), v = logp[fi * n + t];
                  const double d = std::abs(v - g);
                  max_abs[m] = std::max(max_abs[m], d);
                  max_rel[m] = std::max(max_rel[m], d / std::max(std::abs(g), 1.0));
                  if (m == 1) {
                    ++values;
                    exact += d == 0.0;
                  }
                }
              }
            }
          }
          start = end;
        }
      }
      std::printf("[cwt golden %s/%s] %zu values, direct exact %zu; max abs/rel: auto %.3g/%.3g direct %.3g/%.3g fft %.3g/%.3g\n",
                  ds, variant, values, exact, max_abs[0], max_rel[0], max_abs[1], max_rel[1], max_abs[2], max_rel[2]);
      for (int m = 0; m < 3; ++m) EXPECT_LE(max_rel[m], 1e-5) << "method " << m;
    }
  }
  EXPECT_GT(cases, 0);
}

}  // namespace
}  // namespace mosaic::kernels
