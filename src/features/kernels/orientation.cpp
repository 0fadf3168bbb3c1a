#include "features/kernels/orientation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "features/kernels/signal.hpp"

namespace mosaic::kernels {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// numpy DOUBLE_pairwise_sum.
double pairwise(const double* a, std::size_t n) noexcept {
  if (n < 8) {
    double res = 0.;
    for (std::size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (std::size_t j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise(a, n2) + pairwise(a + n2, n - n2);
}

// Sort ascending with NaN last (np.sort); returns the number of non-NaN values.
std::size_t sort_nan_last(std::vector<double>& v) noexcept {
  auto mid = std::partition(v.begin(), v.end(), [](double d) { return !std::isnan(d); });
  std::sort(v.begin(), mid);
  return static_cast<std::size_t>(mid - v.begin());
}

// nanmin, nanmedian, nanmax of v (NaN when every value is NaN).
void nan_min_median_max(const std::vector<double>& v, std::vector<double>& work, double* out) {
  work.assign(v.begin(), v.end());
  const std::size_t m = sort_nan_last(work);
  if (m == 0) {
    out[0] = out[1] = out[2] = kNaN;
    return;
  }
  std::span<const double> s(work.data(), m);
  out[0] = s.front();
  out[1] = median_sorted(s);
  out[2] = s.back();
}

}  // namespace

double numpy_sum(std::span<const double> v) noexcept { return 0.0 + pairwise(v.data(), v.size()); }

double quantile_linear_sorted(std::span<const double> sorted, double q) noexcept {
  const std::size_t n = sorted.size();
  const double vi = static_cast<double>(n - 1) * q;
  double prev_d = std::floor(vi);
  std::size_t prev, next;
  if (vi >= static_cast<double>(n - 1)) {
    prev = next = n - 1;
    prev_d = -1;  // numpy sets the index to -1 and computes gamma from it
  } else {
    prev = static_cast<std::size_t>(prev_d);
    next = prev + 1;
  }
  const double t = vi - prev_d;
  const double a = sorted[prev], b = sorted[next];
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

double median_sorted(std::span<const double> sorted) noexcept {
  const std::size_t n = sorted.size();
  if (n % 2 == 1) return sorted[n / 2];
  return (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
}

double median_pairwise_distance(std::span<const double> points, std::vector<double>& work) {
  const std::size_t k = points.size() / 2;
  work.clear();
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t j = i + 1; j < k; ++j) {
      const double dx = points[2 * i] - points[2 * j], dy = points[2 * i + 1] - points[2 * j + 1];
      work.push_back(std::sqrt(0.0 + dx * dx + dy * dy));
    }
  const std::size_t m = sort_nan_last(work);
  if (m < work.size()) return kNaN;
  return median_sorted(work);
}

void orientation_pair(std::span<const double> points_b, double cax, double cay, double cbx, double cby,
                      double theta_a, double theta_b, double scale, std::span<const double> quantiles,
                      std::size_t nearest_k, OrientationWorkspace& ws, double* out) {
  const std::size_t nb = points_b.size() / 2;
  // R = rot(-theta_a) = [[c, -s], [s, c]]; numpy's matmul gives R[0,0]*v0 + R[0,1]*v1.
  const double c = std::cos(-theta_a), s = std::sin(-theta_a), ms = -s;
  ws.rx.resize(nb);
  ws.ry.resize(nb);
  ws.dists.resize(nb);
  for (std::size_t k = 0; k < nb; ++k) {
    const double dx = points_b[2 * k] - cax, dy = points_b[2 * k + 1] - cay;
    const double rx = (c * dx + ms * dy) / scale, ry = (s * dx + c * dy) / scale;
    ws.rx[k] = rx;
    ws.ry[k] = ry;
    ws.dists[k] = std::sqrt(rx * rx + ry * ry);
  }
  const double dcx = cbx - cax, dcy = cby - cay;
  std::size_t o = 0;
  out[o++] = (c * dcx + ms * dcy) / scale;
  out[o++] = (s * dcx + c * dcy) / scale;
  out[o++] = wrap_angle(theta_b - theta_a);
  ws.sorted.assign(ws.dists.begin(), ws.dists.end());
  const std::size_t finite = sort_nan_last(ws.sorted);
  const bool any_nan = finite < nb;
  std::span<const double> sorted(ws.sorted.data(), nb);
  // np.min / np.median / np.max / np.quantile propagate NaN.
  out[o++] = any_nan ? kNaN : sorted.front();
  out[o++] = any_nan ? kNaN : median_sorted(sorted);
  out[o++] = any_nan ? kNaN : sorted.back();
  for (double q : quantiles) out[o++] = any_nan ? kNaN : quantile_linear_sorted(sorted, q);
  nan_min_median_max(ws.rx, ws.dists, out + o);
  o += 3;
  nan_min_median_max(ws.ry, ws.dists, out + o);
  o += 3;
  for (std::size_t k = 0; k < nearest_k; ++k) {
    const double v = k < nb ? ws.sorted[k] : kNaN;
    out[o++] = std::isfinite(v) ? v : kNaN;
  }
}

}  // namespace mosaic::kernels
