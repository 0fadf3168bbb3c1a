#include "mosaic/files.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/file.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "mosaic/errors.hpp"

namespace fs = std::filesystem;

namespace mosaic {

namespace {
std::atomic<uint64_t> g_temp_counter{0};
}

fs::path temp_path_for(const fs::path& final_path) {
  uint64_t n = g_temp_counter.fetch_add(1);
  return fs::path(final_path.string() + fmt::format(".tmp-{}-{}", static_cast<long>(::getpid()), n));
}

bool is_temp_file_name(std::string_view name) {
  auto pos = name.rfind(".tmp-");
  if (pos == std::string_view::npos) return false;
  for (char c : name.substr(pos + 5))
    if (!(c == '-' || (c >= '0' && c <= '9'))) return false;
  return true;
}

AtomicFile::AtomicFile(fs::path final_path) : final_(std::move(final_path)), temp_(temp_path_for(final_)) {}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void AtomicFile::commit(bool durable) {
  if (durable) {
    int fd = ::open(temp_.c_str(), O_RDONLY);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
  }
  if (::rename(temp_.c_str(), final_.c_str()) != 0)
    throw IoError(fmt::format("{}: cannot move temporary file into place: {}", final_.string(), std::strerror(errno)));
  committed_ = true;
}

void write_file_atomic(const fs::path& path, std::string_view content) {
  AtomicFile out(path);
  {
    std::ofstream f(out.temp_path(), std::ios::binary | std::ios::trunc);
    if (!f) throw IoError(fmt::format("{}: cannot open for writing: {}", out.temp_path().string(), std::strerror(errno)));
    f.write(content.data(), static_cast<std::streamsize>(content.size()));
    f.flush();
    if (!f) throw IoError(fmt::format("{}: write failed: {}", path.string(), std::strerror(errno)));
  }
  out.commit();
}

std::string read_file_text(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<uint8_t> read_file_bytes(const fs::path& path) {
  std::string s = read_file_text(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

bool glob_match(std::string_view pattern, std::string_view name) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(name).c_str(), FNM_PERIOD) == 0;
}

void make_dirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec && !fs::is_directory(dir)) throw IoError(fmt::format("{}: cannot create directory: {}", dir.string(), ec.message()));
}

// flock() locks belong to the open file description, so two threads of one process that open the
// lock file separately still exclude each other, as two processes do.
FileLock::FileLock(const fs::path& lock_path) {
  make_dirs(lock_path.parent_path());
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw IoError(fmt::format("{}: cannot open lock file: {}", lock_path.string(), std::strerror(errno)));
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      int err = errno;
      ::close(fd_);
      throw IoError(fmt::format("{}: cannot lock: {}", lock_path.string(), std::strerror(err)));
    }
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

std::string now_iso() {
  struct timeval tv;
  ::gettimeofday(&tv, nullptr);
  std::tm tm{};
  time_t secs = tv.tv_sec;
  ::gmtime_r(&secs, &tm);
  std::string out = fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}", tm.tm_year + 1900, tm.tm_mon + 1,
                                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (tv.tv_usec != 0) out += fmt::format(".{:06d}", static_cast<long>(tv.tv_usec));
  out += "+00:00";
  return out;
}

}  // namespace mosaic
