// run_feature.hpp: run one feature over a dataset, cached by run id (pipeline.md §4).
//
// The run folder is `features/<storage>/<run_id>/` with `run_id = <version>-<hash of params,
// inputs, frame range (and scope for scope-dependent features)>`; the same inputs and params never
// compute twice. Outputs are written atomically, `index.csv` lists them, and the SQLite registry
// (`features/.mosaic.db`) records the run, its entries and its upstream runs (DECISIONS P1).
//
//   RunOptions opt;
//   opt.parallel_workers = 2;
//   opt.sequences = {"seq001"};
//   Result r = run_feature(ds, *feature, opt);   // r.feature = storage name, r.run_id
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mosaic/feature.hpp"

namespace mosaic {

class Dataset;
class FeatureRegistry;

/// \brief Progress of the apply phase, for progress bars and logs.
struct RunProgress {
  std::string storage;
  std::size_t done = 0;     ///< manifest entries processed (loaded or skipped)
  std::size_t total = 0;    ///< manifest entries
  int64_t rows_out = 0;
  double seconds = 0;
};

struct RunOptions {
  /// Scope: groups and sequences to keep (nullopt = no filter). For tracks an empty set also
  /// means no filter; for feature inputs it matches nothing (pipeline.md §4.2).
  std::optional<std::set<std::string>> groups;
  std::optional<std::set<std::string>> sequences;
  bool overwrite = false;
  /// Worker threads for reading, applying and writing entries (<= 1 = sequential).
  int parallel_workers = 1;
  std::string parallel_mode = "thread";  ///< "thread" or "process"; both use threads here
  /// Rows of neighbouring sequences (same group) prepended/appended; trimmed by frame (P7).
  int64_t overlap_frames = 0;
  std::optional<int64_t> start_frame, end_frame;
  std::optional<double> start_time, end_time;
  /// Registry to record into; when null, run_feature opens `features/.mosaic.db` itself.
  FeatureRegistry* registry = nullptr;
  /// Do not touch the SQLite registry at all.
  bool no_registry = false;
  /// Called after each entry of the apply phase (from the calling thread).
  std::function<void(const RunProgress&)> on_progress;
  /// Print the reference's log lines to stderr ("[storage] Processed i/n sequences", ...).
  bool log = true;
};

/// \brief Wall-clock seconds per phase and row counts of the last run (for --json output).
struct RunTiming {
  double read_seconds = 0;
  double fit_seconds = 0;
  double apply_seconds = 0;
  double write_seconds = 0;
  double total_seconds = 0;
  int64_t rows_in = 0;
  int64_t rows_out = 0;
  std::size_t entries_written = 0;
  std::size_t entries_skipped_existing = 0;
};

/// \brief An entry whose apply failed (DECISIONS P6).
struct EntryFailure {
  std::string group;
  std::string sequence;
  std::string message;
};

/// \brief What run_feature returns.
struct RunResult {
  Result result;  ///< storage name and run id
  RunTiming timing;
  std::vector<EntryFailure> failures;
  bool finished = false;  ///< false when an entry failed (the run is not marked finished)
};

/// \brief `resolve_frame_range(fps, sf, ef, st, et)` of §4.4 (throws InputError with the
/// reference's messages).
std::pair<std::optional<int64_t>, std::optional<int64_t>> resolve_frame_range(
    std::optional<double> fps, std::optional<int64_t> start_frame, std::optional<int64_t> end_frame,
    std::optional<double> start_time, std::optional<double> end_time);

/// \brief The hashed payload of a run: {_params, _inputs, _frame_range[, _scope_entries]}.
Json run_payload(const Feature& feature, std::pair<std::optional<int64_t>, std::optional<int64_t>> frame_range,
                 const std::vector<std::pair<std::string, std::string>>* scope_entries);

/// \brief Storage name of a feature with its inputs: `name[__from__suffix]`.
std::string storage_name_of(const Feature& feature);

/// \brief Resolve unpinned upstream inputs and Result/Artifact params to the latest finished run
/// (DECISIONS P3), in place. Throws when an upstream has no runs.
void pin_upstream_runs(const Dataset& dataset, Feature& feature);

/// \brief Run a feature (pipeline.md §4.1, with DECISIONS P1-P12).
RunResult run_feature(const Dataset& dataset, Feature& feature, const RunOptions& options = {});

/// \brief The run id `run_feature` would use, without running (same scope and range rules).
std::string predict_run_id(const Dataset& dataset, Feature& feature, const RunOptions& options = {},
                           std::string* payload_string = nullptr);

}  // namespace mosaic
