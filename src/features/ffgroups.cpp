// ffgroups: fission-fusion groups per frame (features.md §2.9). Two animals are linked when
// their time-smoothed float32 distance is below the cutoff; groups are the connected components
// (the reference's numba union-find), and stable member sets lasting over consecutive frames
// become numbered events.
//
// Memory stays linear in T x N: distances are computed per frame into a rolling window of
// `window_size` upper triangles (window x N(N-1)/2 floats), smoothed and thresholded frame by
// frame; the reference's T x N x N tensor is never built.
//
// Ties: the reference sorts by frame with numpy's unstable quicksort and keeps the *last* of
// duplicate (frame, id) rows and the *first* time of each frame; we sort stably, so "last" and
// "first" refer to input order (identical on every golden input, which has no duplicates).
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <map>

#include "features/feature_base.hpp"
#include "features/kernels/groups.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {
namespace {

const FeatureInfo kInfo{.name = "ffgroups",
                        .version = "0.1",
                        .summary = "Compute fission-fusion groups per frame (distance-linked components) and stable-group events.",
                        .category = "per-frame",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "FFGroups"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "FFGroupsParams",
      {param_float("distance_cutoff", 50.0,
                   "Two animals are linked when their smoothed distance (track units) is below this.")
           .greater_than(0),
       param_int("window_size", 5, "Centred window (frames, odd) over which pairwise distances are averaged, NaN ignored.")
           .at_least(1)
           .odd(),
       param_int("min_event_duration", 1,
                 "An event is a member set that persists over at least this many frames (last - first).")
           .at_least(1)}};
  return schema;
}

// The frame column as integers (nulls kept); a fractional frame number is an error.
Column integral_frames(const Column& c) {
  try {
    return c.cast(DType::kInt64);
  } catch (const Error&) {
    throw SchemaError::wrong_type("ffgroups input", "frame", "whole frame numbers", "fractional values");
  }
}

// Python's str() of a cell (group/sequence are strings in our tables; numbers are formatted).
std::string cell_str(const Column& c, std::size_t row) {
  if (c.type() == DType::kString) return std::string(c.str(row));
  if (is_integer(c.type()) && !c.is_null(row)) return fmt::format("{}", c.as_int64(row));
  return fmt::format("{}", c.as_double(row));
}

class FFGroups final : public StatelessFeature<FFGroups> {
 public:
  FFGroups(Inputs inputs, Json params) : StatelessFeature(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    cutoff_ = p["distance_cutoff"].get<double>();
    window_ = p["window_size"].get<int64_t>();
    min_event_ = p["min_event_duration"].get<int64_t>();
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  Table apply(const Table& df) const override {
    if (df.num_rows() == 0) return Table();
    for (const char* c : {"frame", "id", "X", "Y"})
      if (!df.has_column(c)) throw SchemaError::missing_column("ffgroups input", c, df.column_names());
    const Column& id_col = df.column("id");
    if (!is_numeric(id_col.type()))
      throw SchemaError::wrong_type("ffgroups input", "id", "numbers (member ids are cast to int)",
                                    dtype_name(id_col.type()));
    if (!is_numeric(df.column("frame").type()))
      throw SchemaError::wrong_type("ffgroups input", "frame", "numbers", dtype_name(df.column("frame").type()));
    const std::vector<int64_t> order = df.stable_sort_indices({"frame"});
    const std::size_t rows = df.num_rows();
    // Frames are whole numbers (the grid is indexed by int(frame)); missing frames are skipped.
    const Column frame = integral_frames(df.column("frame")).cast(DType::kFloat64);
    const Column id = id_col.cast(DType::kFloat64);
    const Column xs = df.column("X").cast(DType::kFloat64);
    const Column ys = df.column("Y").cast(DType::kFloat64);
    auto fv = frame.f64();
    auto iv = id.f64();

    // Sorted distinct frames (cast to int) and ids.
    std::vector<double> frame_values, id_values;
    frame_values.reserve(rows);
    id_values.reserve(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      if (!std::isnan(fv[r])) frame_values.push_back(fv[r]);
      if (!std::isnan(iv[r])) id_values.push_back(iv[r]);
    }
    auto distinct = [](std::vector<double>& v) {
      std::sort(v.begin(), v.end());
      v.erase(std::unique(v.begin(), v.end()), v.end());
    };
    distinct(frame_values);
    distinct(id_values);
    if (frame_values.empty() || id_values.empty()) return Table();
    const std::size_t t_count = frame_values.size(), n = id_values.size();
    std::vector<int64_t> frames(t_count);
    for (std::size_t t = 0; t < t_count; ++t) frames[t] = static_cast<int64_t>(frame_values[t]);
    auto frame_pos = [&](double f) -> std::ptrdiff_t {  // exact frame value -> grid row, -1 if none
      auto it = std::lower_bound(frame_values.begin(), frame_values.end(), f);
      return (it != frame_values.end() && *it == f) ? it - frame_values.begin() : -1;
    };
    auto id_pos = [&](double v) -> std::ptrdiff_t {
      auto it = std::lower_bound(id_values.begin(), id_values.end(), v);
      return (it != id_values.end() && *it == v) ? it - id_values.begin() : -1;
    };

    // Positions (float32, NaN = absent); the last valid row of a duplicated (frame, id) wins.
    constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> px(t_count * n, kNaNf), py(t_count * n, kNaNf);
    for (int64_t o : order) {
      const auto r = static_cast<std::size_t>(o);
      const double x = xs.f64()[r], y = ys.f64()[r];
      if (std::isnan(iv[r]) || !std::isfinite(x) || !std::isfinite(y)) continue;
      const std::ptrdiff_t t = frame_pos(fv[r]);
      const std::ptrdiff_t i = id_pos(iv[r]);
      if (t < 0 || i < 0) continue;
      const std::size_t cell = static_cast<std::size_t>(t) * n + static_cast<std::size_t>(i);
      px[cell] = static_cast<float>(x);
      py[cell] = static_cast<float>(y);
    }

    // Per frame: distances into a rolling window, NaN-mean, union-find.
    std::vector<int32_t> labels(t_count * n);
    group_frames(px, py, t_count, n, labels);
    std::vector<int32_t> sizes(t_count * n);
    std::vector<int32_t> counts(n);
    for (std::size_t t = 0; t < t_count; ++t) {
      std::fill(counts.begin(), counts.end(), 0);
      for (std::size_t i = 0; i < n; ++i) ++counts[static_cast<std::size_t>(labels[t * n + i])];
      for (std::size_t i = 0; i < n; ++i) sizes[t * n + i] = counts[static_cast<std::size_t>(labels[t * n + i])];
    }
    std::vector<int64_t> member_ids(n);
    for (std::size_t i = 0; i < n; ++i) member_ids[i] = static_cast<int64_t>(id_values[i]);  // ids.astype(int)
    std::vector<int64_t> events(t_count * n);
    kernels::label_group_events(labels, frames, member_ids, min_event_, events);

    // Output grid, frame-major.
    Table out;
    std::vector<int64_t> out_frame(t_count * n);
    std::vector<double> out_id(t_count * n);
    for (std::size_t t = 0; t < t_count; ++t)
      for (std::size_t i = 0; i < n; ++i) {
        out_frame[t * n + i] = frames[t];
        out_id[t * n + i] = id_values[i];
      }
    out.add_column("frame", Column::from_int64(std::move(out_frame)));
    Column out_id_col = Column::from_float64(std::move(out_id));
    out.add_column("id", id_col.type() == DType::kFloat64 ? std::move(out_id_col) : out_id_col.cast(id_col.type()));
    out.add_column("group_membership", Column::from_int32(std::move(labels)));
    out.add_column("group_size", Column::from_int32(std::move(sizes)));
    if (df.has_column("time")) out.add_column("time", frame_times(df, order, fv, frame_values, t_count, n));
    const std::size_t first = static_cast<std::size_t>(order.front());
    const std::string seq = df.has_column("sequence") ? cell_str(df.column("sequence"), first) : "";
    const std::string grp = df.has_column("group") ? cell_str(df.column("group"), first) : "";
    out.add_column("sequence", Column::constant_string(seq, t_count * n));
    out.add_column("group", Column::constant_string(grp, t_count * n));
    out.add_column("event", Column::from_int64(std::move(events)));
    return out;
  }

 private:
  void group_frames(const std::vector<float>& px, const std::vector<float>& py, std::size_t t_count, std::size_t n,
                    std::vector<int32_t>& labels) const {
    const std::size_t n_pairs = kernels::pair_count(n);
    const auto win = static_cast<std::size_t>(window_);
    const std::size_t pad = win / 2;
    std::vector<float> ring(win * n_pairs), smoothed(n_pairs);
    std::vector<const float*> rows(win);
    std::vector<int32_t> scratch(2 * n);
    std::size_t computed = 0;  // frames [0, computed) have their distances in the ring
    auto frame_distances = [&](std::size_t s) {
      kernels::pair_distances_f32(std::span<const float>(px.data() + s * n, n), std::span<const float>(py.data() + s * n, n),
                                  std::span<float>(ring.data() + (s % win) * n_pairs, n_pairs));
    };
    for (std::size_t t = 0; t < t_count; ++t) {
      const std::size_t need = std::min(t + pad + 1, t_count);
      for (; computed < need; ++computed) frame_distances(computed);
      std::span<const float> values;
      if (win == 1) {
        values = std::span<const float>(ring.data(), n_pairs);
      } else {
        for (std::size_t k = 0; k < win; ++k) {
          const std::size_t s = t + k;  // frame t - pad + k, shifted by pad to stay unsigned
          rows[k] = (s < pad || s - pad >= t_count) ? nullptr : ring.data() + ((s - pad) % win) * n_pairs;
        }
        kernels::window_nanmean_f32(rows, n_pairs, smoothed);
        values = smoothed;
      }
      kernels::connected_components(values, n, cutoff_, scratch, std::span<int32_t>(labels.data() + t * n, n));
    }
  }

  // The first non-missing time of each frame (pandas groupby(frame).time.first()), on the grid.
  static Column frame_times(const Table& df, const std::vector<int64_t>& order, std::span<const double> fv,
                            const std::vector<double>& frame_values, std::size_t t_count, std::size_t n) {
    const Column& time_col = df.column("time");
    if (!is_numeric(time_col.type()))
      throw SchemaError::wrong_type("ffgroups input", "time", "numbers", dtype_name(time_col.type()));
    const Column tv = time_col.cast(DType::kFloat64);
    std::vector<double> first(t_count, std::numeric_limits<double>::quiet_NaN());
    std::vector<uint8_t> seen(t_count, 0);
    for (int64_t o : order) {
      const auto r = static_cast<std::size_t>(o);
      const double t = tv.f64()[r];
      if (std::isnan(t) || std::isnan(fv[r])) continue;
      auto it = std::lower_bound(frame_values.begin(), frame_values.end(), fv[r]);
      if (it == frame_values.end() || *it != fv[r]) continue;
      const auto pos = static_cast<std::size_t>(it - frame_values.begin());
      if (seen[pos]) continue;
      first[pos] = t;
      seen[pos] = 1;
    }
    std::vector<double> out(t_count * n);
    for (std::size_t t = 0; t < t_count; ++t)
      for (std::size_t i = 0; i < n; ++i) out[t * n + i] = first[t];
    bool all_seen = std::all_of(seen.begin(), seen.end(), [](uint8_t s) { return s != 0; });
    Column c = Column::from_float64(std::move(out));
    return (is_integer(time_col.type()) && all_seen) ? c.cast(DType::kInt64) : c;
  }

  double cutoff_ = 50.0;
  int64_t window_ = 5;
  int64_t min_event_ = 1;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(FFGroups);
}  // namespace mosaic::features
