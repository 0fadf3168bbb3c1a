#include "features/kernels/cleaning.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>

#include "features/kernels/signal.hpp"

namespace mosaic::kernels {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Shared body of the plain and circular interpolation: walk the NaN runs; a run [s, e] lies
// between the valid positions a = s - 1 and b = e + 1 (either may be missing).
template <class Between>
void interpolate_runs(std::span<double> x, int64_t limit, Between between) noexcept {
  const auto n = static_cast<int64_t>(x.size());
  int64_t p = 0;
  bool any_valid = false;
  for (double v : x)
    if (!std::isnan(v)) {
      any_valid = true;
      break;
    }
  if (!any_valid) return;  // pandas leaves an all-NaN column as it is
  while (p < n) {
    if (!std::isnan(x[static_cast<std::size_t>(p)])) {
      ++p;
      continue;
    }
    const int64_t s = p;
    while (p < n && std::isnan(x[static_cast<std::size_t>(p)])) ++p;
    const int64_t e = p - 1;
    const int64_t a = s - 1;  // -1: no valid value before
    const int64_t b = e + 1;  // n: none after
    const bool has_a = a >= 0, has_b = b < n;
    for (int64_t q = s; q <= e; ++q) {
      const bool near_a = has_a && q - a <= limit;
      const bool near_b = has_b && b - q <= limit;
      if (!near_a && !near_b) continue;
      double& out = x[static_cast<std::size_t>(q)];
      if (has_a && has_b) out = between(a, b, q);
      else if (has_a) out = x[static_cast<std::size_t>(a)];  // np.interp: constant past the ends
      else out = x[static_cast<std::size_t>(b)];
    }
  }
}

}  // namespace

double unwrap_increment(double a, double b, double period) noexcept {
  const double d = b - a;
  const double half = period / 2;
  if (std::fabs(d) < half) return d;
  double dm = py_mod(d + half, period) - half;
  if (dm == -half && d > 0) dm = half;
  return dm;
}

void interpolate_limited(std::span<double> x, int64_t limit) noexcept {
  interpolate_runs(x, limit, [&x](int64_t a, int64_t b, int64_t q) {
    const double ya = x[static_cast<std::size_t>(a)], yb = x[static_cast<std::size_t>(b)];
    // np.interp: slope * (x - x_a) + y_a with the slope of the bracketing valid points
    const double slope = (yb - ya) / (static_cast<double>(b) - static_cast<double>(a));
    return slope * (static_cast<double>(q) - static_cast<double>(a)) + ya;
  });
}

void interpolate_limited_circular(std::span<double> x, int64_t limit, double period) noexcept {
  interpolate_runs(x, limit, [&x, period](int64_t a, int64_t b, int64_t q) {
    const double ya = x[static_cast<std::size_t>(a)], yb = x[static_cast<std::size_t>(b)];
    const double d = yb - ya;
    const double inc = unwrap_increment(ya, yb, period);
    // inc == d is the plain case: same operations as interpolate_limited, same bits.
    const double slope = inc / (static_cast<double>(b) - static_cast<double>(a));
    const double v = slope * (static_cast<double>(q) - static_cast<double>(a)) + ya;
    if (inc == d) return v;
    return py_mod(v + period / 2, period) - period / 2;
  });
}

void fill_limited(std::span<double> x, int64_t limit) noexcept {
  // limit 0 means no fill here; pandas refuses limit=0 ("Limit must be greater than 0").
  if (limit <= 0) return;
  const std::size_t n = x.size();
  // ffill
  bool have = false;
  double last = 0;
  int64_t run = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isnan(x[i])) {
      have = true;
      last = x[i];
      run = 0;
    } else if (have && run < limit) {
      x[i] = last;
      ++run;
    } else {
      ++run;
    }
  }
  // bfill on the result
  have = false;
  run = 0;
  for (std::size_t i = n; i-- > 0;) {
    if (!std::isnan(x[i])) {
      have = true;
      last = x[i];
      run = 0;
    } else if (have && run < limit) {
      x[i] = last;
      ++run;
    } else {
      ++run;
    }
  }
}

double nan_median(std::span<const double> x, std::vector<double>& scratch) {
  scratch.clear();
  for (double v : x)
    if (!std::isnan(v)) scratch.push_back(v);
  const std::size_t m = scratch.size();
  if (m == 0) return kNaN;
  const std::size_t h = m / 2;
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(h), scratch.end());
  const double hi = scratch[h];
  if (m % 2 == 1) return hi;
  const double lo = *std::max_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(h));
  return (lo + hi) / 2.0;  // numpy: mean of the two middle values = their sum / 2
}

std::size_t clean_animal_track(std::span<const std::span<double>> columns, std::span<const double> periods,
                               const CleaningConfig& config, std::span<std::size_t> kept,
                               CleaningScratch& scratch) {
  const std::size_t ncols = columns.size();
  if (ncols == 0) return 0;  // pandas: NaN fraction 0/0 = NaN, never <= the limit: every row goes
  const std::size_t n = columns[0].size();
  for (std::size_t c = 0; c < ncols; ++c) {
    std::span<double> x = columns[c];
    for (double& v : x)
      if (std::isinf(v)) v = kNaN;
    const double period = periods.empty() ? 0.0 : periods[c];
    if (period > 0) interpolate_limited_circular(x, config.linear_interp_limit, period);
    else interpolate_limited(x, config.linear_interp_limit);
    fill_limited(x, config.edge_fill_limit);
  }
  // Step 4: drop rows with too many NaNs (pandas isna().mean(axis=1) = count / ncols).
  std::size_t k = 0;
  bool any_nan_left = false;
  for (std::size_t r = 0; r < n; ++r) {
    std::size_t nan_count = 0;
    for (std::size_t c = 0; c < ncols; ++c) nan_count += std::isnan(columns[c][r]) ? 1 : 0;
    const double frac = static_cast<double>(nan_count) / static_cast<double>(ncols);
    if (!(frac <= config.max_missing_fraction)) continue;
    any_nan_left = any_nan_left || nan_count > 0;
    if (k != r)
      for (std::size_t c = 0; c < ncols; ++c) columns[c][k] = columns[c][r];
    kept[k++] = r;
  }
  // Step 5: median fill of what remains.
  if (any_nan_left) {
    for (std::size_t c = 0; c < ncols; ++c) {
      std::span<double> x = columns[c].subspan(0, k);
      bool has_nan = false;
      for (double v : x) has_nan = has_nan || std::isnan(v);
      if (!has_nan) continue;
      const double med = nan_median(x, scratch.values);
      for (double& v : x)
        if (std::isnan(v)) v = med;
    }
  }
  return k;
}

void clean_tracks_grouped(std::span<const int64_t> group_of_row, std::size_t n_groups, std::span<const double> order,
                          std::span<const std::span<const double>> columns, std::span<const double> periods,
                          const CleaningConfig& config, CleanedTracks& out) {
  const std::size_t n = group_of_row.size();
  const std::size_t ncols = columns.size();
  // Counting sort of the rows by group (input order kept within a group).
  std::vector<std::size_t> start(n_groups + 1, 0);
  for (int64_t g : group_of_row)
    if (g >= 0) ++start[static_cast<std::size_t>(g) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<std::size_t> rows(start.back());
  {
    std::vector<std::size_t> cursor(start.begin(), start.end() - 1);
    for (std::size_t r = 0; r < n; ++r)
      if (group_of_row[r] >= 0) rows[cursor[static_cast<std::size_t>(group_of_row[r])]++] = r;
  }
  out.group_offsets.assign(n_groups + 1, 0);
  out.source_rows.resize(rows.size());
  out.columns.resize(ncols);
  for (auto& c : out.columns) c.resize(rows.size());
  std::vector<std::span<double>> spans(ncols);
  std::vector<std::size_t> kept;
  CleaningScratch scratch;
  std::size_t w = 0;
  for (std::size_t g = 0; g < n_groups; ++g) {
    out.group_offsets[g] = w;
    auto first = rows.begin() + static_cast<std::ptrdiff_t>(start[g]);
    auto last = rows.begin() + static_cast<std::ptrdiff_t>(start[g + 1]);
    const auto before = [&order](std::size_t a, std::size_t b) {
      const double x = order[a], y = order[b];
      if (std::isnan(y)) return !std::isnan(x);  // NaN last
      return x < y;
    };
    if (!std::is_sorted(first, last, before)) std::stable_sort(first, last, before);
    const std::size_t len = start[g + 1] - start[g];
    for (std::size_t c = 0; c < ncols; ++c) {
      double* dst = out.columns[c].data() + w;
      for (std::size_t i = 0; i < len; ++i) dst[i] = columns[c][rows[start[g] + i]];
      spans[c] = std::span<double>(dst, len);
    }
    kept.resize(len);
    const std::size_t k = clean_animal_track(spans, periods, config, kept, scratch);
    for (std::size_t i = 0; i < k; ++i) out.source_rows[w + i] = rows[start[g] + kept[i]];
    w += k;
  }
  out.group_offsets[n_groups] = w;
  out.source_rows.resize(w);
  for (auto& c : out.columns) c.resize(w);
}

std::size_t reflect_index(int64_t j, std::size_t n) noexcept {
  if (n <= 1) return 0;
  const auto last = static_cast<int64_t>(n) - 1;
  if (j >= 0 && j <= last) return static_cast<std::size_t>(j);
  const int64_t period = 2 * last;
  int64_t m = j % period;
  if (m < 0) m += period;
  if (m > last) m = period - m;
  return static_cast<std::size_t>(m);
}

bool smooth_1d(std::span<const double> x, int64_t win, std::span<double> out) noexcept {
  const std::size_t n = x.size();
  if (win <= 1) {
    std::copy(x.begin(), x.end(), out.begin());
    return true;
  }
  if (win % 2 == 0) return false;
  const int64_t pad = win / 2;
  const double w = 1.0 / static_cast<double>(win);  // np.ones(win) / win
  for (std::size_t i = 0; i < n; ++i) {
    double acc = 0;
    const int64_t lo = static_cast<int64_t>(i) - pad;
    for (int64_t k = 0; k < win; ++k) acc += x[reflect_index(lo + k, n)] * w;
    out[i] = acc;
  }
  return true;
}

bool smooth_angle_1d(std::span<const double> x, int64_t win, std::span<double> out) noexcept {
  constexpr double kTwoPi = 2 * std::numbers::pi;
  const std::size_t n = x.size();
  if (win <= 1) {
    std::copy(x.begin(), x.end(), out.begin());
    return true;
  }
  if (win % 2 == 0) return false;
  // Correction of step i-1 -> i as numpy.unwrap computes it (only called for |step| >= pi).
  auto corr = [&x](std::size_t i) { return unwrap_increment(x[i - 1], x[i], kTwoPi) - (x[i] - x[i - 1]); };
  const int64_t pad = win / 2;
  const double w = 1.0 / static_cast<double>(win);
  for (std::size_t i = 0; i < n; ++i) {
    double acc = 0;
    bool crossed = false;
    const int64_t lo = static_cast<int64_t>(i) - pad;
    for (int64_t k = 0; k < win; ++k) {
      const std::size_t m = reflect_index(lo + k, n);
      // unwrapped value of sample m relative to sample i: x[m] + the corrections between them
      double off = 0;
      if (m > i) {
        for (std::size_t l = i + 1; l <= m; ++l) {
          const double d = x[l] - x[l - 1];
          if (!(std::fabs(d) < std::numbers::pi)) off += corr(l);
        }
      } else {
        for (std::size_t l = m + 1; l <= i; ++l) {
          const double d = x[l] - x[l - 1];
          if (!(std::fabs(d) < std::numbers::pi)) off -= corr(l);
        }
      }
      if (off != 0) crossed = true;
      acc += (off == 0 ? x[m] : x[m] + off) * w;
    }
    out[i] = crossed ? wrap_angle(acc) : acc;
  }
  return true;
}

}  // namespace mosaic::kernels
