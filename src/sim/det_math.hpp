// det_math.hpp: bit-reproducible exp, log, sin/cos and atan2 for the simulator (private).
//
// Why not <cmath>: libm results differ in the last bit between glibc versions, macOS and MSVC,
// and the simulator feeds its results back into itself (positions accumulate, distances switch
// behaviour modes), so a single ulp can change a whole trajectory. These functions use only
// + - * /, sqrt, floor, frexp, ldexp and fmod, which IEEE 754 defines exactly, in a fixed order,
// so every conforming machine and compiler gives the same bits (as long as the compiler does not
// contract a*b+c into an FMA: GCC does not in ISO mode (-std=c++20, our CMake setting), and Clang
// is told so by the pragma below). Accuracy is a few ulp over the ranges the simulator uses, which
// tests/unit/simulate_test.cpp checks against <cmath>.
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

// No FMA contraction here: a fused a*b+c rounds once instead of twice, so its bits depend on
// whether the target has FMA (-march=native) and on the compiler's default. Clang honours the
// standard pragma; GCC ignores it (and in C++ contracts by default even in ISO mode), so it gets
// its own. simulate.cpp repeats the GCC one for its own code.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

namespace mosaic::sim {

inline constexpr double kPi = 3.141592653589793;
inline constexpr double kTwoPi = 6.283185307179586;
inline constexpr double kHalfPi = 1.5707963267948966;

namespace detail {

// ln2/32 split so that n * kExpStepHi is exact for |n| < 2^21 (Cody and Waite), and 2^(j/32)
// rounded to nearest (from mpmath).
inline constexpr double kExpInvStep = 46.16624130844683;
inline constexpr double kExpStepHi = 0.02166084938653512;
inline constexpr double kExpStepLo = 5.9631716539705866e-12;
inline constexpr double kExp2Table[32] = {
    1.0, 1.0218971486541166, 1.0442737824274138, 1.0671404006768237,
    1.0905077326652577, 1.1143867425958924, 1.1387886347566916, 1.1637248587775775,
    1.189207115002721, 1.215247359980469, 1.241857812073484, 1.2690509571917332,
    1.2968395546510096, 1.3252366431597413, 1.3542555469368927, 1.383909881963832,
    1.4142135623730951, 1.4451808069770467, 1.4768261459394993, 1.5091644275934228,
    1.5422108254079407, 1.5759808451078865, 1.6104903319492543, 1.645755478153965,
    1.681792830507429, 1.718619298122478, 1.7562521603732995, 1.7947090750031072,
    1.8340080864093424, 1.8741676341103, 1.9152065613971474, 1.9571441241754002};
// ln 2 split so that n * kLn2Hi is exact for |n| < 2^21 (Cody and Waite).
inline constexpr double kLn2Hi = 0.6931471803691238;
inline constexpr double kLn2Lo = 1.9082149292705877e-10;
inline constexpr double kSqrtHalf = 0.7071067811865476;
// pi/2 in three 33-bit parts: n * part is exact for |n| < 2^20.
inline constexpr double kPio2Part1 = 1.5707963267341256;
inline constexpr double kPio2Part2 = 6.077100506303966e-11;
inline constexpr double kPio2Part3 = 2.0222662487959506e-21;
inline constexpr double kTwoOverPi = 0.6366197723675814;
// atan(j/8) for j = 0..8 as hi + lo (from mpmath).
inline constexpr double kAtanEighthsHi[9] = {
    0.0, 0.12435499454676144, 0.24497866312686414, 0.35877067027057225, 0.4636476090008061,
    0.5585993153435624, 0.6435011087932844, 0.7188299996216245, 0.7853981633974483};
inline constexpr double kAtanEighthsLo[9] = {
    0.0, -3.1253241424539383e-18, 1.0698755618734451e-17, -2.4623815582638635e-17,
    2.2698777452961687e-17, -5.4556305485916264e-18, 1.5834785051444286e-17,
    -2.1478388444456983e-17, 3.061616997868383e-17};
inline constexpr double kHalfPiLo = 6.123233995736766e-17;
inline constexpr double kPiLo = 1.2246467991473532e-16;

// 1/n! for n = 0..18, folded by the compiler with IEEE round-to-nearest (exact and portable).
inline constexpr std::array<double, 19> kInvFactorial = [] {
  std::array<double, 19> out{};
  double factorial = 1.0;
  for (int n = 0; n < 19; ++n) {
    if (n > 0) factorial *= n;  // exact: 18! < 2^53
    out[static_cast<std::size_t>(n)] = 1.0 / factorial;
  }
  return out;
}();

// Reduced-range kernels, |r| <= pi/4.
inline double sin_kernel(double r, double r2) noexcept {
  // r - r^3/3! + ... - r^19/19! has a truncation error below 1e-19 on |r| <= pi/4.
  double p = -kInvFactorial[17];
  p = p * r2 + kInvFactorial[15];
  p = p * r2 - kInvFactorial[13];
  p = p * r2 + kInvFactorial[11];
  p = p * r2 - kInvFactorial[9];
  p = p * r2 + kInvFactorial[7];
  p = p * r2 - kInvFactorial[5];
  p = p * r2 + kInvFactorial[3];
  // sin r = r - r^3 (1/3! - r^2/5! + r^4/7! - ...) = r - r^3 p.
  return r - r * r2 * p;
}

inline double cos_kernel(double r2) noexcept {
  double p = kInvFactorial[18];
  p = p * r2 - kInvFactorial[16];
  p = p * r2 + kInvFactorial[14];
  p = p * r2 - kInvFactorial[12];
  p = p * r2 + kInvFactorial[10];
  p = p * r2 - kInvFactorial[8];
  p = p * r2 + kInvFactorial[6];
  p = p * r2 - kInvFactorial[4];
  // cos r = 1 - r^2/2 + r^4 (1/4! - r^2/6! + ...) = 1 - r^2/2 - r^4 p.
  return (1.0 - 0.5 * r2) - r2 * r2 * p;
}

// (-1)^k / (2k + 1) for k = 0..8: the atan series.
inline constexpr std::array<double, 9> kAtanSeries = [] {
  std::array<double, 9> out{};
  for (int k = 0; k < 9; ++k) out[static_cast<std::size_t>(k)] = (k % 2 == 1 ? -1.0 : 1.0) / (2 * k + 1);
  return out;
}();

// 1 / (2k + 1) for k = 0..12: the atanh series of log.
inline constexpr std::array<double, 13> kAtanhSeries = [] {
  std::array<double, 13> out{};
  for (int k = 0; k < 13; ++k) out[static_cast<std::size_t>(k)] = 1.0 / (2 * k + 1);
  return out;
}();

// atan(u) for |u| <= 1/16 by its Taylor series to u^17 (truncation < 1e-22 relative).
inline double atan_kernel(double u) noexcept {
  const double u2 = u * u;
  double p = kAtanSeries[8];
  for (std::size_t k = 8; k-- > 1;) p = kAtanSeries[k] + u2 * p;
  // atan u = u + u^3 (-1/3 + u^2/5 - ...) = u + u u^2 p.
  return u + u * u2 * p;
}

}  // namespace detail

/// \brief e^x, bit-reproducible; relative error about 1 ulp.
inline double det_exp(double x) noexcept {
  if (std::isnan(x)) return x;
  if (x > 709.0) return std::numeric_limits<double>::infinity();
  if (x < -745.0) return 0.0;
  // x = (32 m + j) ln2/32 + r with |r| <= ln2/64, so e^x = 2^m 2^(j/32) e^r (Tang's method): a
  // short polynomial keeps the dependency chain short, which is what costs in the simulator.
  const double n = std::floor(x * detail::kExpInvStep + 0.5);
  const double r = (x - n * detail::kExpStepHi) - n * detail::kExpStepLo;
  const double r2 = r * r;
  // Taylor to r^6/6!: truncation below 4e-18 relative on |r| <= 0.0109. Fixed evaluation order.
  const double high = detail::kInvFactorial[4] + r * detail::kInvFactorial[5] +
                      r2 * detail::kInvFactorial[6];
  const double low = 0.5 + r * detail::kInvFactorial[3];
  const double p = 1.0 + (r + (r2 * low + (r2 * r2) * high));
  const auto steps = static_cast<int64_t>(n);
  const int64_t m = steps >> 5;  // floor division (arithmetic shift, defined in C++20)
  const double scaled = p * detail::kExp2Table[static_cast<std::size_t>(steps & 31)];
  if (m > -1022 && m < 1023) {
    // Multiplying by an exact power of two is exact and much cheaper than a libm ldexp call.
    return scaled * std::bit_cast<double>(static_cast<uint64_t>(m + 1023) << 52);
  }
  return std::ldexp(scaled, static_cast<int>(m));
}

/// \brief Natural logarithm, bit-reproducible; NaN for x < 0, -inf for 0.
inline double det_log(double x) noexcept {
  if (std::isnan(x) || x < 0.0) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0.0) return -std::numeric_limits<double>::infinity();
  if (std::isinf(x)) return x;
  int e = 0;
  double m = std::frexp(x, &e);  // x = m 2^e, m in [0.5, 1)
  if (m < detail::kSqrtHalf) {
    m *= 2.0;
    --e;
  }
  // log m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), |s| <= 0.172, so s^2 <= 0.0295 and 13
  // terms reach 1e-19.
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double p = detail::kAtanhSeries[12];
  for (std::size_t k = 12; k-- > 1;) p = detail::kAtanhSeries[k] + s2 * p;
  const double log_m = 2.0 * s + 2.0 * s * s2 * p;  // 2 (s + s^3 p)
  const double de = static_cast<double>(e);
  return de * detail::kLn2Hi + (de * detail::kLn2Lo + log_m);
}

/// \brief sin x and cos x together, bit-reproducible; best for |x| < 1e5 (larger arguments are
/// first reduced by fmod with the double nearest 2 pi, which is exact but not the true period).
inline void det_sincos(double x, double& sin_out, double& cos_out) noexcept {
  if (!std::isfinite(x)) {
    sin_out = cos_out = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  if (std::fabs(x) > 1e5) x = std::fmod(x, kTwoPi);
  const double n = std::floor(x * detail::kTwoOverPi + 0.5);
  const double r = ((x - n * detail::kPio2Part1) - n * detail::kPio2Part2) - n * detail::kPio2Part3;
  const double r2 = r * r;
  const double s = detail::sin_kernel(r, r2);
  const double c = detail::cos_kernel(r2);
  switch (static_cast<int64_t>(n) & 3) {
    case 0: sin_out = s; cos_out = c; break;
    case 1: sin_out = c; cos_out = -s; break;
    case 2: sin_out = -s; cos_out = -c; break;
    default: sin_out = -c; cos_out = s; break;
  }
}

/// \brief atan(t) for t in [0, 1]: atan t = atan c + atan((t - c) / (1 + t c)) with c the
/// nearest multiple of 1/8, which leaves |u| <= 1/16 for a short series.
inline double det_atan_unit(double t) noexcept {
  const auto j = static_cast<std::size_t>(t * 8.0 + 0.5);
  const double c = static_cast<double>(j) * 0.125;
  const double u = (t - c) / (1.0 + t * c);
  return detail::kAtanEighthsHi[j] + (detail::kAtanEighthsLo[j] + detail::atan_kernel(u));
}

/// \brief atan2(y, x) in (-pi, pi], bit-reproducible (C's conventions for signed zeros, except
/// that -pi is returned as pi, as the canonical ANGLE range asks).
inline double det_atan2(double y, double x) noexcept {
  if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
  const double ax = std::fabs(x);
  const double ay = std::fabs(y);
  double a = 0.0;
  if (ay == 0.0) {
    a = 0.0;
  } else if (ax == 0.0) {
    a = kHalfPi;
  } else if (std::isinf(ax) && std::isinf(ay)) {
    a = detail::kAtanEighthsHi[8];
  } else if (ay <= ax) {
    a = det_atan_unit(ay / ax);
  } else {
    // atan t = pi/2 - atan(1/t); both parts keep their low words.
    const double r = ax / ay;
    const auto j = static_cast<std::size_t>(r * 8.0 + 0.5);
    const double c = static_cast<double>(j) * 0.125;
    const double u = (r - c) / (1.0 + r * c);
    a = (kHalfPi - detail::kAtanEighthsHi[j]) +
        (detail::kHalfPiLo - (detail::kAtanEighthsLo[j] + detail::atan_kernel(u)));
  }
  if (std::signbit(x)) a = (kPi - a) + detail::kPiLo;
  if (std::signbit(y) && a != kPi) a = -a;
  return a;
}

/// \brief x wrapped into (-pi, pi].
inline double wrap_angle_pi(double x) noexcept {
  if (x > kPi || x <= -kPi) {
    x -= kTwoPi * std::floor((x + kPi) / kTwoPi);  // now in [-pi, pi) up to rounding
    if (x <= -kPi) x += kTwoPi;
    if (x > kPi) x -= kTwoPi;
  }
  return x;
}

}  // namespace mosaic::sim

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
