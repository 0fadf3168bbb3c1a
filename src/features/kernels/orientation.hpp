// orientation.hpp: numeric kernels of orientation-rel (features.md §2.4) and the numpy
// reductions they need, with numpy's exact arithmetic (pairwise summation, quantile "linear"
// lerp, median of two middles). Pure functions: no Table, no I/O, no exceptions.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace mosaic::kernels {

/// \brief numpy's float64 `add.reduce` of a contiguous array: 0 + pairwise sum (8 accumulators,
/// blocks of 128), as pandas' Series.mean uses it.
double numpy_sum(std::span<const double> v) noexcept;

/// \brief numpy.quantile(method="linear") of an ascending-sorted, NaN-free array: virtual index
/// (n-1)q, lerp `a + (b-a)t`, or `b - (b-a)(1-t)` when t >= 0.5. q must lie in [0, 1].
double quantile_linear_sorted(std::span<const double> sorted, double q) noexcept;

/// \brief numpy.median of an ascending-sorted, NaN-free, non-empty array ((a+b)/2 for an even count).
double median_sorted(std::span<const double> sorted) noexcept;

/// \brief numpy.median of pdist(points) (points as x0, y0, x1, y1, ...; at least two points).
/// `work` is scratch space.
double median_pairwise_distance(std::span<const double> points, std::vector<double>& work);

/// \brief Scratch buffers for orientation_pair, reused across pairs.
struct OrientationWorkspace {
  std::vector<double> dists, rx, ry, sorted;
};

/// \brief Number of values orientation_pair writes for `n_quantiles` and `nearest_k`.
constexpr std::size_t orientation_row_width(std::size_t n_quantiles, std::size_t nearest_k) noexcept {
  return 6 + n_quantiles + 6 + nearest_k;
}

/// \brief One ordered pair (a -> b) of orientation-rel. B's points (x0, y0, ...) are expressed in
/// A's body frame: rel = R(-theta_a) (p - c_a) / scale. Writes, in this order: dx, dy (B's centroid),
/// dtheta, dist_min, dist_median, dist_max, one quantile per q, x_min, x_median, x_max, y_min,
/// y_median, y_max (NaN-skipping), near_0..near_{k-1} (sorted distances, NaN-padded). NaN
/// propagates as in numpy (a NaN heading makes every value NaN).
void orientation_pair(std::span<const double> points_b, double cax, double cay, double cbx, double cby,
                      double theta_a, double theta_b, double scale, std::span<const double> quantiles,
                      std::size_t nearest_k, OrientationWorkspace& ws, double* out);

}  // namespace mosaic::kernels
