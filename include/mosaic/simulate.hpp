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
//
// The model, per animal, in physical time (so changing fps resamples the same process):
// - Behaviour modes: explore (speed an Ornstein-Uhlenbeck process around a per-animal mean of
//   about 110 px/s, turning rate an OU process), rest (speed near 0, entered about every 20 s for
//   1 + Exp(5) s), approach (steer toward the nearest free animal at about 285 px/s, at most
//   5-9 s), flee (run away from the approacher at about 240 px/s for 2-4 s; in 3 of 4
//   approaches the target flees once the approacher is within 120-190 px), and investigate
//   (1-3 s of slow movement after reaching the target). Each exploring animal starts an
//   approach about every 25 s.
// - Walls: a soft wall turns animals inward within two body lengths of the border; a hard
//   margin of 0.75 body lengths keeps the body (and so every keypoint) inside [0, arena].
//   Bodies closer than 0.8 body lengths are pushed apart.
// - Body heading follows the direction of motion with a lag that shortens with speed, and the
//   direction of motion is pulled toward the body heading at low speed (animals walk forward);
//   the head yaws around the neck by a small OU angle.
// - Observation: each keypoint gets Gaussian jitter whose scale is log-normal per point and grows
//   with speed (about 1 px at rest for a 60 px body); poseP = (1 - 0.05 U) / (1 + r^2 / r0^2)
//   with r the jitter length and r0 = 5 px, so jittery points have lower confidence. Keypoints
//   are dropped independently at missing_keypoint_rate; with absent_stretches, each animal
//   disappears about every 90 s for 0.5-8 s (its rows stay, with NaN values and P = 0). The
//   observation never feeds back into the motion, so missing_keypoint_rate and absent_stretches
//   change only which values are NaN, never the trajectories or the other values.
// - Every spatial scale (speeds, distances, jitter) is proportional to body_length / 60. With the
//   defaults (60 px, 30 fps) approachers run at about 9.5 px/frame and fleeing animals at about
//   8 px/frame, so approach-avoidance's defaults (200 px, 5 px/frame, cos 0.8/0.5, 5 of 10
//   frames) detect the episodes.
// - Randomness: xoshiro256** streams keyed by (seed, sequence_index, animal, purpose) and our own
//   normal/exp/log/sin/cos/atan2 (no <random> distributions, no libm), so the bytes are the same
//   on every IEEE-754 machine and compiler.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mosaic/table.hpp"

namespace mosaic {

struct SimulationOptions {
  /// Number of sequences of a simulated dataset (used by callers that build a dataset; a single
  /// simulate_sequence call does not need it).
  int sequences = 4;
  int animals = 3;
  /// Keypoints per animal (>= 1); see simulated_keypoint_names for the layout.
  int keypoints = 7;
  int64_t frames = 9000;
  double fps = 30.0;
  uint64_t seed = 0;
  /// Arena side length in pixels; animals stay inside [0, arena]. At least 3 body lengths.
  double arena = 1000.0;
  /// Fraction of keypoint observations dropped at random (NaN, P = 0).
  double missing_keypoint_rate = 0.01;
  /// Whether animals are occasionally absent for a stretch of frames (rows with NaN values).
  bool absent_stretches = true;
  /// Nose-to-tail-base length of an average animal in pixels (individuals vary by +-8%). All
  /// spatial scales of the model are proportional to it, so it acts as a zoom.
  double body_length = 60.0;
};

/// \brief Simulate sequence `sequence_index` (0-based) of a dataset: canonical columns
/// frame,time,id,X,Y,ANGLE,poseX0,poseY0,poseP0,... sorted by frame then id: frame int64
/// 0..frames-1, time = frame / fps, id int64 0..animals-1, the rest float64. X, Y are the mean of
/// the present keypoints; ANGLE = atan2 from the tail base to the neck (simulated_heading_keypoints),
/// NaN when either is missing. Throws InputError for invalid options (naming the field).
/// Different sequence indices give independent sequences.
Table simulate_sequence(const SimulationOptions& options, int sequence_index);

/// \brief The simulator's ground truth per output row (same order as the table): each animal's
/// behaviour mode (0 explore, 1 rest, 2 approach, 3 flee, 4 investigate) and its partner (the
/// approached animal for approach, the approacher for flee, -1 otherwise). Used to write
/// deterministic behaviour labels for the demo data.
struct SimulatedBehaviour {
  std::vector<int8_t> mode;
  std::vector<int64_t> partner;
};

/// \brief simulate_sequence, also filling `truth` (the table is the same bytes).
Table simulate_sequence(const SimulationOptions& options, int sequence_index, SimulatedBehaviour& truth);

class Dataset;

/// \brief Write deterministic pair behaviour labels for the sequences `simulate` wrote with the
/// same options (sequence names simulated_sequence_name(0..sequences-1) in `group`): for every
/// frame and pair a < b, 2 "avoid" when one flees from the other, else 1 "approach" when one
/// approaches the other, else 0 "other". Written to labels/<kind>/ as individual_pair_v1 npz
/// files with their index rows. Returns the number of sequences written.
int write_simulated_behavior_labels(const Dataset& dataset, const SimulationOptions& options,
                                    const std::string& group, const std::string& kind = "behavior");

/// \brief The name of sequence `i`: "seq001" for i = 0, "seq002" for i = 1, ...
std::string simulated_sequence_name(int sequence_index);

/// The back -> front keypoint pair that defines ANGLE.
struct HeadingKeypoints {
  int back = 0;   ///< tail base
  int front = 0;  ///< neck (the nose when K = 2)
};

/// \brief The ANGLE keypoint pair for K keypoints: back = K - 1 (tail base), front =
/// min(3, K - 2) (neck); for K = 7 that is (6, 3), pair-egocentric's defaults. No pair for K = 1
/// (ANGLE is then always NaN).
std::optional<HeadingKeypoints> simulated_heading_keypoints(int keypoints);

/// \brief Names of the simulated keypoints, in column order. The layout rule:
/// - K = 1: "center".
/// - K >= 2: index 0 "nose", index n = min(3, K - 2) "neck" (for K = 2 the nose is also the
///   front point), index K - 1 "tail_base". Between nose and neck: "left_ear", "right_ear"
///   when n = 3, "head" when n = 2. Between neck and tail base (M = K - 2 - n points): "spine"
///   first when M is odd, then left/right pairs spread over the back half ("left_hip",
///   "right_hip" when there is one pair, else "left_back1", "right_back1", ...).
/// So K = 7 is CalMS21's order: nose, left_ear, right_ear, neck, left_hip, right_hip, tail_base.
std::vector<std::string> simulated_keypoint_names(int keypoints);

}  // namespace mosaic
