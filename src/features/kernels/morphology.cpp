#include "features/kernels/morphology.hpp"

#include <algorithm>

namespace mosaic::kernels {

namespace {

// prefix[i] = number of True samples in x[0, i)
void prefix_counts(std::span<const uint8_t> x, std::vector<int64_t>& prefix) {
  prefix.resize(x.size() + 1);
  prefix[0] = 0;
  for (std::size_t i = 0; i < x.size(); ++i) prefix[i + 1] = prefix[i] + (x[i] ? 1 : 0);
}

}  // namespace

void binary_erosion_1d(std::span<const uint8_t> x, int64_t s, std::span<uint8_t> out,
                       std::vector<int64_t>& prefix_scratch) {
  const auto n = static_cast<int64_t>(x.size());
  prefix_counts(x, prefix_scratch);
  const int64_t c = s / 2;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t lo = i - c, hi = i + s - 1 - c;  // inclusive window
    if (lo < 0 || hi >= n) {
      out[static_cast<std::size_t>(i)] = 0;  // a border sample (False) is in the window
      continue;
    }
    out[static_cast<std::size_t>(i)] = prefix_scratch[static_cast<std::size_t>(hi + 1)] -
                                                   prefix_scratch[static_cast<std::size_t>(lo)] ==
                                               s
                                           ? 1
                                           : 0;
  }
}

void binary_dilation_1d(std::span<const uint8_t> x, int64_t s, std::span<uint8_t> out,
                        std::vector<int64_t>& prefix_scratch) {
  const auto n = static_cast<int64_t>(x.size());
  prefix_counts(x, prefix_scratch);
  const int64_t c = s / 2;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t lo = std::max<int64_t>(0, i - (s - 1 - c));
    const int64_t hi = std::min<int64_t>(n - 1, i + c);
    out[static_cast<std::size_t>(i)] =
        hi >= lo && prefix_scratch[static_cast<std::size_t>(hi + 1)] - prefix_scratch[static_cast<std::size_t>(lo)] > 0 ? 1 : 0;
  }
}

void remove_bool_islands(std::span<uint8_t> x, int64_t s, std::vector<uint8_t>& scratch,
                         std::vector<int64_t>& prefix_scratch) {
  scratch.resize(x.size());
  std::span<uint8_t> tmp(scratch);
  binary_dilation_1d(x, s, tmp, prefix_scratch);  // closing = erosion(dilation)
  binary_erosion_1d(tmp, s, x, prefix_scratch);
  binary_erosion_1d(x, s, tmp, prefix_scratch);   // opening = dilation(erosion)
  binary_dilation_1d(tmp, s, x, prefix_scratch);
}

std::vector<std::pair<std::size_t, std::size_t>> find_long_true_runs(std::span<const uint8_t> x, int64_t min_run,
                                                                     int64_t pad) {
  std::vector<std::pair<std::size_t, std::size_t>> runs;
  const auto n = static_cast<int64_t>(x.size());
  int64_t i = 0;
  while (i < n) {
    if (!x[static_cast<std::size_t>(i)]) {
      ++i;
      continue;
    }
    const int64_t s = i;
    while (i < n && x[static_cast<std::size_t>(i)]) ++i;
    const int64_t e = i - 1;
    if (e - s + 1 >= min_run) {
      const int64_t lo = std::max<int64_t>(0, s - pad);
      const int64_t hi = std::min<int64_t>(n, e + 1 + pad);
      runs.emplace_back(static_cast<std::size_t>(lo), static_cast<std::size_t>(hi));
    }
  }
  return runs;
}

}  // namespace mosaic::kernels
