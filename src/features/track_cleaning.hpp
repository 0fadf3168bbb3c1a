// track_cleaning.hpp (internal): the reference's cleaning helpers on Tables, and the per-animal
// view the pair features build on (features.md §0.4, §0.8).
//
// The numeric work is in kernels/cleaning.hpp; this file adds what needs a Table: grouping rows
// by key columns in sorted key order, reading the InterpolationConfig params, and the
// linear merge of two animals' sorted frames that every pair feature does per pair.
//
//   auto cfg = cleaning_config(params()["interpolation"]);
//   Table clean = clean_tracks_grouped(df, {"sequence", "id"}, pose_cols, "frame", cfg);
//
//   AnimalTracks animals = clean_animals(df, "frame", data_cols, cfg, {}, "pair-egocentric");
//   for each pair (a, b): merge_sorted_frames(animals.order_of(a), animals.order_of(b), ia, ib);
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "features/kernels/cleaning.hpp"
#include "mosaic/json.hpp"
#include "mosaic/table.hpp"

namespace mosaic::features {

/// \brief The InterpolationConfig params object ({linear_interp_limit, edge_fill_limit,
/// max_missing_fraction}) as the kernels' config.
kernels::CleaningConfig cleaning_config(const Json& interpolation);

/// \brief The reference's `clean_tracks_grouped(df, group_cols, data_cols, order_col, cfg)`:
/// groups in sorted key order (rows with a null key dropped), rows sorted by `order_col` within a
/// group, data columns cleaned (kernels::clean_animal_track; `periods` marks angle columns,
/// DECISIONS F7), other columns carried along. Columns: group_cols, order_col, then the remaining
/// columns of `df` in their order (pandas' groupby-apply + reset_index layout). Data columns come
/// out float64. Throws SchemaError for a missing column.
Table clean_tracks_grouped(const Table& df, const std::vector<std::string>& group_cols,
                           const std::vector<std::string>& data_cols, const std::string& order_col,
                           const kernels::CleaningConfig& config, const std::vector<double>& periods = {});

/// \brief Every animal's cleaned rows, the input of the pair features.
struct AnimalTracks {
  std::vector<int64_t> ids;               ///< sorted unique ids (one per animal)
  std::vector<std::size_t> offsets;       ///< rows of animal k: [offsets[k], offsets[k+1])
  std::vector<double> order;              ///< order-column value of each cleaned row (ascending per animal)
  std::vector<std::size_t> source_rows;   ///< input row of each cleaned row
  std::vector<std::vector<double>> data;  ///< cleaned data columns, aligned with `order`

  std::size_t animals() const noexcept { return ids.size(); }
  std::size_t rows_of(std::size_t k) const noexcept { return offsets[k + 1] - offsets[k]; }
  std::span<const double> order_of(std::size_t k) const noexcept {
    return std::span<const double>(order).subspan(offsets[k], rows_of(k));
  }
  std::span<const double> column_of(std::size_t c, std::size_t k) const noexcept {
    return std::span<const double>(data[c]).subspan(offsets[k], rows_of(k));
  }
};

/// \brief Group `df` by `id` (int64 or integral float ids; rows with a null id, a null
/// `sequence` or a null order value are dropped), sort each animal by `order_col` and clean
/// `data_cols` (F7 periods as in clean_tracks_grouped). One animal per id, whatever the
/// `sequence` column says: run_feature hands a feature one sequence per call, and with
/// `overlap_frames` the neighbours' rows (another sequence name, same recording) must join the
/// same animals. `where` names the feature in error messages.
AnimalTracks clean_animals(const Table& df, const std::string& order_col, const std::vector<std::string>& data_cols,
                           const kernels::CleaningConfig& config, const std::vector<double>& periods,
                           const std::string& where);

/// \brief Group rows by id without cleaning (pair-interaction-filter): each animal's rows in
/// order-column order (stable), data columns copied as float64.
AnimalTracks group_animals(const Table& df, const std::string& order_col, const std::vector<std::string>& data_cols,
                           const std::string& where);

/// \brief Inner-merge two ascending order-value lists (each without duplicates): the matching
/// positions in `ia` / `ib`, in ascending order (pandas' inner merge keeps the left order).
/// Linear in the two lengths; `ia`, `ib` are resized.
void merge_sorted_frames(std::span<const double> a, std::span<const double> b, std::vector<std::size_t>& ia,
                         std::vector<std::size_t>& ib);

/// \brief The order column of `df`: "frame" if present, else "time", else a SchemaError naming
/// `where` (the reference's resolve_order_col).
std::string resolve_order_col(const Table& df, const std::string& where);

/// \brief The reference's fps heuristic: the single non-null value of a `fps` column when there is
/// exactly one, else `fallback`.
double fps_from_column(const Table& df, double fallback);

}  // namespace mosaic::features
