// csv.hpp: CSV in pandas' dialect, typed (track tables, exports) and as plain text (index files).
//
// Typed tables: `read_csv` infers a type per column (int64 if every present cell is an integer,
// float64 if numeric, bool for True/False, otherwise string); an empty cell is missing.
// Index files: `TextCsv` keeps every cell as text, so "0.10" and "001" survive a rewrite, and
// unknown columns keep their order (pipeline.md §0.2-§0.4).
//
//   Table t = read_csv("tracks.csv");
//   TextCsv idx = TextCsv::read("features/x/index.csv");
//   idx.rows.push_back({...}); idx.write_atomic("features/x/index.csv");
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mosaic/table.hpp"

namespace mosaic {

struct CsvReadOptions {
  /// Force the type of some columns (otherwise inferred). Names absent from the file are ignored,
  /// as pandas does. Missing cells stay missing (NaN, or invalid rows for int/bool).
  std::map<std::string, DType> dtypes;
};

/// \brief Read a CSV with a header row into a typed Table. Throws IoError (unreadable, empty
/// file) or InputError naming the file, line and column (ragged rows, a cell that does not parse
/// as the forced type).
///
/// As pandas' read_csv: pandas' default NA spellings ("", "NaN", "nan", "NA", "N/A", "NULL",
/// "null", "None", "<NA>", "#N/A", ...) are missing in every column; an all-missing column is
/// float64; an integer column with a missing cell is float64; a header-only file gives string
/// columns; blank lines are skipped; a UTF-8 BOM is ignored; duplicate header names become
/// "a", "a.1", ... and empty ones "Unnamed: <i>". String cells keep their text exactly.
Table read_csv(const std::filesystem::path& path, const CsvReadOptions& options = {});
/// \brief The same, from text in memory (`source` names it in error messages).
Table parse_csv(std::string_view text, std::string_view source, const CsvReadOptions& options = {});

struct CsvWriteOptions {
  /// printf precision for floats: 17 significant digits round-trips every double (pandas'
  /// float_format="%.17g"). 0 = Python's repr, the shortest round-trip form ("0.1", "1e-05",
  /// "1.0"), which is what pandas writes without a float_format.
  int float_significant_digits = 17;
};

/// \brief Write a Table as CSV (pandas to_csv(index=False) dialect; NaN/null as empty cell;
/// bools as True/False), atomically.
void write_csv(const Table& table, const std::filesystem::path& path, const CsvWriteOptions& options = {});
std::string format_csv(const Table& table, const CsvWriteOptions& options = {});

/// \brief A CSV whose cells are all text: the format of every index.csv.
struct TextCsv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  /// Read a file; a missing file throws IoError, an empty (0-byte) file gives no header. Rows
  /// shorter than the header are padded with "" (missing trailing cells); longer rows throw
  /// InputError naming the line.
  static TextCsv read(const std::filesystem::path& path);
  static TextCsv parse(std::string_view text, std::string_view source);
  /// Serialise: header, rows; quote a cell only when it holds a comma, quote or newline.
  std::string format() const;
  void write_atomic(const std::filesystem::path& path) const;

  std::optional<std::size_t> column_index(std::string_view name) const;
  /// The cell of `row` in column `name`, or "" when the column is absent or the row is short.
  std::string_view cell(std::size_t row, std::string_view name) const;
  /// Add a column at the end (empty cells) if it is absent; return its index.
  std::size_t ensure_column(std::string_view name);
};

/// \brief Quote one CSV field the way pandas does (only when needed).
std::string csv_quote(std::string_view field);

}  // namespace mosaic
