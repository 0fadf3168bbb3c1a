// approach_avoidance.hpp: the per-pair kernels of approach-avoidance (features.md §2.7):
// trajognize-style frame-to-frame velocities, the NaN-aware sliding mean, and the continuity gate
// (at least C candidate frames among the frame numbers [f - L + 1, f]).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

namespace mosaic::kernels {

/// \brief numpy.isclose(a, b) with its defaults (rtol 1e-5, atol 1e-8): |a - b| <= atol + rtol |b|.
inline bool np_isclose(double a, double b) noexcept {
  if (a == b) return true;  // equal infinities
  return std::abs(a - b) <= 1e-8 + 1e-5 * std::abs(b);
}

/// \brief v[t] = p[t] - p[t-1] where frames[t] - frames[t-1] is close to `delta` (np.isclose),
/// NaN otherwise and at t = 0.
void step_velocity(std::span<const double> p, std::span<const double> frames, double delta,
                   std::span<double> v) noexcept;

/// \brief The reference's _sliding_mean: box mean of width `win` over x reflect-padded by
/// win / 2 on the left and win - 1 - win / 2 on the right (even windows keep the length).
/// x unchanged for win <= 1. `out` must not alias x.
void sliding_mean(std::span<const double> x, int64_t win, std::span<double> out) noexcept;

/// \brief The reference's _sliding_nanmean: sliding_mean of x with non-finite values as 0,
/// divided by the sliding mean of the finite mask where that is > 0, NaN elsewhere. `num` and
/// `den` are work buffers of x.size() values; `out` must not alias x.
void sliding_nanmean(std::span<const double> x, int64_t win, std::span<double> num, std::span<double> den,
                     std::span<double> out) noexcept;

/// \brief The continuity gate: out[t] = cand[t] and at least `min_count` candidates among the rows
/// whose frame lies in [frames[t] - window_len + 1, frames[t]] (frames ascending). With
/// window_len <= 1 and min_count <= 1 it is cand itself.
void min_count_window_gate(std::span<const uint8_t> cand, std::span<const int64_t> frames, int64_t window_len,
                           int64_t min_count, std::span<uint8_t> out) noexcept;

}  // namespace mosaic::kernels
