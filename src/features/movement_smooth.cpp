// movement-smooth: smooth the centroid and keypoint trajectories with the `movement` package's
// filters, Savitzky-Golay or a rolling statistic over time (features.md §2.19), and write the
// smoothed positions back into a copy of the track table. No Python is involved: the filters are
// reimplemented in kernels/movement.hpp with movement 0.16's semantics. DECISIONS F10 (confidence
// columns by keypoint index) is in the shared conversion, hence "+cpp.1".
#include <fmt/format.h>

#include "features/feature_base.hpp"
#include "features/kernels/movement.hpp"
#include "features/kernels/signal.hpp"
#include "features/movement_convert.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {
namespace {

const FeatureInfo kInfo{.name = "movement-smooth",
                        .version = "0.1+cpp.1",
                        .summary = "Smooth centroid and keypoint trajectories over time (Savitzky-Golay or rolling "
                                   "median/mean/max/min), as the movement package does.",
                        .category = "per-frame",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "MovementSmooth"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "MovementSmoothParams",
      {param("method", ParamType::literal({"rolling", "savgol"}), Json("savgol"), "Filter: savgol or rolling."),
       param_int("window", 5, "Window length in frames (rolling: at least 2)."),
       param("statistic", ParamType::literal({"median", "mean", "max", "min"}), Json("median"),
             "Rolling statistic over the non-missing values of each window."),
       param("min_periods", ParamType::optional(ParamType::integer()), Json(),
             "Rolling: minimum non-missing values for a result (None = the whole window)."),
       param_int("polyorder", 2, "Savitzky-Golay polynomial order (< window)."),
       param_str("savgol_mode", "nearest", "Savitzky-Golay edge mode: nearest, mirror, constant, wrap or interp."),
       param_bool("include_centroid", true, "Also smooth X/Y (as the keypoint 'centroid')."),
       param("fps", ParamType::optional(ParamType::floating()), Json(),
             "Frames per second of the movement dataset (only its time labels; results do not depend on it)."),
       param("keypoint_names", ParamType::optional(ParamType::list(ParamType::string())), Json(),
             "Names of the pose keypoints (one per poseX/poseY pair; must be unique).")}};
  return schema;
}

class MovementSmooth final : public StatelessFeature<MovementSmooth> {
 public:
  MovementSmooth(Inputs inputs, Json params) : StatelessFeature(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    rolling_ = p["method"] == "rolling";
    window_ = p["window"].get<int64_t>();
    const std::string stat = p["statistic"].get<std::string>();
    stat_ = stat == "mean" ? kernels::RollingStat::kMean
            : stat == "max" ? kernels::RollingStat::kMax
            : stat == "min" ? kernels::RollingStat::kMin
                            : kernels::RollingStat::kMedian;
    polyorder_ = p["polyorder"].get<int64_t>();
    include_centroid_ = p["include_centroid"].get<bool>();
    if (p["keypoint_names"].is_array()) keypoint_names_ = p["keypoint_names"].get<std::vector<std::string>>();
    if (rolling_) {
      // movement pads window // 2 frames and trims them again: window 1 would return no frame.
      if (window_ < 2)
        throw InputError(fmt::format("movement-smooth: rolling window must be at least 2 (got {})", window_));
      min_periods_ = window_;
      if (p["min_periods"].is_number()) min_periods_ = p["min_periods"].get<int64_t>();
      if (min_periods_ < 1 || min_periods_ > window_)
        throw InputError(fmt::format("movement-smooth: min_periods must be between 1 and window ({}), got {}", window_,
                                     min_periods_));
    } else {
      const std::string mode = p["savgol_mode"].get<std::string>();
      if (mode == "nearest") mode_ = kernels::EdgeMode::kNearest;
      else if (mode == "mirror") mode_ = kernels::EdgeMode::kMirror;
      else if (mode == "constant") mode_ = kernels::EdgeMode::kConstant;
      else if (mode == "wrap") mode_ = kernels::EdgeMode::kWrap;
      else if (mode == "interp") interp_ = true;
      else
        throw InputError(fmt::format(
            "movement-smooth: savgol_mode must be 'mirror', 'constant', 'nearest', 'wrap' or 'interp' (got '{}')", mode));
      if (window_ < 1 || polyorder_ < 0 || polyorder_ >= window_)
        throw InputError(fmt::format("movement-smooth: polyorder must be >= 0 and less than window (got polyorder {}, "
                                     "window {})",
                                     polyorder_, window_));
      coeffs_ = kernels::savgol_coeffs(static_cast<int>(window_), static_cast<int>(polyorder_));
    }
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  Table apply(const Table& df) const override {
    if (df.num_rows() == 0) return Table();
    MovementArrays m = to_movement_arrays(df, keypoint_names_, include_centroid_, "movement-smooth");
    if (interp_ && static_cast<int64_t>(m.n_frames) < window_)
      throw InputError(fmt::format("movement-smooth: If mode is 'interp', window ({}) must be less than or equal to the "
                                   "number of frames ({}).",
                                   window_, m.n_frames));
    std::vector<float> out(m.n_frames);
    std::vector<double> work;
    for (std::size_t ind = 0; ind < m.n_individuals; ++ind)
      for (std::size_t kp = 0; kp < m.n_keypoints; ++kp)
        for (std::size_t space = 0; space < 2; ++space) {
          auto s = m.series(ind, kp, space);
          if (rolling_) {
            kernels::rolling_series(s, static_cast<int>(window_), stat_, static_cast<int>(min_periods_), out, work);
          } else if (interp_) {
            if (!kernels::savgol_series_interp(s, static_cast<int>(window_), static_cast<int>(polyorder_), coeffs_, out,
                                               work))
              throw InputError("movement-smooth: mode='interp' does not support NaNs in edge windows with SciPy >= "
                               "1.17; use mode='nearest'/'mirror' or fill edge NaNs before filtering.");
          } else {
            kernels::savgol_series(s, coeffs_, mode_, out, work);
          }
          std::copy(out.begin(), out.end(), s.begin());
        }
    return from_movement_arrays(df, m, false);
  }

 private:
  bool rolling_ = false, interp_ = false, include_centroid_ = true;
  int64_t window_ = 5, polyorder_ = 2, min_periods_ = 5;
  kernels::RollingStat stat_ = kernels::RollingStat::kMedian;
  kernels::EdgeMode mode_ = kernels::EdgeMode::kNearest;
  std::vector<double> coeffs_;
  std::optional<std::vector<std::string>> keypoint_names_;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(MovementSmooth);
}  // namespace mosaic::features
