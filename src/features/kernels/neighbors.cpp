#include "features/kernels/neighbors.hpp"

#include <cmath>
#include <limits>
#include <nanoflann.hpp>

namespace mosaic::kernels {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Nearest other point of i by brute force: first strict minimum of the sqrt distances in index
// order, NaN skipped. sqrt is monotonic, so a candidate can only win when its squared distance is
// smaller; the sqrt is taken just then, to compare the way numpy does (equal roots tie).
inline int64_t nearest_of(std::span<const double> x, std::span<const double> y, std::size_t i) noexcept {
  const std::size_t n = x.size();
  const double xi = x[i], yi = y[i];
  double best_sq = kInf, best = kInf;
  int64_t arg = -1;
  for (std::size_t j = 0; j < n; ++j) {
    if (j == i) continue;
    const double dx = x[j] - xi, dy = y[j] - yi;
    const double d2 = dx * dx + dy * dy;
    if (arg < 0) {
      // An infinite distance is a candidate too: it is taken when nothing smaller exists.
      if (std::isnan(d2)) continue;
      best_sq = d2;
      best = std::sqrt(d2);
      arg = static_cast<int64_t>(j);
    } else if (d2 < best_sq) {
      const double d = std::sqrt(d2);
      if (d < best) {
        best_sq = d2;
        best = d;
        arg = static_cast<int64_t>(j);
      }
    }
  }
  return arg;
}

}  // namespace

void nearest_neighbors_bruteforce(std::span<const double> x, std::span<const double> y,
                                  std::span<int64_t> nn) noexcept {
  for (std::size_t i = 0; i < x.size(); ++i) nn[i] = nearest_of(x, y, i);
}

// The k-d tree indexes the finite points of a frame. Its points live in `pts` (x0, y0, x1, ...)
// and `ids` maps a tree point back to the frame's row.
struct NearestNeighborSearch::Tree {
  struct Cloud {
    const std::vector<double>* pts = nullptr;
    std::size_t kdtree_get_point_count() const { return pts->size() / 2; }
    double kdtree_get_pt(std::size_t idx, std::size_t dim) const { return (*pts)[2 * idx + dim]; }
    template <class BBox>
    bool kdtree_get_bbox(BBox&) const {
      return false;
    }
  };
  using Index = nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<double, Cloud>, Cloud, 2, std::size_t>;

  // Keeps the best (sqrt distance, row) seen; the tree reports squared distances. The bound it
  // hands back is loosened a little so that points at the same distance (or whose squared
  // distances differ but round to the same sqrt) still reach addPoint, where the exact
  // comparison and the lowest-row tie-break are made.
  struct BestResult {
    const std::vector<int64_t>* rows = nullptr;
    std::size_t self = 0;  // tree index of the query point
    double best_sqrt = kInf;
    double bound_sq = kInf;
    int64_t best_row = -1;
    std::size_t size() const { return best_row < 0 ? 0 : 1; }
    bool full() const { return best_row >= 0; }
    bool addPoint(double dist_sq, std::size_t index) {
      if (index == self) return true;
      const double d = std::sqrt(dist_sq);
      const int64_t row = (*rows)[index];
      if (best_row < 0 || d < best_sqrt || (d == best_sqrt && row < best_row)) {
        best_sqrt = d;
        best_row = row;
        bound_sq = dist_sq * (1.0 + 1e-9) + std::numeric_limits<double>::denorm_min();
      }
      return true;
    }
    double worstDist() const { return bound_sq; }
  };

  std::vector<double> pts;
  std::vector<int64_t> rows;   // tree index -> frame row
  std::vector<int64_t> slot;   // frame row -> tree index (-1 = not finite)
  Cloud cloud;
  Index index;

  Tree()
      : cloud{&pts},
        index(2, cloud, nanoflann::KDTreeSingleIndexAdaptorParams(16, nanoflann::KDTreeSingleIndexAdaptorFlags::SkipInitialBuildIndex)) {}
};

NearestNeighborSearch::NearestNeighborSearch(std::size_t tree_threshold) : tree_threshold_(tree_threshold) {}
NearestNeighborSearch::~NearestNeighborSearch() = default;
NearestNeighborSearch::NearestNeighborSearch(NearestNeighborSearch&&) noexcept = default;
NearestNeighborSearch& NearestNeighborSearch::operator=(NearestNeighborSearch&&) noexcept = default;

void NearestNeighborSearch::search(std::span<const double> x, std::span<const double> y, std::span<int64_t> nn) {
  const std::size_t n = x.size();
  if (n < tree_threshold_) {
    nearest_neighbors_bruteforce(x, y, nn);
    return;
  }
  if (!tree_) tree_ = std::make_unique<Tree>();
  Tree& t = *tree_;
  t.pts.clear();
  t.rows.clear();
  t.slot.assign(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    t.slot[i] = static_cast<int64_t>(t.rows.size());
    t.rows.push_back(static_cast<int64_t>(i));
    t.pts.push_back(x[i]);
    t.pts.push_back(y[i]);
  }
  // With fewer than two finite points every distance involves a non-finite coordinate.
  if (t.rows.size() < 2) {
    nearest_neighbors_bruteforce(x, y, nn);
    return;
  }
  t.index.buildIndex();
  const nanoflann::SearchParams params(32, 0.0f, false);
  for (std::size_t i = 0; i < n; ++i) {
    if (t.slot[i] < 0) {
      // A non-finite focal point: its distances are inf or NaN; the brute force decides.
      nn[i] = nearest_of(x, y, i);
      continue;
    }
    Tree::BestResult res;
    res.rows = &t.rows;
    res.self = static_cast<std::size_t>(t.slot[i]);
    const double q[2] = {x[i], y[i]};
    t.index.findNeighbors(res, q, params);
    // A finite neighbour always beats the infinite distances to non-finite points.
    nn[i] = res.best_row;
  }
}

}  // namespace mosaic::kernels
