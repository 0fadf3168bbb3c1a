// test_util.hpp: helpers shared by tests (temporary folders, the shared data location, running the CLI).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace mosaic::testing {

/// A fresh temporary folder, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mosaic-test-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    if (!made) throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// ../shared (data, golden, spec) next to the repository, or empty when absent.
inline std::filesystem::path shared_dir() {
  std::filesystem::path p = std::filesystem::path(MOSAIC_SOURCE_DIR) / ".." / "shared";
  if (const char* env = std::getenv("MOSAIC_SHARED_DIR")) p = env;
  return std::filesystem::exists(p) ? std::filesystem::weakly_canonical(p) : std::filesystem::path();
}

#define MOSAIC_REQUIRE_SHARED(sub)                                                        \
  do {                                                                                    \
    if (::mosaic::testing::shared_dir().empty() ||                                        \
        !std::filesystem::exists(::mosaic::testing::shared_dir() / (sub)))                \
      GTEST_SKIP() << "needs ../shared/" << (sub) << " (absent)";                         \
  } while (0)

/// Result of running the `mosaic` command.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Run the built `mosaic` binary (path from $MOSAIC_BIN, set by CTest) with a shell-quoted
/// argument string; captures stdout and stderr.
CommandResult run_mosaic(const std::string& args);

}  // namespace mosaic::testing
