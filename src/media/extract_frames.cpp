// extract_frames: uniform and k-means frame sampling over the dataset's media (pipeline.md §9).
//
// Flow per run: hash params -> run_id, run_params.json, scope from the media index, one work item
// per (group, sequence) (its videos concatenated into one frame range, §9.3), then per item:
// frame index of each video, frame range and crop, selection (uniform rule or k-means over
// downscaled candidates), PNGs, run_info.json, index row.
//
// Where this differs from the reference, on purpose (docs/frame_sampling.md):
// - Frames are addressed by exact presentation index (video.hpp), also in VFR files.
// - Each sequence is written into a temporary folder renamed into place when complete, and its
//   index row is appended as soon as it is done (DECISIONS P10; the reference appends all rows at
//   the end, so an interrupted run leaves folders that later runs skip and never index, §12).
//   A folder that exists but has no row is indexed from its run_info.json when it is skipped.
// - A sequence failure leaves the run unfinished (DECISIONS P6) instead of marking it finished.
// - Parameter errors (n_frames, candidate_step, ...) are raised once, before anything is written,
//   rather than once per sequence.
// - Multi-video `video_path` in run_info.json is the JSON list of dataset-relative paths (the
//   reference mangles it by treating the JSON text as one path, §12).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include "features/kernels/random.hpp"
#include "media/minibatch_kmeans.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/frames.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/run_id.hpp"

namespace fs = std::filesystem;

namespace mosaic {

const std::vector<std::string>& frames_index_columns() {
  static const std::vector<std::string> columns = {
      "abs_path", "run_id",        "started_at",   "finished_at",        "method",            "group",
      "sequence", "video_abs_path", "params_hash", "n_frames_extracted", "n_frames_requested"};
  return columns;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string normalize_method(std::string_view method) {
  std::size_t b = 0, e = method.size();
  while (b < e && std::isspace(static_cast<unsigned char>(method[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(method[e - 1]))) --e;
  std::string out(method.substr(b, e - b));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (out != "uniform" && out != "kmeans") throw InputError("method must be one of: 'uniform', 'kmeans'");
  return out;
}

void validate_options(const FrameSamplingOptions& o) {
  if (o.n_frames <= 0) throw InputError("n_frames must be > 0");
  if (o.candidate_step <= 0) throw InputError("candidate_step must be > 0");
  if (o.kmeans_resize[0] <= 0 || o.kmeans_resize[1] <= 0)
    throw InputError(fmt::format("kmeans_resize must be two positive sizes (w, h), got ({}, {})", o.kmeans_resize[0],
                                 o.kmeans_resize[1]));
  if (o.kmeans_batch_size <= 0) throw InputError(fmt::format("kmeans_batch_size must be > 0, got {}", o.kmeans_batch_size));
  if (o.kmeans_max_iter <= 0) throw InputError(fmt::format("kmeans_max_iter must be > 0, got {}", o.kmeans_max_iter));
  if (o.kmeans_n_init && *o.kmeans_n_init <= 0)
    throw InputError(fmt::format("kmeans_n_init must be 'auto' or > 0, got {}", *o.kmeans_n_init));
  if (o.n_frames > std::numeric_limits<int>::max())
    throw InputError(fmt::format("n_frames is too large: {}", o.n_frames));
}

int resolve_workers(int requested) {
  if (requested == 0) {
    const unsigned hw = std::thread::hardware_concurrency();
    return static_cast<int>(std::clamp<unsigned>(hw == 0 ? 1u : hw, 1u, 8u));
  }
  return requested > 1 ? requested : 1;
}

// Python's str of a tuple of ints: "(1, 2, 3, 4)".
template <class... T>
std::string py_tuple(T... v) {
  std::vector<std::string> parts{std::to_string(v)...};
  std::string out = "(";
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
  return out + ")";
}

std::string created_utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// The reference's log lines: stdout, stderr for errors and warnings, or the caller's sink.
class Logger {
 public:
  explicit Logger(const FrameSamplingOptions& options) : options_(options) {}
  void out(const std::string& line) { write(false, line); }
  void err(const std::string& line) { write(true, line); }

 private:
  void write(bool to_stderr, const std::string& line) {
    if (!options_.log) return;
    std::lock_guard lock(mutex_);
    if (options_.log_sink) {
      options_.log_sink(to_stderr, line);
      return;
    }
    std::FILE* stream = to_stderr ? stderr : stdout;
    std::fprintf(stream, "%s\n", line.c_str());
    std::fflush(stream);
  }
  const FrameSamplingOptions& options_;
  std::mutex mutex_;
};

// ---------------------------------------------------------------------------------------------
// A sequence's videos as one frame range (§9.3).

struct SequenceSource {
  std::vector<fs::path> paths;
  std::vector<VideoInfo> infos;
  std::vector<std::shared_ptr<const VideoFrameIndex>> indexes;
  std::vector<int64_t> starts;  // starts[v] = global index of video v's first frame; back() = total
  int64_t total = 0;
  int width = 0;
  int height = 0;
  double fps = 0;

  // Global frame -> (video, local frame).
  std::pair<std::size_t, int64_t> locate(int64_t global) const {
    if (global < 0 || global >= total)
      throw InputError(fmt::format("Global frame {} out of range [0, {})", global, total));
    auto it = std::upper_bound(starts.begin(), starts.end(), global);
    const auto v = static_cast<std::size_t>(it - starts.begin() - 1);
    return {v, global - starts[v]};
  }
};

struct Progress {
  std::mutex mutex;
  FrameSamplingProgress state;
  std::function<void(const FrameSamplingProgress&)> callback;

  void phase(const std::string& key, const std::string& name, int64_t total) {
    if (!callback) return;
    std::lock_guard lock(mutex);
    state.current = key;
    state.phase = name;
    state.phase_done = 0;
    state.phase_total = total;
    callback(state);
  }
  void step(int64_t n = 1) {
    if (!callback) return;
    std::lock_guard lock(mutex);
    state.phase_done += n;
    callback(state);
  }
  void sequence_done() {
    if (!callback) return;
    std::lock_guard lock(mutex);
    ++state.sequences_done;
    callback(state);
  }
};

SequenceSource open_sequence(const std::vector<fs::path>& paths, int threads, std::atomic<int64_t>& decoded,
                             Logger& log) {
  SequenceSource src;
  src.paths = paths;
  src.infos.resize(paths.size());
  src.indexes.resize(paths.size());
  // Frame indexes are demux passes over whole files: one thread per video when there are several.
  std::vector<std::exception_ptr> errors(paths.size());
  auto index_one = [&](std::size_t v) {
    try {
      VideoReader reader(paths[v]);
      src.infos[v] = reader.info();
      src.indexes[v] = reader.shared_index();
      decoded += reader.frames_decoded();
    } catch (...) {
      errors[v] = std::current_exception();
    }
  };
  if (threads <= 1 || paths.size() <= 1) {
    for (std::size_t v = 0; v < paths.size(); ++v) index_one(v);
  } else {
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < std::min<int>(threads, static_cast<int>(paths.size())); ++t)
      pool.emplace_back([&] {
        for (std::size_t v; (v = next++) < paths.size();) index_one(v);
      });
    for (auto& th : pool) th.join();
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);

  src.width = src.infos.front().width;
  src.height = src.infos.front().height;
  src.fps = src.infos.front().fps;
  bool same_size = true, same_fps = true;
  for (const auto& info : src.infos) {
    same_size = same_size && info.width == src.width && info.height == src.height;
    same_fps = same_fps && info.fps == src.fps;
  }
  if (!same_size) {
    std::string dims = "[";
    for (std::size_t v = 0; v < src.infos.size(); ++v)
      dims += (v ? ", " : "") + py_tuple(src.infos[v].width, src.infos[v].height);
    throw InputError(fmt::format(
        "Resolution mismatch across videos in sequence: {}]. All videos must have the same resolution.", dims));
  }
  if (!same_fps) {
    std::string list;
    for (std::size_t v = 0; v < src.infos.size(); ++v) list += (v ? ", " : "") + python_float_repr(src.infos[v].fps);
    log.err(fmt::format("[extract_frames] warning: fps differs across videos in sequence ([{}]); using {}", list,
                        python_float_repr(src.fps)));
  }
  src.starts.push_back(0);
  for (const auto& idx : src.indexes) {
    src.total += idx->frame_count;
    src.starts.push_back(src.total);
  }
  return src;
}

// Decode the global frames `frames` (ascending, unique) of a sequence with up to `threads`
// threads. The frames are cut into segments at keyframe boundaries (a GOP is never decoded by
// two threads); threads take segments in order and call on_frame(position, image) for each
// frame, possibly concurrently, each position exactly once. The images are the same whatever the
// thread count.
void decode_frames(const SequenceSource& src, const std::vector<int64_t>& frames, const FrameConversion& conversion,
                   int threads, std::atomic<int64_t>& decoded,
                   const std::function<void(std::size_t, Image&)>& on_frame) {
  struct Segment {
    std::size_t video;
    std::size_t begin;  // positions in `frames`
    std::size_t end;
    int64_t cost;       // frames to decode, roughly
  };
  // Runs of frames that share a video and a keyframe.
  std::vector<Segment> runs;
  std::vector<int64_t> locals(frames.size());
  int64_t total_cost = 0;
  for (std::size_t i = 0; i < frames.size();) {
    auto [v, local] = src.locate(frames[i]);
    const VideoFrameIndex& idx = *src.indexes[v];
    const int64_t slot = idx.sequential ? -2 : idx.keyframe_slot(local);
    const int64_t key = slot >= 0 ? idx.keyframe_index[static_cast<std::size_t>(slot)] : 0;
    std::size_t j = i;
    int64_t last = local;
    while (j < frames.size()) {
      auto [v2, local2] = src.locate(frames[j]);
      if (v2 != v) break;
      const int64_t slot2 = idx.sequential ? -2 : idx.keyframe_slot(local2);
      if (slot2 != slot) break;
      locals[j] = local2;
      last = local2;
      ++j;
    }
    runs.push_back({v, i, j, last - key + 1});
    total_cost += last - key + 1;
    i = j;
  }
  // Merge runs into about 4 segments per thread (load balance without tiny tasks).
  std::vector<Segment> segments;
  const int64_t target = threads > 1 ? std::max<int64_t>(1, total_cost / (4LL * threads)) : total_cost + 1;
  for (const auto& run : runs) {
    if (!segments.empty() && segments.back().video == run.video && segments.back().cost < target) {
      segments.back().end = run.end;
      segments.back().cost += run.cost;
    } else {
      segments.push_back(run);
    }
  }

  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    std::map<std::size_t, VideoReader> readers;
    try {
      for (std::size_t s; !failed && (s = next++) < segments.size();) {
        const Segment& seg = segments[s];
        auto it = readers.find(seg.video);
        if (it == readers.end())
          it = readers.emplace(seg.video, VideoReader(src.paths[seg.video], {.index = src.indexes[seg.video]})).first;
        const int64_t before = it->second.frames_decoded();
        std::span<const int64_t> span(locals.data() + seg.begin, seg.end - seg.begin);
        it->second.read_frames(span, conversion, [&](std::size_t k, Image& image) { on_frame(seg.begin + k, image); });
        decoded += it->second.frames_decoded() - before;
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };
  const int n_threads = std::max(1, std::min<int>(threads, static_cast<int>(segments.size())));
  if (n_threads == 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < n_threads; ++t) pool.emplace_back(worker);
    for (auto& th : pool) th.join();
  }
  if (error) std::rethrow_exception(error);
}

// ---------------------------------------------------------------------------------------------
// Selection

std::vector<int64_t> candidate_range(int64_t start, int64_t end, int64_t step) {
  std::vector<int64_t> out;
  for (int64_t f = start; f <= end; f += step) out.push_back(f);
  return out;
}

// §9.2 kmeans steps 5-7 on the feature rows: the member nearest each centre, then farthest-point
// fill, truncate, sort. Returns positions into the candidate list.
std::vector<int64_t> pick_from_clusters(const media::RowMatrixXf& x, const media::KMeansFit& fit, int64_t n,
                                        int64_t seed) {
  const Eigen::Index d = x.cols();
  const int k = static_cast<int>(fit.centers.rows());
  std::vector<int64_t> best(static_cast<std::size_t>(k), -1);
  std::vector<double> best_d(static_cast<std::size_t>(k), std::numeric_limits<double>::infinity());
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const int c = fit.labels[static_cast<std::size_t>(i)];
    const double dist = media::squared_distance(x.row(i).data(), fit.centers.row(c).data(), d);
    if (dist < best_d[static_cast<std::size_t>(c)]) {  // strict: the first of equals, as np.argmin
      best_d[static_cast<std::size_t>(c)] = dist;
      best[static_cast<std::size_t>(c)] = i;
    }
  }
  std::vector<int64_t> chosen;
  std::vector<char> taken(static_cast<std::size_t>(x.rows()), 0);
  for (int64_t b : best)
    if (b >= 0 && !taken[static_cast<std::size_t>(b)]) {
      taken[static_cast<std::size_t>(b)] = 1;
      chosen.push_back(b);
    }
  if (static_cast<int64_t>(chosen.size()) < n) {
    // Greedy farthest-point fill over the remaining candidates.
    std::vector<int64_t> remaining;
    for (Eigen::Index i = 0; i < x.rows(); ++i)
      if (!taken[static_cast<std::size_t>(i)]) remaining.push_back(i);
    if (chosen.empty() && !remaining.empty()) {
      // default_rng(seed).choice(remaining)
      kernels::Pcg64 rng(static_cast<uint64_t>(seed));
      const int64_t pick = remaining[static_cast<std::size_t>(rng.integers(0, static_cast<int64_t>(remaining.size())))];
      chosen.push_back(pick);
      taken[static_cast<std::size_t>(pick)] = 1;
    }
    std::vector<double> min_d(static_cast<std::size_t>(x.rows()), std::numeric_limits<double>::infinity());
    auto update = [&](int64_t s) {
      for (Eigen::Index i = 0; i < x.rows(); ++i)
        if (!taken[static_cast<std::size_t>(i)])
          min_d[static_cast<std::size_t>(i)] =
              std::min(min_d[static_cast<std::size_t>(i)], media::squared_distance(x.row(i).data(), x.row(s).data(), d));
    };
    for (int64_t s : chosen) update(s);
    while (static_cast<int64_t>(chosen.size()) < n) {
      int64_t far = -1;
      double far_d = -1;
      for (Eigen::Index i = 0; i < x.rows(); ++i)
        if (!taken[static_cast<std::size_t>(i)] && min_d[static_cast<std::size_t>(i)] > far_d) {
          far_d = min_d[static_cast<std::size_t>(i)];
          far = i;
        }
      if (far < 0) break;
      taken[static_cast<std::size_t>(far)] = 1;
      chosen.push_back(far);
      update(far);
    }
  }
  if (static_cast<int64_t>(chosen.size()) > n) chosen.resize(static_cast<std::size_t>(n));
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

// ---------------------------------------------------------------------------------------------
// Work items and the run

struct WorkItem {
  std::string group;
  std::string sequence;
  std::string key;
  std::vector<fs::path> videos;
};

struct RunContext {
  const Dataset& dataset;
  const FrameSamplingOptions& options;
  std::string method;
  std::string run_id;
  std::string params_hash;
  std::string started_at;
  fs::path run_root;
  RunIndex index;
  std::set<std::pair<std::string, std::string>> indexed;  // (group, sequence) rows of this run
  std::mutex index_mutex;
  Logger& log;
  std::atomic<int64_t> decoded{0};
  std::atomic<int> rows_written{0};
  Progress progress;
};

std::string video_abs_path_cell(const std::vector<fs::path>& videos) {
  if (videos.size() == 1) return videos.front().string();
  Json list = Json::array();
  for (const auto& v : videos) list.push_back(v.string());
  return python_json_dumps(list);
}

void append_index_row(RunContext& ctx, const WorkItem& item, const fs::path& seq_dir, int64_t n_extracted) {
  std::vector<std::pair<std::string, std::string>> row = {
      {"abs_path", fs::absolute(seq_dir).lexically_normal().string()},
      {"run_id", ctx.run_id},
      {"started_at", ctx.started_at},
      {"finished_at", ""},
      {"method", ctx.method},
      {"group", item.group},
      {"sequence", item.sequence},
      {"video_abs_path", video_abs_path_cell(item.videos)},
      {"params_hash", ctx.params_hash},
      {"n_frames_extracted", std::to_string(n_extracted)},
      {"n_frames_requested", std::to_string(ctx.options.n_frames)}};
  std::lock_guard lock(ctx.index_mutex);
  ctx.index.append({row});
  ctx.indexed.insert({item.group, item.sequence});
  ++ctx.rows_written;
}

// Removes a temporary sequence folder unless it was moved into place.
struct TempDirGuard {
  fs::path path;
  bool keep = false;
  ~TempDirGuard() {
    if (keep || path.empty()) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

FrameSequenceResult extract_sequence(RunContext& ctx, const WorkItem& item, const fs::path& seq_dir, int threads) {
  const FrameSamplingOptions& o = ctx.options;
  FrameSequenceResult result;
  const auto t0 = Clock::now();

  ctx.progress.phase(item.key, "index", 0);
  std::atomic<int64_t> decoded{0};
  SequenceSource src = open_sequence(item.videos, threads, decoded, ctx.log);

  // Frame range (inclusive) and crop, clamped as §9.2.
  const int64_t count = src.total;
  if (count <= 0) throw InputError("Video has no frames.");
  const int64_t start = std::clamp<int64_t>(o.start_frame.value_or(0), 0, count - 1);
  const int64_t end = std::clamp<int64_t>(o.end_frame.value_or(count - 1), 0, count - 1);
  if (start > end) throw InputError(fmt::format("Invalid frame range after clamping: start={}, end={}", start, end));
  std::optional<CropRect> crop;
  if (o.crop) {
    CropRect c = *o.crop;
    c.x = std::max(0, c.x);
    c.y = std::max(0, c.y);
    c.w = std::min(c.w, src.width - c.x);
    c.h = std::min(c.h, src.height - c.y);
    if (c.w <= 0 || c.h <= 0)
      throw InputError(fmt::format("Crop rectangle is empty/out-of-bounds after clamping: {} for frame size {}",
                                   py_tuple(c.x, c.y, c.w, c.h), py_tuple(src.width, src.height)));
    crop = c;
  }

  std::vector<int64_t> selected;
  Json sampling = Json::object();
  if (ctx.method == "uniform") {
    const std::vector<int64_t> candidates = candidate_range(start, end, o.candidate_step);
    if (candidates.empty()) throw InputError("No candidate frames to sample from.");
    for (int64_t p : uniform_positions(static_cast<int64_t>(candidates.size()), o.n_frames))
      selected.push_back(candidates[static_cast<std::size_t>(p)]);
  } else {
    int64_t step = o.candidate_step;
    const int64_t approx = (end - start) / o.candidate_step + 1;
    if (o.kmeans_max_candidates && *o.kmeans_max_candidates > 0 && approx > *o.kmeans_max_candidates)
      step = o.candidate_step *
             std::max<int64_t>(1, (approx + *o.kmeans_max_candidates - 1) / *o.kmeans_max_candidates);
    const std::vector<int64_t> candidates = candidate_range(start, end, step);
    if (candidates.empty()) throw InputError("No candidate frames to sample from.");
    const auto n_cand = static_cast<int64_t>(candidates.size());
    if (o.n_frames >= n_cand) {
      selected = candidates;
    } else {
      const int rw = static_cast<int>(o.kmeans_resize[0]), rh = static_cast<int>(o.kmeans_resize[1]);
      const FrameConversion conv{.format = o.kmeans_grayscale ? PixelFormat::kGray8 : PixelFormat::kBgr24,
                                 .crop = crop, .width = rw, .height = rh};
      const Eigen::Index dims = static_cast<Eigen::Index>(rw) * rh * (o.kmeans_grayscale ? 1 : 3);
      media::RowMatrixXf x(n_cand, dims);
      ctx.progress.phase(item.key, "candidates", n_cand);
      decode_frames(src, candidates, conv, threads, decoded, [&](std::size_t i, Image& img) {
        float* row = x.row(static_cast<Eigen::Index>(i)).data();
        for (Eigen::Index j = 0; j < dims; ++j) row[j] = static_cast<float>(img.pixels[static_cast<std::size_t>(j)]) / 255.0f;
        ctx.progress.step();
      });
      ctx.progress.phase(item.key, "kmeans", 0);
      media::MiniBatchKMeansOptions km;
      km.n_clusters = static_cast<int>(o.n_frames);
      km.batch_size = static_cast<int>(std::max<int64_t>(1, std::min(o.kmeans_batch_size, n_cand)));
      km.max_iter = static_cast<int>(std::min<int64_t>(o.kmeans_max_iter, std::numeric_limits<int>::max()));
      km.n_init = o.kmeans_n_init ? static_cast<int>(*o.kmeans_n_init) : 1;  // "auto" = 1 for k-means++
      km.seed = static_cast<uint32_t>(o.random_state);
      const media::KMeansFit fit = media::minibatch_kmeans(x, km);
      for (int64_t p : pick_from_clusters(x, fit, o.n_frames, o.random_state))
        selected.push_back(candidates[static_cast<std::size_t>(p)]);
    }
    sampling["kmeans_resize"] = Json::array({o.kmeans_resize[0], o.kmeans_resize[1]});
    sampling["kmeans_grayscale"] = o.kmeans_grayscale;
    sampling["kmeans_max_candidates"] = o.kmeans_max_candidates ? Json(*o.kmeans_max_candidates) : Json(nullptr);
    sampling["kmeans_effective_candidate_step"] = step;
    sampling["kmeans_batch_size"] = o.kmeans_batch_size;
    sampling["kmeans_max_iter"] = o.kmeans_max_iter;
    sampling["kmeans_n_init"] = o.kmeans_n_init ? Json(*o.kmeans_n_init) : Json("auto");
    sampling["candidate_count"] = n_cand;
  }

  // Write into a temporary sibling folder; it becomes seq_dir only when complete.
  TempDirGuard tmp{temp_path_for(seq_dir)};
  make_dirs(tmp.path);
  std::vector<Json> files(selected.size());
  ctx.progress.phase(item.key, "png", static_cast<int64_t>(selected.size()));
  decode_frames(src, selected, {.format = PixelFormat::kRgb24, .crop = crop}, threads, decoded,
                [&](std::size_t i, Image& img) {
                  const std::string name = fmt::format("frame_{:06d}.png", selected[i]);
                  write_png(tmp.path / name, img);
                  Json rec = Json::object();
                  rec["frame_index"] = selected[i];
                  rec["path"] = name;
                  rec["width"] = img.width;
                  rec["height"] = img.height;
                  files[i] = std::move(rec);
                  ctx.progress.step();
                });

  const bool multi = item.videos.size() > 1;
  Json info = Json::object();
  info["run_id"] = ctx.run_id;
  info["method"] = ctx.method;
  if (multi) {
    Json rel = Json::array();
    for (const auto& v : item.videos) rel.push_back(ctx.dataset.relative_to_base(v));
    info["video_path"] = python_json_dumps(rel);
  } else {
    info["video_path"] = ctx.dataset.relative_to_base(item.videos.front());
  }
  info["output_dir"] = ctx.dataset.relative_to_base(seq_dir);
  info["manifest_path"] = (fs::absolute(seq_dir).lexically_normal() / "run_info.json").string();
  info["n_requested"] = o.n_frames;
  info["n_extracted"] = static_cast<int64_t>(files.size());
  info["selected_frame_indices"] = Json(selected);
  info["start_frame"] = start;
  info["end_frame"] = end;
  info["candidate_step"] = o.candidate_step;
  if (crop) {
    Json c = Json::object();
    c["x"] = crop->x;
    c["y"] = crop->y;
    c["w"] = crop->w;
    c["h"] = crop->h;
    info["crop"] = c;
  } else {
    info["crop"] = nullptr;
  }
  info["created_utc"] = created_utc_now();
  info["files"] = Json(files);
  Json meta = Json::object();
  meta["width"] = src.width;
  meta["height"] = src.height;
  meta["fps"] = src.fps;
  if (multi) {
    meta["total_frames"] = src.total;
    meta["video_count"] = static_cast<int64_t>(item.videos.size());
    Json paths = Json::array();
    for (const auto& v : item.videos) paths.push_back(v.string());
    meta["video_paths"] = paths;
  } else {
    meta["frame_count"] = src.total;
  }
  info["video_meta"] = meta;
  info["sampling"] = sampling;
  info["random_state"] = o.random_state;
  write_file_atomic(tmp.path / "run_info.json", python_json_dumps(info, {.indent = 2}));

  // Into place: an old folder (overwrite) goes only now, so a failure above keeps it.
  std::error_code ec;
  if (fs::exists(seq_dir)) {
    fs::remove_all(seq_dir, ec);
    if (ec) throw IoError(fmt::format("{}: cannot remove the previous frames: {}", seq_dir.string(), ec.message()));
  }
  fs::rename(tmp.path, seq_dir, ec);
  if (ec) throw IoError(fmt::format("{}: cannot move frames into place: {}", seq_dir.string(), ec.message()));
  tmp.keep = true;

  ctx.decoded += decoded;
  result.selected_frames = std::move(selected);
  result.frames_decoded = decoded;
  result.seconds = seconds_since(t0);
  return result;
}

// An existing folder with no index row (an interrupted run): index it from its run_info.json.
bool reindex_existing(RunContext& ctx, const WorkItem& item, const fs::path& seq_dir) {
  {
    std::lock_guard lock(ctx.index_mutex);  // other sequences' threads add to `indexed`
    if (ctx.indexed.count({item.group, item.sequence})) return false;
  }
  const fs::path info_path = seq_dir / "run_info.json";
  Json info = python_json_loads(read_file_text(info_path));
  int64_t n = 0;
  if (info.contains("n_extracted") && info["n_extracted"].is_number_integer()) n = info["n_extracted"].get<int64_t>();
  append_index_row(ctx, item, seq_dir, n);
  return true;
}

FrameSequenceResult process_item(RunContext& ctx, const WorkItem& item, int threads) {
  const fs::path seq_dir = ctx.run_root / item.key;
  FrameSequenceResult result;
  try {
    const bool exists = fs::exists(seq_dir);
    if (exists && !ctx.options.overwrite && fs::exists(seq_dir / "run_info.json")) {
      ctx.log.out(fmt::format("[extract_frames] skip {} (exists, overwrite=False)", item.key));
      reindex_existing(ctx, item, seq_dir);
      result.status = FrameSequenceResult::Status::kSkipped;
    } else {
      if (exists && !ctx.options.overwrite) {
        // Left by a run killed before it wrote run_info.json (the reference writes in place):
        // not a result, so sample it again.
        ctx.log.out(fmt::format("[extract_frames] redo {} (incomplete: no run_info.json)", item.key));
      }
      result = extract_sequence(ctx, item, seq_dir, threads);
      result.status = FrameSequenceResult::Status::kExtracted;
      append_index_row(ctx, item, seq_dir, static_cast<int64_t>(result.selected_frames.size()));
    }
  } catch (const std::exception& e) {
    result.status = FrameSequenceResult::Status::kFailed;
    result.message = e.what();
    ctx.log.err(fmt::format("[extract_frames] ERROR processing {}: {}", item.key, e.what()));
  }
  result.group = item.group;
  result.sequence = item.sequence;
  result.key = item.key;
  result.dir = seq_dir;
  ctx.progress.sequence_done();
  return result;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::vector<int64_t> uniform_positions(int64_t n_candidates, int64_t n_frames) {
  std::vector<int64_t> out;
  if (n_candidates <= 0 || n_frames <= 0) return out;
  if (n_frames >= n_candidates) {
    out.resize(static_cast<std::size_t>(n_candidates));
    std::iota(out.begin(), out.end(), 0);
    return out;
  }
  // np.round(np.linspace(0, L - 1, n)): i * ((L-1)/(n-1)) in float64, the last value exactly
  // L - 1, rounded half to even (nearbyint in the default rounding mode).
  std::vector<int64_t> positions;
  const double step = n_frames > 1 ? static_cast<double>(n_candidates - 1) / static_cast<double>(n_frames - 1) : 0.0;
  for (int64_t i = 0; i < n_frames; ++i) {
    const double v = (i == n_frames - 1 && n_frames > 1) ? static_cast<double>(n_candidates - 1)
                                                         : static_cast<double>(i) * step;
    positions.push_back(static_cast<int64_t>(std::nearbyint(v)));
  }
  std::set<int64_t> seen;
  for (int64_t p : positions)
    if (seen.insert(p).second) out.push_back(p);
  for (int64_t p = 0; static_cast<int64_t>(out.size()) < n_frames && p < n_candidates; ++p)
    if (!seen.count(p)) {
      seen.insert(p);
      out.push_back(p);
    }
  std::sort(out.begin(), out.end());
  return out;
}

Json frame_sampling_params(const FrameSamplingOptions& o) {
  const std::string method = normalize_method(o.method);
  Json p = Json::object();
  p["n_frames"] = o.n_frames;
  p["method"] = method;
  p["start_frame"] = o.start_frame ? Json(*o.start_frame) : Json(nullptr);
  p["end_frame"] = o.end_frame ? Json(*o.end_frame) : Json(nullptr);
  p["candidate_step"] = o.candidate_step;
  p["crop"] = o.crop ? Json::array({o.crop->x, o.crop->y, o.crop->w, o.crop->h}) : Json(nullptr);
  p["random_state"] = o.random_state;
  if (method == "kmeans") {
    p["kmeans_resize"] = Json::array({o.kmeans_resize[0], o.kmeans_resize[1]});
    p["kmeans_grayscale"] = o.kmeans_grayscale;
    p["kmeans_max_candidates"] = o.kmeans_max_candidates ? Json(*o.kmeans_max_candidates) : Json(nullptr);
    p["kmeans_batch_size"] = o.kmeans_batch_size;
    p["kmeans_max_iter"] = o.kmeans_max_iter;
    p["kmeans_n_init"] = o.kmeans_n_init ? Json(*o.kmeans_n_init) : Json("auto");
  }
  return p;
}

std::string frame_sampling_run_id(const FrameSamplingOptions& options) {
  const Json params = frame_sampling_params(options);
  return params["method"].get<std::string>() + "-" + hash_params(params);
}

FrameSamplingResult extract_frames(const Dataset& dataset, const FrameSamplingOptions& options) {
  const auto t0 = Clock::now();
  const std::string method = normalize_method(options.method);
  validate_options(options);
  const Json params = frame_sampling_params(options);
  const std::string params_hash = hash_params(params);
  const std::string run_id = method + "-" + params_hash;
  const fs::path method_root = dataset.root("frames") / method;
  const fs::path run_root = method_root / run_id;

  Logger log(options);
  FrameSamplingResult result;
  result.run_id = run_id;
  result.method = method;
  result.params_hash = params_hash;
  result.run_root = run_root;

  make_dirs(run_root);
  try {
    write_file_atomic(run_root / "run_params.json", python_json_dumps(params, {.indent = 2}));
  } catch (const std::exception& e) {
    log.err(fmt::format("[extract_frames:{}] failed to save run_params.json: {}", method, e.what()));
  }

  // Scope from the media index.
  std::map<std::pair<std::string, std::string>, std::vector<MediaIndexRow>> grouped;
  for (auto& row : read_media_index(dataset)) {
    if (options.groups && !options.groups->count(row.group)) continue;
    if (options.sequences && !options.sequences->count(row.sequence)) continue;
    grouped[{row.group, row.sequence}].push_back(std::move(row));
  }
  if (grouped.empty()) {
    log.err("[extract_frames] No media entries match the given scope.");
    result.seconds = seconds_since(t0);
    return result;
  }

  RunContext ctx{.dataset = dataset,
                 .options = options,
                 .method = method,
                 .run_id = run_id,
                 .params_hash = params_hash,
                 .started_at = now_iso(),
                 .run_root = run_root,
                 .index = RunIndex(method_root / "index.csv", frames_index_columns(), {"run_id", "group", "sequence"}),
                 .log = log};
  ctx.progress.callback = options.on_progress;
  ctx.index.ensure();
  {
    TextCsv existing = ctx.index.read_all();
    for (std::size_t r = 0; r < existing.rows.size(); ++r)
      if (existing.cell(r, "run_id") == run_id)
        ctx.indexed.insert({std::string(existing.cell(r, "group")), std::string(existing.cell(r, "sequence"))});
  }

  std::vector<WorkItem> items;
  std::map<std::string, std::string> key_owner;  // entry key -> "group/sequence", to refuse collisions (P4)
  for (auto& [gs, rows] : grouped) {
    std::stable_sort(rows.begin(), rows.end(),
                     [](const MediaIndexRow& a, const MediaIndexRow& b) { return a.video_order < b.video_order; });
    WorkItem item;
    item.group = gs.first;
    item.sequence = gs.second;
    for (const auto& r : rows) item.videos.push_back(r.path);
    if (item.group.empty() && to_safe_name(item.sequence).empty()) item.sequence = item.videos.front().stem().string();
    item.key = make_entry_key(item.group, item.sequence);
    const std::string owner = item.group + "/" + item.sequence;
    auto [it, inserted] = key_owner.emplace(item.key, owner);
    if (!inserted && it->second != owner)
      throw InputError(fmt::format("media index: entries '{}' and '{}' map to the same folder name '{}'; rename one",
                                   it->second, owner, item.key));
    items.push_back(std::move(item));
  }
  ctx.progress.state.sequences_total = items.size();

  // Threads: sequences in parallel, and each sequence's decoding split among the rest.
  const int workers = resolve_workers(options.parallel_workers);
  const int outer = std::max(1, std::min<int>(workers, static_cast<int>(items.size())));
  const int inner = std::max(1, workers / outer);
  result.sequences.resize(items.size());
  if (outer == 1) {
    for (std::size_t i = 0; i < items.size(); ++i) result.sequences[i] = process_item(ctx, items[i], inner);
  } else {
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < outer; ++t)
      pool.emplace_back([&] {
        for (std::size_t i; (i = next++) < items.size();) result.sequences[i] = process_item(ctx, items[i], inner);
      });
    for (auto& th : pool) th.join();
  }

  const bool any_failed = std::any_of(result.sequences.begin(), result.sequences.end(), [](const auto& s) {
    return s.status == FrameSequenceResult::Status::kFailed;
  });
  if (!any_failed && !ctx.indexed.empty()) {
    ctx.index.mark_finished(run_id);
    result.finished = true;
  }
  if (ctx.rows_written > 0)
    log.out(fmt::format("[extract_frames:{}] completed run_id={} ({}/{} sequences) -> {}", method, run_id,
                        ctx.rows_written.load(), items.size(), run_root.string()));
  result.frames_decoded = ctx.decoded;
  result.seconds = seconds_since(t0);
  return result;
}

std::vector<fs::path> get_frame_paths(const Dataset& dataset, std::string_view method, std::optional<std::string> run_id,
                                      std::optional<std::string> group, std::optional<std::string> sequence) {
  const std::string m = normalize_method(method);
  const fs::path method_root = dataset.root("frames") / m;
  if (!run_id) {
    RunIndex index(method_root / "index.csv", frames_index_columns(), {"run_id", "group", "sequence"});
    TextCsv rows = index.read_all();
    if (rows.rows.empty()) throw InputError(fmt::format("No runs found in {}", (method_root / "index.csv").string()));
    run_id = std::string(rows.cell(rows.rows.size() - 1, "run_id"));
  }
  const fs::path run_root = method_root / *run_id;
  std::vector<fs::path> dirs;
  if (sequence) {
    dirs.push_back(run_root / make_entry_key(group.value_or(""), *sequence));
  } else if (fs::is_directory(run_root)) {
    for (const auto& e : fs::directory_iterator(run_root))
      if (e.is_directory() && !is_temp_file_name(e.path().filename().string())) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
  }
  std::vector<fs::path> out;
  for (const auto& dir : dirs) {
    if (!fs::is_directory(dir)) continue;
    std::vector<fs::path> pngs;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && e.path().extension() == ".png") pngs.push_back(e.path());
    std::sort(pngs.begin(), pngs.end());
    out.insert(out.end(), pngs.begin(), pngs.end());
  }
  return out;
}

}  // namespace mosaic
