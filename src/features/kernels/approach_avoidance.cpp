#include "features/kernels/approach_avoidance.hpp"

#include <cmath>
#include <limits>

#include "features/kernels/cleaning.hpp"

namespace mosaic::kernels {

void step_velocity(std::span<const double> p, std::span<const double> frames, double delta,
                   std::span<double> v) noexcept {
  const std::size_t n = p.size();
  if (n == 0) return;
  v[0] = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t t = 1; t < n; ++t)
    v[t] = np_isclose(frames[t] - frames[t - 1], delta) ? p[t] - p[t - 1] : std::numeric_limits<double>::quiet_NaN();
}

void sliding_mean(std::span<const double> x, int64_t win, std::span<double> out) noexcept {
  const std::size_t n = x.size();
  if (win <= 1) {
    for (std::size_t i = 0; i < n; ++i) out[i] = x[i];
    return;
  }
  const int64_t left = win / 2;
  const double w = 1.0 / static_cast<double>(win);
  for (std::size_t i = 0; i < n; ++i) {
    double acc = 0;
    const int64_t lo = static_cast<int64_t>(i) - left;
    for (int64_t k = 0; k < win; ++k) acc += x[reflect_index(lo + k, n)] * w;
    out[i] = acc;
  }
}

void sliding_nanmean(std::span<const double> x, int64_t win, std::span<double> num, std::span<double> den,
                     std::span<double> out) noexcept {
  const std::size_t n = x.size();
  if (win <= 1) {
    for (std::size_t i = 0; i < n; ++i) out[i] = x[i];
    return;
  }
  // x0 and the finite mask go through `out` as a staging buffer before the two means.
  for (std::size_t i = 0; i < n; ++i) out[i] = std::isfinite(x[i]) ? x[i] : 0.0;
  sliding_mean(out, win, num);
  for (std::size_t i = 0; i < n; ++i) out[i] = std::isfinite(x[i]) ? 1.0 : 0.0;
  sliding_mean(out, win, den);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = den[i] > 0 ? num[i] / den[i] : std::numeric_limits<double>::quiet_NaN();
}

void min_count_window_gate(std::span<const uint8_t> cand, std::span<const int64_t> frames, int64_t window_len,
                           int64_t min_count, std::span<uint8_t> out) noexcept {
  const std::size_t n = cand.size();
  if (window_len <= 1 && min_count <= 1) {
    for (std::size_t i = 0; i < n; ++i) out[i] = cand[i] ? 1 : 0;
    return;
  }
  // counts[t] = csum[t + 1] - csum[left(t)], left = searchsorted(frames, frames[t] - L + 1, "left");
  // frames ascend, so `left` only moves forward. The running count is the window sum.
  std::size_t left = 0;
  int64_t count = 0;  // candidates in rows [left, t]
  for (std::size_t t = 0; t < n; ++t) {
    count += cand[t] ? 1 : 0;
    const int64_t lo = frames[t] - window_len + 1;
    while (left < t && frames[left] < lo) {
      count -= cand[left] ? 1 : 0;
      ++left;
    }
    out[t] = (cand[t] && count >= min_count) ? 1 : 0;
  }
}

}  // namespace mosaic::kernels
