// Tests of the training framework (pipeline.md §8): train_model's run ids, files and model index
// (a row per call, failed rows and re-raise), the model catalog, config loading and key checks,
// and the progress callbacks (CSV bytes, SQLite rows exactly as §8.2, read from another process
// while a job trains).
//
// The model under test is real and deterministic: "test-class-means" fits, per class, the mean of
// some columns of a feature run over the frames that have a label (labels/<kind>/ dense NPZ), by
// a few damped fixed-point epochs, and writes its means to model.json in the run folder.
#include "mosaic/training.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <map>
#include <regex>
#include <string>
#include <thread>

#include "common/test_util.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/files.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/registry.hpp"
#include "mosaic/run_feature.hpp"
#include "mosaic/run_id.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using mosaic::testing::TempDir;

// ---- The test model ---------------------------------------------------------------------------

const ModelInfo kClassMeansInfo{.name = "test-class-means", .version = "0.1",
                                .summary = "Per-class means of feature columns (test model)"};

class TestClassMeans final : public Model {
 public:
  static const ModelInfo& static_info() { return kClassMeansInfo; }
  const ModelInfo& info() const override { return kClassMeansInfo; }

  void bind_dataset(const Dataset& dataset) override { bound_ = true; }

  void configure(const Json& config) override {
    check_config_keys(config, {"feature", "run_id", "columns", "label_kind", "epochs", "sleep_ms", "fail_at_class"},
                      info().name);
    if (!config.contains("feature") || !config["feature"].is_string())
      throw InputError("test-class-means: config key 'feature' (a feature storage name) is required");
    feature_ = config["feature"].get<std::string>();
    if (config.contains("run_id")) run_id_ = config["run_id"].get<std::string>();
    for (const auto& c : config.value("columns", Json::array())) columns_.push_back(c.get<std::string>());
    if (columns_.empty()) throw InputError("test-class-means: config key 'columns' must list at least one column");
    label_kind_ = config.value("label_kind", std::string("behavior"));
    epochs_ = config.value("epochs", int64_t{3});
    sleep_ms_ = config.value("sleep_ms", int64_t{0});
    fail_at_class_ = config.value("fail_at_class", int64_t{-1});
  }

  Json train(const TrainContext& ctx, ProgressCallback& progress) override {
    const Dataset& ds = ctx.dataset;
    progress.on_phase("load", "reading " + feature_);
    const fs::path index_path = ds.root("features") / feature_ / "index.csv";
    FeatureIndex index(index_path);
    const std::string run_id = run_id_.empty() ? index.latest_run_id() : run_id_;
    auto entries = index_entries(index_path, run_id, ds.base_dir(), index_path.parent_path() / run_id, true);
    std::map<int64_t, std::vector<std::vector<double>>> values;  // class -> column -> non-NaN values
    int64_t n_rows = 0;
    for (const auto& e : entries) {
      Table t = read_parquet(e.path);
      fs::path labels_path = ds.root("labels") / label_kind_ / (make_entry_key(e.group, e.sequence) + ".npz");
      if (!fs::exists(labels_path))
        throw InputError(fmt_missing_labels(e.group, e.sequence, labels_path));
      std::vector<int64_t> dense = read_npz(labels_path).at("labels").to_int64();
      const Column& frame = t.column("frame");
      for (std::size_t r = 0; r < t.num_rows(); ++r) {
        const auto f = static_cast<int64_t>(frame.as_double(r));
        if (f < 0 || f >= static_cast<int64_t>(dense.size()) || dense[static_cast<std::size_t>(f)] < 0) continue;
        const int64_t c = dense[static_cast<std::size_t>(f)];
        auto& cols = values[c];
        cols.resize(columns_.size());
        for (std::size_t k = 0; k < columns_.size(); ++k) {
          double v = t.column(columns_[k]).as_double(r);
          if (!std::isnan(v)) cols[k].push_back(v);
        }
        ++n_rows;
      }
    }
    progress.on_phase("fit", std::to_string(values.size()) + " classes");
    Json means = Json::object();
    double total_sse = 0;
    int64_t total_n = 0;
    int64_t class_idx = 0;
    const auto n_classes = static_cast<int64_t>(values.size());
    for (const auto& [c, cols] : values) {
      const std::string name = "class_" + std::to_string(c);
      progress.on_class_start(class_idx, n_classes, name);
      if (class_idx == fail_at_class_) throw StateError("test-class-means: failing at " + name + " as configured");
      // Damped fixed-point iteration m <- m + (mean - m) / 2 from 0: deterministic epochs whose
      // loss (mean squared error of the rows around m) decreases towards the variance.
      std::vector<double> m(columns_.size(), 0.0);
      for (int64_t epoch = 0; epoch < epochs_; ++epoch) {
        double sse = 0;
        int64_t n = 0;
        for (std::size_t k = 0; k < columns_.size(); ++k) {
          double sum = 0;
          for (double v : cols[k]) sum += v;
          const double mean = cols[k].empty() ? 0.0 : sum / static_cast<double>(cols[k].size());
          m[k] += (mean - m[k]) / 2.0;
          for (double v : cols[k]) sse += (v - m[k]) * (v - m[k]);
          n += static_cast<int64_t>(cols[k].size());
        }
        progress.on_epoch_end(epoch, epochs_, Json{{"loss", n ? sse / static_cast<double>(n) : 0.0}, {"n", n}});
        if (epoch + 1 == epochs_) {
          total_sse += sse;
          total_n += n;
        }
        if (sleep_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
      }
      Json per = Json::object();
      for (std::size_t k = 0; k < columns_.size(); ++k) per[columns_[k]] = m[k];
      means[std::to_string(c)] = per;
      ++class_idx;
    }
    write_file_atomic(ctx.run_root / "model.json", python_json_dumps(Json{{"means", means}}, {.indent = 2}));
    progress.on_phase("done", ctx.run_id);
    return Json{{"n_rows", n_rows}, {"n_classes", n_classes}, {"mse", total_n ? total_sse / static_cast<double>(total_n) : 0.0},
                {"bound", bound_}};
  }

 private:
  static std::string fmt_missing_labels(const std::string& g, const std::string& s, const fs::path& p) {
    return "test-class-means: no labels for (" + g + ", " + s + "): " + p.string() + " not found";
  }
  bool bound_ = false;
  std::string feature_, run_id_, label_kind_;
  std::vector<std::string> columns_;
  int64_t epochs_ = 3, sleep_ms_ = 0, fail_at_class_ = -1;
};
MOSAIC_REGISTER_MODEL(TestClassMeans);

// ---- Fixture: two sequences, a speed-angvel run and dense labels --------------------------------

Table tracks(int64_t n_frames, double speed_scale) {
  std::vector<int64_t> frame, id;
  std::vector<double> time, x, y;
  for (int64_t f = 0; f < n_frames; ++f)
    for (int a = 0; a < 2; ++a) {
      frame.push_back(f);
      id.push_back(a);
      time.push_back(static_cast<double>(f) / 30.0);
      // Fast in the first half, slow in the second: class 1 then class 0.
      const auto half = static_cast<double>(n_frames / 2), ff = static_cast<double>(f);
      const double path = ff < half ? 3.0 * ff : 3.0 * half + 0.5 * (ff - half);
      x.push_back(speed_scale * path + 10.0 * a);
      y.push_back(5.0 * a);
    }
  Table t;
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("time", Column::from_float64(time));
  t.add_column("id", Column::from_int64(id));
  t.add_column("X", Column::from_float64(x));
  t.add_column("Y", Column::from_float64(y));
  return t;
}

void write_dense_labels(const Dataset& ds, const std::string& g, const std::string& s, std::vector<int64_t> labels) {
  fs::path p = ds.root("labels") / "behavior" / (make_entry_key(g, s) + ".npz");
  make_dirs(p.parent_path());
  const auto n = static_cast<int64_t>(labels.size());
  write_npz(p, {{"labels", NpyArray::from_int64({n}, std::move(labels))}});
}

struct Fixture {
  TempDir tmp;
  Dataset ds;
  std::string storage;
  Fixture() : ds(Dataset::create(tmp / "d", {.fps = 30.0})) {
    ds.write_tracks("g", "s1", tracks(40, 1.0), {});
    ds.write_tracks("g", "s2", tracks(40, 2.0), {});
    auto f = make_feature("speed-angvel", std::nullopt, Json::object());
    RunOptions opt;
    opt.log = false;
    storage = run_feature(ds, *f, opt).result.feature;
    // Frames 0-19 class 1, 20-29 class 0, 30-34 unlabelled (-1), 35-39 outside the array.
    for (const char* s : {"s1", "s2"}) {
      std::vector<int64_t> lab(35, -1);
      for (int f = 0; f < 20; ++f) lab[f] = 1;
      for (int f = 20; f < 30; ++f) lab[f] = 0;
      write_dense_labels(ds, "g", s, lab);
    }
  }
  Json config() const { return Json{{"feature", storage}, {"columns", {"speed"}}}; }
};

TrainOptions quiet(ProgressCallback* cb = nullptr) {
  TrainOptions o;
  o.log = false;
  o.progress = cb;
  return o;
}

const std::regex kIsoRe(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00)");

// Records every event, to check what the model reports and how Composite forwards.
struct RecordingCallback : ProgressCallback {
  std::vector<std::string> events;
  void on_epoch_end(int64_t e, int64_t t, const Json& m) override {
    events.push_back("epoch " + std::to_string(e) + "/" + std::to_string(t) + " " + python_json_dumps(m));
  }
  void on_class_start(int64_t i, int64_t t, const std::string& n) override {
    events.push_back("class " + std::to_string(i) + "/" + std::to_string(t) + " " + n);
  }
  void on_phase(const std::string& p, const std::string& m) override { events.push_back("phase " + p + ": " + m); }
};

// ---- Catalog and config ---------------------------------------------------------------------------

TEST(ModelCatalog, RegisteredByNameWithDidYouMean) {
  ASSERT_TRUE(model_catalog().count("test-class-means"));
  EXPECT_EQ(find_model("test-class-means").info->version, "0.1");
  EXPECT_STREQ(find_model("test-class-means").source_file, __FILE__);
  auto m = make_model("test-class-means");
  EXPECT_EQ(m->info().name, "test-class-means");
  try {
    find_model("test-class-mean");
    FAIL() << "no throw";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown model 'test-class-mean' (did you mean 'test-class-means'?)"));
    EXPECT_THAT(e.what(), HasSubstr("available: "));
  }
}

TEST(ModelConfigTest, CheckConfigKeys) {
  EXPECT_NO_THROW(check_config_keys(Json{{"a", 1}}, {"a", "b"}, "m"));
  try {
    check_config_keys(Json{{"featuer", 1}}, {"feature", "columns"}, "m");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "m: unknown config key 'featuer' (did you mean 'feature'?); allowed: feature, columns");
  }
  try {
    check_config_keys(Json::array(), {"a"}, "m");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "m: config must be a JSON object, got array");
  }
}

TEST(ModelConfigTest, LoadNoneObjectFileAndErrors) {
  TempDir tmp;
  EXPECT_EQ(ModelConfig().load(), Json::object());
  EXPECT_EQ(ModelConfig::object(Json{{"b", 1}, {"a", 2.0}}).load().dump(), R"({"b":1,"a":2.0})");
  write_file_atomic(tmp / "c.json", R"({"z": 1, "a": [1.5, "x"]})");
  Json from_file = ModelConfig::file(tmp / "c.json").load();
  EXPECT_EQ(python_json_dumps(from_file), R"({"z": 1, "a": [1.5, "x"]})");
  // The CLI form: '{' means inline JSON, anything else is a path.
  EXPECT_EQ(python_json_dumps(ModelConfig::from_cli(R"(  {"k": 1})").load()), R"({"k": 1})");
  EXPECT_EQ(python_json_dumps(ModelConfig::from_cli((tmp / "c.json").string()).load()), python_json_dumps(from_file));
  try {
    ModelConfig::file(tmp / "missing.json").load();
    FAIL();
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), "Model config not found: " + (tmp / "missing.json").string());
  }
  write_file_atomic(tmp / "bad.json", "{\"a\": }");
  try {
    ModelConfig::file(tmp / "bad.json").load();
    FAIL();
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("Invalid JSON in config file " + (tmp / "bad.json").string() + ": "));
  }
  write_file_atomic(tmp / "list.json", "[1]");
  EXPECT_THROW(ModelConfig::file(tmp / "list.json").load(), InputError);
  try {
    ModelConfig::from_cli("{nope");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--config: invalid JSON: ", 0), 0u) << e.what();
  }
}

// ---- train_model ------------------------------------------------------------------------------------

TEST(TrainModel, RunIdFilesIndexAndMetrics) {
  Fixture fx;
  const Json cfg = fx.config();
  RecordingCallback rec;
  std::string run_id = train_model(fx.ds, "test-class-means", ModelConfig::object(cfg), quiet(&rec));
  // run_id = <version>-<hash_params(config)>: the dataset is not hashed.
  EXPECT_EQ(run_id, "0.1-" + hash_params(cfg));
  EXPECT_EQ(run_id, model_run_id(TestClassMeans(), cfg));
  const fs::path model_dir = fx.ds.root("models") / "test-class-means";
  const fs::path run_root = model_dir / run_id;
  EXPECT_EQ(read_file_text(run_root / "config.json"), python_json_dumps(cfg, {.indent = 2}));
  // The model's own file: class means of speed over labelled frames only.
  Json model = python_json_loads(read_file_text(run_root / "model.json"));
  ASSERT_TRUE(model["means"].contains("0"));
  ASSERT_TRUE(model["means"].contains("1"));
  EXPECT_FALSE(model["means"].contains("-1"));
  // 3 px/frame (class 1) vs 0.5 px/frame (class 0) at 30 fps, at speed scales 1 and 2: class 1 is
  // 90 and 180 px/s (frame 0 has no speed), class 0 is 15 and 30 px/s except its first frame,
  // which still covers a fast step: means 135 and (9 * 22.5 + 135) / 10 = 33.75; after 3 damped
  // epochs from 0 the model holds 7/8 of them.
  EXPECT_NEAR(model["means"]["1"]["speed"].get<double>(), 135.0 * 7 / 8, 1e-9);
  EXPECT_NEAR(model["means"]["0"]["speed"].get<double>(), 33.75 * 7 / 8, 1e-9);
  // metrics.json, indent 2, insertion order.
  Json metrics = python_json_loads(read_file_text(run_root / "metrics.json"));
  EXPECT_EQ(metrics["n_rows"], 2 * 30 * 2);  // 2 sequences x 30 labelled frames x 2 animals
  EXPECT_EQ(metrics["n_classes"], 2);
  EXPECT_EQ(metrics["bound"], true);
  EXPECT_EQ(read_file_text(run_root / "metrics.json"), python_json_dumps(metrics, {.indent = 2}));
  // The model index: exact header, one success row.
  TextCsv idx = TextCsv::read(model_dir / "index.csv");
  EXPECT_EQ(join_names(idx.header, ","),
            "abs_path,run_id,started_at,finished_at,model,version,config_path,config_hash,metrics_path,status,notes");
  EXPECT_EQ(idx.header, model_index_columns());
  ASSERT_EQ(idx.rows.size(), 1u);
  EXPECT_EQ(idx.cell(0, "abs_path"), fs::absolute(run_root).string());
  EXPECT_EQ(idx.cell(0, "run_id"), run_id);
  EXPECT_TRUE(std::regex_match(std::string(idx.cell(0, "started_at")), kIsoRe));
  EXPECT_TRUE(std::regex_match(std::string(idx.cell(0, "finished_at")), kIsoRe));
  EXPECT_LE(idx.cell(0, "started_at"), idx.cell(0, "finished_at"));
  EXPECT_EQ(idx.cell(0, "model"), "test-class-means");
  EXPECT_EQ(idx.cell(0, "version"), "0.1");
  EXPECT_EQ(idx.cell(0, "config_path"), fs::absolute(run_root / "config.json").string());
  EXPECT_EQ(idx.cell(0, "config_hash"), hash_params(cfg));
  EXPECT_EQ(idx.cell(0, "metrics_path"), fs::absolute(run_root / "metrics.json").string());
  EXPECT_EQ(idx.cell(0, "status"), "success");
  EXPECT_EQ(idx.cell(0, "notes"), "");
  // Events, in order: phases, then per class its start and epochs.
  ASSERT_EQ(rec.events.size(), 2u + 2u * (1u + 3u) + 1u);
  EXPECT_EQ(rec.events[0], "phase load: reading " + fx.storage);
  EXPECT_EQ(rec.events[1], "phase fit: 2 classes");
  EXPECT_EQ(rec.events[2], "class 0/2 class_0");
  EXPECT_THAT(rec.events[3], HasSubstr("epoch 0/3 {\"loss\": "));
  EXPECT_EQ(rec.events[6], "class 1/2 class_1");
  EXPECT_EQ(rec.events.back(), "phase done: " + run_id);
}

TEST(TrainModel, DeterministicAndKeyOrderMatters) {
  Fixture fx;
  std::string a = train_model(fx.ds, "test-class-means", ModelConfig::object(fx.config()), quiet());
  const fs::path dir = fx.ds.root("models") / "test-class-means";
  std::string bytes_a = read_file_text(dir / a / "model.json");
  // Same config again: same run id, retrained, same bytes, and a second row (no dedup).
  std::string b = train_model(fx.ds, "test-class-means", ModelConfig::object(fx.config()), quiet());
  EXPECT_EQ(a, b);
  EXPECT_EQ(read_file_text(dir / b / "model.json"), bytes_a);
  // sort_keys: the key order of the config does not change the hash; a value does.
  Json reordered{{"columns", {"speed"}}, {"feature", fx.storage}};
  EXPECT_EQ(train_model(fx.ds, "test-class-means", ModelConfig::object(reordered), quiet()), a);
  Json other = fx.config();
  other["epochs"] = 4;
  std::string c = train_model(fx.ds, "test-class-means", ModelConfig::object(other), quiet());
  EXPECT_NE(c, a);
  // An integer and a float are different payloads (json.dumps writes 4 vs 4.0).
  other["epochs"] = 4.0;
  EXPECT_EQ(model_run_id(TestClassMeans(), other), "0.1-" + hash_params(other));
  EXPECT_NE(model_run_id(TestClassMeans(), other), c);
  TextCsv idx = TextCsv::read(dir / "index.csv");
  ASSERT_EQ(idx.rows.size(), 4u);
  EXPECT_EQ(idx.cell(0, "run_id"), a);
  EXPECT_EQ(idx.cell(1, "run_id"), a);
  EXPECT_EQ(idx.cell(2, "run_id"), a);
  EXPECT_EQ(idx.cell(3, "run_id"), c);
  for (std::size_t r = 0; r < 4; ++r) EXPECT_EQ(idx.cell(r, "status"), "success");
  // overwrite is accepted and ignored (there is always a full retrain).
  TrainOptions o = quiet();
  o.overwrite = true;
  EXPECT_EQ(train_model(fx.ds, "test-class-means", ModelConfig::object(fx.config()), o), a);
  EXPECT_EQ(TextCsv::read(dir / "index.csv").rows.size(), 5u);
}

TEST(TrainModel, FailedRunIsRecordedAndRethrown) {
  Fixture fx;
  Json cfg = fx.config();
  cfg["fail_at_class"] = 1;
  const std::string run_id = "0.1-" + hash_params(cfg);
  try {
    train_model(fx.ds, "test-class-means", ModelConfig::object(cfg), quiet());
    FAIL() << "no throw";
  } catch (const StateError& e) {  // the original type is re-raised
    EXPECT_STREQ(e.what(), "test-class-means: failing at class_1 as configured");
  }
  const fs::path dir = fx.ds.root("models") / "test-class-means";
  EXPECT_TRUE(fs::exists(dir / run_id / "config.json"));
  EXPECT_FALSE(fs::exists(dir / run_id / "metrics.json"));
  TextCsv idx = TextCsv::read(dir / "index.csv");
  ASSERT_EQ(idx.rows.size(), 1u);
  EXPECT_EQ(idx.cell(0, "run_id"), run_id);
  EXPECT_EQ(idx.cell(0, "status"), "failed");
  EXPECT_EQ(idx.cell(0, "notes"), "test-class-means: failing at class_1 as configured");
  EXPECT_EQ(idx.cell(0, "metrics_path"), "");
  // Failed runs are marked finished too (§8.1 step 10).
  EXPECT_TRUE(std::regex_match(std::string(idx.cell(0, "finished_at")), kIsoRe));
}

TEST(TrainModel, BadConfigIsAFailedRow) {
  Fixture fx;
  Json cfg = fx.config();
  cfg["colums"] = Json::array();
  try {
    train_model(fx.ds, "test-class-means", ModelConfig::object(cfg), quiet());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("test-class-means: unknown config key 'colums' (did you mean 'columns'?)"));
  }
  TextCsv idx = TextCsv::read(fx.ds.root("models") / "test-class-means" / "index.csv");
  ASSERT_EQ(idx.rows.size(), 1u);
  EXPECT_EQ(idx.cell(0, "status"), "failed");
  EXPECT_THAT(std::string(idx.cell(0, "notes")), HasSubstr("unknown config key 'colums'"));
  // Labels missing for a sequence: a clear message and a failed row.
  fs::remove(fx.ds.root("labels") / "behavior" / "g__s2.npz");
  EXPECT_THROW(train_model(fx.ds, "test-class-means", ModelConfig::object(fx.config()), quiet()), InputError);
  idx = TextCsv::read(fx.ds.root("models") / "test-class-means" / "index.csv");
  ASSERT_EQ(idx.rows.size(), 2u);
  EXPECT_THAT(std::string(idx.cell(1, "notes")), HasSubstr("no labels for (g, s2)"));
  // An unknown model name fails before anything is written.
  EXPECT_THROW(train_model(fx.ds, "nope", ModelConfig(), quiet()), InputError);
  EXPECT_FALSE(fs::exists(fx.ds.root("models") / "nope"));
}

TEST(TrainModel, LongNotesAreCutAt500Characters) {
  struct Thrower final : Model {
    const ModelInfo& info() const override {
      static const ModelInfo i{.name = "test-thrower", .version = "2", .summary = "throws"};
      return i;
    }
    Json train(const TrainContext&, ProgressCallback&) override {
      std::string msg;
      for (int i = 0; i < 300; ++i) msg += "\u00e9";  // 2 bytes each: 500 characters are 1000 bytes
      throw InputError(msg + std::string(300, 'x'));
    }
  };
  TempDir tmp;
  Dataset ds = Dataset::create(tmp / "d", {});
  Thrower m;
  EXPECT_THROW(train_model(ds, m, ModelConfig(), quiet()), InputError);
  TextCsv idx = TextCsv::read(ds.root("models") / "test-thrower" / "index.csv");
  std::string expected;
  for (int i = 0; i < 300; ++i) expected += "\u00e9";
  EXPECT_EQ(idx.cell(0, "notes"), expected + std::string(200, 'x'));
  // No config -> {}: hash of {}.
  EXPECT_EQ(idx.cell(0, "run_id"), "2-" + hash_params(Json::object()));
  EXPECT_EQ(read_file_text(ds.root("models") / "test-thrower" / idx.cell(0, "run_id") / "config.json"), "{}");
}

TEST(TrainModel, EmptyMetricsWriteNoFileAndRemoveAStaleOne) {
  struct Quiet final : Model {
    const ModelInfo& info() const override {
      static const ModelInfo i{.name = "test-quiet", .version = "1", .summary = "no metrics"};
      return i;
    }
    Json train(const TrainContext& ctx, ProgressCallback&) override {
      EXPECT_TRUE(fs::is_directory(ctx.run_root));
      EXPECT_EQ(ctx.config, Json::object());
      return Json::object();
    }
  };
  TempDir tmp;
  Dataset ds = Dataset::create(tmp / "d", {});
  Quiet m;
  const fs::path run_root = ds.root("models") / "test-quiet" / ("1-" + hash_params(Json::object()));
  make_dirs(run_root);
  write_file_atomic(run_root / "metrics.json", "{\"stale\": 1}");
  train_model(ds, m, ModelConfig(), quiet());
  EXPECT_FALSE(fs::exists(run_root / "metrics.json"));
  TextCsv idx = TextCsv::read(ds.root("models") / "test-quiet" / "index.csv");
  EXPECT_EQ(idx.cell(0, "metrics_path"), "");
  EXPECT_EQ(idx.cell(0, "status"), "success");
}

TEST(TrainModel, ListModelRuns) {
  Fixture fx;
  EXPECT_EQ(list_model_runs(fx.ds), Json::array());
  std::string a = train_model(fx.ds, "test-class-means", ModelConfig::object(fx.config()), quiet());
  Json rows = list_model_runs(fx.ds);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["run_id"], a);
  EXPECT_EQ(rows[0]["status"], "success");
  EXPECT_EQ(list_model_runs(fx.ds, "test-class-means"), rows);
  EXPECT_THROW(list_model_runs(fx.ds, "other"), InputError);
}

// ---- Callbacks ----------------------------------------------------------------------------------------

TEST(ProgressCallbacks, CompositeForwardsInOrderAndNullDoesNothing) {
  RecordingCallback a, b;
  NullProgressCallback null;
  CompositeProgressCallback comp({&a, &null});
  comp.add(&b);
  comp.on_phase("p", "m");
  comp.on_class_start(0, 2, "x");
  comp.on_epoch_end(1, 5, Json{{"loss", 0.5}});
  EXPECT_EQ(a.events, (std::vector<std::string>{"phase p: m", "class 0/2 x", "epoch 1/5 {\"loss\": 0.5}"}));
  EXPECT_EQ(b.events, a.events);
}

TEST(ProgressCallbacks, CsvHeaderFromFirstCallThenRowsAppended) {
  TempDir tmp;
  const fs::path p = tmp / "sub" / "progress.csv";
  {
    CsvProgressCallback cb(p);
    cb.on_phase("ignored", "x");
    cb.on_class_start(0, 1, "ignored");
    EXPECT_FALSE(fs::exists(p));  // opened on the first epoch only
    cb.on_epoch_end(0, 3, Json{{"loss", 1.0}, {"acc", 0.25}});
    // Flushed after every row: readable before the callback goes away.
    EXPECT_EQ(read_file_text(p), "epoch,total_epochs,loss,acc\r\n0,3,1.0,0.25\r\n");
    // Unknown keys ignored, missing keys empty.
    cb.on_epoch_end(1, 3, Json{{"acc", 0.5}, {"new", 7}});
  }
  EXPECT_EQ(read_file_text(p), "epoch,total_epochs,loss,acc\r\n0,3,1.0,0.25\r\n1,3,,0.5\r\n");
  {
    // An existing non-empty file: append without a header; keys from this object's first call.
    CsvProgressCallback cb(p);
    cb.on_epoch_end(2, 3, Json{{"loss", 1e-05}, {"acc", 1}});
  }
  EXPECT_EQ(read_file_text(p), "epoch,total_epochs,loss,acc\r\n0,3,1.0,0.25\r\n1,3,,0.5\r\n2,3,1e-05,1\r\n");
}

TEST(ProgressCallbacks, SqliteRowsExactlyAsSpec) {
  TempDir tmp;
  const fs::path db = tmp / "features" / ".mosaic.db";
  // The callback never creates the database or the table.
  EXPECT_THROW(SqliteProgressCallback(db, "job"), IoError);
  { FeatureRegistry reg = FeatureRegistry::open(tmp / "features"); }
  SqliteProgressCallback cb(db, "job-1");
  EXPECT_EQ(cb.job_id(), "job-1");
  cb.on_phase("load", "reading");
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  cb.on_class_start(0, 2, "attack");
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  cb.on_epoch_end(0, 10, Json{{"loss", 0.5}, {"auc", 1.0}});
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  cb.on_epoch_end(1, 10, Json{{"loss", 0.25}, {"auc", 1.0}});
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  cb.on_epoch_end(0, 10, Json{{"loss", 0.125}});  // same index: replaces the first epoch row
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  cb.on_phase("fit", "done");  // phase rows all have index 0: only the last survives
  SqliteProgressCallback other(db, "job-2");
  other.on_epoch_end(0, 1, Json::object());

  std::vector<ProgressRow> rows = read_progress(db, "job-1");
  ASSERT_EQ(rows.size(), 4u);
  // Ordered by timestamp, step_index.
  EXPECT_EQ(rows[0].step_type, "class");
  EXPECT_EQ(rows[0].step_index, 0);
  EXPECT_EQ(rows[0].step_total, 2);
  EXPECT_EQ(rows[0].message, "attack");
  EXPECT_EQ(rows[0].metrics, Json::object());
  EXPECT_EQ(rows[1].step_type, "epoch");
  EXPECT_EQ(rows[1].step_index, 1);
  EXPECT_EQ(rows[1].step_total, 10);
  EXPECT_EQ(rows[1].message, "");
  EXPECT_EQ(python_json_dumps(rows[1].metrics), R"({"loss": 0.25, "auc": 1.0})");
  EXPECT_EQ(rows[2].step_type, "epoch");
  EXPECT_EQ(rows[2].step_index, 0);
  EXPECT_EQ(python_json_dumps(rows[2].metrics), R"({"loss": 0.125})");
  EXPECT_EQ(rows[3].step_type, "phase");
  EXPECT_EQ(rows[3].step_index, 0);
  EXPECT_EQ(rows[3].step_total, 0);
  EXPECT_EQ(rows[3].message, "fit: done");
  EXPECT_EQ(rows[3].metrics, Json::object());
  for (const auto& r : rows) EXPECT_TRUE(std::regex_match(r.timestamp, kIsoRe));
  // The raw metric_json text is json.dumps(metrics) (insertion order, ", " / ": ").
  FeatureRegistry reg = FeatureRegistry::open(tmp / "features");
  EXPECT_EQ(reg.read_progress("job-1").size(), 4u);
  EXPECT_EQ(cb.get_progress().size(), 4u);
  EXPECT_EQ(read_progress(db, "job-2").size(), 1u);
  EXPECT_EQ(reg.journal_mode(), "wal");
  // clear_job deletes one job's rows only.
  cb.clear_job();
  EXPECT_TRUE(read_progress(db, "job-1").empty());
  EXPECT_EQ(read_progress(db, "job-2").size(), 1u);
}

// A job trains in a child process (a slow model writing SQLite progress); this process reads the
// rows while the child runs, through its own connections, and sees them grow.
TEST(ProgressCallbacks, ReadWhileAnotherProcessTrains) {
  Fixture fx;
  const fs::path db = fx.ds.root("features") / ".mosaic.db";
  { FeatureRegistry reg = FeatureRegistry::open(fx.ds.root("features")); }
  Json cfg = fx.config();
  cfg["epochs"] = 6;
  cfg["sleep_ms"] = 60;  // 2 classes x 6 epochs x 60 ms: about 0.7 s of training
  std::fflush(nullptr);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    try {
      SqliteProgressCallback sql(db, "live-job");
      train_model(fx.ds, "test-class-means", ModelConfig::object(cfg), quiet(&sql));
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  std::vector<std::size_t> seen;  // row counts observed while the child was still running
  int status = 0;
  for (int i = 0; i < 400; ++i) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    auto t0 = std::chrono::steady_clock::now();
    std::size_t n = fs::exists(db) ? read_progress(db, "live-job").size() : 0;
    // A reader never waits for the writer (WAL): a read takes far less than one epoch.
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1000));
    if (done == pid) break;
    seen.push_back(n);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!WIFEXITED(status)) ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  // Partial progress was visible before the job ended, and it grew.
  ASSERT_FALSE(seen.empty());
  std::size_t partial = 0;
  for (std::size_t n : seen)
    if (n > 0 && n < 9) ++partial;
  EXPECT_GE(partial, 2u);
  EXPECT_LE(seen.front(), seen.back());
  // Final rows: 2 class rows, 6 epoch rows (indices overwritten by the second class), 1 phase.
  std::vector<ProgressRow> rows = read_progress(db, "live-job");
  EXPECT_EQ(rows.size(), 2u + 6u + 1u);
  EXPECT_EQ(rows.back().step_type, "phase");
  EXPECT_EQ(rows.back().message, "done: 0.1-" + hash_params(cfg));
}

}  // namespace
}  // namespace mosaic
