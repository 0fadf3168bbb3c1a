// Gaussian filter kernels: values pinned from numpy 1.24 / scipy 1.10 (the golden corpus's
// versions) and a naive long-double oracle on random data, NaN patterns and the degenerate sizes.
#include "features/kernels/filters.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace mosaic::kernels {
namespace {

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();

// Naive oracle: the same correlation, summed left to right in long double.
std::vector<float> naive_filter(const std::vector<float>& x, double sigma, int64_t radius) {
  std::vector<long double> w(static_cast<std::size_t>(2 * radius + 1));
  long double total = 0;
  for (int64_t k = -radius; k <= radius; ++k) {
    w[static_cast<std::size_t>(k + radius)] = std::exp(-0.5L * static_cast<long double>(k * k) / (sigma * sigma));
    total += w[static_cast<std::size_t>(k + radius)];
  }
  const auto n = static_cast<int64_t>(x.size());
  std::vector<float> out(x.size());
  for (int64_t t = 0; t < n; ++t) {
    long double acc = 0;
    for (int64_t k = -radius; k <= radius; ++k) {
      const int64_t s = std::clamp<int64_t>(t + k, 0, n - 1);
      acc += static_cast<long double>(x[static_cast<std::size_t>(s)]) * w[static_cast<std::size_t>(k + radius)] / total;
    }
    out[static_cast<std::size_t>(t)] = static_cast<float>(acc);
  }
  return out;
}

std::vector<float> run_filter(const std::vector<float>& x, double sigma, int64_t radius) {
  std::vector<double> w(static_cast<std::size_t>(2 * radius + 1));
  gaussian_kernel1d(sigma, radius, w);
  std::vector<double> scratch(x.size() + w.size());
  std::vector<float> out(x.size());
  gaussian_filter1d_nearest(x, w, out, scratch);
  return out;
}

TEST(Filters, PairwiseSumMatchesNumpy) {
  // np.add.reduce of x[i] = sin(i) * 10**(i % 7): pairwise summation differs from sequential for n >= 8.
  auto data = [](std::size_t n) {
    std::vector<double> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = std::sin(static_cast<double>(i)) * std::pow(10.0, static_cast<double>(i % 7));
    return x;
  };
  EXPECT_EQ(numpy_pairwise_sum(data(5)), -0x1.c9f8f7c6f8ce9p+12);
  EXPECT_EQ(numpy_pairwise_sum(data(100)), 0x1.3e62c108e40d8p+21);   // sequential: ...d9p+21
  EXPECT_EQ(numpy_pairwise_sum(data(1000)), -0x1.7660c0cac1fe0p+17);  // sequential: ...fe7p+17
  EXPECT_EQ(numpy_pairwise_sum(std::vector<double>{}), 0.0);
}

TEST(Filters, KernelMatchesScipy) {
  // scipy.ndimage._filters._gaussian_kernel1d(2.0, 0, 8)
  const double expected[] = {0x1.18aad19e4159bp-14, 0x1.c98b8c5d0dda5p-12, 0x1.227362b5fc92dp-9, 0x1.1f30504e20207p-7,
                             0x1.ba4d4125ffd2ap-6,  0x1.0941b71ceef37p-4,  0x1.ef9093fc46e5ap-4, 0x1.68856f9ab1983p-3,
                             0x1.98862a07ae7b4p-3};
  EXPECT_EQ(gaussian_radius(2.0, 4.0), 8);
  std::vector<double> w(17);
  gaussian_kernel1d(2.0, 8, w);
  for (int i = 0; i <= 8; ++i) {
    EXPECT_EQ(w[static_cast<std::size_t>(i)], expected[i]) << i;
    EXPECT_EQ(w[static_cast<std::size_t>(16 - i)], expected[i]) << i;
  }
  // _gaussian_kernel1d(30.0, 0, 8): a wide sigma on a short radius (the win_sec-honouring pool).
  gaussian_kernel1d(30.0, 8, w);
  EXPECT_EQ(w[0], 0x1.d74245eb9ebb0p-5);
  EXPECT_EQ(w[8], 0x1.e850f225e4140p-5);
  EXPECT_EQ(gaussian_radius(30.0, 1.0), 30);
  EXPECT_EQ(gaussian_radius(30.0, 15.0 / 60.0), 8);  // int(7.5 + 0.5)
  EXPECT_EQ(gaussian_radius(30.0, 8.0 / 60.0), 4);
}

TEST(Filters, FilterMatchesScipyFloat32) {
  // x = float32(cos(0.3 i) * 100 + i), i < 20 (values printed by numpy).
  const std::vector<float> x = {0x1.9000000000000p+6f,  0x1.8222740000000p+6f,  0x1.52225e0000000p+6f,  0x1.04a4dc0000000p+6f,
                                0x1.41e2de0000000p+5f,  0x1.825bea0000000p+3f,  -0x1.0b85fa0000000p+4f, -0x1.5be07c0000000p+5f,
                                -0x1.06f51e0000000p+6f, -0x1.45a0fc0000000p+6f, -0x1.63ff3c0000000p+6f, -0x1.5efdee0000000p+6f,
                                -0x1.36b4100000000p+6f, -0x1.dcbef00000000p+5f, -0x1.18356a0000000p+5f, -0x1.8517d60000000p+2f,
                                0x1.8bff960000000p+4f,  0x1.b661d80000000p+5f,  0x1.45e08c0000000p+6f,  0x1.99e2960000000p+6f};
  // gaussian_filter1d(x, 1.5, mode="nearest")
  const std::vector<float> s15 = {0x1.7f0c100000000p+6f,  0x1.6417700000000p+6f,  0x1.33eb940000000p+6f,  0x1.d9ee720000000p+5f,
                                  0x1.26090a0000000p+5f,  0x1.6c94c80000000p+3f,  -0x1.d10c400000000p+3f, -0x1.34fe060000000p+5f,
                                  -0x1.d51e720000000p+5f, -0x1.22cfd40000000p+6f, -0x1.3ddefe0000000p+6f, -0x1.38f6760000000p+6f,
                                  -0x1.142b020000000p+6f, -0x1.a4d5260000000p+5f, -0x1.e4ea0c0000000p+4f, -0x1.0433a60000000p+2f,
                                  0x1.7c8c300000000p+4f,  0x1.941f4c0000000p+5f,  0x1.24664a0000000p+6f,  0x1.6407fa0000000p+6f};
  EXPECT_EQ(run_filter(x, 1.5, gaussian_radius(1.5, 4.0)), s15);
  // gaussian_filter1d(x, 30.0, mode="nearest", truncate=1.0): radius 30 > length.
  const std::vector<float> s30 = {0x1.0834720000000p+6f, 0x1.06e4dc0000000p+6f, 0x1.05b9640000000p+6f, 0x1.04b31a0000000p+6f,
                                  0x1.03d2ee0000000p+6f, 0x1.0319b40000000p+6f, 0x1.0288200000000p+6f, 0x1.021eca0000000p+6f,
                                  0x1.01de200000000p+6f, 0x1.01c6760000000p+6f, 0x1.01d7fa0000000p+6f, 0x1.0212ba0000000p+6f,
                                  0x1.02769c0000000p+6f, 0x1.03036c0000000p+6f, 0x1.03b8cc0000000p+6f, 0x1.0496400000000p+6f,
                                  0x1.059b2a0000000p+6f, 0x1.06c6ca0000000p+6f, 0x1.0818460000000p+6f, 0x1.098e9e0000000p+6f};
  EXPECT_EQ(run_filter(x, 30.0, gaussian_radius(30.0, 1.0)), s30);
  // A NaN spreads over the radius (scipy does not treat NaN specially): sigma 2, radius 8.
  std::vector<float> xn = x;
  xn[7] = kNaNf;
  auto sn = run_filter(xn, 2.0, 8);
  for (std::size_t t = 0; t < 16; ++t) EXPECT_TRUE(std::isnan(sn[t])) << t;
  EXPECT_EQ(sn[16], 0x1.6bfb5c0000000p+4f);
  EXPECT_EQ(sn[19], 0x1.4d8c5e0000000p+6f);
}

TEST(Filters, RandomAgainstNaiveOracle) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-500, 500);
  for (int trial = 0; trial < 200; ++trial) {
    const std::size_t n = 1 + rng() % 300;
    const double sigma = 0.2 + static_cast<double>(rng() % 400) / 10.0;
    const double truncate = trial % 3 == 0 ? 4.0 : 0.5 + static_cast<double>(rng() % 30) / 10.0;
    const int64_t r = gaussian_radius(sigma, truncate);
    std::vector<float> x(n);
    for (auto& v : x) v = static_cast<float>(u(rng));
    auto fast = run_filter(x, sigma, r);
    auto slow = naive_filter(x, sigma, r);
    for (std::size_t t = 0; t < n; ++t) {
      // Double accumulation then one rounding: at most one float ulp from the exact value.
      const float ulp = std::nextafter(std::fabs(slow[t]), INFINITY) - std::fabs(slow[t]);
      ASSERT_LE(std::fabs(fast[t] - slow[t]), 2 * ulp + 1e-3f) << "n=" << n << " sigma=" << sigma << " t=" << t;
    }
  }
}

TEST(Filters, DegenerateInputs) {
  // Empty: nothing happens. One sample: the sample itself (nearest padding, weights sum to 1).
  std::vector<double> w(17), scratch(40);
  gaussian_kernel1d(2.0, 8, w);
  std::vector<float> none, none_out;
  gaussian_filter1d_nearest(none, w, none_out, scratch);
  std::vector<float> one = {3.25f}, one_out(1);
  gaussian_filter1d_nearest(one, w, one_out, scratch);
  EXPECT_NEAR(one_out[0], 3.25f, 1e-6f);
  // Radius 0: the identity.
  std::vector<double> w0(1);
  gaussian_kernel1d(0.1, 0, w0);
  EXPECT_EQ(w0[0], 1.0);
  std::vector<float> x = {1.0f, -2.0f, kNaNf}, out(3);
  gaussian_filter1d_nearest(x, w0, out, scratch);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_TRUE(std::isnan(out[2]));
  // All NaN stays NaN; the double overload agrees with the float one on float data.
  std::vector<float> nan_in(5, kNaNf), nan_out(5);
  gaussian_filter1d_nearest(nan_in, w, nan_out, scratch);
  for (float v : nan_out) EXPECT_TRUE(std::isnan(v));
  std::vector<double> xd = {1.0, 2.0, 4.0, 8.0}, od(4);
  std::vector<float> xf = {1.0f, 2.0f, 4.0f, 8.0f}, of(4);
  gaussian_filter1d_nearest(xd, w, od, scratch);
  gaussian_filter1d_nearest(xf, w, of, scratch);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(static_cast<float>(od[static_cast<std::size_t>(i)]), of[static_cast<std::size_t>(i)]);
}

}  // namespace
}  // namespace mosaic::kernels
