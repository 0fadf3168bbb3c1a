#include "mosaic/table.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <numeric>
#include <unordered_map>

#include "mosaic/errors.hpp"

namespace mosaic {

std::string_view dtype_name(DType type) noexcept {
  switch (type) {
    case DType::kFloat64: return "float64";
    case DType::kFloat32: return "float32";
    case DType::kInt64: return "int64";
    case DType::kInt32: return "int32";
    case DType::kInt8: return "int8";
    case DType::kBool: return "bool";
    case DType::kString: return "object";
  }
  return "?";
}

bool is_floating(DType t) noexcept { return t == DType::kFloat64 || t == DType::kFloat32; }
bool is_integer(DType t) noexcept {
  return t == DType::kInt64 || t == DType::kInt32 || t == DType::kInt8;
}
bool is_numeric(DType t) noexcept { return is_floating(t) || is_integer(t); }

namespace {

[[noreturn]] void type_mismatch(DType have, std::string_view want) {
  throw InternalError(fmt::format("column of type {} accessed as {}", dtype_name(have), want));
}

void check_validity(const std::vector<uint8_t>& validity, std::size_t n) {
  if (!validity.empty() && validity.size() != n)
    throw InternalError(fmt::format("validity mask has {} entries for {} rows", validity.size(), n));
}

std::vector<uint8_t> normalize_validity(std::vector<uint8_t> validity) {
  // An all-valid mask is stored as empty: the fast path everywhere.
  if (std::all_of(validity.begin(), validity.end(), [](uint8_t v) { return v != 0; })) return {};
  return validity;
}

template <typename T>
std::vector<T> take_vec(const std::vector<T>& v, std::span<const int64_t> rows) {
  std::vector<T> out(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) out[i] = v[static_cast<std::size_t>(rows[i])];
  return out;
}

template <typename T>
std::vector<T> filter_vec(const std::vector<T>& v, std::span<const uint8_t> mask, std::size_t kept) {
  std::vector<T> out;
  out.reserve(kept);
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) out.push_back(v[i]);
  return out;
}

template <typename T>
std::vector<T> slice_vec(const std::vector<T>& v, std::size_t offset, std::size_t length) {
  return std::vector<T>(v.begin() + static_cast<std::ptrdiff_t>(offset),
                        v.begin() + static_cast<std::ptrdiff_t>(offset + length));
}

}  // namespace

// ---- Column construction ------------------------------------------------------------------------

Column Column::from_float64(std::vector<double> values) {
  Column c;
  c.type_ = DType::kFloat64;
  c.size_ = values.size();
  c.f64_ = std::move(values);
  return c;
}
Column Column::from_float32(std::vector<float> values) {
  Column c;
  c.type_ = DType::kFloat32;
  c.size_ = values.size();
  c.f32_ = std::move(values);
  return c;
}
Column Column::from_int64(std::vector<int64_t> values, std::vector<uint8_t> validity) {
  check_validity(validity, values.size());
  Column c;
  c.type_ = DType::kInt64;
  c.size_ = values.size();
  c.i64_ = std::move(values);
  c.validity_ = normalize_validity(std::move(validity));
  return c;
}
Column Column::from_int32(std::vector<int32_t> values, std::vector<uint8_t> validity) {
  check_validity(validity, values.size());
  Column c;
  c.type_ = DType::kInt32;
  c.size_ = values.size();
  c.i32_ = std::move(values);
  c.validity_ = normalize_validity(std::move(validity));
  return c;
}
Column Column::from_int8(std::vector<int8_t> values, std::vector<uint8_t> validity) {
  check_validity(validity, values.size());
  Column c;
  c.type_ = DType::kInt8;
  c.size_ = values.size();
  c.i8_ = std::move(values);
  c.validity_ = normalize_validity(std::move(validity));
  return c;
}
Column Column::from_bool(std::vector<uint8_t> values, std::vector<uint8_t> validity) {
  check_validity(validity, values.size());
  Column c;
  c.type_ = DType::kBool;
  c.size_ = values.size();
  for (auto& v : values) v = v ? 1 : 0;
  c.b_ = std::move(values);
  c.validity_ = normalize_validity(std::move(validity));
  return c;
}
Column Column::from_strings(const std::vector<std::string>& values) {
  std::vector<std::string> dict;
  std::vector<int32_t> codes(values.size());
  std::unordered_map<std::string_view, int32_t> index;
  // Reserve so that string_views into `dict` stay valid while it grows.
  dict.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    auto it = index.find(values[i]);
    if (it == index.end()) {
      dict.push_back(values[i]);
      int32_t code = static_cast<int32_t>(dict.size() - 1);
      index.emplace(dict.back(), code);
      codes[i] = code;
    } else {
      codes[i] = it->second;
    }
  }
  dict.shrink_to_fit();
  return from_dictionary(std::move(dict), std::move(codes));
}
Column Column::from_dictionary(std::vector<std::string> dictionary, std::vector<int32_t> codes) {
  for (int32_t code : codes)
    if (code < -1 || code >= static_cast<int32_t>(dictionary.size()))
      throw InternalError(fmt::format("string code {} outside dictionary of {}", code, dictionary.size()));
  Column c;
  c.type_ = DType::kString;
  c.size_ = codes.size();
  c.dict_ = std::move(dictionary);
  c.codes_ = std::move(codes);
  return c;
}
Column Column::constant_string(std::string value, std::size_t rows) {
  return from_dictionary({std::move(value)}, std::vector<int32_t>(rows, 0));
}
Column Column::constant_float64(double value, std::size_t rows) {
  return from_float64(std::vector<double>(rows, value));
}
Column Column::constant_int64(int64_t value, std::size_t rows) {
  return from_int64(std::vector<int64_t>(rows, value));
}
Column Column::nulls(DType type, std::size_t rows) {
  std::vector<uint8_t> invalid(rows, 0);
  switch (type) {
    case DType::kFloat64: return from_float64(std::vector<double>(rows, std::nan("")));
    case DType::kFloat32: return from_float32(std::vector<float>(rows, std::nanf("")));
    case DType::kInt64: return from_int64(std::vector<int64_t>(rows, 0), invalid);
    case DType::kInt32: return from_int32(std::vector<int32_t>(rows, 0), invalid);
    case DType::kInt8: return from_int8(std::vector<int8_t>(rows, 0), invalid);
    case DType::kBool: return from_bool(std::vector<uint8_t>(rows, 0), invalid);
    case DType::kString: return from_dictionary({}, std::vector<int32_t>(rows, -1));
  }
  throw InternalError("unknown dtype");
}

// ---- Typed access --------------------------------------------------------------------------------

#define MOSAIC_TYPED_ACCESS(NAME, MUTNAME, MEMBER, CTYPE, DTYPE)                  \
  std::span<const CTYPE> Column::NAME() const {                                  \
    if (type_ != DTYPE) type_mismatch(type_, dtype_name(DTYPE));                 \
    return MEMBER;                                                               \
  }                                                                              \
  std::span<CTYPE> Column::MUTNAME() {                                           \
    if (type_ != DTYPE) type_mismatch(type_, dtype_name(DTYPE));                 \
    return MEMBER;                                                               \
  }
MOSAIC_TYPED_ACCESS(f64, f64_mut, f64_, double, DType::kFloat64)
MOSAIC_TYPED_ACCESS(f32, f32_mut, f32_, float, DType::kFloat32)
MOSAIC_TYPED_ACCESS(i64, i64_mut, i64_, int64_t, DType::kInt64)
MOSAIC_TYPED_ACCESS(i32, i32_mut, i32_, int32_t, DType::kInt32)
MOSAIC_TYPED_ACCESS(i8, i8_mut, i8_, int8_t, DType::kInt8)
MOSAIC_TYPED_ACCESS(bools, bools_mut, b_, uint8_t, DType::kBool)
#undef MOSAIC_TYPED_ACCESS

Eigen::Map<const Eigen::VectorXd> Column::f64_map() const {
  auto s = f64();
  return {s.data(), static_cast<Eigen::Index>(s.size())};
}
Eigen::Map<const Eigen::VectorXf> Column::f32_map() const {
  auto s = f32();
  return {s.data(), static_cast<Eigen::Index>(s.size())};
}
Eigen::Map<const Eigen::Matrix<int64_t, Eigen::Dynamic, 1>> Column::i64_map() const {
  auto s = i64();
  return {s.data(), static_cast<Eigen::Index>(s.size())};
}
const std::vector<std::string>& Column::dictionary() const {
  if (type_ != DType::kString) type_mismatch(type_, "string");
  return dict_;
}
std::span<const int32_t> Column::codes() const {
  if (type_ != DType::kString) type_mismatch(type_, "string");
  return codes_;
}

// ---- Validity ------------------------------------------------------------------------------------

bool Column::is_null(std::size_t row) const {
  switch (type_) {
    case DType::kFloat64: return std::isnan(f64_[row]);
    case DType::kFloat32: return std::isnan(f32_[row]);
    case DType::kString: return codes_[row] < 0;
    default: return !validity_.empty() && validity_[row] == 0;
  }
}
bool Column::has_nulls() const { return null_count() > 0; }
std::size_t Column::null_count() const {
  switch (type_) {
    case DType::kFloat64:
      return static_cast<std::size_t>(std::count_if(f64_.begin(), f64_.end(), [](double v) { return std::isnan(v); }));
    case DType::kFloat32:
      return static_cast<std::size_t>(std::count_if(f32_.begin(), f32_.end(), [](float v) { return std::isnan(v); }));
    case DType::kString:
      return static_cast<std::size_t>(std::count(codes_.begin(), codes_.end(), -1));
    default:
      return static_cast<std::size_t>(std::count(validity_.begin(), validity_.end(), uint8_t{0}));
  }
}
void Column::set_validity(std::vector<uint8_t> validity) {
  if (is_floating(type_) || type_ == DType::kString)
    throw InternalError("validity masks are for integer and bool columns only");
  check_validity(validity, size_);
  validity_ = normalize_validity(std::move(validity));
}

// ---- Row-wise conversions ------------------------------------------------------------------------

double Column::as_double(std::size_t row) const {
  if (is_null(row)) return std::nan("");
  switch (type_) {
    case DType::kFloat64: return f64_[row];
    case DType::kFloat32: return static_cast<double>(f32_[row]);
    case DType::kInt64: return static_cast<double>(i64_[row]);
    case DType::kInt32: return i32_[row];
    case DType::kInt8: return i8_[row];
    case DType::kBool: return b_[row];
    case DType::kString: break;
  }
  type_mismatch(type_, "double");
}
int64_t Column::as_int64(std::size_t row) const {
  if (is_null(row)) throw InputError(fmt::format("missing value at row {} where an integer is required", row));
  switch (type_) {
    case DType::kInt64: return i64_[row];
    case DType::kInt32: return i32_[row];
    case DType::kInt8: return i8_[row];
    case DType::kBool: return b_[row];
    case DType::kFloat64:
    case DType::kFloat32: {
      double v = as_double(row);
      if (v != std::floor(v)) throw InputError(fmt::format("non-integral value {} at row {}", v, row));
      return static_cast<int64_t>(v);
    }
    case DType::kString: break;
  }
  type_mismatch(type_, "int64");
}
std::string_view Column::str(std::size_t row) const {
  if (type_ != DType::kString) type_mismatch(type_, "string");
  int32_t code = codes_[row];
  return code < 0 ? std::string_view() : std::string_view(dict_[static_cast<std::size_t>(code)]);
}

// ---- Whole-column operations --------------------------------------------------------------------

Column Column::take(std::span<const int64_t> rows) const {
  Column c;
  c.type_ = type_;
  c.size_ = rows.size();
  switch (type_) {
    case DType::kFloat64: c.f64_ = take_vec(f64_, rows); break;
    case DType::kFloat32: c.f32_ = take_vec(f32_, rows); break;
    case DType::kInt64: c.i64_ = take_vec(i64_, rows); break;
    case DType::kInt32: c.i32_ = take_vec(i32_, rows); break;
    case DType::kInt8: c.i8_ = take_vec(i8_, rows); break;
    case DType::kBool: c.b_ = take_vec(b_, rows); break;
    case DType::kString:
      c.dict_ = dict_;
      c.codes_ = take_vec(codes_, rows);
      break;
  }
  if (!validity_.empty()) c.validity_ = normalize_validity(take_vec(validity_, rows));
  return c;
}

Column Column::slice(std::size_t offset, std::size_t length) const {
  if (offset + length > size_) throw InternalError("slice out of range");
  Column c;
  c.type_ = type_;
  c.size_ = length;
  switch (type_) {
    case DType::kFloat64: c.f64_ = slice_vec(f64_, offset, length); break;
    case DType::kFloat32: c.f32_ = slice_vec(f32_, offset, length); break;
    case DType::kInt64: c.i64_ = slice_vec(i64_, offset, length); break;
    case DType::kInt32: c.i32_ = slice_vec(i32_, offset, length); break;
    case DType::kInt8: c.i8_ = slice_vec(i8_, offset, length); break;
    case DType::kBool: c.b_ = slice_vec(b_, offset, length); break;
    case DType::kString:
      c.dict_ = dict_;
      c.codes_ = slice_vec(codes_, offset, length);
      break;
  }
  if (!validity_.empty()) c.validity_ = normalize_validity(slice_vec(validity_, offset, length));
  return c;
}

Column Column::filter(std::span<const uint8_t> mask) const {
  if (mask.size() != size_) throw InternalError("filter mask length differs from column length");
  std::size_t kept = static_cast<std::size_t>(std::count_if(mask.begin(), mask.end(), [](uint8_t m) { return m != 0; }));
  Column c;
  c.type_ = type_;
  c.size_ = kept;
  switch (type_) {
    case DType::kFloat64: c.f64_ = filter_vec(f64_, mask, kept); break;
    case DType::kFloat32: c.f32_ = filter_vec(f32_, mask, kept); break;
    case DType::kInt64: c.i64_ = filter_vec(i64_, mask, kept); break;
    case DType::kInt32: c.i32_ = filter_vec(i32_, mask, kept); break;
    case DType::kInt8: c.i8_ = filter_vec(i8_, mask, kept); break;
    case DType::kBool: c.b_ = filter_vec(b_, mask, kept); break;
    case DType::kString:
      c.dict_ = dict_;
      c.codes_ = filter_vec(codes_, mask, kept);
      break;
  }
  if (!validity_.empty()) c.validity_ = normalize_validity(filter_vec(validity_, mask, kept));
  return c;
}

Column Column::cast(DType to) const {
  if (to == type_) return *this;
  if (type_ == DType::kString || to == DType::kString)
    throw InputError(fmt::format("cannot cast a {} column to {}", dtype_name(type_), dtype_name(to)));
  std::vector<uint8_t> valid;
  if (is_floating(to)) {
    if (to == DType::kFloat64) {
      std::vector<double> out(size_);
      for (std::size_t i = 0; i < size_; ++i) out[i] = as_double(i);
      return from_float64(std::move(out));
    }
    std::vector<float> out(size_);
    for (std::size_t i = 0; i < size_; ++i) out[i] = static_cast<float>(as_double(i));
    return from_float32(std::move(out));
  }
  // Integer or bool target: nulls stay nulls (validity), floats must be integral.
  std::vector<int64_t> tmp(size_);
  valid.assign(size_, 1);
  for (std::size_t i = 0; i < size_; ++i) {
    if (is_null(i)) {
      valid[i] = 0;
      continue;
    }
    tmp[i] = as_int64(i);
  }
  switch (to) {
    case DType::kInt64: return from_int64(std::move(tmp), std::move(valid));
    case DType::kInt32: return from_int32(std::vector<int32_t>(tmp.begin(), tmp.end()), std::move(valid));
    case DType::kInt8: return from_int8(std::vector<int8_t>(tmp.begin(), tmp.end()), std::move(valid));
    case DType::kBool: {
      std::vector<uint8_t> b(size_);
      for (std::size_t i = 0; i < size_; ++i) b[i] = tmp[i] != 0;
      return from_bool(std::move(b), std::move(valid));
    }
    default: break;
  }
  throw InternalError("unreachable cast");
}

Column Column::concat(std::span<const Column* const> parts) {
  if (parts.empty()) return Column();
  DType type = parts[0]->type_;
  std::size_t total = 0;
  bool any_validity = false;
  for (const Column* p : parts) {
    if (p->type_ != type)
      throw SchemaError(fmt::format("cannot concatenate columns of types {} and {}", dtype_name(type),
                                    dtype_name(p->type_)));
    total += p->size_;
    any_validity = any_validity || !p->validity_.empty();
  }
  Column c;
  c.type_ = type;
  c.size_ = total;
  auto append = [&](auto member) {
    auto& dst = c.*member;
    dst.reserve(total);
    for (const Column* p : parts) dst.insert(dst.end(), (p->*member).begin(), (p->*member).end());
  };
  switch (type) {
    case DType::kFloat64: append(&Column::f64_); break;
    case DType::kFloat32: append(&Column::f32_); break;
    case DType::kInt64: append(&Column::i64_); break;
    case DType::kInt32: append(&Column::i32_); break;
    case DType::kInt8: append(&Column::i8_); break;
    case DType::kBool: append(&Column::b_); break;
    case DType::kString: {
      // Merge dictionaries; identical dictionaries (the common case) are reused as they are.
      c.codes_.reserve(total);
      std::unordered_map<std::string, int32_t> index;
      for (const Column* p : parts) {
        std::vector<int32_t> remap(p->dict_.size());
        bool same = p->dict_ == c.dict_;
        for (std::size_t k = 0; k < p->dict_.size(); ++k) {
          if (same) {
            remap[k] = static_cast<int32_t>(k);
            continue;
          }
          auto it = index.find(p->dict_[k]);
          if (it == index.end()) {
            // Index the existing dictionary lazily the first time a new one is merged.
            if (index.empty())
              for (std::size_t e = 0; e < c.dict_.size(); ++e) index.emplace(c.dict_[e], static_cast<int32_t>(e));
            it = index.find(p->dict_[k]);
          }
          if (it == index.end()) {
            c.dict_.push_back(p->dict_[k]);
            it = index.emplace(p->dict_[k], static_cast<int32_t>(c.dict_.size() - 1)).first;
          }
          remap[k] = it->second;
        }
        for (int32_t code : p->codes_) c.codes_.push_back(code < 0 ? -1 : remap[static_cast<std::size_t>(code)]);
      }
      break;
    }
  }
  if (any_validity) {
    c.validity_.reserve(total);
    for (const Column* p : parts) {
      if (p->validity_.empty())
        c.validity_.insert(c.validity_.end(), p->size_, 1);
      else
        c.validity_.insert(c.validity_.end(), p->validity_.begin(), p->validity_.end());
    }
    c.validity_ = normalize_validity(std::move(c.validity_));
  }
  return c;
}

bool Column::equals(const Column& o) const {
  if (type_ != o.type_ || size_ != o.size_) return false;
  for (std::size_t i = 0; i < size_; ++i) {
    bool n1 = is_null(i), n2 = o.is_null(i);
    if (n1 != n2) return false;
    if (n1) continue;
    switch (type_) {
      case DType::kString:
        if (str(i) != o.str(i)) return false;
        break;
      case DType::kFloat64:
        if (f64_[i] != o.f64_[i]) return false;
        break;
      case DType::kFloat32:
        if (f32_[i] != o.f32_[i]) return false;
        break;
      default:
        if (as_int64(i) != o.as_int64(i)) return false;
    }
  }
  return true;
}

// ---- Table ---------------------------------------------------------------------------------------

bool Table::has_column(std::string_view name) const noexcept { return column_index(name).has_value(); }

std::optional<std::size_t> Table::column_index(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return i;
  return std::nullopt;
}

const Column& Table::column(std::string_view name) const {
  auto idx = column_index(name);
  if (!idx) throw SchemaError::missing_column("table", name, names_);
  return *columns_[*idx];
}
const Column& Table::column(std::size_t index) const { return *columns_.at(index); }

Column& Table::mutable_column(std::string_view name) {
  auto idx = column_index(name);
  if (!idx) throw SchemaError::missing_column("table", name, names_);
  auto& slot = columns_[*idx];
  if (slot.use_count() > 1) slot = std::make_shared<const Column>(*slot);
  // The column is now owned by this table alone, so writing through it is safe.
  return const_cast<Column&>(*slot);
}

void Table::add_column(std::string name, Column column) {
  add_column(std::move(name), std::make_shared<const Column>(std::move(column)));
}

void Table::add_column(std::string name, std::shared_ptr<const Column> column) {
  if (has_column(name)) throw InternalError(fmt::format("duplicate column '{}'", name));
  if (columns_.empty() && names_.empty()) {
    num_rows_ = column->size();
  } else if (column->size() != num_rows_) {
    throw InternalError(fmt::format("column '{}' has {} rows, table has {}", name, column->size(), num_rows_));
  }
  names_.push_back(std::move(name));
  columns_.push_back(std::move(column));
}

void Table::set_column(std::string name, Column column) {
  auto idx = column_index(name);
  if (!idx) {
    add_column(std::move(name), std::move(column));
    return;
  }
  if (column.size() != num_rows_ && columns_.size() > 1)
    throw InternalError(fmt::format("column '{}' has {} rows, table has {}", name, column.size(), num_rows_));
  num_rows_ = column.size();
  columns_[*idx] = std::make_shared<const Column>(std::move(column));
}

void Table::drop_column(std::string_view name) {
  auto idx = column_index(name);
  if (!idx) return;
  names_.erase(names_.begin() + static_cast<std::ptrdiff_t>(*idx));
  columns_.erase(columns_.begin() + static_cast<std::ptrdiff_t>(*idx));
}

void Table::set_num_rows_without_columns(std::size_t rows) {
  if (!columns_.empty()) throw InternalError("set_num_rows_without_columns on a table with columns");
  num_rows_ = rows;
}

Table Table::select(const std::vector<std::string>& names) const {
  Table out;
  out.num_rows_ = num_rows_;
  for (const auto& n : names) {
    auto idx = column_index(n);
    if (!idx) throw SchemaError::missing_column("table", n, names_);
    out.names_.push_back(n);
    out.columns_.push_back(columns_[*idx]);
  }
  return out;
}

Table Table::rename(const std::vector<std::pair<std::string, std::string>>& renames) const {
  Table out = *this;
  for (const auto& [from, to] : renames) {
    auto idx = out.column_index(from);
    if (idx) out.names_[*idx] = to;
  }
  return out;
}

Table Table::slice(std::size_t offset, std::size_t length) const {
  if (offset > num_rows_) offset = num_rows_;
  length = std::min(length, num_rows_ - offset);
  Table out;
  out.names_ = names_;
  out.num_rows_ = length;
  for (const auto& c : columns_) out.columns_.push_back(std::make_shared<const Column>(c->slice(offset, length)));
  return out;
}

Table Table::filter(std::span<const uint8_t> mask) const {
  if (mask.size() != num_rows_) throw InternalError("filter mask length differs from table length");
  Table out;
  out.names_ = names_;
  out.num_rows_ = static_cast<std::size_t>(std::count_if(mask.begin(), mask.end(), [](uint8_t m) { return m != 0; }));
  for (const auto& c : columns_) out.columns_.push_back(std::make_shared<const Column>(c->filter(mask)));
  return out;
}

Table Table::take(std::span<const int64_t> rows) const {
  Table out;
  out.names_ = names_;
  out.num_rows_ = rows.size();
  for (const auto& c : columns_) out.columns_.push_back(std::make_shared<const Column>(c->take(rows)));
  return out;
}

namespace {

// Three-way compare of two rows of one column, pandas order: nulls last.
int compare_rows(const Column& c, std::size_t a, std::size_t b) {
  bool na = c.is_null(a), nb = c.is_null(b);
  if (na || nb) return na == nb ? 0 : (na ? 1 : -1);
  switch (c.type()) {
    case DType::kString: {
      int r = c.str(a).compare(c.str(b));
      return r < 0 ? -1 : (r > 0 ? 1 : 0);
    }
    case DType::kFloat64: {
      double x = c.f64()[a], y = c.f64()[b];
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    case DType::kFloat32: {
      float x = c.f32()[a], y = c.f32()[b];
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    default: {
      int64_t x = c.as_int64(a), y = c.as_int64(b);
      return x < y ? -1 : (x > y ? 1 : 0);
    }
  }
}

}  // namespace

std::vector<int64_t> Table::stable_sort_indices(const std::vector<std::string>& keys) const {
  std::vector<const Column*> cols;
  for (const auto& k : keys) cols.push_back(&column(k));
  std::vector<int64_t> idx(num_rows_);
  std::iota(idx.begin(), idx.end(), 0);
  // Fast path: one int64 key without nulls (frame, id), the common case.
  if (cols.size() == 1 && cols[0]->type() == DType::kInt64 && cols[0]->validity().empty()) {
    auto v = cols[0]->i64();
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return v[static_cast<std::size_t>(a)] < v[static_cast<std::size_t>(b)]; });
    return idx;
  }
  // Fast path: several int64 keys without nulls (id, frame / id1, id2, perspective, frame).
  bool all_int64 = std::all_of(cols.begin(), cols.end(),
                               [](const Column* c) { return c->type() == DType::kInt64 && c->validity().empty(); });
  if (all_int64) {
    std::vector<std::span<const int64_t>> keys;
    for (const Column* c : cols) keys.push_back(c->i64());
    // Already sorted (the common case for canonical tracks): nothing to do.
    auto less = [&](int64_t a, int64_t b) {
      for (const auto& k : keys) {
        int64_t x = k[static_cast<std::size_t>(a)], y = k[static_cast<std::size_t>(b)];
        if (x != y) return x < y;
      }
      return false;
    };
    if (std::is_sorted(idx.begin(), idx.end(), less)) return idx;
    std::stable_sort(idx.begin(), idx.end(), less);
    return idx;
  }
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
    for (const Column* c : cols) {
      int r = compare_rows(*c, static_cast<std::size_t>(a), static_cast<std::size_t>(b));
      if (r != 0) return r < 0;
    }
    return false;
  });
  return idx;
}

Table Table::sort_by(const std::vector<std::string>& keys) const {
  auto idx = stable_sort_indices(keys);
  // Already in order: share the columns instead of copying them.
  bool identity = true;
  for (std::size_t i = 0; i < idx.size() && identity; ++i) identity = idx[i] == static_cast<int64_t>(i);
  if (identity) return *this;
  return take(idx);
}

Table Table::concat(std::span<const Table> tables) {
  if (tables.empty()) return Table();
  // Tables without columns contribute nothing; the first one with columns sets the schema.
  const Table* first = nullptr;
  for (const auto& t : tables)
    if (t.num_columns() > 0) {
      first = &t;
      break;
    }
  if (!first) return tables[0];
  Table out;
  for (std::size_t c = 0; c < first->num_columns(); ++c) {
    std::vector<const Column*> parts;
    for (const auto& t : tables) {
      if (t.num_columns() == 0) continue;
      if (t.names_ != first->names_)
        throw SchemaError(fmt::format("cannot concatenate tables with columns [{}] and [{}]",
                                      join_names(first->names_), join_names(t.names_)));
      parts.push_back(t.columns_[c].get());
    }
    out.add_column(first->names_[c], Column::concat(parts));
  }
  return out;
}

namespace {

// Hashable per-row key over several columns. Numeric keys hash by double value so that int64
// and float64 key columns match by value (as pandas does when merging int with float keys).
struct KeyView {
  std::vector<const Column*> cols;
  bool all_numeric = true;
  uint64_t hash(std::size_t row) const {
    uint64_t h = 1469598103934665603ull;
    for (const Column* c : cols) {
      uint64_t v;
      if (c->type() == DType::kString) {
        v = std::hash<std::string_view>{}(c->str(row)) ^ (c->is_null(row) ? 0x9e3779b97f4a7c15ull : 0);
      } else {
        double d = c->as_double(row);
        if (d == 0) d = 0;  // -0.0 == 0.0
        std::memcpy(&v, &d, sizeof v);
      }
      h = (h ^ v) * 1099511628211ull;
    }
    return h;
  }
};

bool key_equal(const KeyView& l, std::size_t lr, const KeyView& r, std::size_t rr) {
  for (std::size_t k = 0; k < l.cols.size(); ++k) {
    const Column& a = *l.cols[k];
    const Column& b = *r.cols[k];
    if (a.type() == DType::kString || b.type() == DType::kString) {
      if (a.type() != b.type()) return false;
      if (a.is_null(lr) || b.is_null(rr)) {
        // pandas matches NaN keys with NaN keys.
        if (a.is_null(lr) != b.is_null(rr)) return false;
        continue;
      }
      if (a.str(lr) != b.str(rr)) return false;
      continue;
    }
    double x = a.as_double(lr), y = b.as_double(rr);
    if (std::isnan(x) || std::isnan(y)) {
      if (std::isnan(x) != std::isnan(y)) return false;
      continue;
    }
    if (x != y) return false;
  }
  return true;
}

}  // namespace

Table Table::inner_join(const Table& right, const std::vector<std::string>& keys) const {
  KeyView lk, rk;
  for (const auto& k : keys) {
    lk.cols.push_back(&column(k));
    rk.cols.push_back(&right.column(k));
  }
  // Bucket right rows by key hash, each bucket in right row order.
  std::unordered_map<uint64_t, std::vector<int64_t>> index;
  index.reserve(right.num_rows());
  for (std::size_t r = 0; r < right.num_rows(); ++r) index[rk.hash(r)].push_back(static_cast<int64_t>(r));
  std::vector<int64_t> left_rows, right_rows;
  left_rows.reserve(num_rows_);
  right_rows.reserve(num_rows_);
  for (std::size_t l = 0; l < num_rows_; ++l) {
    auto it = index.find(lk.hash(l));
    if (it == index.end()) continue;
    for (int64_t r : it->second) {
      if (key_equal(lk, l, rk, static_cast<std::size_t>(r))) {
        left_rows.push_back(static_cast<int64_t>(l));
        right_rows.push_back(r);
      }
    }
  }
  Table out = take(left_rows);
  std::vector<std::string> right_extra;
  for (const auto& n : right.column_names())
    if (std::find(keys.begin(), keys.end(), n) == keys.end()) right_extra.push_back(n);
  if (!right_extra.empty()) {
    Table r = right.select(right_extra).take(right_rows);
    for (std::size_t c = 0; c < r.num_columns(); ++c) {
      if (out.has_column(r.names_[c]))
        throw SchemaError(fmt::format("join: column '{}' exists on both sides (rename it first)", r.names_[c]));
      out.add_column(r.names_[c], r.columns_[c]);
    }
  }
  if (out.num_columns() == 0) out.num_rows_ = left_rows.size();
  return out;
}

bool Table::equals(const Table& other) const {
  if (names_ != other.names_ || num_rows_ != other.num_rows_) return false;
  for (std::size_t i = 0; i < columns_.size(); ++i)
    if (!columns_[i]->equals(*other.columns_[i])) return false;
  return true;
}

}  // namespace mosaic
