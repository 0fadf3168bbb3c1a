// movement-filter-interpolate: drop keypoints whose confidence is below a threshold, then fill gaps
// by linear interpolation over time, as the `movement` package's filter_by_confidence and
// interpolate_over_time do (features.md §2.19, movement 0.16 semantics: a point with a NaN
// confidence is dropped too; leading and trailing gaps stay NaN). Written back into a copy of the
// track table; the poseP columns come back as float32-rounded values, like movement's arrays.
// DECISIONS F10 (confidence columns by keypoint index, in the shared conversion) gives "+cpp.1".
#include <fmt/format.h>

#include "features/feature_base.hpp"
#include "features/kernels/movement.hpp"
#include "features/movement_convert.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {
namespace {

const FeatureInfo kInfo{.name = "movement-filter-interpolate",
                        .version = "0.1+cpp.1",
                        .summary = "Drop low-confidence keypoints and fill gaps by linear interpolation over time, as "
                                   "the movement package does.",
                        .category = "per-frame",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "MovementFilterInterpolate"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "MovementFilterInterpolateParams",
      {param_float("confidence_threshold", 0.6,
                   "Keypoints whose poseP confidence is below this (or missing) become NaN before interpolation."),
       param_str("interpolation_method", "linear", "Interpolation over time (only 'linear' is implemented)."),
       param("max_gap", ParamType::optional(ParamType::integer()), Json(),
             "Fill only gaps of at most this many consecutive missing frames (None = any length)."),
       param_bool("include_centroid", true, "Also interpolate X/Y (as the keypoint 'centroid', always confident)."),
       param("fps", ParamType::optional(ParamType::floating()), Json(),
             "Frames per second of the movement dataset (only its time labels; results do not depend on it)."),
       param("keypoint_names", ParamType::optional(ParamType::list(ParamType::string())), Json(),
             "Names of the pose keypoints (one per poseX/poseY pair; must be unique).")}};
  return schema;
}

class MovementFilterInterpolate final : public StatelessFeature<MovementFilterInterpolate> {
 public:
  MovementFilterInterpolate(Inputs inputs, Json params) : StatelessFeature(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    // numpy compares the float32 confidences with the threshold as a float32 (NEP 50).
    threshold_ = static_cast<float>(p["confidence_threshold"].get<double>());
    const std::string method = p["interpolation_method"].get<std::string>();
    if (method != "linear")
      throw InputError(fmt::format(
          "movement-filter-interpolate: interpolation_method '{}' is not implemented (supported: 'linear')", method));
    if (p["max_gap"].is_number()) max_gap_ = p["max_gap"].get<int64_t>();
    include_centroid_ = p["include_centroid"].get<bool>();
    if (p["keypoint_names"].is_array()) keypoint_names_ = p["keypoint_names"].get<std::vector<std::string>>();
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  Table apply(const Table& df) const override {
    if (df.num_rows() == 0) return Table();
    MovementArrays m = to_movement_arrays(df, keypoint_names_, include_centroid_, "movement-filter-interpolate");
    for (std::size_t ind = 0; ind < m.n_individuals; ++ind)
      for (std::size_t kp = 0; kp < m.n_keypoints; ++kp) {
        auto x = m.series(ind, kp, 0), y = m.series(ind, kp, 1);
        if (m.has_confidence) {
          // data.where(confidence >= threshold): NaN confidence fails the test too.
          auto conf = m.confidence_series(ind, kp);
          for (std::size_t f = 0; f < m.n_frames; ++f)
            if (!(conf[f] >= threshold_)) x[f] = y[f] = std::numeric_limits<float>::quiet_NaN();
        }
        kernels::interpolate_series(x, max_gap_);
        kernels::interpolate_series(y, max_gap_);
      }
    return from_movement_arrays(df, m, m.has_confidence);
  }

 private:
  float threshold_ = 0.6f;
  std::optional<int64_t> max_gap_;
  bool include_centroid_ = true;
  std::optional<std::vector<std::string>> keypoint_names_;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(MovementFilterInterpolate);
}  // namespace mosaic::features
