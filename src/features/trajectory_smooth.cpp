// trajectory-smooth: flag implausibly fast frames, interpolate over them, and optionally smooth
// the centroid and keypoints with a Savitzky-Golay filter (features.md §2.8).
//
// The output is the whole track table, per-id blocks (ids in order of first appearance by
// frame), each block sorted by frame, plus a `bad_frame` bool column.
//
// Deliberate difference from the reference (the F4 fix of speed-angvel, applied here too): the
// reference replaces non-finite samples by 0 before the filter, which drags every neighbour of a
// missing keypoint toward the origin. We interpolate over them for the filter only and put NaN
// back afterwards, so the version carries "+cpp.1". Where nothing is missing at filter time
// (the reference's golden cases) both give the same numbers.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <unordered_map>

#include "features/feature_base.hpp"
#include "features/kernels/signal.hpp"
#include "features/pose_columns.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const FeatureInfo kInfo{.name = "trajectory-smooth",
                        .version = "0.1+cpp.1",
                        .summary = "Flag frames faster than a threshold, interpolate over them and optionally "
                                   "Savitzky-Golay smooth the centroid and keypoints.",
                        .category = "per-frame",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "TrajectorySmooth"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "TrajectorySmoothParams",
      {param("speed_threshold", ParamType::optional(ParamType::floating()), Json(),
             "Speed above which a frame is bad: units/s when fps is set, else units/frame (None = no detection)."),
       param("fps", ParamType::optional(ParamType::floating()), Json(),
             "Frames per second, to convert speed_threshold to units/frame (None = already per frame)."),
       param_bool("interpolate_centroid", true, "Replace X/Y at bad frames (and any other gap) by linear interpolation."),
       param_bool("interpolate_pose", false, "Replace poseX*/poseY* at bad frames (and any other gap) by interpolation."),
       param_int("expand_frames", 2, "Also flag this many frames on each side of a bad frame."),
       param("savgol_window", ParamType::optional(ParamType::integer()), Json(),
             "Savitzky-Golay window for X/Y and all keypoints (None = no smoothing; ids shorter than it are not smoothed)."),
       param_int("savgol_polyorder", 2, "Savitzky-Golay polynomial order (< savgol_window).")}};
  return schema;
}

bool has_inf(const Column& c) {
  if (c.type() == DType::kFloat64) {
    for (double v : c.f64())
      if (std::isinf(v)) return true;
  } else if (c.type() == DType::kFloat32) {
    for (float v : c.f32())
      if (std::isinf(v)) return true;
  }
  return false;
}

Column inf_to_nan(const Column& c) {
  if (c.type() == DType::kFloat32) {
    std::vector<float> v(c.f32().begin(), c.f32().end());
    for (auto& e : v)
      if (std::isinf(e)) e = std::numeric_limits<float>::quiet_NaN();
    return Column::from_float32(std::move(v));
  }
  std::vector<double> v(c.f64().begin(), c.f64().end());
  for (auto& e : v)
    if (std::isinf(e)) e = kNaN;
  return Column::from_float64(std::move(v));
}

std::vector<double> to_vector(const Column& c) {
  if (c.type() == DType::kFloat64) return std::vector<double>(c.f64().begin(), c.f64().end());
  Column d = c.cast(DType::kFloat64);
  return std::vector<double>(d.f64().begin(), d.f64().end());
}

// pandas interpolate(method="linear") then ffill().bfill(): every gap filled (linear inside,
// constant at the ends); an all-NaN series stays NaN.
void fill_gaps(std::span<double> v, std::vector<double>& buf) {
  buf.resize(v.size());
  if (kernels::interp_fill_nonfinite(v, buf)) std::copy(buf.begin(), buf.end(), v.begin());
}

class TrajectorySmooth final : public StatelessFeature<TrajectorySmooth> {
 public:
  TrajectorySmooth(Inputs inputs, Json params) : StatelessFeature(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    if (p["speed_threshold"].is_number()) threshold_ = p["speed_threshold"].get<double>();
    if (p["fps"].is_number()) fps_ = p["fps"].get<double>();
    interp_centroid_ = p["interpolate_centroid"].get<bool>();
    interp_pose_ = p["interpolate_pose"].get<bool>();
    expand_ = p["expand_frames"].get<int64_t>();
    if (p["savgol_window"].is_number()) window_ = p["savgol_window"].get<int64_t>();
    polyorder_ = p["savgol_polyorder"].get<int64_t>();
    if (threshold_ && fps_ && *fps_ == 0)
      throw InputError("trajectory-smooth: fps must not be 0 when speed_threshold is set (threshold / fps)");
    if (window_ && (polyorder_ < 0 || polyorder_ >= *window_))
      throw InputError(fmt::format(
          "trajectory-smooth: savgol_polyorder must be >= 0 and less than savgol_window (got polyorder {}, window {})",
          polyorder_, *window_));
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  Table apply(const Table& df) const override {
    if (df.num_rows() == 0) return Table();
    const char* order_col = df.has_column("frame") ? "frame" : (df.has_column("time") ? "time" : nullptr);
    if (!order_col) throw SchemaError("trajectory-smooth input: Need 'frame' or 'time' column to order rows.");
    if (!df.has_column("id")) throw SchemaError::missing_column("trajectory-smooth input", "id", df.column_names());

    // Rows sorted by frame (stable), then grouped by id in order of first appearance; rows with
    // a missing id are dropped, as pandas' groupby drops NaN keys.
    const std::vector<int64_t> order = df.stable_sort_indices({order_col});
    const Column& id = df.column("id");
    std::vector<int32_t> group_of(order.size(), -1);
    int32_t n_groups = 0;
    if (id.type() == DType::kString) {
      std::unordered_map<int32_t, int32_t> seen;
      auto codes = id.codes();
      for (std::size_t k = 0; k < order.size(); ++k) {
        int32_t code = codes[static_cast<std::size_t>(order[k])];
        if (code < 0) continue;
        auto [it, inserted] = seen.emplace(code, n_groups);
        if (inserted) ++n_groups;
        group_of[k] = it->second;
      }
    } else {
      std::unordered_map<double, int32_t> seen;
      for (std::size_t k = 0; k < order.size(); ++k) {
        double v = id.as_double(static_cast<std::size_t>(order[k]));
        if (std::isnan(v)) continue;
        auto [it, inserted] = seen.emplace(v, n_groups);
        if (inserted) ++n_groups;
        group_of[k] = it->second;
      }
    }
    std::vector<std::size_t> block_start(static_cast<std::size_t>(n_groups) + 1, 0);
    for (int32_t g : group_of)
      if (g >= 0) ++block_start[static_cast<std::size_t>(g) + 1];
    for (std::size_t g = 0; g < static_cast<std::size_t>(n_groups); ++g) block_start[g + 1] += block_start[g];
    std::vector<int64_t> rows(block_start.back());
    {
      std::vector<std::size_t> fill(block_start.begin(), block_start.end() - 1);
      for (std::size_t k = 0; k < order.size(); ++k)
        if (group_of[k] >= 0) rows[fill[static_cast<std::size_t>(group_of[k])]++] = order[k];
    }
    if (rows.empty()) return Table();
    Table out = df.take(rows);
    const std::size_t n = rows.size();

    // ±inf in any float column becomes NaN.
    for (const auto& name : std::vector<std::string>(out.column_names()))
      if (is_floating(out.column(name).type()) && has_inf(out.column(name)))
        out.set_column(name, inf_to_nan(out.column(name)));

    const bool has_xy = out.has_column("X") && out.has_column("Y");
    const auto pose_pairs = pose_column_pairs(out.column_names());
    std::vector<double> x, y;
    if (has_xy) {
      x = to_vector(out.column("X"));
      y = to_vector(out.column("Y"));
    }
    // Pose columns are loaded only when something changes them.
    const bool smooth = window_.has_value();
    const bool touch_pose = !pose_pairs.empty() && (interp_pose_ || smooth);
    std::vector<std::vector<double>> pose;
    if (touch_pose)
      for (const auto& [xn, yn] : pose_pairs) {
        pose.push_back(to_vector(out.column(xn)));
        pose.push_back(to_vector(out.column(yn)));
      }

    std::vector<uint8_t> bad(n, 0);
    const bool detect = threshold_ && has_xy;
    const double thr = detect ? (fps_ ? *threshold_ / *fps_ : *threshold_) : 0.0;
    std::vector<double> buf, filled, filtered;
    std::vector<uint8_t> smoothed_any(touch_pose ? pose.size() : 0, 0);
    bool smoothed_xy = false;
    for (std::size_t g = 0; g + 1 < block_start.size(); ++g) {
      const std::size_t s = block_start[g], len = block_start[g + 1] - s;
      auto block = [&](std::vector<double>& v) { return std::span<double>(v.data() + s, len); };
      // Step 1: bad frames (NaN speed is never above the threshold).
      if (detect) {
        for (std::size_t t = 1; t < len; ++t) {
          const double sp = std::hypot(x[s + t] - x[s + t - 1], y[s + t] - y[s + t - 1]);
          if (!(sp > thr)) continue;
          if (expand_ > 0) {
            const std::size_t lo = t >= static_cast<std::size_t>(expand_) ? t - static_cast<std::size_t>(expand_) : 0;
            const std::size_t hi = std::min(len - 1, t + static_cast<std::size_t>(expand_));
            for (std::size_t u = lo; u <= hi; ++u) bad[s + u] = 1;
          } else {
            bad[s + t] = 1;
          }
        }
      }
      // Steps 2-3: NaN at bad frames, then fill every gap.
      auto interpolate = [&](std::vector<double>& v) {
        auto b = block(v);
        for (std::size_t t = 0; t < len; ++t)
          if (bad[s + t]) b[t] = kNaN;
        fill_gaps(b, buf);
      };
      if (interp_centroid_ && has_xy) {
        interpolate(x);
        interpolate(y);
      }
      if (interp_pose_)
        for (auto& v : pose) interpolate(v);
      // Step 4: Savitzky-Golay on X/Y and every keypoint, when the id is long enough.
      if (smooth && static_cast<int64_t>(len) >= *window_) {
        auto savgol = [&](std::vector<double>& v) {
          auto b = block(v);
          filled.assign(len, 0.0);
          filtered.assign(len, 0.0);
          const bool any = kernels::interp_fill_nonfinite(b, filled);
          kernels::savgol_filter(filled, static_cast<int>(*window_), static_cast<int>(polyorder_), filtered);
          for (std::size_t t = 0; t < len; ++t) b[t] = (any && std::isfinite(b[t])) ? filtered[t] : kNaN;
        };
        if (has_xy) {
          savgol(x);
          savgol(y);
          smoothed_xy = true;
        }
        for (std::size_t k = 0; k < pose.size(); ++k) {
          savgol(pose[k]);
          smoothed_any[k] = 1;
        }
      }
    }
    // Write back; a float32 column only becomes float64 once the filter has touched it (pandas
    // keeps float32 through interpolate, the filter returns float64).
    auto put = [&](const std::string& name, std::vector<double>&& v, bool filtered_col) {
      if (out.column(name).type() == DType::kFloat32 && !filtered_col) {
        std::vector<float> f(v.begin(), v.end());
        out.set_column(name, Column::from_float32(std::move(f)));
      } else {
        out.set_column(name, Column::from_float64(std::move(v)));
      }
    };
    if (has_xy && ((interp_centroid_) || smoothed_xy)) {
      put("X", std::move(x), smoothed_xy);
      put("Y", std::move(y), smoothed_xy);
    }
    if (touch_pose)
      for (std::size_t k = 0; k < pose_pairs.size(); ++k) {
        put(pose_pairs[k].first, std::move(pose[2 * k]), smoothed_any[2 * k]);
        put(pose_pairs[k].second, std::move(pose[2 * k + 1]), smoothed_any[2 * k + 1]);
      }
    out.set_column("bad_frame", Column::from_bool(std::move(bad)));
    return out;
  }

 private:
  std::optional<double> threshold_, fps_;
  bool interp_centroid_ = true, interp_pose_ = false;
  int64_t expand_ = 2;
  std::optional<int64_t> window_;
  int64_t polyorder_ = 2;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(TrajectorySmooth);
}  // namespace mosaic::features
