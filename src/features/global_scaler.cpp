// global-scaler: z-scores feature columns with a StandardScaler fitted on a templates table
// (features.md §1.5; scikit-learn 1.8 StandardScaler, NaN-aware, numpy pairwise column sums).
//
// The state is portable (no joblib pickle): `scaler.npz` holds mean, scale, var,
// n_samples_seen, feature_columns and version; `scaled_templates.parquet` is the reference's
// second artifact. A second run with the same run id finds scaler.npz and skips the fit.
//
// DECISIONS F9: when the templates ArtifactSpec keeps the generic default pattern "*.parquet",
// the reference takes the alphabetically first parquet of the producing run (often a
// per-sequence output); we take the `templates.parquet` the producer declares when it exists.
// That changes numbers for such runs, so the version carries "+cpp.1".
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

#include "features/global_common.hpp"
#include "features/feature_base.hpp"
#include "features/kernels/scaler.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/parquet.hpp"

namespace mosaic::features {
namespace {

namespace fs = std::filesystem;

const FeatureInfo kInfo{.name = "global-scaler",
                        .version = "0.1+cpp.1",
                        .summary = "Z-score feature columns with a StandardScaler fitted on a templates table (or loaded).",
                        .category = "global",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kResultsOnly,
                        .input_require = InputRequire::kAny,
                        .default_tracks_input = false,
                        .python_class = "GlobalScaler"};

constexpr const char* kStateFile = "scaler.npz";
constexpr const char* kScaledTemplatesFile = "scaled_templates.parquet";

const ParamSchema& params_schema() {
  static const ParamSchema schema = [] {
    const ParamType templates = artifact_type("parquet");
    ParamSchema s{"GlobalScalerParams",
                  {param("templates", ParamType::optional(templates), templates.validate(Json::object(), "templates"),
                         "Templates table to fit on (ArtifactSpec of a templates.parquet); exclusive with model."),
                   param("model", ParamType::optional(artifact_type("joblib", "", "scaler.joblib")), Json(),
                         "A fitted global-scaler run to reuse (its scaler.npz); exclusive with templates.")}};
    s.set_exclusive("templates", "model");
    return s;
  }();
  return schema;
}

std::vector<std::string> string_list(const Json& v) {
  std::vector<std::string> out;
  if (v.is_array())
    for (const auto& s : v) out.push_back(s.get<std::string>());
  return out;
}

class GlobalScaler final : public FeatureBase<GlobalScaler> {
 public:
  using FeatureBase::FeatureBase;
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  void bind_dataset(const Dataset& dataset) override { features_root_ = dataset.root("features"); }

  bool load_state(const fs::path& run_root, const ArtifactPaths& artifacts, const DependencyLookups&) override {
    if (fs::exists(run_root / kStateFile)) {
      read_state(run_root / kStateFile);
      return true;
    }
    const Json& model = params()["model"];
    if (model.is_object()) {
      read_state(fitted_model_dir("global-scaler", model, artifacts, features_root_, {kStateFile}) / kStateFile);
      return true;
    }
    const Json& templates = params()["templates"];
    templates_path_ = templates_artifact_path(templates, artifacts);  // DECISIONS F9
    if (templates_path_.empty())
      throw StateError(fmt::format("global-scaler: no templates artifact matching '{}' in the run of '{}'",
                                   templates.value("pattern", ""), templates.value("feature", "")));
    return false;
  }

  void fit(const InputStream&) override {
    const Json& load = params()["templates"]["load"];
    if (load.value("transpose", false) || load["frame_column"].is_string())
      throw InputError("global-scaler: templates.load.transpose / frame_column are not supported for a templates table");
    Table t = read_parquet(templates_path_);
    std::vector<std::string> cols = string_list(load["columns"]);
    if (cols.empty()) {
      const std::vector<std::string> drop = string_list(load["drop_columns"]);
      for (std::size_t c = 0; c < t.num_columns(); ++c) {
        const std::string& name = t.column_names()[c];
        if (std::find(drop.begin(), drop.end(), name) != drop.end()) continue;
        if (load.value("numeric_only", true) && !is_numeric(t.column(c).type())) continue;
        cols.push_back(name);
      }
    }
    if (cols.empty()) throw StateError(fmt::format("global-scaler: templates {} have no numeric column", templates_path_.string()));
    columns_ = cols;
    const std::size_t n = t.num_rows(), d = cols.size();
    if (n == 0) throw StateError(fmt::format("global-scaler: templates {} have no rows", templates_path_.string()));
    // Column by column: the reference's array is F-ordered (pandas' block transposed), so numpy
    // reduces each column as one contiguous pairwise sum.
    mean_.assign(d, 0.0);
    var_.assign(d, 0.0);
    scale_.assign(d, 1.0);
    counts_.assign(d, 0);
    std::vector<double> scratch(n);
    for (std::size_t c = 0; c < d; ++c) {
      if (!t.has_column(cols[c])) throw SchemaError::missing_column(templates_path_.string(), cols[c], t.column_names());
      Column col = t.column(cols[c]).cast(DType::kFloat64);
      kernels::ScalerColumnStats st = kernels::standard_scaler_fit(col.f64(), scratch);
      mean_[c] = st.mean;
      var_[c] = st.var;
      scale_[c] = st.scale;
      counts_[c] = st.count;
    }
    // The reference's second artifact: the templates it was fitted on, scaled.
    scaled_templates_ = Table();
    for (std::size_t c = 0; c < d; ++c) {
      Column col = t.column(cols[c]).cast(DType::kFloat64);
      std::vector<double> v(n);
      kernels::standard_scale(col.f64(), mean_[c], scale_[c], v);
      scaled_templates_.add_column(cols[c], Column::from_float64(std::move(v)));
    }
  }

  void save_state(const fs::path& run_root) const override {
    const auto d = static_cast<int64_t>(columns_.size());
    write_npz(run_root / kStateFile, {{"mean", NpyArray::from_float64({d}, mean_)},
                                      {"scale", NpyArray::from_float64({d}, scale_)},
                                      {"var", NpyArray::from_float64({d}, var_)},
                                      {"n_samples_seen", NpyArray::from_int64({d}, counts_)},
                                      {"feature_columns", NpyArray::from_strings({d}, columns_)},
                                      {"version", NpyArray::from_strings({}, {"0.1"})}});
    write_parquet(scaled_templates_, run_root / kScaledTemplatesFile);
  }

  Table apply(const Table& df) const override {
    if (columns_.empty()) throw StateError("global-scaler: apply called before fit/load_state");
    for (const auto& c : columns_)
      if (!df.has_column(c)) throw SchemaError::missing_column("global-scaler input", c, df.column_names());
    // A copy sharing every column, with exactly the scaled columns replaced (float64).
    Table out;
    const std::size_t n = df.num_rows();
    for (std::size_t c = 0; c < df.num_columns(); ++c) {
      const std::string& name = df.column_names()[c];
      auto it = std::find(columns_.begin(), columns_.end(), name);
      if (it == columns_.end()) {
        out.add_column(name, df.shared_column(c));
        continue;
      }
      const auto k = static_cast<std::size_t>(it - columns_.begin());
      std::vector<double> v(n);
      const Column& col = df.column(c);
      if (col.type() == DType::kFloat64) {
        kernels::standard_scale(col.f64(), mean_[k], scale_[k], v);
      } else {
        Column f = col.cast(DType::kFloat64);
        kernels::standard_scale(f.f64(), mean_[k], scale_[k], v);
      }
      out.add_column(name, Column::from_float64(std::move(v)));
    }
    if (df.num_columns() == 0) out.set_num_rows_without_columns(n);
    return out;
  }

 private:
  void read_state(const fs::path& path) {
    NpzArchive npz = read_npz(path);
    columns_ = npz.at("feature_columns").to_strings();
    mean_ = npz.at("mean").to_double();
    scale_ = npz.at("scale").to_double();
    var_ = npz.at("var").to_double();
    counts_ = npz.at("n_samples_seen").to_int64();
    if (mean_.size() != columns_.size() || scale_.size() != columns_.size())
      throw StateError(fmt::format("global-scaler: {} is inconsistent: {} columns, {} means, {} scales", path.string(),
                                   columns_.size(), mean_.size(), scale_.size()));
  }

  fs::path features_root_;
  fs::path templates_path_;
  std::vector<std::string> columns_;
  std::vector<double> mean_, scale_, var_;
  std::vector<int64_t> counts_;
  Table scaled_templates_;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(GlobalScaler);
}  // namespace mosaic::features
