// random.hpp: numpy's random number streams, bit for bit.
//
// The reference (Python mosaic) draws templates with `np.random.default_rng(seed)` (PCG64 seeded
// through SeedSequence) and scikit-learn/openTSNE draw with the legacy
// `np.random.RandomState(seed)` (MT19937). Matching their outputs exactly is what makes the
// template rows, k-means++ seeds and reservoir slots of mosaic-cpp equal to the goldens, so every
// method here copies numpy's C code path (numpy 2.4 `_generator.pyx`, `distributions.c`,
// `_bounded_integers`, `mtrand.pyx`, `legacy-distributions.c`), including which raw draws it
// consumes (spec features.md §0.5).
//
//   Pcg64 rng(42);                         // np.random.default_rng(42)
//   double u = rng.random();               // rng.random()
//   int64_t k = rng.integers(0, 10);       // rng.integers(0, 10)
//   std::vector<int64_t> idx = rng.choice(1000, 20);   // rng.choice(1000, 20, replace=False)
//   Mt19937RandomState rs(42);             // np.random.RandomState(42)
//   double v = rs.random_sample();         // rs.random_sample()
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace mosaic::kernels {

/// \brief Return `SeedSequence(entropy).generate_state(n_words, np.uint32)` for a non-negative
/// integer entropy and no spawn key (pool size 4), as numpy's `bit_generator.pyx` computes it.
std::vector<uint32_t> seed_sequence_generate_state(uint64_t entropy, std::size_t n_words);

/// \brief numpy's `Generator(PCG64(seed))`, i.e. `np.random.default_rng(seed)`.
///
/// PCG64 is XSL-RR 128/64. 32-bit draws are buffered as numpy does: one 64-bit output gives its
/// low half now and its high half on the next 32-bit draw; 64-bit draws and doubles do not touch
/// that buffer (so `random()` between two 32-bit draws does not discard the buffered half).
class Pcg64 {
 public:
  __extension__ typedef unsigned __int128 uint128;

  /// Seed through SeedSequence(seed), as `default_rng(seed)` does for an int seed.
  explicit Pcg64(uint64_t seed) noexcept;
  /// Set the raw 128-bit state and increment (numpy `bit_generator.state`), empty 32-bit buffer.
  static Pcg64 from_state(uint128 state, uint128 inc) noexcept;

  /// \brief Next raw 64-bit output (`next_uint64`).
  uint64_t next64() noexcept;
  /// \brief Next raw 32-bit output (`next_uint32`): buffered low half, then high half.
  uint32_t next32() noexcept;

  /// \brief `Generator.random()`: (next64 >> 11) * 2^-53.
  double random() noexcept;
  /// \brief `Generator.random(size=out.size())`.
  void random(std::span<double> out) noexcept;

  /// \brief `random_bounded_uint64(0, rng, 0, use_masked=False)`: a uniform value in [0, rng]
  /// (inclusive). rng = 0 draws nothing; rng = 0xFFFFFFFF uses one raw 32-bit draw; other
  /// ranges below 2^32 use Lemire's method on 32-bit draws, larger ones on 64-bit draws.
  uint64_t bounded(uint64_t rng) noexcept;
  /// \brief `Generator.integers(low, high)` (int64, high exclusive). Requires low < high.
  int64_t integers(int64_t low, int64_t high) noexcept;
  /// \brief `Generator.integers(low, high, size=out.size())`.
  void integers(int64_t low, int64_t high, std::span<int64_t> out) noexcept;

  /// \brief `random_interval(max)`: masked rejection in [0, max] (used by `shuffle`).
  uint64_t random_interval(uint64_t max) noexcept;

  /// \brief `Generator.shuffle(x)` for a Python list or a 1-d array: for i = n-1..1,
  /// j = random_interval(i), swap x[i], x[j].
  template <class T>
  void shuffle(std::span<T> x) noexcept {
    for (std::size_t i = x.size() > 0 ? x.size() - 1 : 0; i >= 1; --i) {
      const std::size_t j = static_cast<std::size_t>(random_interval(i));
      std::swap(x[i], x[j]);
    }
  }

  /// \brief `Generator.choice(n, size=k, replace=False)` (shuffle=True) as numpy 2.4: for
  /// n > 10000 and k > n // 50 a partial Fisher-Yates over the tail of arange(n) (Lemire
  /// draws); otherwise Floyd's algorithm with numpy's open-addressing set, then a Lemire
  /// shuffle of the k results. Requires 0 <= k <= n.
  std::vector<int64_t> choice(int64_t n, int64_t k);

  uint128 state() const noexcept { return state_; }
  uint128 increment() const noexcept { return inc_; }

 private:
  Pcg64() noexcept = default;
  void step() noexcept;
  /// numpy `_shuffle_int`: the shuffle used inside `choice` (Lemire, not random_interval).
  void shuffle_int(std::span<int64_t> data, std::size_t first) noexcept;

  uint128 state_ = 0;
  uint128 inc_ = 0;
  bool has_uint32_ = false;
  uint32_t uinteger_ = 0;
};

/// \brief numpy's legacy `RandomState(seed)`: MT19937 seeded by `init_genrand(seed)`, with the
/// legacy distributions scikit-learn and openTSNE call.
class Mt19937RandomState {
 public:
  explicit Mt19937RandomState(uint32_t seed) noexcept;

  /// \brief Next tempered 32-bit output (genrand_int32).
  uint32_t next32() noexcept;
  /// \brief Two 32-bit outputs as (first << 32) | second (numpy `mt19937_next64`; the operand
  /// order there is compiler-defined, see random.cpp).
  uint64_t next64() noexcept;

  /// \brief `random_sample()` (genrand_res53): ((a >> 5) * 2^26 + (b >> 6)) / 2^53.
  double random_sample() noexcept;
  /// \brief `uniform(low, high)` = low + (high - low) * random_sample().
  double uniform(double low, double high) noexcept;
  /// \brief `randint(low, high)` (int64, high exclusive): masked rejection sampling, as the
  /// legacy generator always uses. Requires low < high.
  int64_t randint(int64_t low, int64_t high) noexcept;
  /// \brief `standard_normal()` / `normal(0, 1)`: legacy polar Box-Muller; every second call
  /// returns the cached value of the previous pair.
  double gauss() noexcept;
  /// \brief `normal(loc, scale)` = loc + scale * gauss().
  double normal(double loc, double scale) noexcept;
  /// \brief `choice(len(p), p=p)` for one draw: cdf = cumsum(p) (sequential, float64),
  /// cdf /= cdf[-1], then searchsorted(cdf, random_sample(), side="right").
  /// Requires p non-empty with a positive sum.
  int64_t choice(std::span<const double> p);
  /// \brief `choice(len(p), size=out.size(), p=p)`: the uniforms are drawn first, then looked up.
  void choice(std::span<const double> p, std::span<int64_t> out);

 private:
  void generate() noexcept;

  uint32_t key_[624];
  int pos_ = 624;
  bool has_gauss_ = false;
  double gauss_ = 0.0;
};

}  // namespace mosaic::kernels
