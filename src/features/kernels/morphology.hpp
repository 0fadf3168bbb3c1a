// morphology.hpp: 1-D binary morphology with scipy.ndimage semantics for a structure of `s` ones
// (border_value 0, origin 0, one iteration), and the run extraction of pair-interaction-filter
// (features.md §2.6). Linear time (window counts from a prefix sum), whatever s.
//
// With c = s / 2 (integer division):
// - binary_erosion:  out[i] = all of in[i - c .. i + s - 1 - c]; samples outside the array count
//   as False (so True runs touching an end lose their outer samples);
// - binary_dilation: out[i] = any of in[i - (s - 1 - c) .. i + c] inside the array (scipy reflects
//   the structure and shifts the origin of even structures, so closing and opening do not drift);
// - closing = erosion(dilation(x)), opening = dilation(erosion(x)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace mosaic::kernels {

/// \brief scipy.ndimage.binary_erosion(x, structure=np.ones(s)). `out` may not alias x.
void binary_erosion_1d(std::span<const uint8_t> x, int64_t s, std::span<uint8_t> out,
                       std::vector<int64_t>& prefix_scratch);

/// \brief scipy.ndimage.binary_dilation(x, structure=np.ones(s)). `out` may not alias x.
void binary_dilation_1d(std::span<const uint8_t> x, int64_t s, std::span<uint8_t> out,
                        std::vector<int64_t>& prefix_scratch);

/// \brief The reference's _remove_bool_islands: binary_opening(binary_closing(x, ones(s)), ones(s)),
/// in place (s >= 1).
void remove_bool_islands(std::span<uint8_t> x, int64_t s, std::vector<uint8_t>& scratch,
                         std::vector<int64_t>& prefix_scratch);

/// \brief The reference's _find_long_true_runs: every True run of length >= min_run, as the padded
/// half-open index range [max(0, start - pad), min(n, end + 1 + pad)) (end inclusive), in order.
/// Padded ranges of neighbouring runs may overlap, as in the reference.
std::vector<std::pair<std::size_t, std::size_t>> find_long_true_runs(std::span<const uint8_t> x, int64_t min_run,
                                                                     int64_t pad);

}  // namespace mosaic::kernels
