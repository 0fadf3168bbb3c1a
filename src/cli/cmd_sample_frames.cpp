// mosaic sample-frames DIR --n-frames N [--method uniform|kmeans] [options]
// Pick frames to annotate from the dataset's videos (pipeline.md §9): evenly spaced, or one per
// k-means cluster of downscaled candidates. PNGs go to <frames>/<method>/<run_id>/<entry>/; the
// run id hashes the sampling parameters, so the same command reuses the same folder.
#ifdef MOSAIC_WITH_VIDEO

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <set>

#include "cli/cli_registry.hpp"
#include "cli/cli_util.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/frames.hpp"
#include "mosaic/json.hpp"

namespace mosaic::cli {
namespace {

// "10,20,300,200" -> ints; `what` names the option in errors.
std::vector<int64_t> parse_ints(const std::string& text, std::size_t expected, std::string_view what,
                                std::string_view form) {
  std::vector<int64_t> out;
  std::string item;
  auto flush = [&] {
    std::size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size())
      throw InputError(fmt::format("{}: expected {} (integers), got '{}'", what, form, text));
    out.push_back(v);
    item.clear();
  };
  for (char c : text) {
    if (c == ',' || c == 'x') {
      flush();
    } else if (c != ' ') {
      item += c;
    }
  }
  flush();
  if (out.size() != expected) throw InputError(fmt::format("{}: expected {}, got '{}'", what, form, text));
  return out;
}

const char* status_name(FrameSequenceResult::Status s) {
  switch (s) {
    case FrameSequenceResult::Status::kExtracted: return "extracted";
    case FrameSequenceResult::Status::kSkipped: return "skipped";
    case FrameSequenceResult::Status::kFailed: return "failed";
  }
  return "?";
}

class SampleFramesCommand final : public Command {
 public:
  explicit SampleFramesCommand(CLI::App& app) {
    sub_ = app.add_subcommand("sample-frames", "Sample frames from the dataset's videos for annotation (PNG)");
    sub_->add_option("dir", dir_, "Dataset folder or manifest")->required();
    sub_->add_option("--n-frames", opt_.n_frames, "Frames per sequence")->required();
    sub_->add_option("--method", opt_.method, "uniform (evenly spaced) or kmeans (visually diverse)")
        ->default_val("uniform");
    sub_->add_option("--sequences", sequences_, "Only these sequences (comma-separated or repeated)");
    sub_->add_option("--groups", groups_, "Only these groups (comma-separated or repeated)");
    sub_->add_option("--start-frame", start_frame_, "First frame to consider (inclusive, default 0)");
    sub_->add_option("--end-frame", end_frame_, "Last frame to consider (inclusive, default the last)");
    sub_->add_option("--crop", crop_, "Crop x,y,w,h applied before everything (clamped to the frame)");
    sub_->add_option("--seed", opt_.random_state, "random_state (k-means)")->default_val(42);
    sub_->add_option("--candidate-step", opt_.candidate_step, "Consider every N-th frame")->default_val(1);
    sub_->add_option("--kmeans-resize", resize_, "k-means feature size W,H (default 64,64)");
    sub_->add_flag("--no-grayscale", no_gray_, "k-means on colour instead of grayscale thumbnails");
    sub_->add_option("--max-candidates", max_candidates_, "k-means candidates at most (default 5000; 'none' = all)");
    sub_->add_option("--kmeans-batch-size", opt_.kmeans_batch_size, "Mini-batch size")->default_val(1024);
    sub_->add_option("--kmeans-max-iter", opt_.kmeans_max_iter, "Passes over the candidates at most")
        ->default_val(100);
    sub_->add_option("--kmeans-n-init", n_init_, "k-means++ seedings to try ('auto' = 1)");
    sub_->add_option("-j,--jobs", jobs_, "Decoding threads ('auto' = min(cores, 8))")->default_val("auto");
    sub_->add_flag("--overwrite", opt_.overwrite, "Redo sequences whose frames exist");
    sub_->add_flag("--json", json_, "Print a JSON summary (log lines go to stderr)");
  }

  int run() override {
    Dataset ds = Dataset::open(dir_);
    auto seqs = split_list(sequences_);
    auto groups = split_list(groups_);
    if (!seqs.empty()) opt_.sequences = std::set<std::string>(seqs.begin(), seqs.end());
    if (!groups.empty()) opt_.groups = std::set<std::string>(groups.begin(), groups.end());
    opt_.start_frame = start_frame_;
    opt_.end_frame = end_frame_;
    if (crop_) {
      auto v = parse_ints(*crop_, 4, "--crop", "x,y,w,h");
      opt_.crop = CropRect{static_cast<int>(v[0]), static_cast<int>(v[1]), static_cast<int>(v[2]),
                           static_cast<int>(v[3])};
    }
    if (resize_) {
      auto v = parse_ints(*resize_, 2, "--kmeans-resize", "W,H");
      opt_.kmeans_resize = {v[0], v[1]};
    }
    opt_.kmeans_grayscale = !no_gray_;
    if (max_candidates_) {
      if (*max_candidates_ == "none")
        opt_.kmeans_max_candidates = std::nullopt;
      else
        opt_.kmeans_max_candidates = parse_ints(*max_candidates_, 1, "--max-candidates", "an integer or 'none'")[0];
    }
    if (n_init_ && *n_init_ != "auto")
      opt_.kmeans_n_init = parse_ints(*n_init_, 1, "--kmeans-n-init", "'auto' or an integer")[0];
    if (jobs_ == "auto")
      opt_.parallel_workers = 0;
    else
      opt_.parallel_workers = static_cast<int>(parse_ints(jobs_, 1, "-j", "'auto' or an integer")[0]);

    // The reference's log lines go to stdout; with --json stdout carries only the JSON, so the
    // library stays quiet and failures are in the JSON (and the exit code).
    opt_.log = !json_;
    const bool progress = stderr_is_terminal();
    auto last = std::chrono::steady_clock::now() - std::chrono::seconds(1);
    std::mutex terminal;  // progress line and log lines share the terminal
    bool line_shown = false;
    if (progress) {
      opt_.on_progress = [&](const FrameSamplingProgress& p) {
        auto now = std::chrono::steady_clock::now();
        if (now - last < std::chrono::milliseconds(100) && p.phase_done != p.phase_total) return;
        last = now;
        std::string detail = p.phase_total > 0 ? fmt::format("{} {}/{}", p.phase, p.phase_done, p.phase_total) : p.phase;
        std::lock_guard lock(terminal);
        std::fprintf(stderr, "\r\033[K[sample-frames] %zu/%zu sequences | %s: %s", p.sequences_done,
                     p.sequences_total, p.current.c_str(), detail.c_str());
        std::fflush(stderr);
        line_shown = true;
      };
      // A log line first clears the progress line, which the next update redraws.
      opt_.log_sink = [&](bool to_stderr, const std::string& line) {
        std::lock_guard lock(terminal);
        if (line_shown) std::fprintf(stderr, "\r\033[K");
        line_shown = false;
        std::fflush(stderr);
        std::FILE* stream = to_stderr ? stderr : stdout;
        std::fprintf(stream, "%s\n", line.c_str());
        std::fflush(stream);
      };
    }
    FrameSamplingResult r = extract_frames(ds, opt_);
    if (progress && line_shown) std::fprintf(stderr, "\r\033[K");

    std::size_t failed = 0;
    for (const auto& s : r.sequences) failed += s.status == FrameSequenceResult::Status::kFailed;
    if (json_) {
      Json out = Json::object();
      out["run_id"] = r.run_id;
      out["method"] = r.method;
      out["params_hash"] = r.params_hash;
      out["run_root"] = r.run_root.string();
      out["finished"] = r.finished;
      out["frames_decoded"] = r.frames_decoded;
      out["seconds"] = r.seconds;
      Json list = Json::array();
      for (const auto& s : r.sequences) {
        Json j = Json::object();
        j["group"] = s.group;
        j["sequence"] = s.sequence;
        j["key"] = s.key;
        j["status"] = status_name(s.status);
        j["dir"] = s.dir.string();
        j["selected_frame_indices"] = Json(s.selected_frames);
        j["frames_decoded"] = s.frames_decoded;
        j["seconds"] = s.seconds;
        if (s.status == FrameSequenceResult::Status::kFailed) j["error"] = s.message;
        list.push_back(j);
      }
      out["sequences"] = list;
      print_json(out);
    } else if (!r.sequences.empty()) {
      std::vector<std::vector<std::string>> rows;
      for (const auto& s : r.sequences)
        rows.push_back({s.group, s.sequence, status_name(s.status), std::to_string(s.selected_frames.size()),
                        std::to_string(s.frames_decoded), fmt::format("{:.2f}", s.seconds)});
      std::printf("\nrun %s (%s)\n", r.run_id.c_str(), r.run_root.c_str());
      print_table({"group", "sequence", "status", "frames", "decoded", "seconds"}, rows);
    }
    if (failed > 0) {
      std::fprintf(stderr, "error: %zu of %zu sequence(s) failed; the run is not marked finished (rerun to retry)\n",
                   failed, r.sequences.size());
      return 1;
    }
    return 0;
  }

 private:
  std::string dir_;
  FrameSamplingOptions opt_;
  std::vector<std::string> sequences_;
  std::vector<std::string> groups_;
  std::optional<int64_t> start_frame_;
  std::optional<int64_t> end_frame_;
  std::optional<std::string> crop_;
  std::optional<std::string> resize_;
  std::optional<std::string> max_candidates_;
  std::optional<std::string> n_init_;
  std::string jobs_ = "auto";
  bool no_gray_ = false;
  bool json_ = false;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(SampleFramesCommand);
}  // namespace mosaic::cli

#endif  // MOSAIC_WITH_VIDEO
