// pair-interaction-filter: segments of frames where a pair of animals is close (and optionally
// facing each other), cleaned by binary closing + opening and kept when long enough
// (features.md §2.6). `interaction_end` is the last frame INCLUDED, as the reference computes it
// (its docstring says "exclusive"; features.md §4 item 19). Padded segments of one pair may
// overlap; their frames then appear once per segment, as in the reference.
//
// No cleaning: the raw positions of each animal are sorted by frame and every pair is joined by a
// linear merge, one pair at a time with buffers reused; rows are appended in pair order (the
// reference does not sort its output).
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <numbers>

#include "features/feature_base.hpp"
#include "features/kernels/morphology.hpp"
#include "features/pair_common.hpp"
#include "features/track_cleaning.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {
namespace {

const FeatureInfo kInfo{.name = "pair-interaction-filter",
                        .version = "0.1",
                        .summary = "Find segments where pairs of animals are close (and facing), cleaned by "
                                   "morphological closing/opening and a minimum duration.",
                        .category = "per-frame",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOrResults,
                        .python_class = "PairInteractionFilter"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "PairInteractionFilterParams",
      {param_float("shift_dist", 15.0, "Shift of each position along its heading before the distance test (pixels)."),
       param_float("max_dist", 40.0, "Largest distance between the shifted positions (pixels)."),
       param_bool("require_facing", true, "Also require the animals to face each other."),
       param_float("max_inv_orientation_diff_deg", 80.0,
                   "Largest angle (degrees) between one heading and the reverse of the other when facing is required."),
       param_int("min_run_frames", 250, "Shortest interaction kept, in joined frames."),
       param_int("frame_padding", 10, "Frames added before and after each kept interaction."),
       param_int("morphological_structure_size", 25,
                 "Length of the closing/opening structure that removes short gaps and islands (0 = off)."),
       param_float("px_scale", 1.0, "Factor applied to shift_dist and max_dist (resolution of the video)."),
       param_bool("use_pixel_coords", true,
                  "Use pixel positions: poseX/Y<pose_head_index> when set, else x_pixels/y_pixels when present, else X/Y."),
       param("pose_head_index", ParamType::optional(ParamType::integer()), Json(),
             "Keypoint used as the position when use_pixel_coords is set (None = centroid).")}};
  return schema;
}

class PairInteractionFilter final : public StatelessFeature<PairInteractionFilter> {
 public:
  PairInteractionFilter(Inputs inputs, Json params) : StatelessFeature(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    shift_ = p["shift_dist"].get<double>() * p["px_scale"].get<double>();
    max_dist_ = p["max_dist"].get<double>() * p["px_scale"].get<double>();
    facing_ = p["require_facing"].get<bool>();
    max_inv_deg_ = p["max_inv_orientation_diff_deg"].get<double>();
    min_run_ = p["min_run_frames"].get<int64_t>();
    pad_ = p["frame_padding"].get<int64_t>();
    structure_ = p["morphological_structure_size"].get<int64_t>();
    pixels_ = p["use_pixel_coords"].get<bool>();
    if (p["pose_head_index"].is_number()) head_ = p["pose_head_index"].get<int64_t>();
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  Table apply(const Table& df) const override;

 private:
  double shift_ = 15.0, max_dist_ = 40.0, max_inv_deg_ = 80.0;
  bool facing_ = true, pixels_ = true;
  int64_t min_run_ = 250, pad_ = 10, structure_ = 25;
  std::optional<int64_t> head_;
};

Table PairInteractionFilter::apply(const Table& df) const {
  const std::string where = "pair-interaction-filter";
  if (df.num_rows() == 0) return Table();
  const std::string order_col = resolve_order_col(df, where);
  for (const char* c : {"id", "ANGLE"})
    if (!df.has_column(c)) throw SchemaError::missing_column(where + " input", c, df.column_names());
  std::string x_col = "X", y_col = "Y";
  if (pixels_ && head_) {
    x_col = fmt::format("poseX{}", *head_);
    y_col = fmt::format("poseY{}", *head_);
  } else if (pixels_) {
    if (df.has_column("x_pixels")) x_col = "x_pixels";
    if (df.has_column("y_pixels")) y_col = "y_pixels";
  }
  for (const auto& c : {x_col, y_col})
    if (!df.has_column(c)) throw SchemaError::missing_column(where + " input", c, df.column_names());

  AnimalTracks animals = group_animals(df, order_col, {x_col, y_col, "ANGLE"}, where);
  const double max_inv = max_inv_deg_ * (std::numbers::pi / 180.0);  // np.deg2rad
  std::vector<int64_t> out_frame, out_a, out_b, out_id, out_start, out_end, out_src;
  std::vector<std::size_t> ia, ib;
  std::vector<uint8_t> meets, scratch;
  std::vector<int64_t> prefix, frames;
  const std::size_t n = animals.animals();
  for (std::size_t a = 0; a < n; ++a) {
    for (std::size_t b = a + 1; b < n; ++b) {
      merge_sorted_frames(animals.order_of(a), animals.order_of(b), ia, ib);
      const std::size_t t_len = ia.size();
      if (t_len == 0) continue;
      auto xa = animals.column_of(0, a), ya = animals.column_of(1, a), oa = animals.column_of(2, a);
      auto xb = animals.column_of(0, b), yb = animals.column_of(1, b), ob = animals.column_of(2, b);
      auto fa = animals.order_of(a);
      meets.resize(t_len);
      frames.resize(t_len);
      for (std::size_t t = 0; t < t_len; ++t) {
        const std::size_t i = ia[t], j = ib[t];
        frames[t] = static_cast<int64_t>(std::trunc(fa[i]));  // int(f)
        const double xas = xa[i] + std::cos(oa[i]) * shift_, yas = ya[i] + std::sin(oa[i]) * shift_;
        const double xbs = xb[j] + std::cos(ob[j]) * shift_, ybs = yb[j] + std::sin(ob[j]) * shift_;
        bool m = std::hypot(xas - xbs, yas - ybs) < max_dist_;
        if (facing_) {
          double d = std::fabs(oa[i] - ob[j]);
          const double other = 2 * std::numbers::pi - d;
          d = (std::isnan(d) || std::isnan(other)) ? std::numeric_limits<double>::quiet_NaN() : std::min(d, other);
          m = m && (std::numbers::pi - d) < max_inv;
        }
        meets[t] = m ? 1 : 0;
      }
      if (structure_ > 0) kernels::remove_bool_islands(meets, structure_, scratch, prefix);
      const auto runs = kernels::find_long_true_runs(meets, min_run_, pad_);
      const std::size_t off_a = animals.offsets[a];
      for (std::size_t seg = 0; seg < runs.size(); ++seg) {
        const auto [lo, hi] = runs[seg];
        if (hi <= lo) continue;
        const int64_t start = frames[lo];
        const int64_t end = frames[std::min(hi - 1, t_len - 1)];  // inclusive, as the reference
        for (std::size_t t = lo; t < hi; ++t) {
          out_frame.push_back(frames[t]);
          out_a.push_back(animals.ids[a]);
          out_b.push_back(animals.ids[b]);
          out_id.push_back(static_cast<int64_t>(seg));
          out_start.push_back(start);
          out_end.push_back(end);
          out_src.push_back(static_cast<int64_t>(animals.source_rows[off_a + ia[t]]));
        }
      }
    }
  }
  Table out;
  const bool empty = out_frame.empty();
  out.add_column("frame", Column::from_int64(std::move(out_frame)));
  out.add_column("id_a", Column::from_int64(std::move(out_a)));
  out.add_column("id_b", Column::from_int64(std::move(out_b)));
  out.add_column("interaction_id", Column::from_int64(std::move(out_id)));
  out.add_column("interaction_start", Column::from_int64(std::move(out_start)));
  out.add_column("interaction_end", Column::from_int64(std::move(out_end)));
  if (empty) return out;  // the reference's empty result has the 6 base columns only
  for (const char* c : {"group", "sequence"})
    if (df.has_column(c)) out.add_column(c, df.column(c).take(out_src));
  return out;
}

}  // namespace
MOSAIC_REGISTER_FEATURE(PairInteractionFilter);
}  // namespace mosaic::features
