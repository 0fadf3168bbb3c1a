#include "features/kernels/signal.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <limits>

namespace mosaic::kernels {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

void diff_lag(std::span<const double> x, std::size_t k, std::span<double> out) noexcept {
  const std::size_t n = x.size();
  for (std::size_t t = 0; t < n; ++t) out[t] = t >= k ? x[t] - x[t - k] : kNaN;
}

void gradient(std::span<const double> x, std::span<double> out) noexcept {
  const std::size_t n = x.size();
  if (n < 2) {
    for (auto& v : out) v = kNaN;
    return;
  }
  out[0] = x[1] - x[0];
  for (std::size_t i = 1; i + 1 < n; ++i) out[i] = (x[i + 1] - x[i - 1]) / 2.0;
  out[n - 1] = x[n - 1] - x[n - 2];
}

void unwrap(std::span<const double> p, std::span<double> out) noexcept {
  constexpr double kPi = std::numbers::pi;
  const std::size_t n = p.size();
  if (n == 0) return;
  out[0] = p[0];
  double cum = 0;
  for (std::size_t i = 1; i < n; ++i) {
    double d = p[i] - p[i - 1];
    double dm = py_mod(d + kPi, 2 * kPi) - kPi;
    if (dm == -kPi && d > 0) dm = kPi;
    double corr = dm - d;
    if (std::fabs(d) < kPi) corr = 0;
    cum += corr;  // NaN d makes corr NaN and poisons the rest, as numpy's cumsum does
    out[i] = p[i] + cum;
  }
}

std::vector<double> savgol_coeffs(int window, int polyorder) {
  // scipy: A[i, j] = x_j ** i with x = pos - arange(window) (pos = window // 2 for odd windows,
  // window / 2 - 0.5 for even ones), y = e_0 (deriv 0); coeffs = lstsq(A, y).
  double pos = window % 2 == 1 ? window / 2 : window / 2.0 - 0.5;
  Eigen::MatrixXd a(polyorder + 1, window);
  for (int j = 0; j < window; ++j) {
    double xj = pos - j;
    double v = 1.0;
    for (int i = 0; i <= polyorder; ++i) {
      a(i, j) = v;
      v *= xj;
    }
  }
  Eigen::VectorXd y = Eigen::VectorXd::Zero(polyorder + 1);
  y(0) = 1.0;
  Eigen::VectorXd c = a.completeOrthogonalDecomposition().solve(y);
  return std::vector<double>(c.data(), c.data() + window);
}

void savgol_filter(std::span<const double> x, int window, int polyorder, std::span<double> out) {
  const int n = static_cast<int>(x.size());
  std::vector<double> c = savgol_coeffs(window, polyorder);
  // Interior: scipy convolve1d(x, c) with the kernel centred at window // 2 (constant mode; the
  // edges are overwritten below). convolve1d flips the kernel: out[i] = sum_j c[j] x[i + h - j].
  const int h = window / 2;
  for (int i = 0; i < n; ++i) {
    double s = 0;
    for (int j = 0; j < window; ++j) {
      int k = i + h - j;
      double v = (k >= 0 && k < n) ? x[static_cast<std::size_t>(k)] : 0.0;
      s += c[static_cast<std::size_t>(j)] * v;
    }
    out[static_cast<std::size_t>(i)] = s;
  }
  // Edges: fit a polynomial to the first/last `window` samples and evaluate it (np.polyfit +
  // polyval in scipy's _fit_edge).
  auto fit_edge = [&](int start, int eval_lo, int eval_hi) {
    Eigen::MatrixXd v(window, polyorder + 1);
    Eigen::VectorXd y(window);
    for (int i = 0; i < window; ++i) {
      double t = i, p = 1.0;
      for (int d = polyorder; d >= 0; --d) v(i, d) = 0;
      for (int d = 0; d <= polyorder; ++d) {
        v(i, polyorder - d) = p;  // highest power first, like np.polyfit
        p *= t;
      }
      y(i) = x[static_cast<std::size_t>(start + i)];
    }
    Eigen::VectorXd coef = v.colPivHouseholderQr().solve(y);
    for (int i = eval_lo; i < eval_hi; ++i) {
      double r = 0;
      for (int d = 0; d <= polyorder; ++d) r = r * i + coef(d);  // Horner, as np.polyval
      out[static_cast<std::size_t>(start + i)] = r;
    }
  };
  fit_edge(0, 0, h);
  fit_edge(n - window, window - h, window);
}

bool interp_fill_nonfinite(std::span<const double> x, std::span<double> out) noexcept {
  const std::size_t n = x.size();
  std::size_t first = n, last = n;
  for (std::size_t i = 0; i < n; ++i)
    if (std::isfinite(x[i])) {
      if (first == n) first = i;
      last = i;
    }
  if (first == n) {
    for (auto& v : out) v = 0;
    return false;
  }
  for (std::size_t i = 0; i < first; ++i) out[i] = x[first];
  for (std::size_t i = last + 1; i < n; ++i) out[i] = x[last];
  std::size_t a = first;
  out[first] = x[first];
  for (std::size_t i = first + 1; i <= last; ++i) {
    if (!std::isfinite(x[i])) continue;
    for (std::size_t k = a + 1; k < i; ++k) {
      // np.interp's formula: slope * (x - xa) + ya
      double slope = (x[i] - x[a]) / static_cast<double>(i - a);
      out[k] = slope * static_cast<double>(k - a) + x[a];
    }
    out[i] = x[i];
    a = i;
  }
  return true;
}

}  // namespace mosaic::kernels
