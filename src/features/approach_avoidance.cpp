// approach-avoidance: per frame and pair (id1 < id2), trajognize-style approach-avoidance event
// flags in both directions (features.md §2.7). DECISIONS F7: ANGLE is interpolated along the
// shorter arc in the cleaning (period 2 pi, or 360 for degree data), so the version carries
// "+cpp.1"; interpolations that do not cross the boundary are the reference's bit for bit.
//
// Pairs are processed one at a time (linear merge of the two animals' sorted frames, buffers
// reused); the output is appended in pair order, which is the reference's (id1, id2, frame) order.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <numbers>

#include "features/feature_base.hpp"
#include "features/kernels/approach_avoidance.hpp"
#include "features/pair_common.hpp"
#include "features/track_cleaning.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {
namespace {

const FeatureInfo kInfo{.name = "approach-avoidance",
                        .version = "0.2+cpp.1",
                        .summary = "Detect approach-avoidance events per frame for every pair of animals (both directions).",
                        .category = "per-frame",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "ApproachAvoidance"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "ApproachAvoidanceParams",
      {param("interpolation", ParamType::model(interpolation_config_schema()), interpolation_config_schema()->defaults(),
             "Cleaning of each animal's X, Y (and ANGLE) before pairing (ANGLE along the shorter arc)."),
       param("sampling", ParamType::model(sampling_config_schema()), sampling_config_schema()->defaults(),
             "fps when the table has no constant fps column (smooth_win is not used)."),
       param("velocity_units", ParamType::literal({"per_frame", "per_second"}), Json("per_frame"),
             "Units of the speed thresholds: per frame, or per second (velocities times fps)."),
       param("angle_units", ParamType::literal({"radians", "degrees", "auto"}), Json("radians"),
             "Units of ANGLE; auto = degrees when a pair's max |ANGLE| exceeds 2 pi."),
       param_float("consecutive_frame_delta", 1.0, "Frame step of consecutive rows; other steps give no velocity."),
       param_float("distance_threshold", 200.0, "Largest pair distance (track units) of an event frame.").greater_than(0),
       param_float("approacher_velocity_threshold", 5.0, "Smallest speed of the approaching animal.").at_least(0),
       param_float("avoider_velocity_threshold", 5.0, "Smallest speed of the avoiding animal.").at_least(0),
       param_float("cos_approacher_threshold", 0.8, "Smallest cosine between the approacher's velocity and the partner "
                                                    "direction.")
           .at_least(-1)
           .at_most(1),
       param_float("cos_avoider_threshold", 0.5, "Smallest cosine between the avoider's velocity and the direction away "
                                                 "from the approacher.")
           .at_least(-1)
           .at_most(1),
       param_int("min_event_length", 10, "Continuity window in frames.").at_least(1),
       param_int("min_event_count", 5, "Candidate frames needed within the continuity window.").at_least(1),
       param("orientation_gate_cos", ParamType::optional(ParamType::floating()), Json(0.8660254037844386),
             "Smallest cosine between the approacher's velocity and its ANGLE heading (None = no gate).")
           .at_least(0)
           .at_most(1),
       param("smooth_window_sec", ParamType::optional(ParamType::floating()), Json(),
             "NaN-aware sliding mean of distance, speeds and cosines over this many seconds (None = off).")
           .greater_than(0)}};
  return schema;
}

const char* const kOutColumns[] = {"frame", "id1", "id2", "label_id", "aa_event", "aa_event_12", "aa_event_21"};

class ApproachAvoidance final : public StatelessFeature<ApproachAvoidance> {
 public:
  ApproachAvoidance(Inputs inputs, Json params) : StatelessFeature(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    cleaning_ = cleaning_config(p["interpolation"]);
    fps_default_ = p["sampling"]["fps_default"].get<double>();
    per_second_ = p["velocity_units"].get<std::string>() == "per_second";
    angle_units_ = p["angle_units"].get<std::string>();
    delta_ = p["consecutive_frame_delta"].get<double>();
    dist_thr_ = p["distance_threshold"].get<double>();
    va_ = p["approacher_velocity_threshold"].get<double>();
    vb_ = p["avoider_velocity_threshold"].get<double>();
    ca_ = p["cos_approacher_threshold"].get<double>();
    cv_ = p["cos_avoider_threshold"].get<double>();
    min_len_ = p["min_event_length"].get<int64_t>();
    min_count_ = p["min_event_count"].get<int64_t>();
    if (p["orientation_gate_cos"].is_number()) gate_ = p["orientation_gate_cos"].get<double>();
    if (p["smooth_window_sec"].is_number()) window_sec_ = p["smooth_window_sec"].get<double>();
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  Table apply(const Table& df) const override;

 private:
  kernels::CleaningConfig cleaning_;
  double fps_default_ = 30.0;
  bool per_second_ = false;
  std::string angle_units_ = "radians";
  double delta_ = 1.0, dist_thr_ = 200.0, va_ = 5.0, vb_ = 5.0, ca_ = 0.8, cv_ = 0.5;
  int64_t min_len_ = 10, min_count_ = 5;
  std::optional<double> gate_;
  std::optional<double> window_sec_;
};

Table ApproachAvoidance::apply(const Table& df) const {
  const std::string where = "approach-avoidance";
  if (df.num_rows() == 0) return Table();
  const std::string order_col = resolve_order_col(df, where);
  std::vector<std::string> required = {"id", "sequence", "X", "Y"};
  if (gate_) required.push_back("ANGLE");
  for (const auto& c : required)
    if (!df.has_column(c)) throw SchemaError::missing_column(where + " input", c, df.column_names());
  std::vector<std::string> data_cols = {"X", "Y"};
  std::vector<double> periods = {0.0, 0.0};
  if (gate_) {
    data_cols.push_back("ANGLE");
    // F7: unwrap period of the data's units. "auto" is decided on the whole table here (the
    // reference decides per pair after cleaning; the two differ only for tables mixing units).
    double period = 2 * std::numbers::pi;
    if (angle_units_ == "degrees") period = 360.0;
    if (angle_units_ == "auto") {
      const Column& ac = df.column("ANGLE");
      double mx = 0;
      for (std::size_t r = 0; r < ac.size(); ++r) {
        double v = std::fabs(ac.as_double(r));
        if (std::isfinite(v)) mx = std::max(mx, v);
      }
      if (mx > 2 * std::numbers::pi) period = 360.0;
    }
    periods.push_back(period);
  }
  AnimalTracks animals = clean_animals(df, order_col, data_cols, cleaning_, periods, where);
  require_unique_frames(animals, where);
  const double fps = fps_from_column(df, fps_default_);
  const int64_t L = std::max<int64_t>(1, min_len_);
  const int64_t C = std::min(std::max<int64_t>(1, min_count_), L);
  int64_t win = 1;
  if (window_sec_) win = std::max<int64_t>(1, static_cast<int64_t>(std::nearbyint(*window_sec_ * fps)));  // Python round: half to even
  constexpr double kEps = 1e-12;

  std::vector<int64_t> out_frame, out_id1, out_id2, out_src;
  std::vector<int8_t> out_ev, out_12, out_21;
  std::vector<std::size_t> ia, ib;
  // per-pair buffers
  std::vector<double> fr, xa, ya, xb, yb, vax, vay, vbx, vby, s1, s2, dist, c_app12, c_av12, c_app21, c_av21, o1, o2;
  std::vector<double> num, den, tmp;
  std::vector<int64_t> frames;
  std::vector<uint8_t> cand12, cand21, ev12, ev21;
  const std::size_t n = animals.animals();
  for (std::size_t a = 0; a < n; ++a) {
    for (std::size_t b = a + 1; b < n; ++b) {
      merge_sorted_frames(animals.order_of(a), animals.order_of(b), ia, ib);
      const std::size_t t_len = ia.size();
      if (t_len < 2) continue;  // the reference skips pairs with fewer than 2 joined frames
      auto resize = [t_len](auto&... v) { (v.resize(t_len), ...); };
      resize(fr, xa, ya, xb, yb, vax, vay, vbx, vby, s1, s2, dist, c_app12, c_av12, c_app21, c_av21, o1, o2, num, den,
             tmp, frames, cand12, cand21, ev12, ev21);
      auto xa_c = animals.column_of(0, a), ya_c = animals.column_of(1, a);
      auto xb_c = animals.column_of(0, b), yb_c = animals.column_of(1, b);
      auto oa = animals.order_of(a);
      for (std::size_t t = 0; t < t_len; ++t) {
        // frames = j["frame"].astype(int): truncation toward zero
        frames[t] = static_cast<int64_t>(std::trunc(oa[ia[t]]));
        fr[t] = static_cast<double>(frames[t]);
        xa[t] = xa_c[ia[t]];
        ya[t] = ya_c[ia[t]];
        xb[t] = xb_c[ib[t]];
        yb[t] = yb_c[ib[t]];
      }
      kernels::step_velocity(xa, fr, delta_, vax);
      kernels::step_velocity(ya, fr, delta_, vay);
      kernels::step_velocity(xb, fr, delta_, vbx);
      kernels::step_velocity(yb, fr, delta_, vby);
      if (per_second_)
        for (std::size_t t = 0; t < t_len; ++t) {
          vax[t] *= fps;
          vay[t] *= fps;
          vbx[t] *= fps;
          vby[t] *= fps;
        }
      // id1 = a (ids ascend), so "1" is animal a and d12 points from a to b.
      for (std::size_t t = 0; t < t_len; ++t) {
        s1[t] = std::sqrt(vax[t] * vax[t] + vay[t] * vay[t]);
        s2[t] = std::sqrt(vbx[t] * vbx[t] + vby[t] * vby[t]);
        const double dx = xb[t] - xa[t], dy = yb[t] - ya[t];
        dist[t] = std::sqrt(dx * dx + dy * dy);
        // np.maximum propagates NaN
        auto np_max = [](double v, double e) { return std::isnan(v) ? v : std::max(v, e); };
        c_app12[t] = (vax[t] * dx + vay[t] * dy) / np_max(dist[t] * s1[t], kEps);
        c_av12[t] = (vbx[t] * dx + vby[t] * dy) / np_max(dist[t] * s2[t], kEps);
        c_app21[t] = (vbx[t] * (-dx) + vby[t] * (-dy)) / np_max(dist[t] * s2[t], kEps);
        c_av21[t] = (vax[t] * (-dx) + vay[t] * (-dy)) / np_max(dist[t] * s1[t], kEps);
      }
      if (gate_) {
        auto ta = animals.column_of(2, a), tb = animals.column_of(2, b);
        bool deg = angle_units_ == "degrees";
        if (angle_units_ == "auto") {
          double m1 = std::numeric_limits<double>::quiet_NaN(), m2 = m1;  // np.nanmax (NaN when all NaN)
          for (std::size_t t = 0; t < t_len; ++t) {
            double u = std::fabs(ta[ia[t]]), v = std::fabs(tb[ib[t]]);
            if (!std::isnan(u)) m1 = std::isnan(m1) ? u : std::max(m1, u);
            if (!std::isnan(v)) m2 = std::isnan(m2) ? v : std::max(m2, v);
          }
          deg = m1 > 2 * std::numbers::pi || m2 > 2 * std::numbers::pi;
        }
        for (std::size_t t = 0; t < t_len; ++t) {
          double th1 = ta[ia[t]], th2 = tb[ib[t]];
          if (deg) {
            th1 = th1 * (std::numbers::pi / 180.0);  // np.deg2rad
            th2 = th2 * (std::numbers::pi / 180.0);
          }
          auto np_max = [](double v, double e) { return std::isnan(v) ? v : std::max(v, e); };
          o1[t] = (vax[t] * std::cos(th1) + vay[t] * std::sin(th1)) / np_max(s1[t], kEps);
          o2[t] = (vbx[t] * std::cos(th2) + vby[t] * std::sin(th2)) / np_max(s2[t], kEps);
        }
      }
      // Optional smoothing of the evaluated series (speed validity stays on the raw speeds).
      auto smooth = [&](std::vector<double>& v) {
        if (win <= 1) return;
        kernels::sliding_nanmean(v, win, num, den, tmp);
        v.swap(tmp);
      };
      // base_valid (raw speeds finite) is staged in cand12 before the speeds are smoothed
      for (std::size_t t = 0; t < t_len; ++t) cand12[t] = std::isfinite(s1[t]) && std::isfinite(s2[t]);
      smooth(dist);
      smooth(s1);
      smooth(s2);
      smooth(c_app12);
      smooth(c_av12);
      smooth(c_app21);
      smooth(c_av21);
      if (gate_) {
        smooth(o1);
        smooth(o2);
      }
      for (std::size_t t = 0; t < t_len; ++t) {
        const bool common = cand12[t] && std::isfinite(dist[t]) && std::isfinite(s1[t]) && std::isfinite(s2[t]) &&
                            std::isfinite(c_app12[t]) && std::isfinite(c_av12[t]) && std::isfinite(c_app21[t]) &&
                            std::isfinite(c_av21[t]) && dist[t] > 0.0 && dist[t] <= dist_thr_;
        bool c12 = common && s1[t] >= va_ && s2[t] >= vb_ && c_app12[t] >= ca_ && c_av12[t] >= cv_;
        bool c21 = common && s2[t] >= va_ && s1[t] >= vb_ && c_app21[t] >= ca_ && c_av21[t] >= cv_;
        if (gate_) {
          c12 = c12 && o1[t] >= *gate_;
          c21 = c21 && o2[t] >= *gate_;
        }
        cand12[t] = c12;
        cand21[t] = c21;
      }
      kernels::min_count_window_gate(cand12, frames, L, C, ev12);
      kernels::min_count_window_gate(cand21, frames, L, C, ev21);
      const std::size_t off_a = animals.offsets[a];
      for (std::size_t t = 0; t < t_len; ++t) {
        out_frame.push_back(frames[t]);
        out_id1.push_back(animals.ids[a]);
        out_id2.push_back(animals.ids[b]);
        out_12.push_back(static_cast<int8_t>(ev12[t]));
        out_21.push_back(static_cast<int8_t>(ev21[t]));
        out_ev.push_back(static_cast<int8_t>(std::max(ev12[t], ev21[t])));
        out_src.push_back(static_cast<int64_t>(animals.source_rows[off_a + ia[t]]));
      }
    }
  }
  Table out;
  if (out_frame.empty()) {
    // the reference's empty result
    out.add_column(kOutColumns[0], Column::from_int64({}));
    out.add_column(kOutColumns[1], Column::from_int64({}));
    out.add_column(kOutColumns[2], Column::from_int64({}));
    for (int k = 3; k < 7; ++k) out.add_column(kOutColumns[k], Column::from_int8({}));
    return out;
  }
  std::vector<int8_t> label = out_ev;
  out.add_column("frame", Column::from_int64(std::move(out_frame)));
  out.add_column("id1", Column::from_int64(std::move(out_id1)));
  out.add_column("id2", Column::from_int64(std::move(out_id2)));
  out.add_column("label_id", Column::from_int8(std::move(label)));
  out.add_column("aa_event", Column::from_int8(std::move(out_ev)));
  out.add_column("aa_event_12", Column::from_int8(std::move(out_12)));
  out.add_column("aa_event_21", Column::from_int8(std::move(out_21)));
  for (const char* c : {"sequence", "group"})
    if (df.has_column(c)) out.add_column(c, df.column(c).take(out_src));
  return out;
}

}  // namespace
MOSAIC_REGISTER_FEATURE(ApproachAvoidance);
}  // namespace mosaic::features
