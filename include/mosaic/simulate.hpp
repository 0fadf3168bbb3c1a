// simulate.hpp: mosaic's own simulator of plausible multi-animal tracks.
//
// Animals move on smooth trajectories with headings (correlated random walks with persistent
// speed and turning), carry K keypoints on a body skeleton aligned with the heading, and have
// approach and avoidance episodes with one another; some keypoints go missing now and then and
// some animals are absent for stretches. Output is the canonical track table of importers.hpp,
// deterministic for a seed (same seed -> same bytes on every machine).
//
//   SimulationOptions opt{.animals = 3, .keypoints = 7, .frames = 9000, .fps = 30, .seed = 1};
//   Table t = simulate_sequence(opt, /*sequence_index=*/0);
#pragma once

#include <cstdint>
#include <string>

#include "mosaic/table.hpp"

namespace mosaic {

struct SimulationOptions {
  int sequences = 4;
  int animals = 3;
  int keypoints = 7;
  int64_t frames = 9000;
  double fps = 30.0;
  uint64_t seed = 0;
  /// Arena side length in pixels; animals stay inside [0, arena].
  double arena = 1000.0;
  /// Fraction of keypoint observations dropped at random (NaN, P = 0).
  double missing_keypoint_rate = 0.01;
  /// Whether animals are occasionally absent for a stretch of frames (rows with NaN values).
  bool absent_stretches = true;
};

/// \brief Simulate sequence `sequence_index` (0-based) of a dataset: canonical columns
/// frame,time,id,X,Y,ANGLE,poseX0,poseY0,poseP0,... sorted by frame then id.
/// Keypoint 0 is the nose, the middle of the skeleton is the neck/body, the last is the tail base;
/// ANGLE follows the README rule with the tail base -> neck pair.
Table simulate_sequence(const SimulationOptions& options, int sequence_index);

/// \brief The name of sequence `i`: "seq001", "seq002", ...
std::string simulated_sequence_name(int sequence_index);

}  // namespace mosaic
