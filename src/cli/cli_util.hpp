// cli_util.hpp: small helpers shared by the sub-commands (aligned text tables, JSON output).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mosaic::cli {

/// \brief Print rows as an aligned text table with a header line (numbers right-aligned).
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

/// \brief Print JSON with indent 2 and a trailing newline (Python's json.dumps(indent=2) bytes).
void print_json(const nlohmann::ordered_json& value);

/// \brief True when stderr is a terminal (progress bars) and not silenced.
bool stderr_is_terminal();

/// \brief Parse "a,b,c" or repeated values into a list (empty items dropped).
std::vector<std::string> split_list(const std::vector<std::string>& values);

}  // namespace mosaic::cli
