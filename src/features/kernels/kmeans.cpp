// kmeans.cpp: port of scikit-learn 1.8 sklearn/cluster/_kmeans.py (KMeans.fit, _kmeans_plusplus,
// _kmeans_single_lloyd, _tolerance) and _k_means_lloyd.pyx / _k_means_common.pyx for float32.
// The float32 rounding points of the reference are kept; comments name them.
#include "features/kernels/kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace mosaic::kernels {
namespace {

constexpr std::size_t kChunk = 256;  // _k_means_lloyd.pyx n_samples_chunk

// numpy FLOAT_pairwise_sum over f(0..n-1), float32 accumulators.
template <class F>
float pairwise_sum_f32(std::size_t offset, std::size_t n, const F& f) noexcept {
  if (n < 8) {
    float res = 0.0f;
    for (std::size_t i = 0; i < n; ++i) res += f(offset + i);
    return res;
  }
  if (n <= 128) {
    float r[8];
    for (std::size_t k = 0; k < 8; ++k) r[k] = f(offset + k);
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (std::size_t k = 0; k < 8; ++k) r[k] += f(offset + i + k);
    float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += f(offset + i);
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum_f32(offset, n2, f) + pairwise_sum_f32(offset + n2, n - n2, f);
}

// A dot product summed in double and rounded once: stands in for BLAS sdot/sgemm, whose
// accumulation order is build-dependent.
inline float dot_f32(const float* a, const float* b, std::size_t n) noexcept {
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return static_cast<float>(s);
}

// argmin_j float32(||c_j||^2 - 2 x.c_j), first index on ties, the dots as dot_f32. Eight (then
// four) centres per pass with their own accumulators: each dot is still summed in column order
// (the same value as dot_f32), but the dependency chains overlap and vectorise.
inline int32_t nearest_center(const float* xi, const float* centers, const float* c_sq, std::size_t k,
                              std::size_t dim) noexcept {
  float best = 0.0f;
  int32_t label = 0;
  auto consider = [&](std::size_t j, float dot) {
    const float d = -2.0f * dot + c_sq[j];
    if (j == 0 || d < best) {
      best = d;
      label = static_cast<int32_t>(j);
    }
  };
  std::size_t j = 0;
  for (; j + 8 <= k; j += 8) {
    const float* cj = centers + j * dim;
    double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    for (std::size_t c = 0; c < dim; ++c) {
      const double v = static_cast<double>(xi[c]);
      for (std::size_t q = 0; q < 8; ++q) acc[q] += v * static_cast<double>(cj[q * dim + c]);
    }
    for (std::size_t q = 0; q < 8; ++q) consider(j + q, static_cast<float>(acc[q]));
  }
  for (; j + 4 <= k; j += 4) {
    const float* c0 = centers + j * dim;
    const float* c1 = c0 + dim;
    const float* c2 = c1 + dim;
    const float* c3 = c2 + dim;
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    for (std::size_t c = 0; c < dim; ++c) {
      const double v = static_cast<double>(xi[c]);
      s0 += v * static_cast<double>(c0[c]);
      s1 += v * static_cast<double>(c1[c]);
      s2 += v * static_cast<double>(c2[c]);
      s3 += v * static_cast<double>(c3[c]);
    }
    consider(j, static_cast<float>(s0));
    consider(j + 1, static_cast<float>(s1));
    consider(j + 2, static_cast<float>(s2));
    consider(j + 3, static_cast<float>(s3));
  }
  for (; j < k; ++j) consider(j, dot_f32(xi, centers + j * dim, dim));
  return label;
}

// _euclidean_dense_dense(squared=False): 4-way unrolled float32 sum, then sqrt.
float euclidean_dense_dense(const float* a, const float* b, std::size_t n) noexcept {
  float result = 0.0f;
  const std::size_t blocks = n / 4;
  for (std::size_t i = 0; i < blocks; ++i, a += 4, b += 4) {
    result += ((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
               (a[2] - b[2]) * (a[2] - b[2]) + (a[3] - b[3]) * (a[3] - b[3]));
  }
  for (std::size_t i = 0; i < n % 4; ++i) result += (a[i] - b[i]) * (a[i] - b[i]);
  return result;
}

// Squared distances from one row c to every row of x as _euclidean_distances_upcast computes
// them: float64 (-2 c.x + |c|^2) + |x|^2, cast to float32, then clipped at 0.
void upcast_sq_distances(const float* c, const float* x, std::size_t n, std::size_t dim,
                         const std::vector<double>& x_sq, float* out) noexcept {
  double c_sq = 0.0;
  for (std::size_t k = 0; k < dim; ++k) c_sq += static_cast<double>(c[k]) * static_cast<double>(c[k]);
  for (std::size_t i = 0; i < n; ++i) {
    const float* xi = x + i * dim;
    double dot = 0.0;
    for (std::size_t k = 0; k < dim; ++k) dot += static_cast<double>(c[k]) * static_cast<double>(xi[k]);
    double d = -2.0 * dot;
    d += c_sq;
    d += x_sq[i];
    const auto f = static_cast<float>(d);
    out[i] = f < 0.0f ? 0.0f : f;  // np.maximum(distances, 0)
  }
}

// _tolerance: np.mean(np.var(X, axis=0)) * X.dtype.type(tol), all float32 (NEP 50).
float kmeans_tolerance(const float* x, std::size_t n, std::size_t dim, double tol) {
  if (tol == 0.0) return 0.0f;
  std::vector<float> mean(dim, 0.0f), var(dim, 0.0f);
  for (std::size_t i = 0; i < n; ++i)  // axis-0 reductions: sequential per column
    for (std::size_t k = 0; k < dim; ++k) mean[k] += x[i * dim + k];
  for (float& m : mean) m = static_cast<float>(static_cast<double>(m) / static_cast<double>(n));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < dim; ++k) {
      const float d = x[i * dim + k] - mean[k];
      var[k] += d * d;
    }
  for (float& v : var) v = static_cast<float>(static_cast<double>(v) / static_cast<double>(n));
  const float sum = pairwise_sum_f32(0, dim, [&](std::size_t k) { return var[k]; });
  const auto mean_var = static_cast<float>(static_cast<double>(sum) / static_cast<double>(dim));
  return mean_var * static_cast<float>(tol);
}

// One lloyd_iter_chunked_dense call (single process, `threads` emulated accumulation buffers).
// With update_centers: centers_new / weights are overwritten with the new (averaged) centres and
// center_shift with the per-centre shift.
void lloyd_iter(const float* x, std::size_t n, std::size_t dim, const std::vector<float>& centers_old,
                std::size_t k, std::vector<float>* centers_new, std::vector<float>* weights,
                std::vector<int32_t>& labels, std::vector<float>* center_shift, bool update_centers,
                int threads) {
  std::vector<float> c_sq(k);
  for (std::size_t j = 0; j < k; ++j) c_sq[j] = dot_f32(&centers_old[j * dim], &centers_old[j * dim], dim);

  const std::size_t n_chunks = (n + kChunk - 1) / kChunk;
  const std::size_t n_threads = std::max<std::size_t>(1, std::min<std::size_t>(static_cast<std::size_t>(threads), n_chunks));
  if (update_centers) {
    std::fill(centers_new->begin(), centers_new->end(), 0.0f);
    std::fill(weights->begin(), weights->end(), 0.0f);
  }
  // OpenMP schedule(static): thread t gets a contiguous block of chunks.
  const std::size_t per_thread = n_chunks / n_threads, extra = n_chunks % n_threads;
  std::size_t chunk = 0;
  std::vector<float> buf_centers, buf_weights;
  for (std::size_t t = 0; t < n_threads; ++t) {
    const std::size_t count = per_thread + (t < extra ? 1 : 0);
    if (update_centers) {
      buf_centers.assign(k * dim, 0.0f);
      buf_weights.assign(k, 0.0f);
    }
    for (std::size_t c = 0; c < count; ++c, ++chunk) {
      const std::size_t start = chunk * kChunk, end = std::min(n, start + kChunk);
      for (std::size_t i = start; i < end; ++i) {
        const float* xi = x + i * dim;
        // pairwise_distances = ||C||^2, then += -2 X.C^T (sgemm, alpha=-2, beta=1).
        const int32_t label = nearest_center(xi, centers_old.data(), c_sq.data(), k, dim);
        labels[i] = label;
        if (update_centers) {
          buf_weights[static_cast<std::size_t>(label)] += 1.0f;
          float* dst = &buf_centers[static_cast<std::size_t>(label) * dim];
          for (std::size_t q = 0; q < dim; ++q) dst[q] += xi[q] * 1.0f;
        }
      }
    }
    if (update_centers) {
      for (std::size_t j = 0; j < k; ++j) {
        (*weights)[j] += buf_weights[j];
        for (std::size_t q = 0; q < dim; ++q) (*centers_new)[j * dim + q] += buf_centers[j * dim + q];
      }
    }
  }
  if (!update_centers) return;

  // _relocate_empty_clusters_dense
  std::vector<std::size_t> empty;
  for (std::size_t j = 0; j < k; ++j)
    if ((*weights)[j] == 0.0f) empty.push_back(j);
  if (!empty.empty()) {
    std::vector<float> dist(n);
    for (std::size_t i = 0; i < n; ++i) {
      const float* xi = x + i * dim;
      const float* ci = &centers_old[static_cast<std::size_t>(labels[i]) * dim];
      dist[i] = pairwise_sum_f32(0, dim, [&](std::size_t q) {
        const float d = xi[q] - ci[q];
        return d * d;
      });
    }
    if (*std::max_element(dist.begin(), dist.end()) != 0.0f) {
      // np.argpartition(dist, -n_empty)[:-n_empty-1:-1]: the n_empty largest. numpy's
      // introselect leaves their order unspecified; here they come largest first, lowest index
      // first on ties (identical to numpy when n_empty == 1 and the maximum is unique).
      std::vector<std::size_t> order(n);
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return dist[a] > dist[b]; });
      for (std::size_t e = 0; e < empty.size(); ++e) {
        const std::size_t new_id = empty[e];
        const std::size_t far = order[e];
        const std::size_t old_id = static_cast<std::size_t>(labels[far]);
        const float w = 1.0f;
        for (std::size_t q = 0; q < dim; ++q) {
          (*centers_new)[old_id * dim + q] -= x[far * dim + q] * w;
          (*centers_new)[new_id * dim + q] = x[far * dim + q] * w;
        }
        (*weights)[new_id] = w;
        (*weights)[old_id] -= w;
      }
    }
  }
  // _average_centers: alpha = 1.0 / w in double, stored as float32, then multiplied.
  for (std::size_t j = 0; j < k; ++j) {
    if ((*weights)[j] > 0.0f) {
      const auto alpha = static_cast<float>(1.0 / static_cast<double>((*weights)[j]));
      for (std::size_t q = 0; q < dim; ++q) (*centers_new)[j * dim + q] *= alpha;
    }
  }
  // _center_shift
  for (std::size_t j = 0; j < k; ++j)
    (*center_shift)[j] = static_cast<float>(
        std::sqrt(static_cast<double>(euclidean_dense_dense(&(*centers_new)[j * dim], &centers_old[j * dim], dim))));
}

}  // namespace

std::vector<int64_t> kmeans_plusplus(const float* x, std::size_t n, std::size_t dim, int n_clusters,
                                     Mt19937RandomState& rs, int n_local_trials) {
  const auto k = static_cast<std::size_t>(n_clusters);
  if (n_local_trials <= 0) n_local_trials = 2 + static_cast<int>(std::log(static_cast<double>(n_clusters)));
  const auto trials = static_cast<std::size_t>(n_local_trials);

  // row_norms of the float64-upcast rows (recomputed by _euclidean_distances_upcast).
  std::vector<double> x_sq(n);
  for (std::size_t i = 0; i < n; ++i) {
    double s = 0.0;
    for (std::size_t q = 0; q < dim; ++q) s += static_cast<double>(x[i * dim + q]) * static_cast<double>(x[i * dim + q]);
    x_sq[i] = s;
  }
  // First centre: choice(n, p=w / w.sum()), w = float32 ones, p promoted to float64.
  const std::vector<double> p(n, static_cast<double>(1.0f / static_cast<float>(n)));
  std::vector<int64_t> indices;
  indices.push_back(rs.choice(p));

  std::vector<float> closest(n), cand_dist(trials * n), cumsum(n);
  upcast_sq_distances(x + static_cast<std::size_t>(indices[0]) * dim, x, n, dim, x_sq, closest.data());
  auto potential = [&](const float* d) {  // d @ sample_weight (float32 GEMV)
    double s = 0.0;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(d[i]);
    return static_cast<float>(s);
  };
  float current_pot = potential(closest.data());

  std::vector<int64_t> candidates(trials);
  std::vector<float> cand_pot(trials);
  for (std::size_t c = 1; c < k; ++c) {
    // rand_vals (float64) = uniform(size=trials) * current_pot
    std::vector<double> rand_vals(trials);
    for (double& v : rand_vals) v = rs.random_sample() * static_cast<double>(current_pot);
    // np.cumsum(sample_weight * closest_dist_sq): sequential float32.
    float acc = 0.0f;
    for (std::size_t i = 0; i < n; ++i) cumsum[i] = (acc += closest[i]);
    for (std::size_t t = 0; t < trials; ++t) {
      // searchsorted(left) compares in float64; clip to n - 1.
      const auto it = std::lower_bound(cumsum.begin(), cumsum.end(), rand_vals[t],
                                       [](float a, double v) { return static_cast<double>(a) < v; });
      candidates[t] = std::min<int64_t>(it - cumsum.begin(), static_cast<int64_t>(n) - 1);
    }
    for (std::size_t t = 0; t < trials; ++t) {
      float* d = &cand_dist[t * n];
      upcast_sq_distances(x + static_cast<std::size_t>(candidates[t]) * dim, x, n, dim, x_sq, d);
      for (std::size_t i = 0; i < n; ++i) d[i] = std::min(closest[i], d[i]);  // np.minimum
      cand_pot[t] = potential(d);
    }
    const std::size_t best = static_cast<std::size_t>(std::min_element(cand_pot.begin(), cand_pot.end()) - cand_pot.begin());
    current_pot = cand_pot[best];
    std::copy(&cand_dist[best * n], &cand_dist[best * n] + n, closest.begin());
    indices.push_back(candidates[best]);
  }
  return indices;
}

KMeansResult kmeans_fit(const float* x_in, std::size_t n, std::size_t dim, const KMeansOptions& options,
                        Mt19937RandomState& rs) {
  const auto k = static_cast<std::size_t>(options.n_clusters);
  KMeansResult result;
  const float tol = kmeans_tolerance(x_in, n, dim, options.tol);

  // X -= X.mean(axis=0) (float32 sums per column, float32 mean).
  std::vector<float> mean(dim, 0.0f);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t q = 0; q < dim; ++q) mean[q] += x_in[i * dim + q];
  for (float& m : mean) m = static_cast<float>(static_cast<double>(m) / static_cast<double>(n));
  std::vector<float> x(x_in, x_in + n * dim);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t q = 0; q < dim; ++q) x[i * dim + q] -= mean[q];

  result.seed_indices = kmeans_plusplus(x.data(), n, dim, options.n_clusters, rs, options.n_local_trials);
  std::vector<float> centers(k * dim), centers_new(k * dim, 0.0f), weights(k, 0.0f), shift(k, 0.0f);
  for (std::size_t j = 0; j < k; ++j)
    std::copy(&x[static_cast<std::size_t>(result.seed_indices[j]) * dim],
              &x[static_cast<std::size_t>(result.seed_indices[j]) * dim] + dim, &centers[j * dim]);

  std::vector<int32_t> labels(n, -1), labels_old(n, -1);
  int iter = 0;
  bool strict = false;
  for (iter = 0; iter < options.max_iter; ++iter) {
    lloyd_iter(x.data(), n, dim, centers, k, &centers_new, &weights, labels, &shift, true,
               options.accumulation_threads);
    std::swap(centers, centers_new);
    if (labels == labels_old) {
      strict = true;
      break;
    }
    const float shift_tot = pairwise_sum_f32(0, k, [&](std::size_t j) { return shift[j] * shift[j]; });
    if (shift_tot <= tol) break;
    labels_old = labels;
  }
  if (!strict)  // rerun the E-step so that the labels match the final centres
    lloyd_iter(x.data(), n, dim, centers, k, nullptr, nullptr, labels, nullptr, false, options.accumulation_threads);
  result.n_iter = std::min(iter + 1, options.max_iter);
  result.strict_convergence = strict;

  // _inertia_dense: prange(schedule="static") with a float32 reduction; each thread sums its
  // contiguous block of rows, the partial sums are then added in thread order.
  const std::size_t threads = static_cast<std::size_t>(std::max(1, options.accumulation_threads));
  float inertia = 0.0f;
  for (std::size_t t = 0, start = 0; t < threads; ++t) {
    const std::size_t count = n / threads + (t < n % threads ? 1 : 0);
    float partial = 0.0f;
    for (std::size_t i = start; i < start + count; ++i)
      partial += euclidean_dense_dense(&x[i * dim], &centers[static_cast<std::size_t>(labels[i]) * dim], dim);
    inertia += partial;
    start += count;
  }
  result.inertia = inertia;

  for (std::size_t j = 0; j < k; ++j)
    for (std::size_t q = 0; q < dim; ++q) centers[j * dim + q] += mean[q];
  result.centers = std::move(centers);
  result.labels = std::move(labels);
  return result;
}

void kmeans_predict(const float* x, std::size_t n, std::size_t dim, const float* centers,
                    std::size_t n_clusters, std::span<int32_t> labels) noexcept {
  std::vector<float> c_sq(n_clusters);
  for (std::size_t j = 0; j < n_clusters; ++j) c_sq[j] = dot_f32(centers + j * dim, centers + j * dim, dim);
  for (std::size_t i = 0; i < n; ++i) labels[i] = nearest_center(x + i * dim, centers, c_sq.data(), n_clusters, dim);
}

}  // namespace mosaic::kernels
