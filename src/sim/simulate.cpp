// simulate.cpp: the multi-animal track simulator (model described in include/mosaic/simulate.hpp).
//
// One pass over the frames; per frame every animal first decides (behaviour modes, from the
// positions at the start of the frame), then moves, then is observed straight into the output
// columns (row = frame * animals + id, which is the canonical frame-then-id order). No per-row
// allocation, no threads (callers run sequences in parallel), no <random> distributions and no
// libm (see sim/det_math.hpp and sim/rng.hpp), so the bytes are the same everywhere.

// No FMA contraction in this file (why: sim/det_math.hpp). For GCC this must come before any
// function definition; Clang gets the standard pragma from det_math.hpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "mosaic/simulate.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "mosaic/errors.hpp"
#include "sim/det_math.hpp"
#include "sim/rng.hpp"

namespace mosaic {
namespace {

using sim::det_atan2;
using sim::det_exp;
using sim::det_sincos;
using sim::Rng;
using sim::wrap_angle_pi;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------------------------
// Model constants. Spatial ones are for a 60 px body and scale with body_length / 60; times are
// in seconds, so the process does not depend on the frame rate.
constexpr double kReferenceBodyLength = 60.0;

enum class Mode : uint8_t { kExplore = 0, kRest, kApproach, kFlee, kInvestigate };
constexpr std::size_t kModeCount = 5;

struct ModeDynamics {
  double speed_mean;  // px/s, OU mean
  double speed_sd;    // px/s, OU stationary standard deviation
  double speed_tau;   // s, OU relaxation time
  double turn_sd;     // rad/s, stationary sd of the turning rate
  double turn_tau;    // s
  double head_sd;     // rad, stationary sd of the head yaw
};

// Indexed by Mode. Approach and flee are fast (9.5 and 8 px/frame at 30 fps) so that episodes
// pass approach-avoidance's 5 px/frame thresholds; they turn little on their own because they
// steer toward (away from) the partner.
constexpr std::array<ModeDynamics, kModeCount> kModeDynamics = {{
    {110.0, 45.0, 1.2, 1.4, 0.6, 0.12},   // explore
    {0.0, 4.0, 0.4, 0.5, 0.8, 0.10},      // rest
    {285.0, 20.0, 0.35, 0.4, 0.3, 0.05},  // approach
    {240.0, 20.0, 0.25, 0.5, 0.3, 0.05},  // flee
    {12.0, 8.0, 0.3, 0.8, 0.5, 0.30},     // investigate (sniffing: slow, head moves a lot)
}};

constexpr double kMaxSpeed = 450.0;            // px/s
constexpr double kSpeedFactorMin = 0.8;        // per-animal explore speed factor
constexpr double kSpeedFactorMax = 1.25;
constexpr double kSizeMin = 0.92;              // per-animal body size factor
constexpr double kSizeMax = 1.08;
constexpr double kHeadYawTau = 0.4;            // s
constexpr double kHeadYawMax = 0.6;            // rad
constexpr double kHeadingNoise = 0.15;         // rad / sqrt(s), body heading diffusion
constexpr double kBodyFollowRate = 12.0;       // 1/s, body heading -> motion direction at speed
constexpr double kMotionFollowRate = 3.0;      // 1/s, motion direction -> body heading at rest
constexpr double kFollowHalfSpeed = 30.0;      // px/s where both pulls are equal
constexpr double kChaseSteerRate = 7.0;        // 1/s
constexpr double kFleeSteerRate = 7.0;         // 1/s
constexpr double kWallSteerRate = 5.0;         // 1/s
constexpr double kChaseWallWeight = 0.5;       // chasers care little about walls ...
constexpr double kWallWeight = 3.0;            // ... everyone else turns away early
constexpr double kWallMarginBodies = 2.0;      // soft wall zone, body lengths
constexpr double kHardMarginBodies = 0.75;     // body centre never closer to a wall
constexpr double kSeparationBodies = 0.8;      // bodies closer than this are pushed apart
constexpr double kContactBodies = 0.9;         // an approach ends at this distance
constexpr double kInitialSeparationBodies = 1.5;

constexpr double kRestEvery = 20.0;            // s, mean time between rests while exploring
constexpr double kRestMin = 1.0;               // s
constexpr double kRestMeanExtra = 5.0;         // s, exponential part of a rest
constexpr double kInitialRestProbability = 0.2;
constexpr double kApproachEvery = 25.0;        // s, mean time between approaches while exploring
constexpr double kApproachMin = 5.0;           // s, longest chase before giving up: U(min, max)
constexpr double kApproachMax = 9.0;
constexpr double kFleeProbability = 0.75;      // the target flees in this fraction of approaches
constexpr double kFleeRadiusMin = 120.0;       // px: the target flees when the approacher is closer
constexpr double kFleeRadiusMax = 190.0;
constexpr double kFleeMin = 2.0;               // s
constexpr double kFleeMax = 4.0;
constexpr double kGiveUpDistance = 400.0;      // px: a chaser stops when a fleeing target is this far
constexpr double kInvestigateMin = 1.0;        // s
constexpr double kInvestigateMax = 3.0;
constexpr double kAbsentEvery = 90.0;          // s, mean time between absences
constexpr double kAbsentMin = 0.5;             // s
constexpr double kAbsentMax = 8.0;

constexpr double kJitterBase = 1.0;            // px, keypoint jitter sd at rest
constexpr double kJitterSpeed = 600.0;         // px/s: jitter doubles at this speed (motion blur)
constexpr double kJitterLogSd = 0.5;           // log-normal spread of the per-point jitter scale
constexpr double kConfidenceRadius = 5.0;      // px: P halves at this jitter length
constexpr double kConfidenceSpread = 0.05;     // P is multiplied by U(1 - spread, 1]

// Purposes of the random streams of one animal: keeping them apart is what makes the motion
// independent of the observation options.
enum class Stream : uint64_t { kMotion = 1, kObservation = 2, kPresence = 3 };

// ---------------------------------------------------------------------------------------------
// Skeleton layout (simulated_keypoint_names documents the rule).

struct KeypointSpec {
  std::string name;
  double forward;  // body lengths, along the heading
  double left;     // body lengths, to the animal's left
  double jitter;   // relative jitter (nose and tail base are harder to place)
  bool head;       // in front of the neck: yaws with the head
};

std::vector<KeypointSpec> keypoint_layout(int keypoints) {
  std::vector<KeypointSpec> out;
  out.reserve(static_cast<std::size_t>(std::max(keypoints, 0)));
  if (keypoints == 1) {
    out.push_back({"center", 0.0, 0.0, 1.0, false});
    return out;
  }
  const int neck = std::min(3, keypoints - 2);
  out.push_back({"nose", 0.5, 0.0, 1.25, neck > 0});
  if (neck == 3) {
    out.push_back({"left_ear", 0.30, 0.09, 1.1, true});
    out.push_back({"right_ear", 0.30, -0.09, 1.1, true});
  } else if (neck == 2) {
    out.push_back({"head", 0.36, 0.0, 1.0, true});
  }
  if (neck > 0) out.push_back({"neck", 0.22, 0.0, 1.0, false});
  const int middle = keypoints - 2 - neck;
  if (middle % 2 == 1) out.push_back({"spine", -0.05, 0.0, 1.0, false});
  const int pairs = middle / 2;
  for (int pair = 0; pair < pairs; ++pair) {
    // One pair sits at -0.25 (CalMS21's hips); more pairs spread over [-0.49, 0.05).
    const double forward = 0.05 - 0.6 * (pair + 1) / (pairs + 1);
    const std::string suffix = pairs == 1 ? "hip" : "back" + std::to_string(pair + 1);
    out.push_back({"left_" + suffix, forward, 0.11, 1.0, false});
    out.push_back({"right_" + suffix, forward, -0.11, 1.0, false});
  }
  out.push_back({"tail_base", -0.5, 0.0, 1.25, false});
  return out;
}

// ---------------------------------------------------------------------------------------------

[[noreturn]] void invalid(const std::string& field, const std::string& expected,
                          const std::string& got) {
  throw InputError("SimulationOptions." + field + ": expected " + expected + ", got " + got);
}

// Shortest round-trip form, so messages say 100 rather than 100.000000.
std::string show(double value) { return fmt::format("{}", value); }

void validate(const SimulationOptions& o, int sequence_index) {
  if (sequence_index < 0) {
    throw InputError("simulate_sequence: sequence_index: expected >= 0, got " +
                     std::to_string(sequence_index));
  }
  if (o.animals < 1) invalid("animals", ">= 1", std::to_string(o.animals));
  if (o.keypoints < 1) invalid("keypoints", ">= 1", std::to_string(o.keypoints));
  if (o.frames < 0) invalid("frames", ">= 0", std::to_string(o.frames));
  if (!(std::isfinite(o.fps) && o.fps > 0.0)) invalid("fps", "a finite value > 0", show(o.fps));
  if (!(std::isfinite(o.body_length) && o.body_length > 0.0)) {
    invalid("body_length", "a finite value > 0", show(o.body_length));
  }
  if (!(std::isfinite(o.arena) && o.arena >= 3.0 * o.body_length)) {
    invalid("arena", "a finite value >= 3 body lengths (" + show(3.0 * o.body_length) + ")",
            show(o.arena));
  }
  if (!(o.missing_keypoint_rate >= 0.0 && o.missing_keypoint_rate <= 1.0)) {
    invalid("missing_keypoint_rate", "a value in [0, 1]", show(o.missing_keypoint_rate));
  }
  constexpr int64_t kMaxRows = int64_t{1} << 40;
  if (o.frames > kMaxRows / o.animals) {
    invalid("frames", "frames * animals <= 2^40",
            std::to_string(o.frames) + " frames x " + std::to_string(o.animals) + " animals");
  }
}

struct Animal {
  // Kinematics: body centre (px), motion direction phi, speed (px/s), turning rate omega
  // (rad/s), body heading theta, head yaw relative to the body.
  double x = 0.0;
  double y = 0.0;
  double phi = 0.0;
  double cos_phi = 1.0;
  double sin_phi = 0.0;
  double speed = 0.0;
  double omega = 0.0;
  double theta = 0.0;
  double head_yaw = 0.0;
  // Behaviour.
  Mode mode = Mode::kExplore;
  int64_t timer = 0;      // frames left in a timed mode
  int partner = -1;       // approach: the target; flee: the approacher
  int pursued_by = -1;    // who is approaching this animal
  bool will_flee = false;  // approach: the target flees once closer than flee_radius
  double flee_radius = 0.0;
  // Traits.
  double speed_factor = 1.0;
  double size = 1.0;
  // Observation.
  bool present = true;
  int64_t absent_left = 0;
  Rng motion;
  Rng observation;
  Rng presence;
};

// Exact discretisation of an OU process over one frame: x' = m + (x - m) a + b N.
struct OuStep {
  double a = 0.0;
  double b = 0.0;
};

OuStep ou_step(double sd, double tau, double dt) {
  const double a = det_exp(-dt / tau);
  return {a, sd * std::sqrt(1.0 - a * a)};
}

// Probability of an event with mean waiting time `every` within one frame.
double per_frame(double every, double dt) { return 1.0 - det_exp(-dt / every); }

class Simulator {
 public:
  Simulator(const SimulationOptions& options, int sequence_index)
      : opt_(options),
        animals_count_(options.animals),
        keypoints_(options.keypoints),
        dt_(1.0 / options.fps),
        scale_(options.body_length / kReferenceBodyLength) {
    const double body = options.body_length;
    hard_margin_ = kHardMarginBodies * body;
    wall_margin_ = std::min(kWallMarginBodies * body, 0.25 * options.arena);
    separation_ = kSeparationBodies * body;
    contact_ = kContactBodies * body;
    for (std::size_t m = 0; m < kModeCount; ++m) {
      const ModeDynamics& d = kModeDynamics[m];
      speed_mean_[m] = d.speed_mean * scale_;
      speed_ou_[m] = ou_step(d.speed_sd * scale_, d.speed_tau, dt_);
      turn_ou_[m] = ou_step(d.turn_sd, d.turn_tau, dt_);
      head_ou_[m] = ou_step(d.head_sd, kHeadYawTau, dt_);
    }
    chase_gain_ = 1.0 - det_exp(-kChaseSteerRate * dt_);
    flee_gain_ = 1.0 - det_exp(-kFleeSteerRate * dt_);
    wall_gain_ = 1.0 - det_exp(-kWallSteerRate * dt_);
    heading_noise_ = kHeadingNoise * std::sqrt(dt_);
    p_rest_ = per_frame(kRestEvery, dt_);
    p_approach_ = per_frame(kApproachEvery, dt_);
    p_absent_ = per_frame(kAbsentEvery, dt_);
    build_layout();

    const uint64_t sequence_key =
        sim::derive_key(options.seed, static_cast<uint64_t>(sequence_index));
    animals_.resize(static_cast<std::size_t>(animals_count_));
    for (int i = 0; i < animals_count_; ++i) {
      const uint64_t animal_key = sim::derive_key(sequence_key, static_cast<uint64_t>(i));
      Animal& a = animals_[static_cast<std::size_t>(i)];
      a.motion = Rng(sim::derive_key(animal_key, static_cast<uint64_t>(Stream::kMotion)));
      a.observation =
          Rng(sim::derive_key(animal_key, static_cast<uint64_t>(Stream::kObservation)));
      a.presence = Rng(sim::derive_key(animal_key, static_cast<uint64_t>(Stream::kPresence)));
    }
    snapshot_x_.resize(animals_.size());
    snapshot_y_.resize(animals_.size());
  }

  void record_truth(SimulatedBehaviour* truth) { truth_ = truth; }

  Table run() {
    const int64_t frames = opt_.frames;
    const auto rows = static_cast<std::size_t>(frames) * static_cast<std::size_t>(animals_count_);
    std::vector<int64_t> frame_col(rows);
    std::vector<double> time_col(rows);
    std::vector<int64_t> id_col(rows);
    std::vector<double> x_col(rows);
    std::vector<double> y_col(rows);
    std::vector<double> angle_col(rows);
    const auto k_count = static_cast<std::size_t>(keypoints_);
    std::vector<std::vector<double>> pose(3 * k_count, std::vector<double>(rows));
    for (std::size_t k = 0; k < k_count; ++k) {
      pose_x_.push_back(pose[3 * k].data());
      pose_y_.push_back(pose[3 * k + 1].data());
      pose_p_.push_back(pose[3 * k + 2].data());
    }
    x_out_ = x_col.data();
    y_out_ = y_col.data();
    angle_out_ = angle_col.data();

    initialise();
    std::size_t row = 0;
    for (int64_t frame = 0; frame < frames; ++frame) {
      if (frame > 0) step();
      const double time = static_cast<double>(frame) / opt_.fps;
      for (int i = 0; i < animals_count_; ++i, ++row) {
        frame_col[row] = frame;
        time_col[row] = time;
        id_col[row] = i;
        observe(animals_[static_cast<std::size_t>(i)], row);
        if (truth_) {
          const Animal& a = animals_[static_cast<std::size_t>(i)];
          truth_->mode.push_back(static_cast<int8_t>(a.mode));
          const bool paired = a.mode == Mode::kApproach || a.mode == Mode::kFlee;
          truth_->partner.push_back(paired ? a.partner : -1);
        }
      }
    }

    Table table;
    table.add_column("frame", Column::from_int64(std::move(frame_col)));
    table.add_column("time", Column::from_float64(std::move(time_col)));
    table.add_column("id", Column::from_int64(std::move(id_col)));
    table.add_column("X", Column::from_float64(std::move(x_col)));
    table.add_column("Y", Column::from_float64(std::move(y_col)));
    table.add_column("ANGLE", Column::from_float64(std::move(angle_col)));
    for (std::size_t k = 0; k < k_count; ++k) {
      const std::string index = std::to_string(k);
      table.add_column("poseX" + index, Column::from_float64(std::move(pose[3 * k])));
      table.add_column("poseY" + index, Column::from_float64(std::move(pose[3 * k + 1])));
      table.add_column("poseP" + index, Column::from_float64(std::move(pose[3 * k + 2])));
    }
    return table;
  }

 private:
  Animal& animal(int i) { return animals_[static_cast<std::size_t>(i)]; }

  int64_t frames_for(double seconds) const {
    return std::max<int64_t>(1, static_cast<int64_t>(std::floor(seconds * opt_.fps + 0.5)));
  }

  double clamp_inside(double v) const {
    return std::clamp(v, hard_margin_, opt_.arena - hard_margin_);
  }

  void build_layout() {
    const std::vector<KeypointSpec> layout = keypoint_layout(keypoints_);
    // Centre the skeleton on the simulated body point, so that X, Y (the keypoint mean) track it.
    double mean_forward = 0.0;
    double mean_left = 0.0;
    for (const KeypointSpec& spec : layout) {
      mean_forward += spec.forward;
      mean_left += spec.left;
    }
    mean_forward /= static_cast<double>(layout.size());
    mean_left /= static_cast<double>(layout.size());
    const double body = opt_.body_length;
    for (const KeypointSpec& spec : layout) {
      forward_.push_back((spec.forward - mean_forward) * body);
      left_.push_back((spec.left - mean_left) * body);
      jitter_.push_back(spec.jitter * kJitterBase * scale_);
      head_.push_back(spec.head ? 1 : 0);
    }
    if (const auto pair = simulated_heading_keypoints(keypoints_)) {
      back_ = pair->back;
      front_ = pair->front;
      pivot_forward_ = forward_[static_cast<std::size_t>(front_)];
      pivot_left_ = left_[static_cast<std::size_t>(front_)];
    }
  }

  void initialise() {
    const double lo = opt_.arena > 4.0 * wall_margin_ ? wall_margin_ : hard_margin_;
    const double hi = opt_.arena - lo;
    const double min_distance = kInitialSeparationBodies * opt_.body_length;
    for (int i = 0; i < animals_count_; ++i) {
      Animal& a = animal(i);
      Rng& rng = a.motion;
      a.speed_factor = rng.uniform(kSpeedFactorMin, kSpeedFactorMax);
      a.size = rng.uniform(kSizeMin, kSizeMax);
      // Rejection sampling for a spread-out start; give up on crowded arenas after a while.
      for (int attempt = 0; attempt < 200; ++attempt) {
        a.x = rng.uniform(lo, hi);
        a.y = rng.uniform(lo, hi);
        bool clear = true;
        for (int j = 0; j < i && clear; ++j) {
          const double dx = animal(j).x - a.x;
          const double dy = animal(j).y - a.y;
          clear = dx * dx + dy * dy >= min_distance * min_distance;
        }
        if (clear) break;
      }
      a.theta = rng.uniform(-sim::kPi, sim::kPi);
      a.phi = a.theta;
      det_sincos(a.phi, a.sin_phi, a.cos_phi);
      if (rng.uniform() < kInitialRestProbability) {
        a.mode = Mode::kRest;
        a.timer = frames_for(kRestMin + rng.exponential(kRestMeanExtra));
        a.speed = 0.0;
      } else {
        a.mode = Mode::kExplore;
        a.speed = speed_mean_[0] * a.speed_factor * rng.uniform(0.5, 1.5);
      }
    }
  }

  void step() {
    for (std::size_t i = 0; i < animals_.size(); ++i) {
      snapshot_x_[i] = animals_[i].x;
      snapshot_y_[i] = animals_[i].y;
    }
    for (int i = 0; i < animals_count_; ++i) decide(i);
    for (int i = 0; i < animals_count_; ++i) move(animal(i));
    if (animals_count_ > 1) separate();
    if (opt_.absent_stretches) {
      for (Animal& a : animals_) update_presence(a);
    }
  }

  double snapshot_distance(int i, int j) const {
    const double dx = snapshot_x_[static_cast<std::size_t>(j)] - snapshot_x_[static_cast<std::size_t>(i)];
    const double dy = snapshot_y_[static_cast<std::size_t>(j)] - snapshot_y_[static_cast<std::size_t>(i)];
    return std::sqrt(dx * dx + dy * dy);
  }

  void decide(int i) {
    Animal& a = animal(i);
    switch (a.mode) {
      case Mode::kRest:
      case Mode::kInvestigate:
        if (--a.timer <= 0) a.mode = Mode::kExplore;
        break;
      case Mode::kExplore: {
        const double u = a.motion.uniform();
        if (u < p_rest_) {
          a.mode = Mode::kRest;
          a.timer = frames_for(kRestMin + a.motion.exponential(kRestMeanExtra));
        } else if (u < p_rest_ + p_approach_ && a.pursued_by < 0) {
          start_approach(i);
        }
        break;
      }
      case Mode::kApproach: {
        Animal& target = animal(a.partner);
        const double distance = snapshot_distance(i, a.partner);
        --a.timer;
        if (distance < contact_) {
          stop_approach(a);
          a.mode = Mode::kInvestigate;
          a.timer = frames_for(a.motion.uniform(kInvestigateMin, kInvestigateMax));
        } else if (a.timer <= 0 ||
                   (target.mode == Mode::kFlee && distance > kGiveUpDistance * scale_)) {
          stop_approach(a);
          a.mode = Mode::kExplore;
        } else if (a.will_flee && target.mode != Mode::kFlee && distance < a.flee_radius) {
          target.mode = Mode::kFlee;
          target.partner = i;
          target.timer = frames_for(a.motion.uniform(kFleeMin, kFleeMax));
        }
        break;
      }
      case Mode::kFlee:
        if (--a.timer <= 0) {
          a.mode = Mode::kExplore;
          a.partner = -1;
        }
        break;
    }
  }

  // Approach the nearest animal that is neither approaching, fleeing nor already approached.
  void start_approach(int i) {
    int best = -1;
    double best_distance = std::numeric_limits<double>::infinity();
    for (int j = 0; j < animals_count_; ++j) {
      const Animal& b = animal(j);
      if (j == i || b.mode == Mode::kApproach || b.mode == Mode::kFlee || b.pursued_by >= 0) {
        continue;
      }
      const double distance = snapshot_distance(i, j);
      if (distance < best_distance) {
        best = j;
        best_distance = distance;
      }
    }
    if (best < 0) return;
    Animal& a = animal(i);
    a.mode = Mode::kApproach;
    a.partner = best;
    a.timer = frames_for(a.motion.uniform(kApproachMin, kApproachMax));
    a.will_flee = a.motion.uniform() < kFleeProbability;
    a.flee_radius = a.motion.uniform(kFleeRadiusMin, kFleeRadiusMax) * scale_;
    animal(best).pursued_by = i;
  }

  void stop_approach(Animal& a) {
    animal(a.partner).pursued_by = -1;
    a.partner = -1;
  }

  // Inward push of the soft walls: 0 outside the margin, growing quadratically to the wall.
  double wall_push(double position) const {
    double push = 0.0;
    if (position < wall_margin_) {
      const double depth = (wall_margin_ - position) / wall_margin_;
      push += depth * depth;
    }
    const double far = opt_.arena - position;
    if (far < wall_margin_) {
      const double depth = (wall_margin_ - far) / wall_margin_;
      push -= depth * depth;
    }
    return push;
  }

  void move(Animal& a) {
    const auto m = static_cast<std::size_t>(a.mode);
    Rng& rng = a.motion;
    const double speed_mean = speed_mean_[m] * (a.mode == Mode::kExplore ? a.speed_factor : 1.0);
    a.speed = speed_mean + (a.speed - speed_mean) * speed_ou_[m].a + speed_ou_[m].b * rng.normal();
    // Reflect at 0 rather than clip, so resting animals do not pile up at exactly zero speed.
    a.speed = std::min(std::fabs(a.speed), kMaxSpeed * scale_);
    a.omega = a.omega * turn_ou_[m].a + turn_ou_[m].b * rng.normal();
    double turn = a.omega * dt_;

    // Steering: toward the target, away from the approacher, away from walls.
    const double wall_x = wall_push(a.x);
    const double wall_y = wall_push(a.y);
    double want_x = 0.0;
    double want_y = 0.0;
    double gain = 0.0;
    if (a.mode == Mode::kApproach || a.mode == Mode::kFlee) {
      const auto p = static_cast<std::size_t>(a.partner);
      double dx = snapshot_x_[p] - a.x;
      double dy = snapshot_y_[p] - a.y;
      const double distance = std::sqrt(dx * dx + dy * dy);
      if (distance > 0.0) {
        const double sign = a.mode == Mode::kApproach ? 1.0 : -1.0;
        const double wall_weight = a.mode == Mode::kApproach ? kChaseWallWeight : kWallWeight;
        want_x = sign * dx / distance + wall_weight * wall_x;
        want_y = sign * dy / distance + wall_weight * wall_y;
        gain = a.mode == Mode::kApproach ? chase_gain_ : flee_gain_;
      }
    } else if (wall_x != 0.0 || wall_y != 0.0) {
      want_x = a.cos_phi + kWallWeight * wall_x;
      want_y = a.sin_phi + kWallWeight * wall_y;
      gain = wall_gain_;
    }
    if (gain > 0.0 && (want_x != 0.0 || want_y != 0.0)) {
      turn += gain * wrap_angle_pi(det_atan2(want_y, want_x) - a.phi);
    }

    // Animals move the way they face: at speed the body turns toward the motion, at rest the
    // motion turns toward the body.
    const double moving = a.speed / (a.speed + kFollowHalfSpeed * scale_);
    const double motion_pull = 1.0 - det_exp(-kMotionFollowRate * (1.0 - moving) * dt_);
    const double body_pull = 1.0 - det_exp(-kBodyFollowRate * moving * dt_);
    a.phi = wrap_angle_pi(a.phi + turn + motion_pull * wrap_angle_pi(a.theta - a.phi));
    a.theta = wrap_angle_pi(a.theta + body_pull * wrap_angle_pi(a.phi - a.theta) +
                            heading_noise_ * rng.normal());
    a.head_yaw = std::clamp(a.head_yaw * head_ou_[m].a + head_ou_[m].b * rng.normal(),
                            -kHeadYawMax, kHeadYawMax);

    det_sincos(a.phi, a.sin_phi, a.cos_phi);
    const double distance = a.speed * dt_;
    a.x = clamp_inside(a.x + distance * a.cos_phi);
    a.y = clamp_inside(a.y + distance * a.sin_phi);
  }

  // Push overlapping bodies apart symmetrically (in index order, so deterministically).
  void separate() {
    const double min_sq = separation_ * separation_;
    for (int i = 0; i < animals_count_; ++i) {
      Animal& a = animal(i);
      for (int j = i + 1; j < animals_count_; ++j) {
        Animal& b = animal(j);
        const double dx = b.x - a.x;
        const double dy = b.y - a.y;
        const double d_sq = dx * dx + dy * dy;
        if (d_sq >= min_sq) continue;
        const double d = std::sqrt(d_sq);
        // Exactly on top of each other: separate along x.
        const double ux = d > 0.0 ? dx / d : 1.0;
        const double uy = d > 0.0 ? dy / d : 0.0;
        const double half_overlap = 0.5 * (separation_ - d);
        a.x = clamp_inside(a.x - ux * half_overlap);
        a.y = clamp_inside(a.y - uy * half_overlap);
        b.x = clamp_inside(b.x + ux * half_overlap);
        b.y = clamp_inside(b.y + uy * half_overlap);
      }
    }
  }

  void update_presence(Animal& a) {
    if (a.present) {
      if (a.presence.uniform() < p_absent_) {
        a.present = false;
        a.absent_left = frames_for(a.presence.uniform(kAbsentMin, kAbsentMax));
      }
    } else if (--a.absent_left <= 0) {
      a.present = true;
    }
  }

  // Write one row: keypoints with jitter, confidences, missing points, X/Y and ANGLE. The
  // random draws are the same whatever the missing rate or presence, so the options change only
  // which values are NaN.
  void observe(Animal& a, std::size_t row) {
    Rng& rng = a.observation;
    double sin_theta = 0.0;
    double cos_theta = 1.0;
    det_sincos(a.theta, sin_theta, cos_theta);
    double sin_yaw = 0.0;
    double cos_yaw = 1.0;
    det_sincos(a.head_yaw, sin_yaw, cos_yaw);
    const double blur = 1.0 + a.speed / (kJitterSpeed * scale_);
    const double r0 = kConfidenceRadius * scale_;
    const double inv_r0_sq = 1.0 / (r0 * r0);
    const double rate = opt_.missing_keypoint_rate;
    const double arena = opt_.arena;
    double sum_x = 0.0;
    double sum_y = 0.0;
    int present = 0;
    for (std::size_t k = 0; k < forward_.size(); ++k) {
      double forward = forward_[k];
      double left = left_[k];
      if (head_[k] != 0) {  // rotate the head points about the neck
        const double rel_forward = forward - pivot_forward_;
        const double rel_left = left - pivot_left_;
        forward = pivot_forward_ + rel_forward * cos_yaw - rel_left * sin_yaw;
        left = pivot_left_ + rel_forward * sin_yaw + rel_left * cos_yaw;
      }
      forward *= a.size;
      left *= a.size;
      // The animal's left in image coordinates (y down, seen from above) is (sin, -cos).
      const double true_x = a.x + forward * cos_theta + left * sin_theta;
      const double true_y = a.y + forward * sin_theta - left * cos_theta;
      const double sigma = jitter_[k] * blur * det_exp(kJitterLogSd * rng.normal());
      const double error_x = sigma * rng.normal();
      const double error_y = sigma * rng.normal();
      double u_missing = 0.0;
      double u_confidence = 0.0;
      rng.uniform_pair(u_missing, u_confidence);
      if (!a.present || u_missing < rate) {
        pose_x_[k][row] = kNaN;
        pose_y_[k][row] = kNaN;
        pose_p_[k][row] = 0.0;
        continue;
      }
      // The tracker cannot report points outside the image.
      const double px = std::clamp(true_x + error_x, 0.0, arena);
      const double py = std::clamp(true_y + error_y, 0.0, arena);
      pose_x_[k][row] = px;
      pose_y_[k][row] = py;
      pose_p_[k][row] = (1.0 - kConfidenceSpread * u_confidence) /
                        (1.0 + (error_x * error_x + error_y * error_y) * inv_r0_sq);
      sum_x += px;
      sum_y += py;
      ++present;
    }
    if (present > 0) {
      x_out_[row] = sum_x / present;
      y_out_[row] = sum_y / present;
    } else {
      x_out_[row] = kNaN;
      y_out_[row] = kNaN;
    }
    double angle = kNaN;
    if (back_ != front_) {
      const auto b = static_cast<std::size_t>(back_);
      const auto f = static_cast<std::size_t>(front_);
      const double dx = pose_x_[f][row] - pose_x_[b][row];
      const double dy = pose_y_[f][row] - pose_y_[b][row];
      if (!std::isnan(dx) && !std::isnan(dy)) angle = det_atan2(dy, dx);
    }
    angle_out_[row] = angle;
  }

  const SimulationOptions opt_;
  const int animals_count_;
  const int keypoints_;
  const double dt_;
  const double scale_;
  double hard_margin_ = 0.0;
  double wall_margin_ = 0.0;
  double separation_ = 0.0;
  double contact_ = 0.0;
  SimulatedBehaviour* truth_ = nullptr;  // ground truth per row, when asked for
  std::array<double, kModeCount> speed_mean_{};
  std::array<OuStep, kModeCount> speed_ou_{};
  std::array<OuStep, kModeCount> turn_ou_{};
  std::array<OuStep, kModeCount> head_ou_{};
  double chase_gain_ = 0.0;
  double flee_gain_ = 0.0;
  double wall_gain_ = 0.0;
  double heading_noise_ = 0.0;
  double p_rest_ = 0.0;
  double p_approach_ = 0.0;
  double p_absent_ = 0.0;

  // Skeleton, relative to the body centre, in px for a size-1 animal.
  std::vector<double> forward_;
  std::vector<double> left_;
  std::vector<double> jitter_;
  std::vector<uint8_t> head_;
  int back_ = 0;
  int front_ = 0;
  double pivot_forward_ = 0.0;
  double pivot_left_ = 0.0;

  std::vector<Animal> animals_;
  std::vector<double> snapshot_x_;
  std::vector<double> snapshot_y_;

  std::vector<double*> pose_x_;
  std::vector<double*> pose_y_;
  std::vector<double*> pose_p_;
  double* x_out_ = nullptr;
  double* y_out_ = nullptr;
  double* angle_out_ = nullptr;
};

}  // namespace

Table simulate_sequence(const SimulationOptions& options, int sequence_index) {
  validate(options, sequence_index);
  return Simulator(options, sequence_index).run();
}

Table simulate_sequence(const SimulationOptions& options, int sequence_index, SimulatedBehaviour& truth) {
  validate(options, sequence_index);
  truth = SimulatedBehaviour{};
  Simulator sim(options, sequence_index);
  sim.record_truth(&truth);
  return sim.run();
}

std::string simulated_sequence_name(int sequence_index) {
  if (sequence_index < 0) {
    throw InputError("simulated_sequence_name: expected a sequence index >= 0, got " +
                     std::to_string(sequence_index));
  }
  std::string digits = std::to_string(sequence_index + 1);
  if (digits.size() < 3) digits.insert(0, 3 - digits.size(), '0');
  return "seq" + digits;
}

std::optional<HeadingKeypoints> simulated_heading_keypoints(int keypoints) {
  if (keypoints < 2) return std::nullopt;
  return HeadingKeypoints{keypoints - 1, std::min(3, keypoints - 2)};
}

std::vector<std::string> simulated_keypoint_names(int keypoints) {
  if (keypoints < 1) {
    throw InputError("simulated_keypoint_names: expected keypoints >= 1, got " +
                     std::to_string(keypoints));
  }
  std::vector<std::string> names;
  for (KeypointSpec& spec : keypoint_layout(keypoints)) names.push_back(std::move(spec.name));
  return names;
}

}  // namespace mosaic
