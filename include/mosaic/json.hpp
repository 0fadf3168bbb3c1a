// json.hpp: mosaic's JSON value type and a byte-exact copy of CPython's `json` module.
//
// Run ids are SHA-1s of `json.dumps(payload, sort_keys=True)` and the files users diff against
// Python's (params.json, config.json, metrics.json) are `json.dumps(obj, indent=2)`, so every
// JSON text mosaic hashes or persists must be the bytes CPython would write: ", " separators,
// `\u00e9` escapes, floats as Python's repr (`30.0`, `1e-05`), NaN as `NaN`. nlohmann's own
// `Json::dump()` differs in all of these; never use it for anything hashed or written to disk.
//
//   Json params = python_json_loads(R"({"window": 5, "fps": 30.0})");
//   python_json_dumps(params);                          // {"window": 5, "fps": 30.0}
//   python_json_dumps(params, {.sort_keys = true});     // {"fps": 30.0, "window": 5}
//   python_json_dumps(params, {.indent = 2});           // params.json layout, no final newline
//   python_float_repr(1e-05);                           // "1e-05"
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace mosaic {

/// \brief The project's JSON value: nlohmann's ordered_json.
///
/// Objects keep insertion order (Python dicts do, and params.json lists fields in declaration
/// order), and numbers keep their kind: an integer (`int64_t`/`uint64_t`) dumps as `30`, a float
/// (`double`) as `30.0`. The kind is part of a run id (see pipeline.md §2.2), so build integers
/// from integer types and floats from `double`. Object keys are UTF-8 strings.
using Json = nlohmann::ordered_json;

/// \brief Options of `python_json_dumps`, named and defaulted as in Python's `json.dumps`.
///
/// Every member has a default member initializer (even the `= std::nullopt` ones) so that
/// designated initializers like `{.indent = 2}` compile cleanly under GCC 12's
/// -Wmissing-field-initializers.
struct PyDumpOptions {
  /// Sort object keys at every level by Python string order (code point = UTF-8 byte order).
  bool sort_keys = false;
  /// Pretty-print with this many spaces per level; `std::nullopt` writes one line. As in Python,
  /// 0 (or a negative value) still puts every item on its own line, just without indentation.
  std::optional<int> indent = std::nullopt;
  /// Escape every non-ASCII character as `\uXXXX` (surrogate pairs above the BMP); when false,
  /// non-ASCII characters are written as UTF-8.
  bool ensure_ascii = true;
  /// Write NaN/Infinity/-Infinity for non-finite floats; when false they throw `InputError`.
  bool allow_nan = true;
  /// Between items; `std::nullopt` is Python's default: `", "` on one line, `","` with indent.
  std::optional<std::string> item_separator = std::nullopt;
  /// Between a key and its value; `std::nullopt` is Python's default `": "`.
  std::optional<std::string> key_separator = std::nullopt;
};

/// \brief Format a double exactly as Python's `repr(float)` (which is what `json.dumps` writes).
///
/// Shortest round-trip digits; fixed notation with at least one fractional digit when the decimal
/// exponent x satisfies -4 <= x < 16 (`1.0`, `0.0001`, `123456789012345.0`, `-0.0`), otherwise
/// `d[.ddd]e±XX` with at least two exponent digits (`1e+16`, `1e-05`, `5e-324`). Non-finite
/// values give json.dumps' spellings `NaN`, `Infinity`, `-Infinity`.
std::string python_float_repr(double value);

/// \brief Serialize `value` byte for byte as CPython's `json.dumps(value, ...)`.
///
/// Strings must be valid UTF-8 (an invalid string, key or value, throws `InputError`). Integers
/// print in full, floats via `python_float_repr`, empty containers as `[]`/`{}` even with indent,
/// and there is never a trailing newline. Binary values and nesting deeper than 1000 levels throw
/// `InputError` (Python would raise TypeError/RecursionError).
std::string python_json_dumps(const Json& value, const PyDumpOptions& options = {});

/// \brief Parse JSON text as CPython's `json.loads` does.
///
/// Accepts the `NaN`, `Infinity` and `-Infinity` literals that json.dumps writes. Numbers without
/// fraction or exponent become integers (int64, or uint64 above INT64_MAX), all others doubles
/// (`1e400` -> inf, `1e-400` -> 0.0, as Python's float()). A repeated object key keeps its first
/// position and its last value, as a Python dict does. Throws `InputError` with Python's message
/// and the line/column/byte offset on malformed text, on invalid UTF-8, on a leading BOM, on raw
/// control characters inside strings, on integers outside int64/uint64 (Python's int has no
/// limit), on `\uXXXX` escapes that leave a lone surrogate (not representable in UTF-8) and on
/// nesting deeper than 1000 levels.
Json python_json_loads(std::string_view text);

}  // namespace mosaic
