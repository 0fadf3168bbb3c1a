// Oracle tests for kernels/orientation: numpy's pairwise sum and quantile/median arithmetic
// against naive re-statements of numpy's C and Python code, and orientation_pair against a
// direct per-pair computation.
#include "features/kernels/orientation.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "features/kernels/signal.hpp"

namespace mosaic::kernels {
namespace {

bool same_bits(double a, double b) { return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0; }

// numpy's DOUBLE_pairwise_sum, written out recursively from its description (8 accumulators for
// 8 <= n <= 128, halves rounded down to a multiple of 8 above).
double naive_pairwise(const std::vector<double>& a, std::size_t lo, std::size_t n) {
  if (n < 8) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s = s + a[lo + i];
    return s;
  }
  if (n <= 128) {
    std::vector<double> r(a.begin() + static_cast<long>(lo), a.begin() + static_cast<long>(lo + 8));
    std::size_t i = 8;
    while (i + 8 <= n) {
      for (std::size_t j = 0; j < 8; ++j) r[j] = r[j] + a[lo + i + j];
      i += 8;
    }
    double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) s = s + a[lo + i];
    return s;
  }
  std::size_t half = (n / 2) - (n / 2) % 8;
  return naive_pairwise(a, lo, half) + naive_pairwise(a, lo + half, n - half);
}

TEST(OrientationKernel, NumpySumIsPairwise) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-1e6, 1e6);
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 127u, 128u, 129u, 1000u, 4099u}) {
    std::vector<double> v(n);
    for (auto& x : v) x = u(rng);
    EXPECT_TRUE(same_bits(numpy_sum(v), 0.0 + naive_pairwise(v, 0, n))) << n;
  }
  // Order matters: the pairwise order is not the sequential one here.
  std::vector<double> v(16, 1.0);
  v[0] = 1e16;
  v[8] = -1e16;
  EXPECT_EQ(numpy_sum(v), 14.0);  // (1e16 + -1e16) is formed before the ones are lost
}

TEST(OrientationKernel, QuantileAndMedianFollowNumpy) {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(0, 10);
  for (std::size_t n : {1u, 2u, 3u, 7u, 10u}) {
    std::vector<double> v(n);
    for (auto& x : v) x = u(rng);
    std::sort(v.begin(), v.end());
    for (double q : {0.0, 0.1, 0.25, 0.3, 0.5, 0.7, 0.75, 0.99, 1.0}) {
      // numpy: virtual index (n-1)q, gamma = index - floor; _lerp; the last value at the top.
      const double vi = static_cast<double>(n - 1) * q;
      double want;
      if (vi >= static_cast<double>(n - 1)) {
        want = v.back();
      } else {
        const auto lo = static_cast<std::size_t>(std::floor(vi));
        const double t = vi - std::floor(vi), a = v[lo], b = v[lo + 1];
        want = t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
      }
      EXPECT_TRUE(same_bits(quantile_linear_sorted(v, q), want)) << n << " " << q;
    }
    const double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    EXPECT_TRUE(same_bits(median_sorted(v), med));
  }
}

TEST(OrientationKernel, PairAgainstDirectFormulas) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(-50, 50), ang(-3.2, 3.2);
  OrientationWorkspace ws;
  const std::vector<double> qs = {0.25, 0.5, 0.75};
  for (int trial = 0; trial < 200; ++trial) {
    const std::size_t nb = 2 + static_cast<std::size_t>(trial % 9);
    std::vector<double> pts(2 * nb);
    for (auto& p : pts) p = u(rng);
    const double cax = u(rng), cay = u(rng), cbx = u(rng), cby = u(rng), ta = ang(rng), tb = ang(rng), scale = 7.5;
    std::vector<double> out(orientation_row_width(3, 4));
    orientation_pair(pts, cax, cay, cbx, cby, ta, tb, scale, qs, 4, ws, out.data());
    const double c = std::cos(-ta), s = std::sin(-ta);
    std::vector<double> rx(nb), ry(nb), d(nb);
    for (std::size_t k = 0; k < nb; ++k) {
      const double dx = pts[2 * k] - cax, dy = pts[2 * k + 1] - cay;
      rx[k] = (c * dx - s * dy) / scale;
      ry[k] = (s * dx + c * dy) / scale;
      d[k] = std::sqrt(rx[k] * rx[k] + ry[k] * ry[k]);
    }
    std::sort(d.begin(), d.end());
    EXPECT_TRUE(same_bits(out[0], (c * (cbx - cax) - s * (cby - cay)) / scale));
    EXPECT_TRUE(same_bits(out[2], wrap_angle(tb - ta)));
    EXPECT_TRUE(same_bits(out[3], d.front()));
    EXPECT_TRUE(same_bits(out[4], median_sorted(d)));
    EXPECT_TRUE(same_bits(out[5], d.back()));
    EXPECT_TRUE(same_bits(out[7], quantile_linear_sorted(d, 0.5)));
    EXPECT_TRUE(same_bits(out[9], *std::min_element(rx.begin(), rx.end())));
    EXPECT_TRUE(same_bits(out[14], *std::max_element(ry.begin(), ry.end())));
    for (std::size_t k = 0; k < 4; ++k) EXPECT_TRUE(same_bits(out[15 + k], k < nb ? d[k] : NAN)) << k;
  }
}

}  // namespace
}  // namespace mosaic::kernels
