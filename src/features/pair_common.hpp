// pair_common.hpp (internal): bookkeeping shared by the pair features (pair-egocentric,
// pair-position, approach-avoidance, pair-interaction-filter): checks on the per-animal tracks
// and the output layout that puts every (frame, ordered pair) row at its final position without
// sorting the output.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "features/track_cleaning.hpp"

namespace mosaic::features {

/// \brief Number of animals with at least one (cleaned) row.
std::size_t animals_with_rows(const AnimalTracks& animals) noexcept;

/// \brief Throw InputError naming the id and frame when an animal has two rows for one frame: the
/// pair features join animals frame by frame and need one row per animal and frame (the
/// reference's merge would multiply such rows, in an order its unstable sort leaves open).
void require_unique_frames(const AnimalTracks& animals, const std::string& where);

/// \brief Throw the error the reference hits when a pair shares a single frame
/// (numpy.gradient needs two samples; the reference loses the whole sequence).
[[noreturn]] void throw_single_frame(const std::string& where, const AnimalTracks& animals, std::size_t a,
                                     std::size_t b, std::size_t row_in_a);

/// \brief Where the rows of a (frame, id1, id2)-sorted pair output go. With k animals present at
/// a frame there are k (k - 1) ordered pairs; ordered pair (i, j) is row
/// rank(i) * (k - 1) + rank(j) - [rank(j) > rank(i)] of that frame's block.
struct FrameLayout {
  std::vector<std::size_t> frame_rank;     ///< per cleaned row: rank of its frame among all frames
  std::vector<std::size_t> rank_in_frame;  ///< per cleaned row: rank of its animal among those present
  std::vector<std::size_t> present;        ///< per frame: animals present
  std::vector<std::size_t> offset;         ///< per frame: first output row
  std::size_t total_rows = 0;

  /// Cleaned rows ordered by (frame, rank in frame): frame f's present animals are entries
  /// [sum of present[0..f), + present[f]).
  std::vector<std::size_t> rows_by_frame() const;

  /// Output row of the ordered pair (animal of cleaned row i, animal of cleaned row j) at their
  /// common frame.
  std::size_t dest(std::size_t row_i, std::size_t row_j) const noexcept {
    const std::size_t f = frame_rank[row_i];
    const std::size_t ri = rank_in_frame[row_i], rj = rank_in_frame[row_j];
    return offset[f] + ri * (present[f] - 1) + rj - (rj > ri ? 1 : 0);
  }
};

/// \brief The layout of every ordered pair of animals present at the same frame (needs unique
/// frames per animal).
FrameLayout frame_layout(const AnimalTracks& animals);

}  // namespace mosaic::features
