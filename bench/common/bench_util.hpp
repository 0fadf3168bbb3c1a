// bench_util.hpp: what every benchmark harness needs: peak memory, a scratch folder that is
// removed at exit, and the two data shapes of the feature benchmarks (issue 5).
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

namespace mosaic::bench {

/// Peak resident set size of the process in MiB (Linux reports ru_maxrss in KiB).
inline double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

/// A scratch folder for this process, `mosaic-<name>-bench-<pid>` under the temporary folder:
/// created on first use, removed with everything in it when the process exits.
inline std::filesystem::path scratch_dir(const std::string& name) {
  struct Scratch {
    std::filesystem::path dir;
    ~Scratch() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  };
  static const Scratch scratch{[&] {
    auto d = std::filesystem::temp_directory_path() / ("mosaic-" + name + "-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }()};
  return scratch.dir;
}

/// A simulated data shape: animals x frames at 30 fps (7 keypoints).
struct Shape {
  const char* name;
  int animals;
  int64_t frames;
};

/// The feature benchmarks' shapes: 1 h x 10 animals (108,000 frames) and 100 animals x 1,000 frames.
inline constexpr Shape kIssueShapes[] = {{"hour", 10, 108000}, {"crowd", 100, 1000}};

}  // namespace mosaic::bench
