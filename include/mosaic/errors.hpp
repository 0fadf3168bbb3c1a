// errors.hpp: the typed exceptions every part of mosaic throws.
//
// User and input mistakes throw a mosaic::Error subclass whose message names *what* (file, column,
// key), what was *expected* and what was *got*. The CLI prints the message on one line and maps
// the class to an exit code. Example:
//
//   throw SchemaError::missing_column("tracks/a.parquet", "frame", table.column_names());
//   // -> "tracks/a.parquet: missing column 'frame' (available: id, X, Y)"
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mosaic {

/// \brief Base of all mosaic errors; `exit_code()` is what the CLI returns for it.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  virtual int exit_code() const noexcept { return 1; }
};

/// \brief Bad parameters, arguments or user input (exit code 2).
class InputError : public Error {
 public:
  using Error::Error;
  int exit_code() const noexcept override { return 2; }
};

/// \brief A missing or mistyped column or key in a table or file (exit code 3).
class SchemaError : public Error {
 public:
  using Error::Error;
  int exit_code() const noexcept override { return 3; }
  /// \brief Build "<where>: missing column '<name>' (available: a, b, c)".
  static SchemaError missing_column(std::string_view where, std::string_view name,
                                    const std::vector<std::string>& available);
  /// \brief Build "<where>: column '<name>' has type <got>, expected <expected>".
  static SchemaError wrong_type(std::string_view where, std::string_view name,
                                std::string_view expected, std::string_view got);
};

/// \brief A file, DuckDB or SQLite failure (exit code 4). The message names the file.
class IoError : public Error {
 public:
  using Error::Error;
  int exit_code() const noexcept override { return 4; }
};

/// \brief Fit/cache state that is missing or inconsistent (exit code 5).
class StateError : public Error {
 public:
  using Error::Error;
  int exit_code() const noexcept override { return 5; }
};

/// \brief A "cannot happen" state that must not corrupt data even in Release (exit code 70).
class InternalError : public Error {
 public:
  using Error::Error;
  int exit_code() const noexcept override { return 70; }
};

/// \brief Join names with ", " (for "available: ..." lists in messages).
std::string join_names(const std::vector<std::string>& names, std::string_view sep = ", ");

/// \brief Suggest the closest candidate to `name` (edit distance), or "" when nothing is close.
std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace mosaic

#ifndef NDEBUG
#define MOSAIC_ASSERT(cond, why)                                                               \
  do {                                                                                         \
    if (!(cond)) throw ::mosaic::InternalError(std::string("assertion failed: ") + #cond +     \
                                               " (" + (why) + ") at " + __FILE__ + ":" +       \
                                               std::to_string(__LINE__));                      \
  } while (0)
#else
#define MOSAIC_ASSERT(cond, why) \
  do {                           \
  } while (0)
#endif
