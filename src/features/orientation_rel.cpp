// orientation-rel: for every frame and ordered pair of animals (a -> b), b's keypoints expressed
// in a's body frame (rotated by a's heading, centred on a's keypoint centroid, divided by a body
// scale), summarised as centroid offset, heading difference, distance statistics and the k
// nearest keypoint distances (features.md §2.4).
//
// The scale is the mean body scale of the sequence, read from the body-scale run named by the
// `scale` param (the runner resolves it into dependency_lookups["scale"]); without a usable one,
// the median distance between a's own keypoints is used per pair.
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <map>

#include "features/feature_base.hpp"
#include "features/kernels/orientation.hpp"
#include "features/pose_columns.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/parquet.hpp"

namespace mosaic::features {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const FeatureInfo kInfo{.name = "orientation-rel",
                        .version = "0.1",
                        .summary = "Express each animal's keypoints in every other animal's body frame and summarise "
                                   "them per frame and ordered pair.",
                        .category = "per-frame",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "OrientationRelativeFeature"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "OrientationRelativeParams",
      {param("scale", body_scale_result_type(), Json::object(),
             "Body-scale run whose mean per-sequence scale normalises distances (per-pair keypoint spread without one)."),
       param_int("nearest_k", 3, "Number of nearest keypoint distances to emit (near_0..near_{k-1}).").at_least(1),
       param("quantiles", ParamType::list(ParamType::floating()), Json::array({0.25, 0.5, 0.75}),
             "Quantiles of the keypoint distances to emit as dist_q{100q}.")
           .with_check("each in [0, 1]", [](const Json& v) -> std::string {
             for (const auto& q : v)
               if (q.is_number() && !(q.get<double>() >= 0.0 && q.get<double>() <= 1.0))
                 return fmt::format("Quantiles must be in the range [0, 1] (got {})", q.dump());
             return "";
           })}};
  return schema;
}

// Python's str() of a cell, for the group/sequence lookup key.
std::string cell_str(const Column& c, std::size_t row) {
  if (c.type() == DType::kString) return std::string(c.str(row));
  if (is_integer(c.type()) && !c.is_null(row)) return fmt::format("{}", c.as_int64(row));
  return fmt::format("{}", c.as_double(row));
}

class OrientationRel final : public FeatureBase<OrientationRel> {
 public:
  OrientationRel(Inputs inputs, Json params) : FeatureBase(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    nearest_k_ = static_cast<std::size_t>(p["nearest_k"].get<int64_t>());
    for (const auto& q : p["quantiles"]) quantiles_.push_back(q.get<double>());
    // dist_q{int(q * 100):02d}; a repeated name keeps its first position and takes the last value.
    for (double q : quantiles_) {
      std::string name = fmt::format("dist_q{:02d}", static_cast<int64_t>(q * 100.0));
      auto it = std::find(q_names_.begin(), q_names_.end(), name);
      q_slot_.push_back(it == q_names_.end() ? q_names_.size() : static_cast<std::size_t>(it - q_names_.begin()));
      if (it == q_names_.end()) q_names_.push_back(name);
    }
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  bool load_state(const std::filesystem::path&, const ArtifactPaths&, const DependencyLookups& lookups) override {
    auto it = lookups.find("scale");
    scale_lookup_.reset();
    if (it != lookups.end()) scale_lookup_ = it->second;
    return true;
  }

  Table apply(const Table& df) const override {
    if (df.num_rows() == 0) return Table();
    for (const char* c : {"frame", "id", "ANGLE"})
      if (!df.has_column(c)) throw SchemaError::missing_column("orientation-rel input", c, df.column_names());
    const auto pairs = pose_column_pairs(df.column_names());
    if (pairs.empty()) return Table();
    const std::string group = df.has_column("group") ? cell_str(df.column("group"), 0) : "";
    const std::string sequence = df.has_column("sequence") ? cell_str(df.column("sequence"), 0) : "";
    const std::optional<double> global_scale = scale_for(group, sequence);

    // The first row of each (frame, id), in sorted key order (pandas groupby, NaN keys dropped).
    const std::vector<int64_t> order = df.stable_sort_indices({"frame", "id"});
    const Column& frame = df.column("frame");
    const Column& id = df.column("id");
    const Column angle_col = df.column("ANGLE").cast(DType::kFloat64);
    const auto angle = angle_col.f64();
    std::vector<Column> pose;
    for (const auto& [xn, yn] : pairs) {
      pose.push_back(df.column(xn).cast(DType::kFloat64));
      pose.push_back(df.column(yn).cast(DType::kFloat64));
    }
    auto same_key = [&](std::size_t a, std::size_t b) {
      if (frame.as_double(a) != frame.as_double(b)) return false;
      if (id.type() == DType::kString) return id.str(a) == id.str(b);
      return id.as_double(a) == id.as_double(b);
    };
    auto null_key = [&](std::size_t r) { return frame.is_null(r) || id.is_null(r); };

    struct Animal {
      int64_t frame;
      std::size_t row;
      std::size_t offset, count;  // into pts (pairs of doubles)
      double cx, cy, angle;
      double local_scale = kNaN;
      bool local_done = false;
    };
    std::vector<Animal> animals;
    std::vector<double> pts;
    for (std::size_t k = 0; k < order.size(); ++k) {
      const auto r = static_cast<std::size_t>(order[k]);
      if (null_key(r)) continue;
      if (k > 0 && same_key(static_cast<std::size_t>(order[k - 1]), r)) continue;
      const std::size_t offset = pts.size();
      double sx = 0, sy = 0;
      std::size_t count = 0;
      for (std::size_t p = 0; p < pairs.size(); ++p) {
        const double x = pose[2 * p].f64()[r], y = pose[2 * p + 1].f64()[r];
        if (!std::isfinite(x) || !std::isfinite(y)) continue;
        pts.push_back(x);
        pts.push_back(y);
        sx += x;  // numpy mean along axis 0: a sequential sum, then / count
        sy += y;
        ++count;
      }
      if (count < 2) {
        pts.resize(offset);
        continue;
      }
      const double n = static_cast<double>(count);
      animals.push_back({static_cast<int64_t>(frame.as_double(r)), r, offset, count, sx / n, sy / n, angle[r]});
    }

    const std::size_t width = kernels::orientation_row_width(quantiles_.size(), nearest_k_);
    std::vector<int64_t> out_frame, row_a, row_b;
    std::vector<std::vector<double>> cols(width);
    std::vector<double> row(width), work;
    kernels::OrientationWorkspace ws;
    {
      // Reserve for every ordered pair of each frame (quadratic in the output only).
      std::size_t pairs = 0;
      for (std::size_t s = 0, e = 0; s < animals.size(); s = e) {
        for (e = s + 1; e < animals.size() && animals[e].frame == animals[s].frame;) ++e;
        pairs += (e - s) * (e - s - 1);
      }
      out_frame.reserve(pairs);
      row_a.reserve(pairs);
      row_b.reserve(pairs);
      for (auto& c : cols) c.reserve(pairs);
    }
    std::size_t start = 0;
    while (start < animals.size()) {
      std::size_t end = start + 1;
      while (end < animals.size() && animals[end].frame == animals[start].frame) ++end;
      if (end - start >= 2) {
        for (std::size_t a = start; a < end; ++a) {
          for (std::size_t b = start; b < end; ++b) {
            if (a == b) continue;
            Animal& A = animals[a];
            const Animal& B = animals[b];
            double scale = global_scale ? *global_scale : kNaN;
            if (!global_scale) {
              if (!A.local_done) {
                double m = kernels::median_pairwise_distance(std::span<const double>(pts.data() + A.offset, 2 * A.count), work);
                A.local_scale = (std::isfinite(m) && m > 0) ? m : kNaN;
                A.local_done = true;
              }
              scale = A.local_scale;
              if (std::isnan(scale)) continue;
            }
            kernels::orientation_pair(std::span<const double>(pts.data() + B.offset, 2 * B.count), A.cx, A.cy, B.cx,
                                      B.cy, A.angle, B.angle, scale, quantiles_, nearest_k_, ws, row.data());
            out_frame.push_back(A.frame);
            row_a.push_back(static_cast<int64_t>(A.row));
            row_b.push_back(static_cast<int64_t>(B.row));
            for (std::size_t c = 0; c < width; ++c) cols[c].push_back(row[c]);
          }
        }
      }
      start = end;
    }
    if (out_frame.empty()) return Table();
    const std::size_t rows = out_frame.size();
    Table out;
    out.add_column("frame", Column::from_int64(std::move(out_frame)));
    out.add_column("id_a", id.take(row_a));
    out.add_column("id_b", id.take(row_b));
    out.add_column("sequence", Column::constant_string(sequence, rows));
    out.add_column("group", Column::constant_string(group, rows));
    std::size_t c = 0;
    for (const char* name : {"dx", "dy", "dtheta", "dist_min", "dist_median", "dist_max"})
      out.add_column(name, Column::from_float64(std::move(cols[c++])));
    // Quantile columns: a repeated name holds the value of its last quantile.
    std::vector<std::vector<double>> qcols(q_names_.size());
    for (std::size_t k = 0; k < quantiles_.size(); ++k) qcols[q_slot_[k]] = std::move(cols[c++]);
    for (std::size_t k = 0; k < q_names_.size(); ++k) out.add_column(q_names_[k], Column::from_float64(std::move(qcols[k])));
    for (const char* name : {"x_min", "x_median", "x_max", "y_min", "y_median", "y_max"})
      out.add_column(name, Column::from_float64(std::move(cols[c++])));
    for (std::size_t k = 0; k < nearest_k_; ++k)
      out.add_column(fmt::format("near_{}", k), Column::from_float64(std::move(cols[c++])));
    return out;
  }

 private:
  // The mean of the sequence's body scale (NaN dropped), when finite and > 0.
  std::optional<double> scale_for(const std::string& group, const std::string& sequence) const {
    if (!scale_lookup_) return std::nullopt;
    auto it = scale_lookup_->find({group, sequence});
    if (it == scale_lookup_->end()) return std::nullopt;
    Table t = read_parquet(it->second);
    if (!t.has_column("scale")) throw SchemaError::missing_column(it->second.string(), "scale", t.column_names());
    Column s = t.column("scale").cast(DType::kFloat64);
    std::vector<double> v;
    v.reserve(s.size());
    for (double x : s.f64())
      if (!std::isnan(x)) v.push_back(x);
    if (v.empty()) return std::nullopt;
    const double mean = kernels::numpy_sum(v) / static_cast<double>(v.size());
    if (std::isfinite(mean) && mean > 0) return mean;
    return std::nullopt;
  }

  std::size_t nearest_k_ = 3;
  std::vector<double> quantiles_;
  std::vector<std::string> q_names_;
  std::vector<std::size_t> q_slot_;
  std::optional<std::map<std::pair<std::string, std::string>, std::filesystem::path>> scale_lookup_;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(OrientationRel);
}  // namespace mosaic::features
