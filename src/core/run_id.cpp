#include "mosaic/run_id.hpp"

#include <cstdlib>
#include <vector>

#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "core/utf8_internal.hpp"
#include "mosaic/errors.hpp"

namespace mosaic {
namespace {

constexpr std::size_t kParamsHashLength = 10;

// Python's str.isspace() (and so str.strip()): the Unicode White_Space characters plus the
// four ASCII information separators U+001C..U+001F, which Python counts as whitespace too.
bool is_python_space(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
    case 0x85: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

// Python's str.strip() with no arguments, on UTF-8. Invalid bytes are never whitespace.
std::string_view strip_python_space(std::string_view s) {
  std::size_t begin = 0;
  while (begin < s.size()) {
    const utf8::Decoded d = utf8::decode(s, begin);
    if (!d.valid || !is_python_space(d.code_point)) break;
    begin += d.length;
  }
  // Walk forward to find where the trailing run of whitespace starts; UTF-8 cannot be decoded
  // backwards reliably when it may be invalid.
  std::size_t end = begin;
  std::size_t pos = begin;
  while (pos < s.size()) {
    const utf8::Decoded d = utf8::decode(s, pos);
    pos += d.length;
    if (!d.valid || !is_python_space(d.code_point)) end = pos;
  }
  return s.substr(begin, end - begin);
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-' || c == '~';
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string sha1_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha1(), nullptr) != 1 ||
      length != 20) {
    throw InternalError("sha1_hex: OpenSSL EVP_Digest(SHA-1) failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

std::string canonical_payload_string(const Json& payload) {
  // Python: json.dumps(json_ready(d), sort_keys=True, default=str); everything else default.
  return python_json_dumps(payload, PyDumpOptions{.sort_keys = true});
}

std::string hash_params(const Json& payload) {
  return sha1_hex(canonical_payload_string(payload)).substr(0, kParamsHashLength);
}

std::string make_run_id(std::string_view version, const Json& payload) {
  std::string run_id(version);
  run_id.push_back('-');
  run_id += hash_params(payload);
  return run_id;
}

std::string to_safe_name(std::string_view name) {
  static constexpr char kHexUpper[] = "0123456789ABCDEF";
  const std::string_view stripped = strip_python_space(name);
  std::string out;
  out.reserve(stripped.size());
  for (const char ch : stripped) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 0xF]);
    }
  }
  return out;
}

std::string from_safe_name(std::string_view safe_name) {
  std::string bytes;
  bytes.reserve(safe_name.size());
  for (std::size_t i = 0; i < safe_name.size(); ++i) {
    if (safe_name[i] == '%' && i + 2 < safe_name.size() && hex_digit(safe_name[i + 1]) >= 0 &&
        hex_digit(safe_name[i + 2]) >= 0) {
      bytes.push_back(
          static_cast<char>(hex_digit(safe_name[i + 1]) * 16 + hex_digit(safe_name[i + 2])));
      i += 2;
    } else {
      bytes.push_back(safe_name[i]);
    }
  }
  // unquote decodes the bytes with errors="replace": one U+FFFD per maximal invalid subpart.
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t pos = 0; pos < bytes.size();) {
    const utf8::Decoded d = utf8::decode(bytes, pos);
    if (d.valid) {
      out.append(bytes, pos, d.length);
    } else {
      out += "\xEF\xBF\xBD";
    }
    pos += d.length;
  }
  return out;
}

std::string make_entry_key(std::string_view group, std::string_view sequence) {
  // Python: safe_group = to_safe_name(group) if group else ""; the prefix needs a non-empty
  // safe group, so a whitespace-only group adds nothing.
  const std::string safe_group = group.empty() ? std::string() : to_safe_name(group);
  std::string key = safe_group.empty() ? std::string() : safe_group + "__";
  key += to_safe_name(sequence);
  return key;
}

std::string derive_storage_name(std::string_view name, std::optional<std::string> suffix) {
  std::string storage(name);
  if (suffix) {
    storage += "__from__";
    storage += *suffix;
  }
  return storage;
}

namespace {

// pandas' type inference turns "001" into 1 and writes it back as "1", "1.0" or so; an empty
// group read as NaN may come back as "nan". Compare such cells by value.
bool loosely_equal(std::string_view mangled, std::string_view original) {
  if (mangled == original) return true;
  if (original.empty() && (mangled == "nan" || mangled == "NaN")) return true;
  char* end_a = nullptr;
  char* end_b = nullptr;
  std::string a(mangled), b(original);
  if (a.empty() || b.empty()) return false;
  double x = std::strtod(a.c_str(), &end_a);
  double y = std::strtod(b.c_str(), &end_b);
  return end_a && *end_a == '\0' && end_b && *end_b == '\0' && x == y;
}

}  // namespace

std::pair<std::string, std::string> entry_names_from_key(std::string_view entry_key, std::string_view group_cell,
                                                         std::string_view sequence_cell) {
  std::string g(group_cell), s(sequence_cell);
  if (make_entry_key(g, s) == entry_key) return {g, s};
  std::vector<std::pair<std::string, std::string>> candidates;
  candidates.emplace_back("", from_safe_name(entry_key));
  for (std::size_t pos = entry_key.find("__"); pos != std::string_view::npos; pos = entry_key.find("__", pos + 1))
    candidates.emplace_back(from_safe_name(entry_key.substr(0, pos)), from_safe_name(entry_key.substr(pos + 2)));
  for (const auto& [cg, cs] : candidates)
    if (make_entry_key(cg, cs) == entry_key && loosely_equal(g, cg) && loosely_equal(s, cs)) return {cg, cs};
  return {g, s};
}

}  // namespace mosaic
