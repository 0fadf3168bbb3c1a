// rng.hpp: the simulator's own random numbers (private).
//
// Why our own: <random> engines are portable but its distributions (normal, uniform_real, ...)
// are implementation-defined, so libstdc++, libc++ and MSVC give different numbers for the same
// seed. Here everything is spelled out: SplitMix64 derives independent stream seeds from
// (seed, sequence, animal, stream), xoshiro256** generates, uniforms take the top 53 bits, and
// normals use the ziggurat method (Marsaglia and Tsang 2000, in Doornik's 2005 ZIGNOR form) with
// tables built by our bit-reproducible exp and log (det_math.hpp). The ziggurat costs about one
// 64-bit draw per normal, which matters: the simulator draws some 25 normals per output row.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>

#include "sim/det_math.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")  // see det_math.hpp
#endif

namespace mosaic::sim {

/// \brief One SplitMix64 step (Steele, Lea and Flood 2014): advance `state`, return a mixed value.
inline uint64_t splitmix64_next(uint64_t& state) noexcept {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// \brief Derive a child key from a parent key and one component (sequence, animal, stream...).
/// Distinct components give unrelated keys; the order of derivation matters.
inline uint64_t derive_key(uint64_t key, uint64_t component) noexcept {
  uint64_t state = key ^ splitmix64_next(component);
  return splitmix64_next(state);
}

namespace detail {

inline constexpr int kZigLayers = 128;
inline constexpr double kZigR = 3.442619855899;          // start of the tail
inline constexpr double kZigV = 9.91256303526217e-3;     // area of each layer

struct ZigguratTables {
  std::array<double, kZigLayers + 1> x{};  // layer edges; x[0] = V / f(R) is the base strip
  std::array<double, kZigLayers> ratio{};  // x[i+1] / x[i]: the part of layer i inside the curve
};

inline const ZigguratTables& ziggurat_tables() {
  static const ZigguratTables tables = [] {
    ZigguratTables t;
    double f = det_exp(-0.5 * kZigR * kZigR);
    t.x[0] = kZigV / f;
    t.x[1] = kZigR;
    t.x[kZigLayers] = 0.0;
    for (int i = 2; i < kZigLayers; ++i) {
      const auto prev = static_cast<std::size_t>(i - 1);
      t.x[static_cast<std::size_t>(i)] = std::sqrt(-2.0 * det_log(kZigV / t.x[prev] + f));
      f = det_exp(-0.5 * t.x[static_cast<std::size_t>(i)] * t.x[static_cast<std::size_t>(i)]);
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(kZigLayers); ++i) {
      t.ratio[i] = t.x[i + 1] / t.x[i];
    }
    return t;
  }();
  return tables;
}

}  // namespace detail

/// \brief xoshiro256** 1.0 (Blackman and Vigna) with uniform and normal variates.
class Rng {
 public:
  explicit Rng(uint64_t key = 0) noexcept {
    uint64_t state = key;
    for (uint64_t& word : s_) word = splitmix64_next(state);
    // SplitMix64 is a bijection of its counter, so four zero words cannot happen; be safe anyway.
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;
  }

  uint64_t next() noexcept {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// \brief Uniform in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// \brief Uniform in [lo, hi).
  double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }

  /// \brief Uniform in (0, 1] (safe for log).
  double uniform_positive() noexcept {
    return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53;
  }

  /// \brief Standard normal by the ziggurat method. The sign-and-magnitude uniform uses the top
  /// 53 bits of a draw and the layer index its low 7 bits, so one draw usually suffices. The
  /// rare rejection part is out of line so that this stays small enough to inline.
  double normal() noexcept {
    const uint64_t bits = next();
    const double u = 2.0 * (static_cast<double>(bits >> 11) * 0x1.0p-53) - 1.0;
    const auto layer = static_cast<std::size_t>(bits & (detail::kZigLayers - 1));
    if (std::fabs(u) < zig_->ratio[layer]) return u * zig_->x[layer];  // inside the rectangle
    return normal_outside(u, layer);
  }

  /// \brief Two uniforms in [0, 1) with 32 bits each from one draw (for coin flips that do
  /// not need 53 bits).
  void uniform_pair(double& first, double& second) noexcept {
    const uint64_t bits = next();
    first = static_cast<double>(bits >> 32) * 0x1.0p-32;
    second = static_cast<double>(bits & 0xFFFFFFFFULL) * 0x1.0p-32;
  }

  /// \brief Exponential with mean `mean`.
  double exponential(double mean) noexcept { return -mean * det_log(uniform_positive()); }

 private:
  static uint64_t rotl(uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

  // The ziggurat's slow part: the tail beyond R (layer 0) or the wedge of `layer`; on rejection
  // start over with a fresh draw.
  [[gnu::noinline]] double normal_outside(double u, std::size_t layer) noexcept {
    for (;;) {
      if (layer == 0) {  // the base strip: sample the tail beyond R (Marsaglia 1964)
        double x = 0.0;
        double y = 0.0;
        do {
          x = det_log(uniform_positive()) / detail::kZigR;
          y = det_log(uniform_positive());
        } while (-2.0 * y < x * x);
        return u < 0.0 ? x - detail::kZigR : detail::kZigR - x;
      }
      const double x = u * zig_->x[layer];
      const double x_sq = x * x;
      const double f0 = det_exp(-0.5 * (zig_->x[layer] * zig_->x[layer] - x_sq));
      const double f1 = det_exp(-0.5 * (zig_->x[layer + 1] * zig_->x[layer + 1] - x_sq));
      if (f1 + uniform() * (f0 - f1) < 1.0) return x;
      const uint64_t bits = next();
      u = 2.0 * (static_cast<double>(bits >> 11) * 0x1.0p-53) - 1.0;
      layer = static_cast<std::size_t>(bits & (detail::kZigLayers - 1));
      if (std::fabs(u) < zig_->ratio[layer]) return u * zig_->x[layer];
    }
  }

  uint64_t s_[4] = {0, 0, 0, 0};
  const detail::ZigguratTables* zig_ = &detail::ziggurat_tables();
};

}  // namespace mosaic::sim

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
