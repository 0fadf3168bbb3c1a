#include "io/duckdb_connection.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <mutex>
#include <unordered_map>

#include "mosaic/errors.hpp"

namespace mosaic::io {

// ---- Errors ---------------------------------------------------------------------------------------

void check(duckdb_state state, duckdb_result* result, std::string_view context) {
  if (state == DuckDBSuccess) return;
  const char* message = result ? duckdb_result_error(result) : nullptr;
  throw IoError(fmt::format("{}: {}", context, message ? message : "DuckDB error (no message)"));
}

void check(duckdb_state state, duckdb_prepared_statement statement, std::string_view context) {
  if (state == DuckDBSuccess) return;
  const char* message = statement ? duckdb_prepare_error(statement) : nullptr;
  throw IoError(fmt::format("{}: {}", context, message ? message : "DuckDB error (no message)"));
}

// ---- Result / PreparedStatement -------------------------------------------------------------------

Result::~Result() {
  if (armed_) duckdb_destroy_result(&result_);
}
Result::Result(Result&& other) noexcept : result_(other.result_), armed_(other.armed_) {
  other.armed_ = false;
  other.result_ = {};
}
Result& Result::operator=(Result&& other) noexcept {
  if (this != &other) {
    if (armed_) duckdb_destroy_result(&result_);
    result_ = other.result_;
    armed_ = other.armed_;
    other.armed_ = false;
    other.result_ = {};
  }
  return *this;
}
duckdb_result* Result::out() noexcept {
  if (armed_) duckdb_destroy_result(&result_);
  result_ = {};
  armed_ = true;
  return &result_;
}

DataChunk Result::fetch_chunk(std::string_view context) {
  DataChunk chunk(duckdb_fetch_chunk(result_));
  if (!chunk) {
    // NULL means "exhausted" or "failed"; a streaming result reports the failure here.
    const char* message = duckdb_result_error(&result_);
    if (message && *message) throw IoError(fmt::format("{}: {}", context, message));
  }
  return chunk;
}

PreparedStatement::~PreparedStatement() {
  if (statement_) duckdb_destroy_prepare(&statement_);
}
PreparedStatement::PreparedStatement(PreparedStatement&& other) noexcept : statement_(other.statement_) {
  other.statement_ = nullptr;
}
PreparedStatement& PreparedStatement::operator=(PreparedStatement&& other) noexcept {
  if (this != &other) {
    if (statement_) duckdb_destroy_prepare(&statement_);
    statement_ = other.statement_;
    other.statement_ = nullptr;
  }
  return *this;
}

std::string PreparedStatement::column_name(idx_t col) const {
  const char* name = duckdb_prepared_statement_column_name(statement_, col);
  std::string out = name ? name : "";
  // The C API hands out a malloc'ed copy of the name.
  duckdb_free(const_cast<char*>(name));
  return out;
}

Result PreparedStatement::execute(std::string_view context) {
  Result result;
  check(duckdb_execute_prepared(statement_, result.out()), result.get(), context);
  return result;
}

Result PreparedStatement::execute_streaming(std::string_view context) {
  Result result;
#ifndef DUCKDB_API_NO_DEPRECATED
  // Deprecated in 1.4 but it is the C API's only streaming entry point; we pin DuckDB 1.4.4.
  check(duckdb_execute_prepared_streaming(statement_, result.out()), result.get(), context);
#else
  check(duckdb_execute_prepared(statement_, result.out()), result.get(), context);
#endif
  return result;
}

// ---- SQL text -------------------------------------------------------------------------------------

std::string sql_string(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  for (char c : text) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string sql_identifier(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out.push_back('"');
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// ---- Table scan function -------------------------------------------------------------------------

namespace {

struct ScanSource {
  const Table* table;
  std::vector<std::string> names;  // the names DuckDB sees
};

std::mutex g_scan_mutex;
std::unordered_map<int64_t, ScanSource> g_scan_tables;
std::atomic<int64_t> g_next_scan_handle{1};

duckdb_type duckdb_type_for(DType type) {
  switch (type) {
    case DType::kFloat64: return DUCKDB_TYPE_DOUBLE;
    case DType::kFloat32: return DUCKDB_TYPE_FLOAT;
    case DType::kInt64: return DUCKDB_TYPE_BIGINT;
    case DType::kInt32: return DUCKDB_TYPE_INTEGER;
    case DType::kInt8: return DUCKDB_TYPE_TINYINT;
    case DType::kBool: return DUCKDB_TYPE_BOOLEAN;
    case DType::kString: return DUCKDB_TYPE_VARCHAR;
  }
  return DUCKDB_TYPE_INVALID;
}

struct ScanBind {
  const Table* table;
};
struct ScanState {
  std::size_t next_row = 0;
};

void scan_bind(duckdb_bind_info info) {
  duckdb_value value = duckdb_bind_get_parameter(info, 0);
  int64_t handle = duckdb_get_int64(value);
  duckdb_destroy_value(&value);
  ScanSource source{nullptr, {}};
  {
    std::lock_guard lock(g_scan_mutex);
    auto it = g_scan_tables.find(handle);
    if (it != g_scan_tables.end()) source = it->second;
  }
  const Table* table = source.table;
  if (!table) {
    duckdb_bind_set_error(info, "mosaic_table_scan: unknown table handle");
    return;
  }
  for (std::size_t c = 0; c < table->num_columns(); ++c) {
    LogicalType type(duckdb_create_logical_type(duckdb_type_for(table->column(c).type())));
    duckdb_bind_add_result_column(info, source.names[c].c_str(), type.get());
  }
  duckdb_bind_set_cardinality(info, table->num_rows(), true);
  duckdb_bind_set_bind_data(info, new ScanBind{table}, [](void* p) { delete static_cast<ScanBind*>(p); });
}

void scan_init(duckdb_init_info info) {
  // One thread: the chunks then reach the writer in table order, and the bytes are deterministic.
  duckdb_init_set_max_threads(info, 1);
  duckdb_init_set_init_data(info, new ScanState, [](void* p) { delete static_cast<ScanState*>(p); });
}

template <typename T>
void copy_values(duckdb_vector vec, std::span<const T> values, std::size_t offset, std::size_t n) {
  std::memcpy(duckdb_vector_get_data(vec), values.data() + offset, n * sizeof(T));
}

void mark_invalid(duckdb_vector vec, uint64_t*& validity, idx_t row) {
  if (!validity) {
    duckdb_vector_ensure_validity_writable(vec);
    validity = duckdb_vector_get_validity(vec);
  }
  duckdb_validity_set_row_invalid(validity, row);
}

template <typename Float>
void copy_floats(duckdb_vector vec, std::span<const Float> values, std::size_t offset, std::size_t n) {
  copy_values(vec, values, offset, n);
  // NaN is written as NULL, as pyarrow's from_pandas does.
  uint64_t* validity = nullptr;
  const Float* src = values.data() + offset;
  for (std::size_t i = 0; i < n; ++i)
    if (std::isnan(src[i])) mark_invalid(vec, validity, i);
}

void copy_validity(duckdb_vector vec, const Column& col, std::size_t offset, std::size_t n) {
  const auto& valid = col.validity();
  if (valid.empty()) return;
  uint64_t* validity = nullptr;
  for (std::size_t i = 0; i < n; ++i)
    if (!valid[offset + i]) mark_invalid(vec, validity, i);
}

void copy_strings(duckdb_vector vec, const Column& col, std::size_t offset, std::size_t n) {
  auto* out = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vec));
  const auto& dict = col.dictionary();
  auto codes = col.codes();
  uint64_t* validity = nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    int32_t code = codes[offset + i];
    if (code < 0) {
      mark_invalid(vec, validity, i);
      continue;
    }
    const std::string& s = dict[static_cast<std::size_t>(code)];
    auto len = static_cast<uint32_t>(s.size());
    duckdb_string_t& dst = out[i];
    // Write DuckDB's string_t in place instead of copying every value into the vector's heap:
    // short strings are inlined, longer ones point at our dictionary, which outlives the query
    // (the registration keeps the table alive and unchanged until the statement has finished).
    if (len <= 12) {
      std::memset(&dst, 0, sizeof dst);
      dst.value.inlined.length = len;
      std::memcpy(dst.value.inlined.inlined, s.data(), len);
    } else {
      dst.value.pointer.length = len;
      std::memcpy(dst.value.pointer.prefix, s.data(), 4);
      dst.value.pointer.ptr = const_cast<char*>(s.data());
    }
  }
}

void scan_function(duckdb_function_info info, duckdb_data_chunk output) {
  try {
    const Table& table = *static_cast<ScanBind*>(duckdb_function_get_bind_data(info))->table;
    auto* state = static_cast<ScanState*>(duckdb_function_get_init_data(info));
    const std::size_t offset = state->next_row;
    const std::size_t n = std::min<std::size_t>(duckdb_vector_size(), table.num_rows() - offset);
    for (std::size_t c = 0; c < table.num_columns() && n > 0; ++c) {
      const Column& col = table.column(c);
      duckdb_vector vec = duckdb_data_chunk_get_vector(output, c);
      switch (col.type()) {
        case DType::kFloat64: copy_floats(vec, col.f64(), offset, n); break;
        case DType::kFloat32: copy_floats(vec, col.f32(), offset, n); break;
        case DType::kInt64: copy_values(vec, col.i64(), offset, n); break;
        case DType::kInt32: copy_values(vec, col.i32(), offset, n); break;
        case DType::kInt8: copy_values(vec, col.i8(), offset, n); break;
        case DType::kBool: copy_values(vec, col.bools(), offset, n); break;  // DuckDB bools are 0/1 bytes
        case DType::kString: copy_strings(vec, col, offset, n); break;
      }
      if (col.type() != DType::kString && !is_floating(col.type())) copy_validity(vec, col, offset, n);
    }
    duckdb_data_chunk_set_size(output, n);
    state->next_row = offset + n;
  } catch (const std::exception& e) {
    // Exceptions must not cross DuckDB's C boundary; the statement fails with this message.
    duckdb_function_set_error(info, e.what());
  }
}

void register_table_scan(duckdb_connection connection) {
  duckdb_table_function fn = duckdb_create_table_function();
  duckdb_table_function_set_name(fn, "mosaic_table_scan");
  LogicalType handle_type(duckdb_create_logical_type(DUCKDB_TYPE_BIGINT));
  duckdb_table_function_add_parameter(fn, handle_type.get());
  duckdb_table_function_set_bind(fn, scan_bind);
  duckdb_table_function_set_init(fn, scan_init);
  duckdb_table_function_set_function(fn, scan_function);
  duckdb_state state = duckdb_register_table_function(connection, fn);
  duckdb_destroy_table_function(&fn);
  if (state != DuckDBSuccess) throw IoError("DuckDB: cannot register the mosaic_table_scan table function");
}

}  // namespace

TableScanRegistration::TableScanRegistration(const Table& table, std::vector<std::string> column_names)
    : handle_(g_next_scan_handle.fetch_add(1)) {
  if (column_names.empty()) column_names = table.column_names();
  if (column_names.size() != table.num_columns())
    throw InternalError(fmt::format("{} names for a table of {} columns", column_names.size(), table.num_columns()));
  std::lock_guard lock(g_scan_mutex);
  g_scan_tables.emplace(handle_, ScanSource{&table, std::move(column_names)});
}

TableScanRegistration::~TableScanRegistration() {
  std::lock_guard lock(g_scan_mutex);
  g_scan_tables.erase(handle_);
}

// ---- Database and connections ---------------------------------------------------------------------

int duckdb_threads() {
  static const int threads = [] {
    const char* env = std::getenv("MOSAIC_DUCKDB_THREADS");
    int n = env ? std::atoi(env) : 1;
    return n >= 1 ? n : 1;
  }();
  return threads;
}

namespace {

class Database {
 public:
  Database() {
    duckdb_config config = nullptr;
    if (duckdb_create_config(&config) != DuckDBSuccess) throw IoError("DuckDB: cannot create a configuration");
    const std::string threads = std::to_string(duckdb_threads());
    // Parquet is linked into libduckdb; never download extensions at run time.
    bool ok = duckdb_set_config(config, "threads", threads.c_str()) == DuckDBSuccess &&
              duckdb_set_config(config, "autoinstall_known_extensions", "false") == DuckDBSuccess &&
              duckdb_set_config(config, "autoload_known_extensions", "false") == DuckDBSuccess;
    char* error = nullptr;
    duckdb_state state = ok ? duckdb_open_ext(nullptr, &db_, config, &error) : DuckDBError;
    duckdb_destroy_config(&config);
    if (state != DuckDBSuccess) {
      std::string message = error ? error : "invalid configuration";
      duckdb_free(error);
      throw IoError("DuckDB: cannot open the in-memory database: " + message);
    }
    // Table functions live in the database's catalog, so they are registered once, here.
    duckdb_connection con = nullptr;
    if (duckdb_connect(db_, &con) != DuckDBSuccess) {
      duckdb_close(&db_);
      throw IoError("DuckDB: cannot connect to the in-memory database");
    }
    try {
      register_table_scan(con);
    } catch (...) {
      duckdb_disconnect(&con);
      duckdb_close(&db_);
      throw;
    }
    duckdb_disconnect(&con);
  }
  ~Database() { duckdb_close(&db_); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  duckdb_database get() const noexcept { return db_; }

 private:
  duckdb_database db_ = nullptr;
};

Database& database() {
  // Magic static: created once, thread-safely, on first use. Thread-local connections of the
  // main thread are destroyed before it at exit.
  static Database db;
  return db;
}

}  // namespace

Connection::Connection() {
  if (duckdb_connect(database().get(), &connection_) != DuckDBSuccess)
    throw IoError("DuckDB: cannot connect to the in-memory database");
}

Connection::~Connection() {
  if (connection_) duckdb_disconnect(&connection_);
}

Result Connection::query(const std::string& sql, std::string_view context) {
  Result result;
  check(duckdb_query(connection_, sql.c_str(), result.out()), result.get(), context);
  return result;
}

PreparedStatement Connection::prepare(const std::string& sql, std::string_view context) {
  duckdb_prepared_statement raw = nullptr;
  duckdb_state state = duckdb_prepare(connection_, sql.c_str(), &raw);
  // duckdb_prepare hands out a statement even on failure (it carries the error).
  PreparedStatement statement(raw);
  check(state, raw, context);
  return statement;
}

Connection& thread_connection() {
  thread_local Connection connection;
  return connection;
}

}  // namespace mosaic::io
