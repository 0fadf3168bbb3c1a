// binning.hpp: numpy's linspace, digitize-based binned means and histogram2d sums, with numpy's
// bin rules and summation order (nn-delta-bins, features.md §2.12).
//
//   std::vector<double> edges(nbins);
//   linspace(-14.0, 14.0, nbins, edges);                           // numpy.linspace
//   binned_mean(x, values, edges, sums, counts, means);            // digitize: right edge excluded
//   histogram2d(x, y, w, xedges, yedges, sums2d, counts2d);        // histogramdd: last edge included
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace mosaic::kernels {

/// \brief numpy.linspace(start, stop, num) with endpoint=True: out[i] = i * step + start with
/// step = (stop - start) / (num - 1), and out[num-1] = stop exactly; num = 1 gives {start}.
void linspace(double start, double stop, std::size_t num, std::span<double> out) noexcept;

/// \brief numpy.searchsorted(edges, v, side="right") for ascending edges; NaN sorts after every
/// number (returns edges.size()).
std::size_t searchsorted_right(std::span<const double> edges, double v) noexcept;

/// \brief The reference's _binned_mean_fast: bin = digitize(x, edges) - 1 (edges[b] <= x <
/// edges[b+1]), only bins 0..edges.size()-2 and finite values count; sums accumulate in sample
/// order (np.bincount); means[b] = sums[b] / counts[b], NaN for an empty bin. `sums`, `counts` and
/// `means` hold edges.size() - 1 values.
void binned_mean(std::span<const double> x, std::span<const double> values, std::span<const double> edges,
                 std::span<double> sums, std::span<int64_t> counts, std::span<double> means) noexcept;

/// \brief numpy.histogram2d(x, y, bins=[xedges, yedges], weights) as histogramdd computes it: a
/// sample falls in bin (i, j) with xedges[i] <= x < xedges[i+1] (the last edge inclusive), the
/// same for y; NaN and out-of-range samples are dropped. `sums` (weighted, sample order) and
/// `counts` are row-major (xedges.size()-1) x (yedges.size()-1) and are overwritten. An empty
/// `weights` means unit weights.
void histogram2d(std::span<const double> x, std::span<const double> y, std::span<const double> weights,
                 std::span<const double> xedges, std::span<const double> yedges, std::span<double> sums,
                 std::span<double> counts) noexcept;

}  // namespace mosaic::kernels
