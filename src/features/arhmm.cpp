// arhmm: an autoregressive HMM fitted on every sequence of the scope, then Viterbi syllables per
// frame (spec features.md §2.14, DECISIONS F11).
//
// Sequences: one per id (rows sorted by frame) when the input has `id`, otherwise the whole
// table in row order (so pair inputs become one concatenated sequence, as in the reference).
// Non-finite values become 0, then optional downsampling [::r], standardisation with the
// population mean/std of all fitted frames, optional PCA.
//
// F11: the reference crashes when there are fewer frames than states. We skip sequences of at
// most n_lags frames with a warning naming them (the reference drops them silently) and refuse a
// fit with fewer frames than n_states with an error naming every sequence and its frame count.
// Numbers are unchanged where the reference works, so the version stays 0.1.
//
// State (portable, never pickles): arhmm_model.npz {a, q, log_start, log_trans, scaler_mean,
// scaler_std[, pca_mean, pca_components]} and arhmm_model.json {format, version,
// feature_columns, downsample_rate, ...}.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <map>
#include <set>

#include "features/global_common.hpp"
#include "features/feature_base.hpp"
#include "features/kernels/arhmm.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/npz.hpp"

namespace mosaic::features {
namespace {

namespace fs = std::filesystem;

constexpr const char* kName = "arhmm";
constexpr const char* kVersion = "0.1";
constexpr const char* kModelFormat = "mosaic-cpp arhmm model";
constexpr const char* kModelNpz = "arhmm_model.npz";
constexpr const char* kModelJson = "arhmm_model.json";

const FeatureInfo kInfo{.name = kName,
                        .version = kVersion,
                        .summary = "Fit an autoregressive HMM on all sequences and label every frame with its Viterbi "
                                   "state (syllable).",
                        .category = "global",
                        .parallelizable = false,
                        .scope_dependent = true,
                        .input_kinds = InputKinds::kResultsOnly,
                        .input_require = InputRequire::kNonEmpty,
                        .default_tracks_input = false,
                        .python_class = "ArHmmFeature"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "ArHmmParams",
      {param("model", ParamType::optional(artifact_type("joblib", "", "arhmm_model.joblib")), Json(),
             "A fitted arhmm run to reuse (its portable arhmm_model files are read) instead of fitting."),
       param("pca_dim", ParamType::optional(ParamType::integer()), Json(),
             "Reduce the standardised features to this many principal components (None = no PCA).")
           .at_least(1),
       param_int("n_states", 50, "Number of hidden states before pruning.").at_least(2),
       param_int("n_lags", 1, "Autoregressive order: frames of history in each state's linear dynamics.").at_least(1),
       param_float("sticky_weight", 100.0, "Extra pseudo-count on self-transitions (longer syllables)."),
       param_int("n_iter", 200, "Maximum EM iterations.").at_least(1),
       param_float("tol", 1e-4, "Stop when the relative change of the log-likelihood is below this."),
       param_int("n_restarts", 1, "Independent k-means + EM restarts; the best log-likelihood is kept.").at_least(1),
       param_bool("standardize", true, "Standardise each feature with the mean and std of all fitted frames."),
       param("downsample_rate", ParamType::optional(ParamType::integer()), Json(),
             "Keep every r-th frame for fitting and decoding; labels are repeated back (None = all frames).")
           .at_least(1),
       param_float("prune_threshold", 0.01, "States whose mean posterior usage is below this are removed."),
       param_int("random_state", 42, "Seed of the default_rng that seeds each restart's k-means.")}};
  return schema;
}

// helpers.feature_columns: numeric non-bool columns minus meta and pair columns, in Python order.
std::vector<std::string> feature_columns_of(const Table& df) {
  static const std::set<std::string> excluded{"id",          "sequence", "group", "frame", "time", "id1",
                                              "id2",         "entity_level", "perspective", "fps", "label", "split"};
  std::vector<std::string> out;
  for (std::size_t c = 0; c < df.num_columns(); ++c) {
    const std::string& name = df.column_names()[c];
    const DType t = df.column(c).type();
    if (is_numeric(t) && t != DType::kBool && !excluded.count(name)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// One sequence of an entry: the table rows it covers, in order.
struct SequenceRows {
  std::string label;  // for messages: "<sequence>" or "<sequence> id <id>"
  std::optional<int64_t> id;
  std::vector<int64_t> rows;
};

std::vector<SequenceRows> split_sequences(const Table& df, const std::string& name) {
  std::vector<SequenceRows> out;
  if (!df.has_column("id")) {
    SequenceRows s;
    s.label = name;
    s.rows.resize(df.num_rows());
    for (std::size_t r = 0; r < df.num_rows(); ++r) s.rows[r] = static_cast<int64_t>(r);
    out.push_back(std::move(s));
    return out;
  }
  if (!df.has_column("frame")) throw SchemaError::missing_column(fmt::format("{} input", kName), "frame", df.column_names());
  std::vector<int64_t> order = df.stable_sort_indices({"id", "frame"});
  const Column& id = df.column("id");
  for (int64_t r : order) {
    const auto ur = static_cast<std::size_t>(r);
    if (id.is_null(ur)) continue;
    const int64_t v = id.as_int64(ur);
    if (out.empty() || *out.back().id != v) {
      out.push_back(SequenceRows{fmt::format("{} id {}", name, v), v, {}});
    }
    out.back().rows.push_back(r);
  }
  return out;
}

// Rows of a sequence as a frames x D matrix: non-finite -> 0, then every r-th frame.
std::vector<double> sequence_values(const Table& df, const std::vector<std::string>& cols, const std::vector<int64_t>& rows,
                                    std::size_t rate) {
  const std::size_t d = cols.size();
  std::vector<const Column*> c(d);
  for (std::size_t j = 0; j < d; ++j) {
    if (!df.has_column(cols[j])) throw SchemaError::missing_column(fmt::format("{} input", kName), cols[j], df.column_names());
    c[j] = &df.column(cols[j]);
  }
  std::vector<double> out;
  out.reserve((rows.size() / rate + 1) * d);
  for (std::size_t t = 0; t < rows.size(); t += rate) {
    const auto r = static_cast<std::size_t>(rows[t]);
    for (std::size_t j = 0; j < d; ++j) {
      const double v = c[j]->is_null(r) ? NAN : c[j]->as_double(r);
      out.push_back(std::isfinite(v) ? v : 0.0);
    }
  }
  return out;
}

class ArHmm final : public FeatureBase<ArHmm> {
 public:
  using FeatureBase::FeatureBase;
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  void bind_dataset(const Dataset& dataset) override { features_root_ = dataset.root("features"); }

  bool load_state(const fs::path& run_root, const ArtifactPaths& artifacts, const DependencyLookups&) override {
    if (fs::exists(run_root / kModelJson) && fs::exists(run_root / kModelNpz)) {
      load_model(run_root);
      return true;
    }
    const Json& model = params_["model"];
    if (model.is_object()) {
      load_model(fitted_model_dir(kName, model, artifacts, features_root_, {kModelJson, kModelNpz}));
      return true;
    }
    return false;
  }

  void fit(const InputStream& inputs) override {
    const auto rate = static_cast<std::size_t>(params_["downsample_rate"].is_null() ? 1 : params_["downsample_rate"].get<int64_t>());
    const auto lags = static_cast<std::size_t>(params_["n_lags"].get<int64_t>());
    const auto n_states = static_cast<std::size_t>(params_["n_states"].get<int64_t>());
    std::vector<double> x;
    std::vector<std::size_t> lengths;
    std::vector<std::string> described;
    columns_.clear();
    inputs.for_each([&](const EntryData& e) {
      if (columns_.empty()) columns_ = feature_columns_of(e.table);
      for (const auto& s : split_sequences(e.table, e.sequence)) {
        std::vector<double> v = sequence_values(e.table, columns_, s.rows, rate);
        const std::size_t len = v.size() / std::max<std::size_t>(columns_.size(), 1);
        described.push_back(fmt::format("{}: {} frames", s.label, len));
        if (len <= lags) {
          std::fprintf(stderr, "[feature:%s] sequence %s has %zu frames (<= n_lags %zu); skipped\n", kName,
                       s.label.c_str(), len, lags);
          continue;
        }
        x.insert(x.end(), v.begin(), v.end());
        lengths.push_back(len);
      }
    });
    if (columns_.empty())
      throw StateError(fmt::format("{}: no input rows with numeric feature columns to fit on", kName));
    std::size_t total = 0;
    for (std::size_t n : lengths) total += n;
    if (total < n_states) {
      std::string list;
      for (const auto& d : described) list += (list.empty() ? "" : "; ") + d;
      throw StateError(fmt::format("{}: {} usable frames in total but n_states={}; expected at least n_states frames "
                                   "(sequences longer than n_lags={} are used: {})",
                                   kName, total, n_states, lags, list));
    }
    const std::size_t d = columns_.size();
    // Standardise with the population mean/std of all frames.
    mean_.assign(d, 0.0);
    std_.assign(d, 1.0);
    if (params_["standardize"].get<bool>()) {
      for (std::size_t t = 0; t < total; ++t)
        for (std::size_t j = 0; j < d; ++j) mean_[j] += x[t * d + j];
      for (auto& m : mean_) m /= static_cast<double>(total);
      std::vector<double> var(d, 0.0);
      for (std::size_t t = 0; t < total; ++t)
        for (std::size_t j = 0; j < d; ++j) var[j] += (x[t * d + j] - mean_[j]) * (x[t * d + j] - mean_[j]);
      for (std::size_t j = 0; j < d; ++j) {
        std_[j] = std::sqrt(var[j] / static_cast<double>(total));
        if (std_[j] < 1e-10) std_[j] = 1.0;
      }
    }
    pca_mean_.clear();
    pca_components_.clear();
    pca_dim_ = 0;
    std::vector<double> z = standardize(x, total);
    if (!params_["pca_dim"].is_null() && static_cast<std::size_t>(params_["pca_dim"].get<int64_t>()) < d) {
      pca_dim_ = static_cast<std::size_t>(params_["pca_dim"].get<int64_t>());
      fit_pca(z, total);
      z = project(z, total);
    }
    kernels::ArhmmOptions o{.n_states = static_cast<int>(n_states),
                            .n_lags = static_cast<int>(lags),
                            .sticky_weight = params_["sticky_weight"].get<double>(),
                            .n_iter = static_cast<int>(params_["n_iter"].get<int64_t>()),
                            .tol = params_["tol"].get<double>(),
                            .n_restarts = static_cast<int>(params_["n_restarts"].get<int64_t>()),
                            .random_state = static_cast<uint64_t>(params_["random_state"].get<int64_t>()),
                            .prune_threshold = params_["prune_threshold"].get<double>()};
    model_ = kernels::arhmm_fit(z.data(), lengths, pca_dim_ ? pca_dim_ : d, o);
    rate_ = rate;
    fitted_ = true;
  }

  void save_state(const fs::path& run_root) const override {
    make_dirs(run_root);
    const int64_t k = model_.n_states, d = model_.dim, din = model_.dim_in();
    std::vector<std::pair<std::string, NpyArray>> arrays{
        {"a", NpyArray::from_float64({k, d, din}, model_.a)},
        {"q", NpyArray::from_float64({k, d, d}, model_.q)},
        {"log_start", NpyArray::from_float64({k}, model_.log_start)},
        {"log_trans", NpyArray::from_float64({k, k}, model_.log_trans)},
        {"usage", NpyArray::from_float64({k}, model_.usage)},
        {"scaler_mean", NpyArray::from_float64({static_cast<int64_t>(mean_.size())}, mean_)},
        {"scaler_std", NpyArray::from_float64({static_cast<int64_t>(std_.size())}, std_)}};
    if (pca_dim_) {
      arrays.emplace_back("pca_mean", NpyArray::from_float64({static_cast<int64_t>(pca_mean_.size())}, pca_mean_));
      arrays.emplace_back("pca_components", NpyArray::from_float64({static_cast<int64_t>(pca_dim_), static_cast<int64_t>(columns_.size())},
                                                                   pca_components_));
    }
    write_npz(run_root / kModelNpz, arrays);
    Json doc = Json::object();
    doc["format"] = kModelFormat;
    doc["version"] = kVersion;
    doc["feature_columns"] = columns_;
    doc["n_states"] = model_.n_states;
    doc["n_lags"] = model_.n_lags;
    doc["downsample_rate"] = rate_ > 1 ? Json(static_cast<int64_t>(rate_)) : Json();
    doc["pca_dim"] = pca_dim_ ? Json(static_cast<int64_t>(pca_dim_)) : Json();
    doc["log_likelihood"] = model_.log_likelihood;
    doc["n_iter"] = model_.n_iter;
    write_file_atomic(run_root / kModelJson, python_json_dumps(doc, {.indent = 2}));
  }

  Table apply(const Table& df) const override {
    if (!fitted_) throw StateError(fmt::format("{}: apply called before fit or load_state", kName));
    if (!df.has_column("frame")) throw SchemaError::missing_column(fmt::format("{} input", kName), "frame", df.column_names());
    const Column& frame = df.column("frame");
    std::vector<int64_t> out_frame, out_id;
    std::vector<int32_t> out_syl;
    const bool has_id = df.has_column("id");
    for (const auto& s : split_sequences(df, "")) {
      std::vector<double> v = sequence_values(df, columns_, s.rows, rate_);
      const std::size_t len = v.size() / columns_.size();
      std::vector<double> z = standardize(v, len);
      if (pca_dim_) z = project(z, len);
      std::vector<int32_t> lab(len);
      kernels::arhmm_viterbi(model_, z.data(), len, lab);
      for (std::size_t t = 0; t < s.rows.size(); ++t) {
        const auto r = static_cast<std::size_t>(s.rows[t]);
        out_frame.push_back(frame.as_int64(r));
        out_syl.push_back(lab[std::min(t / rate_, len - 1)]);
        if (has_id) out_id.push_back(*s.id);
      }
    }
    Table out;
    out.add_column("frame", Column::from_int64(std::move(out_frame)));
    out.add_column("syllable", Column::from_int32(std::move(out_syl)));
    if (has_id) out.add_column("id", Column::from_int64(std::move(out_id)));
    return out;
  }

 private:
  std::vector<double> standardize(const std::vector<double>& x, std::size_t n) const {
    const std::size_t d = mean_.size();
    std::vector<double> z(x.size());
    for (std::size_t t = 0; t < n; ++t)
      for (std::size_t j = 0; j < d; ++j) z[t * d + j] = (x[t * d + j] - mean_[j]) / std_[j];
    return z;
  }

  // Exact PCA (covariance eigenvectors, sign: largest |loading| positive), as sklearn's
  // covariance/full solvers give up to sign.
  void fit_pca(const std::vector<double>& z, std::size_t n) {
    const std::size_t d = columns_.size();
    using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<const RowMat> x(z.data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
    Eigen::RowVectorXd m = x.colwise().mean();
    RowMat xc = x.rowwise() - m;
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(xc.transpose() * xc);
    pca_mean_.assign(m.data(), m.data() + d);
    pca_components_.assign(pca_dim_ * d, 0.0);
    for (std::size_t c = 0; c < pca_dim_; ++c) {
      Eigen::VectorXd v = eig.eigenvectors().col(static_cast<Eigen::Index>(d - 1 - c));
      Eigen::Index arg = 0;
      v.cwiseAbs().maxCoeff(&arg);
      if (v(arg) < 0) v = -v;
      for (std::size_t j = 0; j < d; ++j) pca_components_[c * d + j] = v(static_cast<Eigen::Index>(j));
    }
  }

  std::vector<double> project(const std::vector<double>& z, std::size_t n) const {
    const std::size_t d = columns_.size();
    std::vector<double> out(n * pca_dim_, 0.0);
    for (std::size_t t = 0; t < n; ++t)
      for (std::size_t c = 0; c < pca_dim_; ++c) {
        double s = 0;
        for (std::size_t j = 0; j < d; ++j) s += (z[t * d + j] - pca_mean_[j]) * pca_components_[c * d + j];
        out[t * pca_dim_ + c] = s;
      }
    return out;
  }

  void load_model(const fs::path& dir) {
    fs::path json_path = dir / kModelJson, npz_path = dir / kModelNpz;
    if (!fs::exists(json_path) || !fs::exists(npz_path))
      throw StateError(fmt::format("{}: {} has no {} / {} (mosaic-cpp reads its own portable model files, not the "
                                   "reference's arhmm_model.joblib pickle)",
                                   kName, dir.string(), kModelJson, kModelNpz));
    Json doc = python_json_loads(read_file_text(json_path));
    if (doc.value("format", "") != kModelFormat || doc.value("version", "") != kVersion)
      throw StateError(fmt::format("{}: {} holds format '{}' version '{}'; expected '{}' version '{}'", kName,
                                   json_path.string(), doc.value("format", ""), doc.value("version", ""), kModelFormat,
                                   kVersion));
    NpzArchive npz = read_npz(npz_path);
    columns_ = doc["feature_columns"].get<std::vector<std::string>>();
    rate_ = doc["downsample_rate"].is_null() ? 1 : static_cast<std::size_t>(doc["downsample_rate"].get<int64_t>());
    pca_dim_ = doc["pca_dim"].is_null() ? 0 : static_cast<std::size_t>(doc["pca_dim"].get<int64_t>());
    const NpyArray& a = npz.at("a");
    if (a.shape.size() != 3)
      throw StateError(fmt::format("{}: {} key 'a' is {}; expected states x dim x dim_in", kName, npz_path.string(), a.describe()));
    model_ = kernels::ArhmmModel{};
    model_.n_states = static_cast<int>(a.shape[0]);
    model_.dim = static_cast<int>(a.shape[1]);
    model_.n_lags = static_cast<int>(doc["n_lags"].get<int64_t>());
    if (a.shape[2] != static_cast<int64_t>(model_.dim_in()))
      throw StateError(fmt::format("{}: {} key 'a' is {}; expected dim_in = dim x n_lags + 1 = {}", kName,
                                   npz_path.string(), a.describe(), model_.dim_in()));
    model_.a = a.to_double();
    model_.q = npz.at("q").to_double();
    model_.log_start = npz.at("log_start").to_double();
    model_.log_trans = npz.at("log_trans").to_double();
    model_.usage = npz.at("usage").to_double();
    model_.log_likelihood = doc.value("log_likelihood", 0.0);
    mean_ = npz.at("scaler_mean").to_double();
    std_ = npz.at("scaler_std").to_double();
    if (pca_dim_) {
      pca_mean_ = npz.at("pca_mean").to_double();
      pca_components_ = npz.at("pca_components").to_double();
    }
    fitted_ = true;
  }

  fs::path features_root_;
  std::vector<std::string> columns_;
  std::vector<double> mean_, std_, pca_mean_, pca_components_;
  std::size_t pca_dim_ = 0;
  std::size_t rate_ = 1;
  kernels::ArhmmModel model_;
  bool fitted_ = false;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(ArHmm);
}  // namespace mosaic::features
