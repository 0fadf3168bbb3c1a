// files.hpp: atomic writes and small file helpers.
//
// Every file mosaic produces is written to `<path>.tmp-<pid>-<n>` in the same folder and then
// renamed over the final name, so a crash or `kill -9` never leaves a partial file under a final
// name (DECISIONS P10).
//
//   write_file_atomic("params.json", text);
//   AtomicFile out("x.parquet");           // out.temp_path() is where to write
//   produce(out.temp_path()); out.commit();  // or the destructor removes the temporary
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mosaic {

/// \brief A temporary sibling of `final_path` that replaces it on commit().
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path final_path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::filesystem::path& temp_path() const noexcept { return temp_; }
  const std::filesystem::path& final_path() const noexcept { return final_; }
  /// fsync the temporary (when `durable`), then rename it over the final path.
  void commit(bool durable = false);

 private:
  std::filesystem::path final_;
  std::filesystem::path temp_;
  bool committed_ = false;
};

/// \brief The temporary name used for `final_path` (unique per process and call).
std::filesystem::path temp_path_for(const std::filesystem::path& final_path);
/// \brief True for names of our temporaries (`*.tmp-<pid>-<n>`), which readers must ignore.
bool is_temp_file_name(std::string_view file_name);

void write_file_atomic(const std::filesystem::path& path, std::string_view content);
std::string read_file_text(const std::filesystem::path& path);
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);

/// \brief Shell-style match of a file name (Python's fnmatch/glob: `*`, `?`, `[...]`; a leading
/// dot must be matched explicitly).
bool glob_match(std::string_view pattern, std::string_view name);

/// \brief Create the directory and its parents; throws IoError naming it on failure.
void make_dirs(const std::filesystem::path& dir);

/// \brief An exclusive advisory lock (flock) on `<path>`, held for the object's lifetime.
/// Guards read-modify-write of shared files (index.csv) between processes and threads.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& lock_path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

/// \brief Now as Python's `datetime.now(timezone.utc).isoformat()`:
/// `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`, the fraction omitted when the microsecond is 0.
std::string now_iso();

}  // namespace mosaic
