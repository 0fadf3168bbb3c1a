#include "features/kernels/filters.hpp"

#include <cmath>
#include <cstddef>

namespace mosaic::kernels {

namespace {

// numpy's DOUBLE_pairwise_sum (loops_utils.h): the order of the additions decides the last bit.
double pairwise(const double* a, std::size_t n) noexcept {
  if (n < 8) {
    double res = 0.0;
    for (std::size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (std::size_t j = 0; j < 8; ++j) r[j] = a[j];
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

// The symmetric branch of scipy's NI_Correlate1D over a padded double line.
template <class Out>
void correlate_symmetric(const double* line, std::size_t n, const double* w, std::size_t r, Out* out) noexcept {
  const double centre = w[r];
  for (std::size_t t = 0; t < n; ++t) {
    const double* c = line + r + t;
    double acc = c[0] * centre;
    for (std::size_t k = r; k >= 1; --k) acc += (c[-static_cast<std::ptrdiff_t>(k)] + c[k]) * w[r - k];
    out[t] = static_cast<Out>(acc);
  }
}

template <class In>
void pad_nearest(std::span<const In> x, std::size_t r, double* line) noexcept {
  const std::size_t n = x.size();
  const double first = static_cast<double>(x[0]), last = static_cast<double>(x[n - 1]);
  for (std::size_t i = 0; i < r; ++i) line[i] = first;
  for (std::size_t i = 0; i < n; ++i) line[r + i] = static_cast<double>(x[i]);
  for (std::size_t i = 0; i < r; ++i) line[r + n + i] = last;
}

}  // namespace

double numpy_pairwise_sum(std::span<const double> x) noexcept { return pairwise(x.data(), x.size()); }

int64_t gaussian_radius(double sigma, double truncate) noexcept {
  // Python's int() truncates toward zero.
  return static_cast<int64_t>(truncate * sigma + 0.5);
}

void gaussian_kernel1d(double sigma, int64_t radius, std::span<double> out) noexcept {
  const double sigma2 = sigma * sigma;
  const double coef = -0.5 / sigma2;  // numpy evaluates (-0.5 / sigma2) * x**2
  for (int64_t k = -radius; k <= radius; ++k) {
    const double x2 = static_cast<double>(k * k);
    out[static_cast<std::size_t>(k + radius)] = std::exp(coef * x2);
  }
  const double sum = numpy_pairwise_sum(out);
  for (double& v : out) v = v / sum;
}

void gaussian_filter1d_nearest(std::span<const float> x, std::span<const double> weights, std::span<float> out,
                               std::span<double> scratch) noexcept {
  if (x.empty()) return;
  const std::size_t r = weights.size() / 2;
  pad_nearest(x, r, scratch.data());
  correlate_symmetric(scratch.data(), x.size(), weights.data(), r, out.data());
}

void gaussian_filter1d_nearest(std::span<const double> x, std::span<const double> weights, std::span<double> out,
                               std::span<double> scratch) noexcept {
  if (x.empty()) return;
  const std::size_t r = weights.size() / 2;
  pad_nearest(x, r, scratch.data());
  correlate_symmetric(scratch.data(), x.size(), weights.data(), r, out.data());
}

}  // namespace mosaic::kernels
