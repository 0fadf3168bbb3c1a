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
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
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
  return best_d <= limit ? best : std::string();
}

}  // namespace mosaic
