#include "cli/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <fmt/format.h>

namespace mosaic::cli {

ProgressReporter::ProgressReporter(std::string label, bool quiet)
    : label_(std::move(label)), start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  bar_ = !quiet && ::isatty(STDERR_FILENO) == 1;
}

ProgressReporter::~ProgressReporter() { finish(); }

namespace {
std::string human_rate(double v) {
  if (v >= 1e6) return fmt::format("{:.1f}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f}k", v / 1e3);
  return fmt::format("{:.0f}", v);
}
}  // namespace

void ProgressReporter::update(std::size_t done, std::size_t total, int64_t rows) {
  if (!bar_) return;
  auto now = std::chrono::steady_clock::now();
  // Redraw at most 10 times a second, and always at the end.
  if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  const int width = 24;
  int filled = total ? static_cast<int>(width * done / total) : width;
  std::string bar;
  for (int i = 0; i < width; ++i) bar += i < filled ? "\u2588" : "\u2591";
  double eta = done ? secs / static_cast<double>(done) * static_cast<double>(total - done) : 0;
  std::string line = fmt::format("\r[{}] {} {}/{} entries  {} rows/s  ETA {:.0f}s ", label_, bar, done, total,
                                 human_rate(secs > 0 ? static_cast<double>(rows) / secs : 0), eta);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressReporter::finish() {
  if (bar_ && drawn_) {
    std::fputs("\n", stderr);
    drawn_ = false;
  }
}

}  // namespace mosaic::cli
