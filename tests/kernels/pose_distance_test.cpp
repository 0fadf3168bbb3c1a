// Pose-distance vectors of pair-posedistance-pca: the kernel against a naive build of the
// reference's vector (numpy tril_indices order, row-major inter block), for every block choice.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "features/kernels/pose_distance.hpp"

namespace mosaic::kernels {
namespace {

// numpy.tril_indices(n, k=-1): row-major over the strictly lower triangle.
std::vector<std::pair<std::size_t, std::size_t>> tril_indices(std::size_t n) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      if (j < i) out.emplace_back(i, j);
  return out;
}

TEST(PoseDistanceOracle, MatchesNaiveVector) {
  std::mt19937_64 gen(2);
  std::uniform_real_distribution<double> u(-500.0, 500.0);
  for (std::size_t n : {1u, 2u, 3u, 7u, 12u}) {
    const std::size_t rows = 9;
    std::vector<std::vector<double>> px(n, std::vector<double>(rows)), py = px, qx = px, qy = px;
    for (auto* m : {&px, &py, &qx, &qy})
      for (auto& col : *m)
        for (auto& v : col) v = u(gen);
    auto spans = [](const std::vector<std::vector<double>>& m) {
      std::vector<std::span<const double>> s;
      for (const auto& c : m) s.emplace_back(c);
      return s;
    };
    const auto spx = spans(px), spy = spans(py), sqx = spans(qx), sqy = spans(qy);
    const PoseView p{spx, spy}, q{sqx, sqy};
    std::vector<std::size_t> rp{0, 3, 8, 1}, rq{2, 3, 0, 7};
    for (int mask = 0; mask < 8; ++mask) {
      const PoseDistanceBlocks b{(mask & 1) != 0, (mask & 2) != 0, (mask & 4) != 0};
      const std::size_t w = pose_distance_width(n, b);
      std::vector<float> got(rp.size() * w, -1.0f);
      pose_distance_rows(p, q, rp, rq, b, got);
      std::vector<float> want;
      for (std::size_t t = 0; t < rp.size(); ++t) {
        auto d = [](double x1, double y1, double x2, double y2) {
          return static_cast<float>(std::sqrt((x1 - x2) * (x1 - x2) + (y1 - y2) * (y1 - y2)));
        };
        if (b.intra_a)
          for (auto [i, j] : tril_indices(n)) want.push_back(d(px[i][rp[t]], py[i][rp[t]], px[j][rp[t]], py[j][rp[t]]));
        if (b.intra_b)
          for (auto [i, j] : tril_indices(n)) want.push_back(d(qx[i][rq[t]], qy[i][rq[t]], qx[j][rq[t]], qy[j][rq[t]]));
        if (b.inter)
          for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) want.push_back(d(px[i][rp[t]], py[i][rp[t]], qx[j][rq[t]], qy[j][rq[t]]));
      }
      ASSERT_EQ(got.size(), want.size()) << n << " " << mask;
      for (std::size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << n << " " << mask << " at " << i;
    }
  }
  EXPECT_EQ(pose_distance_width(7, {}), 91u);  // 21 + 21 + 49, the CalMS21 vector
}

TEST(PoseDistanceOracle, NaNPropagatesAndSwappingPerspectiveSwapsBlocks) {
  std::vector<std::vector<double>> ax{{0.0}, {3.0}}, ay{{0.0}, {4.0}}, bx{{10.0}, {10.0}}, by{{0.0}, {std::nan("")}};
  auto spans = [](const std::vector<std::vector<double>>& m) {
    std::vector<std::span<const double>> s;
    for (const auto& c : m) s.emplace_back(c);
    return s;
  };
  const auto sax = spans(ax), say = spans(ay), sbx = spans(bx), sby = spans(by);
  const PoseView a{sax, say}, b{sbx, sby};
  std::vector<std::size_t> r{0};
  std::vector<float> ab(6), ba(6);
  pose_distance_rows(a, b, r, r, {}, ab);
  pose_distance_rows(b, a, r, r, {}, ba);
  EXPECT_EQ(ab[0], 5.0f);               // intra(A)
  EXPECT_TRUE(std::isnan(ab[1]));       // intra(B) with a NaN keypoint
  EXPECT_EQ(ab[2], 10.0f);              // A0-B0
  EXPECT_TRUE(std::isnan(ab[3]));       // A0-B1
  EXPECT_EQ(ba[1], ab[0]);              // blocks swap with the perspective
  EXPECT_EQ(ba[2], ab[2]);              // B0-A0
  EXPECT_EQ(ba[3], std::sqrt(49.0f + 16.0f));  // B0-A1
}

}  // namespace
}  // namespace mosaic::kernels
