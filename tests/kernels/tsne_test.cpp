// Oracle tests for kernels/tsne: trustworthiness against a literal port of sklearn's formula
// (full argsort + inverted index), exact kNN against brute force, Barnes-Hut repulsion with
// theta = 0 against the exact sum, the perplexity calibration and symmetrisation invariants, the
// PCA initialisation's scale, and fit/mapping determinism and quality on separated clusters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "features/kernels/tsne.hpp"

namespace mosaic::kernels {
namespace {

// sklearn.manifold.trustworthiness, step by step (stable argsort for ties).
double trustworthiness_naive(const std::vector<double>& x, std::size_t dx, const std::vector<double>& y, std::size_t dy,
                             std::size_t n, std::size_t k) {
  auto dist = [](const std::vector<double>& a, std::size_t d, std::size_t i, std::size_t j) {
    double s = 0;
    for (std::size_t c = 0; c < d; ++c) s += (a[i * d + c] - a[j * d + c]) * (a[i * d + c] - a[j * d + c]);
    return std::sqrt(s);
  };
  std::vector<std::vector<std::size_t>> inverted(n, std::vector<std::size_t>(n, 0));
  double t = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<double> dxr(n), dyr(n);
    for (std::size_t j = 0; j < n; ++j) {
      dxr[j] = i == j ? INFINITY : dist(x, dx, i, j);
      dyr[j] = i == j ? INFINITY : dist(y, dy, i, j);
    }
    std::vector<std::size_t> ind_x(n), ind_y(n);
    std::iota(ind_x.begin(), ind_x.end(), 0);
    std::iota(ind_y.begin(), ind_y.end(), 0);
    std::stable_sort(ind_x.begin(), ind_x.end(), [&](std::size_t a, std::size_t b) { return dxr[a] < dxr[b]; });
    std::stable_sort(ind_y.begin(), ind_y.end(), [&](std::size_t a, std::size_t b) { return dyr[a] < dyr[b]; });
    for (std::size_t r = 0; r < n; ++r) inverted[i][ind_x[r]] = r + 1;
    for (std::size_t r = 0; r < k; ++r) {
      const double rank = static_cast<double>(inverted[i][ind_y[r]]) - static_cast<double>(k);
      if (rank > 0) t += rank;
    }
  }
  const double nd = static_cast<double>(n), kd = static_cast<double>(k);
  return 1.0 - t * (2.0 / (nd * kd * (2.0 * nd - 3.0 * kd - 1.0)));
}

std::vector<double> clusters(std::size_t per, std::size_t n_clusters, std::size_t dim, unsigned seed, double spread = 0.3) {
  std::mt19937 g(seed);
  std::normal_distribution<double> z(0.0, 1.0);
  std::vector<double> out;
  for (std::size_t c = 0; c < n_clusters; ++c)
    for (std::size_t i = 0; i < per; ++i)
      for (std::size_t d = 0; d < dim; ++d) out.push_back((d == c % dim ? 10.0 * static_cast<double>(c + 1) : 0.0) + spread * z(g));
  return out;
}

TEST(TsneKernel, TrustworthinessMatchesNaiveSklearn) {
  std::mt19937 g(3);
  for (std::size_t n : {7u, 25u, 60u}) {
    for (int trial = 0; trial < 3; ++trial) {
      const std::size_t dx = 5, k = std::min<std::size_t>(5, (n - 1) / 2);
      std::vector<double> x(n * dx), y(n * 2);
      // Integer coordinates make ties, which both sides must order by row.
      std::uniform_int_distribution<int> u(0, trial == 0 ? 3 : 1000);
      for (auto& v : x) v = u(g);
      for (auto& v : y) v = u(g);
      EXPECT_NEAR(trustworthiness(x.data(), n, dx, y.data(), 2, k), trustworthiness_naive(x, dx, y, 2, n, k), 1e-12)
          << "n=" << n << " trial " << trial;
    }
  }
  // The identity embedding of 2-d data is perfectly trustworthy.
  std::vector<double> p = clusters(10, 3, 2, 1);
  EXPECT_DOUBLE_EQ(trustworthiness(p.data(), 30, 2, p.data(), 2, 5), 1.0);
}

TEST(TsneKernel, KnnMatchesBruteForce) {
  const std::size_t n = 500, dim = 7, k = 12;
  std::vector<double> x = clusters(100, 5, dim, 5, 3.0);
  KnnIndex index(x.data(), n, dim);
  std::vector<int64_t> nn(k);
  std::vector<double> d2(k);
  for (std::size_t i = 0; i < n; i += 7) {
    index.query(x.data() + i * dim, k, nn, d2, i);
    std::vector<std::pair<double, std::size_t>> all;
    for (std::size_t j = 0; j < n; ++j) {
      if (j == i) continue;
      double s = 0;
      for (std::size_t c = 0; c < dim; ++c) s += (x[i * dim + c] - x[j * dim + c]) * (x[i * dim + c] - x[j * dim + c]);
      all.emplace_back(s, j);
    }
    std::sort(all.begin(), all.end());
    for (std::size_t t = 0; t < k; ++t) {
      EXPECT_EQ(nn[t], static_cast<int64_t>(all[t].second)) << "row " << i << " rank " << t;
      EXPECT_NEAR(d2[t], all[t].first, 1e-9 * (1 + all[t].first));
    }
  }
}

TEST(TsneKernel, ConditionalPHitsThePerplexity) {
  const std::size_t k = 30;
  std::vector<double> d2(k);
  for (std::size_t j = 0; j < k; ++j) d2[j] = 0.5 + static_cast<double>(j * j) * 0.1;
  std::vector<double> p(k);
  tsne_conditional_p(d2, 1, k, 10.0, p);
  double sum = 0, h = 0;
  for (double v : p) {
    sum += v;
    if (v > 0) h -= v * std::log(v);
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_NEAR(std::exp(h), 10.0, 1e-5);
  // Closer neighbours get more weight.
  EXPECT_GT(p[0], p[k - 1]);
}

TEST(TsneKernel, AffinitiesAreSymmetricAndSumToOne) {
  const std::size_t n = 120, dim = 4;
  std::vector<double> x = clusters(40, 3, dim, 9);
  TsneAffinities p = tsne_affinities(x.data(), n, dim, 10.0);
  EXPECT_EQ(p.k, 30u);
  double total = 0;
  std::map<std::pair<int64_t, int64_t>, double> m;
  for (std::size_t i = 0; i < n; ++i)
    for (int64_t t = p.indptr[i]; t < p.indptr[i + 1]; ++t) {
      total += p.values[static_cast<std::size_t>(t)];
      m[{static_cast<int64_t>(i), p.indices[static_cast<std::size_t>(t)]}] = p.values[static_cast<std::size_t>(t)];
      EXPECT_NE(p.indices[static_cast<std::size_t>(t)], static_cast<int64_t>(i));
    }
  EXPECT_NEAR(total, 1.0, 1e-12);
  for (const auto& [key, v] : m) {
    const std::pair<int64_t, int64_t> mirror{key.second, key.first};
    EXPECT_NEAR(v, m[mirror], 1e-15);
  }
  // Small n: k = n - 1 and the perplexity is reduced to k / 3.
  TsneAffinities small = tsne_affinities(x.data(), 10, dim, 50.0);
  EXPECT_EQ(small.k, 9u);
  EXPECT_DOUBLE_EQ(small.perplexity, 3.0);
}

TEST(TsneKernel, BarnesHutWithThetaZeroIsExact) {
  std::mt19937 g(11);
  std::normal_distribution<double> z(0.0, 5.0);
  std::vector<double> y(2 * 400);
  for (auto& v : y) v = z(g);
  y[2] = y[0];  // a duplicate point
  y[3] = y[1];
  TsneReference ref(y);
  for (double px : {-3.0, 0.0, 7.5}) {
    const double py = 0.5 * px;
    double f[2] = {0, 0}, fe[2] = {0, 0}, ze = 0;
    const double zb = ref.repulsion(px, py, 0.0, f);
    for (std::size_t j = 0; j < 400; ++j) {
      const double dx = px - y[2 * j], dy = py - y[2 * j + 1];
      const double q = 1.0 / (1.0 + dx * dx + dy * dy);
      ze += q;
      fe[0] += q * q * dx;
      fe[1] += q * q * dy;
    }
    EXPECT_NEAR(zb, ze, 1e-10 * ze);
    EXPECT_NEAR(f[0], fe[0], 1e-10);
    EXPECT_NEAR(f[1], fe[1], 1e-10);
    // theta = 0.5 stays close.
    double fa[2] = {0, 0};
    const double za = ref.repulsion(px, py, 0.5, fa);
    EXPECT_NEAR(za, ze, 0.02 * ze);
  }
}

TEST(TsneKernel, PcaInitScaleAndDeterminism) {
  const std::size_t n = 90, dim = 6;
  std::vector<double> x = clusters(30, 3, dim, 2);
  std::vector<double> a = tsne_pca_init(x.data(), n, dim, 42), b = tsne_pca_init(x.data(), n, dim, 42);
  EXPECT_EQ(a, b);
  double m = 0, v = 0;
  for (std::size_t i = 0; i < n; ++i) m += a[2 * i];
  m /= n;
  for (std::size_t i = 0; i < n; ++i) v += (a[2 * i] - m) * (a[2 * i] - m);
  EXPECT_NEAR(std::sqrt(v / n), 1e-4, 1e-5);
  // Constant data: jitter only, no division by zero.
  std::vector<double> c(n * dim, 3.0);
  std::vector<double> y = tsne_pca_init(c.data(), n, dim, 42);
  for (double t : y) EXPECT_TRUE(std::isfinite(t));
}

TEST(TsneKernel, FitSeparatesClustersDeterministicallyAndMapsNewPoints) {
  const std::size_t per = 60, nc = 4, dim = 8, n = per * nc;
  std::vector<double> x = clusters(per, nc, dim, 21);
  auto fit = [&] {
    TsneAffinities p = tsne_affinities(x.data(), n, dim, 15.0);
    std::vector<double> y = tsne_pca_init(x.data(), n, dim, 42);
    TsneGradientState st(n);
    tsne_optimize(p, y, {.iters = 100, .exaggeration = 12, .momentum = 0.5, .learning_rate = n / 12.0}, st);
    tsne_optimize(p, y, {.iters = 200, .exaggeration = 1, .momentum = 0.8, .learning_rate = static_cast<double>(n)}, st);
    return y;
  };
  std::vector<double> y = fit();
  EXPECT_EQ(y, fit()) << "same inputs, same bytes";
  EXPECT_GT(trustworthiness(x.data(), n, dim, y.data(), 2, 10), 0.9);
  // New points drawn from the same clusters land next to their cluster's templates.
  std::vector<double> q = clusters(5, nc, dim, 99);
  q[3 * dim] = NAN;  // a row with a missing value gets NaN coordinates
  TsneReference ref(y);
  KnnIndex index(x.data(), n, dim);
  std::vector<double> out(2 * 5 * nc);
  tsne_transform(ref, index, q.data(), 5 * nc, 45, 15.0, {}, out.data());
  EXPECT_TRUE(std::isnan(out[6]) && std::isnan(out[7]));
  for (std::size_t i = 0; i < 5 * nc; ++i) {
    if (i == 3) continue;
    const std::size_t c = i / 5;
    // Centroid of the cluster's templates in the embedding, and the nearest other centroid.
    double best_other = INFINITY, own = 0;
    for (std::size_t cc = 0; cc < nc; ++cc) {
      double mx = 0, my = 0;
      for (std::size_t t = cc * per; t < (cc + 1) * per; ++t) {
        mx += y[2 * t];
        my += y[2 * t + 1];
      }
      const double d = std::hypot(out[2 * i] - mx / per, out[2 * i + 1] - my / per);
      if (cc == c) own = d;
      else best_other = std::min(best_other, d);
    }
    EXPECT_LT(own, best_other) << "point " << i;
  }
  // Mapping is per point: a point alone gets the coordinates it gets in a batch.
  std::vector<double> alone(2);
  tsne_transform(ref, index, q.data() + 7 * dim, 1, 45, 15.0, {}, alone.data());
  EXPECT_EQ(alone[0], out[14]);
  EXPECT_EQ(alone[1], out[15]);
}

}  // namespace
}  // namespace mosaic::kernels
