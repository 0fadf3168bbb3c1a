// training.hpp: the Model protocol, the catalog of models by name, progress callbacks and
// train_model (pipeline.md §8).
//
// A model trains on a dataset and writes its files (weights, metadata) into its run folder
// `models/<model>/<run_id>/`, where `run_id = <model version>-<hash_params(config)>` (§8.1): the
// dataset is not part of the hash, and every call retrains. `train_model` writes config.json and
// metrics.json and appends one row per call to `models/<model>/index.csv` (failed runs too, with
// their message; the error is then re-raised). Progress goes through a ProgressCallback (§8.2):
// the SQLite one writes the registry's `training_progress` table, which `mosaic progress` reads
// from another process while the job runs.
//
//   SqliteProgressCallback sql(ds.root("features") / ".mosaic.db", "job-1");
//   std::string run_id = train_model(ds, "behavior-xgb", ModelConfig::object({{"label_kind", "behavior"}}),
//                                    {.progress = &sql});
//
// Adding a model is one file under src/models/:
//
//   namespace mosaic::models {
//   namespace {
//   const ModelInfo kInfo{.name = "behavior-xgb", .version = "0.1", .summary = "one-vs-rest XGBoost ..."};
//   class BehaviorXgb final : public Model {
//    public:
//     static const ModelInfo& static_info() { return kInfo; }
//     const ModelInfo& info() const override { return kInfo; }
//     void configure(const Json& config) override { check_config_keys(config, {"feature", ...}, kInfo.name); ... }
//     Json train(const TrainContext& ctx, ProgressCallback& progress) override;
//   };
//   }  // namespace
//   MOSAIC_REGISTER_MODEL(BehaviorXgb);
//   }  // namespace mosaic::models
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mosaic/json.hpp"
#include "mosaic/registry.hpp"

struct sqlite3;

namespace mosaic {

class Dataset;

// ------------------------------------------------------------------------------------------------
// Progress callbacks (§8.2). Indices are zero-based.

/// \brief The progress protocol: every method is a no-op by default.
///
/// Called from the training thread only. `metrics` of on_epoch_end is a JSON object of
/// name -> number, in the order the model reports them.
class ProgressCallback {
 public:
  virtual ~ProgressCallback() = default;
  virtual void on_epoch_end(int64_t epoch, int64_t total_epochs, const Json& metrics) {}
  virtual void on_class_start(int64_t class_idx, int64_t total_classes, const std::string& class_name) {}
  virtual void on_phase(const std::string& phase, const std::string& message) {}
};

/// \brief Does nothing (the default callback of train_model).
class NullProgressCallback final : public ProgressCallback {};

/// \brief Forwards each call to every backend, in order. Backends are not owned.
class CompositeProgressCallback final : public ProgressCallback {
 public:
  CompositeProgressCallback() = default;
  explicit CompositeProgressCallback(std::vector<ProgressCallback*> backends) : backends_(std::move(backends)) {}
  void add(ProgressCallback* backend) { backends_.push_back(backend); }
  void on_epoch_end(int64_t epoch, int64_t total_epochs, const Json& metrics) override;
  void on_class_start(int64_t class_idx, int64_t total_classes, const std::string& class_name) override;
  void on_phase(const std::string& phase, const std::string& message) override;

 private:
  std::vector<ProgressCallback*> backends_;
};

/// \brief Appends one row per epoch to a CSV file: header `epoch,total_epochs,<metric keys in
/// first-call order>` when the file is missing or empty; later unknown keys are ignored, missing
/// keys are empty cells; flushed after every row. Class and phase events are ignored.
class CsvProgressCallback final : public ProgressCallback {
 public:
  explicit CsvProgressCallback(std::filesystem::path path);
  ~CsvProgressCallback() override;
  CsvProgressCallback(const CsvProgressCallback&) = delete;
  CsvProgressCallback& operator=(const CsvProgressCallback&) = delete;
  void on_epoch_end(int64_t epoch, int64_t total_epochs, const Json& metrics) override;

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  std::vector<std::string> keys_;
};

/// \brief Writes each event as one `INSERT OR REPLACE` (committed at once) into the
/// `training_progress` table of a registry database, with its own WAL connection
/// (synchronous=NORMAL: no fsync per row) and a 10 s busy timeout. The table must exist (FeatureRegistry::open creates it); this class does not create
/// it. Rows (§8.2): epoch -> ("epoch", epoch, total, json.dumps(metrics), ""); class -> ("class",
/// idx, total, "{}", class_name); phase -> ("phase", 0, 0, "{}", "<phase>: <message>").
/// Failures throw IoError naming the database.
class SqliteProgressCallback final : public ProgressCallback {
 public:
  SqliteProgressCallback(std::filesystem::path db_path, std::string job_id);
  ~SqliteProgressCallback() override;
  SqliteProgressCallback(const SqliteProgressCallback&) = delete;
  SqliteProgressCallback& operator=(const SqliteProgressCallback&) = delete;

  const std::string& job_id() const noexcept { return job_id_; }
  void on_epoch_end(int64_t epoch, int64_t total_epochs, const Json& metrics) override;
  void on_class_start(int64_t class_idx, int64_t total_classes, const std::string& class_name) override;
  void on_phase(const std::string& phase, const std::string& message) override;
  /// The job's rows, as read_progress (registry.hpp) returns them.
  std::vector<ProgressRow> get_progress() const;
  /// Delete the job's rows (not in the reference: `mosaic train` restarts a job id with it, so
  /// that rows of an earlier run under the same id do not read as this run's progress).
  void clear_job();

 private:
  void write(const std::string& step_type, int64_t index, int64_t total, const std::string& metric_json,
             const std::string& message);
  std::filesystem::path db_path_;
  std::string job_id_;
  sqlite3* db_ = nullptr;
};

// ------------------------------------------------------------------------------------------------
// The Model protocol.

/// \brief Static description of a model, declared once.
struct ModelInfo {
  std::string name;     ///< storage name: models/<name>/, e.g. "behavior-xgb"
  std::string version;  ///< first part of the run id, e.g. "0.1"
  std::string summary;  ///< one line for `mosaic models` listings and the catalog
};

/// \brief What a model gets when it trains.
struct TrainContext {
  const Dataset& dataset;
  std::filesystem::path run_root;  ///< models/<model>/<run_id>/, exists; write model files here
  std::string run_id;
  const Json& config;              ///< the config as loaded and hashed (an object)
};

/// \brief The Model protocol (§8.1). One object trains once; train_model makes a fresh one per call.
class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelInfo& info() const = 0;
  /// Called first, with the dataset (the reference prints and ignores an exception here).
  virtual void bind_dataset(const Dataset& dataset) {}
  /// Validate and keep the config. Unknown keys must be an InputError with a did-you-mean
  /// (check_config_keys). An exception here is a failed run (index row, then re-raised).
  virtual void configure(const Json& config) {}
  /// Train, write the model files into ctx.run_root, report progress, and return the metrics
  /// (a JSON object; null or {} writes no metrics.json).
  virtual Json train(const TrainContext& ctx, ProgressCallback& progress) = 0;
};

/// \brief Throw InputError "<model>: unknown config key 'x' (did you mean 'y'?; allowed: a, b)"
/// for the first key of `config` not in `allowed`, and "<model>: config must be a JSON object"
/// when it is not an object.
void check_config_keys(const Json& config, const std::vector<std::string>& allowed, std::string_view model_name);

/// \brief How to build a model by name.
struct ModelFactory {
  const ModelInfo* info = nullptr;
  std::function<std::unique_ptr<Model>()> create;
  const char* source_file = "";
};

/// \brief Every registered model, sorted by name.
const std::map<std::string, ModelFactory>& model_catalog();
/// \brief Register a model; a second model with the same name aborts at start-up naming both files.
void register_model(ModelFactory factory);
/// \brief The factory for `name`; throws InputError "unknown model 'x' (did you mean 'y'?);
/// available: a, b".
const ModelFactory& find_model(std::string_view name);
/// \brief A fresh model object by name (find_model + create).
std::unique_ptr<Model> make_model(std::string_view name);

/// \brief Registers a model class at start-up. `T` is default-constructible and has
/// `static const ModelInfo& static_info()`.
template <class T>
struct ModelRegistration {
  explicit ModelRegistration(const char* file) {
    ModelFactory f;
    f.info = &T::static_info();
    f.create = []() -> std::unique_ptr<Model> { return std::make_unique<T>(); };
    f.source_file = file;
    register_model(std::move(f));
  }
};

#define MOSAIC_REGISTER_MODEL(TYPE) \
  static const ::mosaic::ModelRegistration<TYPE> mosaic_model_registration_##TYPE(__FILE__)

// ------------------------------------------------------------------------------------------------
// train_model (§8.1).

/// \brief The `config` argument of train_model: nothing ({}), a JSON file, or an object.
class ModelConfig {
 public:
  ModelConfig() = default;  ///< nothing: {}
  static ModelConfig none() { return {}; }
  static ModelConfig file(std::filesystem::path path);
  static ModelConfig object(Json value);
  /// The CLI's `--config FILE|JSON`: text starting with '{' (after spaces) is JSON, else a file.
  static ModelConfig from_cli(std::string_view text);
  /// Load: {} / the file (IoError "Model config not found: <p>", InputError "Invalid JSON in
  /// config file <p>: <e>") / the object; anything but an object is an InputError.
  Json load() const;

 private:
  enum class Kind : uint8_t { kNone, kFile, kObject };
  Kind kind_ = Kind::kNone;
  std::filesystem::path path_;
  Json value_;
};

/// \brief Options of train_model.
struct TrainOptions {
  /// Ignored, as in the reference: every call retrains (kept for the signature).
  bool overwrite = false;
  /// Progress sink; null = NullProgressCallback.
  ProgressCallback* progress = nullptr;
  /// Print "[model:<name>] completed run_id=<id> -> <run_root>" (and the bind_dataset warning).
  bool log = true;
};

/// \brief The column order of `models/<model>/index.csv`:
/// abs_path,run_id,started_at,finished_at,model,version,config_path,config_hash,metrics_path,status,notes.
const std::vector<std::string>& model_index_columns();

/// \brief `run_id = <version>-<hash_params(config)>`.
std::string model_run_id(const Model& model, const Json& config);

/// \brief Train a model (§8.1) and return its run id. Writes models/<name>/<run_id>/config.json
/// and metrics.json atomically and appends a row to models/<name>/index.csv (locked, no dedup).
/// A failure in configure or train appends a "failed" row (notes = message, first 500 characters),
/// marks the run finished and re-throws.
std::string train_model(const Dataset& dataset, Model& model, const ModelConfig& config = {},
                        const TrainOptions& options = {});
/// \brief The same with a registered model name (make_model).
std::string train_model(const Dataset& dataset, std::string_view model_name, const ModelConfig& config = {},
                        const TrainOptions& options = {});

/// \brief The rows of models/<model>/index.csv (every model when `model` is empty) as a JSON list
/// of objects, cells as text, in file order; models in name order. No models root = [].
Json list_model_runs(const Dataset& dataset, std::string_view model = {});

}  // namespace mosaic
