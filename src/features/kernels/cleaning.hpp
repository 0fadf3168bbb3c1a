// cleaning.hpp: the reference's per-animal track cleaning (features.md §0.4 `clean_animal_track`,
// `clean_tracks_grouped`) and its moving average `smooth_1d`, as pure kernels over spans.
//
// The cleaning of one animal's rows (already sorted by the order column) is, per data column:
//   1. +-inf -> NaN;
//   2. linear interpolation by ROW POSITION (frame gaps are ignored) with limit L in both
//      directions: a NaN at position p is filled when a valid value lies within L positions of p on
//      either side; between valid values a < p < b the fill is np.interp's
//      `(y_b - y_a) / (b - a) * (p - a) + y_a`; before the first / after the last valid value the
//      fill is that value (constant edge extension), still only within L positions;
//   3. ffill(limit E) then bfill(limit E): at most E consecutive NaNs after / before a valid value
//      take its value (this extends step 2: a gap of 25 with L = 10, E = 3 is filled completely,
//      10 interpolated + 3 forward-filled from the left, 10 interpolated + 2 back-filled from the
//      right);
// then over the row: 4. a row whose NaN fraction among the data columns is greater than
// max_missing_fraction is dropped; 5. NaNs left in kept rows take their column's median over the
// kept rows (NaN-skipping, numpy's median; an all-NaN column stays NaN).
//
// Angle columns (DECISIONS F7, used by pair-position and approach-avoidance): pass a period
// (2 pi, or 360 for degrees) and step 2 interpolates along the shorter arc, as if the column had
// been unwrapped (numpy.unwrap's increment) before interpolating and wrapped back after. Fills
// whose arc does not cross the period boundary are bit-identical to the linear ones; fills that do
// are wrapped into [-period/2, period/2). Steps 3-5 are unchanged (constants and medians).
//
//   std::vector<double> x = {...}, y = {...};               // one animal, sorted by frame
//   std::array<std::span<double>, 2> cols{x, y};
//   std::vector<std::size_t> kept(x.size());
//   CleaningScratch scratch;
//   std::size_t n = clean_animal_track(cols, {}, CleaningConfig{}, kept, scratch);
//   // x[0..n), y[0..n) now hold the cleaned kept rows; kept[0..n) their input row positions.
//
// For whole tables: clean_tracks_grouped below (groups numbered by the caller), or the Table
// adapter in src/features/track_cleaning.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mosaic::kernels {

/// \brief The reference's InterpolationConfig (features.md §0.4); defaults are the reference's.
struct CleaningConfig {
  int64_t linear_interp_limit = 10;  ///< L >= 1
  int64_t edge_fill_limit = 3;       ///< E >= 0
  double max_missing_fraction = 0.10;  ///< in [0, 1]
};

/// \brief Reusable buffers of the cleaning kernels (no per-call allocation once warmed up).
struct CleaningScratch {
  std::vector<double> values;
  std::vector<std::size_t> rows;
};

/// \brief Step 2 on one column, in place: pandas `interpolate(method="linear", limit=L,
/// limit_direction="both")` over row positions. `limit` >= 1. An all-NaN column is unchanged.
void interpolate_limited(std::span<double> x, int64_t limit) noexcept;

/// \brief Step 2 for an angle column (DECISIONS F7): as interpolate_limited, but between valid
/// values the fill follows numpy.unwrap's increment (the shorter arc; a jump of exactly half a
/// period keeps its sign); fills that cross the boundary are wrapped into [-period/2, period/2).
void interpolate_limited_circular(std::span<double> x, int64_t limit, double period) noexcept;

/// \brief Step 3 on one column, in place: pandas `ffill(limit=E)` then `bfill(limit=E)`.
void fill_limited(std::span<double> x, int64_t limit) noexcept;

/// \brief numpy's median of the non-NaN values of `x` (mean of the two middle values for an even
/// count); NaN when there is none. Uses `scratch` as a copy buffer.
double nan_median(std::span<const double> x, std::vector<double>& scratch);

/// \brief Clean one animal's track (steps 1-5) in place. `columns` are the data columns, each of
/// the same length n, rows sorted by the order column. `periods` is empty or one value per
/// column: 0 = plain column, > 0 = angle column with that period (F7). The kept rows are
/// compacted to the front of every column; their input positions (ascending) are written to
/// `kept` (size >= n). Returns the number of kept rows.
std::size_t clean_animal_track(std::span<const std::span<double>> columns, std::span<const double> periods,
                               const CleaningConfig& config, std::span<std::size_t> kept,
                               CleaningScratch& scratch);

/// \brief The cleaned tracks of every group, in group order.
struct CleanedTracks {
  /// Output rows of group g are [group_offsets[g], group_offsets[g + 1]).
  std::vector<std::size_t> group_offsets;
  /// Input row of each output row (rows of a group are in ascending order-column order).
  std::vector<std::size_t> source_rows;
  /// Cleaned values, one vector per data column, aligned with source_rows.
  std::vector<std::vector<double>> columns;
};

/// \brief The reference's clean_tracks_grouped without the Table: rows are split by
/// `group_of_row` (group numbers 0..n_groups-1 in the order the groups are output, which the
/// reference takes as sorted key order; a negative number drops the row, like pandas' groupby
/// dropping NaN keys), each group is sorted by `order` (stable; NaN last, as pandas) and cleaned
/// with clean_animal_track. `columns` and `periods` as there.
void clean_tracks_grouped(std::span<const int64_t> group_of_row, std::size_t n_groups, std::span<const double> order,
                          std::span<const std::span<const double>> columns, std::span<const double> periods,
                          const CleaningConfig& config, CleanedTracks& out);

/// \brief The reference's smooth_1d(x, win): the moving average of width `win` over x
/// reflect-padded (numpy "reflect", which excludes the edge sample) by win / 2 on each side;
/// x unchanged for win <= 1. Even windows are refused (returns false, out untouched): the
/// reference returns n + 1 values for them and its features then fail on the length mismatch.
/// The window sum is taken in window order (numpy's convolve may use BLAS, so the last bit can
/// differ). `out` has x.size() values and must not alias x.
bool smooth_1d(std::span<const double> x, int64_t win, std::span<double> out) noexcept;

/// \brief smooth_1d for an angle series in radians (DECISIONS F7): each window is unwrapped
/// around its centre sample (numpy.unwrap's steps, taken locally so the result does not depend on
/// where the series starts), averaged, and wrapped back into [-pi, pi) when the window crossed the
/// +-pi boundary; windows that do not cross give exactly smooth_1d's value. Odd `win` only
/// (returns false for even windows); `out` must not alias x.
bool smooth_angle_1d(std::span<const double> x, int64_t win, std::span<double> out) noexcept;

/// \brief numpy "reflect" padding index: the source position of padded position `j` (may be
/// negative or >= n) for an array of n >= 1 values (n == 1 repeats the only value, as numpy).
std::size_t reflect_index(int64_t j, std::size_t n) noexcept;

/// \brief numpy.unwrap's increment between consecutive samples a -> b for `period` (discont =
/// period / 2): b - a when |b - a| < period / 2, otherwise the difference moved into
/// [-period/2, period/2) (a difference of exactly +period/2 keeps its sign). NaN propagates.
double unwrap_increment(double a, double b, double period) noexcept;

}  // namespace mosaic::kernels
