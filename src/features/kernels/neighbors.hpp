// neighbors.hpp: the nearest other animal of each animal in one frame (features.md §2.2 with
// DECISIONS F3). Pure numeric code: no Table, no I/O, no exceptions.
//
// Semantics, identical for both search paths:
//   d(i, j) = sqrt((x_j - x_i)^2 + (y_j - y_i)^2), j != i;
//   a NaN distance is never a candidate (F3), so a point with a non-finite coordinate that gives
//   NaN everywhere has no neighbour (-1); +inf distances are candidates (they only win when
//   nothing finite is there, as numpy's argmin would pick them);
//   among equal distances (compared after the sqrt, as numpy compares them) the lowest index
//   wins, like numpy's argmin over the frame's rows.
//
//   kernels::NearestNeighborSearch nn;          // reuse across frames: no per-frame allocation
//   std::vector<int64_t> idx(n);
//   nn.search(x, y, idx);                       // idx[i] = nearest j, or -1
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace mosaic::kernels {

/// \brief Brute force over all pairs, O(n^2) time and O(1) memory. `nn` must have x.size() slots.
void nearest_neighbors_bruteforce(std::span<const double> x, std::span<const double> y,
                                  std::span<int64_t> nn) noexcept;

/// \brief Nearest neighbours of every point of a frame; brute force for small frames, a k-d tree
/// (nanoflann) over the finite points for large ones. Buffers are kept between calls.
class NearestNeighborSearch {
 public:
  /// Frames with at least this many points use the k-d tree (measured crossover, see
  /// bench/kernels/neighbors_bench.cpp).
  static constexpr std::size_t kDefaultTreeThreshold = 40;

  explicit NearestNeighborSearch(std::size_t tree_threshold = kDefaultTreeThreshold);
  ~NearestNeighborSearch();
  NearestNeighborSearch(NearestNeighborSearch&&) noexcept;
  NearestNeighborSearch& operator=(NearestNeighborSearch&&) noexcept;

  /// \brief nn[i] = index of the nearest other point of i, or -1 when it has none.
  void search(std::span<const double> x, std::span<const double> y, std::span<int64_t> nn);

 private:
  struct Tree;
  std::size_t tree_threshold_;
  std::unique_ptr<Tree> tree_;
};

}  // namespace mosaic::kernels
