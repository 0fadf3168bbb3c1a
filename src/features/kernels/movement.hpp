// movement.hpp: the time-series filters of the `movement` package (neuroinformatics-unit, v0.16,
// the release current at the reference's commit) as movement-smooth and
// movement-filter-interpolate use them (features.md §2.19). Series are float32, as movement
// stores positions; arithmetic is done in double and rounded once, as numpy/scipy do.
// Pure functions over spans: no Table, no I/O, no exceptions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace mosaic::kernels {

/// scipy.ndimage boundary modes that scipy.signal.savgol_filter accepts (besides "interp").
enum class EdgeMode : uint8_t { kNearest, kMirror, kConstant, kWrap };

/// \brief Index of the sample that position p (any integer) reads under `mode` for a line of
/// length n >= 1; -1 means "the constant 0" (kConstant outside the line). kMirror is numpy's
/// "reflect" pad / ndimage's "mirror" (d c b | a b c d | c b a).
int64_t extend_index(int64_t p, int64_t n, EdgeMode mode) noexcept;

/// \brief scipy.ndimage.convolve1d(x, weights, mode=mode, cval=0) of one line: double
/// accumulation in ndimage's order (its symmetric-kernel shortcut included), rounded to float32.
/// `work` is scratch space.
void ndimage_convolve1d(std::span<const float> x, std::span<const double> weights, EdgeMode mode, std::span<float> out,
                        std::vector<double>& work) noexcept;

/// \brief movement.filtering.savgol_filter on one series: scipy.signal.savgol_filter(x, window,
/// polyorder, mode) for the ndimage modes. `coeffs` = savgol_coeffs(window, polyorder).
void savgol_series(std::span<const float> x, std::span<const double> coeffs, EdgeMode mode, std::span<float> out,
                   std::vector<double>& work) noexcept;

/// \brief The same with mode="interp": the ndimage "constant" convolution inside, and the first and
/// last window/2 samples from a degree-`polyorder` polynomial fitted to the first/last `window`
/// samples. Returns false (and leaves `out` unspecified) when an edge window holds a NaN or inf,
/// which SciPy >= 1.17 refuses; requires window <= x.size().
bool savgol_series_interp(std::span<const float> x, int window, int polyorder, std::span<const double> coeffs,
                          std::span<float> out, std::vector<double>& work);

enum class RollingStat : uint8_t { kMedian, kMean, kMax, kMin };

/// \brief movement.filtering.rolling_filter on one series: reflect-pad window/2 samples, then
/// for each sample the statistic of the non-NaN values in [t - window/2, t + (window-1) - window/2],
/// NaN when fewer than `min_periods` are there (xarray rolling, center=True, skipna). The mean and
/// median are computed in double and rounded to float32. Requires window >= 2, 1 <= min_periods.
void rolling_series(std::span<const float> x, int window, RollingStat stat, int min_periods, std::span<float> out,
                    std::vector<double>& work) noexcept;

/// \brief movement.filtering.interpolate_over_time(method="linear", max_gap) on one series, in
/// place: xarray interpolate_na over sample positions (np.interp in double, rounded to float32);
/// leading and trailing gaps stay NaN; with max_gap, only gaps of at most max_gap consecutive
/// NaN are filled. Series with fewer than two valid samples are left as they are.
void interpolate_series(std::span<float> x, std::optional<int64_t> max_gap) noexcept;

}  // namespace mosaic::kernels
