// Binning kernels: numpy.linspace values pinned from numpy 1.24, and the binned means and 2-D
// histogram against naive linear-scan oracles (bin edges, NaN/inf, out-of-range, edge samples).
#include "features/kernels/binning.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace mosaic::kernels {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(Binning, LinspaceMatchesNumpy) {
  std::vector<double> e15(15), e16(16), e46(46), e1(1);
  linspace(-14, 14, 15, e15);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(e15[static_cast<std::size_t>(i)], -14.0 + 2.0 * i);
  linspace(-14, 14, 16, e16);  // np.linspace(-14, 14, 16)
  const double n16[] = {-0x1.c000000000000p+3, -0x1.8444444444444p+3, -0x1.4888888888888p+3, -0x1.0cccccccccccdp+3,
                        -0x1.a222222222222p+2, -0x1.2aaaaaaaaaaaap+2, -0x1.6666666666668p+1, -0x1.ddddddddddde0p-1,
                        0x1.ddddddddddde0p-1,  0x1.6666666666668p+1,  0x1.2aaaaaaaaaaacp+2,  0x1.a222222222224p+2,
                        0x1.0ccccccccccccp+3,  0x1.4888888888888p+3,  0x1.8444444444444p+3,  0x1.c000000000000p+3};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(e16[static_cast<std::size_t>(i)], n16[i]) << i;
  linspace(-14, 14, 46, e46);
  EXPECT_EQ(e46[1], -0x1.ac16c16c16c17p+3);
  EXPECT_EQ(e46[5], -0x1.5c71c71c71c72p+3);
  EXPECT_EQ(e46[45], 14.0);
  linspace(-3, 3, 1, e1);
  EXPECT_EQ(e1[0], -3.0);
}

// Naive digitize: the first edge strictly greater than v (right=False), NaN after all.
std::size_t naive_digitize(const std::vector<double>& edges, double v) {
  if (std::isnan(v)) return edges.size();
  std::size_t k = 0;
  while (k < edges.size() && edges[k] <= v) ++k;
  return k;
}

TEST(Binning, BinnedMeanAgainstNaive) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-16, 16);
  for (int trial = 0; trial < 100; ++trial) {
    const std::size_t nb = 2 + rng() % 20;
    std::vector<double> edges(nb);
    linspace(-14, 14, nb, edges);
    const std::size_t n = rng() % 200;
    std::vector<double> x(n), v(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto pick = rng() % 20;
      x[i] = pick == 0 ? kNaN : (pick == 1 ? edges[rng() % nb] : u(rng));  // some exactly on an edge
      v[i] = pick == 2 ? kNaN : (pick == 3 ? INFINITY : u(rng));
    }
    std::vector<double> sums(nb - 1), means(nb - 1);
    std::vector<int64_t> counts(nb - 1);
    binned_mean(x, v, edges, sums, counts, means);
    std::vector<double> ns(nb - 1, 0.0);
    std::vector<int64_t> nc(nb - 1, 0);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t d = naive_digitize(edges, x[i]);
      if (d == 0 || d > nb - 1 || !std::isfinite(v[i])) continue;
      ns[d - 1] += v[i];
      ++nc[d - 1];
    }
    for (std::size_t b = 0; b + 1 < nb; ++b) {
      ASSERT_EQ(counts[b], nc[b]);
      if (nc[b] == 0) ASSERT_TRUE(std::isnan(means[b]));
      else ASSERT_EQ(means[b], ns[b] / static_cast<double>(nc[b]));
    }
  }
}

TEST(Binning, Histogram2dAgainstNaive) {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(-15, 15);
  for (int trial = 0; trial < 100; ++trial) {
    const std::size_t nb = 2 + rng() % 12;
    std::vector<double> xe(nb), ye(nb + 1);
    linspace(-14, 14, nb, xe);
    linspace(-14, 14, nb + 1, ye);
    const std::size_t n = rng() % 300;
    std::vector<double> x(n), y(n), w(n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto pick = rng() % 25;
      x[i] = pick == 0 ? kNaN : (pick == 1 ? 14.0 : (pick == 2 ? xe[rng() % nb] : u(rng)));
      y[i] = pick == 3 ? -INFINITY : (pick == 4 ? 14.0 : u(rng));
      w[i] = u(rng);
    }
    const std::size_t bx = nb - 1, by = nb;
    std::vector<double> sums(bx * by), counts(bx * by), usums(bx * by), ucounts(bx * by);
    histogram2d(x, y, w, xe, ye, sums, counts);
    histogram2d(x, y, {}, xe, ye, usums, ucounts);
    std::vector<double> ns(bx * by, 0.0), nc(bx * by, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      // histogramdd: searchsorted right, the last edge belongs to the last bin.
      std::size_t ix = naive_digitize(xe, x[i]), iy = naive_digitize(ye, y[i]);
      if (x[i] == xe.back()) --ix;
      if (y[i] == ye.back()) --iy;
      if (ix == 0 || ix > bx || iy == 0 || iy > by) continue;
      ns[(ix - 1) * by + iy - 1] += w[i];
      nc[(ix - 1) * by + iy - 1] += 1;
    }
    ASSERT_EQ(sums, ns);
    ASSERT_EQ(counts, nc);
    ASSERT_EQ(ucounts, nc);
    ASSERT_EQ(usums, nc);
  }
}

TEST(Binning, SearchsortedRight) {
  const std::vector<double> e = {-1.0, 0.0, 1.0};
  EXPECT_EQ(searchsorted_right(e, -2.0), 0u);
  EXPECT_EQ(searchsorted_right(e, -1.0), 1u);
  EXPECT_EQ(searchsorted_right(e, 0.5), 2u);
  EXPECT_EQ(searchsorted_right(e, 1.0), 3u);
  EXPECT_EQ(searchsorted_right(e, kNaN), 3u);
  EXPECT_EQ(searchsorted_right(e, -0.0), 2u);  // -0 == 0
}

}  // namespace
}  // namespace mosaic::kernels
