// Pipeline commands: mosaic run | status | load | dag | clean PIPELINE.yaml
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "cli/cli_registry.hpp"
#include "cli/cli_util.hpp"
#include "cli/progress.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/pipeline.hpp"

namespace mosaic::cli {
namespace {

// The pipeline file and its dataset (--dataset wins over the file's `dataset:`).
struct Loaded {
  PipelineFile file;
  Dataset dataset;
};

Loaded load(const std::string& file, const std::string& dataset_flag) {
  PipelineFile pf = load_pipeline_file(file);
  std::filesystem::path ds_path;
  if (!dataset_flag.empty()) ds_path = dataset_flag;
  else if (pf.dataset) ds_path = *pf.dataset;
  else throw InputError(fmt::format("{}: no dataset: add 'dataset: <folder>' to the file or pass --dataset", file));
  return Loaded{std::move(pf), Dataset::open(ds_path)};
}

Json results_json(const StepResults& results) {
  Json j = Json::object();
  for (const auto& [name, r] : results) j[name] = r.to_json();
  return j;
}

class RunCommand final : public Command {
 public:
  explicit RunCommand(CLI::App& app) {
    sub_ = app.add_subcommand("run", "Run a pipeline file: every step that is not cached");
    sub_->add_option("pipeline", file_, "Pipeline file (YAML)")->required();
    sub_->add_option("--dataset", dataset_, "Dataset folder (overrides the file's 'dataset')");
    sub_->add_option("--force-from", force_from_, "Recompute this step and everything downstream of it");
    sub_->add_option("-j,--workers", workers_, "Parallel workers for every step (overrides the file)");
    sub_->add_flag("--json", json_, "Print the results as JSON");
    sub_->add_flag("--quiet", quiet_, "No progress or log lines");
  }
  int run() override {
    Loaded l = load(file_, dataset_);
    Pipeline pipeline = l.file.pipeline;
    if (workers_ > 0) {
      // -j sets the default; a step's own `run:` options still win.
      StepRunOptions d = pipeline.defaults();
      d.parallel_workers = workers_;
      pipeline.set_defaults(d);
    }
    PipelineHooks hooks;
    std::unique_ptr<ProgressReporter> bar;
    bool terminal = !quiet_ && stderr_is_terminal();
    hooks.log = !quiet_ && !json_;
    if (terminal) {
      hooks.on_step_start = [&](const StepStatus& st) {
        if (!st.is_callback && !st.cached) bar = std::make_unique<ProgressReporter>(st.step, false);
      };
      hooks.on_progress = [&](const StepStatus&, const RunProgress& p) {
        if (bar) bar->update(p.done, p.total, p.rows_out);
      };
      hooks.on_step_end = [&](const StepStatus&, const RunResult*) {
        if (bar) bar->finish();
        bar.reset();
      };
    }
    std::optional<std::string> force;
    if (!force_from_.empty()) force = force_from_;
    StepResults results = pipeline.run(l.dataset, force, hooks);
    if (json_) print_json(results_json(results));
    return 0;
  }

 private:
  std::string file_, dataset_, force_from_;
  int workers_ = 0;
  bool json_ = false, quiet_ = false;
};

class StatusCommand final : public Command {
 public:
  explicit StatusCommand(CLI::App& app) {
    sub_ = app.add_subcommand("status", "Show each step's expected run id and whether it is cached");
    sub_->add_option("pipeline", file_, "Pipeline file (YAML)")->required();
    sub_->add_option("--dataset", dataset_, "Dataset folder (overrides the file's 'dataset')");
    sub_->add_flag("--json", json_, "Print JSON");
  }
  int run() override {
    Loaded l = load(file_, dataset_);
    auto statuses = l.file.pipeline.status(l.dataset);
    if (json_) {
      Json arr = Json::array();
      for (const auto& s : statuses) {
        Json j;
        j["step"] = s.step;
        j["feature"] = s.feature;
        j["storage"] = s.is_callback ? Json() : Json(s.storage);
        j["run_id"] = s.expected_run_id.empty() ? Json() : Json(s.expected_run_id);
        j["n_seq"] = s.n_seq;
        j["scope_entries"] = s.scope_entries;
        j["runs"] = s.runs;
        j["cached"] = s.is_callback ? Json() : Json(s.cached);
        j["stale"] = s.stale;
        j["modified"] = s.modified.empty() ? Json() : Json(s.modified);
        if (!s.error.empty()) j["error"] = s.error;
        arr.push_back(j);
      }
      print_json(arr);
      return 0;
    }
    std::vector<std::vector<std::string>> rows;
    bool any_error = false;
    for (const auto& s : statuses) {
      if (s.is_callback) {
        rows.push_back({s.step, "(callback)", "-", "-", "-", s.stale ? "stale" : "-", "-"});
        continue;
      }
      std::string cached = s.cached ? "True" : ((s.stale && s.run_dir_exists) ? "stale" : "False");
      rows.push_back({s.step, s.feature, s.expected_run_id.empty() ? "\u2014" : s.expected_run_id,
                      fmt::format("{}/{}", s.n_seq, s.scope_entries), std::to_string(s.runs), cached,
                      s.modified.empty() ? "None" : s.modified});
      any_error = any_error || !s.error.empty();
    }
    print_table({"step", "feature", "run_id", "n_seq", "runs", "cached", "modified"}, rows);
    if (any_error) {
      std::printf("\n");
      for (const auto& s : statuses)
        if (!s.error.empty()) std::printf("  %s: %s\n", s.step.c_str(), s.error.c_str());
    }
    return 0;
  }

 private:
  std::string file_, dataset_;
  bool json_ = false;
};

class LoadCommand final : public Command {
 public:
  explicit LoadCommand(CLI::App& app) {
    sub_ = app.add_subcommand("load", "Show the results of the cached steps");
    sub_->add_option("pipeline", file_, "Pipeline file (YAML)")->required();
    sub_->add_option("--dataset", dataset_, "Dataset folder (overrides the file's 'dataset')");
    sub_->add_flag("--json", json_, "Print JSON");
  }
  int run() override {
    Loaded l = load(file_, dataset_);
    if (json_) {
      // The summary lines go to stdout in the reference; keep stdout pure JSON here.
      auto statuses = l.file.pipeline.status(l.dataset);
      Json j = Json::object();
      for (const auto& s : statuses)
        if (!s.is_callback && s.cached) j[s.step] = Result{s.storage, s.expected_run_id}.to_json();
      print_json(j);
      return 0;
    }
    StepResults r = l.file.pipeline.load(l.dataset);
    for (const auto& [name, res] : r)
      std::printf("  %s: Result(feature='%s', run_id='%s')\n", name.c_str(), res.feature.c_str(), res.run_id->c_str());
    return 0;
  }

 private:
  std::string file_, dataset_;
  bool json_ = false;
};

class DagCommand final : public Command {
 public:
  explicit DagCommand(CLI::App& app) {
    sub_ = app.add_subcommand("dag", "Show the steps and their dependencies");
    sub_->add_option("pipeline", file_, "Pipeline file (YAML)")->required();
    sub_->add_option("--format", format_, "text, dot or json")->check(CLI::IsMember({"text", "dot", "json"}))->capture_default_str();
  }
  int run() override {
    PipelineFile pf = load_pipeline_file(file_);
    auto dag = pf.pipeline.dag();
    if (format_ == "json") {
      Json j = Json::object();
      for (const auto& [name, up] : dag) j[name] = up;
      print_json(j);
    } else if (format_ == "dot") {
      std::printf("digraph pipeline {\n  rankdir=LR;\n  node [shape=box];\n");
      for (const auto& [name, up] : dag) {
        std::printf("  \"%s\";\n", name.c_str());
        for (const auto& u : up) std::printf("  \"%s\" -> \"%s\";\n", u.c_str(), name.c_str());
      }
      std::printf("}\n");
    } else {
      for (const auto& [name, up] : dag)
        std::printf("%s <- %s\n", name.c_str(), up.empty() ? "tracks" : join_names(up).c_str());
    }
    return 0;
  }

 private:
  std::string file_, format_ = "text";
};

class CleanCommand final : public Command {
 public:
  explicit CleanCommand(CLI::App& app) {
    sub_ = app.add_subcommand("clean", "Remove runs no step of the pipeline expects (dry run unless --yes)");
    sub_->add_option("pipeline", file_, "Pipeline file (YAML)")->required();
    sub_->add_option("--dataset", dataset_, "Dataset folder (overrides the file's 'dataset')");
    sub_->add_flag("--yes", yes_, "Really delete");
    sub_->add_flag("--json", json_, "Print JSON");
  }
  int run() override {
    Loaded l = load(file_, dataset_);
    auto rows = l.file.pipeline.clean(l.dataset, !yes_);
    int n = 0;
    double mb = 0;
    for (const auto& r : rows)
      if (r.status != "current") {
        ++n;
        mb += r.size_mb;
      }
    if (json_) {
      Json arr = Json::array();
      for (const auto& r : rows)
        arr.push_back(Json{{"step", r.step}, {"feature", r.feature}, {"run_id", r.run_id}, {"status", r.status},
                           {"n_files", r.n_files}, {"size_mb", r.size_mb}, {"modified", r.modified}});
      print_json(arr);
      return 0;
    }
    if (rows.empty()) {
      std::printf("Pipeline.clean: no feature runs found on disk.\n");
      return 0;
    }
    std::vector<std::vector<std::string>> table;
    for (const auto& r : rows)
      table.push_back({r.step, r.feature, r.run_id, r.status, std::to_string(r.n_files), fmt::format("{:.1f}", r.size_mb),
                       r.modified.empty() ? "None" : r.modified});
    print_table({"step", "feature", "run_id", "status", "n_files", "size_mb", "modified"}, table);
    if (n == 0) std::printf("Pipeline.clean: no orphaned runs found \u2014 everything is current.\n");
    else {
      std::printf("Pipeline.clean: %s %d orphaned run(s) (%.1f MB).\n", yes_ ? "Removed" : "Would remove", n, mb);
      if (!yes_) std::printf("  Pass --yes to delete.\n");
    }
    return 0;
  }

 private:
  std::string file_, dataset_;
  bool yes_ = false, json_ = false;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(RunCommand);
MOSAIC_REGISTER_COMMAND(StatusCommand);
MOSAIC_REGISTER_COMMAND(LoadCommand);
MOSAIC_REGISTER_COMMAND(DagCommand);
MOSAIC_REGISTER_COMMAND(CleanCommand);
}  // namespace mosaic::cli
