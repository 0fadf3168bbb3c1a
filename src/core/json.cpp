#include "mosaic/json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/utf8_internal.hpp"
#include "mosaic/errors.hpp"

namespace mosaic {
namespace {

// The recursive writer and reader stop here instead of overflowing the stack (also on threads
// with small stacks). Python's own limit is its recursion limit, 1000 by default, so no document
// Python can read or write is refused.
constexpr int kMaxDepth = 1000;

constexpr char kHexLower[] = "0123456789abcdef";

// ------------------------------------------------------------------------------------------
// python_json_dumps
// ------------------------------------------------------------------------------------------

void append_u_escape(std::string& out, unsigned unit) {
  out += "\\u";
  out.push_back(kHexLower[(unit >> 12) & 0xF]);
  out.push_back(kHexLower[(unit >> 8) & 0xF]);
  out.push_back(kHexLower[(unit >> 4) & 0xF]);
  out.push_back(kHexLower[unit & 0xF]);
}

// The two-character escapes Python's encoder uses; every other control character is \u00XX.
const char* short_escape(unsigned char c) {
  switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\b': return "\\b";
    case '\f': return "\\f";
    default: return nullptr;
  }
}

// Python's ESCAPE_ASCII regex is ([\\"]|[^\ -~]): besides quote and backslash, everything outside
// printable ASCII is escaped, including DEL (0x7f). Without ensure_ascii only control characters
// below 0x20, quote and backslash are escaped (ESCAPE = [\x00-\x1f\\"\b\f\n\r\t]).
bool needs_escape(unsigned char c, bool ensure_ascii) {
  if (c == '"' || c == '\\' || c < 0x20) return true;
  return ensure_ascii && c >= 0x7F;
}

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out.push_back('"');
  std::size_t pos = 0;
  while (pos < s.size()) {
    // Copy the run of bytes that need no escaping in one go.
    std::size_t run = pos;
    while (run < s.size() && !needs_escape(static_cast<unsigned char>(s[run]), ensure_ascii) &&
           static_cast<unsigned char>(s[run]) < 0x80) {
      ++run;
    }
    out.append(s.substr(pos, run - pos));
    pos = run;
    if (pos >= s.size()) break;
    const auto c = static_cast<unsigned char>(s[pos]);
    if (c < 0x80) {
      if (const char* esc = short_escape(c)) {
        out += esc;
      } else if (needs_escape(c, ensure_ascii)) {
        append_u_escape(out, c);
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++pos;
      continue;
    }
    const utf8::Decoded d = utf8::decode(s, pos);
    if (!d.valid) {
      throw InputError(fmt::format(
          "python_json_dumps: string is not valid UTF-8 (byte 0x{:02x} at offset {} of \"{}\")", c,
          pos, std::string(s.substr(0, std::min<std::size_t>(s.size(), 60)))));
    }
    if (!ensure_ascii) {
      out.append(s.substr(pos, d.length));
    } else if (d.code_point < 0x10000) {
      append_u_escape(out, static_cast<unsigned>(d.code_point));
    } else {
      // Above the BMP Python writes the UTF-16 surrogate pair.
      const unsigned v = static_cast<unsigned>(d.code_point) - 0x10000;
      append_u_escape(out, 0xD800 + (v >> 10));
      append_u_escape(out, 0xDC00 + (v & 0x3FF));
    }
    pos += d.length;
  }
  out.push_back('"');
}

template <typename Int>
void append_integer(std::string& out, Int value) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, res.ptr);
}

// Python string order is code point order, which for UTF-8 is unsigned byte order.
bool python_key_less(const std::string& a, const std::string& b) {
  return std::lexicographical_compare(
      a.begin(), a.end(), b.begin(), b.end(),
      [](char x, char y) { return static_cast<unsigned char>(x) < static_cast<unsigned char>(y); });
}

class Dumper {
 public:
  explicit Dumper(const PyDumpOptions& options)
      : options_(options),
        indent_(options.indent ? std::max(0, *options.indent) : -1),
        item_separator_(options.item_separator.value_or(options.indent ? "," : ", ")),
        key_separator_(options.key_separator.value_or(": ")) {}

  void write(const Json& value, int depth) {
    using T = Json::value_t;
    switch (value.type()) {
      case T::null: out_ += "null"; break;
      case T::boolean: out_ += value.get<bool>() ? "true" : "false"; break;
      case T::number_integer: append_integer(out_, value.get<std::int64_t>()); break;
      case T::number_unsigned: append_integer(out_, value.get<std::uint64_t>()); break;
      case T::number_float: write_float(value.get<double>()); break;
      case T::string:
        append_json_string(out_, value.get_ref<const std::string&>(), options_.ensure_ascii);
        break;
      case T::array: write_array(value, depth); break;
      case T::object: write_object(value, depth); break;
      case T::binary:
        throw InputError("python_json_dumps: a binary value is not JSON serializable");
      case T::discarded:
        throw InputError("python_json_dumps: a discarded value is not JSON serializable");
    }
  }

  std::string take() { return std::move(out_); }

 private:
  void write_float(double v) {
    if (!std::isfinite(v) && !options_.allow_nan) {
      throw InputError("python_json_dumps: Out of range float values are not JSON compliant: " +
                       python_float_repr(v));
    }
    out_ += python_float_repr(v);
  }

  void check_depth(int depth) const {
    if (depth >= kMaxDepth) {
      throw InputError(fmt::format("python_json_dumps: nesting deeper than {} levels", kMaxDepth));
    }
  }

  // Python's _iterencode_list/_iterencode_dict: with indent, "[" + newline + indent, items joined
  // by item_separator + newline + indent, then newline + outer indent + "]".
  void open(char bracket, int depth) {
    out_.push_back(bracket);
    if (indent_ >= 0) new_line(depth + 1);
  }
  void close(char bracket, int depth) {
    if (indent_ >= 0) new_line(depth);
    out_.push_back(bracket);
  }
  void separate(int depth) {
    out_ += item_separator_;
    if (indent_ >= 0) new_line(depth + 1);
  }
  void new_line(int level) {
    out_.push_back('\n');
    out_.append(static_cast<std::size_t>(indent_) * static_cast<std::size_t>(level), ' ');
  }

  void write_array(const Json& value, int depth) {
    if (value.empty()) {
      out_ += "[]";
      return;
    }
    check_depth(depth);
    open('[', depth);
    bool first = true;
    for (const Json& item : value) {
      if (!first) separate(depth);
      first = false;
      write(item, depth + 1);
    }
    close(']', depth);
  }

  void write_object(const Json& value, int depth) {
    if (value.empty()) {
      out_ += "{}";
      return;
    }
    check_depth(depth);
    const auto& object = value.get_ref<const Json::object_t&>();
    std::vector<const Json::object_t::value_type*> items;
    items.reserve(object.size());
    for (const auto& item : object) items.push_back(&item);
    if (options_.sort_keys) {
      std::stable_sort(items.begin(), items.end(),
                       [](const auto* a, const auto* b) { return python_key_less(a->first, b->first); });
    }
    open('{', depth);
    bool first = true;
    for (const auto* item : items) {
      if (!first) separate(depth);
      first = false;
      append_json_string(out_, item->first, options_.ensure_ascii);
      out_ += key_separator_;
      write(item->second, depth + 1);
    }
    close('}', depth);
  }

  const PyDumpOptions& options_;
  int indent_;  // -1: single line
  std::string item_separator_;
  std::string key_separator_;
  std::string out_;
};

// ------------------------------------------------------------------------------------------
// python_json_loads: a recursive-descent copy of CPython's C scanner (Modules/_json.c), with
// its error messages, so that what Python accepts we accept and what it rejects we reject.
// ------------------------------------------------------------------------------------------

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Json parse_document() {
    if (s_.starts_with("\xEF\xBB\xBF")) fail("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0);
    skip_ws();
    Json value = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("Extra data", pos_);
    return value;
  }

 private:
  [[noreturn]] void fail(std::string_view what, std::size_t at) const {
    // Python's JSONDecodeError: "<msg>: line L column C (char N)"; our offsets count bytes.
    const std::string_view before = s_.substr(0, std::min(at, s_.size()));
    const auto line = 1 + std::count(before.begin(), before.end(), '\n');
    const std::size_t last_nl = before.rfind('\n');
    const std::size_t column = last_nl == std::string_view::npos ? at + 1 : at - last_nl;
    throw InputError(
        fmt::format("invalid JSON: {}: line {} column {} (byte {})", what, line, column, at));
  }

  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool match(std::string_view literal) {
    if (s_.substr(pos_, literal.size()) != literal) return false;
    pos_ += literal.size();
    return true;
  }

  Json parse_value(int depth) {
    if (pos_ >= s_.size()) fail("Expecting value", pos_);
    switch (s_[pos_]) {
      case '"': return Json(parse_string());
      case '{': return parse_object(depth + 1);
      case '[': return parse_array(depth + 1);
      case 'n':
        if (match("null")) return Json(nullptr);
        break;
      case 't':
        if (match("true")) return Json(true);
        break;
      case 'f':
        if (match("false")) return Json(false);
        break;
      case 'N':
        if (match("NaN")) return Json(std::numeric_limits<double>::quiet_NaN());
        break;
      case 'I':
        if (match("Infinity")) return Json(std::numeric_limits<double>::infinity());
        break;
      case '-':
        if (match("-Infinity")) return Json(-std::numeric_limits<double>::infinity());
        return parse_number();
      default:
        if (is_digit(s_[pos_])) return parse_number();
        break;
    }
    fail("Expecting value", pos_);
  }

  void check_depth(int depth) const {
    if (depth > kMaxDepth) fail(fmt::format("nesting deeper than {} levels", kMaxDepth), pos_);
  }

  Json parse_object(int depth) {
    check_depth(depth);
    ++pos_;  // '{'
    Json result = Json::object();
    // ordered_map is a vector of pairs that finds keys by linear search; work on the vector and
    // index big objects so that parsing stays linear.
    auto& object = static_cast<Json::object_t::Container&>(result.get_ref<Json::object_t&>());
    std::unordered_map<std::string, std::size_t> index;
    constexpr std::size_t kIndexFrom = 16;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return result;
    }
    while (true) {
      if (pos_ >= s_.size() || s_[pos_] != '"') {
        fail("Expecting property name enclosed in double quotes", pos_);
      }
      std::string key = parse_string();
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') fail("Expecting ':' delimiter", pos_);
      ++pos_;
      skip_ws();
      Json value = parse_value(depth);
      // A repeated key keeps its first position and takes the last value, as a Python dict.
      std::size_t found = object.size();
      if (object.size() < kIndexFrom) {
        for (std::size_t i = 0; i < object.size(); ++i) {
          if (object[i].first == key) {
            found = i;
            break;
          }
        }
      } else {
        if (index.empty()) {
          for (std::size_t i = 0; i < object.size(); ++i) index.emplace(object[i].first, i);
        }
        if (auto it = index.find(key); it != index.end()) found = it->second;
      }
      if (found < object.size()) {
        object[found].second = std::move(value);
      } else {
        if (!index.empty()) index.emplace(key, object.size());
        object.emplace_back(std::move(key), std::move(value));
      }
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return result;
      }
      if (pos_ >= s_.size() || s_[pos_] != ',') fail("Expecting ',' delimiter", pos_);
      ++pos_;
      skip_ws();
    }
  }

  Json parse_array(int depth) {
    check_depth(depth);
    ++pos_;  // '['
    Json result = Json::array();
    auto& array = result.get_ref<Json::array_t&>();
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return result;
    }
    while (true) {
      array.push_back(parse_value(depth));
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return result;
      }
      if (pos_ >= s_.size() || s_[pos_] != ',') fail("Expecting ',' delimiter", pos_);
      ++pos_;
      skip_ws();
    }
  }

  // Four hex digits at pos_ (the character after "\u"), or -1.
  int read_hex4(std::size_t at) const {
    if (at + 4 > s_.size()) return -1;
    int value = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const int h = hex_value(s_[at + k]);
      if (h < 0) return -1;
      value = value * 16 + h;
    }
    return value;
  }

  std::string parse_string() {
    const std::size_t begin = pos_;
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      // Copy the run of plain ASCII in one go.
      std::size_t run = pos_;
      while (run < s_.size()) {
        const auto c = static_cast<unsigned char>(s_[run]);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++run;
      }
      out.append(s_.substr(pos_, run - pos_));
      pos_ = run;
      if (pos_ >= s_.size()) fail("Unterminated string starting at", begin);
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("Invalid control character at", pos_);
      if (c >= 0x80) {
        const utf8::Decoded d = utf8::decode(s_, pos_);
        if (!d.valid) fail(fmt::format("Invalid UTF-8 byte 0x{:02x}", c), pos_);
        out.append(s_.substr(pos_, d.length));
        pos_ += d.length;
        continue;
      }
      parse_escape(out, begin);
    }
  }

  void parse_escape(std::string& out, std::size_t string_begin) {
    ++pos_;  // backslash
    if (pos_ >= s_.size()) fail("Unterminated string starting at", string_begin);
    const char e = s_[pos_];
    switch (e) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        const std::size_t escape_at = pos_ - 1;
        int unit = read_hex4(pos_ + 1);
        if (unit < 0) fail("Invalid \\uXXXX escape", pos_);
        pos_ += 5;
        char32_t cp = static_cast<char32_t>(unit);
        if (unit >= 0xD800 && unit <= 0xDBFF && s_.substr(pos_, 2) == "\\u") {
          const int low = read_hex4(pos_ + 2);
          if (low < 0) fail("Invalid \\uXXXX escape", pos_ + 1);
          if (low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((static_cast<char32_t>(unit) - 0xD800) << 10) +
                 (static_cast<char32_t>(low) - 0xDC00);
            pos_ += 6;
          }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) {
          // Python keeps a lone surrogate in its str; UTF-8 cannot hold one.
          fail(fmt::format("Lone surrogate \\u{:04x} cannot be represented in UTF-8",
                           static_cast<unsigned>(cp)),
               escape_at);
        }
        utf8::append(out, cp);
        return;  // pos_ already past the escape
      }
      default:
        fail("Invalid \\escape", pos_ - 1);
    }
    ++pos_;
  }

  // CPython's _match_number_unicode: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?, where a
  // fraction or exponent that is not followed by a digit is simply not part of the number.
  Json parse_number() {
    const std::size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    if (pos_ < s_.size() && s_[pos_] >= '1' && s_[pos_] <= '9') {
      while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
    } else if (pos_ < s_.size() && s_[pos_] == '0') {
      ++pos_;
    } else {
      fail("Expecting value", start);
    }
    bool is_float = false;
    if (pos_ + 1 < s_.size() && s_[pos_] == '.' && is_digit(s_[pos_ + 1])) {
      pos_ += 2;
      while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
      is_float = true;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      const std::size_t e_start = pos_;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '-' || s_[pos_] == '+')) ++pos_;
      const std::size_t digits = pos_;
      while (pos_ < s_.size() && is_digit(s_[pos_])) ++pos_;
      if (pos_ > digits) {
        is_float = true;
      } else {
        pos_ = e_start;
      }
    }
    const std::string_view text = s_.substr(start, pos_ - start);
    const char* first = text.data();
    const char* last = text.data() + text.size();
    if (!is_float) {
      std::int64_t i64 = 0;
      auto res = std::from_chars(first, last, i64);
      if (res.ec == std::errc() && res.ptr == last) return Json(i64);
      std::uint64_t u64 = 0;
      res = std::from_chars(first, last, u64);
      if (res.ec == std::errc() && res.ptr == last) return Json(u64);
      fail(fmt::format("Integer {} outside the int64/uint64 range", text), start);
    }
    double value = 0.0;
    const auto res = std::from_chars(first, last, value);
    if (res.ec == std::errc::result_out_of_range) return Json(out_of_range_float(text));
    if (res.ec != std::errc() || res.ptr != last) fail("Expecting value", start);
    return Json(value);
  }

  // from_chars reports overflow and underflow alike; Python's float() gives ±inf and ±0.0.
  static double out_of_range_float(std::string_view text) {
    const bool negative = text.front() == '-';
    // Decimal exponent k such that the value is 0.d1d2... * 10^k with d1 != 0.
    std::int64_t k = 0;
    std::size_t i = negative ? 1 : 0;
    bool seen_nonzero = false;
    bool in_fraction = false;
    for (; i < text.size() && text[i] != 'e' && text[i] != 'E'; ++i) {
      if (text[i] == '.') {
        in_fraction = true;
      } else if (!seen_nonzero) {
        if (text[i] != '0') {
          seen_nonzero = true;
          if (!in_fraction) ++k;
        } else if (in_fraction) {
          --k;
        }
      } else if (!in_fraction) {
        ++k;
      }
    }
    if (i < text.size()) {
      ++i;  // 'e'
      bool exp_negative = false;
      if (text[i] == '+' || text[i] == '-') exp_negative = text[i++] == '-';
      std::int64_t e = 0;
      for (; i < text.size(); ++i) e = std::min<std::int64_t>(e * 10 + (text[i] - '0'), 1'000'000);
      k += exp_negative ? -e : e;
    }
    const double magnitude = k > 0 ? std::numeric_limits<double>::infinity() : 0.0;
    return negative ? -magnitude : magnitude;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  if (value == 0.0) return std::signbit(value) ? "-0.0" : "0.0";

  // Shortest round-trip digits in scientific form, e.g. "-1.5e-07"; Python's repr uses the same
  // shortest-digits rule (David Gay's mode 0) and only lays the digits out differently.
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
  const std::size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (is_digit(c)) digits.push_back(c);
  }
  int exponent = 0;
  std::string_view exp_text = sci.substr(e_pos + 1);
  const bool exp_negative = exp_text.front() == '-';
  if (exp_text.front() == '+' || exp_text.front() == '-') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  if (exp_negative) exponent = -exponent;

  std::string out;
  if (value < 0) out.push_back('-');
  const int n = static_cast<int>(digits.size());
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0.";
      out.append(static_cast<std::size_t>(-exponent - 1), '0');
      out += digits;
    } else if (n <= exponent + 1) {
      out += digits;
      out.append(static_cast<std::size_t>(exponent + 1 - n), '0');
      out += ".0";
    } else {
      out.append(digits, 0, static_cast<std::size_t>(exponent + 1));
      out.push_back('.');
      out.append(digits, static_cast<std::size_t>(exponent + 1));
    }
  } else {
    out.push_back(digits[0]);
    if (n > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(exponent < 0 ? '-' : '+');
    const int magnitude = exponent < 0 ? -exponent : exponent;
    if (magnitude < 10) out.push_back('0');
    out += std::to_string(magnitude);
  }
  return out;
}

std::string python_json_dumps(const Json& value, const PyDumpOptions& options) {
  Dumper dumper(options);
  dumper.write(value, 0);
  return dumper.take();
}

Json python_json_loads(std::string_view text) { return Parser(text).parse_document(); }

}  // namespace mosaic
