// Mini-batch k-means (see minibatch_kmeans.hpp). Distances to centres use the expansion
// |x|^2 - 2 x.c + |c|^2 so that a mini-batch's assignment is one matrix product (Eigen GEMM);
// rounding can make a tiny distance negative, so distances are clipped at zero.
#include "media/minibatch_kmeans.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <set>

#include "features/kernels/random.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::media {

double squared_distance(const float* a, const float* b, Eigen::Index d) noexcept {
  double s = 0;
  for (Eigen::Index j = 0; j < d; ++j) {
    const double t = static_cast<double>(a[j]) - static_cast<double>(b[j]);
    s += t * t;
  }
  return s;
}

namespace {

// Nearest centre of each row of `x` and its squared distance; returns the summed distance.
double assign(const RowMatrixXf& x, const RowMatrixXf& centers, std::vector<int>& labels, std::vector<float>& dist) {
  const Eigen::Index n = x.rows(), k = centers.rows();
  labels.resize(static_cast<std::size_t>(n));
  dist.resize(static_cast<std::size_t>(n));
  const Eigen::VectorXf center_norms = centers.rowwise().squaredNorm();
  double total = 0;
  // Blocks of rows keep the n x k product small whatever n is.
  constexpr Eigen::Index kBlock = 2048;
  Eigen::MatrixXf dots;
  for (Eigen::Index start = 0; start < n; start += kBlock) {
    const Eigen::Index rows = std::min(kBlock, n - start);
    dots.noalias() = x.middleRows(start, rows) * centers.transpose();
    for (Eigen::Index i = 0; i < rows; ++i) {
      int best = 0;
      float best_value = std::numeric_limits<float>::infinity();
      for (Eigen::Index c = 0; c < k; ++c) {
        const float v = center_norms[c] - 2.0f * dots(i, c);
        if (v < best_value) {
          best_value = v;
          best = static_cast<int>(c);
        }
      }
      const float d = std::max(0.0f, x.row(start + i).squaredNorm() + best_value);
      labels[static_cast<std::size_t>(start + i)] = best;
      dist[static_cast<std::size_t>(start + i)] = d;
      total += d;
    }
  }
  return total;
}

RowMatrixXf gather_rows(const RowMatrixXf& x, const std::vector<int64_t>& rows) {
  RowMatrixXf out(static_cast<Eigen::Index>(rows.size()), x.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Eigen::Index>(i)) = x.row(rows[i]);
  return out;
}

using RandomState = kernels::Mt19937RandomState;

// random_state.randint(0, n, count)
std::vector<int64_t> random_indices(RandomState& rng, int64_t n, int64_t count) {
  std::vector<int64_t> out(static_cast<std::size_t>(count));
  for (auto& v : out) v = rng.randint(0, n);
  return out;
}

// Unit sample weights normalised as scikit-learn passes them to choice(): float32 1/n, widened.
std::vector<double> uniform_p(int64_t n) {
  return std::vector<double>(static_cast<std::size_t>(n), static_cast<double>(1.0f / static_cast<float>(n)));
}

// Legacy RandomState.choice(n, size, replace=False, p): rounds of `size - found` uniforms looked
// up in the cdf of the not-yet-chosen items, keeping the new unique picks in draw order.
std::vector<int64_t> choice_without_replacement(RandomState& rng, std::vector<double> p, int64_t size) {
  std::vector<int64_t> found;
  std::vector<double> cdf(p.size());
  while (static_cast<int64_t>(found.size()) < size) {
    std::vector<double> u(static_cast<std::size_t>(size) - found.size());
    for (double& v : u) v = rng.random_sample();
    for (int64_t f : found) p[static_cast<std::size_t>(f)] = 0;
    std::partial_sum(p.begin(), p.end(), cdf.begin());
    const double total = cdf.back();
    for (double& c : cdf) c /= total;
    std::vector<int64_t> picks;
    for (double v : u)
      picks.push_back(std::upper_bound(cdf.begin(), cdf.end(), v) - cdf.begin());
    // np.unique(return_index=True) then sorted indices: first occurrences, in draw order.
    std::set<int64_t> seen;
    for (int64_t pick : picks)
      if (seen.insert(pick).second) found.push_back(pick);
  }
  return found;
}

// Greedy k-means++ (scikit-learn's _kmeans_plusplus with unit weights). Each round's trial
// candidates are compared with every row in one matrix product (one pass over x per round,
// instead of one per candidate: the seeding is memory-bound).
RowMatrixXf kmeans_plusplus(const RowMatrixXf& x, int k, RandomState& rng) {
  const Eigen::Index n = x.rows();
  RowMatrixXf centers(k, x.cols());
  const Eigen::VectorXf norms = x.rowwise().squaredNorm();
  const int local_trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  auto sq_dist = [&](Eigen::Index i, Eigen::Index point, float dot) {
    const double d = static_cast<double>(norms[i]) + static_cast<double>(norms[point]) - 2.0 * static_cast<double>(dot);
    return i == point ? 0.0 : std::max(0.0, d);
  };
  const Eigen::Index first = rng.choice(uniform_p(n));
  centers.row(0) = x.row(first);
  std::vector<double> closest(static_cast<std::size_t>(n));
  {
    const Eigen::VectorXf dots = x * x.row(first).transpose();
    for (Eigen::Index i = 0; i < n; ++i) closest[static_cast<std::size_t>(i)] = sq_dist(i, first, dots[i]);
  }
  double potential = std::accumulate(closest.begin(), closest.end(), 0.0);
  std::vector<double> cumulative(static_cast<std::size_t>(n));
  std::vector<Eigen::Index> candidates(static_cast<std::size_t>(local_trials));
  RowMatrixXf candidate_rows(local_trials, x.cols());
  Eigen::MatrixXf dots;
  std::vector<double> best_dist(static_cast<std::size_t>(n));
  for (int c = 1; c < k; ++c) {
    std::partial_sum(closest.begin(), closest.end(), cumulative.begin());
    for (int t = 0; t < local_trials; ++t) {
      const double r = rng.random_sample() * potential;
      auto it = std::lower_bound(cumulative.begin(), cumulative.end(), r);
      candidates[static_cast<std::size_t>(t)] = std::min<Eigen::Index>(it - cumulative.begin(), n - 1);
      candidate_rows.row(t) = x.row(candidates[static_cast<std::size_t>(t)]);
    }
    dots.noalias() = x * candidate_rows.transpose();  // n x trials
    double best_potential = std::numeric_limits<double>::infinity();
    int best = 0;
    for (int t = 0; t < local_trials; ++t) {
      double pot = 0;
      for (Eigen::Index i = 0; i < n; ++i)
        pot += std::min(closest[static_cast<std::size_t>(i)], sq_dist(i, candidates[static_cast<std::size_t>(t)], dots(i, t)));
      if (pot < best_potential) {  // strict: the first of equal trials wins, as np.argmin
        best_potential = pot;
        best = t;
      }
    }
    const Eigen::Index chosen = candidates[static_cast<std::size_t>(best)];
    for (Eigen::Index i = 0; i < n; ++i)
      closest[static_cast<std::size_t>(i)] = std::min(closest[static_cast<std::size_t>(i)], sq_dist(i, chosen, dots(i, best)));
    potential = best_potential;
    centers.row(c) = x.row(chosen);
  }
  return centers;
}

}  // namespace

KMeansFit minibatch_kmeans(const RowMatrixXf& x, const MiniBatchKMeansOptions& options) {
  const int64_t n = x.rows();
  const int k = options.n_clusters;
  if (k < 1 || n < k)
    throw InputError(fmt::format("minibatch_kmeans: need 1 <= n_clusters <= samples (got {} clusters, {} samples)",
                                 k, n));
  const int64_t batch = std::max<int64_t>(1, std::min<int64_t>(options.batch_size, n));
  int64_t init_size = options.init_size > 0 ? options.init_size : 3 * batch;
  if (init_size < k) init_size = 3LL * k;
  init_size = std::min(init_size, n);
  RandomState rng(options.seed);

  // Seeding: the best of n_init k-means++ runs, judged on a random validation subset.
  const RowMatrixXf x_valid = gather_rows(x, random_indices(rng, n, init_size));
  RowMatrixXf centers;
  double best_inertia = std::numeric_limits<double>::infinity();
  std::vector<int> labels;
  std::vector<float> dist;
  for (int run = 0; run < std::max(1, options.n_init); ++run) {
    RowMatrixXf seeded = init_size < n ? kmeans_plusplus(gather_rows(x, random_indices(rng, n, init_size)), k, rng)
                                       : kmeans_plusplus(x, k, rng);
    const double inertia = assign(x_valid, seeded, labels, dist);
    if (inertia < best_inertia || run == 0) {
      best_inertia = inertia;
      centers = std::move(seeded);
    }
  }

  std::vector<double> weight_sums(static_cast<std::size_t>(k), 0.0);
  std::vector<double> sums(static_cast<std::size_t>(x.cols()));
  std::optional<double> ewa_inertia, ewa_min;
  int no_improvement = 0;
  int64_t since_reassign = 0;
  const int64_t n_steps = (static_cast<int64_t>(options.max_iter) * n) / batch;
  int steps_run = 0;
  std::vector<int> order;
  for (int64_t step = 0; step < n_steps; ++step) {
    // scikit-learn decides on reassignment before the step: when a centre has no samples yet,
    // or every 10 * k samples.
    since_reassign += batch;
    bool reassign = false;
    if (std::any_of(weight_sums.begin(), weight_sums.end(), [](double w) { return w == 0; }) ||
        since_reassign >= 10LL * k) {
      since_reassign = 0;
      reassign = true;
    }
    const RowMatrixXf xb = gather_rows(x, random_indices(rng, n, batch));
    const double batch_inertia = assign(xb, centers, labels, dist);

    // Per-centre incremental means over everything seen so far.
    order.resize(static_cast<std::size_t>(batch));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return labels[a] < labels[b]; });
    for (std::size_t pos = 0; pos < order.size();) {
      const int c = labels[static_cast<std::size_t>(order[pos])];
      std::size_t end = pos;
      std::fill(sums.begin(), sums.end(), 0.0);
      while (end < order.size() && labels[static_cast<std::size_t>(order[end])] == c) {
        const float* row = xb.row(order[end]).data();
        for (std::size_t j = 0; j < sums.size(); ++j) sums[j] += row[j];
        ++end;
      }
      const double count = static_cast<double>(end - pos);
      const double w = weight_sums[static_cast<std::size_t>(c)];
      float* center = centers.row(c).data();
      for (std::size_t j = 0; j < sums.size(); ++j)
        center[j] = static_cast<float>((static_cast<double>(center[j]) * w + sums[j]) / (w + count));
      weight_sums[static_cast<std::size_t>(c)] = w + count;
      pos = end;
    }

    if (reassign && options.reassignment_ratio > 0) {
      const double max_w = *std::max_element(weight_sums.begin(), weight_sums.end());
      std::vector<char> to_reassign(static_cast<std::size_t>(k), 0);
      int64_t count = 0;
      for (int c = 0; c < k; ++c)
        if (weight_sums[static_cast<std::size_t>(c)] < options.reassignment_ratio * max_w) {
          to_reassign[static_cast<std::size_t>(c)] = 1;
          ++count;
        }
      if (count > batch / 2) {
        // Reassign at most half a batch: only the least-populated centres.
        std::vector<int> by_weight(static_cast<std::size_t>(k));
        std::iota(by_weight.begin(), by_weight.end(), 0);
        std::stable_sort(by_weight.begin(), by_weight.end(),
                         [&](int a, int b) { return weight_sums[a] < weight_sums[b]; });
        for (std::size_t i = static_cast<std::size_t>(batch / 2); i < by_weight.size(); ++i)
          to_reassign[static_cast<std::size_t>(by_weight[i])] = 0;
        count = std::count(to_reassign.begin(), to_reassign.end(), 1);
      }
      if (count > 0) {
        // Distinct random samples of the batch become the new centres, in centre order.
        const std::vector<int64_t> picks = choice_without_replacement(rng, uniform_p(batch), count);
        double min_kept = std::numeric_limits<double>::infinity();
        for (int c = 0; c < k; ++c)
          if (!to_reassign[static_cast<std::size_t>(c)])
            min_kept = std::min(min_kept, weight_sums[static_cast<std::size_t>(c)]);
        if (!std::isfinite(min_kept)) min_kept = 0;
        std::size_t next = 0;
        for (int c = 0; c < k; ++c) {
          if (!to_reassign[static_cast<std::size_t>(c)]) continue;
          centers.row(c) = xb.row(picks[next++]);
          weight_sums[static_cast<std::size_t>(c)] = min_kept;
        }
      }
    }
    steps_run = static_cast<int>(step + 1);

    // Early stopping on the exponentially weighted batch inertia (the first step is ignored).
    if (step == 0) continue;
    const double mean_inertia = batch_inertia / static_cast<double>(batch);
    if (!ewa_inertia) {
      ewa_inertia = mean_inertia;
    } else {
      const double alpha = std::min(1.0, static_cast<double>(batch) * 2.0 / static_cast<double>(n + 1));
      ewa_inertia = *ewa_inertia * (1 - alpha) + mean_inertia * alpha;
    }
    if (!ewa_min || *ewa_inertia < *ewa_min) {
      no_improvement = 0;
      ewa_min = ewa_inertia;
    } else {
      ++no_improvement;
    }
    if (options.max_no_improvement > 0 && no_improvement >= options.max_no_improvement) break;
  }

  KMeansFit fit;
  fit.inertia = assign(x, centers, fit.labels, dist);
  fit.centers = std::move(centers);
  fit.n_steps = steps_run;
  return fit;
}

}  // namespace mosaic::media
