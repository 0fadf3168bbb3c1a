// random.cpp: ports of numpy's bit generators and the few distributions mosaic needs. Each
// function names the numpy routine it copies; the draw sequence is part of the contract.
#include "features/kernels/random.hpp"

#include <algorithm>
#include <cmath>

namespace mosaic::kernels {
namespace {

// numpy/random/bit_generator.pyx constants.
constexpr std::size_t kPoolSize = 4;
constexpr uint32_t kInitA = 0x43b0d7e5u;
constexpr uint32_t kMultA = 0x931e8875u;
constexpr uint32_t kInitB = 0x8b51f9ddu;
constexpr uint32_t kMultB = 0x58f38dedu;
constexpr uint32_t kMixMultL = 0xca01f9ddu;
constexpr uint32_t kMixMultR = 0x4973f715u;
constexpr unsigned kXShift = 16;

uint32_t hashmix(uint32_t value, uint32_t& hash_const) noexcept {
  value ^= hash_const;
  hash_const *= kMultA;
  value *= hash_const;
  value ^= value >> kXShift;
  return value;
}

uint32_t mix(uint32_t x, uint32_t y) noexcept {
  uint32_t result = kMixMultL * x - kMixMultR * y;
  result ^= result >> kXShift;
  return result;
}

// `_gen_mask`: the smallest all-ones bit pattern >= max.
uint64_t gen_mask(uint64_t max) noexcept {
  uint64_t mask = max;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  return mask;
}

}  // namespace

std::vector<uint32_t> seed_sequence_generate_state(uint64_t entropy, std::size_t n_words) {
  // _int_to_uint32_array: little-endian 32-bit words, [0] for zero.
  std::vector<uint32_t> entropy_words;
  if (entropy == 0) entropy_words.push_back(0);
  for (uint64_t e = entropy; e > 0; e >>= 32) entropy_words.push_back(static_cast<uint32_t>(e));

  // mix_entropy
  uint32_t pool[kPoolSize];
  uint32_t hash_const = kInitA;
  for (std::size_t i = 0; i < kPoolSize; ++i)
    pool[i] = hashmix(i < entropy_words.size() ? entropy_words[i] : 0u, hash_const);
  for (std::size_t src = 0; src < kPoolSize; ++src)
    for (std::size_t dst = 0; dst < kPoolSize; ++dst)
      if (src != dst) pool[dst] = mix(pool[dst], hashmix(pool[src], hash_const));
  for (std::size_t src = kPoolSize; src < entropy_words.size(); ++src)
    for (std::size_t dst = 0; dst < kPoolSize; ++dst)
      pool[dst] = mix(pool[dst], hashmix(entropy_words[src], hash_const));

  // generate_state
  std::vector<uint32_t> state(n_words);
  uint32_t hash_b = kInitB;
  for (std::size_t i = 0; i < n_words; ++i) {
    uint32_t v = pool[i % kPoolSize];
    v ^= hash_b;
    hash_b *= kMultB;
    v *= hash_b;
    v ^= v >> kXShift;
    state[i] = v;
  }
  return state;
}

// ---------------------------------------------------------------------------------------------
// PCG64

namespace {
constexpr Pcg64::uint128 kPcgMultiplier =
    (static_cast<Pcg64::uint128>(2549297995355413924ULL) << 64) | 4865540595714422341ULL;
}  // namespace

Pcg64::Pcg64(uint64_t seed) noexcept {
  // PCG64.__init__: generate_state(4, uint64) = little-endian pairs of 32-bit words;
  // pcg64_set_seed(seed = words[0..1], inc = words[2..3]) with PCG_128BIT_CONSTANT(hi=[0], lo=[1]).
  const std::vector<uint32_t> w = seed_sequence_generate_state(seed, 8);
  uint64_t v[4];
  for (int i = 0; i < 4; ++i) v[i] = static_cast<uint64_t>(w[2 * i]) | (static_cast<uint64_t>(w[2 * i + 1]) << 32);
  const uint128 initstate = (static_cast<uint128>(v[0]) << 64) | v[1];
  const uint128 initseq = (static_cast<uint128>(v[2]) << 64) | v[3];
  // pcg_setseq_128_srandom_r
  state_ = 0;
  inc_ = (initseq << 1u) | 1u;
  step();
  state_ += initstate;
  step();
}

Pcg64 Pcg64::from_state(uint128 state, uint128 inc) noexcept {
  Pcg64 g;
  g.state_ = state;
  g.inc_ = inc;
  return g;
}

void Pcg64::step() noexcept { state_ = state_ * kPcgMultiplier + inc_; }

uint64_t Pcg64::next64() noexcept {
  // pcg64_random_r: step, then the XSL-RR output of the new state.
  step();
  const uint64_t value = static_cast<uint64_t>(state_ >> 64) ^ static_cast<uint64_t>(state_);
  const unsigned rot = static_cast<unsigned>(state_ >> 122);
  return (value >> rot) | (value << ((-rot) & 63u));
}

uint32_t Pcg64::next32() noexcept {
  if (has_uint32_) {
    has_uint32_ = false;
    return uinteger_;
  }
  const uint64_t next = next64();
  has_uint32_ = true;
  uinteger_ = static_cast<uint32_t>(next >> 32);
  return static_cast<uint32_t>(next & 0xffffffffu);
}

double Pcg64::random() noexcept {
  return static_cast<double>(next64() >> 11) * (1.0 / 9007199254740992.0);
}

void Pcg64::random(std::span<double> out) noexcept {
  for (double& v : out) v = random();
}

uint64_t Pcg64::bounded(uint64_t rng) noexcept {
  if (rng == 0) return 0;
  if (rng <= 0xFFFFFFFFULL) {
    if (rng == 0xFFFFFFFFULL) return next32();
    // buffered_bounded_lemire_uint32
    const uint32_t rng32 = static_cast<uint32_t>(rng);
    const uint32_t rng_excl = rng32 + 1u;
    uint64_t m = static_cast<uint64_t>(next32()) * rng_excl;
    uint32_t leftover = static_cast<uint32_t>(m & 0xFFFFFFFFu);
    if (leftover < rng_excl) {
      const uint32_t threshold = (UINT32_MAX - rng32) % rng_excl;
      while (leftover < threshold) {
        m = static_cast<uint64_t>(next32()) * rng_excl;
        leftover = static_cast<uint32_t>(m & 0xFFFFFFFFu);
      }
    }
    return m >> 32;
  }
  if (rng == 0xFFFFFFFFFFFFFFFFULL) return next64();
  // bounded_lemire_uint64
  const uint64_t rng_excl = rng + 1;
  uint128 m = static_cast<uint128>(next64()) * rng_excl;
  uint64_t leftover = static_cast<uint64_t>(m);
  if (leftover < rng_excl) {
    const uint64_t threshold = (UINT64_MAX - rng) % rng_excl;
    while (leftover < threshold) {
      m = static_cast<uint128>(next64()) * rng_excl;
      leftover = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

int64_t Pcg64::integers(int64_t low, int64_t high) noexcept {
  const uint64_t rng = static_cast<uint64_t>(high) - static_cast<uint64_t>(low) - 1u;
  return static_cast<int64_t>(static_cast<uint64_t>(low) + bounded(rng));
}

void Pcg64::integers(int64_t low, int64_t high, std::span<int64_t> out) noexcept {
  for (int64_t& v : out) v = integers(low, high);
}

uint64_t Pcg64::random_interval(uint64_t max) noexcept {
  if (max == 0) return 0;
  const uint64_t mask = gen_mask(max);
  uint64_t value;
  if (max <= 0xffffffffULL) {
    while ((value = (next32() & mask)) > max) {
    }
  } else {
    while ((value = (next64() & mask)) > max) {
    }
  }
  return value;
}

void Pcg64::shuffle_int(std::span<int64_t> data, std::size_t first) noexcept {
  for (std::size_t i = data.size(); i-- > first;) {
    const std::size_t j = static_cast<std::size_t>(bounded(i));
    std::swap(data[i], data[j]);
  }
}

std::vector<int64_t> Pcg64::choice(int64_t n, int64_t k) {
  const uint64_t pop = static_cast<uint64_t>(n);
  const uint64_t size = static_cast<uint64_t>(k);
  constexpr uint64_t kCutoff = 50;  // shuffle=True
  if (pop > 10000 && size > pop / kCutoff) {
    // Tail shuffle of arange(n), keep the last k.
    std::vector<int64_t> idx(pop);
    for (uint64_t i = 0; i < pop; ++i) idx[i] = static_cast<int64_t>(i);
    shuffle_int(idx, static_cast<std::size_t>(std::max<uint64_t>(pop - size, 1)));
    return {idx.end() - static_cast<std::ptrdiff_t>(size), idx.end()};
  }
  // Floyd's algorithm with numpy's linear-probing set of size 2^ceil(log2(1.2 k)).
  std::vector<int64_t> idx(size);
  const uint64_t mask = gen_mask(static_cast<uint64_t>(1.2 * static_cast<double>(size)));
  constexpr uint64_t kEmpty = ~uint64_t{0};
  std::vector<uint64_t> hash_set(mask + 1, kEmpty);
  for (uint64_t j = pop - size; j < pop; ++j) {
    const uint64_t val = bounded(j);
    uint64_t loc = val & mask;
    while (hash_set[loc] != kEmpty && hash_set[loc] != val) loc = (loc + 1) & mask;
    if (hash_set[loc] == kEmpty) {
      hash_set[loc] = val;
      idx[j - pop + size] = static_cast<int64_t>(val);
    } else {
      loc = j & mask;
      while (hash_set[loc] != kEmpty) loc = (loc + 1) & mask;
      hash_set[loc] = j;
      idx[j - pop + size] = static_cast<int64_t>(j);
    }
  }
  shuffle_int(idx, 1);
  return idx;
}

// ---------------------------------------------------------------------------------------------
// MT19937 (legacy RandomState)

namespace {
constexpr int kMtN = 624;
constexpr int kMtM = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfu;
constexpr uint32_t kUpperMask = 0x80000000u;
constexpr uint32_t kLowerMask = 0x7fffffffu;
}  // namespace

Mt19937RandomState::Mt19937RandomState(uint32_t seed) noexcept {
  // mt19937_seed (= init_genrand)
  for (int pos = 0; pos < kMtN; ++pos) {
    key_[pos] = seed;
    seed = 1812433253u * (seed ^ (seed >> 30)) + static_cast<uint32_t>(pos + 1);
  }
  pos_ = kMtN;
}

void Mt19937RandomState::generate() noexcept {
  int i = 0;
  uint32_t y;
  for (; i < kMtN - kMtM; ++i) {
    y = (key_[i] & kUpperMask) | (key_[i + 1] & kLowerMask);
    key_[i] = key_[i + kMtM] ^ (y >> 1) ^ (-(y & 1u) & kMatrixA);
  }
  for (; i < kMtN - 1; ++i) {
    y = (key_[i] & kUpperMask) | (key_[i + 1] & kLowerMask);
    key_[i] = key_[i + (kMtM - kMtN)] ^ (y >> 1) ^ (-(y & 1u) & kMatrixA);
  }
  y = (key_[kMtN - 1] & kUpperMask) | (key_[0] & kLowerMask);
  key_[kMtN - 1] = key_[kMtM - 1] ^ (y >> 1) ^ (-(y & 1u) & kMatrixA);
  pos_ = 0;
}

uint32_t Mt19937RandomState::next32() noexcept {
  if (pos_ == kMtN) generate();
  uint32_t y = key_[pos_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= (y >> 18);
  return y;
}

uint64_t Mt19937RandomState::next64() noexcept {
  // numpy writes `(uint64_t)mt19937_next(state) << 32 | mt19937_next(state)`, whose operand
  // order C leaves unspecified; the first draw is taken as the high half here. Not checked against
  // numpy: only legacy randint with a range above 2^32 uses it, which mosaic never asks for.
  const uint64_t hi = next32();
  const uint64_t lo = next32();
  return (hi << 32) | lo;
}

double Mt19937RandomState::random_sample() noexcept {
  const int32_t a = static_cast<int32_t>(next32() >> 5);
  const int32_t b = static_cast<int32_t>(next32() >> 6);
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

double Mt19937RandomState::uniform(double low, double high) noexcept {
  return low + (high - low) * random_sample();
}

int64_t Mt19937RandomState::randint(int64_t low, int64_t high) noexcept {
  const uint64_t rng = static_cast<uint64_t>(high) - static_cast<uint64_t>(low) - 1u;
  const uint64_t off = static_cast<uint64_t>(low);
  if (rng == 0) return low;
  uint64_t value;
  if (rng <= 0xFFFFFFFFULL) {
    if (rng == 0xFFFFFFFFULL) return static_cast<int64_t>(off + next32());
    const uint32_t mask = static_cast<uint32_t>(gen_mask(rng));
    uint32_t v;
    while ((v = (next32() & mask)) > rng) {
    }
    value = v;
  } else if (rng == 0xFFFFFFFFFFFFFFFFULL) {
    value = next64();
  } else {
    const uint64_t mask = gen_mask(rng);
    while ((value = (next64() & mask)) > rng) {
    }
  }
  return static_cast<int64_t>(off + value);
}

double Mt19937RandomState::gauss() noexcept {
  // legacy_gauss
  if (has_gauss_) {
    const double tmp = gauss_;
    has_gauss_ = false;
    gauss_ = 0.0;
    return tmp;
  }
  double x1, x2, r2;
  do {
    x1 = 2.0 * random_sample() - 1.0;
    x2 = 2.0 * random_sample() - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  const double f = std::sqrt(-2.0 * std::log(r2) / r2);
  gauss_ = f * x1;
  has_gauss_ = true;
  return f * x2;
}

double Mt19937RandomState::normal(double loc, double scale) noexcept { return loc + scale * gauss(); }

namespace {
// cdf = cumsum(p) / cdf[-1] (sequential: add.accumulate), then searchsorted side="right".
int64_t search_right(const std::vector<double>& cdf, double u) noexcept {
  return static_cast<int64_t>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
}
std::vector<double> normalised_cdf(std::span<const double> p) {
  std::vector<double> cdf(p.size());
  double acc = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) cdf[i] = (acc += p[i]);
  const double last = cdf.back();
  for (double& c : cdf) c /= last;
  return cdf;
}
}  // namespace

int64_t Mt19937RandomState::choice(std::span<const double> p) {
  const std::vector<double> cdf = normalised_cdf(p);
  return search_right(cdf, random_sample());
}

void Mt19937RandomState::choice(std::span<const double> p, std::span<int64_t> out) {
  const std::vector<double> cdf = normalised_cdf(p);
  std::vector<double> u(out.size());
  for (double& v : u) v = random_sample();
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = search_right(cdf, u[i]);
}

}  // namespace mosaic::kernels
