// nn-delta-response: how a focal animal moves over the next `diff_numframes` frames relative to
// its nearest neighbour now (features.md §2.11). The nearest-neighbour columns (nn_id and the
// ego/world offsets) must already be in the tracks table: the reference accepts only a tracks
// input (§4.17), so its users merge nearest-neighbor's output into their tracks first.
//
// The feature's numbers match the reference (version 0.1). The golden's fixed/ variant differs
// only through its input (nearest-neighbor's NaN-distance fix, DECISIONS F3, makes nn_id float
// with NaN), which this feature passes through like the reference.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <unordered_map>

#include "features/feature_base.hpp"
#include "features/kernels/signal.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const FeatureInfo kInfo{.name = "nn-delta-response",
                        .version = "0.1",
                        .summary = "Compute each animal's change in position, heading and speed over the next frames, with its nearest neighbour's ego-frame offset.",
                        .category = "per-frame",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "NearestNeighborDelta"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "NearestNeighborDeltaParams",
      {param("sampling", ParamType::model(sampling_config_schema()), sampling_config_schema()->defaults(),
             "Frame rate (fps_default scales dangle to per second) and smoothing settings."),
       param_str("speed_col", "SPEED#wcentroid", "Speed column (falls back to 'speed' when absent)."),
       param_str("nn_id_col", "nn_id", "Nearest-neighbour id column (falls back to 'nn_fishID' when absent)."),
       param_str("nn_dx_ego_col", "nn_delta_x_ego", "Neighbour x offset in the focal's ego frame."),
       param_str("nn_dy_ego_col", "nn_delta_y_ego", "Neighbour y offset in the focal's ego frame."),
       param_str("nn_dx_world_col", "nn_delta_x", "Neighbour x offset in world coordinates (used when the ego columns are absent)."),
       param_str("nn_dy_world_col", "nn_delta_y", "Neighbour y offset in world coordinates (used when the ego columns are absent)."),
       param_str("focal_col", "Focal_fish", "Focal-animal flag; looked up for the neighbour as neighbor_focal."),
       param_int("diff_numframes", 4, "Frames ahead over which the response (dx, dy, dangle, dspeed) is measured.")
           .at_least(1),
       param_bool("wrap_angle", true, "Wrap the heading change to [-pi, pi)."),
       param_bool("divide_dangle_by_frames", true, "Divide the heading change by diff_numframes."),
       param_bool("scale_dangle_by_fps", true, "Multiply the heading change by fps (radians per second)."),
       param("tag_cols", ParamType::list(ParamType::string()), Json::array(),
             "Extra per-animal columns also looked up for the neighbour (neighbor_<tag>).")}};
  return schema;
}

// True when the integer key columns (no nulls) are already in ascending lexicographic order, so
// the stable sort would return the rows unchanged (canonical tracks are sorted by frame, id).
bool already_sorted(const Table& t, const std::vector<std::string>& keys) {
  std::vector<std::span<const int64_t>> cols;
  for (const auto& k : keys) {
    const Column& c = t.column(k);
    if (c.type() != DType::kInt64 || c.has_nulls()) return false;
    cols.push_back(c.i64());
  }
  for (std::size_t r = 1; r < t.num_rows(); ++r)
    for (const auto& c : cols) {
      if (c[r - 1] < c[r]) break;
      if (c[r - 1] > c[r]) return false;
    }
  return true;
}

// An ordered set of output columns where assigning an existing name replaces it in place (pandas).
struct Columns {
  std::vector<std::string> names;
  std::vector<Column> cols;
  void set(const std::string& name, Column c) {
    auto it = std::find(names.begin(), names.end(), name);
    if (it != names.end()) {
      cols[static_cast<std::size_t>(it - names.begin())] = std::move(c);
    } else {
      names.push_back(name);
      cols.push_back(std::move(c));
    }
  }
  bool has(const std::string& name) const { return std::find(names.begin(), names.end(), name) != names.end(); }
};

// A (frame, id) -> row lookup over the whole table (the reference's left merge on frame and id),
// by binary search: the table is sorted by (frame, id) with missing values last.
class FrameIdLookup {
 public:
  FrameIdLookup(std::span<const double> frame, std::span<const double> id) : frame_(frame), id_(id) {
    for (std::size_t r = 1; r < frame.size(); ++r)
      if (frame[r] == frame[r - 1] && id[r] == id[r - 1])
        throw InputError(fmt::format("nn-delta-response: several rows for (frame {}, id {}); the neighbour lookup needs "
                                     "one row per animal and frame",
                                     frame[r], id[r]));
  }
  /// The row of (frame, id), or -1.
  int64_t find(double frame, double id) const {
    if (std::isnan(frame) || std::isnan(id)) return -1;
    std::size_t lo = 0, hi = frame_.size();
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (before(mid, frame, id)) lo = mid + 1;
      else hi = mid;
    }
    return (lo < frame_.size() && frame_[lo] == frame && id_[lo] == id) ? static_cast<int64_t>(lo) : -1;
  }

 private:
  bool before(std::size_t row, double frame, double id) const {
    const double f = frame_[row];
    if (std::isnan(f) || f > frame) return false;
    if (f < frame) return true;
    const double i = id_[row];
    return !std::isnan(i) && i < id;
  }
  std::span<const double> frame_, id_;
};

// The neighbour's value of `src` for each output row (lookup row or -1): the source dtype when
// every row found one, else float64 with NaN (pandas' left merge introduces NaN).
Column neighbour_values(const Column& src, const std::vector<int64_t>& lookup) {
  const bool all_found = std::all_of(lookup.begin(), lookup.end(), [](int64_t r) { return r >= 0; });
  if (all_found) return src.take(lookup);
  if (src.type() == DType::kString) {
    std::vector<int32_t> codes(lookup.size(), -1);
    std::vector<std::string> dict;
    for (std::size_t i = 0; i < lookup.size(); ++i)
      if (lookup[i] >= 0 && !src.is_null(static_cast<std::size_t>(lookup[i]))) {
        dict.emplace_back(src.str(static_cast<std::size_t>(lookup[i])));
        codes[i] = static_cast<int32_t>(dict.size() - 1);
      }
    return Column::from_dictionary(std::move(dict), std::move(codes));
  }
  std::vector<double> v(lookup.size(), kNaN);
  for (std::size_t i = 0; i < lookup.size(); ++i)
    if (lookup[i] >= 0) v[i] = src.as_double(static_cast<std::size_t>(lookup[i]));
  return Column::from_float64(std::move(v));
}

class NearestNeighborDelta final : public StatelessFeature<NearestNeighborDelta> {
 public:
  NearestNeighborDelta(Inputs inputs, Json params) : StatelessFeature(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    fps_ = p["sampling"]["fps_default"].get<double>();
    speed_col_ = p["speed_col"].get<std::string>();
    nn_id_col_ = p["nn_id_col"].get<std::string>();
    dx_ego_ = p["nn_dx_ego_col"].get<std::string>();
    dy_ego_ = p["nn_dy_ego_col"].get<std::string>();
    dx_world_ = p["nn_dx_world_col"].get<std::string>();
    dy_world_ = p["nn_dy_world_col"].get<std::string>();
    focal_col_ = p["focal_col"].get<std::string>();
    diff_n_ = p["diff_numframes"].get<int64_t>();
    wrap_ = p["wrap_angle"].get<bool>();
    divide_ = p["divide_dangle_by_frames"].get<bool>();
    scale_ = p["scale_dangle_by_fps"].get<bool>();
    for (const auto& t : p["tag_cols"]) tags_.push_back(t.get<std::string>());
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  Table apply(const Table& input) const override {
    if (input.num_rows() == 0) return Table();
    const std::string speed_col =
        input.has_column(speed_col_) ? speed_col_ : (input.has_column("speed") ? std::string("speed") : std::string());
    const std::string nn_id_col =
        input.has_column(nn_id_col_) ? nn_id_col_ : (input.has_column("nn_fishID") ? std::string("nn_fishID") : std::string());
    // Like the reference: without these columns there is nothing to measure (empty output).
    if (speed_col.empty() || nn_id_col.empty() || !input.has_column("frame") || !input.has_column("id")) return Table();
    for (const std::string& c : {std::string("X"), std::string("Y"), std::string("ANGLE"), speed_col, nn_id_col})
      if (!input.has_column(c)) throw SchemaError::missing_column("nn-delta-response input", c, input.column_names());
    for (const std::string& c : {std::string("frame"), std::string("id"), std::string("X"), std::string("Y"),
                                 std::string("ANGLE"), speed_col, nn_id_col})
      if (!is_numeric(input.column(c).type()) && input.column(c).type() != DType::kBool)
        throw SchemaError::wrong_type("nn-delta-response input", c, "numbers", dtype_name(input.column(c).type()));

    const Table df = already_sorted(input, {"frame", "id"}) ? input : input.sort_by({"frame", "id"});
    const std::size_t n = df.num_rows();
    auto f64 = [&](const std::string& c) { return df.column(c).cast(DType::kFloat64); };
    const Column frame = f64("frame"), id = f64("id"), x = f64("X"), y = f64("Y"), angle = f64("ANGLE"),
                 speed = f64(speed_col), nn_id = f64(nn_id_col);
    const auto fv = frame.f64(), iv = id.f64();

    // Groups: ids in order of first appearance (groupby(sort=False)); rows stay in frame order.
    std::unordered_map<double, std::size_t> group_index;
    std::vector<std::vector<std::size_t>> groups;
    for (std::size_t r = 0; r < n; ++r) {
      if (std::isnan(iv[r])) continue;  // groupby drops NaN keys
      auto [it, inserted] = group_index.emplace(iv[r] + 0.0, groups.size());
      if (inserted) groups.emplace_back();
      groups[it->second].push_back(r);
    }

    const bool ego = df.has_column(dx_ego_) && df.has_column(dy_ego_);
    const bool world = !ego && df.has_column(dx_world_) && df.has_column(dy_world_);
    const Column ex = ego ? f64(dx_ego_) : (world ? f64(dx_world_) : Column());
    const Column ey = ego ? f64(dy_ego_) : (world ? f64(dy_world_) : Column());

    std::vector<int64_t> rows;
    std::vector<double> dx, dy, dt, dangle, dspeed, nx, ny;
    const auto step = static_cast<std::size_t>(diff_n_);
    const double n_frames = static_cast<double>(diff_n_);
    for (const auto& g : groups) {
      for (std::size_t k = 0; k + step < g.size(); ++k) {
        const std::size_t r = g[k], fut = g[k + step];
        const double df_frame = fv[fut] - fv[r];
        if (!(df_frame == n_frames)) continue;
        rows.push_back(static_cast<int64_t>(r));
        dx.push_back(x.f64()[fut] - x.f64()[r]);
        dy.push_back(y.f64()[fut] - y.f64()[r]);
        dt.push_back(df_frame);
        double a = angle.f64()[fut] - angle.f64()[r];
        if (wrap_) a = kernels::wrap_angle(a);
        if (divide_) a = a / n_frames;
        if (scale_) a = a * fps_;
        dangle.push_back(a);
        dspeed.push_back(speed.f64()[fut] - speed.f64()[r]);
        if (ego) {
          nx.push_back(ex.f64()[r]);
          ny.push_back(ey.f64()[r]);
        } else if (world) {
          const double h = angle.f64()[r], wx = ex.f64()[r], wy = ey.f64()[r];
          const double ct = std::cos(h), st = std::sin(h);
          nx.push_back(wx * ct + wy * st);
          ny.push_back(-wx * st + wy * ct);
        } else {
          nx.push_back(kNaN);
          ny.push_back(kNaN);
        }
      }
    }
    if (rows.empty()) return Table();

    // Output: every input column of the kept rows, then the computed ones (pandas assignment order).
    Columns out;
    for (const auto& name : df.column_names()) out.set(name, df.column(name).take(rows));
    out.set("dx", Column::from_float64(std::move(dx)));
    out.set("dy", Column::from_float64(std::move(dy)));
    out.set("dt", Column::from_float64(std::move(dt)));
    out.set("dangle", Column::from_float64(std::move(dangle)));
    out.set("dspeed", Column::from_float64(std::move(dspeed)));
    out.set("neighbor_x", Column::from_float64(std::move(nx)));
    out.set("neighbor_y", Column::from_float64(std::move(ny)));
    const bool need_lookup = df.has_column(focal_col_) ||
                             std::any_of(tags_.begin(), tags_.end(), [&](const std::string& t) { return df.has_column(t); });
    std::vector<int64_t> neighbour_row;
    if (need_lookup) {
      const FrameIdLookup lookup(fv, iv);
      neighbour_row.resize(rows.size());
      for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto r = static_cast<std::size_t>(rows[i]);
        neighbour_row[i] = lookup.find(fv[r], nn_id.f64()[r]);
      }
    }
    if (df.has_column(focal_col_)) out.set("neighbor_focal", neighbour_values(df.column(focal_col_), neighbour_row));
    out.set("nn_id", df.column(nn_id_col).take(rows));
    for (const auto& tag : tags_)
      if (df.has_column(tag)) out.set("neighbor_" + tag, neighbour_values(df.column(tag), neighbour_row));

    std::vector<std::string> order;
    auto take = [&](const std::string& c) {
      if (out.has(c) && std::find(order.begin(), order.end(), c) == order.end()) order.push_back(c);
    };
    for (const char* c : {"frame", "time", "group", "sequence", "id", "nn_id", "neighbor_x", "neighbor_y",
                          "neighbor_focal", "dx", "dy", "dt", "dangle", "dspeed", "group_size", "event"})
      take(c);
    take(focal_col_);
    for (const auto& tag : tags_) {
      take(tag);
      take("neighbor_" + tag);
    }
    for (const auto& c : out.names) take(c);
    Table t;
    for (const auto& c : order) {
      const auto pos = static_cast<std::size_t>(std::find(out.names.begin(), out.names.end(), c) - out.names.begin());
      t.add_column(c, std::move(out.cols[pos]));
    }
    return t;
  }

 private:
  double fps_ = 30.0;
  std::string speed_col_, nn_id_col_, dx_ego_, dy_ego_, dx_world_, dy_world_, focal_col_;
  int64_t diff_n_ = 4;
  bool wrap_ = true, divide_ = true, scale_ = true;
  std::vector<std::string> tags_;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(NearestNeighborDelta);
}  // namespace mosaic::features
