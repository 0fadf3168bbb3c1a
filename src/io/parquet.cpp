// Parquet through DuckDB, shaped like pandas' to_parquet/read_parquet (DECISIONS P11).
//
// Writing streams the Table into `COPY (SELECT * FROM mosaic_table_scan(h)) TO tmp (FORMAT parquet)`
// through a C-API table function (duckdb_connection.cpp): no intermediate DuckDB table, one memcpy
// per column per 2048 rows, and a single-threaded source so the bytes are deterministic. Reading
// runs `SELECT <columns> FROM read_parquet(p) [WHERE frame range]` as a streaming result and copies
// each vector into preallocated column buffers.
//
// DuckDB cannot produce a Parquet file without columns (a SELECT needs at least one), but pandas
// writes them for empty feature outputs (pipeline.md §4.9). Those files are written here directly:
// the footer alone (thrift compact protocol), with one empty row group, as pyarrow does.
#include "mosaic/parquet.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <unordered_map>

#include "io/duckdb_connection.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"

namespace fs = std::filesystem;

namespace mosaic {

namespace {

// Rows per row group: DuckDB's default, pinned so files do not change with a DuckDB upgrade. Small
// enough that a frame-range read skips most of a long recording by the row-group statistics.
constexpr int64_t kRowGroupSize = 122880;

// ---- Parquet footers (thrift compact protocol) -------------------------------------------------------
//
// DuckDB neither writes nor reads files without columns ("Need at least one non-root column"), yet
// pandas writes them for empty outputs (pipeline.md §4.9), and DuckDB renames columns that differ
// only in letter case. The footer is therefore also handled here, as a generic thrift tree: read
// (row count, key/value metadata, zero-column files), written (zero-column files) and patched
// (restoring exact column names).

class FooterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One thrift value of any type, kept generic so that a footer re-serialises byte for byte.
struct Thrift {
  enum Type : uint8_t {
    kTrue = 1, kFalse = 2, kByte = 3, kI16 = 4, kI32 = 5, kI64 = 6, kDouble = 7, kBinary = 8,
    kList = 9, kSet = 10, kMap = 11, kStruct = 12
  };
  uint8_t type = kStruct;
  int64_t integer = 0;                           // bool (0/1), byte, i16, i32, i64
  uint64_t double_bits = 0;                      // double, as its 8 raw bytes
  std::string binary;                            // binary / string
  uint8_t element_type = 0, value_type = 0;      // list/set element type; map key and value types
  std::vector<Thrift> items;                     // list/set elements; map keys and values interleaved
  std::vector<std::pair<int16_t, Thrift>> fields;  // struct fields in file order

  static Thrift i32(int64_t v) { return scalar(kI32, v); }
  static Thrift i64(int64_t v) { return scalar(kI64, v); }
  static Thrift string(std::string_view s) {
    Thrift t;
    t.type = kBinary;
    t.binary = std::string(s);
    return t;
  }
  static Thrift list(uint8_t element_type, std::vector<Thrift> items) {
    Thrift t;
    t.type = kList;
    t.element_type = element_type;
    t.items = std::move(items);
    return t;
  }
  static Thrift object(std::vector<std::pair<int16_t, Thrift>> fields) {
    Thrift t;
    t.fields = std::move(fields);
    return t;
  }
  Thrift* field(int16_t id) {
    for (auto& [fid, value] : fields)
      if (fid == id) return &value;
    return nullptr;
  }

 private:
  static Thrift scalar(uint8_t type, int64_t v) {
    Thrift t;
    t.type = type;
    t.integer = v;
    return t;
  }
};

class ThriftReader {
 public:
  explicit ThriftReader(std::string_view bytes) : bytes_(bytes) {}
  Thrift read_struct(int depth = 0) {
    if (depth > 64) throw FooterError("nested too deeply");
    Thrift out;
    int16_t last = 0;
    while (true) {
      uint8_t header = byte();
      if (header == 0) return out;
      uint8_t type = header & 0x0F;
      int16_t delta = static_cast<int16_t>(header >> 4);
      int16_t id = delta ? static_cast<int16_t>(last + delta) : static_cast<int16_t>(unzigzag(varint()));
      last = id;
      Thrift value;
      if (type == Thrift::kTrue || type == Thrift::kFalse) {
        value.type = Thrift::kTrue;  // canonical "bool" tag; the value is in `integer`
        value.integer = type == Thrift::kTrue;
      } else {
        value = read_value(type, depth);
      }
      out.fields.emplace_back(id, std::move(value));
    }
  }
  std::size_t position() const noexcept { return pos_; }

 private:
  Thrift read_value(uint8_t type, int depth) {
    Thrift v;
    v.type = type;
    switch (type) {
      case Thrift::kTrue:
      case Thrift::kFalse:  // a bool inside a collection: one byte
        v.type = Thrift::kTrue;
        v.integer = byte() == Thrift::kTrue;
        return v;
      case Thrift::kByte: v.integer = static_cast<int8_t>(byte()); return v;
      case Thrift::kI16:
      case Thrift::kI32:
      case Thrift::kI64: v.integer = unzigzag(varint()); return v;
      case Thrift::kDouble:
        for (int i = 0; i < 8; ++i) v.double_bits |= static_cast<uint64_t>(byte()) << (8 * i);
        return v;
      case Thrift::kBinary: {
        uint64_t len = varint();
        if (len > bytes_.size() - pos_) throw FooterError("string runs past the end");
        v.binary.assign(bytes_.substr(pos_, len));
        pos_ += len;
        return v;
      }
      case Thrift::kList:
      case Thrift::kSet: {
        uint8_t header = byte();
        uint64_t size = header >> 4;
        if (size == 15) size = varint();
        v.element_type = header & 0x0F;
        if (size > bytes_.size() - pos_) throw FooterError("list longer than the footer");
        v.items.reserve(size);
        for (uint64_t i = 0; i < size; ++i) v.items.push_back(read_value(v.element_type, depth + 1));
        return v;
      }
      case Thrift::kMap: {
        uint64_t size = varint();
        if (size == 0) return v;
        uint8_t kinds = byte();
        v.element_type = kinds >> 4;
        v.value_type = kinds & 0x0F;
        if (size > bytes_.size() - pos_) throw FooterError("map larger than the footer");
        for (uint64_t i = 0; i < size; ++i) {
          v.items.push_back(read_value(v.element_type, depth + 1));
          v.items.push_back(read_value(v.value_type, depth + 1));
        }
        return v;
      }
      case Thrift::kStruct: return read_struct(depth + 1);
      default: throw FooterError(fmt::format("unknown thrift type {}", type));
    }
  }
  uint8_t byte() {
    if (pos_ >= bytes_.size()) throw FooterError("truncated");
    return static_cast<uint8_t>(bytes_[pos_++]);
  }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = byte();
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    throw FooterError("bad varint");
  }
  static int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

  std::string_view bytes_;
  std::size_t pos_ = 0;
};

class ThriftWriter {
 public:
  void write_struct(const Thrift& s) {
    int16_t last = 0;
    for (const auto& [id, value] : s.fields) {
      uint8_t type = value.type;
      if (type == Thrift::kTrue && !value.integer) type = Thrift::kFalse;
      int delta = id - last;
      if (delta > 0 && delta <= 15) {
        out_.push_back(static_cast<char>((delta << 4) | type));
      } else {
        out_.push_back(static_cast<char>(type));
        varint(zigzag(id));
      }
      last = id;
      if (value.type != Thrift::kTrue) write_value(value);
    }
    out_.push_back('\0');
  }
  std::string& bytes() noexcept { return out_; }

 private:
  void write_value(const Thrift& v) {
    switch (v.type) {
      case Thrift::kTrue: out_.push_back(static_cast<char>(v.integer ? Thrift::kTrue : Thrift::kFalse)); return;
      case Thrift::kByte: out_.push_back(static_cast<char>(v.integer)); return;
      case Thrift::kI16:
      case Thrift::kI32:
      case Thrift::kI64: varint(zigzag(v.integer)); return;
      case Thrift::kDouble:
        for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v.double_bits >> (8 * i)) & 0xFF));
        return;
      case Thrift::kBinary:
        varint(v.binary.size());
        out_.append(v.binary);
        return;
      case Thrift::kList:
      case Thrift::kSet: {
        const uint8_t element = v.element_type;
        if (v.items.size() < 15) {
          out_.push_back(static_cast<char>((v.items.size() << 4) | element));
        } else {
          out_.push_back(static_cast<char>(0xF0 | element));
          varint(v.items.size());
        }
        for (const auto& item : v.items) write_value(item);
        return;
      }
      case Thrift::kMap:
        varint(v.items.size() / 2);
        if (!v.items.empty()) out_.push_back(static_cast<char>((v.element_type << 4) | v.value_type));
        for (const auto& item : v.items) write_value(item);
        return;
      case Thrift::kStruct: write_struct(v); return;
      default: return;
    }
  }
  static uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

// FileMetaData field ids (parquet.thrift).
constexpr int16_t kMetaVersion = 1, kMetaSchema = 2, kMetaNumRows = 3, kMetaRowGroups = 4, kMetaKeyValue = 5,
                  kMetaCreatedBy = 6;
constexpr int16_t kSchemaName = 4, kSchemaNumChildren = 5;
constexpr int16_t kRowGroupColumns = 1, kColumnMetaData = 3, kColumnPathInSchema = 3;

struct Footer {
  Thrift meta;
  std::size_t offset = 0;  // where the serialised FileMetaData starts in the file
};

Footer read_footer(const fs::path& path) {
  const std::string where = path.string();
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(fmt::format("{}: cannot open: {}", where, std::strerror(errno)));
  f.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(f.tellg());
  auto corrupt = [&](std::string_view why) {
    return IoError(fmt::format("{}: not a valid Parquet file ({})", where, why));
  };
  if (size < 12) throw corrupt(fmt::format("{} bytes, too small", size));
  char tail[8];
  f.seekg(static_cast<std::streamoff>(size - 8));
  f.read(tail, 8);
  if (std::string_view(tail + 4, 4) == "PARE") throw corrupt("encrypted footers are not supported");
  if (std::string_view(tail + 4, 4) != "PAR1") throw corrupt("no PAR1 magic at the end; truncated?");
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(static_cast<uint8_t>(tail[i])) << (8 * i);
  if (len > size - 12) throw corrupt(fmt::format("footer length {} exceeds the file", len));
  std::string bytes(len, '\0');
  f.seekg(static_cast<std::streamoff>(size - 8 - len));
  f.read(bytes.data(), len);
  if (!f) throw IoError(fmt::format("{}: read failed", where));
  try {
    ThriftReader reader(bytes);
    Footer footer{reader.read_struct(), size - 8 - len};
    const Thrift* rows = footer.meta.field(kMetaNumRows);
    const Thrift* schema = footer.meta.field(kMetaSchema);
    if (!rows || !schema || schema->items.empty()) throw FooterError("no row count or schema");
    return footer;
  } catch (const FooterError& e) {
    throw corrupt(fmt::format("bad footer: {}", e.what()));
  }
}

std::string serialise_footer(const Thrift& meta) {
  ThriftWriter w;
  w.write_struct(meta);
  std::string out = std::move(w.bytes());
  auto len = static_cast<uint32_t>(out.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xFF));
  out += "PAR1";
  return out;
}

int64_t footer_num_rows(Footer& footer) { return footer.meta.field(kMetaNumRows)->integer; }

bool footer_has_no_columns(Footer& footer) { return footer.meta.field(kMetaSchema)->items.size() == 1; }

std::vector<std::pair<std::string, std::string>> footer_key_values(Footer& footer) {
  std::vector<std::pair<std::string, std::string>> out;
  const Thrift* kv = footer.meta.field(kMetaKeyValue);
  if (!kv) return out;
  for (const Thrift& item : kv->items) {
    Thrift copy = item;
    const Thrift* key = copy.field(1);
    const Thrift* value = copy.field(2);
    out.emplace_back(key ? key->binary : std::string(), value ? value->binary : std::string());
  }
  return out;
}

// A footer-only file, as pyarrow writes a table without columns: the root schema element and one
// row group without column chunks.
std::string zero_column_parquet(std::size_t rows, const ParquetWriteOptions& options) {
  std::vector<std::pair<int16_t, Thrift>> meta;
  meta.emplace_back(kMetaVersion, Thrift::i32(1));
  meta.emplace_back(kMetaSchema, Thrift::list(Thrift::kStruct, {Thrift::object({{kSchemaName, Thrift::string("schema")},
                                                                               {kSchemaNumChildren, Thrift::i32(0)}})}));
  meta.emplace_back(kMetaNumRows, Thrift::i64(static_cast<int64_t>(rows)));
  meta.emplace_back(kMetaRowGroups,
                    Thrift::list(Thrift::kStruct, {Thrift::object({{kRowGroupColumns, Thrift::list(Thrift::kStruct, {})},
                                                                   {2, Thrift::i64(0)},  // total_byte_size
                                                                   {3, Thrift::i64(static_cast<int64_t>(rows))}})}));
  if (!options.key_value_metadata.empty()) {
    std::vector<Thrift> kv;
    for (const auto& [key, value] : options.key_value_metadata)
      kv.push_back(Thrift::object({{1, Thrift::string(key)}, {2, Thrift::string(value)}}));
    meta.emplace_back(kMetaKeyValue, Thrift::list(Thrift::kStruct, std::move(kv)));
  }
  meta.emplace_back(kMetaCreatedBy, Thrift::string("mosaic-cpp (zero-column writer)"));
  return "PAR1" + serialise_footer(Thrift::object(std::move(meta)));
}

// Give the columns of a flat file written by DuckDB their exact names (in schema and chunk paths).
void rename_footer_columns(const fs::path& path, const std::vector<std::string>& names) {
  Footer footer = read_footer(path);
  auto& schema = footer.meta.field(kMetaSchema)->items;
  if (schema.size() != names.size() + 1)
    throw InternalError(fmt::format("{}: {} schema elements for {} columns", path.string(), schema.size(), names.size()));
  for (std::size_t c = 0; c < names.size(); ++c) {
    Thrift* name = schema[c + 1].field(kSchemaName);
    if (!name) throw InternalError("schema element without a name");
    name->binary = names[c];
  }
  if (Thrift* groups = footer.meta.field(kMetaRowGroups)) {
    for (Thrift& group : groups->items) {
      Thrift* columns = group.field(kRowGroupColumns);
      if (!columns || columns->items.size() != names.size()) throw InternalError("row group with unexpected columns");
      for (std::size_t c = 0; c < names.size(); ++c) {
        Thrift* meta = columns->items[c].field(kColumnMetaData);
        Thrift* column_path = meta ? meta->field(kColumnPathInSchema) : nullptr;
        if (!column_path || column_path->items.size() != 1) throw InternalError("column chunk without a flat path");
        column_path->items[0].binary = names[c];
      }
    }
  }
  const std::string tail = serialise_footer(footer.meta);
  std::error_code ec;
  fs::resize_file(path, footer.offset, ec);
  if (ec) throw IoError(fmt::format("{}: cannot rewrite the footer: {}", path.string(), ec.message()));
  std::ofstream f(path, std::ios::binary | std::ios::app);
  f.write(tail.data(), static_cast<std::streamsize>(tail.size()));
  f.flush();
  if (!f) throw IoError(fmt::format("{}: cannot rewrite the footer", path.string()));
}

// ---- Reading: schema ------------------------------------------------------------------------------

std::string_view view_of(duckdb_string_t& s) {
  uint32_t len = s.value.inlined.length;
  return len <= 12 ? std::string_view(s.value.inlined.inlined, len) : std::string_view(s.value.pointer.ptr, len);
}

bool is_pandas_index_column(std::string_view name) {
  constexpr std::string_view kPrefix = "__index_level_";
  if (name.size() <= kPrefix.size() + 2 || name.substr(0, kPrefix.size()) != kPrefix ||
      name.substr(name.size() - 2) != "__")
    return false;
  auto digits = name.substr(kPrefix.size(), name.size() - kPrefix.size() - 2);
  return std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string_view duckdb_type_name(duckdb_type t) {
  switch (t) {
    case DUCKDB_TYPE_BOOLEAN: return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT: return "TINYINT";
    case DUCKDB_TYPE_SMALLINT: return "SMALLINT";
    case DUCKDB_TYPE_INTEGER: return "INTEGER";
    case DUCKDB_TYPE_BIGINT: return "BIGINT";
    case DUCKDB_TYPE_UTINYINT: return "UTINYINT";
    case DUCKDB_TYPE_USMALLINT: return "USMALLINT";
    case DUCKDB_TYPE_UINTEGER: return "UINTEGER";
    case DUCKDB_TYPE_UBIGINT: return "UBIGINT";
    case DUCKDB_TYPE_FLOAT: return "FLOAT";
    case DUCKDB_TYPE_DOUBLE: return "DOUBLE";
    case DUCKDB_TYPE_TIMESTAMP: return "TIMESTAMP";
    case DUCKDB_TYPE_DATE: return "DATE";
    case DUCKDB_TYPE_TIME: return "TIME";
    case DUCKDB_TYPE_INTERVAL: return "INTERVAL";
    case DUCKDB_TYPE_HUGEINT: return "HUGEINT";
    case DUCKDB_TYPE_UHUGEINT: return "UHUGEINT";
    case DUCKDB_TYPE_VARCHAR: return "VARCHAR";
    case DUCKDB_TYPE_BLOB: return "BLOB";
    case DUCKDB_TYPE_DECIMAL: return "DECIMAL";
    case DUCKDB_TYPE_TIMESTAMP_S: return "TIMESTAMP_S";
    case DUCKDB_TYPE_TIMESTAMP_MS: return "TIMESTAMP_MS";
    case DUCKDB_TYPE_TIMESTAMP_NS: return "TIMESTAMP_NS";
    case DUCKDB_TYPE_ENUM: return "ENUM";
    case DUCKDB_TYPE_LIST: return "LIST";
    case DUCKDB_TYPE_STRUCT: return "STRUCT";
    case DUCKDB_TYPE_MAP: return "MAP";
    case DUCKDB_TYPE_ARRAY: return "ARRAY";
    case DUCKDB_TYPE_UUID: return "UUID";
    case DUCKDB_TYPE_UNION: return "UNION";
    case DUCKDB_TYPE_TIMESTAMP_TZ: return "TIMESTAMP WITH TIME ZONE";
    default: return "an unsupported DuckDB type";
  }
}

// How a file column becomes one of our types. Anything without an entry is refused by name.
struct TypeMapping {
  DType type;
  enum class Convert : uint8_t { kNone, kToBigint, kTimestampNs, kDateNs, kToDouble, kToVarchar } convert;
};

std::optional<TypeMapping> map_type(duckdb_type t) {
  using C = TypeMapping::Convert;
  switch (t) {
    case DUCKDB_TYPE_DOUBLE: return TypeMapping{DType::kFloat64, C::kNone};
    case DUCKDB_TYPE_FLOAT: return TypeMapping{DType::kFloat32, C::kNone};
    case DUCKDB_TYPE_BIGINT: return TypeMapping{DType::kInt64, C::kNone};
    case DUCKDB_TYPE_INTEGER: return TypeMapping{DType::kInt32, C::kNone};
    case DUCKDB_TYPE_TINYINT: return TypeMapping{DType::kInt8, C::kNone};
    case DUCKDB_TYPE_BOOLEAN: return TypeMapping{DType::kBool, C::kNone};
    case DUCKDB_TYPE_VARCHAR: return TypeMapping{DType::kString, C::kNone};
    // Integer types we do not have are widened to int64 (an out-of-range UBIGINT fails loudly).
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT: return TypeMapping{DType::kInt64, C::kToBigint};
    // Timestamps become int64 nanoseconds since the Unix epoch (pandas' datetime64[ns] values);
    // a timezone-aware timestamp is taken in UTC. Dates become midnight UTC in nanoseconds.
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ: return TypeMapping{DType::kInt64, C::kTimestampNs};
    case DUCKDB_TYPE_DATE: return TypeMapping{DType::kInt64, C::kDateNs};
    case DUCKDB_TYPE_DECIMAL: return TypeMapping{DType::kFloat64, C::kToDouble};
    // pandas categoricals arrive as ENUM (dictionary-encoded strings).
    case DUCKDB_TYPE_ENUM:
    case DUCKDB_TYPE_UUID: return TypeMapping{DType::kString, C::kToVarchar};
    default: return std::nullopt;
  }
}

std::string select_expression(const std::string& sql_name, const TypeMapping& mapping) {
  const std::string col = io::sql_identifier(sql_name);
  using C = TypeMapping::Convert;
  switch (mapping.convert) {
    case C::kNone: return col;
    case C::kToBigint: return fmt::format("CAST({} AS BIGINT)", col);
    case C::kTimestampNs: return fmt::format("epoch_ns({})", col);
    case C::kDateNs: return fmt::format("epoch_ns(CAST({} AS TIMESTAMP))", col);
    case C::kToDouble: return fmt::format("CAST({} AS DOUBLE)", col);
    case C::kToVarchar: return fmt::format("CAST({} AS VARCHAR)", col);
  }
  return col;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// DuckDB binds identifiers case-insensitively and renames a clash ("x", "X" -> "x", "X_1"). True
// when `names` (as bound by DuckDB) may contain such a rename.
bool may_have_case_renames(const std::vector<std::string>& names) {
  std::unordered_map<std::string, int> lowered;
  for (const auto& n : names) ++lowered[lower_ascii(n)];
  for (const auto& n : names) {
    auto us = n.rfind('_');
    if (us == std::string::npos || us + 1 == n.size()) continue;
    bool digits = std::all_of(n.begin() + static_cast<std::ptrdiff_t>(us + 1), n.end(),
                              [](char c) { return c >= '0' && c <= '9'; });
    if (digits && lowered.count(lower_ascii(std::string_view(n).substr(0, us)))) return true;
  }
  return false;
}

struct FileColumn {
  std::string name;      // the name in the file
  std::string sql_name;  // the name DuckDB binds it to (differs for case-insensitive duplicates)
  duckdb_type type;
};

struct FileSchema {
  std::vector<FileColumn> columns;  // in file order, pandas index columns removed
  bool zero_columns = false;        // a valid file without any column (see the file comment)
  bool dropped_columns = false;     // pandas index columns were removed from `columns`
  io::PreparedStatement select_all;  // `SELECT * FROM read_parquet(...)`, reusable for a plain read
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(columns.size());
    for (const auto& c : columns) out.push_back(c.name);
    return out;
  }
};

void require_file(const fs::path& path) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (!fs::exists(status)) throw IoError(fmt::format("{}: no such file", path.string()));
  if (fs::is_directory(status)) throw IoError(fmt::format("{}: is a directory, expected a Parquet file", path.string()));
}

std::string read_parquet_sql(const fs::path& path) {
  // binary_as_string: pyarrow writes strings as UTF8-annotated BYTE_ARRAY, but some writers drop
  // the annotation; reading those as BLOB would refuse a plain string column.
  return fmt::format("read_parquet({}, binary_as_string=true)", io::sql_string(path.string()));
}

FileSchema describe(io::Connection& con, const fs::path& path) {
  require_file(path);
  FileSchema schema;
  const std::string sql = fmt::format("SELECT * FROM {}", read_parquet_sql(path));
  io::PreparedStatement stmt;
  try {
    stmt = con.prepare(sql, path.string());
  } catch (const IoError&) {
    // DuckDB refuses to open a file without columns; recognise one from its footer.
    bool no_columns = false;
    try {
      Footer footer = read_footer(path);
      no_columns = footer_has_no_columns(footer);
    } catch (const IoError&) {
      // Not readable by us either: DuckDB's message is the better one.
    }
    if (!no_columns) throw;
    schema.zero_columns = true;
    return schema;
  }
  const idx_t n = stmt.column_count();
  std::vector<std::string> bound(n);
  for (idx_t c = 0; c < n; ++c) bound[c] = stmt.column_name(c);
  // The names in the file, when DuckDB may have renamed case-insensitive duplicates. Top-level
  // columns and footer leaves correspond one to one in a flat file, which is all we read.
  std::vector<std::string> real = bound;
  if (may_have_case_renames(bound)) {
    io::Result r = con.query(
        fmt::format("SELECT name FROM parquet_schema({}) WHERE type IS NOT NULL", io::sql_string(path.string())),
        path.string());
    std::vector<std::string> leaves;
    while (io::DataChunk chunk = r.fetch_chunk(path.string())) {
      auto* names = static_cast<duckdb_string_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk.get(), 0)));
      for (idx_t i = 0; i < duckdb_data_chunk_get_size(chunk.get()); ++i) leaves.emplace_back(view_of(names[i]));
    }
    if (leaves.size() == n) real = std::move(leaves);
  }
  schema.columns.reserve(n);
  for (idx_t c = 0; c < n; ++c) {
    if (is_pandas_index_column(real[c])) {
      schema.dropped_columns = true;
      continue;
    }
    io::LogicalType type = stmt.column_logical_type(c);
    schema.columns.push_back({real[c], bound[c], duckdb_get_type_id(type.get())});
  }
  schema.select_all = std::move(stmt);
  return schema;
}

int64_t footer_row_count(const fs::path& path) {
  Footer footer = read_footer(path);
  return footer_num_rows(footer);
}

// ---- Reading: values ------------------------------------------------------------------------------

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class ColumnReader {
 public:
  explicit ColumnReader(DType type) : type_(type) {}

  void reserve(std::size_t rows) {
    switch (type_) {
      case DType::kFloat64: reserve_buffer(f64_, rows); break;
      case DType::kFloat32: reserve_buffer(f32_, rows); break;
      case DType::kInt64: reserve_buffer(i64_, rows); break;
      case DType::kInt32: reserve_buffer(i32_, rows); break;
      case DType::kInt8: reserve_buffer(i8_, rows); break;
      case DType::kBool: reserve_buffer(b_, rows); break;
      case DType::kString: reserve_buffer(codes_, rows); break;
    }
    capacity_hint_ = rows;
  }

  void append(duckdb_vector vec, idx_t n) {
    void* data = duckdb_vector_get_data(vec);
    uint64_t* validity = duckdb_vector_get_validity(vec);  // nullptr: every row valid
    switch (type_) {
      case DType::kFloat64: append_floats(f64_, static_cast<const double*>(data), validity, n); break;
      case DType::kFloat32: append_floats(f32_, static_cast<const float*>(data), validity, n); break;
      case DType::kInt64: append_values(i64_, static_cast<const int64_t*>(data), validity, n); break;
      case DType::kInt32: append_values(i32_, static_cast<const int32_t*>(data), validity, n); break;
      case DType::kInt8: append_values(i8_, static_cast<const int8_t*>(data), validity, n); break;
      case DType::kBool: append_values(b_, static_cast<const uint8_t*>(data), validity, n); break;
      case DType::kString: append_strings(static_cast<duckdb_string_t*>(data), validity, n); break;
    }
    rows_ += n;
  }

  Column finish() {
    switch (type_) {
      case DType::kFloat64: return Column::from_float64(fit(std::move(f64_)));
      case DType::kFloat32: return Column::from_float32(fit(std::move(f32_)));
      case DType::kInt64: return Column::from_int64(fit(std::move(i64_)), std::move(validity_));
      case DType::kInt32: return Column::from_int32(fit(std::move(i32_)), std::move(validity_));
      case DType::kInt8: return Column::from_int8(fit(std::move(i8_)), std::move(validity_));
      case DType::kBool: return Column::from_bool(fit(std::move(b_)), std::move(validity_));
      case DType::kString: return Column::from_dictionary(std::move(dict_), fit(std::move(codes_)));
    }
    throw InternalError("unknown dtype");
  }

 private:
  template <typename T>
  static void reserve_buffer(std::vector<T>& v, std::size_t rows) {
    // Untouched capacity costs address space only; pages are faulted in as rows arrive.
    v.reserve(rows);
  }

  // Buffers were reserved for the whole file; a frame-range read may use a small part of that.
  template <typename T>
  static std::vector<T> fit(std::vector<T> v) {
    if (v.capacity() > 2 * v.size() + 4096) v.shrink_to_fit();
    return v;
  }

  // Calls fn(row) for every invalid row of a DuckDB validity mask, skipping all-valid words.
  template <typename Fn>
  static void for_each_null(const uint64_t* validity, idx_t n, Fn&& fn) {
    for (idx_t word = 0; word * 64 < n; ++word) {
      uint64_t invalid = ~validity[word];
      if (word * 64 + 64 > n) invalid &= (uint64_t{1} << (n - word * 64)) - 1;
      while (invalid) {
        fn(word * 64 + static_cast<idx_t>(__builtin_ctzll(invalid)));
        invalid &= invalid - 1;
      }
    }
  }

  template <typename T>
  void append_floats(std::vector<T>& out, const T* src, const uint64_t* validity, idx_t n) {
    const std::size_t base = out.size();
    out.insert(out.end(), src, src + n);
    if (!validity) return;
    // A null float is NaN for us (pandas does the same on read).
    T* dst = out.data() + base;
    for_each_null(validity, n, [&](idx_t row) { dst[row] = std::numeric_limits<T>::quiet_NaN(); });
  }

  template <typename T>
  void append_values(std::vector<T>& out, const T* src, const uint64_t* validity, idx_t n) {
    out.insert(out.end(), src, src + n);
    append_validity(validity, n);
  }

  // Integer and bool nulls go to the validity mask, which is only materialised once a null shows up.
  void append_validity(const uint64_t* validity, idx_t n) {
    if (!validity) {
      if (!validity_.empty()) validity_.insert(validity_.end(), n, 1);
      return;
    }
    bool any_null = false;
    for_each_null(validity, n, [&](idx_t) { any_null = true; });
    if (!any_null && validity_.empty()) return;
    if (validity_.empty()) {
      validity_.reserve(capacity_hint_);
      validity_.assign(rows_, 1);
    }
    const std::size_t base = validity_.size();
    validity_.insert(validity_.end(), n, 1);
    for_each_null(validity, n, [&](idx_t row) { validity_[base + row] = 0; });
  }

  void append_strings(duckdb_string_t* src, const uint64_t* validity, idx_t n) {
    for (idx_t i = 0; i < n; ++i) {
      if (validity && !((validity[i / 64] >> (i % 64)) & 1)) {
        codes_.push_back(-1);
        continue;
      }
      std::string_view s = view_of(src[i]);
      // Track columns repeat one value for long runs (group, sequence): check the last one first.
      if (last_code_ >= 0 && dict_[static_cast<std::size_t>(last_code_)] == s) {
        codes_.push_back(last_code_);
        continue;
      }
      auto it = index_.find(s);
      if (it == index_.end()) {
        dict_.emplace_back(s);
        it = index_.emplace(dict_.back(), static_cast<int32_t>(dict_.size() - 1)).first;
      }
      last_code_ = it->second;
      codes_.push_back(last_code_);
    }
  }

  DType type_;
  std::size_t rows_ = 0;
  std::size_t capacity_hint_ = 0;
  std::vector<double> f64_;
  std::vector<float> f32_;
  std::vector<int64_t> i64_;
  std::vector<int32_t> i32_;
  std::vector<int8_t> i8_;
  std::vector<uint8_t> b_;
  std::vector<uint8_t> validity_;
  std::vector<std::string> dict_;
  std::vector<int32_t> codes_;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> index_;
  int32_t last_code_ = -1;
};

// DuckDB binds names case-insensitively and would store "x", "X" as "x", "X_1". True when the
// table has such a pair; it is then written under neutral names and the footer renamed after.
bool has_case_insensitive_duplicates(const Table& table) {
  std::unordered_map<std::string, int> seen;
  for (const auto& name : table.column_names())
    if (++seen[lower_ascii(name)] > 1) return true;
  return false;
}

std::string_view compression_name(ParquetCompression c) {
  switch (c) {
    case ParquetCompression::kSnappy: return "snappy";
    case ParquetCompression::kZstd: return "zstd";
    case ParquetCompression::kUncompressed: return "uncompressed";
  }
  return "snappy";
}

}  // namespace

// ---- Public API -------------------------------------------------------------------------------------

Table read_parquet(const fs::path& path, const ParquetReadOptions& options) {
  const std::string where = path.string();
  io::Connection& con = io::thread_connection();
  FileSchema schema = describe(con, path);
  const std::vector<std::string> available = schema.names();

  if (schema.zero_columns) {
    if (!options.columns.empty()) throw SchemaError::missing_column(where, options.columns.front(), available);
    if (options.frame_start || options.frame_end)
      throw SchemaError::missing_column(where, options.frame_column, available);
    Table t;
    t.set_num_rows_without_columns(static_cast<std::size_t>(footer_row_count(path)));
    return t;
  }

  auto find = [&](std::string_view name) -> const FileColumn* {
    for (const auto& c : schema.columns)
      if (c.name == name) return &c;
    return nullptr;
  };

  // The columns to read, in the requested order (or file order).
  std::vector<const FileColumn*> chosen;
  if (options.columns.empty()) {
    for (const auto& c : schema.columns) chosen.push_back(&c);
  } else {
    for (const auto& name : options.columns) {
      const FileColumn* c = find(name);
      if (!c) throw SchemaError::missing_column(where, name, available);
      if (std::find(chosen.begin(), chosen.end(), c) != chosen.end())
        throw InputError(fmt::format("{}: column '{}' is requested twice", where, name));
      chosen.push_back(c);
    }
  }
  std::vector<TypeMapping> mappings;
  mappings.reserve(chosen.size());
  for (const FileColumn* c : chosen) {
    auto m = map_type(c->type);
    if (!m)
      throw SchemaError(fmt::format("{}: column '{}' has type {}, which mosaic cannot read (expected numbers, "
                                    "booleans, strings or timestamps)",
                                    where, c->name, duckdb_type_name(c->type)));
    mappings.push_back(*m);
  }

  // The frame range goes into WHERE, where DuckDB prunes row groups by their min/max statistics.
  std::string filter;
  if (options.frame_start || options.frame_end) {
    const FileColumn* frame = find(options.frame_column);
    if (!frame) throw SchemaError::missing_column(where, options.frame_column, available);
    auto m = map_type(frame->type);
    if (!m || !is_numeric(m->type))
      throw SchemaError::wrong_type(where, options.frame_column, "an integer frame number", duckdb_type_name(frame->type));
    const std::string col = io::sql_identifier(frame->sql_name);
    std::vector<std::string> terms;
    if (options.frame_start) terms.push_back(fmt::format("{} >= {}", col, *options.frame_start));
    if (options.frame_end) terms.push_back(fmt::format("{} < {}", col, *options.frame_end));
    filter = " WHERE " + join_names(terms, " AND ");
  }

  if (chosen.empty()) {
    // Only pandas index columns in the file: no columns, but the row count still matters.
    io::Result r = con.query(fmt::format("SELECT count(*) FROM {}{}", read_parquet_sql(path), filter), where);
    io::DataChunk chunk = r.fetch_chunk(where);
    Table t;
    t.set_num_rows_without_columns(static_cast<std::size_t>(
        static_cast<int64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk.get(), 0)))[0]));
    return t;
  }

  std::string select;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    if (i) select += ", ";
    select += select_expression(chosen[i]->sql_name, mappings[i]);
  }
  const std::string sql = fmt::format("SELECT {} FROM {}{}", select, read_parquet_sql(path), filter);

  // The footer's row count sizes the buffers once. Reserved-but-unused capacity (a frame range)
  // is never touched, so it costs address space, not memory.
  const auto total_rows = static_cast<std::size_t>(footer_row_count(path));
  std::vector<ColumnReader> readers;
  readers.reserve(chosen.size());
  for (const auto& m : mappings) {
    readers.emplace_back(m.type);
    readers.back().reserve(total_rows);
  }

  // A plain read of every column reuses the statement that described the file: binding
  // read_parquet parses the footer, which is most of the cost of reading a small file.
  const bool plain = options.columns.empty() && filter.empty() && !schema.dropped_columns &&
                     std::all_of(mappings.begin(), mappings.end(),
                                 [](const TypeMapping& m) { return m.convert == TypeMapping::Convert::kNone; });
  io::PreparedStatement stmt = plain ? std::move(schema.select_all) : con.prepare(sql, where);
  io::Result result = stmt.execute_streaming(where);
  while (io::DataChunk chunk = result.fetch_chunk(where)) {
    const idx_t n = duckdb_data_chunk_get_size(chunk.get());
    if (n == 0) continue;
    for (std::size_t c = 0; c < readers.size(); ++c)
      readers[c].append(duckdb_data_chunk_get_vector(chunk.get(), c), n);
  }

  Table table;
  for (std::size_t c = 0; c < readers.size(); ++c) {
    // Parquet allows two columns of one name; a Table does not.
    if (table.has_column(chosen[c]->name))
      throw SchemaError(fmt::format("{}: column '{}' appears twice in the file", where, chosen[c]->name));
    table.add_column(chosen[c]->name, readers[c].finish());
  }
  return table;
}

void write_parquet(const Table& table, const fs::path& path, const ParquetWriteOptions& options) {
  AtomicFile out(path);
  if (table.num_columns() == 0) {
    const std::string bytes = zero_column_parquet(table.num_rows(), options);
    std::ofstream f(out.temp_path(), std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) throw IoError(fmt::format("{}: cannot write {}", path.string(), out.temp_path().string()));
  } else {
    const bool rename = has_case_insensitive_duplicates(table);
    std::vector<std::string> bound_names;
    if (rename)
      for (std::size_t c = 0; c < table.num_columns(); ++c) bound_names.push_back(fmt::format("mosaic_column_{}", c));
    std::string kv;
    if (!options.key_value_metadata.empty()) {
      kv = ", KV_METADATA {";
      for (std::size_t i = 0; i < options.key_value_metadata.size(); ++i) {
        if (i) kv += ", ";
        kv += io::sql_string(options.key_value_metadata[i].first);
        kv += ": ";
        kv += io::sql_string(options.key_value_metadata[i].second);
      }
      kv += "}";
    }
    io::TableScanRegistration scan(table, bound_names);
    const std::string sql = fmt::format(
        // No bloom filters: pyarrow writes none by default, and frame ranges prune by min/max.
        "COPY (SELECT * FROM mosaic_table_scan({})) TO {} (FORMAT parquet, COMPRESSION {}, ROW_GROUP_SIZE {}, "
        "WRITE_BLOOM_FILTER false{})",
        scan.handle(), io::sql_string(out.temp_path().string()), compression_name(options.compression),
        kRowGroupSize, kv);
    io::thread_connection().query(sql, path.string());
    if (rename) rename_footer_columns(out.temp_path(), table.column_names());
  }
  out.commit();
}

int64_t parquet_row_count(const fs::path& path) {
  require_file(path);
  return footer_row_count(path);
}

std::vector<std::pair<std::string, DType>> parquet_schema(const fs::path& path) {
  FileSchema schema = describe(io::thread_connection(), path);
  std::vector<std::pair<std::string, DType>> out;
  out.reserve(schema.columns.size());
  for (const auto& c : schema.columns) {
    auto m = map_type(c.type);
    if (!m)
      throw SchemaError(fmt::format("{}: column '{}' has type {}, which mosaic cannot read", path.string(), c.name,
                                    duckdb_type_name(c.type)));
    out.emplace_back(c.name, m->type);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parquet_key_value_metadata(const fs::path& path) {
  require_file(path);
  Footer footer = read_footer(path);
  return footer_key_values(footer);
}

}  // namespace mosaic
