// CSV in pandas' dialect: a typed reader/writer for track tables and a text-only one for indexes.
//
// The reader tokenises the whole text twice: pass 1 checks the shape and infers a type per column,
// pass 2 converts every cell straight into the final column buffer. Two cheap passes keep memory at
// O(columns) instead of materialising every cell, and there is no allocation per row: cells are
// string_views into the source text, and only quoted cells with doubled quotes are unescaped into
// a scratch buffer reused for every record.
#include "mosaic/csv.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <string>
#include <unordered_map>

#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"

namespace mosaic {

namespace {

// ---- Tokeniser -----------------------------------------------------------------------------------

// One record's fields. A field is either a view into the source text or a range of `scratch_`
// (when unescaping was needed); views are resolved only after the record is complete because
// `scratch_` may reallocate while the record grows.
class Record {
 public:
  void clear() {
    fields_.clear();
    scratch_.clear();
  }
  std::size_t size() const noexcept { return fields_.size(); }
  std::string_view operator[](std::size_t i) const {
    const Field& f = fields_[i];
    return f.in_scratch ? std::string_view(scratch_.data() + f.offset, f.length)
                        : std::string_view(f.text + f.offset, f.length);
  }
  std::size_t line = 0;  // 1-based physical line where the record starts

 private:
  friend class Tokenizer;
  struct Field {
    const char* text;
    std::size_t offset;
    std::size_t length;
    bool in_scratch;
  };
  std::vector<Field> fields_;
  std::string scratch_;
};

class Tokenizer {
 public:
  Tokenizer(std::string_view text, std::string_view source) : text_(text), source_(source) {
    // pandas (and Python's utf-8-sig) ignore a UTF-8 byte-order mark.
    if (text_.size() >= 3 && text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
  }

  /// Read the next non-blank record; false at the end of the text.
  bool next(Record& rec) {
    const std::size_t n = text_.size();
    // Blank lines are skipped, as pandas' skip_blank_lines=True does.
    while (pos_ < n && (text_[pos_] == '\n' || text_[pos_] == '\r')) consume_newline();
    if (pos_ >= n) return false;
    rec.clear();
    rec.line = line_;
    while (true) {
      read_field(rec);
      if (pos_ >= n) return true;
      char c = text_[pos_];
      if (c == ',') {
        ++pos_;
        if (pos_ >= n) {  // "a,b," at the very end: a last, empty field
          rec.fields_.push_back({text_.data(), pos_, 0, false});
          return true;
        }
        continue;
      }
      consume_newline();
      return true;
    }
  }

 private:
  void consume_newline() {
    if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
    ++line_;
  }

  void read_field(Record& rec) {
    const std::size_t n = text_.size();
    const char* data = text_.data();
    if (pos_ < n && data[pos_] == '"') {
      const std::size_t start_line = line_;
      std::size_t begin = ++pos_;
      // Fast path: no doubled quote inside, nothing after the closing quote -> a plain view.
      while (pos_ < n && data[pos_] != '"') {
        if (data[pos_] == '\n') ++line_;
        ++pos_;
      }
      if (pos_ >= n) unterminated(start_line);
      std::size_t end = pos_++;
      if (pos_ >= n || data[pos_] == ',' || data[pos_] == '\n' || data[pos_] == '\r') {
        rec.fields_.push_back({data, begin, end - begin, false});
        return;
      }
      // Slow path: doubled quotes and/or text after the closing quote (kept, as pandas does).
      std::size_t offset = rec.scratch_.size();
      rec.scratch_.append(data + begin, end - begin);
      bool quoted = true;
      while (pos_ < n) {
        char c = data[pos_];
        if (quoted) {
          // We stand just past a quote that ended a run: another quote makes a doubled (escaped)
          // quote and starts the next run; anything else ends the quoted part.
          if (c == '"') {
            rec.scratch_.push_back('"');
            ++pos_;
            // Read the next run inside the quotes.
            std::size_t run = pos_;
            while (pos_ < n && data[pos_] != '"') {
              if (data[pos_] == '\n') ++line_;
              ++pos_;
            }
            if (pos_ >= n) unterminated(start_line);
            rec.scratch_.append(data + run, pos_ - run);
            ++pos_;  // the quote that ends this run
            continue;
          }
          quoted = false;
        }
        if (c == ',' || c == '\n' || c == '\r') break;
        rec.scratch_.push_back(c);
        ++pos_;
      }
      rec.fields_.push_back({nullptr, offset, rec.scratch_.size() - offset, true});
      return;
    }
    std::size_t begin = pos_;
    while (pos_ < n) {
      char c = data[pos_];
      if (c == ',' || c == '\n' || c == '\r') break;
      ++pos_;
    }
    rec.fields_.push_back({data, begin, pos_ - begin, false});
  }

  [[noreturn]] void unterminated(std::size_t line) const {
    throw InputError(fmt::format("{}: line {}: unterminated quoted field (a '\"' opened here is never closed)",
                                 source_, line));
  }

  std::string_view text_;
  std::string_view source_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

// ---- Cell classification (pandas' read_csv defaults) ----------------------------------------------

// pandas' default na_values: these cells are missing in every column, whatever its type.
bool is_na(std::string_view s) {
  switch (s.size()) {
    case 0: return true;
    case 2: return s == "NA";
    case 3: return s == "NaN" || s == "nan" || s == "N/A" || s == "n/a" || s == "#NA";
    case 4: return s == "NULL" || s == "null" || s == "None" || s == "-NaN" || s == "-nan" || s == "<NA>" ||
                   s == "#N/A";
    case 6: return s == "1.#IND";
    case 7: return s == "1.#QNAN" || s == "-1.#IND";
    case 8: return s == "-1.#QNAN" || s == "#N/A N/A";
    default: return false;
  }
}

// pandas' numeric parsers tolerate surrounding spaces; the text of string cells is kept as is.
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_int64(std::string_view s, int64_t& out) {
  s = trim(s);
  if (s.size() > 1 && s.front() == '+') {
    s.remove_prefix(1);
    if (s.front() == '-') return false;
  }
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool parse_double(std::string_view s, double& out) {
  s = trim(s);
  if (s.size() > 1 && s.front() == '+') {
    s.remove_prefix(1);
    if (s.front() == '-') return false;
  }
  if (s.empty()) return false;
  // from_chars accepts "nan(...)" forms pandas does not; the plain NaN spellings are NA already.
  std::string_view body = s.front() == '-' ? s.substr(1) : s;
  if (!body.empty() && (body.front() == 'n' || body.front() == 'N')) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec == std::errc::result_out_of_range) {
    // Overflow/underflow: pandas gives +-inf / 0 like strtod; from_chars leaves `out` untouched.
    out = std::strtod(std::string(s).c_str(), nullptr);  // rare: a denormal or huge literal
    ec = std::errc();
  }
  return ec == std::errc() && end == s.data() + s.size();
}

// pandas' default true_values / false_values.
bool parse_bool(std::string_view s, uint8_t& out) {
  s = trim(s);
  if (s == "True" || s == "TRUE" || s == "true") {
    out = 1;
    return true;
  }
  if (s == "False" || s == "FALSE" || s == "false") {
    out = 0;
    return true;
  }
  return false;
}

struct Inference {
  bool can_int = true;
  bool can_float = true;
  bool can_bool = true;
  bool any_na = false;
  std::size_t present = 0;

  void observe(std::string_view cell) {
    if (is_na(cell)) {
      any_na = true;
      return;
    }
    ++present;
    if (can_int) {
      int64_t v;
      if (!parse_int64(cell, v)) can_int = false;
    }
    if (can_float && !can_int) {
      double d;
      if (!parse_double(cell, d)) can_float = false;
    }
    if (can_bool) {
      uint8_t b;
      if (!parse_bool(cell, b)) can_bool = false;
    }
  }
  bool undecided() const noexcept { return can_int || can_float || can_bool; }

  DType result(std::size_t rows) const {
    // A header-only file gives object columns in pandas; an all-missing column is float64.
    if (rows == 0) return DType::kString;
    if (present == 0) return DType::kFloat64;
    if (can_int) return any_na ? DType::kFloat64 : DType::kInt64;
    if (can_float) return DType::kFloat64;
    if (can_bool) return DType::kBool;
    return DType::kString;
  }
};

// pandas renames duplicate headers "a", "a" -> "a", "a.1" and empty ones to "Unnamed: <i>".
std::vector<std::string> mangle_header(const Record& rec) {
  std::vector<std::string> names;
  names.reserve(rec.size());
  for (std::size_t i = 0; i < rec.size(); ++i) {
    std::string name(rec[i]);
    if (name.empty()) name = fmt::format("Unnamed: {}", i);
    names.push_back(std::move(name));
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string base = names[i];
    int suffix = 0;
    auto clash = [&](const std::string& candidate) {
      for (std::size_t j = 0; j < i; ++j)
        if (names[j] == candidate) return true;
      return false;
    };
    std::string candidate = base;
    while (clash(candidate)) candidate = fmt::format("{}.{}", base, ++suffix);
    names[i] = std::move(candidate);
  }
  return names;
}

// Hash map keyed by std::string that can be probed with a string_view (no allocation per lookup).
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using DictIndex = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// The buffers a column is built in during pass 2.
struct ColumnBuilder {
  DType type = DType::kString;
  bool forced = false;
  std::vector<double> f64;
  std::vector<float> f32;
  std::vector<int64_t> i64;
  std::vector<int32_t> i32;
  std::vector<int8_t> i8;
  std::vector<uint8_t> b;
  std::vector<uint8_t> validity;
  std::vector<std::string> dict;
  std::vector<int32_t> codes;
  DictIndex index;

  void reserve(std::size_t rows) {
    switch (type) {
      case DType::kFloat64: f64.reserve(rows); break;
      case DType::kFloat32: f32.reserve(rows); break;
      case DType::kInt64: i64.reserve(rows); break;
      case DType::kInt32: i32.reserve(rows); break;
      case DType::kInt8: i8.reserve(rows); break;
      case DType::kBool: b.reserve(rows); break;
      case DType::kString: codes.reserve(rows); break;
    }
    if (type == DType::kInt64 || type == DType::kInt32 || type == DType::kInt8 || type == DType::kBool)
      validity.reserve(rows);
  }

  Column finish() {
    switch (type) {
      case DType::kFloat64: return Column::from_float64(std::move(f64));
      case DType::kFloat32: return Column::from_float32(std::move(f32));
      case DType::kInt64: return Column::from_int64(std::move(i64), std::move(validity));
      case DType::kInt32: return Column::from_int32(std::move(i32), std::move(validity));
      case DType::kInt8: return Column::from_int8(std::move(i8), std::move(validity));
      case DType::kBool: return Column::from_bool(std::move(b), std::move(validity));
      case DType::kString: return Column::from_dictionary(std::move(dict), std::move(codes));
    }
    throw InternalError("unknown dtype");
  }
};

[[noreturn]] void bad_cell(std::string_view source, std::size_t line, std::string_view column,
                           std::string_view cell, DType type) {
  throw InputError(fmt::format("{}: line {}, column '{}': cannot parse '{}' as {}", source, line, column, cell,
                               dtype_name(type)));
}

void append_cell(ColumnBuilder& col, std::string_view cell, std::string_view source, std::size_t line,
                 std::string_view name) {
  const bool na = is_na(cell);
  switch (col.type) {
    case DType::kFloat64: {
      double v = std::numeric_limits<double>::quiet_NaN();
      if (!na && !parse_double(cell, v)) bad_cell(source, line, name, cell, col.type);
      col.f64.push_back(v);
      return;
    }
    case DType::kFloat32: {
      double v = std::numeric_limits<double>::quiet_NaN();
      if (!na && !parse_double(cell, v)) bad_cell(source, line, name, cell, col.type);
      col.f32.push_back(static_cast<float>(v));
      return;
    }
    case DType::kInt64:
    case DType::kInt32:
    case DType::kInt8: {
      int64_t v = 0;
      if (!na) {
        if (!parse_int64(cell, v)) {
          // A forced int column accepts integral floats ("3.0"), as pandas' astype does.
          double d;
          if (!parse_double(cell, d) || !std::isfinite(d) || d != std::floor(d) ||
              std::fabs(d) >= 9.2233720368547758e18)
            bad_cell(source, line, name, cell, col.type);
          v = static_cast<int64_t>(d);
        }
        int64_t lo = col.type == DType::kInt32 ? std::numeric_limits<int32_t>::min()
                     : col.type == DType::kInt8 ? std::numeric_limits<int8_t>::min()
                                                 : std::numeric_limits<int64_t>::min();
        int64_t hi = col.type == DType::kInt32 ? std::numeric_limits<int32_t>::max()
                     : col.type == DType::kInt8 ? std::numeric_limits<int8_t>::max()
                                                 : std::numeric_limits<int64_t>::max();
        if (v < lo || v > hi) bad_cell(source, line, name, cell, col.type);
      }
      col.validity.push_back(na ? 0 : 1);
      if (col.type == DType::kInt64) col.i64.push_back(v);
      else if (col.type == DType::kInt32) col.i32.push_back(static_cast<int32_t>(v));
      else col.i8.push_back(static_cast<int8_t>(v));
      return;
    }
    case DType::kBool: {
      uint8_t v = 0;
      if (!na && !parse_bool(cell, v)) {
        // Forced bool also takes 0/1, as pandas' astype(bool) of integers would.
        int64_t i;
        if (!parse_int64(cell, i) || (i != 0 && i != 1)) bad_cell(source, line, name, cell, col.type);
        v = static_cast<uint8_t>(i);
      }
      col.validity.push_back(na ? 0 : 1);
      col.b.push_back(v);
      return;
    }
    case DType::kString: {
      if (na) {
        col.codes.push_back(-1);
        return;
      }
      auto it = col.index.find(cell);
      if (it == col.index.end()) {
        col.dict.emplace_back(cell);
        it = col.index.emplace(col.dict.back(), static_cast<int32_t>(col.dict.size() - 1)).first;
      }
      col.codes.push_back(it->second);
      return;
    }
  }
}

[[noreturn]] void ragged(std::string_view source, std::size_t line, std::size_t expected, std::size_t got,
                         const std::vector<std::string>& names) {
  if (got > expected)
    throw InputError(fmt::format("{}: line {}: expected {} fields (as in the header), got {}", source, line,
                                 expected, got));
  throw InputError(fmt::format("{}: line {}: expected {} fields (as in the header), got {} (column '{}' is missing)",
                               source, line, expected, got, names[got]));
}

// ---- Writing -------------------------------------------------------------------------------------

bool needs_quotes(std::string_view s) {
  for (char c : s)
    if (c == ',' || c == '"' || c == '\n' || c == '\r') return true;
  return false;
}

void append_quoted(std::string& out, std::string_view field) {
  if (!needs_quotes(field)) {
    out.append(field);
    return;
  }
  out.push_back('"');
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

// Python's csv writer writes a record made of one empty field as `""` (so it is not a blank line,
// which readers skip); pandas inherits this for one-column frames with empty/NaN cells.
void end_record(std::string& out, std::size_t record_start, std::size_t fields) {
  if (fields == 1 && out.size() == record_start) out.append("\"\"");
  out.push_back('\n');
}

// Python's float repr (pandas' default float formatting): the shortest digits that round-trip,
// positional when 1e-4 <= |x| < 1e16, scientific otherwise with at least two exponent digits.
template <typename Float>
void append_repr(std::string& out, Float v) {
  if (std::isinf(v)) {
    out.append(v < 0 ? "-inf" : "inf");
    return;
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view s(buf, static_cast<std::size_t>(res.ptr - buf));  // e.g. "-1.2345e+03"
  bool neg = s.front() == '-';
  if (neg) s.remove_prefix(1);
  std::size_t epos = s.find('e');
  int exp = 0;
  std::from_chars(s.data() + epos + 1 + (s[epos + 1] == '+' ? 1 : 0), s.data() + s.size(), exp);
  std::string digits;
  for (char c : s.substr(0, epos))
    if (c != '.') digits.push_back(c);
  if (neg) out.push_back('-');
  if (v == 0 || (exp >= -4 && exp < 16)) {
    if (exp < 0) {
      out.append("0.");
      out.append(static_cast<std::size_t>(-exp - 1), '0');
      out.append(digits);
    } else {
      auto int_digits = static_cast<std::size_t>(exp + 1);
      if (digits.size() <= int_digits) {
        out.append(digits);
        out.append(int_digits - digits.size(), '0');
        out.append(".0");
      } else {
        out.append(digits, 0, int_digits);
        out.push_back('.');
        out.append(digits, int_digits, std::string::npos);
      }
    }
    return;
  }
  out.push_back(digits[0]);
  if (digits.size() > 1) {
    out.push_back('.');
    out.append(digits, 1, std::string::npos);
  }
  out.append(fmt::format("e{}{:02d}", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp));
}

void append_double(std::string& out, double v, int digits) {
  if (std::isnan(v)) return;  // missing -> empty cell
  if (digits <= 0) {
    append_repr(out, v);
    return;
  }
  char buf[64];
  // to_chars(general, precision) is specified to print exactly what printf("%.*g") prints.
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, digits);
  out.append(buf, static_cast<std::size_t>(res.ptr - buf));
}

template <typename Int>
void append_int(std::string& out, Int v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(res.ptr - buf));
}

}  // namespace

// ---- Typed CSV ------------------------------------------------------------------------------------

Table parse_csv(std::string_view text, std::string_view source, const CsvReadOptions& options) {
  if (text.empty()) throw IoError(fmt::format("{}: empty file", source));
  Tokenizer header_tok(text, source);
  Record rec;
  if (!header_tok.next(rec)) throw IoError(fmt::format("{}: empty file (no header row)", source));
  const std::vector<std::string> names = mangle_header(rec);
  const std::size_t ncols = names.size();

  std::vector<ColumnBuilder> builders(ncols);
  for (std::size_t c = 0; c < ncols; ++c) {
    auto it = options.dtypes.find(names[c]);
    if (it != options.dtypes.end()) {
      builders[c].type = it->second;
      builders[c].forced = true;
    }
  }

  // Pass 1: shape and type inference.
  std::vector<Inference> inference(ncols);
  std::size_t rows = 0;
  {
    Tokenizer tok = header_tok;
    while (tok.next(rec)) {
      if (rec.size() != ncols) ragged(source, rec.line, ncols, rec.size(), names);
      for (std::size_t c = 0; c < ncols; ++c)
        if (!builders[c].forced && inference[c].undecided()) inference[c].observe(rec[c]);
      ++rows;
    }
  }
  for (std::size_t c = 0; c < ncols; ++c) {
    if (!builders[c].forced) builders[c].type = inference[c].result(rows);
    builders[c].reserve(rows);
  }

  // Pass 2: convert into the column buffers.
  {
    Tokenizer tok = header_tok;
    while (tok.next(rec))
      for (std::size_t c = 0; c < ncols; ++c) append_cell(builders[c], rec[c], source, rec.line, names[c]);
  }

  Table table;
  for (std::size_t c = 0; c < ncols; ++c) table.add_column(names[c], builders[c].finish());
  if (ncols == 0) table.set_num_rows_without_columns(rows);
  return table;
}

Table read_csv(const std::filesystem::path& path, const CsvReadOptions& options) {
  std::string text = read_file_text(path);
  return parse_csv(text, path.string(), options);
}

std::string format_csv(const Table& table, const CsvWriteOptions& options) {
  const std::size_t ncols = table.num_columns();
  const std::size_t rows = table.num_rows();
  const int digits = options.float_significant_digits;
  std::string out;
  out.reserve(64 + rows * ncols * 12);

  std::size_t start = out.size();
  for (std::size_t c = 0; c < ncols; ++c) {
    if (c) out.push_back(',');
    append_quoted(out, table.column_names()[c]);
  }
  if (ncols > 0) end_record(out, start, ncols);
  else out.push_back('\n');  // pandas writes an empty header line (and nothing else) here

  // Quote each string column's dictionary once, not once per row.
  std::vector<std::vector<std::string>> quoted(ncols);
  for (std::size_t c = 0; c < ncols; ++c) {
    const Column& col = table.column(c);
    if (col.type() != DType::kString) continue;
    quoted[c].reserve(col.dictionary().size());
    for (const auto& s : col.dictionary()) {
      std::string q;
      append_quoted(q, s);
      quoted[c].push_back(std::move(q));
    }
  }

  for (std::size_t row = 0; row < rows && ncols > 0; ++row) {
    start = out.size();
    for (std::size_t c = 0; c < ncols; ++c) {
      if (c) out.push_back(',');
      const Column& col = table.column(c);
      if (col.is_null(row) && col.type() != DType::kFloat64 && col.type() != DType::kFloat32) continue;
      switch (col.type()) {
        case DType::kFloat64: append_double(out, col.f64()[row], digits); break;
        case DType::kFloat32: {
          float v = col.f32()[row];
          if (std::isnan(v)) break;
          if (digits <= 0) append_repr(out, v);  // numpy's float32 repr: shortest float32 digits
          else append_double(out, static_cast<double>(v), digits);
          break;
        }
        case DType::kInt64: append_int(out, col.i64()[row]); break;
        case DType::kInt32: append_int(out, col.i32()[row]); break;
        case DType::kInt8: append_int(out, static_cast<int>(col.i8()[row])); break;
        case DType::kBool: out.append(col.bools()[row] ? "True" : "False"); break;
        case DType::kString: out.append(quoted[c][static_cast<std::size_t>(col.codes()[row])]); break;
      }
    }
    end_record(out, start, ncols);
  }
  return out;
}

void write_csv(const Table& table, const std::filesystem::path& path, const CsvWriteOptions& options) {
  write_file_atomic(path, format_csv(table, options));
}

std::string csv_quote(std::string_view field) {
  std::string out;
  append_quoted(out, field);
  return out;
}

// ---- TextCsv --------------------------------------------------------------------------------------

TextCsv TextCsv::parse(std::string_view text, std::string_view source) {
  TextCsv csv;
  Tokenizer tok(text, source);
  Record rec;
  if (!tok.next(rec)) return csv;
  csv.header.reserve(rec.size());
  for (std::size_t i = 0; i < rec.size(); ++i) csv.header.emplace_back(rec[i]);
  const std::size_t ncols = csv.header.size();
  while (tok.next(rec)) {
    if (rec.size() > ncols)
      throw InputError(fmt::format("{}: line {}: expected at most {} fields (as in the header), got {}", source,
                                   rec.line, ncols, rec.size()));
    // Short rows mean missing trailing cells; pad them so rows are always rectangular.
    std::vector<std::string> row(ncols);
    for (std::size_t i = 0; i < rec.size(); ++i) row[i].assign(rec[i]);
    csv.rows.push_back(std::move(row));
  }
  return csv;
}

TextCsv TextCsv::read(const std::filesystem::path& path) {
  std::string text = read_file_text(path);
  return parse(text, path.string());
}

std::string TextCsv::format() const {
  std::string out;
  if (header.empty() && rows.empty()) return out;
  const std::size_t ncols = header.size();
  std::size_t start = out.size();
  for (std::size_t c = 0; c < ncols; ++c) {
    if (c) out.push_back(',');
    append_quoted(out, header[c]);
  }
  end_record(out, start, ncols);
  for (const auto& row : rows) {
    start = out.size();
    // Rows are written with exactly as many cells as the header: short rows are padded.
    for (std::size_t c = 0; c < ncols; ++c) {
      if (c) out.push_back(',');
      if (c < row.size()) append_quoted(out, row[c]);
    }
    end_record(out, start, ncols);
  }
  return out;
}

void TextCsv::write_atomic(const std::filesystem::path& path) const { write_file_atomic(path, format()); }

std::optional<std::size_t> TextCsv::column_index(std::string_view name) const {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  return std::nullopt;
}

std::string_view TextCsv::cell(std::size_t row, std::string_view name) const {
  auto idx = column_index(name);
  if (!idx || row >= rows.size() || *idx >= rows[row].size()) return {};
  return rows[row][*idx];
}

std::size_t TextCsv::ensure_column(std::string_view name) {
  if (auto idx = column_index(name)) return *idx;
  header.emplace_back(name);
  for (auto& row : rows)
    if (row.size() < header.size()) row.resize(header.size());
  return header.size() - 1;
}

}  // namespace mosaic
