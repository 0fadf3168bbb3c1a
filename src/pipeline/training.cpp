// training.cpp: the model catalog, progress callbacks and train_model (pipeline.md §8).
#include "mosaic/training.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <system_error>
#include <utility>

#include "mosaic/csv.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/run_id.hpp"

namespace fs = std::filesystem;

namespace mosaic {

// ---- Callbacks ----------------------------------------------------------------------------------

void CompositeProgressCallback::on_epoch_end(int64_t epoch, int64_t total_epochs, const Json& metrics) {
  for (ProgressCallback* b : backends_)
    if (b) b->on_epoch_end(epoch, total_epochs, metrics);
}

void CompositeProgressCallback::on_class_start(int64_t class_idx, int64_t total_classes,
                                               const std::string& class_name) {
  for (ProgressCallback* b : backends_)
    if (b) b->on_class_start(class_idx, total_classes, class_name);
}

void CompositeProgressCallback::on_phase(const std::string& phase, const std::string& message) {
  for (ProgressCallback* b : backends_)
    if (b) b->on_phase(phase, message);
}

namespace {

/// A metric value as Python's csv module writes `str(value)` (floats as repr, ints plain).
std::string csv_cell(const Json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return python_float_repr(v.get<double>());
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  return python_json_dumps(v);
}

}  // namespace

CsvProgressCallback::CsvProgressCallback(fs::path path) : path_(std::move(path)) {}

CsvProgressCallback::~CsvProgressCallback() {
  if (file_) std::fclose(file_);
}

void CsvProgressCallback::on_epoch_end(int64_t epoch, int64_t total_epochs, const Json& metrics) {
  std::string text;
  if (!file_) {
    if (path_.has_parent_path()) make_dirs(path_.parent_path());
    std::error_code ec;
    const bool empty = !fs::exists(path_, ec) || fs::file_size(path_, ec) == 0;
    file_ = std::fopen(path_.c_str(), "ab");
    if (!file_) throw IoError(fmt::format("{}: cannot open progress CSV for appending", path_.string()));
    if (metrics.is_object())
      for (const auto& [k, v] : metrics.items()) keys_.push_back(k);
    if (empty) {
      text = "epoch,total_epochs";
      for (const auto& k : keys_) text += "," + csv_quote(k);
      text += "\r\n";  // Python's csv.writer default line terminator
    }
  }
  text += std::to_string(epoch) + "," + std::to_string(total_epochs);
  for (const auto& k : keys_) {
    text += ",";
    if (metrics.is_object() && metrics.contains(k)) text += csv_quote(csv_cell(metrics.at(k)));
  }
  text += "\r\n";
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0)
    throw IoError(fmt::format("{}: cannot write progress row", path_.string()));
}

SqliteProgressCallback::SqliteProgressCallback(fs::path db_path, std::string job_id)
    : db_path_(std::move(db_path)), job_id_(std::move(job_id)) {
  // No SQLITE_OPEN_CREATE: the registry (and its schema) must exist (§8.2).
  int rc = sqlite3_open_v2(db_path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
    throw IoError(fmt::format("{}: cannot open the registry for training progress: {}", db_path_.string(), msg));
  }
  sqlite3_busy_timeout(db_, 10000);
  char* err = nullptr;
  // synchronous=NORMAL: in WAL mode a commit then needs no fsync (0.1 ms instead of about 4 ms per
  // row here, and a job writes a row per boosting round and class); the database cannot be
  // corrupted by it, a power cut can only lose the last progress rows.
  if (sqlite3_exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    sqlite3_close(db_);
    db_ = nullptr;
    throw IoError(fmt::format("{}: PRAGMA journal_mode=WAL / synchronous=NORMAL failed: {}", db_path_.string(), msg));
  }
}

SqliteProgressCallback::~SqliteProgressCallback() {
  if (db_) sqlite3_close(db_);
}

void SqliteProgressCallback::write(const std::string& step_type, int64_t index, int64_t total,
                                   const std::string& metric_json, const std::string& message) {
  sqlite3_stmt* st = nullptr;
  const char* sql =
      "INSERT OR REPLACE INTO training_progress (job_id, step_type, step_index, step_total, metric_json, message, "
      "timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)";
  auto fail = [&](const char* what) {
    std::string msg = sqlite3_errmsg(db_);
    if (st) sqlite3_finalize(st);
    throw IoError(fmt::format("{}: {} of training progress (job_id='{}', step_type='{}', step_index={}) failed: {}",
                              db_path_.string(), what, job_id_, step_type, index, msg));
  };
  if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) fail("prepare");
  const std::string ts = now_iso();
  sqlite3_bind_text(st, 1, job_id_.c_str(), static_cast<int>(job_id_.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, step_type.c_str(), static_cast<int>(step_type.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 3, index);
  sqlite3_bind_int64(st, 4, total);
  sqlite3_bind_text(st, 5, metric_json.c_str(), static_cast<int>(metric_json.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 6, message.c_str(), static_cast<int>(message.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 7, ts.c_str(), static_cast<int>(ts.size()), SQLITE_TRANSIENT);
  // Autocommit: one statement is one transaction, committed before step returns.
  if (sqlite3_step(st) != SQLITE_DONE) fail("insert");
  sqlite3_finalize(st);
}

void SqliteProgressCallback::on_epoch_end(int64_t epoch, int64_t total_epochs, const Json& metrics) {
  write("epoch", epoch, total_epochs, python_json_dumps(metrics.is_null() ? Json::object() : metrics), "");
}

void SqliteProgressCallback::on_class_start(int64_t class_idx, int64_t total_classes, const std::string& class_name) {
  write("class", class_idx, total_classes, "{}", class_name);
}

void SqliteProgressCallback::on_phase(const std::string& phase, const std::string& message) {
  write("phase", 0, 0, "{}", phase + ": " + message);
}

std::vector<ProgressRow> SqliteProgressCallback::get_progress() const { return read_progress(db_path_, job_id_); }

void SqliteProgressCallback::clear_job() {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "DELETE FROM training_progress WHERE job_id = ?", -1, &st, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, job_id_.c_str(), static_cast<int>(job_id_.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_DONE) {
      sqlite3_finalize(st);
      return;
    }
  }
  std::string msg = sqlite3_errmsg(db_);
  if (st) sqlite3_finalize(st);
  throw IoError(fmt::format("{}: clearing the training progress of job '{}' failed: {}", db_path_.string(), job_id_, msg));
}

// ---- Catalog ------------------------------------------------------------------------------------

namespace {

std::map<std::string, ModelFactory>& mutable_models() {
  static std::map<std::string, ModelFactory> catalog;
  return catalog;
}

}  // namespace

const std::map<std::string, ModelFactory>& model_catalog() { return mutable_models(); }

void register_model(ModelFactory factory) {
  auto& catalog = mutable_models();
  const std::string& name = factory.info->name;
  auto it = catalog.find(name);
  if (it != catalog.end()) {
    std::fprintf(stderr, "mosaic: model '%s' registered twice (%s and %s)\n", name.c_str(), it->second.source_file,
                 factory.source_file);
    std::abort();
  }
  catalog.emplace(name, std::move(factory));
}

const ModelFactory& find_model(std::string_view name) {
  const auto& catalog = model_catalog();
  auto it = catalog.find(std::string(name));
  if (it != catalog.end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [n, f] : catalog) names.push_back(n);
  std::string hint = did_you_mean(name, names);
  throw InputError(fmt::format("unknown model '{}'{}; available: {}", name,
                               hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                               names.empty() ? std::string("(none)") : join_names(names)));
}

std::unique_ptr<Model> make_model(std::string_view name) { return find_model(name).create(); }

void check_config_keys(const Json& config, const std::vector<std::string>& allowed, std::string_view model_name) {
  if (!config.is_object())
    throw InputError(fmt::format("{}: config must be a JSON object, got {}", model_name, config.type_name()));
  for (const auto& [key, value] : config.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string hint = did_you_mean(key, allowed);
    throw InputError(fmt::format("{}: unknown config key '{}'{}; allowed: {}", model_name, key,
                                 hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint), join_names(allowed)));
  }
}

// ---- Config -------------------------------------------------------------------------------------

ModelConfig ModelConfig::file(fs::path path) {
  ModelConfig c;
  c.kind_ = Kind::kFile;
  c.path_ = std::move(path);
  return c;
}

ModelConfig ModelConfig::object(Json value) {
  ModelConfig c;
  c.kind_ = Kind::kObject;
  c.value_ = std::move(value);
  return c;
}

ModelConfig ModelConfig::from_cli(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  if (i < text.size() && text[i] == '{') {
    try {
      return object(python_json_loads(text));
    } catch (const Error& e) {
      throw InputError(fmt::format("--config: {}", e.what()));  // e.what() says "invalid JSON: ..."
    }
  }
  return file(fs::path(std::string(text)));
}

Json ModelConfig::load() const {
  Json value;
  switch (kind_) {
    case Kind::kNone:
      return Json::object();
    case Kind::kObject:
      value = value_;
      break;
    case Kind::kFile: {
      std::error_code ec;
      if (!fs::is_regular_file(path_, ec)) throw IoError(fmt::format("Model config not found: {}", path_.string()));
      std::string text = read_file_text(path_);
      try {
        value = python_json_loads(text);
      } catch (const Error& e) {
        throw InputError(fmt::format("Invalid JSON in config file {}: {}", path_.string(), e.what()));
      }
      break;
    }
  }
  if (value.is_null()) return Json::object();
  if (!value.is_object())
    throw InputError(fmt::format("Unsupported config type: {} (a model config is a JSON object)", value.type_name()));
  return value;
}

// ---- train_model --------------------------------------------------------------------------------

const std::vector<std::string>& model_index_columns() {
  static const std::vector<std::string> cols{"abs_path",    "run_id",       "started_at", "finished_at",
                                             "model",       "version",      "config_path", "config_hash",
                                             "metrics_path", "status",      "notes"};
  return cols;
}

std::string model_run_id(const Model& model, const Json& config) {
  return model.info().version + "-" + hash_params(config);
}

namespace {

RunIndex model_index(const fs::path& model_dir) {
  return RunIndex(model_dir / "index.csv", model_index_columns(), /*dedup_keys=*/{});
}

/// The first `n` characters (code points) of UTF-8 text, as Python's `str(exc)[:n]`.
std::string first_chars(const std::string& s, std::size_t n) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (chars++ == n) return s.substr(0, i);
  }
  return s;
}

}  // namespace

std::string train_model(const Dataset& dataset, Model& model, const ModelConfig& config, const TrainOptions& options) {
  NullProgressCallback null_callback;
  ProgressCallback& progress = options.progress ? *options.progress : null_callback;
  const ModelInfo& info = model.info();
  if (info.name.empty()) throw InputError("Model must define 'name' or 'storage_model_name'.");

  const Json cfg = config.load();
  const std::string config_hash = hash_params(cfg);
  const std::string run_id = info.version + "-" + config_hash;
  const std::string started_at = now_iso();

  const fs::path model_dir = dataset.root("models") / info.name;
  const fs::path run_root = model_dir / run_id;
  make_dirs(run_root);
  const RunIndex index = model_index(model_dir);
  index.ensure();

  const fs::path config_path = run_root / "config.json";
  write_file_atomic(config_path, python_json_dumps(cfg, {.indent = 2}));

  try {
    model.bind_dataset(dataset);
  } catch (const std::exception& e) {
    if (options.log) std::cerr << fmt::format("[model:{}] bind_dataset failed: {}\n", info.name, e.what());
  }

  auto row = [&](const std::string& metrics_path, const std::string& status, const std::string& notes) {
    return std::vector<std::pair<std::string, std::string>>{
        {"abs_path", fs::absolute(run_root).string()},
        {"run_id", run_id},
        {"started_at", started_at},
        {"finished_at", ""},
        {"model", info.name},
        {"version", info.version},
        {"config_path", fs::absolute(config_path).string()},
        {"config_hash", config_hash},
        {"metrics_path", metrics_path},
        {"status", status},
        {"notes", notes}};
  };

  Json metrics;
  try {
    model.configure(cfg);
    TrainContext ctx{dataset, run_root, run_id, cfg};
    metrics = model.train(ctx, progress);
  } catch (const std::exception& e) {
    // Record the failure, then re-raise the original exception (its type and exit code).
    try {
      index.append({row("", "failed", first_chars(e.what(), 500))});
      index.mark_finished(run_id);
    } catch (const std::exception& record_error) {
      std::cerr << fmt::format("[model:{}] could not record the failed run {}: {}\n", info.name, run_id,
                               record_error.what());
    }
    throw;
  }

  const fs::path metrics_file = run_root / "metrics.json";
  std::string metrics_path;
  const bool truthy = !metrics.is_null() && !(metrics.is_structured() && metrics.empty());
  if (truthy) {
    write_file_atomic(metrics_file, python_json_dumps(metrics, {.indent = 2}));
    metrics_path = fs::absolute(metrics_file).string();
  } else {
    std::error_code ec;
    fs::remove(metrics_file, ec);
  }
  index.append({row(metrics_path, "success", "")});
  index.mark_finished(run_id);
  if (options.log)
    std::cerr << fmt::format("[model:{}] completed run_id={} -> {}\n", info.name, run_id,
                             fs::absolute(run_root).string());
  return run_id;
}

std::string train_model(const Dataset& dataset, std::string_view model_name, const ModelConfig& config,
                        const TrainOptions& options) {
  std::unique_ptr<Model> model = make_model(model_name);
  return train_model(dataset, *model, config, options);
}

Json list_model_runs(const Dataset& dataset, std::string_view model) {
  Json out = Json::array();
  if (!dataset.has_root("models")) return out;
  const fs::path models_root = dataset.root("models");
  std::vector<std::string> names;
  std::error_code ec;
  if (!model.empty()) {
    names.emplace_back(model);
  } else if (fs::is_directory(models_root, ec)) {
    for (const auto& e : fs::directory_iterator(models_root, ec))
      if (e.is_directory() && fs::exists(e.path() / "index.csv")) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
  }
  for (const auto& name : names) {
    const RunIndex index = model_index(models_root / name);
    if (!index.exists()) {
      if (!model.empty()) throw InputError(fmt::format("no runs of model '{}' in {}", name, models_root.string()));
      continue;
    }
    TextCsv csv = index.read_all();
    for (std::size_t r = 0; r < csv.rows.size(); ++r) {
      Json obj = Json::object();
      for (std::size_t c = 0; c < csv.header.size(); ++c) obj[csv.header[c]] = c < csv.rows[r].size() ? csv.rows[r][c] : "";
      out.push_back(std::move(obj));
    }
  }
  return out;
}

}  // namespace mosaic
