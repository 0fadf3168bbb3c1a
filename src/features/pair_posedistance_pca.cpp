// pair-posedistance-pca: IncrementalPCA of per-frame keypoint distance vectors of every pair of
// animals (features.md §1.1), fitted over every entry of the scope, then applied per entry.
//
// Fit streams: one entry at a time, pair by pair (combinations of sorted ids), each pair's
// joined frames in chunks of batch_size, one partial_fit per chunk matrix (perspective-0 rows,
// then perspective-1 rows), exactly as scikit-learn 1.8's IncrementalPCA (kernels/
// incremental_pca: float32 first batch, float64 later, svd_flip signs).
//
// DECISIONS F1: rows of perspective p carry id1 = the focal animal and id2 its partner, so
// perspective-1 rows get id1 = b, id2 = a (the reference writes id1 = a, id2 = b for both);
// rows are sorted by [id1, id2, perspective, frame] as the reference's final sort. The version
// carries "+cpp.1". With the same suffix we also fix §4.13: an entry with fewer than two animals
// is skipped by fit (the reference's fit aborts) and gives an empty output in apply (the
// reference's apply raises and loses the entry).
//
// State (portable, no joblib): `model.npz` with the fitted IncrementalPCA (components, mean,
// var, singular_values, explained_variance(_ratio), noise_variance, n_samples_seen,
// float32_state), tri_i / tri_j (numpy tril_indices(N, -1)), feat_len and version. An
// ArtifactSpec with an Npz load spec (e.g. key "components") reads it.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits>

#include "features/feature_base.hpp"
#include "features/kernels/incremental_pca.hpp"
#include "features/kernels/pose_distance.hpp"
#include "features/pair_common.hpp"
#include "features/track_cleaning.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/npz.hpp"

namespace mosaic::features {
namespace {

namespace fs = std::filesystem;

const FeatureInfo kInfo{.name = "pair-posedistance-pca",
                        .version = "0.1+cpp.1",
                        .summary = "Project every pair's keypoint distances (intra- and inter-animal) on an incremental PCA "
                                   "fitted over all sequences (both perspectives).",
                        .category = "per-frame",
                        .parallelizable = true,
                        .scope_dependent = true,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "PairPoseDistancePCA"};

constexpr const char* kModelFile = "model.npz";
constexpr std::size_t kApplyChunk = 4096;  // rows per transform block (bounded scratch)

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "PairPoseDistancePCAParams",
      {param("interpolation", ParamType::model(interpolation_config_schema()), interpolation_config_schema()->defaults(),
             "Cleaning of each animal's keypoints before pairing (interpolation limits, row drop fraction)."),
       param("pose", ParamType::model(pose_config_schema()), pose_config_schema()->defaults(),
             "Keypoints used (pose_n / pose_indices, in the given order) and their column prefixes."),
       param_bool("include_intra_A", true, "Include the focal animal's intra-animal keypoint distances."),
       param_bool("include_intra_B", true, "Include the partner's intra-animal keypoint distances."),
       param_bool("include_inter", true, "Include every focal-partner keypoint distance."),
       param_bool("duplicate_perspective", true, "Also emit the partner's perspective (B->A rows)."),
       param_int("n_components", 6, "Number of principal components kept (PC0..)."),
       param_int("batch_size", 5000, "Joined frames per partial_fit chunk.").greater_than(0)}};
  return schema;
}

/// One entry's cleaned animals and the ones that have rows.
struct Prepared {
  AnimalTracks animals;
  std::vector<std::size_t> present;  // animal indices with rows, ascending id
  std::string order_col;
};

class PairPoseDistancePca final : public FeatureBase<PairPoseDistancePca> {
 public:
  PairPoseDistancePca(Inputs inputs, Json params) : FeatureBase(std::move(inputs), std::move(params)), pca_(6) {
    const Json& p = this->params();
    cleaning_ = cleaning_config(p["interpolation"]);
    const Json& pose = p["pose"];
    std::vector<int64_t> indices;
    if (pose["pose_indices"].is_array()) {
      for (const auto& v : pose["pose_indices"]) indices.push_back(v.get<int64_t>());
    } else {
      for (int64_t i = 0; i < pose["pose_n"].get<int64_t>(); ++i) indices.push_back(i);
    }
    if (indices.empty()) throw InputError("pair-posedistance-pca: no keypoints selected (pose.pose_n / pose.pose_indices)");
    const std::string xp = pose["x_prefix"].get<std::string>(), yp = pose["y_prefix"].get<std::string>();
    for (int64_t i : indices) x_cols_.push_back(fmt::format("{}{}", xp, i));
    for (int64_t i : indices) y_cols_.push_back(fmt::format("{}{}", yp, i));
    blocks_ = {p["include_intra_A"].get<bool>(), p["include_intra_B"].get<bool>(), p["include_inter"].get<bool>()};
    width_ = kernels::pose_distance_width(indices.size(), blocks_);
    if (width_ == 0)
      throw InputError(fmt::format(
          "pair-posedistance-pca: the feature vector is empty (include_intra_A/include_intra_B/include_inter with {} "
          "keypoint(s)); enable a block or select more keypoints",
          indices.size()));
    n_components_ = p["n_components"].get<int64_t>();
    if (n_components_ < 1 || static_cast<std::size_t>(n_components_) > width_)
      throw InputError(fmt::format("pair-posedistance-pca: n_components must be in [1, {}] (the vector width), got {}",
                                   width_, n_components_));
    pca_ = kernels::IncrementalPca(static_cast<int>(n_components_));
    batch_size_ = static_cast<std::size_t>(p["batch_size"].get<int64_t>());
    duplicate_ = p["duplicate_perspective"].get<bool>();
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  bool load_state(const fs::path& run_root, const ArtifactPaths&, const DependencyLookups&) override {
    if (!fs::exists(run_root / kModelFile)) return false;
    read_model(run_root / kModelFile);
    return true;
  }
  void fit(const InputStream& inputs) override;
  void save_state(const fs::path& run_root) const override;
  Table apply(const Table& df) const override;

 private:
  Prepared prepare(const Table& df) const;
  kernels::PoseView view(const AnimalTracks& animals, std::size_t k, std::vector<std::span<const double>>& cols) const;
  void read_model(const fs::path& path);

  kernels::CleaningConfig cleaning_;
  std::vector<std::string> x_cols_, y_cols_;
  kernels::PoseDistanceBlocks blocks_;
  std::size_t width_ = 0;
  int64_t n_components_ = 6;
  std::size_t batch_size_ = 5000;
  bool duplicate_ = true;
  kernels::IncrementalPca pca_;
};

Prepared PairPoseDistancePca::prepare(const Table& df) const {
  const std::string where = "pair-posedistance-pca";
  Prepared out;
  out.order_col = resolve_order_col(df, where);
  for (const std::string& c : {std::string("id"), std::string("sequence")})
    if (!df.has_column(c)) throw SchemaError::missing_column(where + " input", c, df.column_names());
  std::vector<std::string> pose_cols = x_cols_;
  pose_cols.insert(pose_cols.end(), y_cols_.begin(), y_cols_.end());
  for (const auto& c : pose_cols)
    if (!df.has_column(c)) throw SchemaError::missing_column(where + " input", c, df.column_names());
  out.animals = clean_animals(df, out.order_col, pose_cols, cleaning_, {}, where);
  require_unique_frames(out.animals, where);
  for (std::size_t k = 0; k < out.animals.animals(); ++k)
    if (out.animals.rows_of(k) > 0) out.present.push_back(k);
  return out;
}

kernels::PoseView PairPoseDistancePca::view(const AnimalTracks& animals, std::size_t k,
                                            std::vector<std::span<const double>>& cols) const {
  const std::size_t n = x_cols_.size();
  cols.resize(2 * n);
  for (std::size_t c = 0; c < 2 * n; ++c) cols[c] = animals.column_of(c, k);
  return {std::span<const std::span<const double>>(cols).first(n), std::span<const std::span<const double>>(cols).subspan(n)};
}

void PairPoseDistancePca::fit(const InputStream& inputs) {
  pca_ = kernels::IncrementalPca(static_cast<int>(n_components_));
  std::vector<std::size_t> ia, ib;
  std::vector<float> batch;
  std::vector<std::span<const double>> ca, cb;
  std::size_t pairs_seen = 0;
  inputs.for_each([&](const EntryData& e) {
    Prepared p = prepare(e.table);
    if (p.present.size() < 2) {
      // The reference's fit aborts here (§4.13); we skip the entry (DECISIONS "+cpp.1" note).
      std::fprintf(stderr, "[pair-posedistance-pca] %s: fewer than two animals; skipped by fit\n", e.entry_key.c_str());
      return;
    }
    for (std::size_t u = 0; u < p.present.size(); ++u) {
      for (std::size_t v = u + 1; v < p.present.size(); ++v) {
        const std::size_t a = p.present[u], b = p.present[v];
        ++pairs_seen;
        merge_sorted_frames(p.animals.order_of(a), p.animals.order_of(b), ia, ib);
        const kernels::PoseView va = view(p.animals, a, ca), vb = view(p.animals, b, cb);
        for (std::size_t s = 0; s < ia.size(); s += batch_size_) {
          const std::size_t m = std::min(batch_size_, ia.size() - s);
          const std::size_t rows = duplicate_ ? 2 * m : m;
          batch.resize(rows * width_);
          std::span<const std::size_t> ra(ia.data() + s, m), rb(ib.data() + s, m);
          kernels::pose_distance_rows(va, vb, ra, rb, blocks_, std::span<float>(batch).first(m * width_));
          if (duplicate_) kernels::pose_distance_rows(vb, va, rb, ra, blocks_, std::span<float>(batch).subspan(m * width_));
          for (float x : batch)
            if (!std::isfinite(x))
              throw StateError(fmt::format(
                  "pair-posedistance-pca: {} pair ({}, {}) has non-finite distances after cleaning (a keypoint with no "
                  "value at all?); IncrementalPCA needs finite input",
                  e.entry_key, p.animals.ids[a], p.animals.ids[b]));
          auto status = pca_.partial_fit(batch.data(), rows, width_);
          if (status == kernels::IncrementalPca::FitStatus::kTooFewRows)
            throw StateError(fmt::format(
                "pair-posedistance-pca: the first partial_fit batch ({} pair ({}, {})) has {} rows, fewer than "
                "n_components={} (scikit-learn refuses it too); lower n_components",
                e.entry_key, p.animals.ids[a], p.animals.ids[b], rows, n_components_));
          if (status != kernels::IncrementalPca::FitStatus::kOk)
            throw StateError(fmt::format("pair-posedistance-pca: partial_fit refused a {} x {} batch", rows, width_));
        }
      }
    }
  });
  if (pairs_seen == 0) throw StateError("pair-posedistance-pca: No sequence with at least two IDs found.");
  if (!pca_.fitted()) throw StateError("pair-posedistance-pca: no pair shares a frame; nothing to fit");
}

void PairPoseDistancePca::save_state(const fs::path& run_root) const {
  const std::size_t n = x_cols_.size();
  std::vector<int64_t> tri_i, tri_j;
  for (std::size_t i = 1; i < n; ++i)
    for (std::size_t j = 0; j < i; ++j) tri_i.push_back(static_cast<int64_t>(i)), tri_j.push_back(static_cast<int64_t>(j));
  const auto k = static_cast<int64_t>(n_components_), d = static_cast<int64_t>(width_);
  const auto t = static_cast<int64_t>(tri_i.size());
  write_npz(run_root / kModelFile,
            {{"components", NpyArray::from_float64({k, d}, pca_.components())},
             {"mean", NpyArray::from_float64({d}, pca_.mean())},
             {"var", NpyArray::from_float64({d}, pca_.var())},
             {"singular_values", NpyArray::from_float64({k}, pca_.singular_values())},
             {"explained_variance", NpyArray::from_float64({k}, pca_.explained_variance())},
             {"explained_variance_ratio", NpyArray::from_float64({k}, pca_.explained_variance_ratio())},
             {"noise_variance", NpyArray::from_float64({}, {pca_.noise_variance()})},
             {"n_samples_seen", NpyArray::from_int64({}, {pca_.n_samples_seen()})},
             {"n_components", NpyArray::from_int64({}, {k})},
             {"float32_state", NpyArray::from_bool({}, {static_cast<uint8_t>(pca_.float32_state())})},
             {"tri_i", NpyArray::from_int64({t}, tri_i)},
             {"tri_j", NpyArray::from_int64({t}, tri_j)},
             {"feat_len", NpyArray::from_int64({}, {d})},
             {"version", NpyArray::from_strings({}, {kInfo.version})}});
}

void PairPoseDistancePca::read_model(const fs::path& path) {
  NpzArchive npz = read_npz(path);
  const auto k = npz.at("n_components").to_int64().at(0);
  const auto d = npz.at("feat_len").to_int64().at(0);
  if (k != n_components_ || static_cast<std::size_t>(d) != width_)
    throw StateError(fmt::format("pair-posedistance-pca: {} holds {} components of width {}, the params ask for {} of "
                                 "width {}",
                                 path.string(), k, d, n_components_, width_));
  pca_ = kernels::IncrementalPca::from_state(static_cast<int>(k), static_cast<std::size_t>(d),
                                             npz.at("n_samples_seen").to_int64().at(0), npz.at("components").to_double(),
                                             npz.at("singular_values").to_double(), npz.at("mean").to_double(),
                                             npz.at("var").to_double(), npz.at("float32_state").to_int64().at(0) != 0);
}

Table PairPoseDistancePca::apply(const Table& df) const {
  if (!pca_.fitted()) throw StateError("pair-posedistance-pca: apply called before fit/load_state");
  const std::size_t k = static_cast<std::size_t>(n_components_);
  auto empty = [&] {
    Table t;
    t.add_column("perspective", Column::from_int8({}));
    for (std::size_t c = 0; c < k; ++c) t.add_column(fmt::format("PC{}", c), Column::from_float64({}));
    return t;
  };
  if (df.num_rows() == 0) return empty();
  Prepared p = prepare(df);
  const AnimalTracks& an = p.animals;
  const std::size_t m = p.present.size();
  if (m < 2) return empty();
  // Joined frames per unordered pair (counts only), then each ordered pair's block offset in
  // the [id1, id2, perspective, frame] order: ordered pair (u, v) holds the vectors with the
  // focal animal u (perspective 0 when u < v, 1 otherwise; F1).
  std::vector<std::size_t> ia, ib;
  std::vector<std::size_t> joined(m * m, 0);
  for (std::size_t u = 0; u < m; ++u)
    for (std::size_t v = u + 1; v < m; ++v) {
      merge_sorted_frames(an.order_of(p.present[u]), an.order_of(p.present[v]), ia, ib);
      joined[u * m + v] = joined[v * m + u] = ia.size();
    }
  std::size_t total = 0;
  for (std::size_t u = 0; u < m; ++u)
    for (std::size_t v = 0; v < m; ++v)
      if (u != v && (duplicate_ || u < v)) total += joined[u * m + v];
  if (total == 0) return empty();

  const bool f32 = pca_.float32_state();
  std::vector<std::vector<double>> pc64(f32 ? 0 : k, std::vector<double>(f32 ? 0 : total));
  std::vector<std::vector<float>> pc32(f32 ? k : 0, std::vector<float>(f32 ? total : 0));
  std::vector<int64_t> src(total), id1(total), id2(total);
  std::vector<int8_t> persp(total);
  std::vector<float> feat(kApplyChunk * width_);
  std::vector<double> scores(kApplyChunk * k);
  std::vector<std::span<const double>> cu, cv;
  std::size_t o = 0;
  for (std::size_t u = 0; u < m; ++u) {
    for (std::size_t v = 0; v < m; ++v) {
      if (u == v || (!duplicate_ && u > v) || joined[u * m + v] == 0) continue;
      const std::size_t a = p.present[u], b = p.present[v];
      merge_sorted_frames(an.order_of(a), an.order_of(b), ia, ib);  // ascending frames, either order
      const kernels::PoseView vu = view(an, a, cu), vv = view(an, b, cv);
      for (std::size_t s = 0; s < ia.size(); s += kApplyChunk) {
        const std::size_t rows = std::min(kApplyChunk, ia.size() - s);
        kernels::pose_distance_rows(vu, vv, std::span<const std::size_t>(ia.data() + s, rows),
                                    std::span<const std::size_t>(ib.data() + s, rows), blocks_,
                                    std::span<float>(feat).first(rows * width_));
        pca_.transform(feat.data(), rows, scores.data());
        for (std::size_t r = 0; r < rows; ++r) {
          const std::size_t row = o + s + r;
          for (std::size_t c = 0; c < k; ++c) {
            if (f32) pc32[c][row] = static_cast<float>(scores[r * k + c]);
            else pc64[c][row] = scores[r * k + c];
          }
          src[row] = static_cast<int64_t>(an.source_rows[an.offsets[a] + ia[s + r]]);
        }
      }
      const std::size_t n = ia.size();
      std::fill_n(persp.begin() + static_cast<std::ptrdiff_t>(o), n, static_cast<int8_t>(u < v ? 0 : 1));
      std::fill_n(id1.begin() + static_cast<std::ptrdiff_t>(o), n, an.ids[a]);
      std::fill_n(id2.begin() + static_cast<std::ptrdiff_t>(o), n, an.ids[b]);
      o += n;
    }
  }
  Table out;
  for (std::size_t c = 0; c < k; ++c) {
    if (f32) out.add_column(fmt::format("PC{}", c), Column::from_float32(std::move(pc32[c])));
    else out.add_column(fmt::format("PC{}", c), Column::from_float64(std::move(pc64[c])));
  }
  out.add_column("frame", df.column(p.order_col).take(src));
  out.add_column("perspective", Column::from_int8(std::move(persp)));
  out.add_column("id1", Column::from_int64(std::move(id1)));
  out.add_column("id2", Column::from_int64(std::move(id2)));
  for (const char* c : {"sequence", "group"})
    if (df.has_column(c)) out.add_column(c, df.column(c).take(src));
  return out;
}

}  // namespace
MOSAIC_REGISTER_FEATURE(PairPoseDistancePca);
}  // namespace mosaic::features
