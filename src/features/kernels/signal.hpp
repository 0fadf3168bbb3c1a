// signal.hpp: 1-D signal kernels shared by the per-frame features, with numpy/scipy semantics
// (features.md §0.4). Pure functions over spans: no Table, no I/O, no exceptions; NaN is
// "missing" and propagates unless a function says otherwise.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>
#include <vector>

namespace mosaic::kernels {

/// \brief numpy float mod: the result has the divisor's sign (Python `%`).
inline double py_mod(double a, double b) noexcept {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

/// \brief wrap_angle(x) = mod(x + pi, 2 pi) - pi, in [-pi, pi).
inline double wrap_angle(double x) noexcept {
  constexpr double kPi = std::numbers::pi;
  return py_mod(x + kPi, 2 * kPi) - kPi;
}

/// \brief out[t] = x[t] - x[t-k] for t >= k, NaN before (all NaN when n <= k).
void diff_lag(std::span<const double> x, std::size_t k, std::span<double> out) noexcept;

/// \brief numpy.gradient with unit spacing and edge_order=1; n must be >= 2.
void gradient(std::span<const double> x, std::span<double> out) noexcept;

/// \brief numpy.unwrap with discont = pi, period = 2 pi (NaN propagates to later samples, as numpy).
void unwrap(std::span<const double> p, std::span<double> out) noexcept;

/// \brief Savitzky–Golay filter as scipy.signal.savgol_filter(x, window, polyorder, mode="interp"):
/// interior by the least-squares FIR coefficients, the first/last window/2 samples from a
/// polynomial fitted to the first/last `window` samples. Requires polyorder < window <= n.
void savgol_filter(std::span<const double> x, int window, int polyorder, std::span<double> out);

/// \brief The FIR coefficients scipy's savgol_coeffs(window, polyorder) uses for the interior
/// (in convolution order for the centre sample; symmetric for odd windows).
std::vector<double> savgol_coeffs(int window, int polyorder);

/// \brief Fill non-finite samples by linear interpolation over the finite ones (np.interp over
/// row positions: internal gaps interpolated, leading/trailing gaps take the nearest finite value).
/// Returns false (and leaves `out` = 0) when no sample is finite.
bool interp_fill_nonfinite(std::span<const double> x, std::span<double> out) noexcept;

}  // namespace mosaic::kernels
