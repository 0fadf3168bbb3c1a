// global-ward: Ward hierarchical clustering of a templates table, cut into at most n_clusters flat
// clusters, and each frame assigned the cluster of its nearest centroid (features.md §1.8). The
// linkage is scipy 1.17's nearest-neighbour chain and `fcluster(..., "maxclust")` numbering
// (kernels/ward), so the 1-based cluster ids equal scipy's for the same templates.
//
// State (portable, no joblib pickle): `ward_model.npz` (linkage_matrix (n-1) x 4 float64,
// cluster_ids int32, centroids float64 = the reference's assign_nn._fit_X) and `ward_model.json`
// (feature_columns, version) replace the reference's model.joblib.
//
// Memory: the condensed distance matrix holds n(n-1)/2 doubles (10k templates: 400 MB; 50k:
// 10 GB), as in scipy; the fit refuses sizes whose matrix cannot be allocated.
//
// DECISIONS F9 (templates default pattern) as global-kmeans, hence "+cpp.1".
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <new>

#include "features/feature_base.hpp"
#include "features/global_common.hpp"
#include "features/kernels/ward.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/npz.hpp"

namespace mosaic::features {
namespace {

namespace fs = std::filesystem;

const FeatureInfo kInfo{.name = "global-ward",
                        .version = "0.3+cpp.1",
                        .summary = "Cluster frames by Ward hierarchical clustering of a templates table (scipy linkage + "
                                   "fcluster maxclust); each frame gets its nearest centroid's cluster (1-based).",
                        .category = "global",
                        .parallelizable = false,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kResultsOnly,
                        .input_require = InputRequire::kAny,
                        .default_tracks_input = false,
                        .python_class = "GlobalWardClustering"};

constexpr const char* kStateFile = "ward_model.npz";
constexpr const char* kModelFile = "ward_model.json";
constexpr const char* kPythonVersion = "0.3";

const ParamSchema& params_schema() {
  static const ParamSchema schema = [] {
    const ParamType templates = artifact_type("parquet");
    ParamSchema s{
        "GlobalWardParams",
        {param("templates", ParamType::optional(templates), templates.validate(Json::object(), "templates"),
               "Templates table to fit on (ArtifactSpec, e.g. extract-templates' templates.parquet); exclusive with "
               "model."),
         param("model", ParamType::optional(artifact_type("joblib", "", "model.joblib")), Json(),
               "A fitted global-ward run to reuse (its ward_model.npz); exclusive with templates."),
         param_int("n_clusters", 20, "Maximum number of flat clusters (fcluster maxclust).").at_least(1),
         param_str("method", "ward", "Linkage method; only 'ward' is supported (as the reference)."),
         param("pair_filter", ParamType::optional(nn_result_type()), Json(),
               "Keep only nearest-neighbour pairs (NNResult); None keeps every row.")}};
    s.set_exclusive("templates", "model");
    return s;
  }();
  return schema;
}

class GlobalWard final : public FeatureBase<GlobalWard> {
 public:
  using FeatureBase::FeatureBase;
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  void bind_dataset(const Dataset& dataset) override { features_root_ = dataset.root("features"); }

  bool load_state(const fs::path& run_root, const ArtifactPaths& artifacts, const DependencyLookups&) override {
    if (!run_root.empty() && fs::exists(run_root / kStateFile) && fs::exists(run_root / kModelFile)) {
      read_state(run_root);
      return true;
    }
    const Json& model = params()["model"];
    if (model.is_object()) {
      read_state(fitted_model_dir("global-ward", model, artifacts, features_root_, {kStateFile, kModelFile}));
      return true;
    }
    templates_path_ = templates_artifact_path(params()["templates"], artifacts);  // DECISIONS F9
    return false;
  }

  void fit(const InputStream&) override {
    const Json& p = params();
    if (p["method"].get<std::string>() != "ward")
      throw InputError(fmt::format("global-ward: method: expected 'ward', got '{}'", p["method"].get<std::string>()));
    if (templates_path_.empty())
      throw StateError(fmt::format("global-ward: no templates to fit on: no artifact matching '{}' in the run of '{}'",
                                   p["templates"].is_object() ? p["templates"].value("pattern", "") : std::string(),
                                   p["templates"].is_object() ? p["templates"].value("feature", "") : std::string()));
    TemplateMatrix t = load_templates_artifact(templates_path_, p["templates"]["load"]);
    const std::size_t n = t.rows, d = t.columns.size();
    if (n < 2)
      throw StateError(fmt::format("global-ward: {} templates in {}; Ward linkage needs at least 2", n,
                                   templates_path_.string()));
    for (std::size_t i = 0; i < t.values.size(); ++i)
      if (!std::isfinite(t.values[i]))
        throw StateError(fmt::format("global-ward: templates {} hold a non-finite value in column '{}' (row {})",
                                     templates_path_.string(), t.columns[i % d], i / d));
    std::vector<double> condensed;
    try {
      condensed.resize(n * (n - 1) / 2);
    } catch (const std::bad_alloc&) {
      throw StateError(fmt::format("global-ward: {} templates need a {:.1f} GB condensed distance matrix, which cannot "
                                   "be allocated; use fewer templates",
                                   n, static_cast<double>(n) * static_cast<double>(n - 1) / 2 * 8 / 1e9));
    }
    kernels::pdist_euclidean(t.values.data(), n, d, condensed);
    linkage_.assign((n - 1) * 4, 0.0);
    kernels::ward_linkage(condensed, n, linkage_);
    condensed = {};
    std::vector<int32_t> labels(n);
    kernels::fcluster_maxclust(linkage_, n, static_cast<int>(p["n_clusters"].get<int64_t>()), labels);
    kernels::ClusterCentroids c = kernels::cluster_centroids(t.values.data(), n, d, labels);
    cluster_ids_ = std::move(c.ids);
    centroids_ = std::move(c.centroids);
    columns_ = t.columns;
  }

  void save_state(const fs::path& run_root) const override {
    const auto k = static_cast<int64_t>(cluster_ids_.size()), d = static_cast<int64_t>(columns_.size());
    const auto rows = static_cast<int64_t>(linkage_.size() / 4);
    write_npz(run_root / kStateFile, {{"linkage_matrix", NpyArray::from_float64({rows, 4}, linkage_)},
                                      {"cluster_ids", NpyArray::from_int32({k}, cluster_ids_)},
                                      {"centroids", NpyArray::from_float64({k, d}, centroids_)}});
    // Written last: its presence marks a complete state for load_state.
    write_json_file(run_root / kModelFile, Json{{"format", "mosaic-cpp global-ward state 1"},
                                                {"version", kPythonVersion},
                                                {"feature_columns", columns_},
                                                {"n_clusters", cluster_ids_.size()}});
  }

  Table apply(const Table& df) const override {
    if (cluster_ids_.empty()) throw StateError("global-ward: apply before fit (no centroids loaded)");
    if (!df.has_column("frame")) throw SchemaError::missing_column("global-ward input", "frame", df.column_names());
    const std::size_t d = columns_.size(), n = df.num_rows();
    // float32 cast first (the reference's X), then double for the distance (sklearn's fallback).
    std::vector<float> x32 = row_major_f32(df, columns_, "global-ward input");
    std::vector<int64_t> keep;
    keep.reserve(n);
    std::vector<double> x;
    x.reserve(x32.size());
    for (std::size_t r = 0; r < n; ++r) {
      bool ok = true;
      for (std::size_t c = 0; c < d && ok; ++c) ok = std::isfinite(x32[r * d + c]);
      if (!ok) continue;
      keep.push_back(static_cast<int64_t>(r));
      for (std::size_t c = 0; c < d; ++c) x.push_back(static_cast<double>(x32[r * d + c]));
    }
    std::vector<int64_t> nearest(keep.size());
    kernels::assign_nearest_centroid(x.data(), keep.size(), d, centroids_.data(), cluster_ids_.size(), nearest);
    std::vector<int32_t> cluster(keep.size());
    for (std::size_t i = 0; i < keep.size(); ++i) cluster[i] = cluster_ids_[static_cast<std::size_t>(nearest[i])];
    std::vector<std::string> other;
    for (const auto& name : df.column_names())
      if (std::find(columns_.begin(), columns_.end(), name) == columns_.end()) other.push_back(name);
    std::sort(other.begin(), other.end());
    Table out = df.select(other);
    if (keep.size() != n) out = out.take(keep);
    if (out.num_columns() == 0) out.set_num_rows_without_columns(keep.size());
    out.add_column("cluster", Column::from_int32(std::move(cluster)));
    return out;
  }

 private:
  void read_state(const fs::path& dir) {
    Json model = read_json_file(dir / kModelFile);
    columns_ = model["feature_columns"].get<std::vector<std::string>>();
    NpzArchive npz = read_npz(dir / kStateFile);
    const NpyArray& ids = npz.at("cluster_ids");
    const NpyArray& c = npz.at("centroids");
    if (c.shape.size() != 2 || c.shape[1] != static_cast<int64_t>(columns_.size()) || c.shape[0] != ids.size())
      throw StateError(fmt::format("global-ward: {}: centroids: expected shape ({}, {}), got {}",
                                   (dir / kStateFile).string(), ids.size(), columns_.size(), c.describe()));
    centroids_ = c.to_double();
    std::vector<int64_t> id64 = ids.to_int64();
    cluster_ids_.assign(id64.begin(), id64.end());
    linkage_ = npz.at("linkage_matrix").to_double();
  }

  fs::path features_root_;
  fs::path templates_path_;
  std::vector<std::string> columns_;
  std::vector<double> linkage_;
  std::vector<int32_t> cluster_ids_;
  std::vector<double> centroids_;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(GlobalWard);
}  // namespace mosaic::features
