// pose_distance.hpp: the feature vectors of pair-posedistance-pca (features.md §1.1).
//
// For an ordered pair (P, Q) of animals with N keypoints each, one frame gives
//   [intra(P) if intra_a] + [intra(Q) if intra_b] + [inter(P, Q) if inter]
// with intra = |K_i - K_j| for (i, j) in numpy tril_indices(N, k=-1) order ((1,0), (2,0), (2,1),
// ...) and inter = |P_i - Q_j| row-major (i * N + j). Distances are sqrt(dx^2 + dy^2) in float64,
// then rounded to float32 like the reference's batch cast.
//
//   PoseView p{xs_of_p, ys_of_p}, q{xs_of_q, ys_of_q};     // one span per keypoint
//   std::vector<float> rows(m * pose_distance_width(7, true, true, true));
//   pose_distance_rows(p, q, rows_p, rows_q, {true, true, true}, rows);
#pragma once

#include <cstddef>
#include <span>

namespace mosaic::kernels {

/// One animal's keypoints: x[k] and y[k] are keypoint k's coordinates over its rows.
struct PoseView {
  std::span<const std::span<const double>> x;
  std::span<const std::span<const double>> y;
  std::size_t keypoints() const noexcept { return x.size(); }
};

/// Which blocks the vector holds.
struct PoseDistanceBlocks {
  bool intra_a = true;
  bool intra_b = true;
  bool inter = true;
};

/// \brief Width of the vector: N(N-1)/2 per intra block plus N^2 for the inter block.
std::size_t pose_distance_width(std::size_t keypoints, const PoseDistanceBlocks& blocks) noexcept;

/// \brief Rows of vectors for frames where P is at row rows_p[t] and Q at rows_q[t]; out is
/// rows_p.size() x width, row-major float32.
void pose_distance_rows(const PoseView& p, const PoseView& q, std::span<const std::size_t> rows_p,
                        std::span<const std::size_t> rows_q, const PoseDistanceBlocks& blocks,
                        std::span<float> out) noexcept;

}  // namespace mosaic::kernels
