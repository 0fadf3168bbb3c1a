// golden_corpus.hpp: reading ../shared/golden (the Python reference's outputs) and replaying a
// golden case through our run_feature, for the data-driven golden tests.
//
// A golden case is `<dataset>/<feature>/<variant>/{upstream,fixed}/` with run_info.json (params,
// inputs, links, labels, entries, the hashed payload) and one CSV (+ .meta.json with column order
// and dtypes) per entry. Compacted files (pointer JSONs) are rebuilt as corpus_tools.py does.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mosaic/dataset.hpp"
#include "mosaic/json.hpp"
#include "mosaic/run_feature.hpp"
#include "mosaic/table.hpp"

namespace mosaic::golden {

namespace fs = std::filesystem;

/// \brief ../shared/golden, or empty when absent.
fs::path golden_root();

/// \brief The text of a golden CSV, rebuilding pointer files (identical_to / derived_from).
std::string csv_text(const fs::path& csv_path);

/// \brief A golden table: CSV text typed by its .meta.json (columns, dtypes); float32 columns
/// are parsed as double and rounded to float, as INDEX.md says.
Table read_table(const fs::path& csv_path);

/// \brief One case folder and its run_info.json.
struct Case {
  fs::path dir;        ///< .../<dataset>/<feature>/<variant>/<upstream|fixed>
  std::string dataset, feature, variant, flavour;
  Json run_info;
};

/// \brief Every case of `feature` on every dataset, preferring fixed/ over upstream/ when
/// `prefer_fixed` (DECISIONS: we implement the fixes).
std::vector<Case> find_cases(const std::string& feature, bool prefer_fixed);

/// \brief A temporary dataset holding the case's inputs: tracks (imported from the golden CSVs),
/// upstream feature runs (golden outputs written as runs under their golden storage names and
/// run ids), linked artifacts and labels.
struct Replay {
  fs::path root;
  Dataset dataset;
  Inputs inputs;
  Json params;  ///< params_in
  RunOptions options;
};

Replay prepare_replay(const Case& c, const fs::path& workdir);

/// \brief How two tables are compared.
struct CompareOptions {
  std::vector<std::string> keys;  ///< sort both sides by these (stable) before comparing
  double rtol = 1e-12;
  double atol = 0;
  double rtol_float32 = 1e-6;
  double atol_float32 = 0;
  /// Compare these columns up to sign (PCA components), per column.
  std::vector<std::string> up_to_sign;
  /// Columns whose values are only compared as partitions (cluster ids).
  std::vector<std::string> as_partition;
  /// Columns not compared at all (with a reason in the case file).
  std::vector<std::string> ignore;
  /// Dtype differences tolerated (e.g. "cluster": int32 vs int64).
  bool check_dtypes = true;
  /// Columns whose dtype alone may differ (values are still compared); a trailing '*' matches a
  /// prefix, e.g. "poseP*" (track columns our Dataset canonicalises to float64).
  std::vector<std::string> dtype_exempt;
};

/// \brief "" when equal; otherwise a report: schema differences, or per column the first 10
/// mismatching rows with their keys, the max abs/rel error and the mismatch count.
std::string compare_tables(const Table& ours, const Table& golden, const CompareOptions& options);

}  // namespace mosaic::golden
