// parquet.hpp: read and write Parquet files through DuckDB, the way pandas' to_parquet does.
//
// Files we write look like `df.to_parquet(path, index=False)`: the table's column names and
// types (int64 frame/id, string group/sequence, float64/float32 values, bool), no index column,
// NaN floats stored as nulls (as pyarrow does). Reading drops pandas' `__index_level_N__` columns
// and turns float nulls back into NaN. Every write is atomic (temporary file + rename).
//
//   write_parquet(table, "features/x/0.1-abc/g__s.parquet");
//   Table t = read_parquet("tracks/g__s.parquet", {.columns = {"frame", "X"}, .frame_start = 100});
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mosaic/table.hpp"

namespace mosaic {

struct ParquetReadOptions {
  /// Columns to read, in this order (empty = all columns in file order).
  std::vector<std::string> columns;
  /// Keep rows with frame >= frame_start and frame < frame_end (pushed down to row groups).
  std::optional<int64_t> frame_start;
  std::optional<int64_t> frame_end;
  std::string frame_column = "frame";
};

enum class ParquetCompression : uint8_t { kSnappy, kZstd, kUncompressed };

struct ParquetWriteOptions {
  ParquetCompression compression = ParquetCompression::kSnappy;
  /// Extra key/value pairs for the file's metadata (e.g. pandas' DataFrame.attrs).
  std::vector<std::pair<std::string, std::string>> key_value_metadata;
};

/// \brief Read a Parquet file into a Table. Throws IoError naming the file on any failure, and
/// SchemaError when a requested column is missing.
///
/// Types: DOUBLE/FLOAT/BIGINT/INTEGER/TINYINT/BOOLEAN/VARCHAR map to float64/float32/int64/int32/
/// int8/bool/string; other integer widths widen to int64; timestamps (any unit, with or without
/// time zone) and dates become int64 nanoseconds since the Unix epoch (UTC), i.e. the values of
/// pandas' datetime64[ns]; DECIMAL becomes float64; ENUM (pandas categoricals) becomes string.
/// Nested and binary columns are refused with a SchemaError when they are read. Nulls are NaN in
/// float columns and invalid rows (validity mask) in integer and bool columns.
Table read_parquet(const std::filesystem::path& path, const ParquetReadOptions& options = {});

/// \brief Write a Table as Parquet, atomically (temporary file in the same folder, then rename).
/// A table with zero columns is written as a valid zero-column file (footer only, as pyarrow
/// writes one). Identical tables give identical bytes. The parent folder must exist.
void write_parquet(const Table& table, const std::filesystem::path& path,
                   const ParquetWriteOptions& options = {});

/// \brief Row count from the file footer, without reading data. Throws IoError on a bad footer.
int64_t parquet_row_count(const std::filesystem::path& path);

/// \brief Column names and types from the file footer (pandas index columns dropped).
std::vector<std::pair<std::string, DType>> parquet_schema(const std::filesystem::path& path);

/// \brief Key/value metadata of the file (e.g. the "pandas" key written by pyarrow).
std::vector<std::pair<std::string, std::string>> parquet_key_value_metadata(
    const std::filesystem::path& path);

}  // namespace mosaic
