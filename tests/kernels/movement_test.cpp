// Oracle tests for kernels/movement against naive restatements of what scipy.ndimage,
// numpy.pad(mode="reflect") + xarray rolling and xarray interpolate_na compute.
#include "features/kernels/movement.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "features/kernels/signal.hpp"

namespace mosaic::kernels {
namespace {

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();

std::vector<float> random_series(std::mt19937_64& rng, std::size_t n, double nan_rate) {
  std::uniform_real_distribution<double> u(-100, 100);
  std::bernoulli_distribution nan(nan_rate);
  std::vector<float> v(n);
  for (auto& x : v) x = nan(rng) ? kNaNf : static_cast<float>(u(rng));
  return v;
}

bool close_or_both_nan(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::fabs(a - b) <= 2e-6f * std::max(1.0f, std::fabs(b));
}

TEST(MovementKernel, ExtendIndexModes) {
  // n = 4: a b c d
  const std::vector<int64_t> mirror = {3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1};  // p = -3 .. 7
  for (int64_t p = -3; p <= 7; ++p) {
    EXPECT_EQ(extend_index(p, 4, EdgeMode::kMirror), mirror[static_cast<std::size_t>(p + 3)]) << p;
    EXPECT_EQ(extend_index(p, 4, EdgeMode::kWrap), ((p % 4) + 4) % 4);
    EXPECT_EQ(extend_index(p, 4, EdgeMode::kNearest), std::clamp<int64_t>(p, 0, 3));
    EXPECT_EQ(extend_index(p, 4, EdgeMode::kConstant), (p >= 0 && p < 4) ? p : -1);
  }
  EXPECT_EQ(extend_index(-5, 1, EdgeMode::kMirror), 0);
}

// scipy.ndimage.convolve1d(x, w)[i] = sum_k w[k] * ext(x)[i + len(w) // 2 - k].
TEST(MovementKernel, ConvolveMatchesTheDefinition) {
  std::mt19937_64 rng(3);
  std::vector<double> work;
  for (int window : {1, 2, 3, 4, 5, 7, 8, 11}) {
    for (int poly : {0, 1, 2, 3}) {
      if (poly >= window) continue;
      std::vector<double> w = savgol_coeffs(window, poly);
      for (EdgeMode mode : {EdgeMode::kNearest, EdgeMode::kMirror, EdgeMode::kConstant, EdgeMode::kWrap}) {
        for (std::size_t n : {1u, 2u, 5u, 40u}) {
          std::vector<float> x = random_series(rng, n, n > 10 ? 0.05 : 0.0), got(n);
          ndimage_convolve1d(x, w, mode, got, work);
          for (std::size_t i = 0; i < n; ++i) {
            double s = 0;
            for (int k = 0; k < window; ++k) {
              const int64_t src = extend_index(static_cast<int64_t>(i) + window / 2 - k, static_cast<int64_t>(n), mode);
              s += w[static_cast<std::size_t>(k)] * (src < 0 ? 0.0 : x[static_cast<std::size_t>(src)]);
            }
            EXPECT_TRUE(close_or_both_nan(got[i], static_cast<float>(s)))
                << "window " << window << " poly " << poly << " n " << n << " i " << i << ": " << got[i] << " vs " << s;
          }
        }
      }
    }
  }
}

TEST(MovementKernel, SavgolKeepsPolynomialsAndInterpModeFitsEdges) {
  std::vector<float> x(12), out(12);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(0.5 * i * i - 3.0 * i + 2);
  std::vector<double> c = savgol_coeffs(5, 2), work;
  ASSERT_TRUE(savgol_series_interp(x, 5, 2, c, out, work));
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(out[i], x[i], 1e-4) << i;  // a parabola is kept, edges too
  x[1] = kNaNf;
  EXPECT_FALSE(savgol_series_interp(x, 5, 2, c, out, work));  // SciPy >= 1.17 refuses NaN in edge windows
}

// movement's rolling_filter: numpy reflect pad of window//2, centred windows, trimmed again.
TEST(MovementKernel, RollingMatchesPadAndWindowOracle) {
  std::mt19937_64 rng(8);
  std::vector<double> work;
  for (int window : {2, 3, 4, 5, 8}) {
    for (std::size_t n : {static_cast<std::size_t>(window / 2 + 1), std::size_t{9}, std::size_t{30}}) {
      std::vector<float> x = random_series(rng, n, 0.2), got(n);
      const std::size_t h = static_cast<std::size_t>(window / 2);
      // np.pad(x, h, mode="reflect") for h <= n - 1.
      std::vector<float> padded;
      for (std::size_t k = h; k >= 1; --k) padded.push_back(x[k]);
      padded.insert(padded.end(), x.begin(), x.end());
      for (std::size_t k = 1; k <= h; ++k) padded.push_back(x[n - 1 - k]);
      for (RollingStat stat : {RollingStat::kMedian, RollingStat::kMean, RollingStat::kMax, RollingStat::kMin}) {
        for (int minp : {1, window}) {
          rolling_series(x, window, stat, minp, got, work);
          for (std::size_t t = 0; t < n; ++t) {
            // xarray center=True: window [t - w//2, t + w - 1 - w//2] around padded index t + h.
            std::vector<double> vals;
            for (std::size_t k = t; k < t + static_cast<std::size_t>(window); ++k)
              if (!std::isnan(padded[k])) vals.push_back(padded[k]);
            float want = kNaNf;
            if (!vals.empty() && static_cast<int>(vals.size()) >= minp) {
              std::sort(vals.begin(), vals.end());
              double r = 0;
              if (stat == RollingStat::kMin) r = vals.front();
              if (stat == RollingStat::kMax) r = vals.back();
              if (stat == RollingStat::kMean) {
                for (double v : vals) r += v;
                r /= static_cast<double>(vals.size());
              }
              if (stat == RollingStat::kMedian)
                r = vals.size() % 2 ? vals[vals.size() / 2] : (vals[vals.size() / 2 - 1] + vals[vals.size() / 2]) / 2;
              want = static_cast<float>(r);
            }
            EXPECT_TRUE(close_or_both_nan(got[t], want)) << "window " << window << " n " << n << " t " << t;
          }
        }
      }
    }
  }
}

TEST(MovementKernel, InterpolateMatchesNaiveGapFilling) {
  std::mt19937_64 rng(4);
  for (std::size_t n : {0u, 1u, 2u, 3u, 10u, 60u}) {
    for (double nan_rate : {0.0, 0.3, 0.8, 1.0}) {
      for (std::optional<int64_t> max_gap : {std::optional<int64_t>(), std::optional<int64_t>(0),
                                             std::optional<int64_t>(2)}) {
        std::vector<float> x = random_series(rng, n, nan_rate), got = x;
        interpolate_series(got, max_gap);
        std::size_t valid = 0;
        for (float v : x) valid += std::isnan(v) ? 0 : 1;
        for (std::size_t i = 0; i < n; ++i) {
          float want = x[i];
          if (std::isnan(x[i]) && valid >= 2) {
            std::ptrdiff_t a = static_cast<std::ptrdiff_t>(i) - 1, b = static_cast<std::ptrdiff_t>(i) + 1;
            while (a >= 0 && std::isnan(x[static_cast<std::size_t>(a)])) --a;
            while (b < static_cast<std::ptrdiff_t>(n) && std::isnan(x[static_cast<std::size_t>(b)])) ++b;
            if (a >= 0 && b < static_cast<std::ptrdiff_t>(n) && (!max_gap || b - a - 1 <= *max_gap)) {
              const double ya = x[static_cast<std::size_t>(a)], yb = x[static_cast<std::size_t>(b)];
              want = static_cast<float>((yb - ya) / static_cast<double>(b - a) * static_cast<double>(static_cast<std::ptrdiff_t>(i) - a) + ya);
            }
          }
          EXPECT_TRUE((std::isnan(want) && std::isnan(got[i])) || want == got[i]) << "n " << n << " i " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace mosaic::kernels
