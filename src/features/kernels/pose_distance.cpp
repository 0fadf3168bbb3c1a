#include "features/kernels/pose_distance.hpp"

#include <cmath>

namespace mosaic::kernels {

std::size_t pose_distance_width(std::size_t keypoints, const PoseDistanceBlocks& blocks) noexcept {
  const std::size_t tri = keypoints * (keypoints > 0 ? keypoints - 1 : 0) / 2;
  return (blocks.intra_a ? tri : 0) + (blocks.intra_b ? tri : 0) + (blocks.inter ? keypoints * keypoints : 0);
}

namespace {

inline float dist(double x1, double y1, double x2, double y2) noexcept {
  const double dx = x1 - x2, dy = y1 - y2;
  return static_cast<float>(std::sqrt(dx * dx + dy * dy));
}

inline float* intra(const PoseView& a, std::size_t r, float* o) noexcept {
  const std::size_t n = a.keypoints();
  for (std::size_t i = 1; i < n; ++i)
    for (std::size_t j = 0; j < i; ++j) *o++ = dist(a.x[i][r], a.y[i][r], a.x[j][r], a.y[j][r]);
  return o;
}

}  // namespace

void pose_distance_rows(const PoseView& p, const PoseView& q, std::span<const std::size_t> rows_p,
                        std::span<const std::size_t> rows_q, const PoseDistanceBlocks& blocks,
                        std::span<float> out) noexcept {
  const std::size_t n = p.keypoints();
  float* o = out.data();
  for (std::size_t t = 0; t < rows_p.size(); ++t) {
    const std::size_t rp = rows_p[t], rq = rows_q[t];
    if (blocks.intra_a) o = intra(p, rp, o);
    if (blocks.intra_b) o = intra(q, rq, o);
    if (blocks.inter)
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) *o++ = dist(p.x[i][rp], p.y[i][rp], q.x[j][rq], q.y[j][rq]);
  }
}

}  // namespace mosaic::kernels
