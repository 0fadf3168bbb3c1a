// behavior-xgb: one-vs-rest XGBoost behaviour classifiers over the per-frame outputs of one or
// several feature runs, trained on labels/<kind>/ (the reference's BehaviorXGBoostModel,
// model_library/behavior_xgboost.py at 8fe79a5).
//
// The steps follow the reference: gather each sequence's feature rows and labels, drop rows with
// a non-finite feature, split sequences into train/test (given lists, or a default_rng shuffle
// with train_fraction), standardise with the train split's mean and std, then per class
// undersample (foreground_samples, undersample_ratio, RandomUnderSampler's RandomState draws),
// train a binary:logistic booster round by round (reporting each round's test logloss) and
// evaluate it on the test split. Written to the run folder: xgboost_model.json + one XGBoost
// JSON file per class (never pickles; the `xgboost` feature applies it per frame), reports.json,
// summary.csv, sequence_splits.json; the metrics (also metrics.json) carry per-class precision,
// recall, F1, average precision and the confusion matrix.
//
// Where we differ (docs in the report of issue 7):
// - Unlabelled rows are excluded, never class 0 (DECISIONS F6).
// - Several inputs are merged as run_feature merges them (inner join on frame/id/id1/id2/
//   perspective, clashing columns renamed <col>__<i>), not stacked row by row; column names are
//   the merged names, so the `xgboost` feature can apply the model to the same inputs.
// - Feature columns are helpers.feature_columns (numeric, minus frame/time/id/id1/id2/
//   perspective/... ), sorted; the reference's select_dtypes kept `time` and `perspective`.
// - CPU only: `device`, `predictor`, `gpu_id` and `n_jobs` of the presets are not passed on.
// - use_smote (imbalanced-learn), feature_loader, pair_filter and use_external_memory are
//   refused with a clear message.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <numeric>
#include <set>

#include "features/kernels/random.hpp"
#include "models/behavior_labels.hpp"
#include "models/classifier_bundle.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/run_id.hpp"
#include "mosaic/training.hpp"
#include "pipeline/manifest.hpp"

namespace mosaic::models {
namespace {

namespace fs = std::filesystem;

const ModelInfo kInfo{.name = "behavior-xgb",
                      .version = "0.1",
                      .summary = "One-vs-rest XGBoost behaviour classifiers over per-frame feature runs, "
                                 "trained on labels/<kind>/."};

const std::vector<std::string>& allowed_keys() {
  static const std::vector<std::string> keys = {
      "feature", "feature_run_id", "feature_loader", "inputs", "pair_filter", "label_kind", "train_sequences",
      "test_sequences", "train_fraction", "random_state", "classes", "standardize", "foreground_samples",
      "undersample_ratio", "use_smote", "xgb_params", "xgb_params_preset", "decision_threshold", "label_map",
      "use_external_memory", "external_memory_chunk_rows", "xgb_verbose"};
  return keys;
}

// model_library/helpers.py XGB_PARAM_PRESETS.
const Json& presets() {
  static const Json p = Json::parse(R"({
    "xgb_v0": {"objective": "binary:logistic", "tree_method": "hist", "device": "cuda", "n_estimators": 1500,
               "learning_rate": 0.05, "max_depth": 6, "subsample": 0.8, "colsample_bytree": 0.8,
               "reg_lambda": 1.0, "reg_alpha": 0.0, "n_jobs": -1, "random_state": 123, "eval_metric": "logloss"},
    "xgb_v1": {"objective": "binary:logistic", "device": "cuda", "tree_method": "hist",
               "eval_metric": ["logloss", "aucpr"], "n_estimators": 3000, "learning_rate": 0.03, "max_depth": 10,
               "min_child_weight": 8, "gamma": 2.0, "subsample": 0.7, "colsample_bytree": 0.6,
               "colsample_bylevel": 0.8, "reg_lambda": 2.0, "reg_alpha": 0.5, "max_bin": 256,
               "sampling_method": "gradient_based", "n_jobs": -1, "random_state": 123},
    "xgb_v2": {"objective": "binary:logistic", "device": "cuda", "tree_method": "hist",
               "eval_metric": ["logloss", "aucpr"], "n_estimators": 4000, "learning_rate": 0.02, "max_depth": 4,
               "min_child_weight": 3, "gamma": 0.0, "subsample": 0.9, "colsample_bytree": 0.9, "reg_lambda": 1.0,
               "reg_alpha": 0.0, "max_bin": 256, "sampling_method": "gradient_based", "n_jobs": -1,
               "random_state": 123}})");
  return p;
}

struct Payload {
  std::string sequence_safe, sequence, group;
  std::vector<float> x;  // rows x cols, row-major
  std::vector<int64_t> y;
  std::size_t rows() const { return y.size(); }
};

// numpy legacy RandomState.permutation(n) (shuffle of arange with legacy random_interval).
std::vector<int64_t> legacy_permutation(kernels::Mt19937RandomState& rs, int64_t n) {
  std::vector<int64_t> a(static_cast<std::size_t>(n));
  std::iota(a.begin(), a.end(), 0);
  for (int64_t i = n - 1; i >= 1; --i) {
    uint64_t max = static_cast<uint64_t>(i), mask = max, value = 0;
    for (int s = 1; s <= 32; s *= 2) mask |= mask >> s;
    if (max <= 0xffffffffULL) {
      while ((value = (rs.next32() & mask)) > max) {}
    } else {
      while ((value = (rs.next64() & mask)) > max) {}
    }
    std::swap(a[static_cast<std::size_t>(i)], a[static_cast<std::size_t>(value)]);
  }
  return a;
}

// sklearn average_precision_score for binary labels: sum over thresholds (distinct scores,
// descending) of (R_n - R_{n-1}) * P_n.
double average_precision(const std::vector<int>& y, const std::vector<float>& score) {
  std::vector<std::size_t> order(y.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return score[a] > score[b]; });
  double total_pos = 0;
  for (int v : y) total_pos += v;
  if (total_pos == 0) return std::nan("");
  double tp = 0, fp = 0, ap = 0, prev_recall = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    tp += y[order[i]];
    fp += 1 - y[order[i]];
    if (i + 1 < order.size() && score[order[i + 1]] == score[order[i]]) continue;
    double recall = tp / total_pos, precision = tp / (tp + fp);
    ap += (recall - prev_recall) * precision;
    prev_recall = recall;
  }
  return ap;
}

Json prf(double tp, double fp, double fn, double support) {
  double p = tp + fp > 0 ? tp / (tp + fp) : 0.0;
  double r = tp + fn > 0 ? tp / (tp + fn) : 0.0;
  double f = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
  return {{"precision", p}, {"recall", r}, {"f1-score", f}, {"support", support}};
}

class BehaviorXgb final : public Model {
 public:
  static const ModelInfo& static_info() { return kInfo; }
  const ModelInfo& info() const override { return kInfo; }

  void configure(const Json& config) override {
    check_config_keys(config, allowed_keys(), kInfo.name);
    // The reference's defaults, then the config over them.
    cfg_ = Json{{"standardize", true},       {"foreground_samples", nullptr}, {"undersample_ratio", 3.0},
                {"use_smote", false},        {"train_fraction", 0.8},         {"random_state", 42},
                {"label_kind", "behavior"},  {"decision_threshold", 0.5},     {"xgb_params_preset", "xgb_v0"},
                {"use_external_memory", false}, {"external_memory_chunk_rows", 500000}};
    for (auto it = config.begin(); it != config.end(); ++it) cfg_[it.key()] = it.value();
    const bool has_feature = cfg_.contains("feature") && cfg_["feature"].is_string() && !cfg_["feature"].get<std::string>().empty();
    const bool has_inputs = cfg_.contains("inputs") && cfg_["inputs"].is_array() && !cfg_["inputs"].empty();
    if (!has_feature && !has_inputs) throw InputError("behavior-xgb: config requires 'feature' or 'inputs'.");
    if (cfg_.value("use_smote", false))
      throw InputError("behavior-xgb: use_smote=true is not supported by mosaic-cpp (imbalanced-learn's SMOTE is not "
                       "ported); use foreground_samples / undersample_ratio");
    if (cfg_.value("use_external_memory", false))
      throw InputError("behavior-xgb: use_external_memory=true is not supported by mosaic-cpp (in-memory training only)");
    for (const char* k : {"feature_loader", "pair_filter"})
      if (cfg_.contains(k) && !cfg_[k].is_null() && !(cfg_[k].is_object() && cfg_[k].empty()))
        throw InputError(fmt::format("behavior-xgb: '{}' is not supported by mosaic-cpp (parquet feature runs, all "
                                     "rows); remove it from the config",
                                     k));
    std::string preset = cfg_["xgb_params_preset"].is_string() ? cfg_["xgb_params_preset"].get<std::string>() : "";
    if (!preset.empty() && !presets().contains(preset))
      throw InputError(fmt::format("behavior-xgb: unknown xgb_params_preset '{}' (available: xgb_v0, xgb_v1, xgb_v2)",
                                   preset));
    if (cfg_.contains("xgb_params") && !cfg_["xgb_params"].is_null() && !cfg_["xgb_params"].is_object())
      throw InputError("behavior-xgb: xgb_params must be an object of XGBoost parameters");
    auto expect = [&](const char* key, bool ok, const char* what) {
      if (!ok) throw InputError(fmt::format("behavior-xgb: '{}' must be {}, got {}", key, what, cfg_[key].dump()));
    };
    expect("train_fraction", cfg_["train_fraction"].is_number(), "a number");
    expect("random_state", cfg_["random_state"].is_number_integer(), "an integer");
    expect("undersample_ratio", cfg_["undersample_ratio"].is_number(), "a number");
    expect("decision_threshold", cfg_["decision_threshold"].is_number(), "a number");
    expect("foreground_samples", cfg_["foreground_samples"].is_null() || cfg_["foreground_samples"].is_number_integer(),
           "an integer or null");
    expect("label_kind", cfg_["label_kind"].is_string(), "a string");
    expect("standardize", cfg_["standardize"].is_boolean(), "true or false");
    double tf = cfg_["train_fraction"].get<double>();
    if (!(tf > 0.0 && tf < 1.0) && !cfg_.contains("train_sequences"))
      throw InputError(fmt::format("behavior-xgb: train_fraction must be in (0, 1), got {}", tf));
  }

  Json train(const TrainContext& ctx, ProgressCallback& progress) override {
    const auto t0 = std::chrono::steady_clock::now();
    const Dataset& ds = ctx.dataset;
    progress.on_phase("data_prep", "Collecting feature/label sequences");
    std::vector<Payload> payloads = collect(ds);
    auto [train_seqs, test_seqs] = split(payloads);
    std::vector<const Payload*> train_p, test_p;
    for (const auto& p : payloads) {
      if (std::count(train_seqs.begin(), train_seqs.end(), p.sequence_safe)) train_p.push_back(&p);
      if (std::count(test_seqs.begin(), test_seqs.end(), p.sequence_safe)) test_p.push_back(&p);
    }
    const std::size_t cols = columns_.size();
    auto stack = [&](const std::vector<const Payload*>& ps, std::vector<float>& x, std::vector<int64_t>& y) {
      for (const Payload* p : ps) {
        x.insert(x.end(), p->x.begin(), p->x.end());
        y.insert(y.end(), p->y.begin(), p->y.end());
      }
    };
    std::vector<float> x_train, x_test;
    std::vector<int64_t> y_train, y_test;
    stack(train_p, x_train, y_train);
    stack(test_p, x_test, y_test);
    if (y_train.empty() || y_test.empty()) throw StateError("behavior-xgb: Train/test matrices are empty after stacking.");

    ClassifierBundle bundle;
    bundle.strategy = kOneVsRest;
    bundle.feature_columns = columns_;
    if (cfg_.value("standardize", true)) {
      standardize_fit(x_train, cols, bundle.scaler_mean, bundle.scaler_scale);
      standardize_apply(x_train, bundle.scaler_mean, bundle.scaler_scale);
      standardize_apply(x_test, bundle.scaler_mean, bundle.scaler_scale);
    }
    std::vector<int64_t> classes;
    if (cfg_.contains("classes") && cfg_["classes"].is_array() && !cfg_["classes"].empty()) {
      for (const auto& c : cfg_["classes"]) classes.push_back(c.get<int64_t>());
    } else {
      std::set<int64_t> s(y_train.begin(), y_train.end());
      classes.assign(s.begin(), s.end());
    }

    auto [params, rounds] = booster_params();
    const int64_t seed = cfg_["random_state"].get<int64_t>();
    const double threshold = cfg_["decision_threshold"].get<double>();
    xgb::DMatrix dtest = xgb::DMatrix::dense(x_test, y_test.size(), cols);
    Json reports = Json::object(), per_class = Json::object();
    std::string summary = "behavior,precision,recall,f1,support,average_precision\n";
    for (std::size_t ci = 0; ci < classes.size(); ++ci) {
      const int64_t beh = classes[ci];
      progress.on_class_start(static_cast<int64_t>(ci), static_cast<int64_t>(classes.size()), std::to_string(beh));
      std::vector<int> yb(y_train.size()), yt(y_test.size());
      std::size_t pos = 0;
      for (std::size_t r = 0; r < y_train.size(); ++r) pos += (yb[r] = y_train[r] == beh);
      for (std::size_t r = 0; r < y_test.size(); ++r) yt[r] = y_test[r] == beh;
      if (pos == 0) {
        std::cerr << fmt::format("[behavior-xgb] WARN: no positives for class {}; skipping.\n", beh);
        continue;
      }
      std::vector<int64_t> keep = resample(yb, static_cast<uint32_t>(seed));
      std::vector<float> xs;
      std::vector<float> ys;
      xs.reserve(keep.size() * cols);
      for (int64_t r : keep) {
        xs.insert(xs.end(), x_train.begin() + r * static_cast<int64_t>(cols),
                  x_train.begin() + (r + 1) * static_cast<int64_t>(cols));
        ys.push_back(static_cast<float>(yb[static_cast<std::size_t>(r)]));
      }
      std::size_t npos = 0;
      for (float v : ys) npos += v > 0.5F;
      double spw = double(std::max<std::size_t>(1, ys.size() - npos)) / double(std::max<std::size_t>(1, npos));
      if (resampled()) spw = 1.0;
      xgb::DMatrix dtrain = xgb::DMatrix::dense(xs, ys.size(), cols);
      dtrain.set_labels(ys);
      std::vector<float> yt_f(yt.begin(), yt.end());
      dtest.set_labels(yt_f);
      BoosterParams bp = params;
      bp.emplace_back("scale_pos_weight", python_float_repr(spw));
      xgb::Booster booster = train_booster(dtrain, bp, rounds, [&](int round, xgb::Booster& b) {
        progress.on_epoch_end(round, rounds, parse_eval(b.eval_one_iter(round, {{&dtest, "test"}})));
      });
      std::vector<float> prob = booster.predict(dtest);
      std::vector<int> pred(prob.size());
      for (std::size_t r = 0; r < prob.size(); ++r) pred[r] = prob[r] >= threshold;
      int64_t cm[2][2] = {{0, 0}, {0, 0}};
      for (std::size_t r = 0; r < pred.size(); ++r) cm[yt[r]][pred[r]] += 1;
      const double ap = average_precision(yt, prob);
      Json rep = Json::object();
      rep["not_" + std::to_string(beh)] = prf(cm[0][0], cm[1][0], cm[0][1], cm[0][0] + cm[0][1]);
      rep[std::to_string(beh)] = prf(cm[1][1], cm[0][1], cm[1][0], cm[1][0] + cm[1][1]);
      const double n = double(pred.size());
      rep["accuracy"] = n > 0 ? (cm[0][0] + cm[1][1]) / n : 0.0;
      Json cmj = {{cm[0][0], cm[0][1]}, {cm[1][0], cm[1][1]}};
      Json ap_json = std::isfinite(ap) ? Json(ap) : Json();
      reports[std::to_string(beh)] = {{"report", rep}, {"confusion_matrix", cmj}, {"average_precision", ap_json}};
      const Json& pr = rep[std::to_string(beh)];
      per_class[std::to_string(beh)] = {{"precision", pr["precision"]},   {"recall", pr["recall"]},
                                        {"f1", pr["f1-score"]},           {"support", pr["support"]},
                                        {"average_precision", ap_json},   {"confusion_matrix", cmj},
                                        {"scale_pos_weight", spw},        {"n_train_resampled", ys.size()}};
      summary += fmt::format("{},{},{},{},{},{}\n", beh, python_float_repr(pr["precision"].get<double>()),
                             python_float_repr(pr["recall"].get<double>()),
                             python_float_repr(pr["f1-score"].get<double>()),
                             python_float_repr(pr["support"].get<double>()),
                             std::isfinite(ap) ? python_float_repr(ap) : std::string());
      bundle.classes.push_back(beh);
      bundle.boosters.push_back(std::move(booster));
    }
    if (bundle.boosters.empty()) throw StateError("behavior-xgb: No classifiers were trained (all classes skipped).");

    progress.on_phase("save", "Writing models and reports");
    Json splits = {{"train", split_meta(payloads, train_seqs)}, {"test", split_meta(payloads, test_seqs)}};
    bundle.extra = {{"producer", kInfo.name},        {"version", kInfo.version},
                    {"run_id", ctx.run_id},          {"label_kind", cfg_["label_kind"]},
                    {"label_map", cfg_.value("label_map", Json())},
                    {"inputs", inputs_json_},        {"decision_threshold", threshold},
                    {"xgb_params", params_json(params, rounds)}};
    bundle.save(ctx.run_root / "xgboost_model.json");
    write_file_atomic(ctx.run_root / "reports.json", reports.dump(2));
    write_file_atomic(ctx.run_root / "summary.csv", summary);
    write_file_atomic(ctx.run_root / "sequence_splits.json", splits.dump(2));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return Json{{"classes_trained", bundle.classes},
                {"n_train_samples", y_train.size()},
                {"n_test_samples", y_test.size()},
                {"summary_csv", (ctx.run_root / "summary.csv").string()},
                {"reports_json", (ctx.run_root / "reports.json").string()},
                {"models_path", (ctx.run_root / "xgboost_model.json").string()},
                {"train_sequences", train_seqs},
                {"test_sequences", test_seqs},
                {"per_class", per_class},
                {"feature_columns", columns_.size()},
                {"xgboost_version", xgb::version()},
                {"train_seconds", seconds}};
  }

 private:
  // The inputs as pinned Results, and which name the model's metadata uses for them.
  Inputs resolve_inputs(const Dataset& ds) {
    std::vector<Result> results;
    auto pin = [&](const std::string& feature, const Json& run_id) {
      fs::path index = ds.root("features") / feature / "index.csv";
      if (!fs::exists(index)) throw IoError(fmt::format("behavior-xgb: Feature index missing: {}", index.string()));
      std::string id = run_id.is_string() ? run_id.get<std::string>() : FeatureIndex(index).latest_run_id();
      results.push_back(Result{feature, id});
      inputs_json_.push_back({{"feature", feature}, {"run_id", id}});
    };
    inputs_json_ = Json::array();
    if (cfg_.contains("inputs") && cfg_["inputs"].is_array() && !cfg_["inputs"].empty()) {
      for (const auto& spec : cfg_["inputs"]) {
        if (!spec.is_object() || !spec.contains("feature"))
          throw InputError(fmt::format("behavior-xgb: each inputs entry needs 'feature', got {}", spec.dump()));
        for (auto it = spec.begin(); it != spec.end(); ++it)
          if (it.key() != "feature" && it.key() != "run_id" && it.key() != "name" && it.key() != "pattern")
            throw InputError(fmt::format("behavior-xgb: inputs entry key '{}' is not supported (feature, run_id, name, "
                                         "pattern)",
                                         it.key()));
        pin(spec["feature"].get<std::string>(), spec.value("run_id", Json()));
      }
    } else {
      pin(cfg_["feature"].get<std::string>(), cfg_.value("feature_run_id", Json()));
    }
    return Inputs::of(results);
  }

  std::vector<Payload> collect(const Dataset& ds) {
    const std::string kind = cfg_["label_kind"].get<std::string>();
    std::map<std::string, LabelsEntry> labels = labels_lookup(ds, kind);
    Inputs inputs = resolve_inputs(ds);
    Manifest manifest = build_manifest(ds, inputs, std::nullopt, std::nullopt);
    if (manifest.entries.empty())
      throw StateError(fmt::format("behavior-xgb: the inputs {} have no sequence in common", inputs_json_.dump()));
    std::vector<Payload> out;
    std::vector<std::string> without_labels;
    for (const auto& e : manifest.entries) {
      Table t = load_entry(e.files, e.key, EntryFilters{});
      if (t.num_rows() == 0) continue;
      std::string safe = to_safe_name(e.sequence);
      auto lab = labels.find(safe);
      if (lab == labels.end() || !fs::exists(lab->second.path)) {
        without_labels.push_back(e.sequence);
        continue;
      }
      if (columns_.empty()) {
        static const std::set<std::string> kExcluded = {"id", "sequence", "group", "frame", "time", "id1", "id2",
                                                        "id_a", "id_b", "id_A", "id_B", "entity_level",
                                                        "perspective", "fps", "label", "split"};
        for (std::size_t c = 0; c < t.num_columns(); ++c)
          if (is_numeric(t.column(c).type()) && !kExcluded.count(t.column_names()[c]))
            columns_.push_back(t.column_names()[c]);
        std::sort(columns_.begin(), columns_.end());
        if (columns_.empty())
          throw SchemaError(fmt::format("behavior-xgb: entry {} has no numeric feature columns (columns: {})", e.key,
                                        join_names(t.column_names())));
      }
      if (!t.has_column("frame")) throw SchemaError::missing_column("behavior-xgb input " + e.key, "frame", t.column_names());
      Column frame = t.column("frame").cast(DType::kInt64);
      std::vector<int64_t> frames(frame.i64().begin(), frame.i64().end());
      LabelsFile lf = read_labels_file(lab->second.path);
      std::vector<int64_t> y;
      if (t.has_column("id1") && t.has_column("id2") && !t.column("id1").has_nulls() && !t.column("id2").has_nulls()) {
        Column a = t.column("id1").cast(DType::kInt64), b = t.column("id2").cast(DType::kInt64);
        y = labels_for_pairs(lf, frames, a.i64(), b.i64());
      } else {
        y = labels_for_frames(lf, frames);
      }
      const std::size_t cols = columns_.size();
      std::vector<Column> data;
      for (const auto& c : columns_) {
        if (!t.has_column(c)) throw SchemaError::missing_column("behavior-xgb input " + e.key, c, t.column_names());
        data.push_back(t.column(c).cast(DType::kFloat64));
      }
      Payload p{safe, e.sequence, e.group, {}, {}};
      for (std::size_t r = 0; r < t.num_rows(); ++r) {
        if (y[r] == kUnlabeled) continue;  // DECISIONS F6
        bool finite = true;
        for (std::size_t c = 0; c < cols && finite; ++c) finite = std::isfinite(data[c].f64()[r]);
        if (!finite) continue;
        for (std::size_t c = 0; c < cols; ++c) p.x.push_back(static_cast<float>(data[c].f64()[r]));
        p.y.push_back(y[r]);
      }
      if (p.rows() > 0) out.push_back(std::move(p));
    }
    if (!without_labels.empty() && !cfg_.contains("train_sequences") && !cfg_.contains("test_sequences"))
      throw InputError(fmt::format("behavior-xgb: no '{}' labels for sequence(s) {} (labels index: {}); label them or "
                                   "list the labelled ones in train_sequences/test_sequences",
                                   kind, join_names(without_labels), (ds.root("labels") / kind / "index.csv").string()));
    if (out.empty()) throw StateError("behavior-xgb: No sequences had overlapping features and labels.");
    std::sort(out.begin(), out.end(), [](const Payload& a, const Payload& b) { return a.sequence_safe < b.sequence_safe; });
    return out;
  }

  std::pair<std::vector<std::string>, std::vector<std::string>> split(const std::vector<Payload>& payloads) const {
    auto names = [](const Json& v) {
      std::set<std::string> s;
      if (v.is_array())
        for (const auto& x : v) {
          std::string n = x.is_string() ? x.get<std::string>() : x.dump();
          s.insert(n);
          s.insert(to_safe_name(n));
        }
      return s;
    };
    std::set<std::string> given_train = names(cfg_.value("train_sequences", Json())),
                          given_test = names(cfg_.value("test_sequences", Json()));
    std::vector<std::string> train, test;
    if (!given_train.empty() || !given_test.empty()) {
      for (const auto& p : payloads) {
        if (given_train.count(p.sequence_safe)) train.push_back(p.sequence_safe);
        if (given_test.count(p.sequence_safe)) test.push_back(p.sequence_safe);
      }
    } else {
      std::vector<std::string> shuffled;
      for (const auto& p : payloads) shuffled.push_back(p.sequence_safe);
      kernels::Pcg64 rng(static_cast<uint64_t>(cfg_["random_state"].get<int64_t>()));
      rng.shuffle(std::span<std::string>(shuffled));
      const auto n = static_cast<int64_t>(shuffled.size());
      int64_t idx = std::max<int64_t>(1, static_cast<int64_t>(double(n) * cfg_["train_fraction"].get<double>()));
      idx = std::min(idx, n - 1);
      for (int64_t i = 0; i < n; ++i) (i < idx ? train : test).push_back(shuffled[static_cast<std::size_t>(i)]);
    }
    if (train.empty() || test.empty())
      throw InputError(fmt::format("behavior-xgb: Train/test split produced empty sets ({} labelled sequence(s): {}); "
                                   "adjust train_fraction or provide sequences.",
                                   payloads.size(), [&] {
                                     std::vector<std::string> s;
                                     for (const auto& p : payloads) s.push_back(p.sequence_safe);
                                     return join_names(s);
                                   }()));
    return {train, test};
  }

  static Json split_meta(const std::vector<Payload>& payloads, const std::vector<std::string>& seqs) {
    Json out = Json::array();
    for (const auto& s : seqs)
      for (const auto& p : payloads)
        if (p.sequence_safe == s)
          out.push_back({{"sequence_safe", s}, {"sequence", p.sequence}, {"group", p.group}, {"n_frames", p.rows()}});
    return out;
  }

  // sklearn StandardScaler on float32 input: float64 mean and (ddof 0) variance, scale 1 where
  // the variance is 0.
  static void standardize_fit(const std::vector<float>& x, std::size_t cols, std::vector<double>& mean,
                              std::vector<double>& scale) {
    const std::size_t n = x.size() / cols;
    mean.assign(cols, 0.0);
    scale.assign(cols, 0.0);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t c = 0; c < cols; ++c) mean[c] += x[r * cols + c];
    for (auto& m : mean) m /= double(n);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t c = 0; c < cols; ++c) {
        double d = x[r * cols + c] - mean[c];
        scale[c] += d * d;
      }
    for (auto& s : scale) {
      s = std::sqrt(s / double(n));
      if (s == 0.0 || !std::isfinite(s)) s = 1.0;
    }
  }
  static void standardize_apply(std::vector<float>& x, const std::vector<double>& mean, const std::vector<double>& scale) {
    const std::size_t cols = mean.size();
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = scaled_value(x[i], mean[i % cols], scale[i % cols]);
  }

  bool resampled() const {
    return !cfg_["foreground_samples"].is_null() || cfg_["undersample_ratio"].get<double>() != 1.0 ||
           cfg_.value("use_smote", false);
  }

  // helpers.undersample_then_smote: cap the minority class at foreground_samples and the
  // majority at round(n_min * undersample_ratio), with imblearn's RandomUnderSampler draws
  // (RandomState(seed).choice(count, n, replace=False) per class in ascending order). Returns
  // the kept row indices in imblearn's order.
  std::vector<int64_t> resample(const std::vector<int>& y, uint32_t seed) const {
    std::vector<int64_t> rows_of[2];
    for (std::size_t r = 0; r < y.size(); ++r) rows_of[y[r]].push_back(static_cast<int64_t>(r));
    std::vector<int64_t> all(y.size());
    std::iota(all.begin(), all.end(), 0);
    if (rows_of[0].empty() || rows_of[1].empty()) return all;
    // np.unique order; argmax / argmin take the first extreme.
    const int maj = rows_of[1].size() > rows_of[0].size() ? 1 : 0;
    const int minc = rows_of[1].size() < rows_of[0].size() ? 1 : 0;
    const auto count_min = static_cast<int64_t>(std::min(rows_of[0].size(), rows_of[1].size()));
    const auto count_max = static_cast<int64_t>(std::max(rows_of[0].size(), rows_of[1].size()));
    int64_t n_min = count_min;
    const Json& fg = cfg_["foreground_samples"];
    if (!fg.is_null() && fg.get<int64_t>() < n_min) n_min = fg.get<int64_t>();
    const auto n_maj_target =
        static_cast<int64_t>(std::nearbyint(double(n_min) * cfg_["undersample_ratio"].get<double>()));
    const bool needs = (!fg.is_null() && fg.get<int64_t>() < count_min) || n_maj_target < count_max;
    if (!needs) return all;
    std::map<int, int64_t> target;  // {minc: n_min, maj: ...}: the second wins when they coincide
    target[minc] = n_min;
    target[maj] = std::min(n_maj_target, count_max);
    kernels::Mt19937RandomState rs(seed);
    std::vector<int64_t> keep;
    for (int c = 0; c < 2; ++c) {
      auto t = target.find(c);
      if (t == target.end()) {
        keep.insert(keep.end(), rows_of[c].begin(), rows_of[c].end());
        continue;
      }
      std::vector<int64_t> perm = legacy_permutation(rs, static_cast<int64_t>(rows_of[c].size()));
      for (int64_t i = 0; i < t->second; ++i) keep.push_back(rows_of[c][static_cast<std::size_t>(perm[i])]);
    }
    return keep;
  }

  // Preset, then xgb_params over it; sklearn-style names mapped to the learner's.
  std::pair<BoosterParams, int> booster_params() const {
    Json merged = Json::object();
    std::string preset = cfg_["xgb_params_preset"].is_string() ? cfg_["xgb_params_preset"].get<std::string>() : "";
    if (!preset.empty()) merged = presets()[preset];
    if (cfg_.contains("xgb_params") && cfg_["xgb_params"].is_object())
      for (auto it = cfg_["xgb_params"].begin(); it != cfg_["xgb_params"].end(); ++it) merged[it.key()] = it.value();
    if (merged.empty()) merged = presets()["xgb_v0"];
    int rounds = 100;
    if (merged.contains("n_estimators")) rounds = merged["n_estimators"].get<int>();
    else if (merged.contains("num_boost_round")) rounds = merged["num_boost_round"].get<int>();
    if (rounds < 1) throw InputError(fmt::format("behavior-xgb: n_estimators must be >= 1, got {}", rounds));
    BoosterParams out;
    for (auto it = merged.begin(); it != merged.end(); ++it) {
      const std::string& k = it.key();
      if (k == "n_estimators" || k == "num_boost_round" || k == "device" || k == "predictor" || k == "gpu_id" ||
          k == "scale_pos_weight" || it.value().is_null())
        continue;
      if (k == "n_jobs") {
        if (it.value().get<int64_t>() > 0) out.emplace_back("nthread", param_text(it.value()));
        continue;
      }
      if (k == "random_state") {
        out.emplace_back("seed", param_text(it.value()));
        continue;
      }
      if (it.value().is_array()) {
        for (const auto& v : it.value()) out.emplace_back(k, param_text(v));
        continue;
      }
      out.emplace_back(k, param_text(it.value()));
    }
    return {out, rounds};
  }

  static Json params_json(const BoosterParams& params, int rounds) {
    Json j = Json::object();
    for (const auto& [k, v] : params) j[k] = v;
    j["num_boost_round"] = rounds;
    return j;
  }

  // "[3]\ttest-logloss:0.51\ttest-aucpr:0.8" -> {"test-logloss": 0.51, "test-aucpr": 0.8}.
  static Json parse_eval(const std::string& text) {
    Json m = Json::object();
    std::size_t pos = text.find('\t');
    while (pos != std::string::npos) {
      std::size_t next = text.find('\t', pos + 1);
      std::string item = text.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
      std::size_t colon = item.rfind(':');
      if (colon != std::string::npos) {
        try {
          m[item.substr(0, colon)] = std::stod(item.substr(colon + 1));
        } catch (const std::exception&) {
        }
      }
      pos = next;
    }
    return m;
  }

  Json cfg_;
  Json inputs_json_ = Json::array();
  std::vector<std::string> columns_;
};

}  // namespace
MOSAIC_REGISTER_MODEL(BehaviorXgb);
}  // namespace mosaic::models
