// ffgroups kernels against deliberately naive oracles: a straight port of the reference's
// recursive numba union-find over a full adjacency matrix, a transliteration of its event search
// (groupby member tuples, np.split on frame gaps), and numpy's float32 norm values pinned from
// numpy 1.24.
#include "features/kernels/groups.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace mosaic::kernels {
namespace {

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();

// --- oracle: the reference's numba code, verbatim in structure --------------------------------
int naive_root(std::vector<int>& parent, int i) {
  if (parent[static_cast<std::size_t>(i)] != i) parent[static_cast<std::size_t>(i)] = naive_root(parent, parent[static_cast<std::size_t>(i)]);
  return parent[static_cast<std::size_t>(i)];
}

std::vector<int32_t> naive_components(const std::vector<std::vector<float>>& full, double cutoff) {
  const int n = static_cast<int>(full.size());
  std::vector<std::vector<float>> adj(full.size(), std::vector<float>(full.size(), 0.0f));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (i != j && !std::isnan(full[i][j]) && static_cast<double>(full[i][j]) < cutoff) adj[i][j] = 1.0f;
  std::vector<int> parent(static_cast<std::size_t>(n)), rank(static_cast<std::size_t>(n), 0);
  for (int i = 0; i < n; ++i) parent[static_cast<std::size_t>(i)] = i;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j)
      if (adj[i][j] > 0) {
        int rx = naive_root(parent, i), ry = naive_root(parent, j);
        if (rx == ry) continue;
        if (rank[rx] < rank[ry]) parent[rx] = ry;
        else if (rank[rx] > rank[ry]) parent[ry] = rx;
        else {
          parent[ry] = rx;
          rank[rx] += 1;
        }
      }
  std::vector<int> comp(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) comp[static_cast<std::size_t>(i)] = naive_root(parent, i);
  std::vector<int> roots(comp);
  std::sort(roots.begin(), roots.end());
  roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
  std::vector<int32_t> labels(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    labels[static_cast<std::size_t>(i)] =
        static_cast<int32_t>(std::lower_bound(roots.begin(), roots.end(), comp[static_cast<std::size_t>(i)]) - roots.begin());
  return labels;
}

// --- oracle: _find_events + _get_events_info ---------------------------------------------------
std::vector<int64_t> naive_events(const std::vector<int32_t>& labels, const std::vector<int64_t>& frames,
                                  const std::vector<int64_t>& ids, int64_t min_len) {
  const std::size_t t_count = frames.size(), n = ids.size();
  std::vector<std::pair<std::vector<int64_t>, std::pair<int64_t, int64_t>>> events;
  std::vector<std::vector<int64_t>> runs(1);
  for (std::size_t t = 0; t < t_count; ++t) {
    if (t > 0 && frames[t] - frames[t - 1] > 1) runs.emplace_back();
    runs.back().push_back(static_cast<int64_t>(t));
  }
  for (const auto& run : runs) {
    const int64_t start = frames[static_cast<std::size_t>(run.front())], end = frames[static_cast<std::size_t>(run.back())];
    if (end - start < min_len) continue;
    std::map<std::vector<int64_t>, std::vector<int64_t>> frames_of;  // groupby("members"), sorted
    for (int64_t t : run) {
      std::map<int32_t, std::vector<int64_t>> members;
      for (std::size_t i = 0; i < n; ++i) members[labels[static_cast<std::size_t>(t) * n + i]].push_back(ids[i]);
      for (auto& [label, m] : members) {
        std::sort(m.begin(), m.end());
        frames_of[m].push_back(frames[static_cast<std::size_t>(t)]);
      }
    }
    for (auto& [key, fr] : frames_of) {
      std::sort(fr.begin(), fr.end());
      std::size_t s = 0;
      for (std::size_t k = 1; k <= fr.size(); ++k)
        if (k == fr.size() || fr[k] - fr[k - 1] > 1) {
          if (fr[k - 1] - fr[s] >= min_len) events.push_back({key, {fr[s], fr[k - 1]}});
          s = k;
        }
    }
  }
  std::vector<int64_t> out(t_count * n, -1);
  for (std::size_t e = 0; e < events.size(); ++e) {
    const std::set<int64_t> members(events[e].first.begin(), events[e].first.end());
    for (std::size_t t = 0; t < t_count; ++t)
      for (std::size_t i = 0; i < n; ++i)
        if (frames[t] >= events[e].second.first && frames[t] <= events[e].second.second && members.count(ids[i]))
          out[t * n + i] = static_cast<int64_t>(e);
  }
  return out;
}

TEST(Groups, PairDistancesMatchNumpyFloat32) {
  // np.linalg.norm(pos[:, None] - pos[None, :], axis=-1) on float32 positions (numpy 1.24).
  const std::vector<float> x = {0x1.8p+0f, 0x1.8ccccc0000000p+1f, 0x1.4d55560000000p+8f, kNaNf};
  const std::vector<float> y = {0x1.2p+1f, -0x1.eccccc0000000p+2f, 0x1.c924920000000p+4f, 1.0f};
  std::vector<float> d(pair_count(4));
  pair_distances_f32(x, y, d);
  EXPECT_EQ(d[pair_index(0, 1, 4)], 0x1.427d840000000p+3f);
  EXPECT_EQ(d[pair_index(0, 2, 4)], 0x1.4ce02a0000000p+8f);
  EXPECT_TRUE(std::isnan(d[pair_index(0, 3, 4)]));
  EXPECT_EQ(d[pair_index(1, 2, 4)], 0x1.4c38240000000p+8f);
  EXPECT_TRUE(std::isnan(d[pair_index(1, 3, 4)]));
  EXPECT_TRUE(std::isnan(d[pair_index(2, 3, 4)]));
  EXPECT_EQ(pair_count(0), 0u);
  EXPECT_EQ(pair_count(1), 0u);
  EXPECT_EQ(pair_count(100), 4950u);
}

TEST(Groups, WindowNanMean) {
  const std::vector<float> a = {1.0f, kNaNf, kNaNf, 0.1f}, b = {2.0f, 3.0f, kNaNf, 0.2f}, c = {4.0f, kNaNf, kNaNf, 0.3f};
  const std::vector<const float*> rows = {a.data(), nullptr, b.data(), c.data()};
  std::vector<float> out(4);
  window_nanmean_f32(rows, 4, out);
  EXPECT_EQ(out[0], static_cast<float>(7.0 / 3.0));
  EXPECT_EQ(out[1], 3.0f);
  EXPECT_TRUE(std::isnan(out[2]));
  // float32 sum in window order ((0.1f + 0.2f) + 0.3f), then divided in double.
  const float s = (0.1f + 0.2f) + 0.3f;
  EXPECT_EQ(out[3], static_cast<float>(static_cast<double>(s) / 3.0));
}

TEST(Groups, ComponentsAgainstNumbaPort) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<float> u(0.0f, 100.0f);
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t n = 1 + rng() % (trial < 250 ? 12 : 100);
    std::vector<std::vector<float>> full(n, std::vector<float>(n, kNaNf));
    std::vector<float> tri(pair_count(n));
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i + 1; j < n; ++j) {
        const float v = rng() % 10 == 0 ? kNaNf : u(rng);
        full[i][j] = full[j][i] = v;
        tri[pair_index(i, j, n)] = v;
      }
    const double cutoff = 5.0 + static_cast<double>(rng() % 30);
    std::vector<int32_t> scratch(2 * n), labels(n);
    connected_components(tri, n, cutoff, scratch, labels);
    ASSERT_EQ(labels, naive_components(full, cutoff)) << "trial " << trial << " n=" << n;
  }
}

TEST(Groups, EventsAgainstPythonTransliteration) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    const std::size_t n = 1 + rng() % 6;
    std::vector<int64_t> frames;
    int64_t f = static_cast<int64_t>(rng() % 5);
    const std::size_t t_count = 1 + rng() % 40;
    for (std::size_t t = 0; t < t_count; ++t) {
      frames.push_back(f);
      f += rng() % 8 == 0 ? 2 + static_cast<int64_t>(rng() % 3) : 1;  // occasional gaps
    }
    std::vector<int64_t> ids;
    for (std::size_t i = 0; i < n; ++i) ids.push_back(static_cast<int64_t>(3 * i + rng() % 3));
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    const std::size_t m = ids.size();
    // Labels: random partitions that persist for a while, numbered by first member (like roots).
    std::vector<int32_t> labels(t_count * m);
    std::vector<int32_t> part(m, 0);
    for (std::size_t t = 0; t < t_count; ++t) {
      if (t == 0 || rng() % 4 == 0)
        for (auto& p : part) p = static_cast<int32_t>(rng() % 3);
      std::map<int32_t, int32_t> renum;
      for (std::size_t i = 0; i < m; ++i) {
        auto [it, ins] = renum.emplace(part[i], static_cast<int32_t>(renum.size()));
        labels[t * m + i] = it->second;
      }
    }
    const int64_t min_len = 1 + static_cast<int64_t>(rng() % 3);
    std::vector<int64_t> events(t_count * m);
    label_group_events(labels, frames, ids, min_len, events);
    ASSERT_EQ(events, naive_events(labels, frames, ids, min_len)) << "trial " << trial;
  }
}

TEST(Groups, EventsDegenerate) {
  // One frame: no run spans min_duration >= 1, so no event. One animal alone for 3 frames: one event.
  std::vector<int64_t> ev(1);
  label_group_events(std::vector<int32_t>{0}, std::vector<int64_t>{7}, std::vector<int64_t>{4}, 1, ev);
  EXPECT_EQ(ev[0], -1);
  std::vector<int64_t> ev3(3);
  label_group_events(std::vector<int32_t>{0, 0, 0}, std::vector<int64_t>{1, 2, 3}, std::vector<int64_t>{4}, 1, ev3);
  EXPECT_EQ(ev3, (std::vector<int64_t>{0, 0, 0}));
  std::vector<int64_t> none;
  label_group_events(std::vector<int32_t>{}, std::vector<int64_t>{}, std::vector<int64_t>{}, 1, none);
}

}  // namespace
}  // namespace mosaic::kernels
