// importer_util.hpp: pieces the track importers share (private to src/io/importers).
//
// - File sniffing, so an importer handed the wrong kind of file can say what it found
//   ("a text file starting with 'scorer,DLC_...' (looks like format 'dlc')").
// - PoseGrid, a dense frames x ids x keypoints buffer, and `pose_grid_to_table`, the single place
//   that turns it into the canonical track table (X/Y mean, ANGLE, missing-keypoint rules).
// - ANGLE keypoint resolution from ImportOptions (explicit names/indices or the default rule).
// - RAII over the HDF5 C API (every hid_t owned), with HDF5's own error printing silenced and its
//   error stack turned into one-line IoError messages.
#pragma once

#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mosaic/importers.hpp"
#include "mosaic/table.hpp"

namespace mosaic::importer_detail {

// ---------------------------------------------------------------------------------------------
// Files

/// \brief Throw IoError unless `path` names an existing regular file.
void require_regular_file(const std::filesystem::path& path);

/// \brief Describe what the file holds, for "expected X, found Y" messages: "an empty file",
/// "an HDF5 file with top-level objects: a, b (looks like format 'jabs')", "a text file starting
/// with '...'", "a ZIP archive (.npz)", "a NumPy .npy array", "a Parquet file", "a binary file".
std::string describe_found(const std::filesystem::path& path);

/// \brief The import format the file looks like ("" when unsure). Only used for hints.
std::string guess_format(const std::filesystem::path& path);

/// \brief True when the file's first 4 KiB hold no NUL byte and no known binary signature.
bool looks_like_text(const std::filesystem::path& path);

/// \brief True when the file carries the HDF5 signature (at offset 0, 512, 1024, ...).
bool has_hdf5_signature(const std::filesystem::path& path);

/// \brief `path`'s stem with any of `suffixes` removed from its end (first match wins).
std::string stem_without(const std::filesystem::path& path, const std::vector<std::string>& suffixes);

/// \brief Parse a whole cell as a double (accepts nan/inf like pandas); nullopt if it is not a number.
std::optional<double> parse_double(std::string_view cell) noexcept;

/// \brief Parse a whole cell as an int64; nullopt if it is not an integer.
std::optional<int64_t> parse_int64(std::string_view cell) noexcept;

// ---------------------------------------------------------------------------------------------
// Pose grid -> canonical table

/// A dense frames x ids x keypoints buffer. A keypoint is present when its x and y are finite;
/// `p` is its confidence (NaN for a present point = "the source has none" -> 1).
struct PoseGrid {
  std::vector<int64_t> frames;  ///< frame number of each frame slot, strictly increasing
  std::size_t n_ids = 0;
  std::size_t n_keypoints = 0;
  std::vector<double> x, y, p;  ///< [(frame_slot * n_ids + id) * n_keypoints + k]

  PoseGrid(std::vector<int64_t> frame_numbers, std::size_t ids, std::size_t keypoints);
  std::size_t at(std::size_t frame_slot, std::size_t id, std::size_t k) const noexcept {
    return (frame_slot * n_ids + id) * n_keypoints + k;
  }
  std::size_t num_frames() const noexcept { return frames.size(); }
};

/// The back->front keypoints for ANGLE (nullopt = ANGLE empty).
struct AngleKeypoints {
  std::optional<std::size_t> back;
  std::optional<std::size_t> front;
};

/// \brief Resolve ImportOptions::angle_from/angle_to against `names` (see importers.hpp for the
/// rule). Throws InputError naming `file` for an unknown name or index; appends a note when the
/// default rule finds no pair.
AngleKeypoints resolve_angle_keypoints(const std::vector<std::string>& names, const ImportOptions& options,
                                       const std::filesystem::path& file, std::vector<std::string>& notes);

/// \brief Build the canonical table: frame, time (frame/fps, NaN without fps), id, X, Y (mean of
/// present keypoints), ANGLE, poseX{k}, poseY{k}, poseP{k} (missing: NaN x/y, P = 0).
Table pose_grid_to_table(const PoseGrid& grid, std::optional<double> fps, const AngleKeypoints& angle);

/// \brief "time" column values frame/fps (NaN without fps).
std::vector<double> time_from_frames(std::span<const int64_t> frames, std::optional<double> fps);

/// \brief Throw InputError unless fps is finite and > 0 (when given).
void check_fps(const std::optional<double>& fps, const std::filesystem::path& file);

/// \brief Fill group/sequence/sources/fps of an ImportedSequence.
ImportedSequence make_sequence(const std::filesystem::path& file, const ImportOptions& options,
                               std::string default_sequence, Table table, std::optional<double> fps);

// ---------------------------------------------------------------------------------------------
// HDF5

/// Owner of one hid_t, closed with `Close` (H5Fclose, H5Dclose, ...).
template <herr_t (*Close)(hid_t)>
class H5Handle {
 public:
  H5Handle() = default;
  explicit H5Handle(hid_t id) noexcept : id_(id) {}
  ~H5Handle() { reset(); }
  H5Handle(H5Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  H5Handle& operator=(H5Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;

  hid_t get() const noexcept { return id_; }
  bool valid() const noexcept { return id_ >= 0; }
  void reset() noexcept {
    if (id_ >= 0) Close(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using H5FileId = H5Handle<H5Fclose>;
using H5DatasetId = H5Handle<H5Dclose>;
using H5SpaceId = H5Handle<H5Sclose>;
using H5TypeId = H5Handle<H5Tclose>;
using H5AttrId = H5Handle<H5Aclose>;
using H5GroupId = H5Handle<H5Gclose>;

/// Silences HDF5's automatic error printing for its lifetime (per thread in HDF5's thread-safe
/// build, which is why every importer call makes one rather than setting it once).
class Hdf5Quiet {
 public:
  Hdf5Quiet() noexcept;
  ~Hdf5Quiet();
  Hdf5Quiet(const Hdf5Quiet&) = delete;
  Hdf5Quiet& operator=(const Hdf5Quiet&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

/// \brief The HDF5 error stack as one line ("<outermost>: <innermost>"), then clear it.
std::string take_hdf5_error();

/// A read-only HDF5 file with typed readers. Errors name the file; a missing dataset is an
/// InputError "expected <what> ... found <describe_found>", a failed read an IoError.
class Hdf5Reader {
 public:
  /// Open `path`; `expected` describes the format for messages ("a SLEAP analysis HDF5 file").
  Hdf5Reader(std::filesystem::path path, std::string expected);

  const std::filesystem::path& path() const noexcept { return path_; }
  bool has(std::string_view object_path) const;
  /// Throw InputError naming the file, the expected format and the missing dataset.
  void require(std::string_view dataset) const;
  std::vector<std::string> root_names() const;

  /// Dataset shape (throws when absent).
  std::vector<hsize_t> shape(std::string_view dataset) const;
  /// Whole dataset converted to double / int64 by HDF5 (row-major, shape in `shape_out`).
  std::vector<double> read_f64(std::string_view dataset, std::vector<hsize_t>* shape_out = nullptr) const;
  std::vector<int64_t> read_i64(std::string_view dataset, std::vector<hsize_t>* shape_out = nullptr) const;
  /// A 1-D (or scalar) dataset of fixed- or variable-length strings; trailing NULs/spaces removed.
  std::vector<std::string> read_strings(std::string_view dataset) const;
  /// A string attribute of an object ("/" = the file), nullopt when absent or not a string.
  std::optional<std::string> string_attribute(std::string_view object_path, std::string_view name) const;
  /// A numeric attribute converted to int64 values, nullopt when absent.
  std::optional<std::vector<int64_t>> int_attribute(std::string_view object_path, std::string_view name) const;

 private:
  H5DatasetId open_dataset(std::string_view dataset) const;
  [[noreturn]] void fail_read(std::string_view what) const;

  std::filesystem::path path_;
  std::string expected_;
  H5FileId file_;
};

}  // namespace mosaic::importer_detail
