// progress.hpp (internal): a progress bar on a terminal, nothing otherwise.
//
// On a terminal (stderr is a tty) and without --quiet, `update` redraws one line:
//   [speed-angvel] ███████░░░░░░░  12/40 entries   3.1M rows/s  ETA 4s
// When stderr is not a terminal the library's plain log lines are used instead, and --quiet
// silences both.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace mosaic::cli {

class ProgressReporter {
 public:
  ProgressReporter(std::string label, bool quiet);
  ~ProgressReporter();
  /// True when a bar is drawn (terminal and not quiet).
  bool is_bar() const noexcept { return bar_; }
  void update(std::size_t done, std::size_t total, int64_t rows);
  /// Finish the bar's line.
  void finish();

 private:
  std::string label_;
  bool bar_ = false;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace mosaic::cli
