// golden_csv.hpp: read the Python goldens' CSV exports (../shared/golden) as dense double
// matrices for the kernel tests. Tables with a header go through mosaic::read_csv; the
// headerless array exports (`<file>.<key>.csv`) get a synthetic header first. Pointer files
// (`<key>.csv.identical_to.json`, `<key>.csv.derived_from.json` + merge index) are resolved as
// golden/INDEX.md "Compacted outputs" describes, so tests never need a rebuilt copy on disk.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "mosaic/csv.hpp"
#include "mosaic/table.hpp"

namespace mosaic::testing {

/// ../shared/golden next to the repository (may not exist).
inline std::filesystem::path golden_dir() {
  return std::filesystem::path(MOSAIC_SOURCE_DIR "/../shared/golden");
}

#define MOSAIC_REQUIRE_GOLDEN()                                            \
  do {                                                                     \
    if (!std::filesystem::exists(::mosaic::testing::golden_dir()))        \
      GTEST_SKIP() << "needs ../shared/golden (absent)";                   \
  } while (0)

/// A dense row-major matrix of doubles with column names (NaN for missing or text cells).
struct GoldenMatrix {
  std::vector<std::string> columns;
  std::size_t rows = 0;
  std::vector<double> values;  // rows x columns.size()

  std::size_t cols() const { return columns.size(); }
  double at(std::size_t row, std::size_t col) const { return values[row * cols() + col]; }
  std::size_t col(const std::string& name) const {
    for (std::size_t i = 0; i < columns.size(); ++i)
      if (columns[i] == name) return i;
    throw std::runtime_error("golden matrix has no column " + name);
  }
  /// The column `name` as a vector.
  std::vector<double> column(const std::string& name) const {
    const std::size_t c = col(name);
    std::vector<double> out(rows);
    for (std::size_t r = 0; r < rows; ++r) out[r] = at(r, c);
    return out;
  }
  /// The listed columns, in that order, as a new matrix.
  GoldenMatrix select(const std::vector<std::string>& names) const {
    GoldenMatrix out;
    out.columns = names;
    out.rows = rows;
    out.values.resize(rows * names.size());
    std::vector<std::size_t> idx;
    for (const auto& n : names) idx.push_back(col(n));
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < idx.size(); ++c) out.values[r * names.size() + c] = at(r, idx[c]);
    return out;
  }
};

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline GoldenMatrix to_matrix(const Table& t) {
  GoldenMatrix m;
  m.columns = t.column_names();
  m.rows = t.num_rows();
  m.values.assign(m.rows * m.columns.size(), NAN);
  for (std::size_t c = 0; c < m.columns.size(); ++c) {
    const Column& col = t.column(c);
    if (col.type() == DType::kString) continue;
    for (std::size_t r = 0; r < m.rows; ++r) m.values[r * m.columns.size() + c] = col.as_double(r);
  }
  return m;
}

/// \brief Follow `<path>.identical_to.json` when `path` itself was compacted away.
inline std::filesystem::path resolve_golden_csv(const std::filesystem::path& path) {
  if (std::filesystem::exists(path)) return path;
  const std::filesystem::path pointer = path.string() + ".identical_to.json";
  if (std::filesystem::exists(pointer)) {
    const auto j = nlohmann::json::parse(read_text(pointer));
    return resolve_golden_csv(path.parent_path() / j.at("identical_to").get<std::string>());
  }
  throw std::runtime_error("golden CSV missing: " + path.string());
}

/// \brief A CSV with a header row (per-sequence outputs, `*.parquet.csv` tables). Handles
/// `identical_to` and merge-index `derived_from` pointers.
inline GoldenMatrix read_golden_table(const std::filesystem::path& path) {
  const std::filesystem::path derived = path.string() + ".derived_from.json";
  if (!std::filesystem::exists(path) && std::filesystem::exists(derived)) {
    // Merge-index pointer: row r = left row `left_row` + right row `right_row` minus join keys.
    const auto j = nlohmann::json::parse(read_text(derived));
    const auto dir = path.parent_path();
    if (!j.contains("merge_index_file")) throw std::runtime_error("unsupported pointer " + derived.string());
    const GoldenMatrix left = read_golden_table(dir / j.at("left").get<std::string>());
    const GoldenMatrix right = read_golden_table(dir / j.at("right").get<std::string>());
    const GoldenMatrix index = to_matrix(read_csv(dir / j.at("merge_index_file").get<std::string>()));
    const auto keys = j.at("join_keys").get<std::vector<std::string>>();
    std::vector<std::size_t> right_cols;
    for (std::size_t c = 0; c < right.cols(); ++c)
      if (std::find(keys.begin(), keys.end(), right.columns[c]) == keys.end()) right_cols.push_back(c);
    GoldenMatrix out;
    out.columns = j.at("header").get<std::vector<std::string>>();
    if (out.columns.size() != left.cols() + right_cols.size())
      throw std::runtime_error("merge header size mismatch in " + derived.string());
    out.rows = index.rows;
    out.values.resize(out.rows * out.cols());
    for (std::size_t r = 0; r < out.rows; ++r) {
      const auto lr = static_cast<std::size_t>(index.at(r, index.col("left_row")));
      const auto rr = static_cast<std::size_t>(index.at(r, index.col("right_row")));
      double* dst = &out.values[r * out.cols()];
      for (std::size_t c = 0; c < left.cols(); ++c) *dst++ = left.at(lr, c);
      for (std::size_t c : right_cols) *dst++ = right.at(rr, c);
    }
    return out;
  }
  return to_matrix(read_csv(resolve_golden_csv(path)));
}

/// \brief A headerless numeric array export (`<file>.<key>.csv`, one row per line).
inline GoldenMatrix read_golden_array(const std::filesystem::path& path) {
  std::string text = read_text(resolve_golden_csv(path));
  const std::size_t first_line_end = text.find('\n');
  const std::string first = text.substr(0, first_line_end);
  const std::size_t ncols = static_cast<std::size_t>(std::count(first.begin(), first.end(), ',')) + 1;
  std::string header;
  for (std::size_t c = 0; c < ncols; ++c) header += (c ? ",c" : "c") + std::to_string(c);
  return to_matrix(parse_csv(header + "\n" + text, path.string()));
}

}  // namespace mosaic::testing
