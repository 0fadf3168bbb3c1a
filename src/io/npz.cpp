// npz.cpp: .npy parsing/serialisation and .npz archives through libzip.
//
// The .npy format (numpy/lib/format.py): magic "\x93NUMPY", major/minor version, a little-endian
// header length (2 bytes for 1.0, 4 bytes for 2.0/3.0), then a Python dict literal
// {'descr': ..., 'fortran_order': ..., 'shape': (...), } padded with spaces and a final '\n',
// then the raw data (or, for object dtypes, a pickle of the whole array).
#include "mosaic/npz.hpp"

#include <zip.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits>
#include <memory>
#include <new>
#include <set>

#include "io/pickle.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"

namespace fs = std::filesystem;

namespace mosaic {

// ---------------------------------------------------------------------------------------------
// dtype helpers shared with pickle.cpp
// ---------------------------------------------------------------------------------------------
namespace npy_detail {

std::optional<NpyDTypeDesc> dtype_from_kind(char kind, std::size_t item_size, bool big_endian) {
  NpyDTypeDesc d;
  d.item_size = item_size;
  d.big_endian = big_endian && item_size > 1;
  auto pick = [&](std::initializer_list<std::pair<std::size_t, NpyDType>> options) -> std::optional<NpyDTypeDesc> {
    for (const auto& [size, type] : options)
      if (size == item_size) {
        d.type = type;
        return d;
      }
    return std::nullopt;
  };
  switch (kind) {
    case 'f': return pick({{8, NpyDType::kFloat64}, {4, NpyDType::kFloat32}});
    case 'i':
      return pick({{8, NpyDType::kInt64}, {4, NpyDType::kInt32}, {2, NpyDType::kInt16}, {1, NpyDType::kInt8}});
    case 'u':
      return pick({{8, NpyDType::kUInt64}, {4, NpyDType::kUInt32}, {2, NpyDType::kUInt16}, {1, NpyDType::kUInt8}});
    case 'b': return pick({{1, NpyDType::kBool}});
    case 'U':
      if (item_size % 4 != 0) return std::nullopt;
      d.type = NpyDType::kUnicode;
      return d;
    case 'S':
      d.type = NpyDType::kUnicode;
      d.byte_string = true;
      d.big_endian = false;
      return d;
    case 'O':
      d.type = NpyDType::kObject;
      d.item_size = 8;
      d.big_endian = false;
      return d;
    default: return std::nullopt;
  }
}

namespace {
const char* type_code(NpyDType t) {
  switch (t) {
    case NpyDType::kFloat64: return "f8";
    case NpyDType::kFloat32: return "f4";
    case NpyDType::kInt64: return "i8";
    case NpyDType::kInt32: return "i4";
    case NpyDType::kInt16: return "i2";
    case NpyDType::kInt8: return "i1";
    case NpyDType::kUInt64: return "u8";
    case NpyDType::kUInt32: return "u4";
    case NpyDType::kUInt16: return "u2";
    case NpyDType::kUInt8: return "u1";
    case NpyDType::kBool: return "b1";
    case NpyDType::kUnicode: return "U";
    case NpyDType::kObject: return "O";
  }
  return "?";
}

const char* type_name(NpyDType t) {
  switch (t) {
    case NpyDType::kFloat64: return "float64";
    case NpyDType::kFloat32: return "float32";
    case NpyDType::kInt64: return "int64";
    case NpyDType::kInt32: return "int32";
    case NpyDType::kInt16: return "int16";
    case NpyDType::kInt8: return "int8";
    case NpyDType::kUInt64: return "uint64";
    case NpyDType::kUInt32: return "uint32";
    case NpyDType::kUInt16: return "uint16";
    case NpyDType::kUInt8: return "uint8";
    case NpyDType::kBool: return "bool";
    case NpyDType::kUnicode: return "unicode";
    case NpyDType::kObject: return "object";
  }
  return "?";
}

std::size_t fixed_item_size(NpyDType t) {
  switch (t) {
    case NpyDType::kFloat64:
    case NpyDType::kInt64:
    case NpyDType::kUInt64:
    case NpyDType::kObject: return 8;
    case NpyDType::kFloat32:
    case NpyDType::kInt32:
    case NpyDType::kUInt32: return 4;
    case NpyDType::kInt16:
    case NpyDType::kUInt16: return 2;
    case NpyDType::kInt8:
    case NpyDType::kUInt8:
    case NpyDType::kBool: return 1;
    case NpyDType::kUnicode: return 0;  // depends on the strings
  }
  return 0;
}
}  // namespace

std::string descr_of(const NpyDTypeDesc& desc) {
  if (desc.type == NpyDType::kObject) return "|O";
  if (desc.byte_string) return fmt::format("|S{}", desc.item_size);
  if (desc.type == NpyDType::kUnicode)
    return fmt::format("{}U{}", desc.big_endian ? '>' : '<', desc.item_size / 4);
  if (desc.item_size == 1) return fmt::format("|{}", type_code(desc.type));
  return fmt::format("{}{}", desc.big_endian ? '>' : '<', type_code(desc.type));
}

std::string shape_repr(const std::vector<int64_t>& shape) {
  if (shape.empty()) return "()";
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

int64_t checked_size(const std::vector<int64_t>& shape, const std::string& source) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw IoError(fmt::format("{}: negative dimension in shape {}", source, shape_repr(shape)));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      throw IoError(fmt::format("{}: shape {} is too large", source, shape_repr(shape)));
    n *= d;
  }
  return n;
}

void append_utf8(std::string& out, uint32_t cp, const std::string& source) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    throw IoError(fmt::format("{}: invalid unicode code point U+{:X} in string data", source, cp));
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {

constexpr std::size_t kMaxDims = 64;

// Reorder elements stored in Fortran (column-major) order into C (row-major) order. Walks the C
// multi-index like an odometer and keeps the matching Fortran offset incrementally.
std::vector<uint8_t> fortran_to_c(std::span<const uint8_t> raw, const std::vector<int64_t>& shape,
                                  std::size_t item, int64_t count) {
  std::vector<uint8_t> out(static_cast<std::size_t>(count) * item);
  if (count == 0) return out;
  // numpy allows at most 64 dimensions (NPY_MAXDIMS), so fixed arrays suffice.
  const std::size_t ndim = std::min<std::size_t>(shape.size(), kMaxDims);
  std::array<int64_t, kMaxDims> fstride{};
  std::array<int64_t, kMaxDims> idx{};
  fstride[0] = 1;
  for (std::size_t k = 1; k < ndim; ++k) fstride[k] = fstride[k - 1] * shape[k - 1];
  int64_t f = 0;
  for (int64_t c = 0; c < count; ++c) {
    std::memcpy(out.data() + static_cast<std::size_t>(c) * item, raw.data() + static_cast<std::size_t>(f) * item,
                item);
    for (std::size_t k = ndim; k-- > 0;) {
      if (++idx[k] < shape[k]) {
        f += fstride[k];
        break;
      }
      f -= (shape[k] - 1) * fstride[k];
      idx[k] = 0;
    }
  }
  return out;
}

}  // namespace

NpyArray array_from_raw(const NpyDTypeDesc& desc, std::vector<int64_t> shape, std::span<const uint8_t> raw,
                        bool fortran_order, const std::string& source) {
  if (desc.type == NpyDType::kObject)
    throw InternalError(fmt::format("{}: array_from_raw called for an object dtype", source));
  if (shape.size() > kMaxDims)
    throw IoError(fmt::format("{}: array has {} dimensions; numpy allows at most {}", source, shape.size(), kMaxDims));
  const int64_t count = checked_size(shape, source);
  const std::size_t item = desc.item_size;
  if (item != 0 && static_cast<uint64_t>(count) > raw.size() / item)
    throw IoError(fmt::format("{}: truncated array data: shape {} of {} needs {} bytes, found {}", source,
                              shape_repr(shape), descr_of(desc), static_cast<uint64_t>(count) * item, raw.size()));
  const std::size_t nbytes = static_cast<std::size_t>(count) * item;
  std::vector<uint8_t> bytes;
  if (fortran_order && shape.size() > 1) {
    bytes = fortran_to_c(raw, shape, item, count);
  } else {
    bytes.assign(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(nbytes));
  }

  NpyArray out;
  out.dtype = desc.type;
  out.shape = std::move(shape);
  if (desc.type == NpyDType::kUnicode) {
    out.strings.reserve(static_cast<std::size_t>(count));
    for (int64_t e = 0; e < count; ++e) {
      const uint8_t* p = bytes.data() + static_cast<std::size_t>(e) * item;
      std::string s;
      if (desc.byte_string) {
        std::size_t len = item;
        while (len > 0 && p[len - 1] == 0) --len;  // numpy strips trailing NULs
        for (std::size_t k = 0; k < len; ++k) append_utf8(s, p[k], source);
      } else {
        std::size_t chars = item / 4;
        std::vector<uint32_t> cps(chars);
        for (std::size_t k = 0; k < chars; ++k) {
          const uint8_t* q = p + 4 * k;
          cps[k] = desc.big_endian ? (uint32_t{q[0]} << 24 | uint32_t{q[1]} << 16 | uint32_t{q[2]} << 8 | q[3])
                                   : (uint32_t{q[3]} << 24 | uint32_t{q[2]} << 16 | uint32_t{q[1]} << 8 | q[0]);
        }
        while (chars > 0 && cps[chars - 1] == 0) --chars;
        for (std::size_t k = 0; k < chars; ++k) append_utf8(s, cps[k], source);
      }
      out.strings.push_back(std::move(s));
    }
    return out;
  }
  if (desc.big_endian && item > 1) {
    for (std::size_t off = 0; off < bytes.size(); off += item) std::reverse(bytes.begin() + off, bytes.begin() + off + item);
  }
  out.data = std::move(bytes);
  return out;
}

}  // namespace npy_detail

using npy_detail::checked_size;
using npy_detail::shape_repr;

// ---------------------------------------------------------------------------------------------
// NpyArray
// ---------------------------------------------------------------------------------------------
namespace {

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// The value of element `e` of a numeric/bool array as double (the conversion numpy's astype does).
double element_as_double(const NpyArray& a, std::size_t e) {
  const uint8_t* p = a.data.data();
  switch (a.dtype) {
    case NpyDType::kFloat64: return load<double>(p + 8 * e);
    case NpyDType::kFloat32: return static_cast<double>(load<float>(p + 4 * e));
    case NpyDType::kInt64: return static_cast<double>(load<int64_t>(p + 8 * e));
    case NpyDType::kInt32: return load<int32_t>(p + 4 * e);
    case NpyDType::kInt16: return load<int16_t>(p + 2 * e);
    case NpyDType::kInt8: return load<int8_t>(p + e);
    case NpyDType::kUInt64: return static_cast<double>(load<uint64_t>(p + 8 * e));
    case NpyDType::kUInt32: return load<uint32_t>(p + 4 * e);
    case NpyDType::kUInt16: return load<uint16_t>(p + 2 * e);
    case NpyDType::kUInt8: return p[e];
    case NpyDType::kBool: return p[e] != 0 ? 1.0 : 0.0;
    default: return std::nan("");
  }
}

bool is_numeric_dtype(NpyDType t) { return t != NpyDType::kUnicode && t != NpyDType::kObject; }

void check_shape(const std::vector<int64_t>& shape, std::size_t n, const char* what) {
  int64_t want = 1;
  for (int64_t d : shape) {
    if (d < 0) throw InputError(fmt::format("{}: negative dimension in shape {}", what, shape_repr(shape)));
    want *= d;
  }
  if (static_cast<uint64_t>(want) != n)
    throw InputError(fmt::format("{}: shape {} needs {} values, got {}", what, shape_repr(shape), want, n));
}

template <typename T>
NpyArray make_numeric(NpyDType type, std::vector<int64_t> shape, const std::vector<T>& values, const char* what) {
  check_shape(shape, values.size(), what);
  NpyArray a;
  a.dtype = type;
  a.shape = std::move(shape);
  a.data.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(a.data.data(), values.data(), a.data.size());
  return a;
}

// Decode UTF-8 into code points (for fixed-width <U serialisation).
std::vector<uint32_t> utf8_code_points(std::string_view s) {
  std::vector<uint32_t> cps;
  cps.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<uint8_t>(s[i]);
    uint32_t cp;
    std::size_t len;
    if (c < 0x80) { cp = c; len = 1; }
    else if ((c & 0xE0) == 0xC0) { cp = c & 0x1F; len = 2; }
    else if ((c & 0xF0) == 0xE0) { cp = c & 0x0F; len = 3; }
    else if ((c & 0xF8) == 0xF0) { cp = c & 0x07; len = 4; }
    else throw InputError(fmt::format("string '{}' is not valid UTF-8", s));
    if (i + len > s.size()) throw InputError(fmt::format("string '{}' is not valid UTF-8 (truncated)", s));
    for (std::size_t k = 1; k < len; ++k) {
      auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) throw InputError(fmt::format("string '{}' is not valid UTF-8", s));
      cp = (cp << 6) | (cc & 0x3F);
    }
    cps.push_back(cp);
    i += len;
  }
  return cps;
}

std::size_t unicode_width(const std::vector<std::string>& strings) {
  std::size_t width = 1;  // numpy's minimum: np.array(['']).dtype == '<U1'
  for (const auto& s : strings) width = std::max(width, utf8_code_points(s).size());
  return width;
}

}  // namespace

int64_t NpyArray::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::size_t NpyArray::item_size() const {
  if (dtype == NpyDType::kUnicode) return 4 * unicode_width(strings);
  return npy_detail::fixed_item_size(dtype);
}

std::string NpyArray::describe() const {
  return fmt::format("{} array of shape {}", npy_detail::type_name(dtype), shape_repr(shape));
}

std::vector<double> NpyArray::to_double() const {
  const auto n = static_cast<std::size_t>(size());
  std::vector<double> out(n);
  if (dtype == NpyDType::kObject) {
    // Object arrays of Python numbers (None = NaN) convert like np.asarray(a, dtype=float).
    for (std::size_t e = 0; e < n; ++e) {
      const PyValue* v = e < objects.size() ? objects[e].get() : nullptr;
      if (v != nullptr && v->kind == PyValue::Kind::kNone) {
        out[e] = std::nan("");
        continue;
      }
      std::optional<double> d = v != nullptr ? v->as_number() : std::nullopt;
      if (!d)
        throw IoError(fmt::format("object array element {} is {}, not a number", e, v ? v->type_name() : "missing"));
      out[e] = *d;
    }
    return out;
  }
  if (!is_numeric_dtype(dtype))
    throw IoError(fmt::format("cannot convert a {} to numbers", describe()));
  if (dtype == NpyDType::kFloat64) {
    if (n) std::memcpy(out.data(), data.data(), n * 8);
    return out;
  }
  for (std::size_t e = 0; e < n; ++e) out[e] = element_as_double(*this, e);
  return out;
}

std::vector<float> NpyArray::to_float32() const {
  const auto n = static_cast<std::size_t>(size());
  std::vector<float> out(n);
  if (dtype == NpyDType::kFloat32) {
    if (n) std::memcpy(out.data(), data.data(), n * 4);
    return out;
  }
  std::vector<double> d = to_double();
  for (std::size_t e = 0; e < n; ++e) out[e] = static_cast<float>(d[e]);
  return out;
}

std::vector<int64_t> NpyArray::to_int64() const {
  const auto n = static_cast<std::size_t>(size());
  std::vector<int64_t> out(n);
  const uint8_t* p = data.data();
  switch (dtype) {
    case NpyDType::kInt64:
      if (n) std::memcpy(out.data(), p, n * 8);
      return out;
    case NpyDType::kInt32: for (std::size_t e = 0; e < n; ++e) out[e] = load<int32_t>(p + 4 * e); return out;
    case NpyDType::kInt16: for (std::size_t e = 0; e < n; ++e) out[e] = load<int16_t>(p + 2 * e); return out;
    case NpyDType::kInt8: for (std::size_t e = 0; e < n; ++e) out[e] = load<int8_t>(p + e); return out;
    case NpyDType::kUInt32: for (std::size_t e = 0; e < n; ++e) out[e] = load<uint32_t>(p + 4 * e); return out;
    case NpyDType::kUInt16: for (std::size_t e = 0; e < n; ++e) out[e] = load<uint16_t>(p + 2 * e); return out;
    case NpyDType::kUInt8: for (std::size_t e = 0; e < n; ++e) out[e] = p[e]; return out;
    case NpyDType::kBool: for (std::size_t e = 0; e < n; ++e) out[e] = p[e] != 0 ? 1 : 0; return out;
    case NpyDType::kUInt64:
      for (std::size_t e = 0; e < n; ++e) {
        auto v = load<uint64_t>(p + 8 * e);
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          throw IoError(fmt::format("uint64 value {} at element {} does not fit in int64", v, e));
        out[e] = static_cast<int64_t>(v);
      }
      return out;
    default: break;
  }
  // Floats and object arrays of numbers: only exact integers convert; anything else would
  // silently change labels or frame numbers.
  std::vector<double> d = to_double();
  for (std::size_t e = 0; e < n; ++e) {
    if (!std::isfinite(d[e]) || d[e] != std::trunc(d[e]) || std::fabs(d[e]) > 9.2e18)
      throw IoError(fmt::format("cannot convert {} element {} (value {}) to an integer", describe(), e, d[e]));
    out[e] = static_cast<int64_t>(d[e]);
  }
  return out;
}

const std::vector<std::string>& NpyArray::to_strings() const {
  if (dtype == NpyDType::kUnicode) return strings;
  if (dtype == NpyDType::kObject) {
    if (strings.size() == objects.size()) return strings;  // filled when every object is a str
    for (std::size_t e = 0; e < objects.size(); ++e)
      if (!objects[e] || objects[e]->kind != PyValue::Kind::kStr)
        throw IoError(fmt::format("object array element {} is {}, not str", e,
                                  objects[e] ? objects[e]->type_name() : "missing"));
  }
  throw IoError(fmt::format("cannot read a {} as strings", describe()));
}

std::string NpyArray::scalar_string() const {
  const auto& s = to_strings();
  if (s.size() != 1) throw IoError(fmt::format("expected a single string, got a {}", describe()));
  return s[0];
}

NpyArray NpyArray::from_float64(std::vector<int64_t> shape, std::vector<double> values) {
  return make_numeric(NpyDType::kFloat64, std::move(shape), values, "NpyArray::from_float64");
}
NpyArray NpyArray::from_float32(std::vector<int64_t> shape, std::vector<float> values) {
  return make_numeric(NpyDType::kFloat32, std::move(shape), values, "NpyArray::from_float32");
}
NpyArray NpyArray::from_int64(std::vector<int64_t> shape, std::vector<int64_t> values) {
  return make_numeric(NpyDType::kInt64, std::move(shape), values, "NpyArray::from_int64");
}
NpyArray NpyArray::from_int32(std::vector<int64_t> shape, std::vector<int32_t> values) {
  return make_numeric(NpyDType::kInt32, std::move(shape), values, "NpyArray::from_int32");
}
NpyArray NpyArray::from_bool(std::vector<int64_t> shape, std::vector<uint8_t> values) {
  for (auto& v : values) v = v != 0 ? 1 : 0;  // numpy bools are exactly 0/1 bytes
  return make_numeric(NpyDType::kBool, std::move(shape), values, "NpyArray::from_bool");
}
NpyArray NpyArray::from_strings(std::vector<int64_t> shape, std::vector<std::string> values) {
  check_shape(shape, values.size(), "NpyArray::from_strings");
  for (const auto& v : values) (void)utf8_code_points(v);  // validate now, not at write time
  NpyArray a;
  a.dtype = NpyDType::kUnicode;
  a.shape = std::move(shape);
  a.strings = std::move(values);
  return a;
}

// ---------------------------------------------------------------------------------------------
// .npy header: a Python dict literal
// ---------------------------------------------------------------------------------------------
namespace {

struct HeaderValue {
  enum class Kind { kStr, kBool, kInt, kNone, kTuple, kList, kDict } kind = Kind::kNone;
  std::string s;
  bool b = false;
  int64_t i = 0;
  std::vector<HeaderValue> items;
  std::vector<std::pair<std::string, HeaderValue>> dict;
};

// A recursive-descent parser for the literal subset numpy writes (ast.literal_eval in Python).
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : t_(text), source_(source) {}

  HeaderValue parse_top() {
    HeaderValue v = value(0);
    skip_ws();
    if (pos_ != t_.size()) fail("unexpected text after the dict");
    if (v.kind != HeaderValue::Kind::kDict) fail("not a dict");
    return v;
  }

 private:
  [[noreturn]] void fail(std::string_view why) const {
    throw IoError(fmt::format("{}: bad .npy header ({} at offset {}): {}", source_, why, pos_, t_));
  }
  void skip_ws() {
    while (pos_ < t_.size() && (t_[pos_] == ' ' || t_[pos_] == '\t' || t_[pos_] == '\n' || t_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < t_.size() && t_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  HeaderValue value(int depth) {
    if (depth > 16) fail("nested too deeply");
    skip_ws();
    if (pos_ >= t_.size()) fail("unexpected end");
    char c = t_[pos_];
    HeaderValue v;
    if (c == '\'' || c == '"') {
      v.kind = HeaderValue::Kind::kStr;
      v.s = string_literal();
    } else if (c == '{') {
      ++pos_;
      v.kind = HeaderValue::Kind::kDict;
      while (!eat('}')) {
        HeaderValue k = value(depth + 1);
        if (k.kind != HeaderValue::Kind::kStr) fail("dict key is not a string");
        if (!eat(':')) fail("expected ':'");
        v.dict.emplace_back(k.s, value(depth + 1));
        if (!eat(',')) {
          if (!eat('}')) fail("expected ',' or '}'");
          break;
        }
      }
    } else if (c == '(' || c == '[') {
      char close = c == '(' ? ')' : ']';
      ++pos_;
      v.kind = c == '(' ? HeaderValue::Kind::kTuple : HeaderValue::Kind::kList;
      while (!eat(close)) {
        v.items.push_back(value(depth + 1));
        if (!eat(',')) {
          if (!eat(close)) fail(fmt::format("expected ',' or '{}'", close));
          break;
        }
      }
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = HeaderValue::Kind::kInt;
      std::size_t start = pos_;
      if (c == '-') ++pos_;
      while (pos_ < t_.size() && t_[pos_] >= '0' && t_[pos_] <= '9') ++pos_;
      std::string digits(t_.substr(start, pos_ - start));
      if (pos_ < t_.size() && (t_[pos_] == 'L' || t_[pos_] == 'l')) ++pos_;  // Python 2 longs: (3L,)
      try {
        std::size_t used = 0;
        v.i = std::stoll(digits, &used);
        if (used != digits.size()) fail("bad integer");
      } catch (const std::exception&) {
        fail("bad integer");
      }
    } else if (t_.substr(pos_, 4) == "True") {
      pos_ += 4;
      v.kind = HeaderValue::Kind::kBool;
      v.b = true;
    } else if (t_.substr(pos_, 5) == "False") {
      pos_ += 5;
      v.kind = HeaderValue::Kind::kBool;
    } else if (t_.substr(pos_, 4) == "None") {
      pos_ += 4;
      v.kind = HeaderValue::Kind::kNone;
    } else {
      fail(fmt::format("unexpected character '{}'", c));
    }
    return v;
  }
  std::string string_literal() {
    char quote = t_[pos_++];
    std::string out;
    while (pos_ < t_.size() && t_[pos_] != quote) {
      if (t_[pos_] == '\\') {
        if (++pos_ >= t_.size()) break;
        char e = t_[pos_];
        out.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
      } else {
        out.push_back(t_[pos_]);
      }
      ++pos_;
    }
    if (pos_ >= t_.size()) fail("unterminated string");
    ++pos_;
    return out;
  }

  std::string_view t_;
  const std::string& source_;
  std::size_t pos_ = 0;
};

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;

NpyDTypeDesc parse_descr(const HeaderValue& descr, const std::string& source, std::string_view header) {
  if (descr.kind != HeaderValue::Kind::kStr)
    throw IoError(fmt::format("{}: unsupported dtype (structured arrays are not supported): {}", source, header));
  const std::string& d = descr.s;
  std::size_t pos = 0;
  bool big = false;
  if (!d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) {
    big = d[0] == '>';
    pos = 1;
  }
  auto unsupported = [&]() {
    return IoError(fmt::format("{}: unsupported dtype '{}' (supported: <f8 <f4 <i8 <i4 <i2 |i1 <u8 <u4 <u2 |u1 |b1 "
                               "<U{{n}} |S{{n}} |O, also big-endian)",
                               source, d));
  };
  if (pos >= d.size()) throw unsupported();
  char kind = d[pos++];
  std::size_t size = 0;
  if (kind == 'O') {
    size = 8;
    if (pos < d.size() && d.substr(pos) != "8") throw unsupported();
  } else {
    if (pos >= d.size()) throw unsupported();
    for (; pos < d.size(); ++pos) {
      if (d[pos] < '0' || d[pos] > '9' || size > 100'000'000) throw unsupported();
      size = size * 10 + static_cast<std::size_t>(d[pos] - '0');
    }
    if (kind == 'U') size *= 4;  // the descr counts characters, we count bytes
  }
  auto desc = npy_detail::dtype_from_kind(kind, size, big);
  if (!desc) throw unsupported();
  return *desc;
}

}  // namespace

NpyArray parse_npy(const std::vector<uint8_t>& bytes, const std::string& source) {
  if (bytes.size() < kMagicLen + 2 || std::memcmp(bytes.data(), kMagic, kMagicLen) != 0)
    throw IoError(fmt::format("{}: not a .npy file (no \\x93NUMPY magic)", source));
  const int major = bytes[6];
  const int minor = bytes[7];
  std::size_t header_len = 0;
  std::size_t offset = 0;
  if (major == 1) {
    if (bytes.size() < 10) throw IoError(fmt::format("{}: truncated .npy header", source));
    header_len = bytes[8] | (std::size_t{bytes[9]} << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw IoError(fmt::format("{}: truncated .npy header", source));
    header_len = bytes[8] | (std::size_t{bytes[9]} << 8) | (std::size_t{bytes[10]} << 16) | (std::size_t{bytes[11]} << 24);
    offset = 12;
  } else {
    throw IoError(fmt::format("{}: unsupported .npy format version {}.{} (supported: 1.0, 2.0, 3.0)", source, major, minor));
  }
  if (header_len > bytes.size() - offset)
    throw IoError(fmt::format("{}: truncated .npy header (needs {} bytes, file has {})", source, header_len,
                              bytes.size() - offset));
  std::string_view header(reinterpret_cast<const char*>(bytes.data() + offset), header_len);
  // Trailing spaces and the newline are padding.
  std::string_view trimmed = header;
  while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\n' || trimmed.back() == '\0'))
    trimmed.remove_suffix(1);
  HeaderValue dict = HeaderParser(trimmed, source).parse_top();
  const HeaderValue* descr = nullptr;
  const HeaderValue* fortran = nullptr;
  const HeaderValue* shape_v = nullptr;
  for (const auto& [k, v] : dict.dict) {
    if (k == "descr") descr = &v;
    else if (k == "fortran_order") fortran = &v;
    else if (k == "shape") shape_v = &v;
  }
  for (auto [name, ptr] : {std::pair{"descr", descr}, std::pair{"fortran_order", fortran}, std::pair{"shape", shape_v}})
    if (ptr == nullptr)
      throw IoError(fmt::format("{}: bad .npy header (missing key '{}'): {}", source, name, trimmed));
  if (fortran->kind != HeaderValue::Kind::kBool)
    throw IoError(fmt::format("{}: bad .npy header ('fortran_order' is not True/False): {}", source, trimmed));
  if (shape_v->kind != HeaderValue::Kind::kTuple)
    throw IoError(fmt::format("{}: bad .npy header ('shape' is not a tuple): {}", source, trimmed));
  std::vector<int64_t> shape;
  for (const auto& d : shape_v->items) {
    if (d.kind != HeaderValue::Kind::kInt || d.i < 0)
      throw IoError(fmt::format("{}: bad .npy header ('shape' holds a non-integer or negative value): {}", source, trimmed));
    shape.push_back(d.i);
  }
  NpyDTypeDesc desc = parse_descr(*descr, source, trimmed);
  std::span<const uint8_t> payload(bytes.data() + offset + header_len, bytes.size() - offset - header_len);

  if (desc.type != NpyDType::kObject)
    return npy_detail::array_from_raw(desc, std::move(shape), payload, fortran->b, source);

  // Object arrays: the payload is a pickle of the whole ndarray (numpy.lib.format.write_array).
  PyValuePtr value = unpickle(payload, source);
  if (value->kind != PyValue::Kind::kArray || !value->array)
    throw IoError(fmt::format("{}: object .npy holds a pickled {}, expected a numpy array", source, value->type_name()));
  NpyArray out = *value->array;
  if (out.shape != shape)
    throw IoError(fmt::format("{}: pickled array has shape {} but the .npy header says {}", source,
                              shape_repr(out.shape), shape_repr(shape)));
  return out;
}

NpyArray read_npy(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw IoError(fmt::format("{}: file not found", path.string()));
  return parse_npy(read_file_bytes(path), path.string());
}

// ---------------------------------------------------------------------------------------------
// serialisation
// ---------------------------------------------------------------------------------------------
std::vector<uint8_t> serialize_npy(const NpyArray& array) {
  if (array.dtype == NpyDType::kObject)
    throw InputError("cannot write an object array to .npy (write strings with NpyArray::from_strings)");
  const int64_t count = array.size();
  NpyDTypeDesc desc;
  desc.type = array.dtype;
  std::size_t width = 0;
  if (array.dtype == NpyDType::kUnicode) {
    if (array.strings.size() != static_cast<std::size_t>(count))
      throw InputError(fmt::format("unicode array of shape {} holds {} strings", shape_repr(array.shape), array.strings.size()));
    width = unicode_width(array.strings);
    desc.item_size = 4 * width;
  } else {
    desc.item_size = npy_detail::fixed_item_size(array.dtype);
    if (array.data.size() != static_cast<std::size_t>(count) * desc.item_size)
      throw InputError(fmt::format("{} holds {} bytes, expected {}", array.describe(), array.data.size(),
                                   static_cast<std::size_t>(count) * desc.item_size));
  }

  // What numpy.lib.format._write_array_header writes: the dict repr, spaces reserved so the
  // first axis can grow in place (GROWTH_AXIS_MAX_DIGITS = 21), then padding so that magic +
  // length + header + '\n' is a multiple of 64 (ARRAY_ALIGN).
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                   npy_detail::descr_of(desc), shape_repr(array.shape));
  if (!array.shape.empty()) header.append(21 - std::min<std::size_t>(21, std::to_string(array.shape[0]).size()), ' ');
  int major = 1;
  std::size_t prefix = kMagicLen + 2 + 2;
  std::size_t total = prefix + header.size() + 1;
  if (header.size() + 1 + (64 - total % 64) % 64 > 65535) {
    major = 2;
    prefix = kMagicLen + 2 + 4;
    total = prefix + header.size() + 1;
  }
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');

  std::vector<uint8_t> out;
  const std::size_t payload = static_cast<std::size_t>(count) * desc.item_size;
  out.reserve(prefix + header.size() + payload);
  out.insert(out.end(), kMagic, kMagic + kMagicLen);
  out.push_back(static_cast<uint8_t>(major));
  out.push_back(0);
  const std::size_t hl = header.size();
  out.push_back(static_cast<uint8_t>(hl & 0xFF));
  out.push_back(static_cast<uint8_t>((hl >> 8) & 0xFF));
  if (major == 2) {
    out.push_back(static_cast<uint8_t>((hl >> 16) & 0xFF));
    out.push_back(static_cast<uint8_t>((hl >> 24) & 0xFF));
  }
  out.insert(out.end(), header.begin(), header.end());
  if (array.dtype == NpyDType::kUnicode) {
    for (const auto& s : array.strings) {
      std::vector<uint32_t> cps = utf8_code_points(s);
      cps.resize(width, 0);
      for (uint32_t cp : cps)
        for (int k = 0; k < 4; ++k) out.push_back(static_cast<uint8_t>((cp >> (8 * k)) & 0xFF));
    }
  } else {
    out.insert(out.end(), array.data.begin(), array.data.end());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// .npz through libzip
// ---------------------------------------------------------------------------------------------
namespace {

struct ZipDiscard {
  void operator()(zip_t* z) const noexcept { zip_discard(z); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipDiscard>;

std::string zip_code_message(int code) {
  zip_error_t err;
  zip_error_init_with_code(&err, code);
  std::string msg = zip_error_strerror(&err);
  zip_error_fini(&err);
  return msg;
}

// Refuse members whose header claims more than this; a corrupt or hostile size field must not
// turn into a giant allocation.
constexpr zip_uint64_t kMaxMemberBytes = zip_uint64_t{16} << 30;

// A timestamp for every member we write (2000-01-01 12:00 UTC): fixed so that equal inputs give
// equal bytes, and mid-day so the local-time DOS date is 2000-01-01 in every time zone.
constexpr time_t kFixedMtime = 946728000;

}  // namespace

std::vector<std::string> NpzArchive::keys() const {
  std::vector<std::string> out;
  out.reserve(arrays.size());
  for (const auto& kv : arrays) out.push_back(kv.first);
  return out;
}

const NpyArray& NpzArchive::at(const std::string& key) const {
  auto it = arrays.find(key);
  if (it == arrays.end()) throw IoError(fmt::format("Key '{}' not found in {}", key, path.string()));
  return it->second;
}

NpzArchive read_npz(const fs::path& path) {
  const std::string where = path.string();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw IoError(fmt::format("{}: file not found", where));
  if (!fs::is_regular_file(path, ec)) throw IoError(fmt::format("{}: not a regular file", where));
  // libzip opens a 0-byte file as an empty archive; Python's zipfile (and so np.load) rejects it.
  if (fs::file_size(path, ec) == 0)
    throw IoError(fmt::format("{}: not a valid .npz archive (truncated or corrupt zip: empty file)", where));
  int code = 0;
  ZipPtr za(zip_open(where.c_str(), ZIP_RDONLY, &code));
  if (!za)
    throw IoError(fmt::format("{}: not a valid .npz archive (truncated or corrupt zip: {})", where, zip_code_message(code)));

  NpzArchive out;
  out.path = path;
  const zip_int64_t n = zip_get_num_entries(za.get(), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME))
      throw IoError(fmt::format("{}: corrupt zip entry #{}: {}", where, i, zip_strerror(za.get())));
    std::string name = st.name;
    // numpy keys members by name without the .npy suffix; other members (directories, stray
    // files) are not arrays, and np.load would hand them back as raw bytes, so we skip them.
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".npy") != 0) continue;
    std::string key = name.substr(0, name.size() - 4);
    const std::string member = fmt::format("{} (key '{}')", where, key);
    if (!(st.valid & ZIP_STAT_SIZE) || st.size > kMaxMemberBytes)
      throw IoError(fmt::format("{}: member size is missing or implausible", member));
    zip_file_t* zf = zip_fopen_index(za.get(), static_cast<zip_uint64_t>(i), 0);
    if (zf == nullptr)
      throw IoError(fmt::format("{}: cannot open member: {}", member, zip_strerror(za.get())));
    std::vector<uint8_t> buf;
    try {
      buf.resize(static_cast<std::size_t>(st.size));
    } catch (const std::bad_alloc&) {
      zip_fclose(zf);
      throw IoError(fmt::format("{}: member of {} bytes does not fit in memory", member, st.size));
    }
    zip_uint64_t got = 0;
    std::string read_error;
    while (got < st.size) {
      zip_int64_t r = zip_fread(zf, buf.data() + got, st.size - got);
      if (r < 0) {
        read_error = zip_error_strerror(zip_file_get_error(zf));
        break;
      }
      if (r == 0) break;
      got += static_cast<zip_uint64_t>(r);
    }
    if (read_error.empty() && got == st.size) {
      // One more read reaches the end of the member, which is where libzip checks the CRC.
      uint8_t extra = 0;
      zip_int64_t r = zip_fread(zf, &extra, 1);
      if (r < 0) read_error = zip_error_strerror(zip_file_get_error(zf));
      else if (r > 0) read_error = "member is longer than its declared size";
    }
    int close_code = zip_fclose(zf);
    if (read_error.empty() && close_code != 0) read_error = zip_code_message(close_code);
    if (!read_error.empty())
      throw IoError(fmt::format("{}: truncated or corrupt .npz member: {}", member, read_error));
    if (got != st.size)
      throw IoError(fmt::format("{}: truncated .npz member: expected {} bytes, read {}", member, st.size, got));
    out.arrays[key] = parse_npy(buf, member);
  }
  return out;
}

namespace {
// An empty zip archive: just the end-of-central-directory record (what np.savez writes for no
// arrays). libzip does not create a file for an archive without entries.
constexpr uint8_t kEmptyZip[22] = {0x50, 0x4b, 0x05, 0x06};
}  // namespace

void write_npz(const fs::path& path, const std::vector<std::pair<std::string, NpyArray>>& arrays, bool compressed) {
  const std::string where = path.string();
  std::set<std::string> seen;
  std::vector<std::vector<uint8_t>> payloads;  // must outlive zip_close, which reads them
  payloads.reserve(arrays.size());
  for (const auto& [key, array] : arrays) {
    if (key.empty()) throw InputError(fmt::format("{}: empty array key", where));
    if (!seen.insert(key).second) throw InputError(fmt::format("{}: duplicate array key '{}'", where, key));
    try {
      payloads.push_back(serialize_npy(array));
    } catch (const InputError& e) {
      throw InputError(fmt::format("{} (key '{}'): {}", where, key, e.what()));
    }
  }
  if (arrays.empty()) {
    write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(kEmptyZip), sizeof kEmptyZip));
    return;
  }

  AtomicFile out(path);
  int code = 0;
  ZipPtr za(zip_open(out.temp_path().c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code));
  if (!za) throw IoError(fmt::format("{}: cannot create .npz: {}", where, zip_code_message(code)));
  for (std::size_t k = 0; k < arrays.size(); ++k) {
    const std::string name = arrays[k].first + ".npy";
    zip_source_t* src = zip_source_buffer(za.get(), payloads[k].data(), payloads[k].size(), 0);
    if (src == nullptr) throw IoError(fmt::format("{}: cannot add '{}': {}", where, name, zip_strerror(za.get())));
    zip_int64_t idx = zip_file_add(za.get(), name.c_str(), src, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
      zip_source_free(src);
      throw IoError(fmt::format("{}: cannot add '{}': {}", where, name, zip_strerror(za.get())));
    }
    const auto uidx = static_cast<zip_uint64_t>(idx);
    if (zip_set_file_compression(za.get(), uidx, compressed ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_mtime(za.get(), uidx, kFixedMtime, 0) != 0)
      throw IoError(fmt::format("{}: cannot set up '{}': {}", where, name, zip_strerror(za.get())));
  }
  // zip_close writes the archive; on failure the handle stays open and ZipPtr discards it.
  if (zip_close(za.get()) != 0)
    throw IoError(fmt::format("{}: cannot write .npz: {}", where, zip_strerror(za.get())));
  (void)za.release();
  out.commit();
}

}  // namespace mosaic
