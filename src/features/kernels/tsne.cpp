#include "features/kernels/tsne.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <nanoflann.hpp>
#include <numeric>
#include <thread>

#include "features/kernels/random.hpp"

namespace mosaic::kernels {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// numpy's sign: -1, 0 or +1 (the optimiser compares signs, and sign(0) is 0).
inline int sign_of(double v) noexcept { return (v > 0) - (v < 0); }

// Run fn(begin, end) over [0, n) in at most two fixed blocks. Each point's result is computed on
// its own and reductions happen afterwards in point order, so the output does not depend on how
// many threads ran.
template <class Fn>
void for_blocks(std::size_t n, Fn&& fn) {
  const std::size_t threads = std::min<std::size_t>(2, std::max(1u, std::thread::hardware_concurrency()));
  if (threads < 2 || n < 2048) {
    fn(std::size_t{0}, n);
    return;
  }
  const std::size_t half = n / 2;
  std::thread other([&] { fn(half, n); });
  fn(std::size_t{0}, half);
  other.join();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Exact kNN on a k-d tree.

struct KnnIndex::Tree {
  struct Cloud {
    const std::vector<double>* pts = nullptr;
    std::size_t dim = 0;
    std::size_t kdtree_get_point_count() const { return pts->size() / dim; }
    double kdtree_get_pt(std::size_t idx, std::size_t d) const { return (*pts)[idx * dim + d]; }
    template <class BBox>
    bool kdtree_get_bbox(BBox&) const {
      return false;
    }
  };
  using Index = nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<double, Cloud>, Cloud, -1, std::size_t>;

  Tree(const double* data, std::size_t n, std::size_t dim)
      : pts(data, data + n * dim),
        cloud{&pts, dim},
        index(static_cast<int>(dim), cloud, nanoflann::KDTreeSingleIndexAdaptorParams(16)) {}

  std::vector<double> pts;
  Cloud cloud;
  Index index;
};

KnnIndex::KnnIndex(const double* data, std::size_t n, std::size_t dim)
    : tree_(std::make_unique<Tree>(data, n, dim)), n_(n), dim_(dim) {}
KnnIndex::~KnnIndex() = default;
KnnIndex::KnnIndex(KnnIndex&&) noexcept = default;
KnnIndex& KnnIndex::operator=(KnnIndex&&) noexcept = default;

void KnnIndex::query(const double* q, std::size_t k, std::span<int64_t> indices, std::span<double> sq_dist,
                     std::size_t skip) const {
  // One extra candidate covers the skipped point; another one lets a tie at the boundary be
  // broken by the lower row index after sorting.
  const std::size_t want = std::min(n_, k + (skip < n_ ? 1 : 0) + 1);
  // Per-thread scratch: no allocation per query once the buffers have grown.
  thread_local std::vector<std::size_t> idx, order;
  thread_local std::vector<double> dist;
  idx.resize(want);
  dist.resize(want);
  nanoflann::KNNResultSet<double, std::size_t, std::size_t> rs(want);
  rs.init(idx.data(), dist.data());
  tree_->index.findNeighbors(rs, q, nanoflann::SearchParams(32, 0.0f, true));
  const std::size_t got = rs.size();
  order.clear();
  for (std::size_t i = 0; i < got; ++i)
    if (idx[i] != skip) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return dist[a] < dist[b] || (dist[a] == dist[b] && idx[a] < idx[b]);
  });
  for (std::size_t i = 0; i < k; ++i) {
    if (i < order.size()) {
      indices[i] = static_cast<int64_t>(idx[order[i]]);
      sq_dist[i] = dist[order[i]];
    } else {
      indices[i] = -1;
      sq_dist[i] = kInf;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Affinities.

void tsne_effective_k(std::size_t n, double perplexity, std::size_t& k, double& effective_perplexity) noexcept {
  const auto three_p = static_cast<std::size_t>(3.0 * perplexity);
  k = n > 0 ? std::min(n - 1, three_p) : 0;
  effective_perplexity = perplexity;
  if (k > 0 && 3.0 * perplexity > static_cast<double>(k)) effective_perplexity = static_cast<double>(k) / 3.0;
}

void tsne_conditional_p(std::span<const double> sq_dist, std::size_t rows, std::size_t k, double perplexity,
                        std::span<double> p) noexcept {
  const double desired = std::log(perplexity);
  for (std::size_t r = 0; r < rows; ++r) {
    const double* d = sq_dist.data() + r * k;
    double* pr = p.data() + r * k;
    // Distances relative to the nearest one: the normalised row is unchanged and exp() cannot
    // underflow to an all-zero row for far-away points.
    double dmin = kInf;
    for (std::size_t j = 0; j < k; ++j)
      if (std::isfinite(d[j])) dmin = std::min(dmin, d[j]);
    if (!std::isfinite(dmin)) {
      for (std::size_t j = 0; j < k; ++j) pr[j] = 0.0;
      continue;
    }
    double beta = 1.0, lo = -kInf, hi = kInf;
    for (int it = 0; it < 200; ++it) {
      double sum = 0.0, wsum = 0.0;
      for (std::size_t j = 0; j < k; ++j) {
        const double dj = std::isfinite(d[j]) ? d[j] - dmin : kInf;
        pr[j] = std::exp(-dj * beta);
        sum += pr[j];
        if (pr[j] > 0) wsum += dj * pr[j];
      }
      const double entropy = std::log(sum) + beta * wsum / sum;
      for (std::size_t j = 0; j < k; ++j) pr[j] /= sum;
      const double diff = entropy - desired;
      if (std::fabs(diff) < 1e-8) break;
      if (diff > 0) {
        lo = beta;
        beta = std::isinf(hi) ? beta * 2.0 : (beta + hi) / 2.0;
      } else {
        hi = beta;
        beta = std::isinf(lo) ? beta / 2.0 : (beta + lo) / 2.0;
      }
    }
  }
}

TsneAffinities tsne_affinities(const double* x, std::size_t n, std::size_t dim, double perplexity) {
  TsneAffinities out;
  out.n = n;
  tsne_effective_k(n, perplexity, out.k, out.perplexity);
  const std::size_t k = out.k;
  std::vector<int64_t> nn(n * k);
  std::vector<double> d2(n * k);
  {
    KnnIndex index(x, n, dim);
    for_blocks(n, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i)
        index.query(x + i * dim, k, std::span(nn).subspan(i * k, k), std::span(d2).subspan(i * k, k), i);
    });
  }
  std::vector<double> pc(n * k);
  tsne_conditional_p(d2, n, k, out.perplexity, pc);
  // (P + P^T) / 2: each conditional entry contributes half to (i, j) and half to (j, i). Rows
  // are filled by counting, then sorted by column and duplicates merged in place.
  std::vector<int64_t> count(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      ++count[i + 1];
      ++count[static_cast<std::size_t>(nn[i * k + j]) + 1];
    }
  std::partial_sum(count.begin(), count.end(), count.begin());
  std::vector<int64_t> fill(count.begin(), count.end() - 1);
  std::vector<std::pair<int64_t, double>> entries(static_cast<std::size_t>(count[n]));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      const auto c = static_cast<std::size_t>(nn[i * k + j]);
      const double half = pc[i * k + j] / 2.0;
      entries[static_cast<std::size_t>(fill[i]++)] = {static_cast<int64_t>(c), half};
      entries[static_cast<std::size_t>(fill[c]++)] = {static_cast<int64_t>(i), half};
    }
  out.indptr.assign(n + 1, 0);
  out.indices.reserve(entries.size());
  out.values.reserve(entries.size());
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    auto first = entries.begin() + count[i], last = entries.begin() + count[i + 1];
    std::sort(first, last, [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto it = first; it != last; ++it) {
      if (!out.indices.empty() && static_cast<int64_t>(out.indices.size()) > out.indptr[i] &&
          out.indices.back() == it->first) {
        out.values.back() += it->second;
      } else {
        out.indices.push_back(it->first);
        out.values.push_back(it->second);
      }
    }
    out.indptr[i + 1] = static_cast<int64_t>(out.indices.size());
  }
  for (double v : out.values) total += v;
  if (total > 0)
    for (double& v : out.values) v /= total;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Initialisation.

std::vector<double> tsne_pca_init(const double* x, std::size_t n, std::size_t dim, uint32_t seed) {
  using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const Mat> X(x, static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim));
  const Eigen::RowVectorXd mean = X.colwise().mean();
  const Mat xc = X.rowwise() - mean;
  const Eigen::MatrixXd cov = xc.transpose() * xc;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
  Eigen::MatrixXd comps = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(dim), 2);
  for (int c = 0; c < 2 && c < static_cast<int>(dim); ++c) {
    // Eigenvalues come in ascending order: the last columns are the leading components.
    Eigen::VectorXd v = eig.eigenvectors().col(static_cast<Eigen::Index>(dim) - 1 - c);
    Eigen::Index arg = 0;
    v.cwiseAbs().maxCoeff(&arg);
    if (v(arg) < 0) v = -v;
    comps.col(c) = v;
  }
  const Eigen::MatrixXd scores = xc * comps;
  std::vector<double> y(2 * n);
  double m0 = 0.0;
  for (std::size_t i = 0; i < n; ++i) m0 += scores(static_cast<Eigen::Index>(i), 0);
  m0 /= static_cast<double>(n);
  double var0 = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = scores(static_cast<Eigen::Index>(i), 0) - m0;
    var0 += d * d;
  }
  const double sd0 = std::sqrt(var0 / static_cast<double>(n));
  const double scale = sd0 > 0 ? 1e-4 / sd0 : 0.0;
  Mt19937RandomState rs(seed);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t c = 0; c < 2; ++c)
      y[2 * i + c] = scores(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(c)) * scale;
  // Jitter of 1% of column 0's standard deviation (1e-4), drawn in C order as normal(size=(n, 2)).
  for (std::size_t i = 0; i < 2 * n; ++i) y[i] += rs.normal(0.0, 1e-6);
  return y;
}

// ---------------------------------------------------------------------------------------------
// Barnes-Hut quadtree.

struct TsneQuadTree {
  struct Node {
    double cx = 0, cy = 0, hw = 0;  // cell centre and half width
    double mx = 0, my = 0;          // centre of mass
    int64_t count = 0;
    int64_t child = -1;             // index of the first of 4 children, -1 for a leaf
    int64_t begin = 0, end = 0;     // leaf points: order[begin..end)
  };
  std::vector<Node> nodes;
  std::vector<int64_t> order;
  const double* pts = nullptr;

  void build(const double* p, std::size_t n) {
    pts = p;
    nodes.clear();
    order.resize(n);
    std::iota(order.begin(), order.end(), 0);
    if (n == 0) return;
    double x0 = kInf, x1 = -kInf, y0 = kInf, y1 = -kInf;
    for (std::size_t i = 0; i < n; ++i) {
      x0 = std::min(x0, p[2 * i]);
      x1 = std::max(x1, p[2 * i]);
      y0 = std::min(y0, p[2 * i + 1]);
      y1 = std::max(y1, p[2 * i + 1]);
    }
    const double hw = std::max({(x1 - x0) / 2.0, (y1 - y0) / 2.0, 1e-12}) * (1.0 + 1e-9);
    nodes.reserve(2 * n + 4);
    nodes.push_back(Node{(x0 + x1) / 2.0, (y0 + y1) / 2.0, hw});
    split(0, 0, static_cast<int64_t>(n), 0);
  }

  void split(std::size_t node, int64_t begin, int64_t end, int depth) {
    double mx = 0, my = 0;
    for (int64_t i = begin; i < end; ++i) {
      mx += pts[2 * order[static_cast<std::size_t>(i)]];
      my += pts[2 * order[static_cast<std::size_t>(i)] + 1];
    }
    const int64_t cnt = end - begin;
    nodes[node].count = cnt;
    nodes[node].mx = mx / static_cast<double>(cnt);
    nodes[node].my = my / static_cast<double>(cnt);
    nodes[node].begin = begin;
    nodes[node].end = end;
    // Leaves hold one point, or several that coincide (depth limit).
    if (cnt <= 1 || depth >= 40) return;
    const double cx = nodes[node].cx, cy = nodes[node].cy, hw = nodes[node].hw / 2.0;
    auto first = order.begin() + begin, last = order.begin() + end;
    auto mid_y = std::partition(first, last, [&](int64_t i) { return pts[2 * i + 1] < cy; });
    auto mid_x0 = std::partition(first, mid_y, [&](int64_t i) { return pts[2 * i] < cx; });
    auto mid_x1 = std::partition(mid_y, last, [&](int64_t i) { return pts[2 * i] < cx; });
    const int64_t bounds[5] = {begin, mid_x0 - order.begin(), mid_y - order.begin(), mid_x1 - order.begin(), end};
    const auto child = static_cast<int64_t>(nodes.size());
    nodes[node].child = child;
    const double ox[4] = {-hw, hw, -hw, hw}, oy[4] = {-hw, -hw, hw, hw};
    for (int q = 0; q < 4; ++q) nodes.push_back(Node{cx + ox[q], cy + oy[q], hw});
    for (int q = 0; q < 4; ++q)
      if (bounds[q + 1] > bounds[q]) split(static_cast<std::size_t>(child + q), bounds[q], bounds[q + 1], depth + 1);
  }

  // Sum of q = 1/(1+d^2) and of q^2 (p - y_j) over all points but `skip`.
  double repulsion(double px, double py, double theta, double f[2], int64_t skip) const noexcept {
    if (nodes.empty()) return 0.0;
    double z = 0.0, fx = 0.0, fy = 0.0;
    const double theta2 = theta * theta;
    int64_t stack[256];
    int top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const Node& nd = nodes[static_cast<std::size_t>(stack[--top])];
      if (nd.count == 0) continue;
      if (nd.child < 0) {
        for (int64_t i = nd.begin; i < nd.end; ++i) {
          const int64_t j = order[static_cast<std::size_t>(i)];
          if (j == skip) continue;
          const double dx = px - pts[2 * j], dy = py - pts[2 * j + 1];
          const double q = 1.0 / (1.0 + dx * dx + dy * dy);
          z += q;
          fx += q * q * dx;
          fy += q * q * dy;
        }
        continue;
      }
      const double dx = px - nd.mx, dy = py - nd.my;
      const double d2 = dx * dx + dy * dy;
      const double width = 2.0 * nd.hw;
      if (width * width < theta2 * d2) {
        const double q = 1.0 / (1.0 + d2);
        const auto c = static_cast<double>(nd.count);
        z += c * q;
        fx += c * q * q * dx;
        fy += c * q * q * dy;
        continue;
      }
      for (int q = 3; q >= 0; --q) stack[top++] = nd.child + q;
    }
    f[0] += fx;
    f[1] += fy;
    return z;
  }
};

TsneReference::TsneReference(std::vector<double> y) : y_(std::move(y)), tree_(std::make_unique<TsneQuadTree>()) {
  tree_->build(y_.data(), y_.size() / 2);
}
TsneReference::~TsneReference() = default;
TsneReference::TsneReference(TsneReference&&) noexcept = default;
TsneReference& TsneReference::operator=(TsneReference&&) noexcept = default;

double TsneReference::repulsion(double px, double py, double theta, double f[2]) const noexcept {
  return tree_->repulsion(px, py, theta, f, -1);
}

// ---------------------------------------------------------------------------------------------
// Optimisation.

namespace {

// One gradient-descent step of openTSNE's optimiser on a block of points.
void descend(std::span<const double> grad, std::span<double> y, std::span<double> gains, std::span<double> update,
             double momentum, double learning_rate, double min_gain, double max_step_norm) noexcept {
  const std::size_t n = y.size() / 2;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t c = 0; c < 2; ++c) {
      const std::size_t a = 2 * i + c;
      if (sign_of(update[a]) != sign_of(grad[a])) gains[a] += 0.2;
      else gains[a] *= 0.8;
      gains[a] = std::max(gains[a], min_gain);
      update[a] = momentum * update[a] - learning_rate * gains[a] * grad[a];
    }
    const double norm = std::hypot(update[2 * i], update[2 * i + 1]);
    if (norm > max_step_norm) {
      update[2 * i] *= max_step_norm / norm;
      update[2 * i + 1] *= max_step_norm / norm;
    }
    y[2 * i] += update[2 * i];
    y[2 * i + 1] += update[2 * i + 1];
  }
}

}  // namespace

void tsne_optimize(const TsneAffinities& p, std::vector<double>& y, const TsnePhase& phase, TsneGradientState& state) {
  const std::size_t n = p.n;
  std::vector<double> grad(2 * n), rep(2 * n), zi(n);
  TsneQuadTree tree;
  for (int it = 0; it < phase.iters; ++it) {
    tree.build(y.data(), n);
    for_blocks(n, [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) {
        const double yx = y[2 * i], yy = y[2 * i + 1];
        double ax = 0.0, ay = 0.0;
        for (int64_t t = p.indptr[i]; t < p.indptr[i + 1]; ++t) {
          const auto j = static_cast<std::size_t>(p.indices[static_cast<std::size_t>(t)]);
          const double dx = yx - y[2 * j], dy = yy - y[2 * j + 1];
          const double w = p.values[static_cast<std::size_t>(t)] / (1.0 + dx * dx + dy * dy);
          ax += w * dx;
          ay += w * dy;
        }
        grad[2 * i] = phase.exaggeration * ax;
        grad[2 * i + 1] = phase.exaggeration * ay;
        double f[2] = {0.0, 0.0};
        zi[i] = tree.repulsion(yx, yy, phase.theta, f, static_cast<int64_t>(i));
        rep[2 * i] = f[0];
        rep[2 * i + 1] = f[1];
      }
    });
    double z = 0.0;
    for (std::size_t i = 0; i < n; ++i) z += zi[i];
    if (z <= 0) z = std::numeric_limits<double>::min();
    for (std::size_t a = 0; a < 2 * n; ++a) grad[a] -= rep[a] / z;
    descend(grad, y, state.gains, state.update, phase.momentum, phase.learning_rate, phase.min_gain,
            phase.max_step_norm);
    double mx = 0.0, my = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      mx += y[2 * i];
      my += y[2 * i + 1];
    }
    mx /= static_cast<double>(n);
    my /= static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i) {
      y[2 * i] -= mx;
      y[2 * i + 1] -= my;
    }
  }
}

void tsne_map_point(const TsneReference& ref, std::span<const int64_t> neighbors, std::span<const double> p,
                    const TsneMapOptions& o, double out[2]) noexcept {
  const std::vector<double>& ry = ref.coordinates();
  // Coordinate-wise median of the nearest init_k templates (numpy median: mean of the two
  // middle values for an even count).
  const std::size_t m = std::min<std::size_t>(static_cast<std::size_t>(std::max(o.init_k, 1)), neighbors.size());
  double y[2] = {0.0, 0.0};
  if (m > 0) {
    double buf[64];
    std::vector<double> big;
    double* v = buf;
    if (m > 64) {
      big.resize(m);
      v = big.data();
    }
    for (std::size_t c = 0; c < 2; ++c) {
      for (std::size_t j = 0; j < m; ++j) v[j] = ry[2 * static_cast<std::size_t>(neighbors[j]) + c];
      std::sort(v, v + m);
      y[c] = m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2.0;
    }
  }
  double gains[2] = {1.0, 1.0}, update[2] = {0.0, 0.0}, grad[2];
  for (int it = 0; it < o.iters; ++it) {
    double ax = 0.0, ay = 0.0;
    for (std::size_t j = 0; j < neighbors.size(); ++j) {
      const auto r = static_cast<std::size_t>(neighbors[j]);
      const double dx = y[0] - ry[2 * r], dy = y[1] - ry[2 * r + 1];
      const double w = p[j] / (1.0 + dx * dx + dy * dy);
      ax += w * dx;
      ay += w * dy;
    }
    double f[2] = {0.0, 0.0};
    double z = ref.repulsion(y[0], y[1], o.theta, f);
    if (z <= 0) z = std::numeric_limits<double>::min();
    grad[0] = o.exaggeration * ax - f[0] / z;
    grad[1] = o.exaggeration * ay - f[1] / z;
    descend(std::span<const double>(grad, 2), std::span<double>(y, 2), std::span<double>(gains, 2),
            std::span<double>(update, 2), o.momentum, o.learning_rate, o.min_gain, o.max_step_norm);
  }
  out[0] = y[0];
  out[1] = y[1];
}

void tsne_transform(const TsneReference& ref, const KnnIndex& index, const double* x, std::size_t n,
                    std::size_t k_aff, double perplexity, const TsneMapOptions& options, double* out) {
  const std::size_t dim = index.dim();
  k_aff = std::min(k_aff, index.size());
  for_blocks(n, [&](std::size_t b, std::size_t e) {
    std::vector<int64_t> nn(k_aff);
    std::vector<double> d2(k_aff), p(k_aff);
    for (std::size_t i = b; i < e; ++i) {
      const double* row = x + i * dim;
      bool finite = true;
      for (std::size_t c = 0; c < dim; ++c) finite = finite && std::isfinite(row[c]);
      if (!finite || k_aff == 0) {
        out[2 * i] = out[2 * i + 1] = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      index.query(row, k_aff, nn, d2);
      tsne_conditional_p(d2, 1, k_aff, perplexity, p);
      tsne_map_point(ref, nn, p, options, out + 2 * i);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Trustworthiness.

double trustworthiness(const double* x, std::size_t n, std::size_t dx, const double* y, std::size_t dy,
                       std::size_t k) noexcept {
  if (n < 2 || k == 0) return 1.0;
  std::vector<double> rx(n), ry(n);
  std::vector<std::size_t> cand(n);
  double penalty = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double sx = 0.0, sy = 0.0;
      for (std::size_t c = 0; c < dx; ++c) {
        const double d = x[i * dx + c] - x[j * dx + c];
        sx += d * d;
      }
      for (std::size_t c = 0; c < dy; ++c) {
        const double d = y[i * dy + c] - y[j * dy + c];
        sy += d * d;
      }
      rx[j] = sx;
      ry[j] = sy;
    }
    // The k nearest in the embedding, self excluded, ties by row.
    std::size_t m = 0;
    for (std::size_t j = 0; j < n; ++j)
      if (j != i) cand[m++] = j;
    const std::size_t kk = std::min(k, m);
    auto less_y = [&](std::size_t a, std::size_t b) { return ry[a] < ry[b] || (ry[a] == ry[b] && a < b); };
    std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(kk), cand.begin() + static_cast<std::ptrdiff_t>(m),
                      less_y);
    for (std::size_t t = 0; t < kk; ++t) {
      const std::size_t j = cand[t];
      // 1-based rank of j among i's neighbours in the input space (stable argsort order).
      std::size_t rank = 1;
      for (std::size_t l = 0; l < n; ++l) {
        if (l == i || l == j) continue;
        if (rx[l] < rx[j] || (rx[l] == rx[j] && l < j)) ++rank;
      }
      if (rank > k) penalty += static_cast<double>(rank - k);
    }
  }
  const double nd = static_cast<double>(n), kd = static_cast<double>(k);
  return 1.0 - penalty * (2.0 / (nd * kd * (2.0 * nd - 3.0 * kd - 1.0)));
}

}  // namespace mosaic::kernels
