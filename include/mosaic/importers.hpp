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

struct ImportOptions {
  /// One of: csv, parquet, dlc, sleap, trex, idtrackerai, jabs.
  std::string format;
  /// Group for every imported sequence ("" = none).
  std::string group;
  /// Sequence name; default: derived from the file name (see each importer).
  std::string sequence;
  /// Frames per second; overrides what the file stores. Used for `time = frame / fps`.
  std::optional<double> fps;
};

struct ImportedSequence {
  std::string group;
  std::string sequence;
  Table tracks;  ///< canonical columns (without group/sequence)
  std::vector<std::filesystem::path> sources;
  std::optional<double> fps;  ///< the rate used (from the file or the options)
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
