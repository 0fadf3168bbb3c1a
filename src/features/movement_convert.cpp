#include "features/movement_convert.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <set>
#include <unordered_map>

#include "features/pose_columns.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {

namespace {

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();

std::vector<double> as_doubles(const Column& c) {
  Column d = c.type() == DType::kFloat64 ? c : c.cast(DType::kFloat64);
  return std::vector<double>(d.f64().begin(), d.f64().end());
}

// numpy: position float64 -> inf becomes NaN -> astype(float32) (a finite value beyond float32's
// range still becomes inf).
float to_position(double v) { return std::isinf(v) ? kNaNf : static_cast<float>(v); }

}  // namespace

MovementArrays to_movement_arrays(const Table& df, const std::optional<std::vector<std::string>>& keypoint_names,
                                  bool include_centroid, const std::string& feature) {
  for (const char* c : {"id", "frame"})
    if (!df.has_column(c)) throw SchemaError::missing_column(feature + " input", c, df.column_names());
  MovementArrays m;
  m.pose_pairs = pose_column_pairs(df.column_names());
  for (const auto& [xn, yn] : m.pose_pairs) {
    // F10: the confidence of poseX<s> is poseP<s>.
    std::string p = "poseP" + xn.substr(5);
    m.conf_cols.push_back(df.has_column(p) ? p : "");
    if (df.has_column(p)) m.has_confidence = true;
  }
  std::vector<std::string> names;
  m.has_centroid = include_centroid && df.has_column("X") && df.has_column("Y");
  if (m.has_centroid) names.push_back("centroid");
  if (keypoint_names) {
    if (keypoint_names->size() != m.pose_pairs.size())
      throw InputError(fmt::format("{}: keypoint_names has {} entries but found {} pose column pairs", feature,
                                   keypoint_names->size(), m.pose_pairs.size()));
    names.insert(names.end(), keypoint_names->begin(), keypoint_names->end());
  } else {
    for (std::size_t k = 0; k < m.pose_pairs.size(); ++k) names.push_back(fmt::format("keypoint_{}", k));
  }
  if (std::set<std::string>(names.begin(), names.end()).size() != names.size())
    throw InputError(fmt::format("{}: keypoint names must be unique (got {})", feature, fmt::join(names, ", ")));
  m.n_keypoints = names.size();
  if (m.n_keypoints == 0)
    throw SchemaError(fmt::format("{}: No keypoints to convert: no pose columns found and include_centroid=False or "
                                  "X/Y columns missing.",
                                  feature));

  const std::size_t n = df.num_rows();
  const Column& frame_col = df.column("frame");
  const Column& id_col = df.column("id");
  std::vector<double> frames(n);
  for (std::size_t r = 0; r < n; ++r) {
    frames[r] = frame_col.as_double(r);
    if (std::isnan(frames[r])) throw SchemaError(fmt::format("{} input: column 'frame' has a missing value (row {})", feature, r));
  }
  std::vector<double> unique_frames = frames;
  std::sort(unique_frames.begin(), unique_frames.end());
  unique_frames.erase(std::unique(unique_frames.begin(), unique_frames.end()), unique_frames.end());
  m.n_frames = unique_frames.size();
  m.row_frame.resize(n);
  for (std::size_t r = 0; r < n; ++r)
    m.row_frame[r] = std::lower_bound(unique_frames.begin(), unique_frames.end(), frames[r]) - unique_frames.begin();
  // Individuals (order does not matter for the values; rows without an id are left out).
  m.row_individual.assign(n, -1);
  if (id_col.type() == DType::kString) {
    std::unordered_map<int32_t, int64_t> idx;
    auto codes = id_col.codes();
    for (std::size_t r = 0; r < n; ++r)
      if (codes[r] >= 0) m.row_individual[r] = idx.emplace(codes[r], static_cast<int64_t>(idx.size())).first->second;
    m.n_individuals = idx.size();
  } else {
    std::unordered_map<double, int64_t> idx;
    for (std::size_t r = 0; r < n; ++r) {
      const double v = id_col.as_double(r);
      if (!std::isnan(v)) m.row_individual[r] = idx.emplace(v, static_cast<int64_t>(idx.size())).first->second;
    }
    m.n_individuals = idx.size();
  }

  const std::size_t total = m.n_individuals * m.n_keypoints * m.n_frames;
  m.position.assign(total * 2, kNaNf);
  m.confidence.assign(total, kNaNf);
  auto fill_keypoint = [&](std::size_t kp, const std::vector<double>& xs, const std::vector<double>& ys,
                           const std::vector<double>* conf) {
    for (std::size_t r = 0; r < n; ++r) {
      if (m.row_individual[r] < 0) continue;
      const auto ind = static_cast<std::size_t>(m.row_individual[r]);
      const auto f = static_cast<std::size_t>(m.row_frame[r]);
      // A repeated (frame, id) row overwrites the earlier one, as numpy's fancy assignment does.
      m.series(ind, kp, 0)[f] = to_position(xs[r]);
      m.series(ind, kp, 1)[f] = to_position(ys[r]);
      float c;
      if (conf) c = static_cast<float>((*conf)[r]);
      else c = (std::isfinite(xs[r]) && std::isfinite(ys[r])) ? 1.0f : kNaNf;
      m.confidence_series(ind, kp)[f] = c;
    }
  };
  std::size_t kp = 0;
  if (m.has_centroid) fill_keypoint(kp++, as_doubles(df.column("X")), as_doubles(df.column("Y")), nullptr);
  for (std::size_t k = 0; k < m.pose_pairs.size(); ++k, ++kp) {
    const bool use_conf = m.has_confidence && !m.conf_cols[k].empty();
    std::vector<double> conf;
    if (use_conf) conf = as_doubles(df.column(m.conf_cols[k]));
    fill_keypoint(kp, as_doubles(df.column(m.pose_pairs[k].first)), as_doubles(df.column(m.pose_pairs[k].second)),
                  use_conf ? &conf : nullptr);
  }
  return m;
}

Table from_movement_arrays(const Table& df, const MovementArrays& m, bool update_confidence) {
  Table out = df;
  const std::size_t n = df.num_rows();
  auto write = [&](const std::string& name, auto value_of) {
    const Column& old = df.column(name);
    const bool f32 = old.type() == DType::kFloat32;
    std::vector<double> v = as_doubles(old);
    for (std::size_t r = 0; r < n; ++r)
      if (m.row_individual[r] >= 0) v[r] = value_of(static_cast<std::size_t>(m.row_individual[r]),
                                                    static_cast<std::size_t>(m.row_frame[r]));
    if (f32) out.set_column(name, Column::from_float32(std::vector<float>(v.begin(), v.end())));
    else out.set_column(name, Column::from_float64(std::move(v)));
  };
  std::size_t kp = 0;
  if (m.has_centroid) {
    write("X", [&](std::size_t ind, std::size_t f) -> double { return m.series(ind, 0, 0)[f]; });
    write("Y", [&](std::size_t ind, std::size_t f) -> double { return m.series(ind, 0, 1)[f]; });
    kp = 1;
  }
  for (std::size_t k = 0; k < m.pose_pairs.size(); ++k, ++kp) {
    write(m.pose_pairs[k].first, [&](std::size_t ind, std::size_t f) -> double { return m.series(ind, kp, 0)[f]; });
    write(m.pose_pairs[k].second, [&](std::size_t ind, std::size_t f) -> double { return m.series(ind, kp, 1)[f]; });
    if (update_confidence && !m.conf_cols[k].empty())
      write(m.conf_cols[k], [&](std::size_t ind, std::size_t f) -> double { return m.confidence_series(ind, kp)[f]; });
  }
  return out;
}

}  // namespace mosaic::features
