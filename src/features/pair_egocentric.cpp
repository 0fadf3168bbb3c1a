// pair-egocentric: per frame and ordered pair of animals, 15 egocentric and kinematic features
// from the keypoints (features.md §1.2). DECISIONS F8: `center_mode` is honoured ("mean" or a
// keypoint index), so the version carries "+cpp.1"; with the default "mean" the numbers are the
// reference's.
//
// Work is pair by pair with buffers reused across pairs: each animal is cleaned once (§0.4), each
// pair's frames are joined by a linear merge of the two sorted frame lists, and each output row
// is written straight to its final position in the reference's order (frame, id1, id2): within a
// frame the present animals are ranked, and ordered pair (i, j) of k present animals sits at
// rank(i) * (k - 1) + rank(j) - [rank(j) > rank(i)].
#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "features/feature_base.hpp"
#include "features/kernels/cleaning.hpp"
#include "features/kernels/pair_kinematics.hpp"
#include "features/pair_common.hpp"
#include "features/track_cleaning.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {
namespace {

const FeatureInfo kInfo{.name = "pair-egocentric",
                        .version = "0.1+cpp.1",
                        .summary = "Compute egocentric and kinematic features for every pair of animals from their keypoints "
                                   "(both perspectives).",
                        .category = "per-frame",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "PairEgocentricFeatures"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "PairEgocentricFeaturesParams",
      {param("interpolation", ParamType::model(interpolation_config_schema()), interpolation_config_schema()->defaults(),
             "Cleaning of each animal's keypoints before pairing (interpolation limits, row drop fraction)."),
       param("sampling", ParamType::model(sampling_config_schema()), sampling_config_schema()->defaults(),
             "fps when the table has no constant fps column; odd box-smoothing window for the keypoints."),
       param("pose", ParamType::model(pose_config_schema()), pose_config_schema()->defaults(),
             "Keypoints used (pose_n / pose_indices) and their column prefixes."),
       param_int("neck_idx", 3, "Keypoint index of the heading's front point (neck)."),
       param_int("tail_base_idx", 6, "Keypoint index of the heading's back point (tail base)."),
       param("center_mode", ParamType::one_of({ParamType::string(), ParamType::integer()}), Json("mean"),
             "Animal centre: \"mean\" of the keypoints, or a keypoint index (int or digit string).")}};
  return schema;
}

class PairEgocentric final : public StatelessFeature<PairEgocentric> {
 public:
  PairEgocentric(Inputs inputs, Json params) : StatelessFeature(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    cleaning_ = cleaning_config(p["interpolation"]);
    fps_default_ = p["sampling"]["fps_default"].get<double>();
    smooth_win_ = p["sampling"]["smooth_win"].get<int64_t>();
    if (smooth_win_ > 1 && smooth_win_ % 2 == 0)
      throw InputError(fmt::format(
          "pair-egocentric: sampling.smooth_win must be odd (or 0/1 for none), got {}: an even window gives n+1 "
          "smoothed values in the reference, whose apply then fails",
          smooth_win_));
    const Json& pose = p["pose"];
    std::vector<int64_t> indices;
    if (pose["pose_indices"].is_array()) {
      for (const auto& v : pose["pose_indices"]) indices.push_back(v.get<int64_t>());
    } else {
      for (int64_t i = 0; i < pose["pose_n"].get<int64_t>(); ++i) indices.push_back(i);
    }
    if (indices.empty()) throw InputError("pair-egocentric: no keypoints selected (pose.pose_n / pose.pose_indices)");
    const std::string xp = pose["x_prefix"].get<std::string>(), yp = pose["y_prefix"].get<std::string>();
    for (int64_t i : indices) x_cols_.push_back(fmt::format("{}{}", xp, i));
    for (int64_t i : indices) y_cols_.push_back(fmt::format("{}{}", yp, i));
    const bool subset = pose["pose_indices"].is_array();
    neck_ = map_index("neck_idx", p["neck_idx"].get<int64_t>(), indices, subset);
    tail_ = map_index("tail_base_idx", p["tail_base_idx"].get<int64_t>(), indices, subset);
    // DECISIONS F8: "mean", or a keypoint index given as an int or a string of digits.
    const Json& cm = p["center_mode"];
    if (cm.is_number_integer()) {
      center_ = map_index("center_mode", cm.get<int64_t>(), indices, subset);
    } else {
      const std::string s = cm.get<std::string>();
      const bool digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
      if (digits) center_ = map_index("center_mode", std::stoll(s), indices, subset);
      else if (s != "mean")
        throw InputError(fmt::format("pair-egocentric: center_mode must be \"mean\" or a keypoint index, got \"{}\"", s));
    }
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  Table apply(const Table& df) const override;

 private:
  // The reference maps an absolute keypoint index to its position in pose_indices when a subset is
  // given (and refuses indices outside it); without a subset the index is used as is.
  static std::size_t map_index(const char* name, int64_t value, const std::vector<int64_t>& indices, bool subset) {
    if (subset) {
      auto it = std::find(indices.begin(), indices.end(), value);
      if (it == indices.end())
        throw InputError(fmt::format("pair-egocentric: {}={} is not in pose_indices=[{}]; it must be one of the selected "
                                     "keypoints",
                                     name, value, fmt::join(indices, ", ")));
      return static_cast<std::size_t>(it - indices.begin());
    }
    if (value < 0 || value >= static_cast<int64_t>(indices.size()))
      throw InputError(fmt::format("pair-egocentric: {}={} is out of range for pose_n={}", name, value, indices.size()));
    return static_cast<std::size_t>(value);
  }

  kernels::CleaningConfig cleaning_;
  double fps_default_ = 30.0;
  int64_t smooth_win_ = 0;
  std::vector<std::string> x_cols_, y_cols_;
  std::size_t neck_ = 3, tail_ = 6;
  std::optional<std::size_t> center_;  // nullopt = keypoint mean
};

Table PairEgocentric::apply(const Table& df) const {
  const std::string where = "pair-egocentric";
  const std::string order_col = resolve_order_col(df, where);
  for (const std::string& c : {std::string("id"), std::string("sequence")})
    if (!df.has_column(c)) throw SchemaError::missing_column(where + " input", c, df.column_names());
  std::vector<std::string> pose_cols = x_cols_;
  pose_cols.insert(pose_cols.end(), y_cols_.begin(), y_cols_.end());
  for (const auto& c : pose_cols)
    if (!df.has_column(c)) throw SchemaError::missing_column(where + " input", c, df.column_names());
  const std::size_t n_pts = x_cols_.size();

  AnimalTracks animals = clean_animals(df, order_col, pose_cols, cleaning_, {}, where);
  if (animals_with_rows(animals) < 2)
    throw InputError("[pair-egocentric] No sequence with at least two IDs found.");
  require_unique_frames(animals, where);
  const double fps = fps_from_column(df, fps_default_);

  FrameLayout layout = frame_layout(animals);
  const std::size_t total = layout.total_rows;
  if (total == 0) {
    // the reference's result when no pair shares a frame
    Table empty;
    empty.add_column("perspective", Column::from_int64({}));
    empty.add_column("frame", Column::from_int64({}));
    empty.add_column("id1", Column::from_int64({}));
    empty.add_column("id2", Column::from_int64({}));
    return empty;
  }
  // The 15 values of an output row are scattered as one 64-byte record (one cache line per row
  // instead of one per column), then transposed into columns in a single streaming pass.
  struct Record {
    float v[16];
  };
  std::vector<Record> rec(total);

  // Per-pair buffers, reused.
  std::vector<std::size_t> ia, ib;
  std::vector<double> xa, ya, xb, yb, tmp;
  std::vector<double> cxa, cya, cxb, cyb, uxa, uya, uxb, uyb, tha, thb;
  std::vector<float> ab, ba;
  kernels::PairKinematicsScratch scratch;
  const std::size_t n_animals = animals.animals();
  for (std::size_t a = 0; a < n_animals; ++a) {
    for (std::size_t b = a + 1; b < n_animals; ++b) {
      merge_sorted_frames(animals.order_of(a), animals.order_of(b), ia, ib);
      const std::size_t t_len = ia.size();
      if (t_len == 0) continue;
      if (t_len == 1) throw_single_frame(where, animals, a, b, ia[0]);
      // Joined keypoints, keypoint-major: xa[k * T + t].
      auto gather = [&](std::size_t animal, const std::vector<std::size_t>& idx, std::size_t col0,
                        std::vector<double>& out) {
        out.resize(n_pts * t_len);
        for (std::size_t k = 0; k < n_pts; ++k) {
          auto col = animals.column_of(col0 + k, animal);
          for (std::size_t t = 0; t < t_len; ++t) out[k * t_len + t] = col[idx[t]];
        }
        if (smooth_win_ > 1) {
          tmp.resize(t_len);
          for (std::size_t k = 0; k < n_pts; ++k) {
            std::span<double> s(out.data() + k * t_len, t_len);
            kernels::smooth_1d(s, smooth_win_, tmp);
            std::copy(tmp.begin(), tmp.end(), s.begin());
          }
        }
      };
      gather(a, ia, 0, xa);
      gather(a, ia, n_pts, ya);
      gather(b, ib, 0, xb);
      gather(b, ib, n_pts, yb);
      auto side = [&](const std::vector<double>& x, const std::vector<double>& y, std::vector<double>& cx,
                      std::vector<double>& cy, std::vector<double>& ux, std::vector<double>& uy,
                      std::vector<double>& th) {
        cx.resize(t_len);
        cy.resize(t_len);
        ux.resize(t_len);
        uy.resize(t_len);
        th.resize(t_len);
        for (std::size_t t = 0; t < t_len; ++t) {
          if (center_) {
            cx[t] = x[*center_ * t_len + t];
            cy[t] = y[*center_ * t_len + t];
          } else {
            // numpy mean over the keypoint axis: a sequential sum, then / N
            double sx = x[t], sy = y[t];
            for (std::size_t k = 1; k < n_pts; ++k) {
              sx += x[k * t_len + t];
              sy += y[k * t_len + t];
            }
            cx[t] = sx / static_cast<double>(n_pts);
            cy[t] = sy / static_cast<double>(n_pts);
          }
          const double hx = x[neck_ * t_len + t] - x[tail_ * t_len + t];
          const double hy = y[neck_ * t_len + t] - y[tail_ * t_len + t];
          const double norm = std::sqrt(hx * hx + hy * hy) + 1e-8;
          ux[t] = hx / norm;
          uy[t] = hy / norm;
          th[t] = std::atan2(uy[t], ux[t]);
        }
      };
      side(xa, ya, cxa, cya, uxa, uya, tha);
      side(xb, yb, cxb, cyb, uxb, uyb, thb);
      ab.resize(15 * t_len);
      ba.resize(15 * t_len);
      kernels::pair_ego_features({cxa, cya, uxa, uya, tha}, {cxb, cyb, uxb, uyb, thb}, fps, ab, ba, scratch);
      const std::size_t off_a = animals.offsets[a], off_b = animals.offsets[b];
      for (std::size_t t = 0; t < t_len; ++t) {
        const std::size_t ra = off_a + ia[t], rb = off_b + ib[t];
        const std::size_t d0 = layout.dest(ra, rb), d1 = layout.dest(rb, ra);
        Record& r0 = rec[d0];
        Record& r1 = rec[d1];
        for (std::size_t k = 0; k < 15; ++k) {
          r0.v[k] = ab[k * t_len + t];
          r1.v[k] = ba[k * t_len + t];
        }
      }
    }
  }
  std::vector<std::vector<float>> feat(15, std::vector<float>(total));
  for (std::size_t r = 0; r < total; ++r)
    for (std::size_t k = 0; k < 15; ++k) feat[k][r] = rec[r].v[k];
  rec = std::vector<Record>();
  // Keys in output order, straight from the layout: frame by frame, every ordered pair (i, j) of
  // the animals present, i outer. src is animal i's row (Python's frame; sequence/group per row).
  std::vector<int64_t> src(total), persp(total), id1(total), id2(total);
  {
    std::vector<std::size_t> animal_of(animals.order.size());
    for (std::size_t k = 0; k < n_animals; ++k)
      for (std::size_t r = animals.offsets[k]; r < animals.offsets[k + 1]; ++r) animal_of[r] = k;
    std::vector<std::size_t> by_frame = layout.rows_by_frame();
    std::size_t o = 0, p = 0;
    for (std::size_t f = 0; f < layout.present.size(); ++f) {
      const std::size_t k = layout.present[f];
      for (std::size_t i = 0; i < k; ++i)
        for (std::size_t j = 0; j < k; ++j) {
          if (i == j) continue;
          const std::size_t ai = animal_of[by_frame[p + i]], aj = animal_of[by_frame[p + j]];
          src[o] = static_cast<int64_t>(animals.source_rows[by_frame[p + (ai < aj ? i : j)]]);
          persp[o] = ai < aj ? 0 : 1;
          id1[o] = animals.ids[ai];
          id2[o] = animals.ids[aj];
          ++o;
        }
      p += k;
    }
  }
  Table out;
  for (std::size_t k = 0; k < 15; ++k) out.add_column(std::string(kernels::kPairEgoNames[k]), Column::from_float32(std::move(feat[k])));
  out.add_column("frame", df.column(order_col).take(src));
  out.add_column("perspective", Column::from_int64(std::move(persp)));
  out.add_column("id1", Column::from_int64(std::move(id1)));
  out.add_column("id2", Column::from_int64(std::move(id2)));
  for (const char* c : {"sequence", "group"})
    if (df.has_column(c)) out.add_column(c, df.column(c).take(src));
  return out;
}

}  // namespace
MOSAIC_REGISTER_FEATURE(PairEgocentric);
}  // namespace mosaic::features
