#include "mosaic/errors.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace mosaic {

std::string join_names(const std::vector<std::string>& names, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out.append(sep);
    out.append(names[i]);
  }
  return out;
}

SchemaError SchemaError::missing_column(std::string_view where, std::string_view name,
                                        const std::vector<std::string>& available) {
  std::string hint = did_you_mean(name, available);
  return SchemaError(fmt::format("{}: missing column '{}'{} (available: {})", where, name,
                                 hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                                 available.empty() ? "none" : join_names(available)));
}

SchemaError SchemaError::wrong_type(std::string_view where, std::string_view name,
                                    std::string_view expected, std::string_view got) {
  return SchemaError(
      fmt::format("{}: column '{}' has type {}, expected {}", where, name, got, expected));
}

namespace {
// Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
// neighbouring characters each cost 1, so "fsp" is one edit from "fps".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i)
    for (std::size_t j = 1; j <= m; ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}
}  // namespace

std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(name, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  // Close enough: at most a third of the name's length (at least 1, at most 3 edits).
  std::size_t limit = std::clamp<std::size_t>(name.size() / 3, 1, 3);
  // A suggestion that replaces the whole name says nothing ("x" is one edit from "a").
  return best_d <= limit && best_d < name.size() ? best : std::string();
}

}  // namespace mosaic
