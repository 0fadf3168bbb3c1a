// Oracle tests for kernels/neighbors: the k-d tree path and the brute force against a naive
// numpy-like reference (full distance row, argmin over the non-NaN entries, diagonal excluded).
#include "features/kernels/neighbors.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace mosaic::kernels {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// The deliberately naive reference: numpy's D[i, :] with the diagonal set to +inf removed, then
// the first minimum among the non-NaN entries (DECISIONS F3).
std::vector<int64_t> reference(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = x.size();
  std::vector<int64_t> out(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<double> row(n);
    for (std::size_t j = 0; j < n; ++j) {
      const double dx = x[j] - x[i], dy = y[j] - y[i];  // numpy's `**2` is a plain square
      row[j] = std::sqrt(dx * dx + dy * dy);
    }
    double best = 0;
    for (std::size_t j = 0; j < n; ++j) {
      if (j == i || std::isnan(row[j])) continue;
      if (out[i] < 0 || row[j] < best) {
        best = row[j];
        out[i] = static_cast<int64_t>(j);
      }
    }
  }
  return out;
}

struct Cloud {
  std::vector<double> x, y;
};

// Random clouds: integer grids (many exact ties and duplicates) or continuous points, with NaN
// and inf sprinkled in.
Cloud make_cloud(std::mt19937_64& rng, std::size_t n, bool grid, double nan_rate, double inf_rate) {
  std::uniform_real_distribution<double> u(0, 1000);
  std::uniform_int_distribution<int> g(0, 12);
  std::bernoulli_distribution is_nan(nan_rate), is_inf(inf_rate), which(0.5);
  Cloud c;
  for (std::size_t i = 0; i < n; ++i) {
    double x = grid ? g(rng) * 10.0 : u(rng), y = grid ? g(rng) * 10.0 : u(rng);
    if (is_nan(rng)) (which(rng) ? x : y) = kNaN;
    if (is_inf(rng)) (which(rng) ? x : y) = which(rng) ? kInf : -kInf;
    c.x.push_back(x);
    c.y.push_back(y);
  }
  return c;
}

TEST(NeighborsKernel, TreeAndBruteForceEqualTheNaiveReference) {
  std::mt19937_64 rng(42);
  NearestNeighborSearch tree(0);         // always the k-d tree
  NearestNeighborSearch brute(1u << 30);  // never
  NearestNeighborSearch mixed;            // the default threshold
  for (std::size_t n : {0u, 1u, 2u, 3u, 5u, 17u, 47u, 48u, 100u, 333u}) {
    for (bool grid : {false, true}) {
      for (double nan_rate : {0.0, 0.05, 0.5}) {
        for (double inf_rate : {0.0, 0.03}) {
          Cloud c = make_cloud(rng, n, grid, nan_rate, inf_rate);
          std::vector<int64_t> want = reference(c.x, c.y);
          std::vector<int64_t> a(n), b(n), m(n), bf(n);
          tree.search(c.x, c.y, a);
          brute.search(c.x, c.y, b);
          mixed.search(c.x, c.y, m);
          nearest_neighbors_bruteforce(c.x, c.y, bf);
          EXPECT_EQ(a, want) << "tree, n=" << n << " grid=" << grid << " nan=" << nan_rate << " inf=" << inf_rate;
          EXPECT_EQ(b, want) << "brute, n=" << n;
          EXPECT_EQ(m, want) << "default, n=" << n;
          EXPECT_EQ(bf, want) << "free function, n=" << n;
        }
      }
    }
  }
}

TEST(NeighborsKernel, TiesGoToTheFirstIndex) {
  // 0 at the origin, 1..4 at distance 1 in four directions: 1 wins for 0.
  std::vector<double> x = {0, 0, 1, 0, -1}, y = {0, 1, 0, -1, 0};
  for (std::size_t threshold : {0u, 100u}) {
    NearestNeighborSearch s(threshold);
    std::vector<int64_t> nn(5);
    s.search(x, y, nn);
    EXPECT_EQ(nn[0], 0 + 1);
    EXPECT_EQ(nn[2], 0);  // 2 is sqrt(2) from 1 and 3, 1 from 0
  }
}

TEST(NeighborsKernel, NaNNeverWinsAndLonelyPointsGetNone) {
  std::vector<double> x = {0, kNaN, 5, 100}, y = {0, 0, 0, kNaN};
  std::vector<int64_t> want = {2, -1, 0, -1};
  for (std::size_t threshold : {0u, 100u}) {
    NearestNeighborSearch s(threshold);
    std::vector<int64_t> nn(4);
    s.search(x, y, nn);
    EXPECT_EQ(nn, want);
  }
}

TEST(NeighborsKernel, SqrtTiesCompareLikeNumpy) {
  // Squared distances that differ in the last bit but whose square roots are equal must tie
  // (numpy compares the sqrt values), so the lower index wins.
  const double d2a = 2.0, d2b = std::nextafter(2.0, 3.0);
  ASSERT_EQ(std::sqrt(d2a), std::sqrt(d2b));
  std::vector<double> x = {0, std::sqrt(d2b), std::sqrt(d2a)}, y = {0, 0, 0};
  // Whatever the exact squares, both candidates of point 0 tie after the sqrt iff the reference says so.
  std::vector<int64_t> want = reference(x, y);
  for (std::size_t threshold : {0u, 100u}) {
    NearestNeighborSearch s(threshold);
    std::vector<int64_t> nn(3);
    s.search(x, y, nn);
    EXPECT_EQ(nn, want);
  }
}

}  // namespace
}  // namespace mosaic::kernels
