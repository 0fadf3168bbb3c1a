#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"

namespace mosaic {

std::vector<SequenceSummary> summarize_tracks(const Dataset& dataset) {
  std::vector<SequenceSummary> out;
  auto entries = dataset.tracks_index();
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return std::tie(a.group, a.sequence) < std::tie(b.group, b.sequence); });
  for (const auto& e : entries) {
    SequenceSummary s;
    s.group = e.group;
    s.sequence = e.sequence;
    auto schema = parquet_schema(e.path);
    bool has_time = false;
    for (const auto& [name, type] : schema) {
      if (name.rfind("poseX", 0) == 0) ++s.keypoints;
      if (name == "time") has_time = true;
    }
    ParquetReadOptions opt;
    opt.columns = {"frame", "id"};
    if (has_time) opt.columns.push_back("time");
    Table t = read_parquet(e.path, opt);
    s.rows = static_cast<int64_t>(t.num_rows());
    auto frame = t.column("frame").cast(DType::kInt64);
    auto id = t.column("id").cast(DType::kInt64);
    std::unordered_set<int64_t> ids(id.i64().begin(), id.i64().end());
    std::unordered_set<int64_t> frames(frame.i64().begin(), frame.i64().end());
    s.animals = static_cast<int64_t>(ids.size());
    s.frames = static_cast<int64_t>(frames.size());
    if (!frames.empty()) {
      auto [mn, mx] = std::minmax_element(frame.i64().begin(), frame.i64().end());
      s.first_frame = *mn;
      s.last_frame = *mx;
    }
    s.fps = dataset.fps_default();
    if (!s.fps && has_time && t.num_rows() > 1) {
      // fps from time/frame of two rows far apart (robust to missing frames).
      auto time = t.column("time").cast(DType::kFloat64);
      std::size_t a = 0, b = t.num_rows() - 1;
      double dt = time.f64()[b] - time.f64()[a];
      double df = static_cast<double>(frame.i64()[b] - frame.i64()[a]);
      if (std::isfinite(dt) && dt > 0 && df > 0) s.fps = std::round(df / dt * 1e6) / 1e6;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace mosaic
