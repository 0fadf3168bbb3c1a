// frames.hpp: frame sampling for annotation (pipeline.md §9) and the dataset's media index (§1.6).
//
// Videos are attached to sequences in `<media root>/index.csv` (`import_videos`, CLI
// `mosaic import-video`); several videos of one sequence form one virtual frame range (§9.3).
// `extract_frames` picks n frames per sequence, evenly spaced (`uniform`) or visually diverse
// (`kmeans`: one frame per mini-batch k-means cluster of downscaled candidates), and writes them
// as PNGs under `<frames>/<method>/<run_id>/<entry key>/` with a `run_info.json`, listed in
// `<frames>/<method>/index.csv`. The run id hashes the sampling parameters exactly as the
// reference does, so the same parameters reuse the same folder.
//
//   FrameSamplingOptions opt;
//   opt.n_frames = 100;
//   opt.method = "kmeans";
//   FrameSamplingResult r = extract_frames(ds, opt);       // r.run_id == "kmeans-<10 hex>"
//   for (auto& png : get_frame_paths(ds, "kmeans", r.run_id)) { ... }
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mosaic/json.hpp"
#include "mosaic/video.hpp"

namespace mosaic {

class Dataset;

// ---------------------------------------------------------------------------------------------
// Media index

/// \brief The columns of `<media root>/index.csv`, in order (§1.6).
const std::vector<std::string>& media_index_columns();

/// \brief One row of `<media root>/index.csv` as frame sampling uses it.
struct MediaIndexRow {
  std::string name;          ///< file name
  std::string group;         ///< "" for none (a NaN cell reads as "")
  std::string sequence;
  std::string abs_path_cell; ///< as stored (absolute, or relative to the dataset)
  std::filesystem::path path;///< resolved against the dataset
  int64_t video_order = 0;   ///< rank by file name within (group, sequence); missing = 0
};

/// \brief Rows of the media index in file order. Throws IoError when the index is missing.
std::vector<MediaIndexRow> read_media_index(const Dataset& dataset);

struct VideoImportOptions {
  std::string group;      ///< "" = no group
  std::string sequence;   ///< required
  /// Replace a different file already stored under the same name for this sequence.
  bool overwrite = false;
  /// Always copy; by default a hard link is made when source and dataset share a filesystem.
  bool copy = false;
};

/// \brief What `import_videos` did with one file.
struct ImportedVideo {
  std::filesystem::path source;
  std::filesystem::path stored;   ///< `<media root>/<entry key>/<file name>`
  bool hard_linked = false;       ///< else copied (or already there)
  bool already_present = false;   ///< the same file was already stored there
  VideoInfo info;
  int64_t video_order = 0;
};

/// \brief Store videos for one sequence in the media root (hard link when possible, else copy)
/// and add or update their rows in `<media root>/index.csv` (every cell text, unknown columns
/// kept, `video_order` re-ranked by file name within the sequence). Each file is opened first;
/// one that is missing or not a readable video throws IoError naming it before anything is
/// stored.
std::vector<ImportedVideo> import_videos(const Dataset& dataset, const std::vector<std::filesystem::path>& files,
                                         const VideoImportOptions& options);

// ---------------------------------------------------------------------------------------------
// Frame sampling

/// \brief Progress of `extract_frames`, for progress bars.
struct FrameSamplingProgress {
  std::size_t sequences_done = 0;
  std::size_t sequences_total = 0;
  std::string current;         ///< entry key being worked on
  std::string phase;           ///< "index", "candidates", "kmeans", "png"
  int64_t phase_done = 0;      ///< frames of this phase done
  int64_t phase_total = 0;
};

/// \brief The parameters of `extract_frames` (§9.1), with the reference's defaults.
struct FrameSamplingOptions {
  int64_t n_frames = 0;
  std::string method = "uniform";  ///< "uniform" or "kmeans" (stripped, lowercased)
  /// Scope: keep media rows of these groups / sequences (nullopt = all).
  std::optional<std::set<std::string>> groups = std::nullopt;
  std::optional<std::set<std::string>> sequences = std::nullopt;
  bool overwrite = false;
  std::optional<int64_t> start_frame = std::nullopt;  ///< inclusive; default 0
  std::optional<int64_t> end_frame = std::nullopt;    ///< inclusive; default the last frame
  int64_t candidate_step = 1;
  std::optional<CropRect> crop = std::nullopt;        ///< hashed as the list [x, y, w, h]
  std::array<int64_t, 2> kmeans_resize = {64, 64};    ///< (w, h)
  bool kmeans_grayscale = true;
  std::optional<int64_t> kmeans_max_candidates = 5000;  ///< nullopt = no limit
  int64_t kmeans_batch_size = 1024;
  int64_t kmeans_max_iter = 100;
  std::optional<int64_t> kmeans_n_init = std::nullopt;  ///< nullopt = "auto"
  int64_t random_state = 42;
  /// Decoding threads: 0 = "auto" = min(hardware threads, 8); 1 = sequential. Not hashed;
  /// results are identical for every value.
  int parallel_workers = 0;
  /// Print the reference's log lines ("[extract_frames] skip ...", "... completed ...").
  bool log = true;
  /// Where log lines go (serialised); default: stdout, and stderr for errors and warnings.
  std::function<void(bool to_stderr, const std::string& line)> log_sink = nullptr;
  /// Called (serialised, from any thread) as work progresses.
  std::function<void(const FrameSamplingProgress&)> on_progress = nullptr;
};

/// \brief The outcome for one sequence.
struct FrameSequenceResult {
  enum class Status { kExtracted, kSkipped, kFailed };
  std::string group;
  std::string sequence;
  std::string key;                     ///< entry key = folder name
  Status status = Status::kExtracted;
  std::string message;                 ///< the error for kFailed
  std::filesystem::path dir;
  std::vector<int64_t> selected_frames;  ///< extracted now (empty when skipped)
  int64_t frames_decoded = 0;
  double seconds = 0;
};

struct FrameSamplingResult {
  std::string run_id;
  std::string method;
  std::string params_hash;
  std::filesystem::path run_root;
  std::vector<FrameSequenceResult> sequences;
  bool finished = false;  ///< index rows marked finished (no sequence failed)
  int64_t frames_decoded = 0;
  double seconds = 0;
};

/// \brief The hash params dict of §9.1 step 2 (insertion order as the reference; run_params.json).
/// Throws InputError "method must be one of: 'uniform', 'kmeans'" for another method.
Json frame_sampling_params(const FrameSamplingOptions& options);

/// \brief `<method>-<hash_params(frame_sampling_params(options))>`, e.g. `uniform-a797ec3569`.
std::string frame_sampling_run_id(const FrameSamplingOptions& options);

/// \brief Sample frames from every sequence of the media index in scope (§9.1-§9.3).
///
/// Sequences whose folder exists are skipped unless `overwrite`. A sequence that fails is
/// reported in the result (and on stderr) while the others continue; the run is then not marked
/// finished (DECISIONS P6). Each sequence is written into a temporary folder renamed into place
/// when complete, and its index row is appended right after (DECISIONS P10), so an interrupted
/// run leaves only complete, indexed folders. Invalid parameters throw InputError before
/// anything is written.
FrameSamplingResult extract_frames(const Dataset& dataset, const FrameSamplingOptions& options);

/// \brief The uniform rule of §9.2 on positions 0..n_candidates-1: numpy linspace, banker's
/// rounding, dedup, fill with the smallest unused positions, sorted.
std::vector<int64_t> uniform_positions(int64_t n_candidates, int64_t n_frames);

/// \brief The columns of `<frames>/<method>/index.csv`, in order (§9.1).
const std::vector<std::string>& frames_index_columns();

/// \brief The PNG files of a frames run (§9.1 `get_frame_paths`): `run_id` defaults to the last
/// row of the method's index; one sequence, or every sequence folder in sorted order.
std::vector<std::filesystem::path> get_frame_paths(const Dataset& dataset, std::string_view method,
                                                   std::optional<std::string> run_id = std::nullopt,
                                                   std::optional<std::string> group = std::nullopt,
                                                   std::optional<std::string> sequence = std::nullopt);

}  // namespace mosaic
