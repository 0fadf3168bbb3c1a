// body-scale: per animal and frame, the median distance between its visible keypoints
// (features.md §2.3). orientation-rel uses it to normalise distances.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>

#include "features/feature_base.hpp"
#include "features/pose_columns.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {
namespace {

const FeatureInfo kInfo{.name = "body-scale",
                        .version = "0.1",
                        .summary = "Compute each animal's body scale per frame: the median distance between its keypoints.",
                        .category = "per-frame",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "BodyScaleFeature"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{"BodyScaleParams", {}};
  return schema;
}

// The single value of a string column ("" when absent); more than one is an error.
std::string single_value(const Table& df, const char* name) {
  if (!df.has_column(name)) return "";
  const Column& c = df.column(name);
  std::string first;
  bool seen = false;
  for (std::size_t r = 0; r < c.size(); ++r) {
    std::string v = c.type() == DType::kString ? std::string(c.str(r)) : fmt::format("{}", c.as_double(r));
    if (!seen) {
      first = v;
      seen = true;
    } else if (v != first) {
      throw InputError(fmt::format("body-scale: column '{}' has several values ('{}', '{}'); expected one sequence per "
                                   "table",
                                   name, first, v));
    }
  }
  return first;
}

class BodyScale final : public StatelessFeature<BodyScale> {
 public:
  using StatelessFeature::StatelessFeature;
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  Table apply(const Table& df) const override {
    for (const char* c : {"frame", "id"})
      if (!df.has_column(c)) throw SchemaError::missing_column("body-scale input", c, df.column_names());
    auto pairs = pose_column_pairs(df.column_names());
    if (pairs.empty()) return Table();
    std::string sequence = single_value(df, "sequence");
    std::string group = single_value(df, "group");
    // First row of each (frame, id), in sorted key order (pandas groupby).
    const Column& frame = df.column("frame");
    const Column& id = df.column("id");
    std::map<std::pair<int64_t, int64_t>, std::size_t> first_row;
    for (std::size_t r = 0; r < df.num_rows(); ++r) {
      if (frame.is_null(r) || id.is_null(r)) continue;
      first_row.emplace(std::make_pair(frame.as_int64(r), id.as_int64(r)), r);
    }
    std::vector<const Column*> xs, ys;
    std::vector<Column> casts;
    casts.reserve(pairs.size() * 2);
    for (const auto& [xn, yn] : pairs) {
      casts.push_back(df.column(xn).cast(DType::kFloat64));
      casts.push_back(df.column(yn).cast(DType::kFloat64));
    }
    for (std::size_t k = 0; k < pairs.size(); ++k) {
      xs.push_back(&casts[2 * k]);
      ys.push_back(&casts[2 * k + 1]);
    }
    std::vector<int64_t> out_frame, out_id;
    std::vector<double> out_scale;
    std::vector<double> px, py, d;
    for (const auto& [key, r] : first_row) {
      px.clear();
      py.clear();
      for (std::size_t k = 0; k < xs.size(); ++k) {
        double x = xs[k]->f64()[r], y = ys[k]->f64()[r];
        if (std::isfinite(x) && std::isfinite(y)) {
          px.push_back(x);
          py.push_back(y);
        }
      }
      if (px.size() < 2) continue;
      d.clear();
      for (std::size_t a = 0; a < px.size(); ++a)
        for (std::size_t b = a + 1; b < px.size(); ++b) {
          double dx = px[a] - px[b], dy = py[a] - py[b];
          d.push_back(std::sqrt(dx * dx + dy * dy));
        }
      std::sort(d.begin(), d.end());
      std::size_t m = d.size();
      double med = m % 2 ? d[m / 2] : (d[m / 2 - 1] + d[m / 2]) / 2.0;
      out_frame.push_back(key.first);
      out_id.push_back(key.second);
      out_scale.push_back(med);
    }
    Table out;
    std::size_t rows = out_frame.size();
    out.add_column("frame", Column::from_int64(std::move(out_frame)));
    out.add_column("id", Column::from_int64(std::move(out_id)));
    out.add_column("scale", Column::from_float64(std::move(out_scale)));
    out.add_column("sequence", Column::constant_string(sequence, rows));
    out.add_column("group", Column::constant_string(group, rows));
    return out;
  }
};

}  // namespace
MOSAIC_REGISTER_FEATURE(BodyScale);
}  // namespace mosaic::features
