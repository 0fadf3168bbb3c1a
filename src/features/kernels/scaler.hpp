// scaler.hpp: scikit-learn 1.8 StandardScaler on one column (global-scaler, features.md §1.5).
//
// sklearn's _incremental_mean_and_var on a first fit, NaN-aware: sums are numpy nansums of the
// whole column (pairwise summation, as numpy reduces the F-ordered templates array), the
// variance is the corrected two-pass sum((x - T)^2) - sum(x - T)^2 / n over the non-NaN count n,
// and a column is constant (scale 1) when var <= n eps var + (n mean eps)^2.
//
//   std::vector<double> scratch(x.size());
//   ScalerColumnStats s = standard_scaler_fit(x, scratch);
//   standard_scale(x, s.mean, s.scale, out);   // (x - mean) / scale
#pragma once

#include <cstdint>
#include <span>

namespace mosaic::kernels {

/// Fitted StandardScaler statistics of one column.
struct ScalerColumnStats {
  double mean = 0.0;
  double var = 0.0;    ///< population variance (ddof 0) of the non-NaN values
  double scale = 1.0;  ///< sqrt(var), or 1 for a constant column
  int64_t count = 0;   ///< non-NaN values
};

/// \brief Fit one column. `scratch` must hold x.size() doubles. All-NaN gives NaN mean/var/scale.
ScalerColumnStats standard_scaler_fit(std::span<const double> x, std::span<double> scratch) noexcept;

/// \brief out[i] = (x[i] - mean) / scale (sklearn's transform: X -= mean; X /= scale).
void standard_scale(std::span<const double> x, double mean, double scale, std::span<double> out) noexcept;

}  // namespace mosaic::kernels
