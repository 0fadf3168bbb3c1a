// templates.cpp: port of ExtractTemplates' sampling (_fit_reservoir, _compute_quotas, _fit_exact's
// per-entry draw, _farthest_first). Comments mark where the order of RNG draws is fixed by the
// reference's vectorised numpy calls.
#include "features/kernels/templates.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace mosaic::kernels {
namespace {

// numpy's pairwise summation (DOUBLE_pairwise_sum) of (a[c] - b[c])^2, which is what
// np.sum((pool - pool[f]) ** 2, axis=1) computes for each contiguous row.
double pairwise_sq_diff(const double* a, const double* b, std::size_t n) noexcept {
  auto term = [&](std::size_t i) {
    const double d = a[i] - b[i];
    return d * d;
  };
  if (n < 8) {
    double res = 0.0;
    for (std::size_t i = 0; i < n; ++i) res += term(i);
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (std::size_t k = 0; k < 8; ++k) r[k] = term(k);
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (std::size_t k = 0; k < 8; ++k) r[k] += term(i + k);
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += term(i);
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sq_diff(a, b, n2) + pairwise_sq_diff(a + n2, b + n2, n - n2);
}

// np.argmax: the first NaN if any, else the first maximum.
std::size_t numpy_argmax(const std::vector<double>& v) noexcept {
  std::size_t best = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) return i;
    if (v[i] > v[best]) best = i;
  }
  return best;
}

}  // namespace

int64_t entry_cap(double max_entry_fraction, int64_t n_entries, int64_t pool_size) noexcept {
  const double frac = std::max(max_entry_fraction, 1.0 / static_cast<double>(n_entries));
  return std::max<int64_t>(static_cast<int64_t>(frac * static_cast<double>(pool_size)), 1);
}

TemplateReservoir::TemplateReservoir(std::size_t pool_size, std::size_t dim,
                                     std::optional<double> max_entry_fraction)
    : pool_size_(pool_size),
      dim_(dim),
      max_entry_fraction_(max_entry_fraction),
      buffer_(pool_size * dim),
      entries_(pool_size),
      rows_(pool_size) {}

void TemplateReservoir::put(std::size_t slot, const double* row, int32_t entry, int64_t row_index) noexcept {
  std::copy(row, row + dim_, buffer_.begin() + static_cast<std::ptrdiff_t>(slot * dim_));
  entries_[slot] = entry;
  rows_[slot] = row_index;
}

void TemplateReservoir::add_entry(const double* rows, std::size_t n_rows, Pcg64& rng) {
  const auto entry = static_cast<int32_t>(n_entries_);
  ++n_entries_;
  // Row order after the optional cap: the reference does matrix = matrix[rng.choice(...)].
  std::vector<int64_t> order;
  if (max_entry_fraction_) {
    const int64_t cap = entry_cap(*max_entry_fraction_, static_cast<int64_t>(n_entries_),
                                  static_cast<int64_t>(pool_size_));
    if (static_cast<int64_t>(n_rows) > cap) order = rng.choice(static_cast<int64_t>(n_rows), cap);
  }
  if (order.empty() && n_rows > 0) {
    order.resize(n_rows);
    std::iota(order.begin(), order.end(), int64_t{0});
  }
  std::size_t next = 0;  // position in `order`
  std::size_t remaining = order.size();
  if (filled_ < pool_size_) {
    const std::size_t take = std::min(pool_size_ - filled_, remaining);
    for (std::size_t k = 0; k < take; ++k, ++next)
      put(filled_ + k, rows + order[next] * dim_, entry, order[next]);
    filled_ += take;
    n_seen_ += take;
    remaining -= take;
    if (remaining == 0) return;
  }
  if (remaining == 0) return;
  // Algorithm R, vectorised as the reference: all uniforms first, then all slots.
  std::vector<std::size_t> included;
  const double pool = static_cast<double>(pool_size_);
  for (std::size_t t = 1; t <= remaining; ++t) {
    const double p = pool / static_cast<double>(n_seen_ + t);
    if (rng.random() < p) included.push_back(next + t - 1);
  }
  for (std::size_t pos : included) {
    const auto slot = static_cast<std::size_t>(rng.integers(0, static_cast<int64_t>(pool_size_)));
    put(slot, rows + order[pos] * dim_, entry, order[pos]);
  }
  n_seen_ += remaining;
}

void TemplateReservoir::shrink(std::size_t new_pool_size) noexcept {
  if (new_pool_size >= pool_size_) return;
  pool_size_ = new_pool_size;
  filled_ = std::min(filled_, new_pool_size);
  buffer_.resize(pool_size_ * dim_);
  entries_.resize(pool_size_);
  rows_.resize(pool_size_);
}

std::vector<int64_t> exact_quotas(std::span<const int64_t> entry_counts, int64_t pool_size,
                                  std::optional<double> max_entry_fraction) {
  const auto n_entries = static_cast<int64_t>(entry_counts.size());
  std::vector<int64_t> quotas(entry_counts.size(), 0);
  if (n_entries == 0) return quotas;
  const int64_t total = std::accumulate(entry_counts.begin(), entry_counts.end(), int64_t{0});
  const int64_t cap = max_entry_fraction ? entry_cap(*max_entry_fraction, n_entries, pool_size) : pool_size;
  int64_t uncapped_rows = 0;
  for (std::size_t e = 0; e < entry_counts.size(); ++e) {
    // Python: int(count / total_rows * pool_size), float division then truncation.
    const auto raw = static_cast<int64_t>(static_cast<double>(entry_counts[e]) / static_cast<double>(total) *
                                          static_cast<double>(pool_size));
    if (raw > cap) {
      quotas[e] = cap;
    } else {
      quotas[e] = raw;
      uncapped_rows += entry_counts[e];
    }
  }
  const int64_t remainder = pool_size - std::accumulate(quotas.begin(), quotas.end(), int64_t{0});
  if (remainder > 0 && uncapped_rows > 0) {
    for (std::size_t e = 0; e < entry_counts.size(); ++e) {
      if (quotas[e] < cap) {
        const auto extra = static_cast<int64_t>(static_cast<double>(entry_counts[e]) /
                                                static_cast<double>(uncapped_rows) * static_cast<double>(remainder));
        quotas[e] = std::min(quotas[e] + extra, cap);
      }
    }
  }
  return quotas;
}

std::vector<int64_t> exact_entry_rows(int64_t n_rows, int64_t quota, Pcg64& rng) {
  if (quota <= 0) return {};
  if (n_rows <= quota) {
    std::vector<int64_t> all(static_cast<std::size_t>(n_rows));
    std::iota(all.begin(), all.end(), int64_t{0});
    return all;
  }
  return rng.choice(n_rows, quota);
}

std::vector<int64_t> farthest_first(const double* pool, std::size_t n, std::size_t dim,
                                    std::size_t n_select, Pcg64& rng) {
  if (n == 0) return {};
  const auto first = static_cast<std::size_t>(rng.integers(0, static_cast<int64_t>(n)));
  std::vector<int64_t> selected{static_cast<int64_t>(first)};
  std::vector<double> dist(n);
  for (std::size_t row = 0; row < n; ++row) dist[row] = pairwise_sq_diff(pool + row * dim, pool + first * dim, dim);
  const std::size_t target = std::min(n_select, n);
  while (selected.size() < target) {
    const std::size_t far = numpy_argmax(dist);
    selected.push_back(static_cast<int64_t>(far));
    for (std::size_t row = 0; row < n; ++row) {
      const double d = pairwise_sq_diff(pool + row * dim, pool + far * dim, dim);
      // np.minimum: NaN propagates, ties keep the first operand.
      if (!(dist[row] <= d || std::isnan(dist[row]))) dist[row] = d;
    }
  }
  return selected;
}

std::vector<int64_t> count_per_entry(std::span<const int32_t> entries, std::size_t n_entries) {
  std::vector<int64_t> counts(n_entries, 0);
  for (int32_t e : entries)
    if (e >= 0 && static_cast<std::size_t>(e) < n_entries) ++counts[static_cast<std::size_t>(e)];
  return counts;
}

}  // namespace mosaic::kernels
