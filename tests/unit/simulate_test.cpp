// Tests of the track simulator: determinism, the canonical table contract, the skeleton, the
// missing-data options, plausible motion, and approach/avoidance episodes that
// approach-avoidance's defaults detect. Also the bit-reproducible math and random numbers it
// is built on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "mosaic/errors.hpp"
#include "mosaic/simulate.hpp"
#include "mosaic/table.hpp"
#include "sim/det_math.hpp"
#include "sim/rng.hpp"

namespace mosaic {
namespace {

SimulationOptions small_options(uint64_t seed = 7) {
  SimulationOptions o;
  o.animals = 3;
  o.keypoints = 7;
  o.frames = 3000;
  o.fps = 30.0;
  o.seed = seed;
  return o;
}

std::string px(int k) { return "poseX" + std::to_string(k); }
std::string py(int k) { return "poseY" + std::to_string(k); }
std::string pp(int k) { return "poseP" + std::to_string(k); }

// FNV-1a over the raw bytes of every column: a fingerprint of the exact output.
uint64_t fingerprint(const Table& t) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) {
      h ^= p[i];
      h *= 1099511628211ULL;
    }
  };
  for (std::size_t c = 0; c < t.num_columns(); ++c) {
    const Column& col = t.column(c);
    if (col.type() == DType::kInt64) {
      mix(col.i64().data(), col.i64().size_bytes());
    } else {
      mix(col.f64().data(), col.f64().size_bytes());
    }
  }
  return h;
}

// Per-frame centroid steps of animal `a` (NaN where either frame lacks X/Y).
struct Step {
  double vx;
  double vy;
};

Step step_of(const Table& t, int animals, int64_t frame, int a) {
  const auto x = t.column("X").f64();
  const auto y = t.column("Y").f64();
  const auto r = static_cast<std::size_t>(frame * animals + a);
  const auto q = static_cast<std::size_t>((frame - 1) * animals + a);
  return {x[r] - x[q], y[r] - y[q]};
}

// approach-avoidance (features.md §2.7) with its defaults on the raw table (no cleaning):
// candidate frames per ordered pair, the 5-of-10 continuity gate, then runs of kept frames.
struct ApproachStats {
  int64_t candidate_frames = 0;
  int64_t kept_frames = 0;
  int64_t runs_of_10 = 0;  // runs of >= 10 consecutive kept frames
};

ApproachStats detect_approach_avoidance(const Table& t, int animals, int64_t frames) {
  const auto x = t.column("X").f64();
  const auto y = t.column("Y").f64();
  const auto angle = t.column("ANGLE").f64();
  ApproachStats stats;
  for (int i = 0; i < animals; ++i) {
    for (int j = i + 1; j < animals; ++j) {
      std::vector<uint8_t> cand12(static_cast<std::size_t>(frames), 0);
      std::vector<uint8_t> cand21(static_cast<std::size_t>(frames), 0);
      for (int64_t f = 1; f < frames; ++f) {
        const auto ri = static_cast<std::size_t>(f * animals + i);
        const auto rj = static_cast<std::size_t>(f * animals + j);
        const Step v1 = step_of(t, animals, f, i);
        const Step v2 = step_of(t, animals, f, j);
        const double dx = x[rj] - x[ri];
        const double dy = y[rj] - y[ri];
        const double dist = std::hypot(dx, dy);
        const double s1 = std::hypot(v1.vx, v1.vy);
        const double s2 = std::hypot(v2.vx, v2.vy);
        if (!(std::isfinite(s1) && std::isfinite(s2) && dist > 0.0 && dist <= 200.0)) continue;
        const double app12 = (v1.vx * dx + v1.vy * dy) / std::max(dist * s1, 1e-12);
        const double avoid12 = (v2.vx * dx + v2.vy * dy) / std::max(dist * s2, 1e-12);
        const double app21 = -(v2.vx * dx + v2.vy * dy) / std::max(dist * s2, 1e-12);
        const double avoid21 = -(v1.vx * dx + v1.vy * dy) / std::max(dist * s1, 1e-12);
        const double ori1 =
            (v1.vx * std::cos(angle[ri]) + v1.vy * std::sin(angle[ri])) / std::max(s1, 1e-12);
        const double ori2 =
            (v2.vx * std::cos(angle[rj]) + v2.vy * std::sin(angle[rj])) / std::max(s2, 1e-12);
        const double gate = 0.8660254037844386;
        cand12[static_cast<std::size_t>(f)] =
            s1 >= 5 && s2 >= 5 && app12 >= 0.8 && avoid12 >= 0.5 && ori1 >= gate;
        cand21[static_cast<std::size_t>(f)] =
            s2 >= 5 && s1 >= 5 && app21 >= 0.8 && avoid21 >= 0.5 && ori2 >= gate;
      }
      std::vector<uint8_t> kept(static_cast<std::size_t>(frames), 0);
      for (const auto* cand : {&cand12, &cand21}) {
        int window = 0;
        for (int64_t f = 0; f < frames; ++f) {
          window += (*cand)[static_cast<std::size_t>(f)];
          if (f >= 10) window -= (*cand)[static_cast<std::size_t>(f - 10)];
          if ((*cand)[static_cast<std::size_t>(f)] != 0) {
            ++stats.candidate_frames;
            if (window >= 5) kept[static_cast<std::size_t>(f)] = 1;
          }
        }
      }
      int64_t run = 0;
      for (int64_t f = 0; f <= frames; ++f) {
        if (f < frames && kept[static_cast<std::size_t>(f)] != 0) {
          ++stats.kept_frames;
          ++run;
        } else {
          if (run >= 10) ++stats.runs_of_10;
          run = 0;
        }
      }
    }
  }
  return stats;
}

// ------------------------------------------------------------------------------------------
// Determinism

TEST(SimulateTest, SameSeedGivesIdenticalTables) {
  const SimulationOptions o = small_options();
  const Table a = simulate_sequence(o, 1);
  const Table b = simulate_sequence(o, 1);
  EXPECT_TRUE(a.equals(b));
  EXPECT_EQ(fingerprint(a), fingerprint(b));
}

TEST(SimulateTest, DifferentSeedOrSequenceGivesDifferentTables) {
  const Table base = simulate_sequence(small_options(7), 0);
  const Table other_seed = simulate_sequence(small_options(8), 0);
  const Table other_sequence = simulate_sequence(small_options(7), 1);
  EXPECT_FALSE(base.equals(other_seed));
  EXPECT_FALSE(base.equals(other_sequence));
  // Not merely different somewhere: the trajectories are unrelated.
  const auto x0 = base.column("X").f64();
  const auto x1 = other_seed.column("X").f64();
  int64_t equal = 0;
  for (std::size_t r = 0; r < x0.size(); ++r) equal += x0[r] == x1[r];
  EXPECT_EQ(equal, 0);
}

TEST(SimulateTest, ThreadsGiveTheSameBytesAsSequentialRuns) {
  const SimulationOptions o = small_options();
  const uint64_t expected0 = fingerprint(simulate_sequence(o, 0));
  const uint64_t expected1 = fingerprint(simulate_sequence(o, 1));
  uint64_t got0 = 0;
  uint64_t got1 = 0;
  std::thread t0([&] { got0 = fingerprint(simulate_sequence(o, 0)); });
  std::thread t1([&] { got1 = fingerprint(simulate_sequence(o, 1)); });
  t0.join();
  t1.join();
  EXPECT_EQ(got0, expected0);
  EXPECT_EQ(got1, expected1);
}

// The exact bytes are part of the contract (golden fixtures are generated by this simulator),
// so they are pinned. The simulator uses no libm and no <random> distributions, so this must
// hold on every IEEE-754 machine and compiler. If you change the model on purpose, update the
// constant and say so in the commit message; if it fails on a new platform, that is a bug.
TEST(SimulateTest, OutputBytesArePinned) {
  SimulationOptions o;
  o.animals = 2;
  o.keypoints = 7;
  o.frames = 600;
  o.seed = 42;
  const Table t = simulate_sequence(o, 0);
  EXPECT_EQ(fingerprint(t), 0x6ee749c7ef4969c5ULL) << std::hex << fingerprint(t);
}

// ------------------------------------------------------------------------------------------
// The canonical table contract

TEST(SimulateTest, ColumnsAreCanonicalInOrderAndType) {
  SimulationOptions o = small_options();
  o.frames = 20;
  const Table t = simulate_sequence(o, 0);
  std::vector<std::string> expected = {"frame", "time", "id", "X", "Y", "ANGLE"};
  for (int k = 0; k < 7; ++k) {
    expected.push_back(px(k));
    expected.push_back(py(k));
    expected.push_back(pp(k));
  }
  EXPECT_EQ(t.column_names(), expected);
  EXPECT_EQ(t.column("frame").type(), DType::kInt64);
  EXPECT_EQ(t.column("id").type(), DType::kInt64);
  EXPECT_FALSE(t.column("frame").has_nulls());
  EXPECT_FALSE(t.column("id").has_nulls());
  for (std::size_t c = 0; c < t.num_columns(); ++c) {
    const std::string& name = t.column_names()[c];
    if (name != "frame" && name != "id") {
      EXPECT_EQ(t.column(c).type(), DType::kFloat64) << name;
    }
  }
  EXPECT_EQ(t.num_rows(), 20u * 3u);
}

TEST(SimulateTest, RowsAreTheSortedCompleteFrameIdGrid) {
  SimulationOptions o = small_options();
  o.fps = 25.0;
  const Table t = simulate_sequence(o, 0);
  const auto frame = t.column("frame").i64();
  const auto id = t.column("id").i64();
  const auto time = t.column("time").f64();
  ASSERT_EQ(t.num_rows(), static_cast<std::size_t>(o.frames * o.animals));
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    ASSERT_EQ(frame[r], static_cast<int64_t>(r) / o.animals) << r;
    ASSERT_EQ(id[r], static_cast<int64_t>(r) % o.animals) << r;
    ASSERT_EQ(time[r], static_cast<double>(frame[r]) / 25.0) << r;
  }
}

TEST(SimulateTest, EverythingStaysInsideTheArena) {
  SimulationOptions o = small_options();
  o.arena = 400.0;  // small, so walls are met often
  o.animals = 4;
  o.frames = 6000;
  const Table t = simulate_sequence(o, 0);
  std::vector<std::string> coords = {"X", "Y"};
  for (int k = 0; k < o.keypoints; ++k) {
    coords.push_back(px(k));
    coords.push_back(py(k));
  }
  for (const std::string& name : coords) {
    for (const double v : t.column(name).f64()) {
      if (std::isnan(v)) continue;
      ASSERT_GE(v, 0.0) << name;
      ASSERT_LE(v, o.arena) << name;
    }
  }
}

TEST(SimulateTest, AngleIsTailBaseToNeckAndNaNWhenEitherIsMissing) {
  SimulationOptions o = small_options();
  o.missing_keypoint_rate = 0.1;  // plenty of missing necks and tail bases
  const Table t = simulate_sequence(o, 0);
  const auto angle = t.column("ANGLE").f64();
  const auto nx = t.column(px(3)).f64();
  const auto ny = t.column(py(3)).f64();
  const auto tx = t.column(px(6)).f64();
  const auto ty = t.column(py(6)).f64();
  int64_t nan_angles = 0;
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    if (std::isnan(nx[r]) || std::isnan(tx[r])) {
      ASSERT_TRUE(std::isnan(angle[r])) << r;
      ++nan_angles;
      continue;
    }
    const double expected = std::atan2(ny[r] - ty[r], nx[r] - tx[r]);
    ASSERT_NEAR(angle[r], expected, 1e-14) << r;
    ASSERT_GT(angle[r], -sim::kPi);
    ASSERT_LE(angle[r], sim::kPi);
  }
  EXPECT_GT(nan_angles, 0);
}

TEST(SimulateTest, CentroidIsTheMeanOfPresentKeypoints) {
  SimulationOptions o = small_options();
  o.missing_keypoint_rate = 0.2;
  const Table t = simulate_sequence(o, 0);
  const auto x = t.column("X").f64();
  const auto y = t.column("Y").f64();
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    double sx = 0.0;
    double sy = 0.0;
    int n = 0;
    for (int k = 0; k < o.keypoints; ++k) {
      const double vx = t.column(px(k)).f64()[r];
      const double vy = t.column(py(k)).f64()[r];
      ASSERT_EQ(std::isnan(vx), std::isnan(vy)) << r;
      if (std::isnan(vx)) continue;
      sx += vx;
      sy += vy;
      ++n;
    }
    if (n == 0) {
      ASSERT_TRUE(std::isnan(x[r]) && std::isnan(y[r])) << r;
    } else {
      ASSERT_DOUBLE_EQ(x[r], sx / n) << r;
      ASSERT_DOUBLE_EQ(y[r], sy / n) << r;
    }
  }
}

TEST(SimulateTest, ConfidencesAreInUnitIntervalAndZeroExactlyWhenMissing) {
  SimulationOptions o = small_options();
  o.missing_keypoint_rate = 0.05;
  const Table t = simulate_sequence(o, 0);
  double sum = 0.0;
  int64_t n = 0;
  int64_t low = 0;
  for (int k = 0; k < o.keypoints; ++k) {
    const auto xs = t.column(px(k)).f64();
    const auto ps = t.column(pp(k)).f64();
    for (std::size_t r = 0; r < t.num_rows(); ++r) {
      if (std::isnan(xs[r])) {
        ASSERT_EQ(ps[r], 0.0);
        continue;
      }
      ASSERT_GT(ps[r], 0.0);
      ASSERT_LE(ps[r], 1.0);
      sum += ps[r];
      low += ps[r] < 0.5;
      ++n;
    }
  }
  // Mostly confident, with a tail of poor points, like pose estimators.
  EXPECT_GT(sum / n, 0.8);
  EXPECT_GT(low, 0);
  EXPECT_LT(static_cast<double>(low) / n, 0.1);
}

// ------------------------------------------------------------------------------------------
// Missing data

double missing_fraction_among_present_animals(const Table& t, int keypoints) {
  const auto x = t.column("X").f64();
  int64_t missing = 0;
  int64_t total = 0;
  for (int k = 0; k < keypoints; ++k) {
    const auto xs = t.column(px(k)).f64();
    for (std::size_t r = 0; r < t.num_rows(); ++r) {
      if (std::isnan(x[r])) continue;  // absent animal
      missing += std::isnan(xs[r]);
      ++total;
    }
  }
  return static_cast<double>(missing) / static_cast<double>(total);
}

TEST(SimulateTest, MissingKeypointFractionFollowsTheRate) {
  for (const double rate : {0.0, 0.01, 0.05, 0.2}) {
    SimulationOptions o = small_options();
    o.missing_keypoint_rate = rate;
    o.absent_stretches = false;
    const Table t = simulate_sequence(o, 0);
    const double got = missing_fraction_among_present_animals(t, o.keypoints);
    // 63,000 observations: the binomial sd is below 0.002 at 20 %.
    EXPECT_NEAR(got, rate, 0.15 * rate + 1e-12) << "rate " << rate;
  }
}

TEST(SimulateTest, AbsentStretchesBlankWholeRowsForAWhile) {
  SimulationOptions o = small_options();
  o.frames = 9000;
  o.missing_keypoint_rate = 0.0;
  const Table t = simulate_sequence(o, 0);
  const auto x = t.column("X").f64();
  const auto angle = t.column("ANGLE").f64();
  int64_t absent_rows = 0;
  int64_t stretches = 0;
  for (int a = 0; a < o.animals; ++a) {
    int64_t run = 0;
    for (int64_t f = 0; f <= o.frames; ++f) {
      const bool absent = f < o.frames && std::isnan(x[static_cast<std::size_t>(f * o.animals + a)]);
      if (absent) {
        const auto r = static_cast<std::size_t>(f * o.animals + a);
        ++absent_rows;
        ++run;
        ASSERT_TRUE(std::isnan(t.column("Y").f64()[r]));
        ASSERT_TRUE(std::isnan(angle[r]));
        for (int k = 0; k < o.keypoints; ++k) {
          ASSERT_TRUE(std::isnan(t.column(px(k)).f64()[r]));
          ASSERT_TRUE(std::isnan(t.column(py(k)).f64()[r]));
          ASSERT_EQ(t.column(pp(k)).f64()[r], 0.0);
        }
      } else {
        if (run > 0) {
          ++stretches;
          EXPECT_GE(run, 15) << "absences last at least half a second";
        }
        run = 0;
      }
    }
  }
  EXPECT_GE(stretches, 2);
  const double fraction = static_cast<double>(absent_rows) / static_cast<double>(t.num_rows());
  EXPECT_GT(fraction, 0.005);
  EXPECT_LT(fraction, 0.15);

  o.absent_stretches = false;
  const Table none = simulate_sequence(o, 0);
  for (const double v : none.column("X").f64()) ASSERT_FALSE(std::isnan(v));
}

TEST(SimulateTest, ObservationOptionsDoNotChangeTheMotion) {
  SimulationOptions clean = small_options();
  clean.missing_keypoint_rate = 0.0;
  clean.absent_stretches = false;
  SimulationOptions noisy = clean;
  noisy.missing_keypoint_rate = 0.3;
  noisy.absent_stretches = true;
  const Table a = simulate_sequence(clean, 0);
  const Table b = simulate_sequence(noisy, 0);
  int64_t compared = 0;
  for (int k = 0; k < clean.keypoints; ++k) {
    for (const std::string& name : {px(k), py(k), pp(k)}) {
      const auto va = a.column(name).f64();
      const auto vb = b.column(name).f64();
      for (std::size_t r = 0; r < a.num_rows(); ++r) {
        if (name[4] != 'P' ? std::isnan(vb[r]) : vb[r] == 0.0) continue;
        ASSERT_EQ(va[r], vb[r]) << name << " row " << r;
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 0);
}

// ------------------------------------------------------------------------------------------
// Plausible motion

TEST(SimulateTest, SpeedsArePlausibleWithRestAndRuns) {
  SimulationOptions o = small_options();
  o.frames = 9000;
  o.missing_keypoint_rate = 0.0;
  o.absent_stretches = false;
  const Table t = simulate_sequence(o, 0);
  std::vector<double> steps;
  for (int64_t f = 1; f < o.frames; ++f) {
    for (int a = 0; a < o.animals; ++a) {
      const Step s = step_of(t, o.animals, f, a);
      steps.push_back(std::hypot(s.vx, s.vy));
    }
  }
  std::sort(steps.begin(), steps.end());
  auto quantile = [&](double q) { return steps[static_cast<std::size_t>(q * (steps.size() - 1))]; };
  auto fraction_below = [&](double v) {
    return static_cast<double>(std::lower_bound(steps.begin(), steps.end(), v) - steps.begin()) /
           static_cast<double>(steps.size());
  };
  // px/frame at 30 fps for a 60 px animal: walking about 3-4, running 8-10, resting < 1.
  EXPECT_GT(quantile(0.5), 2.0);
  EXPECT_LT(quantile(0.5), 6.0);
  EXPECT_GT(fraction_below(1.0), 0.03) << "animals rest sometimes";
  EXPECT_GT(1.0 - fraction_below(7.0), 0.02) << "animals run sometimes";
  EXPECT_LT(quantile(0.999), 25.0) << "no teleports";
}

TEST(SimulateTest, HeadingFollowsTheDirectionOfMotion) {
  SimulationOptions o = small_options();
  o.missing_keypoint_rate = 0.0;
  const Table t = simulate_sequence(o, 0);
  const auto angle = t.column("ANGLE").f64();
  double sum = 0.0;
  int64_t n = 0;
  for (int64_t f = 1; f < o.frames; ++f) {
    for (int a = 0; a < o.animals; ++a) {
      const Step s = step_of(t, o.animals, f, a);
      const double speed = std::hypot(s.vx, s.vy);
      const double heading = angle[static_cast<std::size_t>(f * o.animals + a)];
      if (!(speed > 4.0) || std::isnan(heading)) continue;
      sum += (s.vx * std::cos(heading) + s.vy * std::sin(heading)) / speed;
      ++n;
    }
  }
  ASSERT_GT(n, 1000);
  EXPECT_GT(sum / static_cast<double>(n), 0.85);
}

TEST(SimulateTest, SkeletonHasTheBodyLength) {
  for (const double body : {60.0, 120.0}) {
    SimulationOptions o = small_options();
    o.body_length = body;
    o.arena = 1000.0 * body / 60.0;
    o.missing_keypoint_rate = 0.0;
    const Table t = simulate_sequence(o, 0);
    std::vector<double> lengths;
    const auto nx = t.column(px(0)).f64();
    const auto ny = t.column(py(0)).f64();
    const auto tx = t.column(px(6)).f64();
    const auto ty = t.column(py(6)).f64();
    for (std::size_t r = 0; r < t.num_rows(); ++r) {
      if (!std::isnan(nx[r])) lengths.push_back(std::hypot(nx[r] - tx[r], ny[r] - ty[r]));
    }
    std::sort(lengths.begin(), lengths.end());
    const double median = lengths[lengths.size() / 2];
    EXPECT_GT(median, 0.9 * body) << body;
    EXPECT_LT(median, 1.1 * body) << body;
  }
}

TEST(SimulateTest, ApproachAvoidanceEpisodesAreDetectableWithDefaults) {
  // The demo's configuration: 3 animals, 5 minutes at 30 fps, default missing data.
  SimulationOptions o;
  o.animals = 3;
  o.keypoints = 7;
  o.frames = 9000;
  o.seed = 42;
  for (int sequence = 0; sequence < 2; ++sequence) {
    const Table t = simulate_sequence(o, sequence);
    const ApproachStats stats = detect_approach_avoidance(t, o.animals, o.frames);
    EXPECT_GT(stats.kept_frames, 100) << "sequence " << sequence;
    EXPECT_GE(stats.runs_of_10, 3) << "sequence " << sequence;
    // Episodes, not a constant state: well under 10 % of pair-frames.
    EXPECT_LT(stats.kept_frames, 3 * o.frames / 10) << "sequence " << sequence;
  }
}

TEST(SimulateTest, ApproachesExistAsTheBriefDefinesThem) {
  // Frames where one animal moves toward another at > 5 px/frame with cos > 0.8 while they are
  // closer than 200 px.
  SimulationOptions o = small_options();
  o.frames = 9000;
  const Table t = simulate_sequence(o, 0);
  const auto x = t.column("X").f64();
  const auto y = t.column("Y").f64();
  int64_t approach_frames = 0;
  for (int64_t f = 1; f < o.frames; ++f) {
    for (int i = 0; i < o.animals; ++i) {
      const Step v = step_of(t, o.animals, f, i);
      const double speed = std::hypot(v.vx, v.vy);
      if (!(speed > 5.0)) continue;
      for (int j = 0; j < o.animals; ++j) {
        if (j == i) continue;
        const auto ri = static_cast<std::size_t>(f * o.animals + i);
        const auto rj = static_cast<std::size_t>(f * o.animals + j);
        const double dx = x[rj] - x[ri];
        const double dy = y[rj] - y[ri];
        const double dist = std::hypot(dx, dy);
        if (dist < 200.0 && (v.vx * dx + v.vy * dy) / (speed * dist) > 0.8) ++approach_frames;
      }
    }
  }
  EXPECT_GT(approach_frames, 200);
}

// ------------------------------------------------------------------------------------------
// Edge cases

TEST(SimulateTest, OneAnimalOneFrameAndZeroFrames) {
  SimulationOptions o = small_options();
  o.animals = 1;
  const Table one_animal = simulate_sequence(o, 0);
  EXPECT_EQ(one_animal.num_rows(), static_cast<std::size_t>(o.frames));
  for (const int64_t id : one_animal.column("id").i64()) ASSERT_EQ(id, 0);

  o.animals = 3;
  o.frames = 1;
  const Table one_frame = simulate_sequence(o, 0);
  ASSERT_EQ(one_frame.num_rows(), 3u);
  EXPECT_EQ(one_frame.column("frame").i64()[2], 0);
  EXPECT_EQ(one_frame.column("time").f64()[2], 0.0);
  for (const double v : one_frame.column("X").f64()) EXPECT_FALSE(std::isnan(v));

  o.frames = 0;
  const Table empty = simulate_sequence(o, 0);
  EXPECT_EQ(empty.num_rows(), 0u);
  EXPECT_EQ(empty.num_columns(), 6u + 3u * 7u);
}

TEST(SimulateTest, OneKeypointIsTheCentroidWithoutAngle) {
  SimulationOptions o = small_options();
  o.keypoints = 1;
  o.missing_keypoint_rate = 0.05;
  const Table t = simulate_sequence(o, 0);
  EXPECT_EQ(t.num_columns(), 9u);
  EXPECT_EQ(t.column_names().back(), "poseP0");
  const auto x = t.column("X").f64();
  const auto x0 = t.column("poseX0").f64();
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    ASSERT_TRUE(std::isnan(t.column("ANGLE").f64()[r]));
    ASSERT_EQ(std::isnan(x[r]), std::isnan(x0[r]));
    if (!std::isnan(x0[r])) {
      ASSERT_EQ(x[r], x0[r]);
    }
  }
  EXPECT_EQ(simulated_keypoint_names(1), std::vector<std::string>{"center"});
  EXPECT_FALSE(simulated_heading_keypoints(1).has_value());
}

TEST(SimulateTest, TwentyFourKeypoints) {
  SimulationOptions o = small_options();
  o.keypoints = 24;
  o.frames = 500;
  const Table t = simulate_sequence(o, 0);
  EXPECT_EQ(t.num_columns(), 6u + 3u * 24u);
  EXPECT_EQ(t.column_names().back(), "poseP23");
  const auto names = simulated_keypoint_names(24);
  ASSERT_EQ(names.size(), 24u);
  EXPECT_EQ(names.front(), "nose");
  EXPECT_EQ(names[3], "neck");
  EXPECT_EQ(names.back(), "tail_base");
  const auto pair = simulated_heading_keypoints(24);
  ASSERT_TRUE(pair.has_value());
  EXPECT_EQ(pair->back, 23);
  EXPECT_EQ(pair->front, 3);
  // ANGLE uses keypoints 23 -> 3.
  const auto angle = t.column("ANGLE").f64();
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    const double dx = t.column("poseX3").f64()[r] - t.column("poseX23").f64()[r];
    const double dy = t.column("poseY3").f64()[r] - t.column("poseY23").f64()[r];
    if (std::isnan(dx)) continue;
    ASSERT_NEAR(angle[r], std::atan2(dy, dx), 1e-14);
  }
}

TEST(SimulateTest, KeypointLayoutRule) {
  EXPECT_EQ(simulated_keypoint_names(7),
            (std::vector<std::string>{"nose", "left_ear", "right_ear", "neck", "left_hip",
                                      "right_hip", "tail_base"}));
  EXPECT_EQ(simulated_keypoint_names(2), (std::vector<std::string>{"nose", "tail_base"}));
  EXPECT_EQ(simulated_keypoint_names(3), (std::vector<std::string>{"nose", "neck", "tail_base"}));
  EXPECT_EQ(simulated_keypoint_names(4),
            (std::vector<std::string>{"nose", "head", "neck", "tail_base"}));
  EXPECT_EQ(simulated_keypoint_names(8),
            (std::vector<std::string>{"nose", "left_ear", "right_ear", "neck", "spine",
                                      "left_hip", "right_hip", "tail_base"}));
  EXPECT_EQ(simulated_keypoint_names(9)[4], "left_back1");
  for (int k = 2; k <= 30; ++k) {
    const auto names = simulated_keypoint_names(k);
    ASSERT_EQ(static_cast<int>(names.size()), k);
    const auto pair = simulated_heading_keypoints(k);
    ASSERT_TRUE(pair.has_value());
    EXPECT_EQ(pair->back, k - 1);
    EXPECT_EQ(names[static_cast<std::size_t>(pair->back)], "tail_base");
    EXPECT_EQ(names[static_cast<std::size_t>(pair->front)], k == 2 ? "nose" : "neck");
  }
  const auto calms21 = simulated_heading_keypoints(7);
  ASSERT_TRUE(calms21.has_value());
  EXPECT_EQ(calms21->back, 6);   // pair-egocentric's tail_base_idx default
  EXPECT_EQ(calms21->front, 3);  // and neck_idx
}

TEST(SimulateTest, KeypointsSitOnTheBodyAsNamed) {
  // In the animal's own frame (ANGLE), the nose is in front, the tail base behind, and the
  // left ear and hip on the left: (sin, -cos) of ANGLE in image coordinates.
  SimulationOptions o = small_options();
  o.missing_keypoint_rate = 0.0;
  o.absent_stretches = false;
  const Table t = simulate_sequence(o, 0);
  const auto angle = t.column("ANGLE").f64();
  const auto x = t.column("X").f64();
  const auto y = t.column("Y").f64();
  auto mean_forward_left = [&](int k, double& forward, double& left) {
    forward = left = 0.0;
    const auto kx = t.column(px(k)).f64();
    const auto ky = t.column(py(k)).f64();
    for (std::size_t r = 0; r < t.num_rows(); ++r) {
      const double dx = kx[r] - x[r];
      const double dy = ky[r] - y[r];
      forward += dx * std::cos(angle[r]) + dy * std::sin(angle[r]);
      left += dx * std::sin(angle[r]) - dy * std::cos(angle[r]);
    }
    forward /= static_cast<double>(t.num_rows());
    left /= static_cast<double>(t.num_rows());
  };
  double forward = 0.0;
  double left = 0.0;
  mean_forward_left(0, forward, left);
  EXPECT_GT(forward, 20.0);
  mean_forward_left(6, forward, left);
  EXPECT_LT(forward, -20.0);
  mean_forward_left(1, forward, left);
  EXPECT_GT(left, 3.0);
  mean_forward_left(2, forward, left);
  EXPECT_LT(left, -3.0);
  mean_forward_left(4, forward, left);
  EXPECT_GT(left, 3.0);
}

TEST(SimulateTest, InvalidOptionsNameTheField) {
  auto expect_error = [](SimulationOptions o, int sequence, const std::string& needle) {
    try {
      simulate_sequence(o, sequence);
      ADD_FAILURE() << "expected InputError mentioning " << needle;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  SimulationOptions o = small_options();
  o.animals = 0;
  expect_error(o, 0, "SimulationOptions.animals: expected >= 1, got 0");
  o = small_options();
  o.keypoints = 0;
  expect_error(o, 0, "SimulationOptions.keypoints");
  o = small_options();
  o.frames = -1;
  expect_error(o, 0, "SimulationOptions.frames");
  o = small_options();
  o.fps = 0.0;
  expect_error(o, 0, "SimulationOptions.fps");
  o = small_options();
  o.missing_keypoint_rate = 1.5;
  expect_error(o, 0, "SimulationOptions.missing_keypoint_rate");
  o = small_options();
  o.arena = 100.0;
  expect_error(o, 0,
               "SimulationOptions.arena: expected a finite value >= 3 body lengths (180), got 100");
  o = small_options();
  o.body_length = std::numeric_limits<double>::quiet_NaN();
  expect_error(o, 0, "SimulationOptions.body_length");
  expect_error(small_options(), -1, "simulate_sequence: sequence_index: expected >= 0, got -1");
}

TEST(SimulateTest, SequenceNames) {
  EXPECT_EQ(simulated_sequence_name(0), "seq001");
  EXPECT_EQ(simulated_sequence_name(1), "seq002");
  EXPECT_EQ(simulated_sequence_name(99), "seq100");
  EXPECT_EQ(simulated_sequence_name(1234), "seq1235");
  EXPECT_THROW(simulated_sequence_name(-1), InputError);
}

// ------------------------------------------------------------------------------------------
// The bit-reproducible building blocks

double ulp_distance(double a, double b) {
  if (a == b) return 0.0;
  const double ulp = std::nextafter(std::fabs(b), std::numeric_limits<double>::infinity()) -
                     std::fabs(b);
  return std::fabs(a - b) / ulp;
}

TEST(SimulateMathTest, AgreesWithLibmToAFewUlp) {
  sim::Rng rng(123);
  double worst_exp = 0.0;
  double worst_log = 0.0;
  double worst_sin = 0.0;
  double worst_cos = 0.0;
  double worst_atan2 = 0.0;
  for (int i = 0; i < 200000; ++i) {
    const double e = rng.uniform(-40.0, 40.0);
    worst_exp = std::max(worst_exp, ulp_distance(sim::det_exp(e), std::exp(e)));
    const double l = sim::det_exp(rng.uniform(-30.0, 30.0));
    worst_log = std::max(worst_log, std::fabs(sim::det_log(l) - std::log(l)) /
                                        std::max(std::fabs(std::log(l)), 1e-300));
    const double a = rng.uniform(-20.0, 20.0);
    double s = 0.0;
    double c = 0.0;
    sim::det_sincos(a, s, c);
    worst_sin = std::max(worst_sin, std::fabs(s - std::sin(a)));
    worst_cos = std::max(worst_cos, std::fabs(c - std::cos(a)));
    const double yv = rng.uniform(-100.0, 100.0) * (i % 3 == 0 ? 1e-6 : 1.0);
    const double xv = rng.uniform(-100.0, 100.0);
    worst_atan2 = std::max(worst_atan2, ulp_distance(sim::det_atan2(yv, xv), std::atan2(yv, xv)));
  }
  EXPECT_LE(worst_exp, 3.0);
  EXPECT_LE(worst_log, 4e-16);
  EXPECT_LE(worst_sin, 4e-16);
  EXPECT_LE(worst_cos, 4e-16);
  EXPECT_LE(worst_atan2, 3.0);
}

TEST(SimulateMathTest, SpecialValues) {
  EXPECT_EQ(sim::det_exp(0.0), 1.0);
  EXPECT_EQ(sim::det_exp(-1000.0), 0.0);
  EXPECT_TRUE(std::isinf(sim::det_exp(1000.0)));
  EXPECT_TRUE(std::isnan(sim::det_exp(std::nan(""))));
  EXPECT_EQ(sim::det_log(1.0), 0.0);
  EXPECT_TRUE(std::isinf(sim::det_log(0.0)));
  EXPECT_TRUE(std::isnan(sim::det_log(-1.0)));
  EXPECT_EQ(sim::det_atan2(0.0, 1.0), 0.0);
  EXPECT_EQ(sim::det_atan2(1.0, 0.0), sim::kHalfPi);
  EXPECT_EQ(sim::det_atan2(-1.0, 0.0), -sim::kHalfPi);
  EXPECT_EQ(sim::det_atan2(0.0, -1.0), sim::kPi);
  EXPECT_EQ(sim::det_atan2(-0.0, -1.0), sim::kPi);  // the canonical range is (-pi, pi]
  EXPECT_TRUE(std::isnan(sim::det_atan2(std::nan(""), 1.0)));
  EXPECT_EQ(sim::wrap_angle_pi(-sim::kPi), sim::kPi);
  EXPECT_NEAR(sim::wrap_angle_pi(7.0), 7.0 - sim::kTwoPi, 1e-15);
  EXPECT_NEAR(sim::wrap_angle_pi(-20.0), -20.0 + 3.0 * sim::kTwoPi, 1e-14);
}

TEST(SimulateMathTest, NormalsHaveTheRightMoments) {
  sim::Rng rng(2024);
  const int n = 1000000;
  double s1 = 0.0;
  double s2 = 0.0;
  double s4 = 0.0;
  int64_t beyond2 = 0;
  int64_t beyond_tail = 0;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal();
    s1 += z;
    s2 += z * z;
    s4 += z * z * z * z;
    beyond2 += std::fabs(z) > 2.0;
    beyond_tail += std::fabs(z) > 3.6;  // the ziggurat's tail starts at 3.44
  }
  EXPECT_NEAR(s1 / n, 0.0, 0.005);
  EXPECT_NEAR(s2 / n, 1.0, 0.005);
  EXPECT_NEAR(s4 / n, 3.0, 0.05);
  EXPECT_NEAR(static_cast<double>(beyond2) / n, 0.0455, 0.002);
  EXPECT_NEAR(static_cast<double>(beyond_tail) / n, 3.18e-4, 0.6e-4);
}

TEST(SimulateMathTest, RandomStreamsAreKeyedAndReproducible) {
  // xoshiro256** seeded through SplitMix64 (OutputBytesArePinned pins the rest).
  sim::Rng rng(sim::derive_key(42, 0));
  const uint64_t first = rng.next();
  sim::Rng again(sim::derive_key(42, 0));
  EXPECT_EQ(again.next(), first);
  EXPECT_NE(sim::derive_key(42, 0), sim::derive_key(42, 1));
  EXPECT_NE(sim::derive_key(42, 0), sim::derive_key(43, 0));
  uint64_t state = 0;
  EXPECT_EQ(sim::splitmix64_next(state), 0xE220A8397B1DCDAFULL);  // the reference first output
}

}  // namespace
}  // namespace mosaic
