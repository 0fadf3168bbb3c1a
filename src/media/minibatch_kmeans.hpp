// minibatch_kmeans.hpp (internal): mini-batch k-means after scikit-learn's MiniBatchKMeans, for
// choosing visually distinct frames (pipeline.md §9.2, kmeans method).
//
// The algorithm follows scikit-learn 1.8 step for step: k-means++ seeding (greedy, 2 + ln k
// local trials) on a random subset of init_size samples, the best of n_init seedings by inertia
// on a validation subset, then (max_iter * n) / batch_size steps of per-centre incremental
// updates on random mini-batches, random reassignment of starved centres, and early stopping
// when the smoothed batch inertia has not improved for max_no_improvement steps. Random numbers
// come from numpy's legacy RandomState(seed) (kernels/random.hpp), drawn in scikit-learn's order
// (validation subset, seeding subset, k-means++ draws, mini-batches, reassignments), so the
// random choices are scikit-learn's; distances and sums are ours (Eigen GEMM, double
// accumulation), so clusters can still differ where float rounding breaks a near-tie (§9.2 does
// not require equality). Results are identical for the same seed on every machine.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <vector>

namespace mosaic::media {

using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct MiniBatchKMeansOptions {
  int n_clusters = 8;
  int batch_size = 1024;
  int max_iter = 100;
  int n_init = 1;  ///< scikit-learn's "auto" is 1 for k-means++ seeding
  uint32_t seed = 0;  ///< numpy RandomState seed
  double reassignment_ratio = 0.01;
  int max_no_improvement = 10;
  int init_size = 0;  ///< 0 = 3 * batch_size (at least 3 * n_clusters, at most n)
};

struct KMeansFit {
  RowMatrixXf centers;           ///< n_clusters x d
  std::vector<int> labels;       ///< per sample, nearest centre
  double inertia = 0;            ///< sum of squared distances to the nearest centre
  int n_steps = 0;               ///< mini-batch steps run
};

/// \brief Cluster the rows of `x` (n x d, n >= n_clusters >= 1).
KMeansFit minibatch_kmeans(const RowMatrixXf& x, const MiniBatchKMeansOptions& options);

/// \brief Squared distance between two rows, accumulated in double (exact enough to break ties
/// the same way everywhere).
double squared_distance(const float* a, const float* b, Eigen::Index d) noexcept;

}  // namespace mosaic::media
