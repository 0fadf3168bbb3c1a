// importers.hpp: turn tracker output files into canonical track tables.
//
// A canonical track table (pipeline.md §1.7 and ../shared/data/README.md) has one row per animal
// per frame, sorted by frame then id, a complete frames x ids grid: `frame` (int64), `time`
// (float64 seconds, NaN when the fps is unknown), `id` (int64, 0-based), `X`, `Y`, `ANGLE`
// (float64; ANGLE in radians in (-pi, pi], NaN when unknown), then per keypoint k = 0..K-1
// `poseX{k}`, `poseY{k}`, `poseP{k}` (float64; a missing keypoint has NaN x/y and P = 0).
// The Dataset adds `group` and `sequence` when it stores the table.
//
//   ImportOptions opt{.format = "dlc", .fps = 30.0};
//   std::vector<ImportedSequence> seqs = import_tracks({"video1DLC.csv"}, opt);
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mosaic/table.hpp"

namespace mosaic {

// Every field has a default member initializer, so designated initializers that name only some
// fields (`ImportOptions{.format = "dlc", .fps = 30.0}`) compile cleanly under -Wextra -Werror.
struct ImportOptions {
  /// One of: csv, parquet, dlc, sleap, trex, idtrackerai, jabs.
  std::string format{};
  /// Group for every imported sequence ("" = none).
  std::string group{};
  /// Sequence name; default: derived from the file name (see each importer).
  std::string sequence{};
  /// Frames per second; overrides what the file stores. Used for `time = frame / fps`.
  std::optional<double> fps{};

  /// \name ANGLE keypoints (all pose formats)
  /// ANGLE is the heading from the `angle_from` (back) keypoint to the `angle_to` (front) one.
  /// Each is a keypoint name (exact, else case- and punctuation-insensitive: "tail base" matches
  /// "Tail_base") or a 0-based keypoint index. Both empty = the default rule: back = the first
  /// keypoint found among tail base / base tail / tail root / thorax, front = the first found
  /// among spine 1 / head / base neck / neck / nose / snout (names compared lower-case with
  /// punctuation removed; DLC individual prefixes are removed first). This reproduces the shared
  /// datasets: DeepOF Tail_base -> Spine_1, SLEAP flies thorax -> head, JABS BASE_TAIL ->
  /// BASE_NECK. When neither rule finds a pair, ANGLE is empty and a note says so.
  /// @{
  std::string angle_from{};
  std::string angle_to{};
  /// @}

  /// SLEAP: keep a track only when it has an instance (at least one present keypoint) in at
  /// least this fraction of the file's frames, in [0, 1]; 0 keeps every track. Kept tracks get
  /// ids 0.. in the file's track order; dropped tracks are listed in `ImportedSequence::notes`.
  /// The default drops SLEAP's short-lived spurious tracks (the shared fly pair keeps tracks
  /// "1" and "2", 1100/1100 frames, and drops 25 tracks of 1-15 frames).
  double min_track_fraction = 0.1;

  /// DLC single-animal layout (no `individuals` header row): body-part name prefixes that name
  /// the individuals, e.g. {"B_", "W_"}; ids follow this list and the prefix is removed from
  /// the keypoint name. A body part takes the first prefix it starts with; one that matches none
  /// is an error. {""} forces one animal. Empty = auto-detect: every body part is `<P>_<name>`,
  /// there are at least two prefixes, each prefix's body parts are contiguous, and every prefix
  /// has the same (at least two) names in the same order; ids then follow first appearance.
  /// Otherwise the file holds one animal (id 0).
  std::vector<std::string> individual_prefixes{};
};

struct ImportedSequence {
  std::string group{};
  std::string sequence{};
  Table tracks{};  ///< canonical columns (without group/sequence)
  std::vector<std::filesystem::path> sources{};
  std::optional<double> fps{};  ///< the rate used (from the file or the options)
  /// Keypoint names in pose-column order (poseX{k} is keypoints[k]); empty without pose.
  std::vector<std::string> keypoints{};
  /// Human-readable remarks for the user (dropped tracks, assumed fps, sorted rows, ...).
  std::vector<std::string> notes{};
};

/// \brief The formats `import_tracks` accepts, sorted.
std::vector<std::string> import_formats();

/// \brief Import files of one format. Most formats give one sequence per file; `trex` gives one
/// sequence for all the given per-individual files. Throws InputError/IoError/SchemaError naming
/// the file and what was wrong (e.g. a file that does not match `format`).
std::vector<ImportedSequence> import_tracks(const std::vector<std::filesystem::path>& files,
                                            const ImportOptions& options);

/// \brief ANGLE from a back->front keypoint pair: atan2(y_front - y_back, x_front - x_back),
/// NaN when either point is missing.
double heading_angle(double x_back, double y_back, double x_front, double y_front) noexcept;

/// \name Per-format importers (one sequence each; trex takes all files of one sequence)
/// @{
ImportedSequence import_canonical_csv(const std::filesystem::path& file, const ImportOptions& options);
ImportedSequence import_canonical_parquet(const std::filesystem::path& file, const ImportOptions& options);
ImportedSequence import_dlc_csv(const std::filesystem::path& file, const ImportOptions& options);
ImportedSequence import_sleap_analysis_h5(const std::filesystem::path& file, const ImportOptions& options);
ImportedSequence import_trex_npz(const std::vector<std::filesystem::path>& files, const ImportOptions& options);
ImportedSequence import_idtrackerai_npy(const std::filesystem::path& file, const ImportOptions& options);
ImportedSequence import_jabs_h5(const std::filesystem::path& file, const ImportOptions& options);
/// @}

}  // namespace mosaic
