// ward.cpp: ports of scipy/cluster/_hierarchy.pyx (nn_chain, label, cluster_maxclust_monocrit,
// cluster_monocrit, get_max_dist_for_each_cluster) and of scikit-learn's float64 euclidean
// distance used by NearestNeighbors' brute-force fallback.
#include "features/kernels/ward.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace mosaic::kernels {
namespace {

// scipy condensed_index (i != j).
inline std::size_t condensed_index(std::size_t n, std::size_t i, std::size_t j) noexcept {
  if (i > j) std::swap(i, j);
  return n * i - (i * (i + 1) / 2) + (j - i - 1);
}

// scipy _hierarchy_distance_update.pxi `_ward`, in its exact operation order.
inline double ward_update(double d_xi, double d_yi, double d_xy, int size_x, int size_y,
                          int size_i) noexcept {
  const double t = 1.0 / (size_x + size_y + size_i);
  return std::sqrt((size_i + size_x) * t * d_xi * d_xi + (size_i + size_y) * t * d_yi * d_yi -
                   size_i * t * d_xy * d_xy);
}

// scipy LinkageUnionFind.
class LinkageUnionFind {
 public:
  explicit LinkageUnionFind(std::size_t n) : parent_(2 * n - 1), size_(2 * n - 1, 1), next_label_(n) {
    std::iota(parent_.begin(), parent_.end(), std::size_t{0});
  }
  std::size_t merge(std::size_t x, std::size_t y) {
    parent_[x] = next_label_;
    parent_[y] = next_label_;
    const std::size_t size = size_[x] + size_[y];
    size_[next_label_] = size;
    ++next_label_;
    return size;
  }
  std::size_t find(std::size_t x) {
    std::size_t p = x;
    while (parent_[x] != x) x = parent_[x];
    while (parent_[p] != x) {
      const std::size_t next = parent_[p];
      parent_[p] = x;
      p = next;
    }
    return x;
  }

 private:
  std::vector<std::size_t> parent_;
  std::vector<std::size_t> size_;
  std::size_t next_label_;
};

inline bool is_visited(const std::vector<uint8_t>& bits, std::size_t i) noexcept {
  return bits[i >> 3] & (1u << (i & 7));
}
inline void set_visited(std::vector<uint8_t>& bits, std::size_t i) noexcept {
  bits[i >> 3] = static_cast<uint8_t>(bits[i >> 3] | (1u << (i & 7)));
}

// get_max_dist_for_each_cluster: md[row] = largest merge distance in the subtree of `row`.
std::vector<double> max_dist_for_each_cluster(std::span<const double> z, std::size_t n) {
  std::vector<double> md(n - 1);
  std::vector<std::size_t> curr(n);
  std::vector<uint8_t> visited(((2 * n - 1) >> 3) + 1, 0);
  std::ptrdiff_t k = 0;
  curr[0] = 2 * n - 2;
  while (k >= 0) {
    const std::size_t root = curr[k] - n;
    const auto lc = static_cast<std::size_t>(z[root * 4]);
    const auto rc = static_cast<std::size_t>(z[root * 4 + 1]);
    if (lc >= n && !is_visited(visited, lc)) {
      set_visited(visited, lc);
      curr[++k] = lc;
      continue;
    }
    if (rc >= n && !is_visited(visited, rc)) {
      set_visited(visited, rc);
      curr[++k] = rc;
      continue;
    }
    double max_dist = z[root * 4 + 2];
    if (lc >= n && md[lc - n] > max_dist) max_dist = md[lc - n];
    if (rc >= n && md[rc - n] > max_dist) max_dist = md[rc - n];
    md[root] = max_dist;
    --k;
  }
  return md;
}

// cluster_monocrit
void cluster_monocrit(std::span<const double> z, const std::vector<double>& mc,
                      std::span<int32_t> t, double cutoff, std::size_t n) {
  int32_t n_cluster = 0;
  std::ptrdiff_t leader = -1;
  std::vector<std::size_t> curr(n);
  std::vector<uint8_t> visited(((2 * n - 1) >> 3) + 1, 0);
  std::ptrdiff_t k = 0;
  curr[0] = 2 * n - 2;
  while (k >= 0) {
    const std::size_t root = curr[k] - n;
    const auto lc = static_cast<std::size_t>(z[root * 4]);
    const auto rc = static_cast<std::size_t>(z[root * 4 + 1]);
    if (leader == -1 && mc[root] <= cutoff) {
      leader = static_cast<std::ptrdiff_t>(root);
      ++n_cluster;
    }
    if (lc >= n && !is_visited(visited, lc)) {
      set_visited(visited, lc);
      curr[++k] = lc;
      continue;
    }
    if (rc >= n && !is_visited(visited, rc)) {
      set_visited(visited, rc);
      curr[++k] = rc;
      continue;
    }
    if (lc < n) {
      if (leader == -1) ++n_cluster;
      t[lc] = n_cluster;
    }
    if (rc < n) {
      if (leader == -1) ++n_cluster;
      t[rc] = n_cluster;
    }
    if (leader == static_cast<std::ptrdiff_t>(root)) leader = -1;
    --k;
  }
}

}  // namespace

void pdist_euclidean(const double* x, std::size_t n, std::size_t dim, std::span<double> out) noexcept {
  std::size_t k = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const double* xi = x + i * dim;
    for (std::size_t j = i + 1; j < n; ++j) {
      const double* xj = x + j * dim;
      double s = 0.0;
      for (std::size_t c = 0; c < dim; ++c) {
        const double diff = std::abs(xj[c] - xi[c]);
        s += diff * diff;
      }
      out[k++] = std::sqrt(s);
    }
  }
}

void ward_linkage(std::span<const double> condensed, std::size_t n, std::span<double> z) noexcept {
  if (n < 2) return;
  std::vector<double> d(condensed.begin(), condensed.end());
  std::vector<int> size(n, 1);
  std::vector<std::size_t> chain(n);
  std::size_t chain_length = 0;
  std::vector<double> raw((n - 1) * 4);

  std::size_t y = 0;
  for (std::size_t k = 0; k + 1 < n; ++k) {
    if (chain_length == 0) {
      chain_length = 1;
      for (std::size_t i = 0; i < n; ++i) {
        if (size[i] > 0) {
          chain[0] = i;
          break;
        }
      }
    }
    std::size_t x = 0;
    double current_min = 0.0;
    // Walk the chain of nearest neighbours until two clusters are mutual nearest neighbours.
    while (true) {
      x = chain[chain_length - 1];
      // Prefer the previous chain element on ties (strict < below), so the walk cannot cycle.
      if (chain_length > 1) {
        y = chain[chain_length - 2];
        current_min = d[condensed_index(n, x, y)];
      } else {
        current_min = std::numeric_limits<double>::infinity();
      }
      for (std::size_t i = 0; i < n; ++i) {
        if (size[i] == 0 || x == i) continue;
        const double dist = d[condensed_index(n, x, i)];
        if (dist < current_min) {
          current_min = dist;
          y = i;
        }
      }
      if (chain_length > 1 && y == chain[chain_length - 2]) break;
      chain[chain_length++] = y;
    }
    chain_length -= 2;
    std::size_t a = x, b = y;
    if (a > b) std::swap(a, b);
    const int nx = size[a];
    const int ny = size[b];
    raw[k * 4 + 0] = static_cast<double>(a);
    raw[k * 4 + 1] = static_cast<double>(b);
    raw[k * 4 + 2] = current_min;
    raw[k * 4 + 3] = nx + ny;
    size[a] = 0;
    size[b] = nx + ny;
    for (std::size_t i = 0; i < n; ++i) {
      const int ni = size[i];
      if (ni == 0 || i == b) continue;
      d[condensed_index(n, i, b)] =
          ward_update(d[condensed_index(n, i, a)], d[condensed_index(n, i, b)], current_min, nx, ny, ni);
    }
  }

  // np.argsort(Z[:, 2], kind="mergesort") is stable.
  std::vector<std::size_t> order(n - 1);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t l, std::size_t r) { return raw[l * 4 + 2] < raw[r * 4 + 2]; });
  // label(): relabel the sorted merges with a union-find over node ids 0 .. 2n-2.
  LinkageUnionFind uf(n);
  for (std::size_t row = 0; row + 1 < n; ++row) {
    const std::size_t src = order[row];
    const std::size_t xr = uf.find(static_cast<std::size_t>(raw[src * 4 + 0]));
    const std::size_t yr = uf.find(static_cast<std::size_t>(raw[src * 4 + 1]));
    z[row * 4 + 0] = static_cast<double>(std::min(xr, yr));
    z[row * 4 + 1] = static_cast<double>(std::max(xr, yr));
    z[row * 4 + 2] = raw[src * 4 + 2];
    z[row * 4 + 3] = static_cast<double>(uf.merge(xr, yr));
  }
}

void fcluster_maxclust(std::span<const double> z, std::size_t n, int max_clusters,
                       std::span<int32_t> labels) noexcept {
  if (n == 0) return;
  max_clusters = std::max(max_clusters, 1);  // scipy reads past MC for t < 1; callers validate t >= 1
  if (max_clusters >= static_cast<int64_t>(n) || n == 1) {
    for (std::size_t i = 0; i < n; ++i) labels[i] = static_cast<int32_t>(i + 1);
    return;
  }
  const std::vector<double> mc = max_dist_for_each_cluster(z, n);
  std::vector<std::size_t> curr(n);
  std::vector<uint8_t> visited(((2 * n - 1) >> 3) + 1);
  const auto max_nc = static_cast<int64_t>(max_clusters);
  // Binary search over rows; lower = -1 stands for "-inf" and is never evaluated.
  std::ptrdiff_t lower = -1;
  auto upper = static_cast<std::ptrdiff_t>(n - 1);
  while (upper - lower > 1) {
    const std::ptrdiff_t i = (lower + upper) >> 1;
    const double thresh = mc[static_cast<std::size_t>(i)];
    std::fill(visited.begin(), visited.end(), 0);
    int64_t nc = 0;
    std::ptrdiff_t k = 0;
    curr[0] = 2 * n - 2;
    while (k >= 0) {
      const std::size_t root = curr[k] - n;
      const auto lc = static_cast<std::size_t>(z[root * 4]);
      const auto rc = static_cast<std::size_t>(z[root * 4 + 1]);
      if (mc[root] <= thresh) {  // this subtree forms one cluster
        if (++nc > max_nc) break;
        --k;
        set_visited(visited, lc);
        set_visited(visited, rc);
        continue;
      }
      if (!is_visited(visited, lc)) {
        set_visited(visited, lc);
        if (lc >= n) {
          curr[++k] = lc;
          continue;
        }
        if (++nc > max_nc) break;  // singleton
      }
      if (!is_visited(visited, rc)) {
        set_visited(visited, rc);
        if (rc >= n) {
          curr[++k] = rc;
          continue;
        }
        if (++nc > max_nc) break;  // singleton
      }
      --k;
    }
    if (nc > max_nc) {
      lower = i;
    } else {
      upper = i;
    }
  }
  cluster_monocrit(z, mc, labels, mc[static_cast<std::size_t>(upper)], n);
}

ClusterCentroids cluster_centroids(const double* x, std::size_t n, std::size_t dim,
                                   std::span<const int32_t> labels) {
  ClusterCentroids out;
  out.ids.assign(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(n));
  std::sort(out.ids.begin(), out.ids.end());
  out.ids.erase(std::unique(out.ids.begin(), out.ids.end()), out.ids.end());
  out.centroids.assign(out.ids.size() * dim, 0.0);
  std::vector<int64_t> counts(out.ids.size(), 0);
  for (std::size_t row = 0; row < n; ++row) {
    const auto c = static_cast<std::size_t>(
        std::lower_bound(out.ids.begin(), out.ids.end(), labels[row]) - out.ids.begin());
    ++counts[c];
    for (std::size_t col = 0; col < dim; ++col) out.centroids[c * dim + col] += x[row * dim + col];
  }
  for (std::size_t c = 0; c < out.ids.size(); ++c)
    for (std::size_t col = 0; col < dim; ++col)
      out.centroids[c * dim + col] /= static_cast<double>(counts[c]);
  return out;
}

void assign_nearest_centroid(const double* queries, std::size_t m, std::size_t dim,
                             const double* centroids, std::size_t k,
                             std::span<int64_t> nearest) noexcept {
  // |c|^2 once per centroid (row_norms), then per query the expanded distance.
  std::vector<double> c_sq(k);
  for (std::size_t c = 0; c < k; ++c) {
    double s = 0.0;
    for (std::size_t col = 0; col < dim; ++col) s += centroids[c * dim + col] * centroids[c * dim + col];
    c_sq[c] = s;
  }
  for (std::size_t row = 0; row < m; ++row) {
    const double* q = queries + row * dim;
    double q_sq = 0.0;
    for (std::size_t col = 0; col < dim; ++col) q_sq += q[col] * q[col];
    int64_t best = 0;
    double best_d = 0.0;
    for (std::size_t c = 0; c < k; ++c) {
      double dot = 0.0;
      for (std::size_t col = 0; col < dim; ++col) dot += q[col] * centroids[c * dim + col];
      double d2 = -2.0 * dot;
      d2 += q_sq;
      d2 += c_sq[c];
      if (d2 < 0.0) d2 = 0.0;
      if (c == 0 || d2 < best_d) {  // first minimum wins, as argpartition(kth=0)
        best_d = d2;
        best = static_cast<int64_t>(c);
      }
    }
    nearest[row] = best;
  }
}

}  // namespace mosaic::kernels
