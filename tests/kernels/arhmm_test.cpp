// Oracle tests for kernels/arhmm: Viterbi against brute-force enumeration of every state path,
// emissions against the Gaussian density written out, and the fit recovering two regimes.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "features/kernels/arhmm.hpp"

namespace mosaic::kernels {
namespace {

ArhmmModel toy_model() {
  ArhmmModel m;
  m.n_states = 3;
  m.dim = 2;
  m.n_lags = 1;
  const int din = m.dim_in();
  m.a.assign(static_cast<std::size_t>(3 * 2 * din), 0.0);
  m.q.assign(3 * 4, 0.0);
  for (int k = 0; k < 3; ++k) {
    for (int d = 0; d < 2; ++d) m.a[static_cast<std::size_t>(k * 2 * din + d * din + d)] = 0.5 + 0.2 * k;
    m.a[static_cast<std::size_t>(k * 2 * din + 0 * din + 2)] = k - 1.0;  // bias of x
    m.q[static_cast<std::size_t>(k * 4 + 0)] = 0.5 + 0.3 * k;
    m.q[static_cast<std::size_t>(k * 4 + 3)] = 0.7;
    m.q[static_cast<std::size_t>(k * 4 + 1)] = m.q[static_cast<std::size_t>(k * 4 + 2)] = 0.1;
  }
  m.log_start = {std::log(0.5), std::log(0.3), std::log(0.2)};
  const double t[9] = {0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.25, 0.25, 0.5};
  for (double v : t) m.log_trans.push_back(std::log(v));
  return m;
}

TEST(ArhmmKernel, EmissionsAreGaussianDensities) {
  ArhmmModel m = toy_model();
  const double x[6] = {0.3, -0.2, 1.0, 0.4, -0.5, 0.9};
  std::vector<double> e;
  arhmm_log_emissions(m, x, 3, e);
  ASSERT_EQ(e.size(), 6u);
  for (int t = 0; t < 2; ++t)
    for (int k = 0; k < 3; ++k) {
      const int din = m.dim_in();
      double mu[2];
      for (int d = 0; d < 2; ++d)
        mu[d] = m.a[static_cast<std::size_t>(k * 2 * din + d * din + 0)] * x[t * 2 + 0] +
                m.a[static_cast<std::size_t>(k * 2 * din + d * din + 1)] * x[t * 2 + 1] + m.a[static_cast<std::size_t>(k * 2 * din + d * din + 2)];
      const double r0 = x[(t + 1) * 2] - mu[0], r1 = x[(t + 1) * 2 + 1] - mu[1];
      const double a = m.q[static_cast<std::size_t>(k * 4)], b = m.q[static_cast<std::size_t>(k * 4 + 1)], c = m.q[static_cast<std::size_t>(k * 4 + 3)];
      const double det = a * c - b * b;
      const double quad = (c * r0 * r0 - 2 * b * r0 * r1 + a * r1 * r1) / det;
      const double expect = -std::log(2 * std::numbers::pi) - 0.5 * std::log(det) - 0.5 * quad;
      EXPECT_NEAR(e[static_cast<std::size_t>(t * 3 + k)], expect, 1e-12);
    }
}

TEST(ArhmmKernel, ViterbiMatchesBruteForce) {
  ArhmmModel m = toy_model();
  std::mt19937 g(4);
  std::normal_distribution<double> z(0.0, 1.0);
  for (int trial = 0; trial < 5; ++trial) {
    const std::size_t T = 7;
    std::vector<double> x(T * 2);
    for (auto& v : x) v = z(g);
    std::vector<double> e;
    arhmm_log_emissions(m, x.data(), T, e);
    const std::size_t te = T - 1;
    double best = -INFINITY;
    std::vector<int32_t> best_path(te);
    std::vector<int32_t> path(te, 0);
    // Enumerate paths in lexicographic order; a strictly better score replaces (first maximum).
    for (int code = 0; code < static_cast<int>(std::pow(3, te)); ++code) {
      int c = code;
      for (std::size_t t = te; t-- > 0;) {
        path[t] = c % 3;
        c /= 3;
      }
      double s = m.log_start[static_cast<std::size_t>(path[0])] + e[static_cast<std::size_t>(path[0])];
      for (std::size_t t = 1; t < te; ++t)
        s += m.log_trans[static_cast<std::size_t>(path[t - 1] * 3 + path[t])] + e[t * 3 + static_cast<std::size_t>(path[t])];
      if (s > best) {
        best = s;
        best_path = path;
      }
    }
    std::vector<int32_t> lab(T);
    arhmm_viterbi(m, x.data(), T, lab);
    EXPECT_EQ(lab[0], lab[1]) << "the first n_lags frames copy the first decoded state";
    for (std::size_t t = 0; t < te; ++t) EXPECT_EQ(lab[t + 1], best_path[t]) << "trial " << trial << " t " << t;
  }
  // Too short to decode: the most likely start state.
  std::vector<int32_t> one(1);
  const double x1[2] = {0.0, 0.0};
  arhmm_viterbi(m, x1, 1, one);
  EXPECT_EQ(one[0], 0);
}

TEST(ArhmmKernel, FitRecoversTwoRegimesAndIsDeterministic) {
  // Two regimes alternating every 100 frames: a slow drift and a fast oscillation.
  std::mt19937 g(8);
  std::normal_distribution<double> z(0.0, 0.05);
  const std::size_t T = 800;
  std::vector<double> x(T * 2);
  std::vector<int> truth(T);
  double a = 0.0, b = 0.0;
  for (std::size_t t = 0; t < T; ++t) {
    const int r = static_cast<int>((t / 100) % 2);
    truth[t] = r;
    if (r == 0) {
      a = 0.95 * a + 0.1 + z(g);
      b = 0.95 * b - 0.05 + z(g);
    } else {
      const double na = -0.8 * b + z(g), nb = 0.8 * a + z(g);
      a = na;
      b = nb;
    }
    x[2 * t] = a;
    x[2 * t + 1] = b;
  }
  const std::size_t lengths[1] = {T};
  ArhmmOptions o{.n_states = 4, .n_iter = 30};
  ArhmmModel m = arhmm_fit(x.data(), lengths, 2, o);
  ArhmmModel m2 = arhmm_fit(x.data(), lengths, 2, o);
  EXPECT_EQ(m.a, m2.a);
  EXPECT_EQ(m.log_trans, m2.log_trans);
  ASSERT_GE(m.n_states, 2);
  double usage = 0;
  for (double u : m.usage) {
    EXPECT_GE(u, 0.01);
    usage += u;
  }
  EXPECT_LE(usage, 1.0 + 1e-9);
  std::vector<int32_t> lab(T);
  arhmm_viterbi(m, x.data(), T, lab);
  // Majority state per regime block differs between the two regimes, and most frames agree.
  std::size_t agree = 0;
  std::vector<std::vector<int>> votes(2, std::vector<int>(static_cast<std::size_t>(m.n_states), 0));
  for (std::size_t t = 0; t < T; ++t) ++votes[static_cast<std::size_t>(truth[t])][static_cast<std::size_t>(lab[t])];
  const auto maj0 = std::max_element(votes[0].begin(), votes[0].end()) - votes[0].begin();
  const auto maj1 = std::max_element(votes[1].begin(), votes[1].end()) - votes[1].begin();
  EXPECT_NE(maj0, maj1);
  for (std::size_t t = 0; t < T; ++t) agree += lab[t] == (truth[t] == 0 ? maj0 : maj1);
  EXPECT_GT(agree, T * 8 / 10);
}

}  // namespace
}  // namespace mosaic::kernels
