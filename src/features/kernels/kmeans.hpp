// kmeans.hpp: scikit-learn 1.8 KMeans(init="k-means++", n_init=1, algorithm="lloyd") on float32
// data, as global-kmeans fits it (spec features.md §1.7, golden/INDEX.md pins
// "pin-sklearn18-kmeans-plusplus" and "pin-sklearn-kmeans-tolerance-nep50").
//
// Seeding draws from the legacy MT19937 stream exactly as sklearn does, so the same seed picks
// the same centres; distances for seeding are computed in float64 and stored as float32
// (`_euclidean_distances_upcast`), the Lloyd E-step is the float32 ||c||^2 - 2 x.c of sklearn's
// chunked Cython loop. BLAS summation orders cannot be reproduced: where the reference sums with
// BLAS (dot products, potentials) this code sums in double and rounds once, which is at least as
// accurate; labels can then differ from the reference only in near-ties.
//
//   Mt19937RandomState rs(42);
//   KMeansResult fit = kmeans_fit(x.data(), n, dim, {.n_clusters = 100}, rs);  // x: float32 n x dim
//   std::vector<int32_t> labels(m);
//   kmeans_predict(q.data(), m, dim, fit.centers.data(), 100, labels);
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "features/kernels/random.hpp"

namespace mosaic::kernels {

struct KMeansOptions {
  int n_clusters = 100;
  int max_iter = 300;
  /// Relative tolerance; the absolute one is float32(mean(var(X, axis=0)) * float32(tol)).
  double tol = 1e-4;
  /// k-means++ candidates per centre; 0 means sklearn's 2 + int(ln k).
  int n_local_trials = 0;
  /// How many OpenMP threads the reference's Lloyd step is emulated with. Each thread sums its
  /// static block of 256-row chunks into its own float32 buffer and the buffers are added at the
  /// end, which changes float32 rounding of the centre sums. 1 and 2 are deterministic (float
  /// addition is commutative); scikit-learn uses all cores (min(cores, chunks)). The goldens were
  /// produced with 2 threads: with 2 the centres and inertia match them bit for bit, with 1 the
  /// centres differ by a few float32 ulp.
  int accumulation_threads = 2;
};

struct KMeansResult {
  std::vector<float> centers;         ///< n_clusters x dim, row-major, in the data's units (mean added back)
  std::vector<int32_t> labels;        ///< labels_ of the fit (from the last E-step)
  std::vector<int64_t> seed_indices;  ///< rows picked by k-means++, in order
  float inertia = 0.0f;               ///< sum of squared distances to the assigned centres (float32)
  int n_iter = 0;                     ///< Lloyd iterations run (sklearn n_iter_)
  bool strict_convergence = false;    ///< labels stopped changing (else tol or max_iter)
};

/// \brief Pick k-means++ seeds as sklearn 1.8 `_kmeans_plusplus` with unit sample weights on
/// the (already centred) float32 rows x: first centre = rs.choice(n, p=1/n); then per centre
/// `n_local_trials` uniforms scaled by the float32 potential, located by searchsorted (left) in
/// the float32 cumulative sum of the closest squared distances, the candidate with the smallest
/// resulting potential kept (first on ties). Requires 1 <= n_clusters <= n.
std::vector<int64_t> kmeans_plusplus(const float* x, std::size_t n, std::size_t dim, int n_clusters,
                                     Mt19937RandomState& rs, int n_local_trials = 0);

/// \brief Fit k-means on float32 rows x (n x dim, row-major, finite). Requires
/// 1 <= n_clusters <= n. Steps: tolerance from the column variances, centring by the float32
/// column mean, k-means++ seeding, Lloyd iterations (chunks of 256 rows, empty clusters moved
/// to the farthest points, stop on unchanged labels or total squared centre shift <= tol), a
/// final E-step when the stop was not strict, then the mean added back to the centres.
KMeansResult kmeans_fit(const float* x, std::size_t n, std::size_t dim, const KMeansOptions& options,
                        Mt19937RandomState& rs);

/// \brief Nearest centre per row (sklearn `predict`): argmin_j float32(||c_j||^2 - 2 x.c_j),
/// first index on ties.
void kmeans_predict(const float* x, std::size_t n, std::size_t dim, const float* centers,
                    std::size_t n_clusters, std::span<int32_t> labels) noexcept;

}  // namespace mosaic::kernels
