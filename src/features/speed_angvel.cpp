// speed-angvel: per-animal speed and angular velocity from the centroid and heading
// (features.md §2.1), with DECISIONS F4: speed_smooth fills NaN gaps by interpolation for the
// Savitzky–Golay filter instead of with zeros, so the version carries "+cpp.1".
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

#include "features/feature_base.hpp"
#include "features/kernels/signal.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const FeatureInfo kInfo{.name = "speed-angvel",
                        .version = "0.1+cpp.1",
                        .summary = "Compute per-animal speed and angular velocity (optionally smoothed and over k frames).",
                        .category = "per-frame",
                        .parallelizable = true,
                        .scope_dependent = false,
                        // The reference takes tracks only; a result with id, X, Y (e.g. the cleaned
                        // tracks of trajectory-smooth) is accepted too: the kinematics are the same,
                        // and runs on tracks keep their ids (docs/cpp_decisions.md, C1).
                        .input_kinds = InputKinds::kTracksOrResults,
                        .python_class = "SpeedAngvel"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "SpeedAngvelParams",
      {param("step_size", ParamType::optional(ParamType::integer()), Json(),
             "Also compute speed_step/angvel_step over this many frames (None = off).")
           .at_least(1),
       param("smooth_window", ParamType::optional(ParamType::integer()), Json(),
             "Savitzky-Golay window (polyorder 1) for speed_smooth (None = off)."),
       param("fps", ParamType::optional(ParamType::floating()), Json(),
             "Frames per second: dt = frame difference / fps (None = use the time column).")}};
  return schema;
}

class SpeedAngvel final : public StatelessFeature<SpeedAngvel> {
 public:
  SpeedAngvel(Inputs inputs, Json params) : StatelessFeature(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    if (p["step_size"].is_number()) step_ = p["step_size"].get<int64_t>();
    if (p["smooth_window"].is_number()) window_ = p["smooth_window"].get<int64_t>();
    if (p["fps"].is_number()) fps_ = p["fps"].get<double>();
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  Table apply(const Table& df) const override {
    if (df.num_rows() == 0) return Table();
    for (const char* c : {"id", "X", "Y"})
      if (!df.has_column(c)) throw SchemaError::missing_column("speed-angvel input", c, df.column_names());
    const char* order_col = df.has_column("frame") ? "frame" : (df.has_column("time") ? "time" : nullptr);
    if (!order_col) throw SchemaError("speed-angvel input: Need 'frame' or 'time' column to order rows.");
    Table sorted = df.sort_by({"id", order_col});
    const std::size_t n = sorted.num_rows();
    Column x = sorted.column("X").cast(DType::kFloat64);
    Column y = sorted.column("Y").cast(DType::kFloat64);
    const bool has_angle = sorted.has_column("ANGLE");
    Column angle = has_angle ? sorted.column("ANGLE").cast(DType::kFloat64) : Column();
    const bool use_frame = fps_ && sorted.has_column("frame");
    const bool has_time = sorted.has_column("time");
    Column frame = use_frame ? sorted.column("frame").cast(DType::kFloat64) : Column();
    Column time = (!use_frame && has_time) ? sorted.column("time").cast(DType::kFloat64) : Column();
    Column id = sorted.column("id");

    std::vector<double> speed(n), angvel(has_angle ? n : 0), smooth(window_ ? n : 0);
    std::vector<double> speed_step(step_ ? n : 0), angvel_step(step_ && has_angle ? n : 0);
    // Process each id's contiguous block (rows are sorted by id).
    std::size_t start = 0;
    std::vector<double> dt, dt_k, dx, dy, da, filled, filtered;
    while (start < n) {
      std::size_t end = start + 1;
      while (end < n && same_id(id, start, end)) ++end;
      const std::size_t len = end - start;
      auto sub = [&](const Column& c) { return c.f64().subspan(start, len); };
      auto block_dt = [&](std::size_t k, std::vector<double>& out) {
        out.resize(len);
        if (use_frame) {
          kernels::diff_lag(sub(frame), k, out);
          for (auto& v : out) v /= *fps_;
        } else if (has_time) {
          kernels::diff_lag(sub(time), k, out);
        } else {
          for (std::size_t t = 0; t < len; ++t) out[t] = t >= k ? static_cast<double>(k) : kNaN;
        }
        for (auto& v : out)
          if (v == 0) v = kNaN;
      };
      block_dt(1, dt);
      dx.resize(len);
      dy.resize(len);
      kernels::diff_lag(sub(x), 1, dx);
      kernels::diff_lag(sub(y), 1, dy);
      for (std::size_t t = 0; t < len; ++t) speed[start + t] = std::sqrt(dx[t] * dx[t] + dy[t] * dy[t]) / dt[t];
      if (has_angle) {
        da.resize(len);
        kernels::diff_lag(sub(angle), 1, da);
        for (std::size_t t = 0; t < len; ++t) angvel[start + t] = kernels::wrap_angle(da[t]) / dt[t];
      }
      if (window_) {
        if (*window_ > static_cast<int64_t>(len))
          throw InputError(fmt::format("speed-angvel: smooth_window {} is longer than the {} frames of id {}", *window_,
                                       len, id_text(id, start)));
        // DECISIONS F4: interpolate over NaN gaps for the filter, then put NaN back.
        std::span<const double> sp(speed.data() + start, len);
        filled.assign(len, 0.0);
        kernels::interp_fill_nonfinite(sp, filled);
        filtered.assign(len, 0.0);
        kernels::savgol_filter(filled, static_cast<int>(*window_), 1, filtered);
        for (std::size_t t = 0; t < len; ++t) smooth[start + t] = std::isfinite(sp[t]) ? filtered[t] : kNaN;
      }
      if (step_) {
        auto k = static_cast<std::size_t>(*step_);
        block_dt(k, dt_k);
        kernels::diff_lag(sub(x), k, dx);
        kernels::diff_lag(sub(y), k, dy);
        for (std::size_t t = 0; t < len; ++t) speed_step[start + t] = std::sqrt(dx[t] * dx[t] + dy[t] * dy[t]) / dt_k[t];
        if (has_angle) {
          kernels::diff_lag(sub(angle), k, da);
          for (std::size_t t = 0; t < len; ++t) angvel_step[start + t] = kernels::wrap_angle(da[t]) / dt_k[t];
        }
      }
      start = end;
    }
    Table out;
    out.add_column("speed", Column::from_float64(std::move(speed)));
    if (has_angle) out.add_column("angvel", Column::from_float64(std::move(angvel)));
    if (window_) out.add_column("speed_smooth", Column::from_float64(std::move(smooth)));
    if (step_) {
      out.add_column("speed_step", Column::from_float64(std::move(speed_step)));
      if (has_angle) out.add_column("angvel_step", Column::from_float64(std::move(angvel_step)));
    }
    // sorted(meta present): frame, group, id, sequence, time
    for (const char* m : {"frame", "group", "id", "sequence", "time"})
      if (sorted.has_column(m)) out.add_column(m, sorted.shared_column(*sorted.column_index(m)));
    return out;
  }

 private:
  static bool same_id(const Column& id, std::size_t a, std::size_t b) {
    if (id.type() == DType::kString) return id.str(a) == id.str(b);
    double u = id.as_double(a), v = id.as_double(b);
    return u == v || (std::isnan(u) && std::isnan(v));
  }
  static std::string id_text(const Column& id, std::size_t r) {
    return id.type() == DType::kString ? std::string(id.str(r)) : fmt::format("{}", id.as_double(r));
  }

  std::optional<int64_t> step_, window_;
  std::optional<double> fps_;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(SpeedAngvel);
}  // namespace mosaic::features
