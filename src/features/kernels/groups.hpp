// groups.hpp: fission-fusion grouping kernels (ffgroups, features.md §2.9), with the reference's
// float32 arithmetic and its numba union-find.
//
// Per frame, the N animals' pairwise distances are kept as the upper triangle (i < j, row-major,
// N(N-1)/2 floats); a time window of them is averaged ignoring NaN, pairs closer than the cutoff
// are joined by union-find, and components are numbered by ascending root. Memory is one window of
// triangles (window x N(N-1)/2 floats), never T x N x N.
//
//   std::vector<float> tri(pair_count(n));
//   pair_distances_f32(x, y, tri);                        // one frame
//   window_nanmean_f32(rows_in_window, tri.size(), smoothed);
//   connected_components(smoothed, n, 50.0, scratch, labels);
//   label_group_events(labels_txn, frames, ids, 1, events);
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace mosaic::kernels {

/// \brief Number of unordered pairs of n animals: n(n-1)/2.
constexpr std::size_t pair_count(std::size_t n) noexcept { return n < 2 ? 0 : n * (n - 1) / 2; }

/// \brief Index of the pair (i, j), i < j, in the row-major upper triangle of n animals.
constexpr std::size_t pair_index(std::size_t i, std::size_t j, std::size_t n) noexcept {
  return i * n - i * (i + 1) / 2 + (j - i - 1);
}

/// \brief Distances of one frame's animals as numpy's float32 `linalg.norm(pos_i - pos_j)`:
/// dx = x_i - x_j and dy in float32, sqrt(dx*dx + dy*dy) in float32; NaN when either animal is
/// missing. `out` holds pair_count(x.size()) values.
void pair_distances_f32(std::span<const float> x, std::span<const float> y, std::span<float> out) noexcept;

/// \brief numpy's float32 nanmean over a window of rows: for each pair p, the float32 sum (in
/// window order, from 0) of the finite rows[k][p] divided by their count in double, rounded to
/// float; NaN when none is finite. A null row is a padding frame (all NaN). `out` may not alias a row.
void window_nanmean_f32(std::span<const float* const> rows, std::size_t n_pairs, std::span<float> out) noexcept;

/// \brief Connected components of n animals where the pair value (upper triangle) is below
/// `cutoff` (compared in double; NaN never joins), with the reference's union-find: pairs visited
/// i < j row-major, find with path compression, union by rank (on equal ranks the root of i becomes
/// the parent). labels[i] = rank of i's root among the distinct roots (0, 1, ...). `scratch` holds
/// 2n ints.
void connected_components(std::span<const float> pair_values, std::size_t n, double cutoff,
                          std::span<int32_t> scratch, std::span<int32_t> labels) noexcept;

/// \brief ffgroups' events over a T x N grid of component labels (frame-major; frames sorted
/// ascending and distinct; ids sorted ascending, already cast to integers). Frames split into
/// runs of consecutive frame numbers; runs spanning less than `min_duration` are skipped. Within a
/// run, every component is identified by its sorted member ids; each member set's consecutive
/// frames form episodes, and an episode with last - first >= min_duration is an event. Events are
/// numbered run by run, member sets in Python tuple order, episodes in time; `events` (T x N) gets
/// the event number of each cell (a later event overwrites an earlier one) or -1.
void label_group_events(std::span<const int32_t> labels, std::span<const int64_t> frames,
                        std::span<const int64_t> ids, int64_t min_duration, std::span<int64_t> events);

}  // namespace mosaic::kernels
