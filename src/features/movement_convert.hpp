// movement_convert.hpp (internal): the reference's conversion between a track table and the
// `movement` package's position/confidence arrays (features.md §2.19, mosaic's movement/convert.py),
// shared by movement-smooth and movement-filter-interpolate.
//
// Keypoints are [centroid (X, Y) when include_centroid and both exist] + the pose pairs in
// pose_column_pairs order; the time axis is the sorted unique frames of the table (a frame where
// an animal has no row is NaN for it); values are float32, as movement stores them.
// DECISIONS F10: keypoint poseX<s>/poseY<s> takes its confidence from poseP<s> (the reference
// takes poseP<i> for the i-th pair in lexicographic order, which mismatches past 10 keypoints).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mosaic/table.hpp"

namespace mosaic::features {

struct MovementArrays {
  std::size_t n_frames = 0, n_keypoints = 0, n_individuals = 0;
  bool has_centroid = false;
  bool has_confidence = false;  ///< some pose keypoint has its poseP column
  std::vector<std::pair<std::string, std::string>> pose_pairs;
  std::vector<std::string> conf_cols;  ///< per pose pair: its poseP column, "" when absent
  /// position[((ind * n_keypoints + kp) * 2 + space) * n_frames + frame]: one contiguous series
  /// per (individual, keypoint, space).
  std::vector<float> position;
  /// confidence[(ind * n_keypoints + kp) * n_frames + frame]
  std::vector<float> confidence;
  /// Per table row: its frame index and individual index (-1 = no id: the row is left alone).
  std::vector<int64_t> row_frame, row_individual;

  std::span<float> series(std::size_t ind, std::size_t kp, std::size_t space) {
    return {position.data() + ((ind * n_keypoints + kp) * 2 + space) * n_frames, n_frames};
  }
  std::span<float> confidence_series(std::size_t ind, std::size_t kp) {
    return {confidence.data() + (ind * n_keypoints + kp) * n_frames, n_frames};
  }
  std::span<const float> series(std::size_t ind, std::size_t kp, std::size_t space) const {
    return {position.data() + ((ind * n_keypoints + kp) * 2 + space) * n_frames, n_frames};
  }
  std::span<const float> confidence_series(std::size_t ind, std::size_t kp) const {
    return {confidence.data() + (ind * n_keypoints + kp) * n_frames, n_frames};
  }
};

/// \brief to_movement_dataset: build the arrays (throws SchemaError for a missing frame/id
/// column or no keypoint, InputError for keypoint_names of the wrong length or not unique).
MovementArrays to_movement_arrays(const Table& df, const std::optional<std::vector<std::string>>& keypoint_names,
                                  bool include_centroid, const std::string& feature);

/// \brief from_movement_dataset: a copy of `df` whose X/Y (when the centroid is a keypoint) and
/// pose columns hold the arrays' values for each row (and the poseP columns the confidence
/// values when `update_confidence`). Rows without an id keep their values.
Table from_movement_arrays(const Table& df, const MovementArrays& m, bool update_confidence);

}  // namespace mosaic::features
