#include <duckdb.h>

#include <algorithm>
#include <fmt/format.h>

#include "io/duckdb_connection.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/sql.hpp"

namespace fs = std::filesystem;

namespace mosaic {

namespace {

std::string file_list(const std::vector<fs::path>& files) {
  std::string s = "[";
  for (std::size_t i = 0; i < files.size(); ++i) s += (i ? ", " : "") + io::sql_string(files[i].string());
  return s + "]";
}

std::string type_name(duckdb_type t) {
  switch (t) {
    case DUCKDB_TYPE_BOOLEAN: return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT: return "TINYINT";
    case DUCKDB_TYPE_SMALLINT: return "SMALLINT";
    case DUCKDB_TYPE_INTEGER: return "INTEGER";
    case DUCKDB_TYPE_BIGINT: return "BIGINT";
    case DUCKDB_TYPE_HUGEINT: return "HUGEINT";
    case DUCKDB_TYPE_UTINYINT: return "UTINYINT";
    case DUCKDB_TYPE_USMALLINT: return "USMALLINT";
    case DUCKDB_TYPE_UINTEGER: return "UINTEGER";
    case DUCKDB_TYPE_UBIGINT: return "UBIGINT";
    case DUCKDB_TYPE_FLOAT: return "FLOAT";
    case DUCKDB_TYPE_DOUBLE: return "DOUBLE";
    case DUCKDB_TYPE_DECIMAL: return "DECIMAL";
    case DUCKDB_TYPE_VARCHAR: return "VARCHAR";
    default: return "OTHER";
  }
}

}  // namespace

SqlResult query_dataset(const Dataset& ds, const std::string& sql) {
  SqlResult out;
  io::Connection con;
  auto define = [&](const std::string& name, const std::vector<fs::path>& files) {
    if (files.empty()) return;
    std::string q = fmt::format("CREATE OR REPLACE TEMP VIEW {} AS SELECT * FROM read_parquet({}, union_by_name = true)",
                                io::sql_identifier(name), file_list(files));
    con.query(q, name);
    out.views.push_back(name);
  };
  std::vector<fs::path> tracks;
  for (const auto& e : ds.tracks_index())
    if (fs::exists(e.path)) tracks.push_back(e.path);
  define("tracks", tracks);
  fs::path features = ds.root("features");
  if (fs::exists(features)) {
    std::vector<fs::path> storages;
    for (const auto& d : fs::directory_iterator(features))
      if (d.is_directory() && fs::exists(d.path() / "index.csv")) storages.push_back(d.path());
    std::sort(storages.begin(), storages.end());
    for (const auto& s : storages) {
      try {
        FeatureIndex idx(s / "index.csv");
        std::string run_id = idx.latest_run_id();
        std::vector<fs::path> files;
        for (const auto& e : index_entries(s / "index.csv", run_id, ds.base_dir(), s / run_id, false))
          if (fs::exists(e.path) && e.n_rows != "0") files.push_back(e.path);
        define(s.filename().string(), files);
      } catch (const Error&) {
        // A storage without usable runs simply has no view.
      }
    }
  }
  io::Result r;
  try {
    r = con.query(sql, "query");
  } catch (const IoError& e) {
    throw IoError(fmt::format("{}\n(views: {})", e.what(), out.views.empty() ? "none" : join_names(out.views)));
  }
  idx_t cols = r.column_count();
  idx_t rows = duckdb_row_count(r.get());
  for (idx_t c = 0; c < cols; ++c) {
    out.columns.push_back(r.column_name(c));
    out.types.push_back(type_name(r.column_type(c)));
  }
  for (idx_t row = 0; row < rows; ++row) {
    std::vector<Json> values;
    for (idx_t c = 0; c < cols; ++c) {
      if (duckdb_value_is_null(r.get(), c, row)) {
        values.emplace_back(nullptr);
        continue;
      }
      duckdb_type t = r.column_type(c);
      switch (t) {
        case DUCKDB_TYPE_BOOLEAN: values.emplace_back(duckdb_value_boolean(r.get(), c, row)); break;
        case DUCKDB_TYPE_TINYINT:
        case DUCKDB_TYPE_SMALLINT:
        case DUCKDB_TYPE_INTEGER:
        case DUCKDB_TYPE_BIGINT:
        case DUCKDB_TYPE_UTINYINT:
        case DUCKDB_TYPE_USMALLINT:
        case DUCKDB_TYPE_UINTEGER: values.emplace_back(duckdb_value_int64(r.get(), c, row)); break;
        case DUCKDB_TYPE_FLOAT:
        case DUCKDB_TYPE_DOUBLE: values.emplace_back(duckdb_value_double(r.get(), c, row)); break;
        default: {
          char* text = duckdb_value_varchar(r.get(), c, row);
          values.emplace_back(text ? std::string(text) : std::string());
          if (text) duckdb_free(text);
        }
      }
    }
    out.rows.push_back(std::move(values));
  }
  return out;
}

}  // namespace mosaic
