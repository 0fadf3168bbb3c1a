// pair-position: the 15 egocentric pair features of pair-egocentric, from the tracker's centroid
// (X, Y) and heading (ANGLE) instead of keypoints (features.md §2.5). DECISIONS F7: ANGLE is
// interpolated (cleaning) and smoothed along the shorter arc, i.e. unwrapped first and wrapped back
// after, so the version carries "+cpp.1"; fills and windows that do not cross +-pi are the
// reference's bit for bit.
//
// Rows come out in the reference's order (id1, id2, perspective, frame): one block per ordered
// pair, both blocks of a pair computed together. A first pass counts each pair's joined frames
// (linear merges) to place the blocks; a second computes and writes them.
#include <cmath>
#include <algorithm>
#include <fmt/format.h>
#include <numbers>

#include "features/feature_base.hpp"
#include "features/kernels/cleaning.hpp"
#include "features/kernels/pair_kinematics.hpp"
#include "features/pair_common.hpp"
#include "features/pair_position_internal.hpp"
#include "features/track_cleaning.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {
namespace {

const FeatureInfo kInfo{.name = "pair-position",
                        .version = "0.1+cpp.1",
                        .summary = "Compute egocentric and kinematic features for every pair of animals from centroid "
                                   "and heading (both perspectives).",
                        .category = "per-frame",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "PairPositionFeatures"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "PairPositionFeaturesParams",
      {param("interpolation", ParamType::model(interpolation_config_schema()), interpolation_config_schema()->defaults(),
             "Cleaning of each animal's X, Y, ANGLE before pairing (ANGLE along the shorter arc)."),
       param("sampling", ParamType::model(sampling_config_schema()), sampling_config_schema()->defaults(),
             "fps when the table has no constant fps column; odd box-smoothing window for X, Y, ANGLE.")}};
  return schema;
}

const std::vector<std::string>& empty_columns() {
  static const std::vector<std::string> c = [] {
    std::vector<std::string> v = {"frame", "perspective", "id1", "id2"};
    for (auto n : kernels::kPairEgoNames) v.emplace_back(n);
    return v;
  }();
  return c;
}

class PairPosition final : public StatelessFeature<PairPosition> {
 public:
  PairPosition(Inputs inputs, Json params) : StatelessFeature(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    cleaning_ = cleaning_config(p["interpolation"]);
    fps_default_ = p["sampling"]["fps_default"].get<double>();
    smooth_win_ = p["sampling"]["smooth_win"].get<int64_t>();
    if (smooth_win_ > 1 && smooth_win_ % 2 == 0)
      throw InputError(fmt::format(
          "pair-position: sampling.smooth_win must be odd (or 0/1 for none), got {}: an even window gives n+1 "
          "smoothed values in the reference, whose apply then fails",
          smooth_win_));
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  Table apply(const Table& df) const override { return apply_angles(df, true); }
  /// apply with (DECISIONS F7) or without (the reference) the shorter-arc angle handling.
  Table apply_angles(const Table& df, bool unwrap_angles) const;

 private:
  kernels::CleaningConfig cleaning_;
  double fps_default_ = 30.0;
  int64_t smooth_win_ = 0;
};

Table PairPosition::apply_angles(const Table& df, bool unwrap_angles) const {
  const std::string where = "pair-position";
  const std::string order_col = resolve_order_col(df, where);
  for (const char* c : {"id", "sequence", "X", "Y", "ANGLE"})
    if (!df.has_column(c)) throw SchemaError::missing_column(where + " input", c, df.column_names());
  constexpr double kTwoPi = 2 * std::numbers::pi;
  AnimalTracks animals =
      clean_animals(df, order_col, {"X", "Y", "ANGLE"}, cleaning_, {0.0, 0.0, unwrap_angles ? kTwoPi : 0.0}, where);
  auto empty_result = [] {
    // the reference's empty result: a fixed column list
    Table empty;
    empty.add_column("frame", Column::from_int64({}));
    empty.add_column("perspective", Column::from_int64({}));
    empty.add_column("id1", Column::from_int64({}));
    empty.add_column("id2", Column::from_int64({}));
    for (std::size_t k = 4; k < empty_columns().size(); ++k) empty.add_column(empty_columns()[k], Column::from_float32({}));
    return empty;
  };
  if (animals_with_rows(animals) < 2) return empty_result();
  require_unique_frames(animals, where);
  const double fps = fps_from_column(df, fps_default_);
  const std::size_t n = animals.animals();

  // Pass 1: joined frames per pair -> block offsets of the ordered pairs (id1, id2) ascending.
  std::vector<std::size_t> ia, ib;
  std::vector<std::size_t> joined(n * n, 0);  // joined[a * n + b], a < b
  for (std::size_t a = 0; a < n; ++a)
    for (std::size_t b = a + 1; b < n; ++b) {
      merge_sorted_frames(animals.order_of(a), animals.order_of(b), ia, ib);
      if (ia.size() == 1) throw_single_frame(where, animals, a, b, ia[0]);
      joined[a * n + b] = ia.size();
    }
  std::vector<std::size_t> block(n * n, 0);  // block[i * n + j]: first row of ordered pair (i, j)
  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      block[i * n + j] = total;
      total += joined[std::min(i, j) * n + std::max(i, j)];
    }
  if (total == 0) return empty_result();

  std::vector<std::vector<float>> feat(15, std::vector<float>(total));
  std::vector<int64_t> src(total), persp(total), id1(total), id2(total);
  std::vector<double> cxa, cya, cxb, cyb, tha, thb, uxa, uya, uxb, uyb, tmp;
  std::vector<float> ab, ba;
  kernels::PairKinematicsScratch scratch;
  for (std::size_t a = 0; a < n; ++a) {
    for (std::size_t b = a + 1; b < n; ++b) {
      const std::size_t t_len = joined[a * n + b];
      if (t_len == 0) continue;
      merge_sorted_frames(animals.order_of(a), animals.order_of(b), ia, ib);
      auto gather = [&](std::size_t col, std::size_t animal, const std::vector<std::size_t>& idx,
                        std::vector<double>& out, bool angle) {
        auto c = animals.column_of(col, animal);
        out.resize(t_len);
        for (std::size_t t = 0; t < t_len; ++t) out[t] = c[idx[t]];
        if (smooth_win_ > 1) {
          tmp.resize(t_len);
          if (angle && unwrap_angles) kernels::smooth_angle_1d(out, smooth_win_, tmp);
          else kernels::smooth_1d(out, smooth_win_, tmp);
          out.swap(tmp);
        }
      };
      gather(0, a, ia, cxa, false);
      gather(1, a, ia, cya, false);
      gather(2, a, ia, tha, true);
      gather(0, b, ib, cxb, false);
      gather(1, b, ib, cyb, false);
      gather(2, b, ib, thb, true);
      auto unit = [t_len](const std::vector<double>& th, std::vector<double>& ux, std::vector<double>& uy) {
        ux.resize(t_len);
        uy.resize(t_len);
        for (std::size_t t = 0; t < t_len; ++t) {
          ux[t] = std::cos(th[t]);
          uy[t] = std::sin(th[t]);
        }
      };
      unit(tha, uxa, uya);
      unit(thb, uxb, uyb);
      ab.resize(15 * t_len);
      ba.resize(15 * t_len);
      kernels::pair_ego_features({cxa, cya, uxa, uya, tha}, {cxb, cyb, uxb, uyb, thb}, fps, ab, ba, scratch);
      const std::size_t d0 = block[a * n + b], d1 = block[b * n + a];
      for (std::size_t k = 0; k < 15; ++k) {
        std::copy(ab.begin() + static_cast<std::ptrdiff_t>(k * t_len), ab.begin() + static_cast<std::ptrdiff_t>((k + 1) * t_len),
                  feat[k].begin() + static_cast<std::ptrdiff_t>(d0));
        std::copy(ba.begin() + static_cast<std::ptrdiff_t>(k * t_len), ba.begin() + static_cast<std::ptrdiff_t>((k + 1) * t_len),
                  feat[k].begin() + static_cast<std::ptrdiff_t>(d1));
      }
      const std::size_t off_a = animals.offsets[a];
      for (std::size_t t = 0; t < t_len; ++t) {
        src[d0 + t] = src[d1 + t] = static_cast<int64_t>(animals.source_rows[off_a + ia[t]]);
        persp[d0 + t] = 0;
        persp[d1 + t] = 1;
        id1[d0 + t] = id2[d1 + t] = animals.ids[a];
        id2[d0 + t] = id1[d1 + t] = animals.ids[b];
      }
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

Table pair_position_apply(const Json& params, const Table& df, bool unwrap_angles) {
  PairPosition f(Inputs::tracks(), params_schema().from_overrides(params, "pair-position"));
  return f.apply_angles(df, unwrap_angles);
}

MOSAIC_REGISTER_FEATURE(PairPosition);
}  // namespace mosaic::features
