// ward.hpp: Ward hierarchical clustering as scipy 1.17 computes it, plus the nearest-centroid
// assignment global-ward uses for new frames (spec features.md §1.8).
//
// The linkage is scipy's nearest-neighbour chain (`_hierarchy.nn_chain`) on the condensed
// euclidean distances (`pdist`), followed by scipy's stable sort of the merges and the
// union-find relabelling; `fcluster_maxclust` numbers clusters with scipy's `cluster_monocrit`
// depth-first walk, so cluster ids equal scipy's for identical distances.
//
//   std::vector<double> d(n * (n - 1) / 2);
//   pdist_euclidean(x.data(), n, dim, d);                 // row-major n x dim
//   std::vector<double> z((n - 1) * 4);
//   ward_linkage(d, n, z);                                 // scipy linkage(x, "ward")
//   std::vector<int32_t> labels(n);
//   fcluster_maxclust(z, n, 20, labels);                   // fcluster(Z, 20, "maxclust")
//   auto c = cluster_centroids(x.data(), n, dim, labels);  // per unique label, ascending
//   assign_nearest_centroid(q.data(), m, dim, c.centroids.data(), c.ids.size(), nearest);
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mosaic::kernels {

/// \brief Compute scipy's condensed `pdist(x, "euclidean")` of the row-major n x dim matrix x:
/// out[k] for i < j in row-major pair order is sqrt(sum_c (x[j,c] - x[i,c])^2), the sum taken in
/// column order (scipy's kernel accumulates each pair sequentially). `out` holds n(n-1)/2 values.
void pdist_euclidean(const double* x, std::size_t n, std::size_t dim, std::span<double> out) noexcept;

/// \brief Compute scipy's `linkage(y, method="ward")` from condensed distances (n >= 2) by the
/// nearest-neighbour chain. Writes the (n-1) x 4 row-major linkage matrix Z: rows sorted by
/// merge distance (stable), children (smaller id first), distance, size; new nodes are n + row.
/// Ward update: D(i, xy) = sqrt((n_i+n_x) t D(i,x)^2 + (n_i+n_y) t D(i,y)^2 - n_i t d_xy^2),
/// t = 1 / (n_x + n_y + n_i), evaluated in scipy's operation order.
void ward_linkage(std::span<const double> condensed, std::size_t n, std::span<double> z) noexcept;

/// \brief scipy `fcluster(Z, max_clusters, criterion="maxclust")`: the 1-based flat cluster of
/// each of the n observations. The cut is the smallest merge height (binary search over the
/// per-node maximum merge distance) that yields at most max_clusters clusters; numbering follows
/// scipy's `cluster_monocrit` walk (left subtree first, leaves numbered when their parent closes).
void fcluster_maxclust(std::span<const double> z, std::size_t n, int max_clusters,
                       std::span<int32_t> labels) noexcept;

/// Centroids of the flat clusters, one row per distinct label in ascending order.
struct ClusterCentroids {
  std::vector<int32_t> ids;       ///< the distinct labels, ascending
  std::vector<double> centroids;  ///< ids.size() x dim, row-major, float64 means
};

/// \brief Average the rows of x (n x dim, row-major) per distinct label, in row order
/// (numpy `x[labels == c].mean(axis=0)` accumulates sequentially per column for these sizes).
ClusterCentroids cluster_centroids(const double* x, std::size_t n, std::size_t dim,
                                   std::span<const int32_t> labels);

/// \brief For each of the m query rows (already cast to double), the index of the nearest
/// centroid as scikit-learn's brute-force `kneighbors(n_neighbors=1)` fallback path finds it:
/// squared distance (-2 x.c + |x|^2) + |c|^2 in float64, clipped at 0, first minimum on ties.
void assign_nearest_centroid(const double* queries, std::size_t m, std::size_t dim,
                             const double* centroids, std::size_t k,
                             std::span<int64_t> nearest) noexcept;

}  // namespace mosaic::kernels
