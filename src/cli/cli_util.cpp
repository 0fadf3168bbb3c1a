#include "cli/cli_util.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "mosaic/json.hpp"

namespace mosaic::cli {

namespace {
bool looks_numeric(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end && *end == '\0';
}
}  // namespace

void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  auto line = [&](const std::vector<std::string>& cells, bool is_header) {
    std::string out;
    for (std::size_t c = 0; c < width.size(); ++c) {
      std::string cell = c < cells.size() ? cells[c] : "";
      std::string pad(width[c] - std::min(width[c], cell.size()), ' ');
      bool right = !is_header && looks_numeric(cell);
      if (c) out += "  ";
      out += right ? pad + cell : cell + (c + 1 < width.size() ? pad : "");
    }
    std::printf("%s\n", out.c_str());
  };
  line(header, true);
  for (const auto& r : rows) line(r, false);
}

void print_json(const nlohmann::ordered_json& value) {
  PyDumpOptions opt;
  opt.indent = 2;
  std::printf("%s\n", python_json_dumps(value, opt).c_str());
}

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

std::vector<std::string> split_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    std::size_t start = 0;
    while (start <= v.size()) {
      auto comma = v.find(',', start);
      std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!item.empty()) out.push_back(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

}  // namespace mosaic::cli
