#include "features/kernels/scaler.hpp"

#include <cmath>
#include <limits>

#include "features/kernels/filters.hpp"

namespace mosaic::kernels {

ScalerColumnStats standard_scaler_fit(std::span<const double> x, std::span<double> scratch) noexcept {
  const std::size_t n = x.size();
  ScalerColumnStats s;
  // np.nansum: NaN replaced by 0, then numpy's pairwise sum of the contiguous column.
  for (std::size_t i = 0; i < n; ++i) {
    const bool nan = std::isnan(x[i]);
    scratch[i] = nan ? 0.0 : x[i];
    s.count += nan ? 0 : 1;
  }
  const auto count = static_cast<double>(s.count);
  const double sum = numpy_pairwise_sum(scratch.first(n));
  const double t = sum / count;
  s.mean = sum / count;
  for (std::size_t i = 0; i < n; ++i) scratch[i] = std::isnan(x[i]) ? 0.0 : x[i] - t;
  const double correction = numpy_pairwise_sum(scratch.first(n));
  for (std::size_t i = 0; i < n; ++i) scratch[i] *= scratch[i];
  const double sq = numpy_pairwise_sum(scratch.first(n));
  s.var = (sq - correction * correction / count) / count;
  constexpr double eps = std::numeric_limits<double>::epsilon();
  const double bound = count * eps * s.var + (count * s.mean * eps) * (count * s.mean * eps);
  s.scale = s.var <= bound ? 1.0 : std::sqrt(s.var);
  return s;
}

void standard_scale(std::span<const double> x, double mean, double scale, std::span<double> out) noexcept {
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = (x[i] - mean) / scale;
}

}  // namespace mosaic::kernels
