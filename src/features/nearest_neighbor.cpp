// nearest-neighbor: per animal and frame, the nearest other animal and where it is relative to
// the focal one (features.md §2.2). DECISIONS F3: a NaN distance never wins, and an animal with no
// valid neighbour gets NaN in every nn_* column (nn_id included), so the version carries "+cpp.1".
// Rows come out sorted by frame (stable: ties keep input order, where the reference's unstable
// quicksort leaves it to the CPU); within a frame, equal distances go to the first row.
#include <cmath>
#include <fmt/format.h>
#include <limits>

#include "features/feature_base.hpp"
#include "features/kernels/neighbors.hpp"
#include "features/kernels/signal.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const FeatureInfo kInfo{.name = "nearest-neighbor",
                        .version = "0.1+cpp.1",
                        .summary = "Find each animal's nearest neighbour per frame: its id, offset (world and ego frame), "
                                   "distance and heading difference.",
                        .category = "per-frame",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "NearestNeighbor"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{"NearestNeighborParams", {}};
  return schema;
}

class NearestNeighbor final : public StatelessFeature<NearestNeighbor> {
 public:
  using StatelessFeature::StatelessFeature;
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  Table apply(const Table& df) const override {
    if (df.num_rows() == 0) return Table();
    const char* order_col = df.has_column("frame") ? "frame" : (df.has_column("time") ? "time" : nullptr);
    if (!order_col) throw SchemaError("nearest-neighbor input: Need 'frame' or 'time' column to order rows.");
    for (const char* c : {"id", "X", "Y"})
      if (!df.has_column(c)) throw SchemaError::missing_column("nearest-neighbor input", c, df.column_names());
    const Column& id_col = df.column("id");
    if (!is_numeric(id_col.type()) && id_col.type() != DType::kBool)
      throw SchemaError::wrong_type("nearest-neighbor input", "id", "a numeric id (nn_id is a float column)",
                                    dtype_name(id_col.type()));

    const std::vector<int64_t> order = df.stable_sort_indices({order_col});
    const std::size_t n = order.size();
    auto gather = [&](const char* name) { return df.column(name).take(order).cast(DType::kFloat64); };
    const Column x = gather("X"), y = gather("Y"), key = gather(order_col), ids = gather("id");
    const bool has_angle = df.has_column("ANGLE");
    const Column angle = has_angle ? gather("ANGLE") : Column();
    const auto xs = x.f64(), ys = y.f64(), keys = key.f64(), idv = ids.f64();
    const std::span<const double> ang = has_angle ? angle.f64() : std::span<const double>();

    std::vector<double> nn_id(n, kNaN), ndx(n, kNaN), ndy(n, kNaN), ndist(n, kNaN), ndx_ego(n, kNaN),
        ndy_ego(n, kNaN), ndangle(has_angle ? n : 0, kNaN);
    kernels::NearestNeighborSearch search;
    std::vector<int64_t> nn;
    std::size_t start = 0;
    while (start < n) {
      std::size_t end = start + 1;
      // pandas groupby drops NaN keys: such rows keep NaN outputs.
      if (std::isnan(keys[start])) {
        start = end;
        continue;
      }
      while (end < n && keys[end] == keys[start]) ++end;
      const std::size_t len = end - start;
      if (len >= 2) {
        nn.resize(len);
        search.search(xs.subspan(start, len), ys.subspan(start, len), nn);
        for (std::size_t k = 0; k < len; ++k) {
          if (nn[k] < 0) continue;  // F3: no valid neighbour
          const std::size_t i = start + k, j = start + static_cast<std::size_t>(nn[k]);
          const double dx = xs[j] - xs[i], dy = ys[j] - ys[i];
          nn_id[i] = idv[j];
          ndx[i] = dx;
          ndy[i] = dy;
          ndist[i] = std::sqrt(dx * dx + dy * dy);
          const double h = has_angle ? ang[i] : 0.0;
          const double ct = std::cos(h), st = std::sin(h);
          ndx_ego[i] = dx * ct + dy * st;
          ndy_ego[i] = -dx * st + dy * ct;
          if (has_angle) ndangle[i] = kernels::wrap_angle(ang[j] - ang[i]);
        }
      }
      start = end;
    }
    Table out;
    out.add_column("nn_id", Column::from_float64(std::move(nn_id)));
    out.add_column("nn_delta_x", Column::from_float64(std::move(ndx)));
    out.add_column("nn_delta_y", Column::from_float64(std::move(ndy)));
    out.add_column("nn_dist", Column::from_float64(std::move(ndist)));
    out.add_column("nn_delta_x_ego", Column::from_float64(std::move(ndx_ego)));
    out.add_column("nn_delta_y_ego", Column::from_float64(std::move(ndy_ego)));
    if (has_angle) out.add_column("nn_delta_angle", Column::from_float64(std::move(ndangle)));
    // sorted(meta present): frame, group, id, sequence, time
    for (const char* m : {"frame", "group", "id", "sequence", "time"})
      if (df.has_column(m)) out.add_column(m, df.column(m).take(order));
    return out;
  }
};

}  // namespace
MOSAIC_REGISTER_FEATURE(NearestNeighbor);
}  // namespace mosaic::features
