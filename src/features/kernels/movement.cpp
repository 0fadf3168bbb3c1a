#include "features/kernels/movement.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "features/kernels/signal.hpp"

namespace mosaic::kernels {

namespace {
constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();
constexpr double kDblEps = std::numeric_limits<double>::epsilon();
}  // namespace

int64_t extend_index(int64_t p, int64_t n, EdgeMode mode) noexcept {
  if (p >= 0 && p < n) return p;
  switch (mode) {
    case EdgeMode::kNearest: return p < 0 ? 0 : n - 1;
    case EdgeMode::kWrap: return ((p % n) + n) % n;
    case EdgeMode::kMirror: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      const int64_t m = ((p % period) + period) % period;
      return m < n ? m : period - m;
    }
    case EdgeMode::kConstant: return -1;
  }
  return -1;
}

void ndimage_convolve1d(std::span<const float> x, std::span<const double> weights, EdgeMode mode, std::span<float> out,
                        std::vector<double>& work) noexcept {
  const auto n = static_cast<int64_t>(x.size());
  const auto len = static_cast<int64_t>(weights.size());
  if (n == 0 || len == 0) return;
  // convolve1d = correlate1d with the reversed weights and origin 0 (odd) or -1 (even length).
  const int64_t origin = len % 2 == 0 ? -1 : 0;
  const int64_t size1 = len / 2, size2 = len - size1 - 1;
  const int64_t before = size1 + origin, after = size2 - origin;
  // w[jj] for jj in [-size1, size2] (NI_Correlate1D's fw after `fw += size1`).
  auto w = [&](int64_t jj) { return weights[static_cast<std::size_t>(len - 1 - (size1 + jj))]; };
  int symmetric = 0;
  if (len & 1) {
    symmetric = 1;
    for (int64_t i = 1; i <= len / 2; ++i)
      if (std::fabs(w(i) - w(-i)) > kDblEps) {
        symmetric = 0;
        break;
      }
    if (symmetric == 0) {
      symmetric = -1;
      for (int64_t i = 1; i <= len / 2; ++i)
        if (std::fabs(w(i) + w(-i)) > kDblEps) {
          symmetric = 0;
          break;
        }
    }
  }
  // The extended line in double: line[k] is data index k - before.
  work.resize(static_cast<std::size_t>(n + before + after));
  for (int64_t k = 0; k < n + before + after; ++k) {
    const int64_t src = extend_index(k - before, n, mode);
    work[static_cast<std::size_t>(k)] = src < 0 ? 0.0 : static_cast<double>(x[static_cast<std::size_t>(src)]);
  }
  for (int64_t ll = 0; ll < n; ++ll) {
    // iline[jj] = data[ll + jj - origin] = work[ll + jj - origin + before] = work[ll + jj + size1]
    const double* iline = work.data() + ll + size1;
    double acc;
    if (symmetric > 0) {
      acc = iline[0] * w(0);
      for (int64_t jj = -size1; jj < 0; ++jj) acc += (iline[jj] + iline[-jj]) * w(jj);
    } else if (symmetric < 0) {
      acc = iline[0] * w(0);
      for (int64_t jj = -size1; jj < 0; ++jj) acc -= (iline[jj] - iline[-jj]) * w(jj);
    } else {
      acc = iline[size2] * w(size2);
      for (int64_t jj = -size1; jj < size2; ++jj) acc += iline[jj] * w(jj);
    }
    out[static_cast<std::size_t>(ll)] = static_cast<float>(acc);
  }
}

void savgol_series(std::span<const float> x, std::span<const double> coeffs, EdgeMode mode, std::span<float> out,
                   std::vector<double>& work) noexcept {
  ndimage_convolve1d(x, coeffs, mode, out, work);
}

bool savgol_series_interp(std::span<const float> x, int window, int polyorder, std::span<const double> coeffs,
                          std::span<float> out, std::vector<double>& work) {
  const auto n = x.size();
  const auto w = static_cast<std::size_t>(window);
  for (std::size_t i = 0; i < w; ++i)
    if (!std::isfinite(x[i]) || !std::isfinite(x[n - w + i])) return false;
  ndimage_convolve1d(x, coeffs, EdgeMode::kConstant, out, work);
  // Each edge: np.polyfit on that window's samples, evaluated where scipy's _fit_edge does.
  std::vector<double> edge(w), fitted(w);
  const std::size_t h = w / 2;
  for (std::size_t i = 0; i < w; ++i) edge[i] = x[i];
  savgol_filter(edge, window, polyorder, fitted);
  for (std::size_t i = 0; i < h; ++i) out[i] = static_cast<float>(fitted[i]);
  for (std::size_t i = 0; i < w; ++i) edge[i] = x[n - w + i];
  savgol_filter(edge, window, polyorder, fitted);
  for (std::size_t i = w - h; i < w; ++i) out[n - w + i] = static_cast<float>(fitted[i]);
  return true;
}

void rolling_series(std::span<const float> x, int window, RollingStat stat, int min_periods, std::span<float> out,
                    std::vector<double>& work) noexcept {
  const auto n = static_cast<int64_t>(x.size());
  const int64_t h = window / 2;
  for (int64_t t = 0; t < n; ++t) {
    work.clear();
    for (int64_t p = t - h; p <= t - h + window - 1; ++p) {
      const float v = x[static_cast<std::size_t>(extend_index(p, n, EdgeMode::kMirror))];
      if (!std::isnan(v)) work.push_back(v);
    }
    if (work.empty() || static_cast<int64_t>(work.size()) < min_periods) {
      out[static_cast<std::size_t>(t)] = kNaNf;
      continue;
    }
    double r = 0;
    switch (stat) {
      case RollingStat::kMean: {
        for (double v : work) r += v;
        r /= static_cast<double>(work.size());
        break;
      }
      case RollingStat::kMax: r = *std::max_element(work.begin(), work.end()); break;
      case RollingStat::kMin: r = *std::min_element(work.begin(), work.end()); break;
      case RollingStat::kMedian: {
        const std::size_t m = work.size();
        std::nth_element(work.begin(), work.begin() + static_cast<std::ptrdiff_t>(m / 2), work.end());
        const double hi = work[m / 2];
        if (m % 2 == 1) {
          r = hi;
        } else {
          const double lo = *std::max_element(work.begin(), work.begin() + static_cast<std::ptrdiff_t>(m / 2));
          r = (lo + hi) / 2.0;
        }
        break;
      }
    }
    out[static_cast<std::size_t>(t)] = static_cast<float>(r);
  }
}

void interpolate_series(std::span<float> x, std::optional<int64_t> max_gap) noexcept {
  const std::size_t n = x.size();
  std::size_t n_nan = 0;
  for (float v : x) n_nan += std::isnan(v) ? 1 : 0;
  if (n_nan == 0 || n_nan + 1 >= n) return;  // xarray's fast track: nothing, or at most one value
  // Walk the valid samples; fill each internal gap (a, b) by np.interp's formula.
  std::size_t a = n;
  for (std::size_t b = 0; b < n; ++b) {
    if (std::isnan(x[b])) continue;
    if (a != n && b > a + 1) {
      const std::size_t gap = b - a - 1;
      if (!max_gap || static_cast<int64_t>(gap) <= *max_gap) {
        const double ya = x[a], yb = x[b];
        const double slope = (yb - ya) / static_cast<double>(b - a);
        for (std::size_t k = a + 1; k < b; ++k) {
          double r = slope * static_cast<double>(k - a) + ya;
          if (std::isnan(r)) {
            r = slope * (static_cast<double>(k) - static_cast<double>(b)) + yb;
            if (std::isnan(r) && ya == yb) r = ya;
          }
          x[k] = static_cast<float>(r);
        }
      }
    }
    a = b;
  }
}

}  // namespace mosaic::kernels
