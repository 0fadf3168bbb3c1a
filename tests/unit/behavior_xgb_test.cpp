// behavior-xgb and the xgboost feature on simulated data with deterministic labels (the
// simulator's ground-truth approach/avoid episodes): reproducible metrics, model files and
// per-frame probabilities for a seed; progress events; bad configs give clear errors and a
// failed index row; the labels reader on Python-written (pickled names) and our own files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "common/test_util.hpp"
#include "models/behavior_labels.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/files.hpp"
#include "mosaic/json.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/run_feature.hpp"
#include "mosaic/simulate.hpp"
#include "mosaic/training.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using mosaic::testing::TempDir;

// ---- Labels ---------------------------------------------------------------------------------------

TEST(BehaviorLabels, PythonWrittenPairFileWithPickledNames) {
  fs::path f = fs::path(MOSAIC_SOURCE_DIR) / "tests" / "data" / "npz" / "python_labels.npz";
  models::LabelsFile lf = models::read_labels_file(f);
  EXPECT_EQ(lf.format, "individual_pair_v1");
  EXPECT_EQ(lf.label_names, (std::vector<std::string>{"attack", "investigation", "other_interaction"}));
  EXPECT_EQ(lf.label_ids, (std::vector<int64_t>{0, 1, 2}));
  // Events: (10, [0, 1], 0), (11, [1, -1], 2), (250, [-1, -1], 1).
  std::vector<int64_t> frames = {10, 11, 250, 999};
  // Frame-only: events with id1 <= id2; frame 11's event is [1, -1]; 999 has none (F6: unlabelled).
  EXPECT_EQ(models::labels_for_frames(lf, frames), (std::vector<int64_t>{0, -1, 1, -1}));
  // Pair-aware: (frame, {a, b}) in either order.
  std::vector<int64_t> a = {1, -1, -1, 0}, b = {0, 1, -1, 1};
  EXPECT_EQ(models::labels_for_pairs(lf, frames, a, b), (std::vector<int64_t>{0, 2, 1, -1}));
}

TEST(BehaviorLabels, DenseOutOfRangeAndMinusOneAreUnlabelled) {
  TempDir tmp;
  fs::path p = tmp / "d.npz";
  write_npz(p, {{"labels", NpyArray::from_int64({4}, {2, -1, 0, 1})}});
  models::LabelsFile lf = models::read_labels_file(p);
  EXPECT_EQ(lf.format, "dense");
  std::vector<int64_t> frames = {0, 1, 2, 3, 4, -1};
  EXPECT_EQ(models::labels_for_frames(lf, frames), (std::vector<int64_t>{2, -1, 0, 1, -1, -1}));
  write_npz(tmp / "bad.npz", {{"frames", NpyArray::from_int64({1}, {0})}});
  try {
    models::read_labels_file(tmp / "bad.npz");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown label format"));
    EXPECT_THAT(e.what(), HasSubstr("keys: frames"));
  }
}

TEST(BehaviorLabels, WrittenPairFileRoundTripsWithItsIndexRow) {
  TempDir tmp;
  Dataset ds = Dataset::create(tmp / "d", {.fps = 30.0});
  models::PairEvents ev{{5, 5, 6}, {1, 0, 2}, {0, 0, 1}, {1, 2, 2}, {0, 1, 2}, {"other", "approach", "avoid"}, 7};
  fs::path p = models::write_pair_labels(ds, "behavior", "g", "s 1", ev);
  EXPECT_EQ(p.filename(), "g__s%201.npz");
  models::LabelsFile lf = models::read_labels_file(p);
  EXPECT_EQ(lf.frames, ev.frames);
  EXPECT_EQ(lf.labels, ev.labels);
  EXPECT_EQ(lf.id1, ev.id1);
  EXPECT_EQ(lf.id2, ev.id2);
  EXPECT_EQ(lf.label_names, ev.label_names);
  auto lookup = models::labels_lookup(ds, "behavior");
  ASSERT_EQ(lookup.count("s%201"), 1u);
  EXPECT_EQ(lookup["s%201"].sequence, "s 1");
  std::string index = read_file_text(ds.root("labels") / "behavior" / "index.csv");
  EXPECT_THAT(index, HasSubstr("kind,label_format,group,sequence,group_safe,sequence_safe,abs_path,source_abs_path,"
                               "source_md5,n_frames,label_ids,label_names"));
  EXPECT_THAT(index, HasSubstr("\"0,1,2\",\"other,approach,avoid\""));
}

// ---- Training on simulated data -------------------------------------------------------------------

SimulationOptions sim_options() {
  SimulationOptions o;
  o.sequences = 3;
  o.animals = 3;
  o.frames = 1800;
  o.seed = 7;
  return o;
}

TrainOptions quiet(ProgressCallback* cb = nullptr) {
  TrainOptions o;
  o.log = false;
  o.progress = cb;
  return o;
}

struct Recording : ProgressCallback {
  std::vector<std::string> classes, phases;
  int64_t epochs = 0;
  std::set<std::string> metric_keys;
  void on_epoch_end(int64_t, int64_t, const Json& m) override {
    ++epochs;
    for (auto it = m.begin(); it != m.end(); ++it) metric_keys.insert(it.key());
  }
  void on_class_start(int64_t, int64_t, const std::string& n) override { classes.push_back(n); }
  void on_phase(const std::string& p, const std::string&) override { phases.push_back(p); }
};

// A simulated dataset with pair-egocentric features and the simulator's ground-truth labels.
struct SimFixture {
  TempDir tmp;
  Dataset ds;
  std::string storage;
  SimFixture() : ds(Dataset::create(tmp / "d", {.fps = 30.0})) {
    SimulationOptions o = sim_options();
    for (int s = 0; s < o.sequences; ++s) ds.write_tracks("", simulated_sequence_name(s), simulate_sequence(o, s), {});
    write_simulated_behavior_labels(ds, o, "");
    auto f = make_feature("pair-egocentric", std::nullopt, Json::object());
    RunOptions opt;
    opt.log = false;
    storage = run_feature(ds, *f, opt).result.feature;
  }
  Json config() const {
    return Json{{"feature", storage},
                {"train_sequences", {"seq001", "seq002"}},
                {"test_sequences", {"seq003"}},
                {"xgb_params", {{"n_estimators", 12}, {"max_depth", 4}, {"n_jobs", 1}}}};
  }
};

Table apply_xgboost(SimFixture& fx, const std::string& model_run) {
  auto f = make_feature("xgboost", Inputs::of({Result{fx.storage, std::nullopt}}),
                        Json{{"model", {{"feature", "behavior-xgb"}, {"run_id", model_run}}}, {"default_class", 0}});
  RunOptions opt;
  opt.log = false;
  RunResult r = run_feature(fx.ds, *f, opt);
  EXPECT_TRUE(r.failures.empty());
  return read_parquet(fx.ds.root("features") / r.result.feature / *r.result.run_id / "seq003.parquet");
}

TEST(BehaviorXgb, TrainsReproduciblyAndTheFeatureAppliesIt) {
  SimFixture a, b;
  Recording rec;
  std::string run_a = train_model(a.ds, "behavior-xgb", ModelConfig::object(a.config()), quiet(&rec));
  std::string run_b = train_model(b.ds, "behavior-xgb", ModelConfig::object(b.config()), quiet());
  EXPECT_EQ(run_a, run_b);  // the dataset is not part of the run id
  fs::path root_a = a.ds.root("models") / "behavior-xgb" / run_a, root_b = b.ds.root("models") / "behavior-xgb" / run_b;
  Json ma = Json::parse(read_file_text(root_a / "metrics.json"));
  Json mb = Json::parse(read_file_text(root_b / "metrics.json"));
  ASSERT_TRUE(ma.contains("per_class"));
  EXPECT_EQ(ma["per_class"], mb["per_class"]);
  EXPECT_EQ(ma["n_train_samples"], mb["n_train_samples"]);
  // Every class of the simulator's truth occurs, and each has the metrics asked for.
  EXPECT_EQ(ma["classes_trained"], Json::parse("[0, 1, 2]"));
  for (const auto& [cls, m] : ma["per_class"].items()) {
    for (const char* k : {"precision", "recall", "f1", "average_precision", "confusion_matrix", "support"})
      EXPECT_TRUE(m.contains(k)) << cls << " lacks " << k;
    EXPECT_EQ(m["confusion_matrix"].size(), 2u);
  }
  // "other" vs the rest is easy on this data.
  EXPECT_GT(ma["per_class"]["0"]["f1"].get<double>(), 0.8);
  for (const char* f : {"xgboost_model.json", "xgboost_model.0.json", "reports.json", "summary.csv", "sequence_splits.json"})
    EXPECT_TRUE(fs::exists(root_a / f)) << f;
  EXPECT_EQ(read_file_text(root_a / "xgboost_model.1.json"), read_file_text(root_b / "xgboost_model.1.json"));
  // Progress: the data phase, a class event per class, one epoch per boosting round.
  EXPECT_EQ(rec.phases.front(), "data_prep");
  EXPECT_EQ(rec.classes, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(rec.epochs, 3 * 12);
  EXPECT_EQ(rec.metric_keys, (std::set<std::string>{"test-logloss"}));

  // The xgboost feature applies the trained model per frame: same probabilities in both datasets.
  Table pa = apply_xgboost(a, run_a), pb = apply_xgboost(b, run_b);
  EXPECT_TRUE(pa.equals(pb));
  EXPECT_EQ(pa.column_names(), (std::vector<std::string>{"frame", "id1", "id2", "perspective", "group", "sequence",
                                                         "prob_0", "prob_1", "prob_2", "predicted_label"}));
  EXPECT_EQ(pa.column("prob_1").type(), DType::kFloat32);
  // One row per input row: both perspectives of every pair (F5: the pairs stay apart).
  fs::path input = a.ds.root("features") / a.storage;
  for (const auto& run : fs::directory_iterator(input))
    if (run.is_directory()) {
      EXPECT_EQ(pa.num_rows(), read_parquet(run.path() / "seq003.parquet").num_rows());
    }
}

TEST(BehaviorXgb, BadConfigsAreClearErrorsAndFailedRows) {
  SimFixture fx;
  auto failed_with = [&](const Json& cfg, const std::string& needle) {
    try {
      train_model(fx.ds, "behavior-xgb", ModelConfig::object(cfg), quiet());
      ADD_FAILURE() << "expected an error for " << cfg.dump();
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(needle)) << cfg.dump();
    }
    Json rows = list_model_runs(fx.ds, "behavior-xgb");
    ASSERT_FALSE(rows.empty());
    EXPECT_EQ(rows.back()["status"], "failed");
    EXPECT_THAT(rows.back()["notes"].get<std::string>(), HasSubstr(needle));
  };
  Json typo = fx.config();
  typo["train_fraktion"] = 0.5;
  failed_with(typo, "unknown config key 'train_fraktion'");
  failed_with(Json{{"feature", "no-such-feature"}}, "Feature index missing");
  failed_with(Json{{"label_kind", "behavior"}}, "requires 'feature' or 'inputs'");
  Json ratio = fx.config();
  ratio["undersample_ratio"] = "three";
  failed_with(ratio, "'undersample_ratio' must be a number");
  Json smote = fx.config();
  smote["use_smote"] = true;
  failed_with(smote, "use_smote");
  // Labels missing for a sequence: its file removed (the index row stays, pointing nowhere).
  fs::remove(models::labels_lookup(fx.ds, "behavior").at("seq002").path);
  Json all = fx.config();
  all.erase("train_sequences");
  all.erase("test_sequences");
  failed_with(all, "no 'behavior' labels for sequence(s) seq002");
}

}  // namespace
}  // namespace mosaic
