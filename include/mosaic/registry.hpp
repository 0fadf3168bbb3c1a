// registry.hpp: the SQLite run registry `features/.mosaic.db` (pipeline.md §6, DECISIONS P1).
//
// It mirrors what index.csv and the run folders say, plus what they cannot: which upstream runs
// a run consumed (lineage) and live training progress. WAL mode, foreign keys, a 10 s busy
// timeout; batched writes happen in one transaction. Several processes may write one database at
// once: every write takes the write lock up front (BEGIN IMMEDIATE) and waits for it up to 10 s.
// Every SQLite failure throws IoError naming the database file and the operation.
//
//   FeatureRegistry reg = FeatureRegistry::open(ds.root("features"));
//   reg.record_run_start("speed-angvel__from__tracks", run_id, "0.1", hash, params_json, inputs_json);
//   reg.record_entries(rows);
//   reg.mark_finished(storage, run_id);
//   Json tree = reg.lineage(storage, run_id);
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mosaic/json.hpp"

struct sqlite3;

namespace mosaic {

struct RegistryRun {
  std::string feature, run_id, version, params_hash;
  std::optional<std::string> params_json, inputs_json;
  std::string started_at, finished_at;
};

struct RegistryEntry {
  std::string feature, run_id, group, sequence, abs_path;
  int64_t n_rows = 0;
};

/// One column of a registry table as `PRAGMA table_info` reports it.
struct RegistryColumn {
  std::string name, type;
  bool not_null = false;
  std::optional<std::string> default_value;  ///< the SQL text of the default, e.g. "''"
  int primary_key_index = 0;                 ///< 1-based position in the primary key, 0 if not part
};

struct ProgressRow {
  std::string step_type;
  int64_t step_index = 0;
  int64_t step_total = 0;
  std::string message;
  std::string timestamp;
  Json metrics;
};

/// One connection to the registry. Calls on one object are serialised by an internal mutex, so an
/// object may be shared between threads; separate objects (and processes) coordinate through
/// SQLite's locks.
class FeatureRegistry {
 public:
  /// \brief `open_registry(features_root, migrate_csv)`: open or create `<root>/.mosaic.db`; a new
  /// database is filled from the existing index.csv files when `migrate_csv` (§6.4).
  static FeatureRegistry open(const std::filesystem::path& features_root, bool migrate_csv = true);
  /// \brief Open a database file directly (no migration).
  static FeatureRegistry open_file(const std::filesystem::path& db_path);

  FeatureRegistry(FeatureRegistry&&) noexcept;
  FeatureRegistry& operator=(FeatureRegistry&&) noexcept;
  ~FeatureRegistry();

  const std::filesystem::path& path() const noexcept { return path_; }

  void record_run_start(const std::string& feature, const std::string& run_id, const std::string& version,
                        const std::string& params_hash, std::optional<std::string> params_json = std::nullopt,
                        std::optional<std::string> inputs_json = std::nullopt);
  void record_entry(const RegistryEntry& entry);
  void record_entries(const std::vector<RegistryEntry>& entries);
  void mark_finished(const std::string& feature, const std::string& run_id);
  /// `INSERT OR IGNORE`. The (feature, run_id) row must exist (record_run_start first). When the
  /// upstream run has no row (it was produced by the Python reference or before the registry
  /// existed), a placeholder row is inserted first so the foreign key holds and lineage works:
  /// version, params_hash, started_at and finished_at come from the first row of that run in
  /// `<db folder>/<upstream_feature>/index.csv` when there is one, otherwise they are ''.
  void record_dependency(const std::string& feature, const std::string& run_id, const std::string& upstream_feature,
                         const std::string& upstream_run_id);

  /// Throws InputError "No runs found for feature '<f>'".
  std::string latest_run_id(const std::string& feature);
  std::vector<RegistryRun> list_runs(const std::string& feature);
  std::vector<std::string> list_features();
  std::vector<RegistryEntry> list_entries(const std::string& feature, std::optional<std::string> run_id = std::nullopt);
  int64_t entry_count(const std::string& feature, const std::string& run_id);
  bool has_run(const std::string& feature, const std::string& run_id);
  bool run_is_finished(const std::string& feature, const std::string& run_id);
  std::vector<std::pair<std::string, std::string>> pending_entries(
      const std::string& feature, const std::string& run_id,
      const std::set<std::pair<std::string, std::string>>& all_entries);
  std::vector<std::pair<std::string, std::string>> get_dependencies(const std::string& feature,
                                                                     const std::string& run_id);
  /// {"feature", "run_id", "upstream": [...]} recursively. Unlike the reference, cycles are cut:
  /// a run that already appears on the path from the root is listed with "upstream": [] and an
  /// extra "cycle": true, instead of recursing forever. Shared ancestors (diamonds) are expanded
  /// under each branch, as in the reference.
  Json lineage(const std::string& feature, const std::string& run_id);
  /// Visit `<root>/*/index.csv` and import runs and entries; returns the rows visited (§6.4).
  int64_t migrate_from_csv(const std::filesystem::path& features_root);

  /// \name Training progress (§8.2)
  /// @{
  void record_progress(const std::string& job_id, const std::string& step_type, int64_t step_index,
                       int64_t step_total, const std::string& metric_json, const std::string& message);
  std::vector<ProgressRow> read_progress(const std::string& job_id);
  /// @}

  /// Run `fn` inside one transaction (BEGIN IMMEDIATE ... COMMIT, rollback on exception). Nested
  /// calls (and the write methods called inside `fn`) join the outer transaction. Other writers of
  /// the database wait while it is open, so keep `fn` short (at most a few seconds).
  void transaction(const std::function<void()>& fn);

  /// \name Introspection (diagnostics and tests)
  /// @{
  /// The columns of a table in declaration order (`PRAGMA table_info`); empty if it does not exist.
  std::vector<RegistryColumn> describe_table(const std::string& table);
  /// The connection's journal mode ("wal" normally).
  std::string journal_mode();
  /// @}

 private:
  FeatureRegistry() = default;
  void exec(const std::string& sql);
  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
  int transaction_depth_ = 0;
  // Recursive: write methods open a transaction of their own and may run inside transaction().
  // Behind a pointer so that the registry stays movable.
  std::unique_ptr<std::recursive_mutex> mutex_ = std::make_unique<std::recursive_mutex>();
};

/// \brief read_progress(db_path, job_id) with its own short-lived connection (WAL: never blocks a
/// writer). The database must exist; it is not created.
std::vector<ProgressRow> read_progress(const std::filesystem::path& db_path, const std::string& job_id);

}  // namespace mosaic
