#include "features/kernels/binning.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mosaic::kernels {

void linspace(double start, double stop, std::size_t num, std::span<double> out) noexcept {
  if (num == 0) return;
  if (num == 1) {
    out[0] = start;  // numpy: y = [0] * delta + start
    return;
  }
  const double delta = stop - start;
  const double div = static_cast<double>(num - 1);
  const double step = delta / div;
  if (step == 0) {
    // numpy's denormal branch: y /= div; y *= delta.
    for (std::size_t i = 0; i < num; ++i) out[i] = static_cast<double>(i) / div * delta + start;
  } else {
    for (std::size_t i = 0; i < num; ++i) out[i] = static_cast<double>(i) * step + start;
  }
  out[num - 1] = stop;
}

std::size_t searchsorted_right(std::span<const double> edges, double v) noexcept {
  if (std::isnan(v)) return edges.size();
  return static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin());
}

void binned_mean(std::span<const double> x, std::span<const double> values, std::span<const double> edges,
                 std::span<double> sums, std::span<int64_t> counts, std::span<double> means) noexcept {
  const std::size_t nb = edges.empty() ? 0 : edges.size() - 1;
  std::fill(sums.begin(), sums.begin() + static_cast<std::ptrdiff_t>(nb), 0.0);
  std::fill(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(nb), int64_t{0});
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t d = searchsorted_right(edges, x[i]);
    if (d == 0 || d - 1 >= nb || !std::isfinite(values[i])) continue;
    sums[d - 1] += values[i];
    ++counts[d - 1];
  }
  for (std::size_t b = 0; b < nb; ++b)
    means[b] = counts[b] == 0 ? std::numeric_limits<double>::quiet_NaN() : sums[b] / static_cast<double>(counts[b]);
}

namespace {

// histogramdd's per-dimension index: searchsorted right, minus one on the last edge; 0 and
// edges.size() are the outlier bins.
std::size_t hist_index(std::span<const double> edges, double v) noexcept {
  std::size_t k = searchsorted_right(edges, v);
  if (!edges.empty() && v == edges.back()) --k;
  return k;
}

}  // namespace

void histogram2d(std::span<const double> x, std::span<const double> y, std::span<const double> weights,
                 std::span<const double> xedges, std::span<const double> yedges, std::span<double> sums,
                 std::span<double> counts) noexcept {
  const std::size_t nx = xedges.empty() ? 0 : xedges.size() - 1;
  const std::size_t ny = yedges.empty() ? 0 : yedges.size() - 1;
  std::fill(sums.begin(), sums.begin() + static_cast<std::ptrdiff_t>(nx * ny), 0.0);
  std::fill(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(nx * ny), 0.0);
  for (std::size_t s = 0; s < x.size(); ++s) {
    const std::size_t ix = hist_index(xedges, x[s]);
    const std::size_t iy = hist_index(yedges, y[s]);
    if (ix == 0 || ix > nx || iy == 0 || iy > ny) continue;
    const std::size_t b = (ix - 1) * ny + (iy - 1);
    sums[b] += weights.empty() ? 1.0 : weights[s];
    counts[b] += 1.0;
  }
}

}  // namespace mosaic::kernels
