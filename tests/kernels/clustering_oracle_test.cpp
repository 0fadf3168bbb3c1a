// Oracle tests for the kernel code added for the template and clustering features: the blocked
// kmeans_predict against a naive one-centre-at-a-time loop (bit for bit), and
// TemplateReservoir (with shrink, as extract-labeled-templates' n_total mode uses it) against a
// direct transcription of the reference's per-class reservoir.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "features/kernels/kmeans.hpp"
#include "features/kernels/random.hpp"
#include "features/kernels/templates.hpp"

namespace mosaic::kernels {
namespace {

// The reference's E-step distance: float32(||c||^2 - 2 x.c) with the dots summed in double.
std::vector<int32_t> naive_predict(const std::vector<float>& x, std::size_t n, std::size_t dim,
                                   const std::vector<float>& c, std::size_t k) {
  auto dot = [&](const float* a, const float* b) {
    double s = 0.0;
    for (std::size_t i = 0; i < dim; ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
    return static_cast<float>(s);
  };
  std::vector<int32_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    float best = 0;
    for (std::size_t j = 0; j < k; ++j) {
      const float d = -2.0f * dot(&x[i * dim], &c[j * dim]) + dot(&c[j * dim], &c[j * dim]);
      if (j == 0 || d < best) {
        best = d;
        out[i] = static_cast<int32_t>(j);
      }
    }
  }
  return out;
}

TEST(KMeansPredictOracle, BlockedEqualsNaiveIncludingTies) {
  std::mt19937 gen(5);
  std::normal_distribution<float> nd;
  for (std::size_t k : {1u, 3u, 4u, 7u, 100u}) {
    for (std::size_t dim : {1u, 5u, 24u}) {
      const std::size_t n = 500;
      std::vector<float> x(n * dim), c(k * dim);
      for (auto& v : x) v = nd(gen);
      for (auto& v : c) v = nd(gen);
      // Exact ties: duplicate centres and rows equal to a centre.
      if (k >= 3) std::copy_n(c.begin(), dim, c.begin() + static_cast<std::ptrdiff_t>(2 * dim));
      std::copy_n(c.begin(), dim, x.begin());
      std::vector<int32_t> got(n);
      kmeans_predict(x.data(), n, dim, c.data(), k, got);
      EXPECT_EQ(got, naive_predict(x, n, dim, c, k)) << "k=" << k << " dim=" << dim;
    }
  }
}

// The reference's per-class reservoir (extract_labeled_templates._fit_reservoir), transcribed:
// fill, then u = rng.random(n); incl = u < target / (n_seen + t); slots = rng.integers(0, target,
// #incl); a new class in n_total mode truncates every buffer to the new target.
struct NaiveReservoir {
  std::vector<double> buf;  // rows of 1 value
  std::size_t target;
  uint64_t n_seen = 0;
  void add(const std::vector<double>& rows, Pcg64& rng) {
    std::size_t start = 0;
    if (buf.size() < target) {
      const std::size_t take = std::min(target - buf.size(), rows.size());
      buf.insert(buf.end(), rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(take));
      n_seen += take;
      start = take;
    }
    const std::size_t rest = rows.size() - start;
    if (rest == 0) return;
    std::vector<double> u(rest);
    rng.random(u);
    std::vector<std::size_t> incl;
    for (std::size_t t = 0; t < rest; ++t)
      if (u[t] < static_cast<double>(target) / static_cast<double>(n_seen + t + 1)) incl.push_back(start + t);
    std::vector<int64_t> slots(incl.size());
    if (!incl.empty()) rng.integers(0, static_cast<int64_t>(target), slots);
    for (std::size_t q = 0; q < incl.size(); ++q) buf[static_cast<std::size_t>(slots[q])] = rows[incl[q]];
    n_seen += rest;
  }
  void truncate(std::size_t t) {
    target = t;
    if (buf.size() > t) buf.resize(t);
  }
};

TEST(TemplateReservoirOracle, ShrinkMatchesTheReferenceTruncation) {
  Pcg64 a(42), b(42);
  TemplateReservoir fast(40, 1);
  NaiveReservoir slow{{}, 40};
  double next = 0;
  for (int entry = 0; entry < 12; ++entry) {
    if (entry == 4) {
      fast.shrink(25);
      slow.truncate(25);
    }
    if (entry == 8) {
      fast.shrink(13);
      slow.truncate(13);
    }
    std::vector<double> rows(static_cast<std::size_t>(7 + 5 * entry));
    for (auto& v : rows) v = next++;
    fast.add_entry(rows.data(), rows.size(), a);
    slow.add(rows, b);
    auto t = fast.templates();
    ASSERT_EQ(std::vector<double>(t.begin(), t.end()), slow.buf) << "after entry " << entry;
    ASSERT_EQ(fast.n_seen(), slow.n_seen);
  }
  EXPECT_EQ(a.next64(), b.next64());  // the same draws were consumed
}

}  // namespace
}  // namespace mosaic::kernels
