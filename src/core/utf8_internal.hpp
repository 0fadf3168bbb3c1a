// utf8_internal.hpp: the small UTF-8 decoder shared by the Python-compatible JSON layer and the
// entry-name escaping (json.cpp, run_id.cpp). Private to src/.
//
// Python strings are sequences of code points, so every place where mosaic mimics a Python string
// function on UTF-8 bytes (json escaping, str.strip(), urllib's unquote) has to decode first. The
// decoder reports invalid input with the length of the "maximal subpart", which is what CPython's
// `bytes.decode("utf-8", errors="replace")` replaces with one U+FFFD each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mosaic::utf8 {

/// \brief One decoding step: a code point, or an invalid sequence of `length` bytes.
struct Decoded {
  char32_t code_point = 0;
  std::size_t length = 1;  // bytes consumed; for invalid input the maximal subpart (>= 1)
  bool valid = false;
};

/// \brief Decode the code point that starts at `s[pos]` (requires pos < s.size()).
///
/// Rejects overlong forms, surrogates (U+D800..U+DFFF) and values above U+10FFFF, as Python's
/// strict UTF-8 codec does.
inline Decoded decode(std::string_view s, std::size_t pos) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {lead, 1, true};
  std::size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the first continuation byte
  char32_t cp = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
    cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
    cp = lead & 0x0F;
    if (lead == 0xE0) lo = 0xA0;  // no overlongs
    if (lead == 0xED) hi = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
    cp = lead & 0x07;
    if (lead == 0xF0) lo = 0x90;  // no overlongs
    if (lead == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {0, 1, false};  // stray continuation byte, C0/C1 or F5..FF
  }
  std::size_t len = 1;
  for (std::size_t k = 0; k < need; ++k) {
    if (pos + len >= s.size()) return {0, len, false};
    const unsigned char c = byte(pos + len);
    const unsigned char min = k == 0 ? lo : 0x80;
    const unsigned char max = k == 0 ? hi : 0xBF;
    if (c < min || c > max) return {0, len, false};
    cp = (cp << 6) | (c & 0x3F);
    ++len;
  }
  return {cp, len, true};
}

/// \brief Append `cp` (a Unicode scalar value) to `out` as UTF-8.
inline void append(std::string& out, char32_t cp) {
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

}  // namespace mosaic::utf8
