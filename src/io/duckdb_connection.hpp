// duckdb_connection.hpp: RAII over DuckDB's C API (duckdb.h), private to libmosaic.
//
// One in-memory database per process (created on first use), one connection per thread: features
// read and write Parquet from several worker threads at once, and a DuckDB connection must not be
// used by two threads concurrently. Every duckdb_state goes through `check(...)`, which throws
// mosaic::IoError with DuckDB's message and the file or SQL it was about.
//
//   auto& con = io::thread_connection();
//   io::Result r = con.query("SELECT num_rows FROM parquet_file_metadata('a.parquet')", "a.parquet");
//   while (io::DataChunk chunk = r.fetch_chunk()) { ... }
#pragma once

#include <duckdb.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "mosaic/table.hpp"

namespace mosaic::io {

// ---- Owners ---------------------------------------------------------------------------------------

struct DataChunkDeleter {
  void operator()(_duckdb_data_chunk* chunk) const noexcept {
    duckdb_data_chunk c = chunk;
    duckdb_destroy_data_chunk(&c);
  }
};
/// A data chunk fetched from a result (or created for appending); destroyed with the owner.
using DataChunk = std::unique_ptr<_duckdb_data_chunk, DataChunkDeleter>;

struct LogicalTypeDeleter {
  void operator()(_duckdb_logical_type* type) const noexcept {
    duckdb_logical_type t = type;
    duckdb_destroy_logical_type(&t);
  }
};
using LogicalType = std::unique_ptr<_duckdb_logical_type, LogicalTypeDeleter>;

/// \brief A query result. duckdb.h requires duckdb_destroy_result even when the query failed, so
/// the owner is created before the query runs and always destroys it.
class Result {
 public:
  Result() = default;
  ~Result();
  Result(Result&& other) noexcept;
  Result& operator=(Result&& other) noexcept;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  /// The result to pass to a duckdb_* call that fills it; from then on it is destroyed with us.
  duckdb_result* out() noexcept;
  duckdb_result* get() noexcept { return &result_; }

  idx_t column_count() noexcept { return duckdb_column_count(&result_); }
  std::string column_name(idx_t col) { return duckdb_column_name(&result_, col); }
  duckdb_type column_type(idx_t col) noexcept { return duckdb_column_type(&result_, col); }
  /// The next chunk, or an empty pointer when the result is exhausted. Throws IoError when a
  /// streaming result fails mid-way (the error is then in the result).
  DataChunk fetch_chunk(std::string_view context);

 private:
  duckdb_result result_{};
  bool armed_ = false;
};

class PreparedStatement {
 public:
  PreparedStatement() = default;
  explicit PreparedStatement(duckdb_prepared_statement statement) : statement_(statement) {}
  ~PreparedStatement();
  PreparedStatement(PreparedStatement&& other) noexcept;
  PreparedStatement& operator=(PreparedStatement&& other) noexcept;
  PreparedStatement(const PreparedStatement&) = delete;
  PreparedStatement& operator=(const PreparedStatement&) = delete;

  duckdb_prepared_statement get() const noexcept { return statement_; }
  idx_t column_count() const noexcept { return duckdb_prepared_statement_column_count(statement_); }
  std::string column_name(idx_t col) const;
  LogicalType column_logical_type(idx_t col) const {
    return LogicalType(duckdb_prepared_statement_column_logical_type(statement_, col));
  }

  /// Execute and materialise the whole result.
  Result execute(std::string_view context);
  /// Execute as a streaming result: chunks are produced as they are fetched, so a large read
  /// never holds DuckDB's copy and ours of the whole table at once.
  Result execute_streaming(std::string_view context);

 private:
  duckdb_prepared_statement statement_ = nullptr;
};

// ---- Errors ---------------------------------------------------------------------------------------

/// \brief Throw IoError("<context>: <DuckDB error>") unless `state` is DuckDBSuccess.
void check(duckdb_state state, duckdb_result* result, std::string_view context);
void check(duckdb_state state, duckdb_prepared_statement statement, std::string_view context);

// ---- Database and connections ---------------------------------------------------------------------

/// \brief A connection to the process-wide database, with mosaic's table functions registered.
class Connection {
 public:
  Connection();
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  duckdb_connection get() const noexcept { return connection_; }
  /// Run SQL and materialise its result; `context` names the file (or the purpose) in errors.
  Result query(const std::string& sql, std::string_view context);
  PreparedStatement prepare(const std::string& sql, std::string_view context);

 private:
  duckdb_connection connection_ = nullptr;
};

/// \brief The calling thread's connection (created on first use, closed at thread exit).
Connection& thread_connection();

/// \brief Threads DuckDB uses per query. 1 by default: output bytes are then deterministic and
/// parallelism comes from running several files at once; `MOSAIC_DUCKDB_THREADS` overrides it.
int duckdb_threads();

// ---- SQL text -------------------------------------------------------------------------------------

/// \brief A single-quoted SQL string literal ('it''s').
std::string sql_string(std::string_view text);
/// \brief A double-quoted SQL identifier ("my ""col""").
std::string sql_identifier(std::string_view name);

// ---- Streaming a mosaic::Table into DuckDB ----------------------------------------------------------

/// \brief While alive, `table` can be scanned as `mosaic_table_scan(<handle()>)` from any thread's
/// connection: a DuckDB table function that streams the columns into data chunks (NaN floats and
/// invalid integers become NULL). The table must outlive the registration and not change meanwhile.
class TableScanRegistration {
 public:
  /// `column_names` replaces the table's names in DuckDB (empty = the table's own names).
  explicit TableScanRegistration(const Table& table, std::vector<std::string> column_names = {});
  ~TableScanRegistration();
  TableScanRegistration(const TableScanRegistration&) = delete;
  TableScanRegistration& operator=(const TableScanRegistration&) = delete;
  int64_t handle() const noexcept { return handle_; }

 private:
  int64_t handle_;
};

}  // namespace mosaic::io
