// xgboost: an XGBoost behaviour classifier as a pipeline feature (features.md §1.11).
//
// Fit trains on labelled templates (extract-labeled-templates' templates.parquet: feature
// columns, `label`, `split`), multiclass (softprob, "balanced" sample weights) or one-vs-rest
// (binary:logistic, scale_pos_weight), through XGBoost's C API with the parameters the
// reference's XGBClassifier passes (tree_method hist, seed = random_state, float32 matrix,
// NaN = missing). Apply writes prob_<class> (float32) and predicted_label (int64) per row.
//
// Differences from the reference, all in DECISIONS:
// - F5: every key column of the input (frame, time, id, id1, id2, perspective, group, sequence)
//   is kept, so pair rows stay distinguishable; the version carries "+cpp.1".
// - The model is stored as XGBoost JSON files plus our JSON metadata (xgboost_model.json),
//   never as a joblib pickle. `model` may name an `xgboost` feature run or a `behavior-xgb`
//   model run (models/behavior-xgb/<run_id>/); both write the same bundle.
// - Class ids need not be 0..K-1 (the reference's XGBClassifier raises); they are mapped to
//   their rank for training and back for the output.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <set>

#include "features/feature_base.hpp"
#include "features/global_common.hpp"
#include "features/kernels/random.hpp"
#include "models/classifier_bundle.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/parquet.hpp"

namespace mosaic::features {
namespace {

namespace fs = std::filesystem;
using models::ClassifierBundle;

const FeatureInfo kInfo{.name = "xgboost",
                        .version = "0.1+cpp.1",
                        .summary = "Classify behaviour per frame with XGBoost trained on labelled templates "
                                   "(or a trained xgboost / behavior-xgb model); writes prob_<class> and predicted_label.",
                        .category = "global",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kResultsOnly,
                        .input_require = InputRequire::kNonEmpty,
                        .default_tracks_input = false,
                        .python_class = "XgboostFeature"};

constexpr const char* kModelFile = "xgboost_model.json";

const ParamSchema& params_schema() {
  static const ParamSchema schema = [] {
    ParamSchema s{
        "XgboostFeatureParams",
        {param("templates",
               ParamType::optional(artifact_type("parquet", "extract-labeled-templates", "templates.parquet",
                                                 Json{{"numeric_only", false}})),
               Json(), "Labelled templates to train on (extract-labeled-templates' templates.parquet)."),
         param("model",
               ParamType::optional(artifact_type("joblib", "", "xgboost_model.joblib")), Json(),
               "A trained model to apply instead: an xgboost feature run or a behavior-xgb model run "
               "(its xgboost_model.json; joblib pickles are never read)."),
         param("strategy", ParamType::literal({"multiclass", "one_vs_rest"}), Json("multiclass"),
               "One softmax model, or one binary model per class."),
         param("decision_threshold",
               ParamType::optional(ParamType::one_of({ParamType::floating(), ParamType::dict(ParamType::floating())})),
               Json(), "Zero probabilities below this (float, or {class: float}; a missing class = 0.0); "
                       "rows with every probability zeroed get default_class. None = plain argmax."),
         param_required("default_class", ParamType::integer(), "Class assigned when no probability passes the threshold."),
         param("class_weight", ParamType::optional(ParamType::literal({"balanced"})), Json("balanced"),
               "'balanced': weight classes by N/(K*count) (multiclass) or scale_pos_weight = neg/pos (one-vs-rest)."),
         param_bool("use_smote", false, "SMOTE oversampling (not available in mosaic-cpp: refused when true)."),
         param("undersample_ratio", ParamType::optional(ParamType::floating()), Json(),
               "Undersample each class to at most max(min_count, int(min_count*ratio)) rows (None = off)."),
         param_int("n_estimators", 100, "Boosting rounds.").at_least(1),
         param_int("max_depth", 6, "Maximum tree depth.").at_least(1),
         param_float("learning_rate", 0.1, "Boosting learning rate (eta).").greater_than(0),
         param_float("subsample", 0.8, "Row fraction per tree.").greater_than(0).at_most(1),
         param_float("colsample_bytree", 0.8, "Column fraction per tree.").greater_than(0).at_most(1),
         param_int("random_state", 42, "Seed of XGBoost and of the undersampling.")}};
    s.set_exclusive("templates", "model");
    return s;
  }();
  return schema;
}

// sklearn classification_report(output_dict=True, zero_division="warn" -> 0.0).
Json classification_report(const std::vector<int64_t>& y_true, const std::vector<int64_t>& y_pred) {
  std::set<int64_t> labels(y_true.begin(), y_true.end());
  labels.insert(y_pred.begin(), y_pred.end());
  Json rep = Json::object();
  double macro[3] = {0, 0, 0}, weighted[3] = {0, 0, 0};
  std::size_t correct = 0;
  for (std::size_t i = 0; i < y_true.size(); ++i) correct += y_true[i] == y_pred[i];
  for (int64_t c : labels) {
    std::size_t tp = 0, pred = 0, support = 0;
    for (std::size_t i = 0; i < y_true.size(); ++i) {
      tp += (y_true[i] == c && y_pred[i] == c);
      pred += y_pred[i] == c;
      support += y_true[i] == c;
    }
    double p = pred ? double(tp) / double(pred) : 0.0;
    double r = support ? double(tp) / double(support) : 0.0;
    double f = (p + r) > 0 ? 2 * p * r / (p + r) : 0.0;
    rep[std::to_string(c)] = {{"precision", p}, {"recall", r}, {"f1-score", f}, {"support", support}};
    const double v[3] = {p, r, f};
    for (int m = 0; m < 3; ++m) {
      macro[m] += v[m];
      weighted[m] += v[m] * double(support);
    }
  }
  const double n = double(y_true.size()), k = double(labels.size());
  rep["accuracy"] = n > 0 ? double(correct) / n : 0.0;
  rep["macro avg"] = {{"precision", macro[0] / k}, {"recall", macro[1] / k}, {"f1-score", macro[2] / k},
                      {"support", y_true.size()}};
  rep["weighted avg"] = {{"precision", weighted[0] / n}, {"recall", weighted[1] / n}, {"f1-score", weighted[2] / n},
                         {"support", y_true.size()}};
  return rep;
}

// The report transposed (pandas DataFrame(report).T.to_csv()): accuracy fills every cell.
std::string summary_csv(const Json& rep) {
  std::string out = ",precision,recall,f1-score,support\n";
  for (auto it = rep.begin(); it != rep.end(); ++it) {
    if (it.value().is_object()) {
      const Json& r = it.value();
      out += fmt::format("{},{},{},{},{}\n", it.key(), python_float_repr(r["precision"].get<double>()),
                         python_float_repr(r["recall"].get<double>()), python_float_repr(r["f1-score"].get<double>()),
                         python_float_repr(r["support"].get<double>()));
    } else {
      std::string v = python_float_repr(it.value().get<double>());
      out += fmt::format("{},{},{},{},{}\n", it.key(), v, v, v, v);
    }
  }
  return out;
}

class XgboostFeature final : public FeatureBase<XgboostFeature> {
 public:
  XgboostFeature(Inputs inputs, Json params) : FeatureBase(std::move(inputs), std::move(params)) {
    if (this->params()["use_smote"].get<bool>())
      throw InputError(
          "xgboost: use_smote=true is not supported by mosaic-cpp (imbalanced-learn's SMOTE is not ported); "
          "use undersample_ratio or class_weight='balanced'");
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  void bind_dataset(const Dataset& dataset) override { dataset_ = &dataset; }

  bool load_state(const fs::path& run_root, const ArtifactPaths& artifacts, const DependencyLookups&) override {
    bundle_.reset();
    templates_.reset();
    metrics_ = Json();
    if (fs::exists(run_root / kModelFile)) {  // branch 1: this run's own model
      bundle_ = ClassifierBundle::load(run_root / kModelFile);
      return true;
    }
    const Json& model = params()["model"];
    if (model.is_object()) {  // branch 2: a trained model named by `model`
      bundle_ = ClassifierBundle::load(model_file(model, artifacts));
      return true;
    }
    if (params()["templates"].is_object()) {  // branch 3: fit from templates
      auto it = artifacts.find("templates");
      if (it == artifacts.end())
        throw StateError(fmt::format("xgboost: no templates file matching '{}' in the run {} of '{}'",
                                     params()["templates"].value("pattern", ""),
                                     params()["templates"]["run_id"].is_string()
                                         ? params()["templates"]["run_id"].get<std::string>()
                                         : std::string("(latest)"),
                                     params()["templates"].value("feature", "")));
      templates_ = read_parquet(it->second);
      templates_path_ = it->second;
    }
    return false;
  }

  void fit(const InputStream&) override {
    if (!templates_) throw StateError("xgboost: no templates loaded (templates or model must be set)");
    const Table& t = *templates_;
    const std::string where = templates_path_.string();
    for (const char* c : {"label", "split"})
      if (!t.has_column(c)) throw SchemaError::missing_column(where, c, t.column_names());
    ClassifierBundle b;
    b.strategy = params()["strategy"].get<std::string>();
    b.feature_columns = global_feature_columns(t);
    if (b.feature_columns.empty()) throw SchemaError(fmt::format("{}: no numeric feature columns", where));
    const Column& split = t.column("split");
    Column label_col = t.column("label").cast(DType::kInt64);
    std::vector<int64_t> train_rows, test_rows;
    for (std::size_t r = 0; r < t.num_rows(); ++r) {
      std::string_view s = split.type() == DType::kString ? split.str(r) : std::string_view();
      if (s == "train") train_rows.push_back(static_cast<int64_t>(r));
      else if (s == "test") test_rows.push_back(static_cast<int64_t>(r));
    }
    if (train_rows.empty()) throw StateError(fmt::format("{}: no rows with split == 'train'", where));
    Table train = t.take(train_rows);
    std::vector<double> x = row_major_f64(train, b.feature_columns, where);
    std::vector<int64_t> y(label_col.i64().begin(), label_col.i64().end());
    {
      std::vector<int64_t> yt;
      for (int64_t r : train_rows) yt.push_back(y[r]);
      y = std::move(yt);
    }
    std::set<int64_t> cls(y.begin(), y.end());
    b.classes.assign(cls.begin(), cls.end());
    if (!params()["undersample_ratio"].is_null()) undersample(x, y, b.feature_columns.size());
    train_models(b, x, y);
    if (!test_rows.empty()) {
      Table test = t.take(test_rows);
      std::vector<double> xt = row_major_f64(test, b.feature_columns, where);
      std::vector<float> p = b.predict_proba(xt, test.num_rows());
      std::vector<int64_t> truth, pred;
      const std::size_t k = b.classes.size();
      for (std::size_t r = 0; r < test.num_rows(); ++r) {
        truth.push_back(label_col.i64()[test_rows[r]]);
        pred.push_back(b.classes[std::max_element(p.begin() + r * k, p.begin() + (r + 1) * k) - (p.begin() + r * k)]);
      }
      metrics_ = classification_report(truth, pred);
    }
    b.extra = {{"producer", kInfo.name}, {"version", kInfo.version}};
    bundle_ = std::move(b);
  }

  void save_state(const fs::path& run_root) const override {
    if (!bundle_) return;
    make_dirs(run_root);
    bundle_->save(run_root / kModelFile);
    if (!metrics_.is_null()) {
      write_file_atomic(run_root / "reports.json", metrics_.dump(2));
      write_file_atomic(run_root / "summary.csv", summary_csv(metrics_));
    }
  }

  Table apply(const Table& df) const override {
    if (!bundle_) throw StateError("xgboost: no model fitted or loaded");
    const ClassifierBundle& b = *bundle_;
    for (const auto& c : b.feature_columns)
      if (!df.has_column(c)) throw SchemaError::missing_column("xgboost input", c, df.column_names());
    const std::size_t n = df.num_rows(), k = b.classes.size();
    std::vector<double> x = row_major_f64(df, b.feature_columns, "xgboost input");
    std::vector<float> p = b.predict_proba(x, n);
    std::vector<int64_t> predicted(n);
    const Json& thr = params()["decision_threshold"];
    std::vector<float> thresholds;
    if (!thr.is_null()) {
      for (int64_t c : b.classes) {
        double t = 0.0;
        if (thr.is_number()) t = thr.get<double>();
        else if (thr.contains(std::to_string(c))) t = thr[std::to_string(c)].get<double>();
        thresholds.push_back(static_cast<float>(t));  // numpy 2: a Python float is weak vs float32
      }
    }
    const int64_t default_class = params()["default_class"].get<int64_t>();
    for (std::size_t r = 0; r < n; ++r) {
      const float* row = p.data() + r * k;
      std::size_t best = 0;
      float best_v = -std::numeric_limits<float>::infinity();
      bool any = thresholds.empty();
      for (std::size_t c = 0; c < k; ++c) {
        float v = row[c];
        if (!thresholds.empty()) {
          v = v >= thresholds[c] ? v : 0.0F;
          any = any || v != 0.0F;
        }
        if (v > best_v) {  // first maximum wins, as numpy argmax
          best_v = v;
          best = c;
        }
      }
      predicted[r] = any ? b.classes[best] : default_class;
    }
    Table out;
    for (const char* key : {"frame", "time", "id", "id1", "id2", "perspective", "group", "sequence"})
      if (df.has_column(key)) out.add_column(key, df.shared_column(*df.column_index(key)));
    for (std::size_t c = 0; c < k; ++c) {
      std::vector<float> col(n);
      for (std::size_t r = 0; r < n; ++r) col[r] = p[r * k + c];
      out.add_column(fmt::format("prob_{}", b.classes[c]), Column::from_float32(std::move(col)));
    }
    out.add_column("predicted_label", Column::from_int64(std::move(predicted)));
    return out;
  }

 private:
  // The model file named by the `model` param: an xgboost feature run's or a behavior-xgb run's.
  fs::path model_file(const Json& model, const ArtifactPaths& artifacts) const {
    auto it = artifacts.find("model");
    if (it != artifacts.end() && it->second.extension() == ".joblib") {
      fs::path sibling = it->second.parent_path() / kModelFile;
      if (fs::exists(sibling)) return sibling;
      throw InputError(fmt::format("xgboost: {} is a joblib pickle, which mosaic-cpp never reads; train the "
                                   "model with mosaic-cpp (xgboost feature or behavior-xgb)",
                                   it->second.string()));
    }
    if (!dataset_) throw StateError("xgboost: no dataset bound to resolve the model run");
    const std::string feature = model.value("feature", "");
    const std::optional<std::string> run_id =
        model["run_id"].is_string() ? std::optional<std::string>(model["run_id"].get<std::string>()) : std::nullopt;
    if (dataset_->has_root("models") && fs::is_directory(dataset_->root("models") / feature)) {
      fs::path dir = dataset_->root("models") / feature;
      return dir / (run_id ? *run_id : latest_model_run(dir)) / kModelFile;
    }
    fs::path dir = dataset_->root("features") / feature;
    if (!fs::exists(dir / "index.csv"))
      throw InputError(fmt::format("xgboost: model '{}' is neither a model under {} nor a feature run under {}",
                                   feature, dataset_->has_root("models") ? dataset_->root("models").string() : "models/",
                                   dataset_->root("features").string()));
    return dir / (run_id ? *run_id : FeatureIndex(dir / "index.csv").latest_run_id()) / kModelFile;
  }

  // The latest successful run of a model index (finished_at, then started_at, descending).
  static std::string latest_model_run(const fs::path& model_dir) {
    fs::path index = model_dir / "index.csv";
    if (!fs::exists(index)) throw IoError(fmt::format("Model index not found: {}", index.string()));
    TextCsv csv = TextCsv::read(index);
    std::string best, best_key;
    for (std::size_t r = 0; r < csv.rows.size(); ++r) {
      if (csv.cell(r, "status") != "success") continue;
      std::string key = std::string(csv.cell(r, "finished_at")) + "|" + std::string(csv.cell(r, "started_at"));
      if (best.empty() || key > best_key) {
        best = std::string(csv.cell(r, "run_id"));
        best_key = key;
      }
    }
    if (best.empty()) throw InputError(fmt::format("No successful model runs in {}", index.string()));
    return best;
  }

  // Multiclass-aware undersampling (reference _undersample_then_smote): per class in ascending
  // order, keep default_rng(random_state).choice(class rows, target, replace=False).
  void undersample(std::vector<double>& x, std::vector<int64_t>& y, std::size_t cols) const {
    std::map<int64_t, std::vector<int64_t>> rows_of;
    for (std::size_t r = 0; r < y.size(); ++r) rows_of[y[r]].push_back(static_cast<int64_t>(r));
    int64_t min_count = std::numeric_limits<int64_t>::max();
    for (const auto& [c, rows] : rows_of) min_count = std::min<int64_t>(min_count, static_cast<int64_t>(rows.size()));
    const double ratio = params()["undersample_ratio"].get<double>();
    kernels::Pcg64 rng(static_cast<uint64_t>(params()["random_state"].get<int64_t>()));
    std::vector<int64_t> keep;
    for (const auto& [c, rows] : rows_of) {
      const int64_t count = static_cast<int64_t>(rows.size());
      const int64_t target =
          std::max(min_count, std::min(count, static_cast<int64_t>(static_cast<double>(min_count) * ratio)));
      if (count > target) {
        for (int64_t i : rng.choice(count, target)) keep.push_back(rows[static_cast<std::size_t>(i)]);
      } else {
        keep.insert(keep.end(), rows.begin(), rows.end());
      }
    }
    std::vector<double> nx;
    std::vector<int64_t> ny;
    nx.reserve(keep.size() * cols);
    for (int64_t r : keep) {
      nx.insert(nx.end(), x.begin() + r * static_cast<int64_t>(cols), x.begin() + (r + 1) * static_cast<int64_t>(cols));
      ny.push_back(y[static_cast<std::size_t>(r)]);
    }
    x = std::move(nx);
    y = std::move(ny);
  }

  models::BoosterParams common_params() const {
    const Json& p = params();
    return {{"max_depth", models::param_text(p["max_depth"])},
            {"learning_rate", models::param_text(p["learning_rate"])},
            {"subsample", models::param_text(p["subsample"])},
            {"colsample_bytree", models::param_text(p["colsample_bytree"])},
            {"random_state", models::param_text(p["random_state"])},
            // xgboost >= 2 default (the reference pins 3.1); 1.7's default would be "auto".
            {"tree_method", "hist"}};
  }

  void train_models(ClassifierBundle& b, const std::vector<double>& x, const std::vector<int64_t>& y) const {
    const std::size_t n = y.size(), k = b.classes.size();
    const std::size_t cols = b.feature_columns.size();
    std::vector<float> xf = models::to_float32(x);
    xgb::DMatrix train = xgb::DMatrix::dense(xf, n, cols);
    const int rounds = static_cast<int>(params()["n_estimators"].get<int64_t>());
    const bool balanced = params()["class_weight"].is_string();
    std::map<int64_t, std::size_t> rank;
    for (std::size_t c = 0; c < k; ++c) rank[b.classes[c]] = c;
    if (b.strategy == models::kMulticlass) {
      std::vector<float> labels(n);
      std::vector<std::size_t> counts(k, 0);
      for (std::size_t r = 0; r < n; ++r) {
        labels[r] = static_cast<float>(rank[y[r]]);
        ++counts[rank[y[r]]];
      }
      train.set_labels(labels);
      if (balanced) {
        std::vector<float> w(n);
        for (std::size_t r = 0; r < n; ++r)
          w[r] = static_cast<float>(double(n) / (double(k) * double(counts[rank[y[r]]])));
        train.set_weights(w);
      }
      models::BoosterParams bp = {{"objective", "multi:softprob"}, {"num_class", std::to_string(k)}};
      for (auto& kv : common_params()) bp.push_back(kv);
      bp.emplace_back("eval_metric", "mlogloss");
      b.boosters.push_back(models::train_booster(train, bp, rounds));
      return;
    }
    for (std::size_t c = 0; c < k; ++c) {
      std::vector<float> labels(n);
      std::size_t pos = 0;
      for (std::size_t r = 0; r < n; ++r) {
        labels[r] = y[r] == b.classes[c] ? 1.0F : 0.0F;
        pos += y[r] == b.classes[c];
      }
      train.set_labels(labels);
      models::BoosterParams bp = {{"objective", "binary:logistic"}};
      for (auto& kv : common_params()) bp.push_back(kv);
      bp.emplace_back("eval_metric", "logloss");
      if (balanced)
        bp.emplace_back("scale_pos_weight",
                        python_float_repr(double(n - pos) / double(std::max<std::size_t>(pos, 1))));
      b.boosters.push_back(models::train_booster(train, bp, rounds));
    }
  }

  const Dataset* dataset_ = nullptr;
  std::optional<ClassifierBundle> bundle_;
  std::optional<Table> templates_;
  fs::path templates_path_;
  Json metrics_;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(XgboostFeature);
}  // namespace mosaic::features
