// table.hpp: mosaic's column-major table, the unit every feature reads and writes.
//
// A Table is an ordered list of named, typed columns of equal length. Columns are immutable once
// built and shared between tables (select/rename are zero-copy); `mutable_column` copies a column
// only when another table still shares it. Missing values: NaN for float columns, a validity
// mask for integer/bool columns, a null code for strings. Strings are dictionary-encoded, so a
// `group` column repeated on every row costs 4 bytes per row.
//
//   Table t;
//   t.add_column("frame", Column::from_int64({0, 1, 2}));
//   t.add_column("x", Column::from_float64({0.5, NAN, 2.0}));
//   auto x = t.column("x").f64();            // std::span<const double>
//   auto v = t.column("x").f64_map();        // Eigen::Map<const Eigen::VectorXd>, zero-copy
//   Table sorted = t.sort_by({"frame"});     // stable
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mosaic {

/// Column types. The names follow pandas' dtype names (`dtype_name`).
enum class DType : uint8_t { kFloat64, kFloat32, kInt64, kInt32, kInt8, kBool, kString };

/// \brief Return the pandas dtype name: float64, float32, int64, int32, int8, bool, object.
std::string_view dtype_name(DType type) noexcept;
/// \brief True for the float and integer types (pandas `select_dtypes("number")`, which excludes bool).
bool is_numeric(DType type) noexcept;
bool is_floating(DType type) noexcept;
bool is_integer(DType type) noexcept;

/// \brief One typed column. Cheap to move; copy copies the data.
class Column {
 public:
  Column() = default;

  /// \name Construction
  /// @{
  static Column from_float64(std::vector<double> values);
  static Column from_float32(std::vector<float> values);
  static Column from_int64(std::vector<int64_t> values, std::vector<uint8_t> validity = {});
  static Column from_int32(std::vector<int32_t> values, std::vector<uint8_t> validity = {});
  static Column from_int8(std::vector<int8_t> values, std::vector<uint8_t> validity = {});
  /// Bool values as bytes 0/1.
  static Column from_bool(std::vector<uint8_t> values, std::vector<uint8_t> validity = {});
  static Column from_strings(const std::vector<std::string>& values);
  /// Strings from a dictionary and per-row codes (code -1 = null).
  static Column from_dictionary(std::vector<std::string> dictionary, std::vector<int32_t> codes);
  /// A string column holding `value` on every one of `rows` rows.
  static Column constant_string(std::string value, std::size_t rows);
  static Column constant_float64(double value, std::size_t rows);
  static Column constant_int64(int64_t value, std::size_t rows);
  /// An all-missing column of the given type (NaN / invalid / null).
  static Column nulls(DType type, std::size_t rows);
  /// @}

  DType type() const noexcept { return type_; }
  std::size_t size() const noexcept { return size_; }

  /// \name Typed access (throws InternalError on a type mismatch)
  /// @{
  std::span<const double> f64() const;
  std::span<const float> f32() const;
  std::span<const int64_t> i64() const;
  std::span<const int32_t> i32() const;
  std::span<const int8_t> i8() const;
  std::span<const uint8_t> bools() const;
  std::span<double> f64_mut();
  std::span<float> f32_mut();
  std::span<int64_t> i64_mut();
  std::span<int32_t> i32_mut();
  std::span<int8_t> i8_mut();
  std::span<uint8_t> bools_mut();
  Eigen::Map<const Eigen::VectorXd> f64_map() const;
  Eigen::Map<const Eigen::VectorXf> f32_map() const;
  Eigen::Map<const Eigen::Matrix<int64_t, Eigen::Dynamic, 1>> i64_map() const;
  /// String dictionary and codes (code -1 = null).
  const std::vector<std::string>& dictionary() const;
  std::span<const int32_t> codes() const;
  /// @}

  /// \name Validity
  /// For floats, missing = NaN; for strings, code -1; otherwise the validity mask (empty = all valid).
  /// @{
  bool is_null(std::size_t row) const;
  bool has_nulls() const;
  std::size_t null_count() const;
  /// The raw validity mask for integer/bool columns (empty when all rows are valid).
  const std::vector<uint8_t>& validity() const noexcept { return validity_; }
  void set_validity(std::vector<uint8_t> validity);
  /// @}

  /// \name Row-wise conversions (slow paths: for I/O, tests and small tables only)
  /// @{
  /// The value as double; NaN for nulls. Strings throw.
  double as_double(std::size_t row) const;
  /// The value as int64; throws on null, non-integral floats or strings.
  int64_t as_int64(std::size_t row) const;
  /// The string at `row` ("" for null).
  std::string_view str(std::size_t row) const;
  /// @}

  /// \name Whole-column operations
  /// @{
  /// Gather rows by index (indices must be in range).
  Column take(std::span<const int64_t> rows) const;
  Column slice(std::size_t offset, std::size_t length) const;
  /// Keep rows where mask[row] != 0.
  Column filter(std::span<const uint8_t> mask) const;
  /// Convert to another type (numeric casts; float→int requires integral, non-missing values).
  Column cast(DType to) const;
  /// Concatenate columns of the same type (string dictionaries are merged).
  static Column concat(std::span<const Column* const> parts);
  /// True when types, lengths and values are equal (NaN equals NaN; strings by value).
  bool equals(const Column& other) const;
  /// @}

 private:
  DType type_ = DType::kFloat64;
  std::size_t size_ = 0;
  // Exactly one of these holds data, chosen by type_.
  std::vector<double> f64_;
  std::vector<float> f32_;
  std::vector<int64_t> i64_;
  std::vector<int32_t> i32_;
  std::vector<int8_t> i8_;  // int8 values
  std::vector<uint8_t> b_;  // bool values 0/1
  std::vector<std::string> dict_;
  std::vector<int32_t> codes_;
  std::vector<uint8_t> validity_;  // integer/bool only; empty = all valid

  friend class Table;
};

/// \brief An ordered set of named columns of equal length.
class Table {
 public:
  Table() = default;

  std::size_t num_rows() const noexcept { return num_rows_; }
  std::size_t num_columns() const noexcept { return columns_.size(); }
  bool empty() const noexcept { return num_rows_ == 0; }
  const std::vector<std::string>& column_names() const noexcept { return names_; }
  bool has_column(std::string_view name) const noexcept;
  std::optional<std::size_t> column_index(std::string_view name) const noexcept;

  /// \brief The column `name`; throws SchemaError naming the available columns when absent.
  const Column& column(std::string_view name) const;
  const Column& column(std::size_t index) const;
  /// \brief A writable column; copies it first when another table shares it.
  Column& mutable_column(std::string_view name);
  std::shared_ptr<const Column> shared_column(std::size_t index) const { return columns_[index]; }

  /// \brief Append a column. Throws on a duplicate name or a length mismatch (the first column
  /// of an empty table sets the row count).
  void add_column(std::string name, Column column);
  void add_column(std::string name, std::shared_ptr<const Column> column);
  /// \brief Replace the column `name` in place, or append it when absent.
  void set_column(std::string name, Column column);
  /// \brief Remove a column if present.
  void drop_column(std::string_view name);
  /// \brief Set the row count of a table without columns (pandas allows 0-column frames with rows).
  void set_num_rows_without_columns(std::size_t rows);

  /// \name Relational operations (all return new tables; column data is shared where possible)
  /// @{
  /// Columns in the given order; throws SchemaError on a missing name.
  Table select(const std::vector<std::string>& names) const;
  /// Rename columns by (old, new) pairs; names not present are ignored.
  Table rename(const std::vector<std::pair<std::string, std::string>>& renames) const;
  Table slice(std::size_t offset, std::size_t length) const;
  Table filter(std::span<const uint8_t> mask) const;
  Table take(std::span<const int64_t> rows) const;
  /// Row order that sorts by the key columns, stable (ties keep input order). NaN sorts last,
  /// like pandas' na_position="last"; strings by byte order (Python's code-point order).
  std::vector<int64_t> stable_sort_indices(const std::vector<std::string>& keys) const;
  Table sort_by(const std::vector<std::string>& keys) const;
  /// Concatenate tables with the same column names in the same order (types must agree).
  static Table concat(std::span<const Table> tables);
  /// Inner join on key columns, pandas >= 2.2 semantics: result rows in left row order, and for
  /// each left row its matches in right row order (many-to-many gives the cartesian product).
  /// Result columns: all left columns, then the right columns that are not keys. The caller
  /// renames clashing right columns first. Keys of different numeric types compare by value.
  Table inner_join(const Table& right, const std::vector<std::string>& keys) const;
  /// @}

  /// \brief True when names, order, types and values are equal.
  bool equals(const Table& other) const;

 private:
  std::vector<std::string> names_;
  std::vector<std::shared_ptr<const Column>> columns_;
  std::size_t num_rows_ = 0;
};

}  // namespace mosaic
