// pair_kinematics.hpp: the 15 egocentric features of a dyad shared by pair-egocentric
// (features.md §1.2) and pair-position (§2.5), with the reference's operation order, computed
// in double and rounded to float32 once at the end (numpy `.astype(np.float32)`).
//
// For one joined pair (T frames, rows in frame order), per animal: centre (cx, cy), unit heading
// (ux, uy) and heading angle theta. Velocities are numpy.gradient(c) * fps, angular speed is
// gradient(unwrap(theta)) * fps, the left normal is (-uy, ux).
//
// Two deliberate, documented departures from evaluating numpy's expressions literally, both
// below float32 resolution and both making the values independent of where a recording starts
// (so a recording split into segments with overlap gives the same values as the whole one):
// - the angular speed uses the LOCAL unwrap increments: (theta[i+1] - theta[i-1] + c_i + c_{i+1})
//   / 2 with numpy's per-step corrections c, instead of differences of the cumulative unwrapped
//   series; bit-identical to numpy until the first wrap, then within an ulp of the accumulated
//   offset;
// - the relative heading is cos/sin(theta_B - theta_A) rather than of the difference of the two
//   cumulative unwraps (which differ from it by multiples of 2 pi plus rounding); again identical
//   until a wrap occurs.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

namespace mosaic::kernels {

/// \brief The 15 output names, in the reference's column order.
inline constexpr std::array<std::string_view, 15> kPairEgoNames = {
    "A_speed",       "A_v_para",        "A_v_perp",        "A_ang_speed", "A_heading_cos",
    "A_heading_sin", "AB_dist",         "AB_dx_egoA",      "AB_dy_egoA",  "rel_heading_cos",
    "rel_heading_sin", "B_speed",       "B_v_para",        "B_v_perp",    "B_ang_speed"};

/// \brief One animal of a joined pair: T values each.
struct PairSide {
  std::span<const double> cx, cy;    ///< centre
  std::span<const double> ux, uy;    ///< unit heading
  std::span<const double> theta;     ///< heading angle (radians)
};

/// \brief Buffers reused across pairs.
struct PairKinematicsScratch {
  std::vector<double> buf;
};

/// \brief Compute the A->B and B->A blocks for T >= 2 joined frames. `ab` and `ba` receive
/// 15 * T floats each, feature-major: feature k of frame t at [k * T + t]. Returns false (and
/// writes nothing) for T < 2, where numpy.gradient raises.
bool pair_ego_features(const PairSide& a, const PairSide& b, double fps, std::span<float> ab, std::span<float> ba,
                       PairKinematicsScratch& scratch);

/// \brief gradient(unwrap(theta)) * fps with local unwrap increments (see the file comment);
/// out has theta.size() values; needs at least 2 samples.
void unwrapped_gradient(std::span<const double> theta, double fps, std::span<double> out) noexcept;

}  // namespace mosaic::kernels
