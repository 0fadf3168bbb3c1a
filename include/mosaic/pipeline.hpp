// pipeline.hpp: named feature and callback steps run in order, with caching and staleness
// (pipeline.md §7, DECISIONS P2, P3, P5).
//
//   Pipeline p;                                        // or Pipeline(defaults)
//   p.add(FeatureStep{"smooth", "trajectory-smooth", Json::object()});
//   p.add(FeatureStep{"speed", "speed-angvel", {{"fps", 30.0}}, {"smooth"}});
//   p.add(CallbackStep{"report", [](const Dataset&, const StepResults& r) { ... }, {"speed"}});
//   auto status = p.status(ds);        // expected run ids, cached / stale
//   auto results = p.run(ds);          // runs what is not cached
//   p.run(ds, "speed");                // force_from: recompute speed and everything downstream
//   auto report = p.clean(ds, /*dry_run=*/true);
//
// A step is cached when its expected run is finished and every entry of its scope has an output
// (read from index.csv, not by walking folders, so a cached rerun of 1,000 sequences is fast).
// Upstream run ids are always concrete (DECISIONS P3): a step's expected run id is computed from
// its upstream steps' expected run ids, cached or not.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mosaic/dataset.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/json.hpp"
#include "mosaic/run_feature.hpp"

namespace mosaic {

/// \brief Run options of a step, with the reference's keyword names (run_feature kwargs).
struct StepRunOptions {
  std::optional<std::set<std::string>> groups, sequences;
  std::optional<bool> overwrite;
  std::optional<int> parallel_workers;
  std::optional<std::string> parallel_mode;
  std::optional<int64_t> overlap_frames;
  std::optional<int64_t> filter_start_frame, filter_end_frame;
  std::optional<double> filter_start_time, filter_end_time;

  /// Values of `over` replace ours (the reference's {**defaults, **step.run_kwargs}).
  StepRunOptions merged(const StepRunOptions& over) const;
  /// Parse {"parallel_workers": 2, ...}; unknown keys -> InputError naming `where`.
  static StepRunOptions from_json(const Json& j, const std::string& where);
  Json to_json() const;
  void apply_to(RunOptions& o) const;
};

struct FeatureStep {
  std::string name;
  std::string feature;  ///< registered feature name
  Json params = Json::object();
  /// Upstream step names whose results are this step's inputs ("tracks" = the tracks);
  /// empty = the feature's default inputs (tracks for tracks features).
  std::vector<std::string> input_names;
  StepRunOptions run_options;
};

/// \brief Step names referenced by a params object: a top-level value {"step": "<name>", ...}
/// stands for that step's result (feature + run id), e.g.
/// `templates: {step: templates, pattern: templates.parquet}`.
std::vector<std::string> param_step_refs(const Json& params);

/// Results of the steps so far, by step name.
using StepResults = std::map<std::string, Result>;

struct CallbackStep {
  std::string name;
  std::function<void(const Dataset&, const StepResults&)> fn;
  std::vector<std::string> depends_on;
  /// For display (`status`, `dag`): the command a pipeline file runs, if any.
  std::string description;
};

/// \brief One row of `status` / the cache resolution of a step.
struct StepStatus {
  std::string step;
  bool is_callback = false;
  std::string feature;        ///< feature name ("(callback)" for callbacks)
  std::string storage;        ///< storage name (features only)
  std::string expected_run_id;
  bool cached = false;
  bool stale = false;         ///< an upstream step is not cached (or forced)
  bool run_dir_exists = false;
  int64_t n_seq = 0;          ///< scope entries with an output in the expected run
  int64_t scope_entries = 0;  ///< entries of the current scope
  int64_t runs = 0;           ///< distinct run ids in the storage's index
  std::string modified;       ///< newest output in the expected run, "%Y-%m-%d %H:%M" UTC
  std::string error;          ///< why the step could not be resolved
};

/// \brief One run considered by `clean`.
struct CleanRow {
  std::string step, feature, run_id, status;  ///< status: current | would remove | removed | kept (other step)
  int64_t n_files = 0;
  double size_mb = 0;
  std::string modified;
};

/// \brief Hooks for progress display while `run` executes.
struct PipelineHooks {
  std::function<void(const StepStatus&)> on_step_start;
  std::function<void(const StepStatus&, const RunProgress&)> on_progress;
  std::function<void(const StepStatus&, const RunResult*)> on_step_end;  ///< null result for callbacks/cached
  bool log = true;  ///< print the reference's lines ("  [name] Class -> run_id (cached)")
};

class Pipeline {
 public:
  explicit Pipeline(StepRunOptions defaults = {}) : defaults_(std::move(defaults)) {}

  /// \brief Add a step. Duplicate names and unknown upstream names are refused (InputError with
  /// the list of available steps), so steps are always in topological order.
  Pipeline& add(FeatureStep step);
  Pipeline& add(CallbackStep step);

  /// \brief {step -> upstream names}, in insertion order.
  std::vector<std::pair<std::string, std::vector<std::string>>> dag() const;
  std::vector<std::string> step_names() const;

  /// \brief Expected run ids, cached and stale flags, without running anything.
  std::vector<StepStatus> status(const Dataset& dataset) const;
  /// \brief Results of the cached feature steps.
  StepResults load(const Dataset& dataset) const;
  /// \brief Run every step that is not cached (callbacks always run). `force_from` recomputes
  /// that step and everything downstream of it (overwrite, no reuse of their outputs).
  StepResults run(const Dataset& dataset, const std::optional<std::string>& force_from = std::nullopt,
                  const PipelineHooks& hooks = {}) const;
  /// \brief Delete runs of the pipeline's storages that no step currently expects (DECISIONS
  /// P5); `dry_run` only reports.
  std::vector<CleanRow> clean(const Dataset& dataset, bool dry_run = true) const;

  const StepRunOptions& defaults() const noexcept { return defaults_; }
  void set_defaults(StepRunOptions defaults) { defaults_ = std::move(defaults); }

 private:
  struct Step {
    bool is_callback = false;
    FeatureStep feature;
    CallbackStep callback;
    const std::string& name() const { return is_callback ? callback.name : feature.name; }
    std::vector<std::string> refs;  ///< steps referenced from params
    std::vector<std::string> upstream() const {
      if (is_callback) return callback.depends_on;
      std::vector<std::string> u = feature.input_names;
      for (const auto& r : refs)
        if (std::find(u.begin(), u.end(), r) == u.end()) u.push_back(r);
      return u;
    }
  };
  void check_new_step(const std::string& name, const std::vector<std::string>& upstream) const;
  std::set<std::string> downstream_of(const std::string& name) const;
  std::vector<StepStatus> resolve(const Dataset& dataset, const std::set<std::string>& forced) const;
  std::unique_ptr<Feature> build_feature(const FeatureStep& step, const std::map<std::string, Result>& upstream) const;

  StepRunOptions defaults_;
  std::vector<Step> steps_;
};

/// \brief A pipeline file (YAML) as the CLI reads it: `dataset`, `defaults`, `steps`.
struct PipelineFile {
  std::filesystem::path path;
  std::optional<std::filesystem::path> dataset;  ///< resolved against the file's folder
  Pipeline pipeline;
};

/// \brief Parse a pipeline file. Callback steps (`run: [command, args...]`) run the command with
/// the dataset folder and a JSON file of the results so far as two extra arguments. Errors name
/// the file, the line and the offending key.
PipelineFile load_pipeline_file(const std::filesystem::path& path);

}  // namespace mosaic
