// dataset.hpp: a mosaic dataset on disk, compatible with the Python reference's layout.
//
// A dataset is a folder with a manifest (`dataset.yaml`; `.yml`/`.json` also accepted) naming its
// roots (tracks, features, labels, models, media, ...) and free metadata (`meta.fps_default`).
// Track tables live in `tracks/<entry_key>.parquet`, listed in `tracks/index.csv`
// (pipeline.md §1).
//
//   Dataset ds = Dataset::create("/data/mice", {.name = "mice", .fps = 30.0});
//   ds.write_tracks("cohort1", "m01", table, {.std_format = "dlc", .sources = {"m01.csv"}});
//   for (auto& e : ds.tracks_index()) { Table t = ds.load_tracks(e.group, e.sequence); }
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mosaic/parquet.hpp"
#include "mosaic/table.hpp"

namespace mosaic {

/// \brief What `Dataset::create` writes into a new manifest.
struct DatasetCreateOptions {
  std::string name;                 ///< default: the folder name
  std::string version = "0.1.0";
  std::optional<double> fps;        ///< stored as meta.fps_default
  std::string dataset_type = "discrete";
};

/// \brief One row of `tracks/index.csv` as the pipeline uses it.
struct TracksIndexEntry {
  std::string group;
  std::string sequence;
  std::string abs_path_cell;          ///< the cell as stored (relative or absolute)
  std::filesystem::path path;         ///< resolved against the dataset
  std::optional<int64_t> n_rows;      ///< when the index has it
};

/// \brief Provenance recorded with imported tracks in `tracks/index.csv`.
struct TrackWriteInfo {
  std::string std_format;  ///< source format (dlc, sleap, trex, ..., simulated)
  std::vector<std::filesystem::path> sources;
};

class Dataset {
 public:
  /// \brief Open an existing dataset: a manifest file, or a folder holding dataset.yaml,
  /// dataset.yml or dataset.json (tried in that order). Creates missing root folders.
  /// Throws IoError when nothing is found and InputError for a malformed manifest
  /// (unknown keys, wrong types), naming the file and the key.
  static Dataset open(const std::filesystem::path& manifest_or_dir);

  /// \brief Create `dir` with a new `dataset.yaml` and the default roots, then open it.
  /// Refuses (InputError) when a manifest already exists there.
  static Dataset create(const std::filesystem::path& dir, const DatasetCreateOptions& options);

  /// \name Manifest
  /// @{
  const std::filesystem::path& base_dir() const noexcept { return base_dir_; }
  const std::filesystem::path& manifest_path() const noexcept { return manifest_path_; }
  const std::string& name() const noexcept { return name_; }
  const std::string& version() const noexcept { return version_; }
  const std::string& dataset_type() const noexcept { return dataset_type_; }
  const nlohmann::ordered_json& meta() const noexcept { return meta_; }
  nlohmann::ordered_json& mutable_meta() noexcept { return meta_; }
  /// meta.fps_default as a number, when set.
  std::optional<double> fps_default() const;
  /// Rewrite the manifest with the keys the reference's `save()` writes.
  void save() const;
  /// @}

  /// \name Roots and paths
  /// @{
  /// The absolute folder of a named root; throws InputError when the root is not set.
  std::filesystem::path root(std::string_view key) const;
  bool has_root(std::string_view key) const;
  void set_root(std::string key, std::string value);
  const std::vector<std::pair<std::string, std::string>>& roots() const noexcept { return roots_; }
  /// The media root used for videos: `media_raw` when set, else `media`.
  std::filesystem::path media_root() const;
  /// Resolve a path cell: relative -> against the base dir; absolute -> as is (or remapped).
  std::filesystem::path resolve_path(std::string_view stored) const;
  /// Relative to the base dir when inside it, else absolute (the reference's `_relative_to_root`).
  std::string relative_to_base(const std::filesystem::path& path) const;
  /// Longest-prefix replacement for absolute paths from another machine.
  void remap_roots(std::vector<std::pair<std::string, std::string>> prefix_map);
  /// @}

  /// \name Tracks
  /// @{
  /// Rows of tracks/index.csv (last row wins for a duplicate entry), in file order. An absent
  /// index gives an empty list.
  std::vector<TracksIndexEntry> tracks_index() const;
  /// Sorted unique groups / sequences of tracks/index.csv; throws IoError
  /// "tracks/index.csv not found." when it is missing.
  std::vector<std::string> list_groups() const;
  std::vector<std::string> list_sequences(std::optional<std::string> group = std::nullopt) const;
  /// The parquet path an entry's tracks are stored at.
  std::filesystem::path tracks_path(std::string_view group, std::string_view sequence) const;
  /// Validate a canonical track table, sort it by (frame, id) (stable), add `group` and
  /// `sequence`, write it atomically and record it in tracks/index.csv (replacing any row for the
  /// same entry). Throws SchemaError/InputError naming `source` for bad tables, and InputError
  /// for group/sequence names that are empty, contain NUL or `/`-escapes that would leave the
  /// dataset, or collide with another entry's key (DECISIONS P4).
  void write_tracks(std::string_view group, std::string_view sequence, const Table& tracks,
                    const TrackWriteInfo& info);
  /// Read an entry's track table (exact index match, group "" for none).
  Table load_tracks(std::string_view group, std::string_view sequence,
                    const ParquetReadOptions& options = {}) const;
  /// @}

 private:
  Dataset() = default;
  void load_manifest();
  void ensure_roots() const;

  std::filesystem::path manifest_path_;
  std::filesystem::path base_dir_;
  std::string name_ = "unnamed";
  std::string version_ = "0.1";
  std::string format_ = "yaml";
  std::string dataset_type_ = "discrete";
  std::optional<std::string> segment_duration_;
  std::optional<std::string> time_column_;
  std::vector<std::pair<std::string, std::string>> roots_;
  nlohmann::ordered_json meta_ = nlohmann::ordered_json::object();
  std::vector<std::pair<std::string, std::string>> remap_;
};

/// \brief What `mosaic info` reports for one sequence.
struct SequenceSummary {
  std::string group;
  std::string sequence;
  int64_t rows = 0;
  int64_t animals = 0;     ///< distinct ids
  int64_t frames = 0;      ///< distinct frames
  int64_t first_frame = 0;
  int64_t last_frame = -1;
  int64_t keypoints = 0;   ///< poseX<k> columns
  std::optional<double> fps;  ///< meta.fps_default, else from the `time` column
};

/// \brief Summarise every sequence of the tracks index (reads only frame, id and time).
std::vector<SequenceSummary> summarize_tracks(const Dataset& dataset);

/// \brief The default roots of a new dataset (pipeline.md §1.2), in manifest order.
const std::vector<std::pair<std::string, std::string>>& default_roots();

/// \brief Validate a group or sequence name for use in file names; throws InputError naming
/// `what` ("group"/"sequence") when it is empty (sequence only), contains NUL, or is "." / "..".
void validate_entry_name(std::string_view what, std::string_view value);

}  // namespace mosaic
