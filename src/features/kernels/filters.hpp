// filters.hpp: scipy.ndimage's 1-D Gaussian filter, bit for bit (features.md §0.4), and the numpy
// pairwise sum it normalises its weights with.
//
// scipy computes gaussian_filter1d(x, sigma, mode="nearest", truncate) as a correlation with the
// weights exp(-0.5 k^2 / sigma^2) / sum, k = -r..r, r = int(truncate * sigma + 0.5). The input line
// is copied into a double buffer padded with the edge samples, each output is accumulated in
// double in scipy's symmetric order (centre first, then the outermost pair inwards) and cast back
// to the input type, so a float32 column gives a float32 column.
//
//   std::vector<double> w(2 * r + 1);
//   gaussian_kernel1d(sigma, r, w);                    // r = gaussian_radius(sigma, 4.0)
//   std::vector<double> scratch(x.size() + 2 * r);
//   gaussian_filter1d_nearest(x, w, out, scratch);     // float32 in, float32 out
#pragma once

#include <cstdint>
#include <span>

namespace mosaic::kernels {

/// \brief Sum a contiguous float64 array as numpy's np.add.reduce does (pairwise summation:
/// sequential below 8 elements, 8 accumulators up to 128, halves above).
double numpy_pairwise_sum(std::span<const double> x) noexcept;

/// \brief scipy's filter radius: int(truncate * sigma + 0.5) (truncation toward zero).
int64_t gaussian_radius(double sigma, double truncate) noexcept;

/// \brief scipy.ndimage._gaussian_kernel1d(sigma, order=0, radius): out[i] is the normalised
/// weight of offset i - radius; `out` holds 2 * radius + 1 values. The weights are
/// exp((-0.5 / sigma^2) * k^2) divided by their numpy pairwise sum, so they are exactly symmetric.
void gaussian_kernel1d(double sigma, int64_t radius, std::span<double> out) noexcept;

/// \brief Correlate x with symmetric weights (2r + 1 values, centre at r) in scipy's mode
/// "nearest": samples beyond either end repeat the edge sample. Each output is
/// x[t] w[r] + sum_{k=r..1} (x[t-k] + x[t+k]) w[r-k] accumulated in double, then rounded to float.
/// `scratch` must hold x.size() + 2r doubles; `out` has x.size() values (it may not alias x).
/// An empty x does nothing.
void gaussian_filter1d_nearest(std::span<const float> x, std::span<const double> weights, std::span<float> out,
                               std::span<double> scratch) noexcept;

/// \brief The same correlation for a float64 line (output in double, no rounding).
void gaussian_filter1d_nearest(std::span<const double> x, std::span<const double> weights, std::span<double> out,
                               std::span<double> scratch) noexcept;

}  // namespace mosaic::kernels
