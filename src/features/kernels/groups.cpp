#include "features/kernels/groups.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>
#include <vector>

namespace mosaic::kernels {

void pair_distances_f32(std::span<const float> x, std::span<const float> y, std::span<float> out) noexcept {
  const std::size_t n = x.size();
  std::size_t p = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float xi = x[i], yi = y[i];
    for (std::size_t j = i + 1; j < n; ++j, ++p) {
      // float32 throughout, as numpy's norm of a float32 difference: (dx*dx) + (dy*dy), then sqrt.
      const float dx = xi - x[j];
      const float dy = yi - y[j];
      const float sx = dx * dx;
      const float sy = dy * dy;
      out[p] = std::sqrt(sx + sy);
    }
  }
}

void window_nanmean_f32(std::span<const float* const> rows, std::size_t n_pairs, std::span<float> out) noexcept {
  for (std::size_t p = 0; p < n_pairs; ++p) {
    float sum = 0.0f;
    int64_t count = 0;
    for (const float* row : rows) {
      if (row == nullptr) continue;
      const float v = row[p];
      if (std::isnan(v)) continue;
      sum += v;
      ++count;
    }
    out[p] = count == 0 ? std::numeric_limits<float>::quiet_NaN()
                        : static_cast<float>(static_cast<double>(sum) / static_cast<double>(count));
  }
}

namespace {

int32_t find_root(int32_t* parent, int32_t i) noexcept {
  int32_t root = i;
  while (parent[root] != root) root = parent[root];
  // Path compression: every node on the path points at the root, as the recursive numba version leaves it.
  while (parent[i] != root) {
    const int32_t next = parent[i];
    parent[i] = root;
    i = next;
  }
  return root;
}

}  // namespace

void connected_components(std::span<const float> pair_values, std::size_t n, double cutoff,
                          std::span<int32_t> scratch, std::span<int32_t> labels) noexcept {
  int32_t* parent = scratch.data();
  int32_t* rank = scratch.data() + n;
  for (std::size_t i = 0; i < n; ++i) {
    parent[i] = static_cast<int32_t>(i);
    rank[i] = 0;
  }
  std::size_t p = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j, ++p) {
      const double v = static_cast<double>(pair_values[p]);
      if (!(v < cutoff)) continue;  // NaN never joins
      const int32_t rx = find_root(parent, static_cast<int32_t>(i));
      const int32_t ry = find_root(parent, static_cast<int32_t>(j));
      if (rx == ry) continue;
      if (rank[rx] < rank[ry]) {
        parent[rx] = ry;
      } else if (rank[rx] > rank[ry]) {
        parent[ry] = rx;
      } else {
        parent[ry] = rx;
        ++rank[rx];
      }
    }
  }
  // Relabel roots by ascending root index (np.unique order). `rank` is reused as the root -> label map.
  for (std::size_t i = 0; i < n; ++i) rank[i] = -1;
  for (std::size_t i = 0; i < n; ++i) labels[i] = find_root(parent, static_cast<int32_t>(i));
  for (std::size_t i = 0; i < n; ++i) rank[labels[i]] = 0;
  int32_t next = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (rank[i] == 0) rank[i] = ++next;
  for (std::size_t i = 0; i < n; ++i) labels[i] = rank[labels[i]] - 1;
}

void label_group_events(std::span<const int32_t> labels, std::span<const int64_t> frames,
                        std::span<const int64_t> ids, int64_t min_duration, std::span<int64_t> events) {
  const std::size_t t_count = frames.size();
  const std::size_t n = ids.size();
  std::fill(events.begin(), events.end(), int64_t{-1});
  if (t_count == 0 || n == 0) return;
  // id value -> grid columns (np.isin on the id column: equal integer values are all labelled).
  std::unordered_map<int64_t, std::vector<std::size_t>> columns_of;
  for (std::size_t i = 0; i < n; ++i) columns_of[ids[i]].push_back(i);

  struct Episode {
    uint32_t set;  // interned member set
    int64_t start, end;
  };
  int64_t next_event = 0;
  std::vector<std::vector<int64_t>> members;  // per label of the current frame
  std::size_t run_start = 0;
  while (run_start < t_count) {
    std::size_t run_end = run_start;
    while (run_end + 1 < t_count && frames[run_end + 1] - frames[run_end] <= 1) ++run_end;
    const std::size_t this_start = run_start;
    run_start = run_end + 1;
    if (frames[run_end] - frames[this_start] < min_duration) continue;

    std::map<std::vector<int64_t>, uint32_t> interned;  // member set -> id, in Python tuple order
    std::vector<const std::vector<int64_t>*> set_of_id;
    std::vector<Episode> episodes;
    std::map<uint32_t, int64_t> active, next_active;  // set -> start frame, for sets present in the previous frame
    auto close = [&](uint32_t set, int64_t start, int64_t end) {
      if (end - start >= min_duration) episodes.push_back({set, start, end});
    };
    for (std::size_t t = this_start; t <= run_end; ++t) {
      const int32_t* row = labels.data() + t * n;
      int32_t max_label = -1;
      for (std::size_t i = 0; i < n; ++i) max_label = std::max(max_label, row[i]);
      members.resize(static_cast<std::size_t>(max_label + 1));
      for (auto& m : members) m.clear();
      for (std::size_t i = 0; i < n; ++i) members[static_cast<std::size_t>(row[i])].push_back(ids[i]);
      next_active.clear();
      for (auto& m : members) {
        if (m.empty()) continue;
        std::sort(m.begin(), m.end());
        auto [it, inserted] = interned.emplace(m, static_cast<uint32_t>(set_of_id.size()));
        if (inserted) set_of_id.push_back(&it->first);
        const uint32_t set = it->second;
        auto prev = active.find(set);
        next_active.emplace(set, prev != active.end() ? prev->second : frames[t]);
      }
      for (const auto& [set, start] : active)
        if (!next_active.count(set)) close(set, start, frames[t - 1]);
      std::swap(active, next_active);
    }
    for (const auto& [set, start] : active) close(set, start, frames[run_end]);

    // Python's groupby("members") visits sets in tuple order, episodes in time order.
    std::vector<uint32_t> order_of(set_of_id.size());
    uint32_t pos = 0;
    for (const auto& [key, set] : interned) order_of[set] = pos++;
    std::sort(episodes.begin(), episodes.end(), [&](const Episode& a, const Episode& b) {
      if (order_of[a.set] != order_of[b.set]) return order_of[a.set] < order_of[b.set];
      return a.start < b.start;
    });
    for (const Episode& e : episodes) {
      const int64_t event = next_event++;
      for (int64_t f = e.start; f <= e.end; ++f) {
        const std::size_t t = this_start + static_cast<std::size_t>(f - frames[this_start]);
        for (int64_t id : *set_of_id[e.set])
          for (std::size_t col : columns_of[id]) events[t * n + col] = event;
      }
    }
  }
}

}  // namespace mosaic::kernels
