#include "features/pose_columns.hpp"

#include <algorithm>

namespace mosaic::features {

std::vector<std::pair<std::string, std::string>> pose_column_pairs(const std::vector<std::string>& columns,
                                                                   const std::string& x_prefix,
                                                                   const std::string& y_prefix) {
  std::vector<std::string> xs;
  for (const auto& c : columns)
    if (c.rfind(x_prefix, 0) == 0) xs.push_back(c);
  std::sort(xs.begin(), xs.end());
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& x : xs) {
    std::string y = y_prefix + x.substr(x_prefix.size());
    if (std::find(columns.begin(), columns.end(), y) != columns.end()) out.emplace_back(x, y);
  }
  return out;
}

}  // namespace mosaic::features
