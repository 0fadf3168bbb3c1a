// index_csv.hpp: the per-storage `index.csv` files of features, models and frames
// (pipeline.md §4.10, §8.1, §9.1), read and written cell-for-cell as text.
//
// Every cell is text (DECISIONS P8): "0.10" stays "0.10", unknown columns and their order are
// kept, pandas-mangled files are accepted. Appends and rewrites hold an advisory lock and replace
// the file atomically, so two processes never lose each other's rows.
//
//   FeatureIndex idx(features_root / storage / "index.csv");
//   idx.append({row1, row2});          // dedup on (run_id, group, sequence)
//   idx.mark_finished(run_id);
//   std::string latest = idx.latest_run_id();
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mosaic/csv.hpp"

namespace mosaic {

/// \brief One row of a feature index, in the exact column order of §4.10.
struct FeatureIndexRow {
  std::string abs_path;
  std::string run_id;
  std::string started_at;
  std::string finished_at;
  std::string feature;
  std::string version;
  std::string group;
  std::string sequence;
  std::string params_hash;
  std::string n_rows;

  static const std::vector<std::string>& columns();
  std::vector<std::string> cells() const;
};

/// \brief A run index file (features, models or frames) with its dedup keys.
class RunIndex {
 public:
  /// `columns` = the header written for a new file; `dedup_keys` empty = append without dedup.
  RunIndex(std::filesystem::path path, std::vector<std::string> columns, std::vector<std::string> dedup_keys);

  const std::filesystem::path& path() const noexcept { return path_; }
  bool exists() const;
  /// Create the file with the header only, if it is missing (the reference's `ensure`).
  void ensure() const;
  /// Read every row as text; a missing file throws IoError "Index not found: <path>".
  TextCsv read_all() const;
  /// Append rows (given as column-name -> cell maps in `columns` order) under the lock: rows with
  /// the same dedup-key cells are replaced, new columns are added at the end.
  void append(const std::vector<std::vector<std::pair<std::string, std::string>>>& rows) const;
  /// Set finished_at = now on this run's rows that have none; rewrite only when something changed.
  void mark_finished(std::string_view run_id) const;
  /// Distinct run ids in file order.
  std::vector<std::string> run_ids() const;
  /// §2.5: finished rows by finished_at desc, then unfinished by started_at desc; the first.
  /// Throws InputError "No runs found in <path>" when empty and IoError when the file is missing.
  std::string latest_run_id() const;
  /// Keep only the rows for which `keep(row)` is true (clean); rewrites atomically.
  void retain_rows(const std::function<bool(const TextCsv&, std::size_t)>& keep) const;

 private:
  std::filesystem::path path_;
  std::vector<std::string> columns_;
  std::vector<std::string> dedup_keys_;
};

/// \brief A feature index (`features/<storage>/index.csv`), dedup on (run_id, group, sequence).
class FeatureIndex : public RunIndex {
 public:
  explicit FeatureIndex(std::filesystem::path path);
  void append_rows(const std::vector<FeatureIndexRow>& rows) const;
};

/// \brief One entry of a run as listed by its index.
struct IndexedEntry {
  std::string group;
  std::string sequence;
  std::filesystem::path path;  ///< resolved (P9: a moved dataset falls back to the run folder)
  std::string n_rows;
  std::string finished_at;
};

/// \brief The `.parquet` entries of `run_id` in a feature index (the global marker excluded).
/// `dataset_root` resolves relative cells; `run_root` is the fallback folder for absolute paths
/// from another machine (DECISIONS P9). When `validate` is set, a missing file throws
/// IoError "Stale index <path>: <n> path(s) no longer exist, first: <p>"; no rows for the run
/// throws IoError "No entries for run_id '<id>' in <path>".
std::vector<IndexedEntry> index_entries(const std::filesystem::path& index_path, std::string_view run_id,
                                        const std::filesystem::path& dataset_root,
                                        const std::filesystem::path& run_root, bool validate);

}  // namespace mosaic
