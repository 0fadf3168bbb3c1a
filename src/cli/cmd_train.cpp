// mosaic train DIR MODEL [--config FILE|JSON] [--job-id ID] [--overwrite] [--json] [--quiet]
// mosaic models DIR [MODEL] [--json]: the runs of trained models (models/<model>/index.csv).
// mosaic progress DIR JOB_ID [--follow] [--interval S] [--json]: a training job's progress rows.
//
// `train` records its progress in the registry (features/.mosaic.db, table training_progress)
// under the job id (default "<model>/<run_id>"), so `mosaic progress` shows it from another
// terminal while it trains. A job starts by deleting the rows of an earlier run under the same id
// and writing the phase row "start: model=... run_id=..."; it ends with the phase row
// "done: run_id=..." or "failed: <message>", which is where `progress --follow` stops. On a terminal, train also
// draws a progress bar per class and boosting round (epoch).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <thread>

#include "cli/cli_registry.hpp"
#include "cli/cli_util.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/registry.hpp"
#include "mosaic/training.hpp"

namespace fs = std::filesystem;

namespace mosaic::cli {
namespace {

/// One line per class, redrawn per epoch:
///   [behavior-xgb] attack (1/4) ████████░░░░░░  40/100  loss=0.1234  ETA 3s
class TerminalTrainProgress final : public ProgressCallback {
 public:
  explicit TerminalTrainProgress(std::string label) : label_(std::move(label)) {}
  ~TerminalTrainProgress() override { finish(); }
  TerminalTrainProgress(const TerminalTrainProgress&) = delete;
  TerminalTrainProgress& operator=(const TerminalTrainProgress&) = delete;

  void on_phase(const std::string& phase, const std::string& message) override {
    finish();
    std::fprintf(stderr, "[%s] %s: %s\n", label_.c_str(), phase.c_str(), message.c_str());
  }
  void on_class_start(int64_t class_idx, int64_t total_classes, const std::string& class_name) override {
    finish();
    class_ = fmt::format("{} ({}/{})", class_name, class_idx + 1, total_classes);
    start_ = std::chrono::steady_clock::now();
    last_draw_ = {};
    std::fprintf(stderr, "[%s] %s", label_.c_str(), class_.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
  void on_epoch_end(int64_t epoch, int64_t total_epochs, const Json& metrics) override {
    const auto now = std::chrono::steady_clock::now();
    const int64_t done = epoch + 1;
    // Redraw at most 10 times a second, and always at the last epoch.
    if (done < total_epochs && now - last_draw_ < std::chrono::milliseconds(100)) return;
    if (!drawn_) start_ = now;
    last_draw_ = now;
    const int width = 24;
    const int filled = total_epochs > 0 ? static_cast<int>(width * std::min(done, total_epochs) / total_epochs) : width;
    std::string bar;
    for (int i = 0; i < width; ++i) bar += i < filled ? "\u2588" : "\u2591";
    std::string shown;
    int n = 0;
    if (metrics.is_object())
      for (const auto& [k, v] : metrics.items()) {
        if (n++ == 3) break;
        shown += "  " + k + "=" + (v.is_number_float() ? fmt::format("{:.4g}", v.get<double>()) : python_json_dumps(v));
      }
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double eta =
        done > 0 && total_epochs > done ? secs / static_cast<double>(done) * static_cast<double>(total_epochs - done) : 0;
    std::fprintf(stderr, "\r\033[K[%s] %s %s %lld/%lld%s  ETA %.0fs", label_.c_str(),
                 class_.empty() ? "" : class_.c_str(), bar.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total_epochs), shown.c_str(), eta);
    std::fflush(stderr);
    drawn_ = true;
  }
  void finish() {
    if (drawn_) std::fputs("\n", stderr);
    drawn_ = false;
  }

 private:
  std::string label_;
  std::string class_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_{};
  std::chrono::steady_clock::time_point last_draw_{};
};

fs::path registry_db(const Dataset& ds) { return ds.root("features") / ".mosaic.db"; }

class TrainCommand final : public Command {
 public:
  explicit TrainCommand(CLI::App& app) {
    sub_ = app.add_subcommand("train", "Train a model (runs are keyed by model version and config hash)");
    sub_->add_option("dir", dir_, "Dataset folder or manifest")->required();
    sub_->add_option("model", model_, "Model name, e.g. behavior-xgb")->required();
    sub_->add_option("--config", config_, "Model config: a JSON file, or inline JSON starting with '{'");
    sub_->add_option("--job-id", job_id_, "Progress job id (default <model>/<run_id>); see 'mosaic progress'");
    sub_->add_flag("--overwrite", overwrite_, "Accepted for compatibility: every call retrains");
    sub_->add_flag("--json", json_, "Print the result as JSON (run id, folder, metrics, seconds)");
    sub_->add_flag("--quiet", quiet_, "No progress bar or log lines");
  }

  int run() override {
    const auto t0 = std::chrono::steady_clock::now();
    Dataset ds = Dataset::open(dir_);
    std::unique_ptr<Model> model = make_model(model_);
    // Load (and check) the config before anything is written; the library hashes the same object.
    const Json config = (config_.empty() ? ModelConfig() : ModelConfig::from_cli(config_)).load();
    const std::string predicted = model_run_id(*model, config);
    const std::string job = job_id_.empty() ? model->info().name + "/" + predicted : job_id_;
    { FeatureRegistry schema = FeatureRegistry::open(ds.root("features")); }  // the progress table
    SqliteProgressCallback sql(registry_db(ds), job);
    sql.clear_job();  // a job id names one run: rows of an earlier run under it would mislead
    sql.on_phase("start", fmt::format("model={} run_id={}", model->info().name, predicted));
    const bool bar = !quiet_ && ::isatty(STDERR_FILENO) == 1;
    TerminalTrainProgress terminal(model->info().name);
    CompositeProgressCallback progress({&sql});
    if (bar) progress.add(&terminal);
    if (!quiet_) std::fprintf(stderr, "[model:%s] job %s (watch: mosaic progress %s '%s' --follow)\n",
                              model->info().name.c_str(), job.c_str(), dir_.c_str(), job.c_str());
    TrainOptions opt;
    opt.overwrite = overwrite_;
    opt.progress = &progress;
    // The library's "completed" line would land on the bar's line: print it here after the bar.
    opt.log = !quiet_ && !bar;
    std::string run_id;
    try {
      run_id = train_model(ds, *model, ModelConfig::object(config), opt);
    } catch (const std::exception& e) {
      terminal.finish();
      try {
        sql.on_phase("failed", e.what());
      } catch (const std::exception&) {  // the training error is the one to report
      }
      throw;
    }
    terminal.finish();
    sql.on_phase("done", "run_id=" + run_id);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const fs::path run_root = ds.root("models") / model->info().name / run_id;
    if (bar)
      std::fprintf(stderr, "[model:%s] completed run_id=%s -> %s\n", model->info().name.c_str(), run_id.c_str(),
                   fs::absolute(run_root).string().c_str());
    if (json_) {
      Json out;
      out["model"] = model->info().name;
      out["run_id"] = run_id;
      out["run_root"] = fs::absolute(run_root).string();
      out["job_id"] = job;
      out["seconds"] = seconds;
      out["metrics"] = fs::exists(run_root / "metrics.json")
                           ? python_json_loads(read_file_text(run_root / "metrics.json"))
                           : Json();
      print_json(out);
    } else {
      std::printf("%s\n", run_id.c_str());
    }
    return 0;
  }

 private:
  std::string dir_, model_, config_, job_id_;
  bool overwrite_ = false, json_ = false, quiet_ = false;
};

class ModelsCommand final : public Command {
 public:
  explicit ModelsCommand(CLI::App& app) {
    sub_ = app.add_subcommand("models", "List trained model runs (models/<model>/index.csv)");
    sub_->add_option("dir", dir_, "Dataset folder or manifest")->required();
    sub_->add_option("model", model_, "Only this model");
    sub_->add_flag("--json", json_, "Print the index rows as JSON");
  }

  int run() override {
    Dataset ds = Dataset::open(dir_);
    if (!model_.empty() && !fs::exists(ds.root("models") / model_ / "index.csv")) {
      std::vector<std::string> names;
      std::error_code ec;
      if (fs::is_directory(ds.root("models"), ec))
        for (const auto& d : fs::directory_iterator(ds.root("models")))
          if (d.is_directory() && fs::exists(d.path() / "index.csv")) names.push_back(d.path().filename().string());
      for (const auto& [name, f] : model_catalog()) names.push_back(name);
      std::sort(names.begin(), names.end());
      names.erase(std::unique(names.begin(), names.end()), names.end());
      std::string hint = did_you_mean(model_, names);
      throw InputError(fmt::format("no runs of model '{}' in {}{}", model_, ds.root("models").string(),
                                   hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
    }
    Json rows = list_model_runs(ds, model_);
    if (json_) {
      print_json(rows);
      return 0;
    }
    if (rows.empty()) {
      std::printf("no model runs in %s\n", ds.root("models").string().c_str());
      return 0;
    }
    std::vector<std::vector<std::string>> table;
    auto cell = [](const Json& row, const char* key) {
      return row.contains(key) && row[key].is_string() ? row[key].get<std::string>() : std::string();
    };
    for (const auto& row : rows) {
      std::string notes = cell(row, "notes");
      if (notes.size() > 60) notes = notes.substr(0, 57) + "...";
      table.push_back({cell(row, "model"), cell(row, "run_id"), cell(row, "status"), cell(row, "started_at"),
                       cell(row, "finished_at"), notes});
    }
    print_table({"model", "run_id", "status", "started_at", "finished_at", "notes"}, table);
    return 0;
  }

 private:
  std::string dir_, model_;
  bool json_ = false;
};

Json row_json(const ProgressRow& r) {
  return Json{{"step_type", r.step_type}, {"step_index", r.step_index}, {"step_total", r.step_total},
              {"message", r.message},     {"timestamp", r.timestamp},   {"metrics", r.metrics}};
}

std::string row_line(const ProgressRow& r) {
  std::string step = r.step_type == "phase" ? "" : fmt::format(" {}/{}", r.step_index + 1, r.step_total);
  std::string metrics = r.metrics.is_object() && !r.metrics.empty() ? " " + python_json_dumps(r.metrics) : "";
  std::string message = r.message.empty() ? "" : " " + r.message;
  return fmt::format("{} {}{}{}{}", r.timestamp, r.step_type, step, message, metrics);
}

/// The job has ended when its phase row says so (written by `mosaic train`).
std::optional<bool> job_outcome(const std::vector<ProgressRow>& rows) {
  for (const auto& r : rows)
    if (r.step_type == "phase") {
      if (r.message.rfind("done:", 0) == 0) return true;
      if (r.message.rfind("failed:", 0) == 0) return false;
    }
  return std::nullopt;
}

class ProgressCommand final : public Command {
 public:
  explicit ProgressCommand(CLI::App& app) {
    sub_ = app.add_subcommand("progress", "Show a training job's progress (from features/.mosaic.db)");
    sub_->add_option("dir", dir_, "Dataset folder or manifest")->required();
    sub_->add_option("job_id", job_id_, "Job id, as printed by 'mosaic train'")->required();
    sub_->add_flag("--follow", follow_, "Print new rows as they come until the job is done or failed");
    sub_->add_option("--interval", interval_, "Seconds between polls with --follow")->capture_default_str();
    sub_->add_flag("--json", json_, "JSON: a list of rows (one object per line with --follow)");
  }

  int run() override {
    Dataset ds = Dataset::open(dir_);
    const fs::path db = registry_db(ds);
    if (!follow_) {
      if (!fs::exists(db)) throw IoError(fmt::format("{}: no registry (nothing has been trained or run here)", db.string()));
      std::vector<ProgressRow> rows = read_progress(db, job_id_);
      if (json_) {
        Json arr = Json::array();
        for (const auto& r : rows) arr.push_back(row_json(r));
        print_json(arr);
        return 0;
      }
      if (rows.empty()) {
        std::fprintf(stderr, "no progress rows for job '%s' in %s\n", job_id_.c_str(), db.string().c_str());
        return 0;
      }
      std::vector<std::vector<std::string>> table;
      for (const auto& r : rows)
        table.push_back({r.step_type, r.step_type == "phase" ? "" : fmt::format("{}/{}", r.step_index + 1, r.step_total),
                         r.message, r.metrics.empty() ? "" : python_json_dumps(r.metrics), r.timestamp});
      print_table({"step_type", "step", "message", "metrics", "timestamp"}, table);
      return 0;
    }
    // Follow: poll with short-lived connections (WAL: never blocks the training process).
    std::map<std::pair<std::string, int64_t>, std::string> seen;  // (type, index) -> timestamp
    const auto pause = std::chrono::milliseconds(static_cast<int64_t>(std::max(0.01, interval_) * 1000));
    // The job may not have started: a missing database, or one whose schema is being created,
    // reads as no rows for a while (10 s of failures in a row end the wait with the error).
    auto failing_since = std::optional<std::chrono::steady_clock::time_point>();
    while (true) {
      std::vector<ProgressRow> rows;
      try {
        if (fs::exists(db)) rows = read_progress(db, job_id_);
        failing_since.reset();
      } catch (const IoError&) {
        const auto now = std::chrono::steady_clock::now();
        if (!failing_since) failing_since = now;
        if (now - *failing_since > std::chrono::seconds(10)) throw;
      }
      for (const auto& r : rows) {
        auto key = std::make_pair(r.step_type, r.step_index);
        auto it = seen.find(key);
        if (it != seen.end() && it->second == r.timestamp) continue;
        seen[key] = r.timestamp;
        if (json_) std::printf("%s\n", python_json_dumps(row_json(r)).c_str());
        else std::printf("%s\n", row_line(r).c_str());
      }
      std::fflush(stdout);
      if (auto outcome = job_outcome(rows)) return *outcome ? 0 : 1;
      std::this_thread::sleep_for(pause);
    }
  }

 private:
  std::string dir_, job_id_;
  bool follow_ = false, json_ = false;
  double interval_ = 0.5;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(TrainCommand);
MOSAIC_REGISTER_COMMAND(ModelsCommand);
MOSAIC_REGISTER_COMMAND(ProgressCommand);
}  // namespace mosaic::cli
