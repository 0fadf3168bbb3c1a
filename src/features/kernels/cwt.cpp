// cwt.cpp: port of PyWavelets 1.9 (pywt/_cwt.py cwt 'conv', _functions.py integrate_wavelet /
// central_frequency, c/cwt.template.c cmor) plus the float32 log-power of PairWavelet.apply.
#include "features/kernels/cwt.hpp"

#include <fftw3.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>
#include <string>

namespace mosaic::kernels {
namespace {

constexpr double kLowerBound = -8.0;  // pywt cmor support
constexpr double kUpperBound = 8.0;
// Direct sums up to this many multiply-adds per scale; FFT above (see MorletCwt::coefficients).
constexpr std::size_t kDirectWorkLimit = std::size_t{1} << 16;

// --- FFTW plumbing: the planner is not thread-safe, executing a plan on new arrays is. --------

struct FftwFree {
  void operator()(void* p) const noexcept { fftw_free(p); }
};
using FftwBuffer = std::unique_ptr<fftw_complex[], FftwFree>;

FftwBuffer fftw_buffer(std::size_t n) {
  return FftwBuffer(static_cast<fftw_complex*>(fftw_malloc(sizeof(fftw_complex) * std::max<std::size_t>(n, 1))));
}

struct PlanPair {
  fftw_plan forward = nullptr;
  fftw_plan backward = nullptr;
};

// One plan pair per size, made once with FFTW_ESTIMATE (deterministic, cheap to plan) on
// fftw_malloc'd buffers, so any other fftw_malloc'd buffer has a compatible alignment.
// Plans live for the whole process.
PlanPair plans_for(std::size_t n) {
  static std::mutex mutex;
  static std::map<std::size_t, PlanPair> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  FftwBuffer a = fftw_buffer(n), b = fftw_buffer(n);
  PlanPair p;
  p.forward = fftw_plan_dft_1d(static_cast<int>(n), a.get(), b.get(), FFTW_FORWARD, FFTW_ESTIMATE);
  p.backward = fftw_plan_dft_1d(static_cast<int>(n), a.get(), b.get(), FFTW_BACKWARD, FFTW_ESTIMATE);
  cache.emplace(n, p);
  return p;
}

// Smallest 2^a 3^b 5^c 7^d >= n (sizes FFTW handles with its fastest codelets).
std::size_t fast_length(std::size_t n) {
  std::size_t best = std::size_t{1};
  while (best < n) best <<= 1;
  for (std::size_t p7 = 1; p7 < best; p7 *= 7)
    for (std::size_t p5 = p7; p5 < best; p5 *= 5)
      for (std::size_t p3 = p5; p3 < best; p3 *= 3) {
        std::size_t v = p3;
        while (v < n) v <<= 1;
        best = std::min(best, v);
      }
  return best;
}

// --- per-scale pieces ----------------------------------------------------------------------

struct ScaleGeometry {
  std::size_t filter_length = 0;  // after dropping indices past int_psi's end
  std::size_t first = 0;          // floor(d): first kept index into diff(conv)
  bool valid = false;             // d >= 0
};

ScaleGeometry geometry(std::size_t filter_length) {
  ScaleGeometry g;
  g.filter_length = filter_length;
  // coef = diff(conv) has n + L - 2 values; d = (L - 2) / 2 must be >= 0.
  if (filter_length < 2) return g;
  g.valid = true;
  g.first = (filter_length - 2) / 2;  // floor(d); the end trim is ceil(d), leaving n values
  return g;
}

// coef[t] = -sqrt_f32(s) * (conv[t + 1] - conv[t]), conv holding the n + 1 full-convolution
// values from index floor(d) on.
void coef_from_conv(const std::complex<double>* conv, std::size_t n, float scale,
                    std::span<std::complex<double>> out) {
  const double neg_sqrt = -static_cast<double>(std::sqrt(scale));  // np.sqrt of a float32 scalar
  for (std::size_t t = 0; t < n; ++t) {
    const std::complex<double> d = conv[t + 1] - conv[t];
    out[t] = {neg_sqrt * d.real(), neg_sqrt * d.imag()};
  }
}

// Direct full-convolution values conv[c] for c in [c0, c0 + count).
void direct_conv(std::span<const double> x, std::span<const std::complex<double>> f, std::size_t c0,
                 std::size_t count, std::complex<double>* conv) {
  const std::size_t n = x.size(), l = f.size();
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t c = c0 + i;
    const std::size_t k_lo = c + 1 > n ? c + 1 - n : 0;
    const std::size_t k_hi = std::min(c, l - 1);
    double re = 0.0, im = 0.0;
    for (std::size_t k = k_lo; k <= k_hi; ++k) {
      const double xv = x[c - k];
      re += xv * f[k].real();
      im += xv * f[k].imag();
    }
    conv[i] = {re, im};
  }
}

bool all_finite(std::span<const double> x) {
  return std::all_of(x.begin(), x.end(), [](double v) { return std::isfinite(v); });
}

float log_power_value(const std::complex<double>& c, float log_floor) {
  const double modulus = std::hypot(c.real(), c.imag());  // np.abs(complex128)
  const auto power = static_cast<float>(modulus * modulus);
  const float lp = numpy_logf(power + FLT_MIN);  // float32 log of float32 power + tiny
  return std::isnan(lp) ? lp : std::max(lp, log_floor);  // np.maximum keeps NaN
}

}  // namespace

namespace {

// numpy's simd_log_FLOAT (loops_exponent_log.dispatch.c.src, AVX2/FMA3 and AVX512F bodies):
// mantissa in [sqrt(1/2), sqrt(2)), log(1 + x) = P(x) / Q(x) with 5th-order Remez polynomials
// evaluated by fused multiply-adds, plus exponent * ln 2. Constants from npy_simd_data.h.
// `Fma` is a correctly rounded float fma (hardware or libm), so both paths give equal bits.
template <class Fma>
[[gnu::always_inline]] inline float numpy_logf_body(float x_in, Fma fma) noexcept {
  constexpr float kP[6] = {0.000000000000000000000e+00f, 9.999999999999998702752e-01f,
                           2.112677543073053063722e+00f, 1.480000633576506585156e+00f,
                           3.808837741388407920751e-01f, 2.589979117907922693523e-02f};
  constexpr float kQ[6] = {1.000000000000000000000e+00f, 2.612677543073109236779e+00f,
                           2.453006071784736363091e+00f, 9.864942958519418960339e-01f,
                           1.546476374983906719538e-01f, 5.875095403124574342950e-03f};
  constexpr float kLogE2 = 0.693147180559945309417232121458176568f;   // NPY_LOGE2f
  constexpr float kSqrt1_2 = 0.707106781186547524400844362104849039f;  // NPY_SQRT1_2f
  if (std::isnan(x_in)) return std::numeric_limits<float>::quiet_NaN();
  if (x_in < 0.0f) return -std::numeric_limits<float>::quiet_NaN();
  if (x_in == 0.0f) return -std::numeric_limits<float>::infinity();
  if (std::isinf(x_in)) return std::numeric_limits<float>::infinity();
  float x = x_in;
  float exponent_bias = 0.0f;
  if (x < FLT_MIN) {  // denormal: pre-scale by 2^100
    x *= 0x1p100f;
    exponent_bias = 100.0f;
  }
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  float exponent = static_cast<float>(static_cast<int32_t>(bits >> 23) - 0x7E) - exponent_bias;
  x = std::bit_cast<float>((bits & 0x7FFFFFu) | (126u << 23));  // mantissa in [0.5, 1)
  if (x <= kSqrt1_2) {
    x = x + x;
    exponent = exponent - 1.0f;
  }
  x = x - 1.0f;
  float num = fma(kP[5], x, kP[4]);
  num = fma(num, x, kP[3]);
  num = fma(num, x, kP[2]);
  num = fma(num, x, kP[1]);
  num = fma(num, x, kP[0]);
  float den = fma(kQ[5], x, kQ[4]);
  den = fma(den, x, kQ[3]);
  den = fma(den, x, kQ[2]);
  den = fma(den, x, kQ[1]);
  den = fma(den, x, kQ[0]);
  return fma(exponent, kLogE2, num / den);
}

struct LibmFma {
  [[gnu::always_inline]] float operator()(float a, float b, float c) const noexcept { return std::fma(a, b, c); }
};
struct HardwareFma {
  [[gnu::always_inline]] float operator()(float a, float b, float c) const noexcept { return __builtin_fmaf(a, b, c); }
};

float numpy_logf_portable(float x) noexcept { return numpy_logf_body(x, LibmFma{}); }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// The library is built for baseline x86-64, where std::fma is a slow libm call; use the FMA3
// instruction when the CPU has it (same correctly rounded result, ~7x faster).
[[gnu::target("fma")]] float numpy_logf_fma3(float x) noexcept { return numpy_logf_body(x, HardwareFma{}); }
const bool kHasFma3 = __builtin_cpu_supports("fma");
#endif

}  // namespace

float numpy_logf(float x) noexcept {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (kHasFma3) return numpy_logf_fma3(x);
#endif
  return numpy_logf_portable(x);
}

std::optional<ComplexMorlet> parse_cmor(std::string_view name) noexcept {
  if (name.substr(0, 4) != "cmor") return std::nullopt;
  name.remove_prefix(4);
  const std::size_t dash = name.find('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  ComplexMorlet w;
  const std::string_view b = name.substr(0, dash), c = name.substr(dash + 1);
  auto rb = std::from_chars(b.data(), b.data() + b.size(), w.bandwidth);
  auto rc = std::from_chars(c.data(), c.data() + c.size(), w.center);
  if (rb.ec != std::errc() || rb.ptr != b.data() + b.size() || rc.ec != std::errc() ||
      rc.ptr != c.data() + c.size() || c.empty())
    return std::nullopt;
  return w;
}

void linspace(double start, double stop, std::span<double> out) noexcept {
  const std::size_t num = out.size();
  if (num == 0) return;
  if (num == 1) {
    out[0] = start;
    return;
  }
  const double step = (stop - start) / static_cast<double>(num - 1);
  for (std::size_t i = 0; i < num; ++i) out[i] = static_cast<double>(i) * step + start;
  out[num - 1] = stop;
}

void cmor_wavefun(const ComplexMorlet& w, std::span<std::complex<double>> psi, std::span<double> x) noexcept {
  linspace(kLowerBound, kUpperBound, x);
  const double pi = std::numbers::pi;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double xi = x[i];
    const double envelope = std::exp(-std::pow(xi, 2.0) / w.bandwidth);
    const double norm = std::sqrt(pi * w.bandwidth);
    const double re = std::cos(2 * pi * w.center * xi) * envelope / norm;
    const double im = std::sin(2 * pi * w.center * xi) * envelope / norm;
    psi[i] = {re, im};  // psi_r + 1j * psi_i
  }
}

double central_frequency(const ComplexMorlet& wavelet, int precision) {
  const std::size_t n = std::size_t{1} << precision;
  std::vector<std::complex<double>> psi(n);
  std::vector<double> x(n);
  cmor_wavefun(wavelet, psi, x);
  const double domain = x[n - 1] - x[0];
  // |FFT(psi)[k]| for k >= 1, by a direct DFT in long double: only the argmax matters.
  std::size_t best_k = 1;
  long double best = -1.0L;
  const long double two_pi = 2.0L * std::numbers::pi_v<long double>;
  for (std::size_t k = 1; k < n; ++k) {
    long double re = 0.0L, im = 0.0L;
    for (std::size_t t = 0; t < n; ++t) {
      const long double ang = -two_pi * static_cast<long double>((k * t) % n) / static_cast<long double>(n);
      const long double c = std::cos(ang), s = std::sin(ang);
      re += psi[t].real() * c - psi[t].imag() * s;
      im += psi[t].real() * s + psi[t].imag() * c;
    }
    const long double mag = re * re + im * im;
    if (mag > best) {
      best = mag;
      best_k = k;
    }
  }
  // index = argmax(|fft[1:]|) + 2; folded when past the middle.
  double index = static_cast<double>(best_k - 1 + 2);
  if (index > static_cast<double>(n) / 2.0) index = static_cast<double>(n) - index + 2.0;
  return 1.0 / (domain / (index - 1.0));
}

WaveletBand wavelet_band(double f_min, double f_max, int n_freq, double fps, const ComplexMorlet& wavelet) {
  WaveletBand band;
  band.central_frequency = central_frequency(wavelet, 8);
  std::vector<double> y(static_cast<std::size_t>(std::max(n_freq, 0)));
  linspace(std::log2(f_min), std::log2(f_max), y);
  for (double yi : y) {
    const double freq = std::pow(2.0, yi);
    band.frequencies.push_back(static_cast<float>(freq));
    band.scales.push_back(static_cast<float>(fps / (freq * band.central_frequency)));
  }
  return band;
}

MorletCwt::MorletCwt(const ComplexMorlet& wavelet, int precision)
    : x_(std::size_t{1} << precision), int_psi_(std::size_t{1} << precision) {
  std::vector<std::complex<double>> psi(x_.size());
  cmor_wavefun(wavelet, psi, x_);
  const double step = x_[1] - x_[0];
  // np.cumsum (sequential per component), *= step, then conj.
  double re = 0.0, im = 0.0;
  for (std::size_t i = 0; i < psi.size(); ++i) {
    re += psi[i].real();
    im += psi[i].imag();
    int_psi_[i] = {re * step, -(im * step)};
  }
}

std::vector<std::complex<double>> MorletCwt::scale_filter(float scale) const {
  const double s = static_cast<double>(scale);
  const double step = x_[1] - x_[0];
  const double stop = s * (x_.back() - x_.front()) + 1.0;
  const auto length = static_cast<std::size_t>(std::ceil(stop));  // np.arange(stop).size
  const double denom = s * step;
  std::vector<std::size_t> j;
  j.reserve(length);
  for (std::size_t k = 0; k < length; ++k) {
    const auto idx = static_cast<std::size_t>(static_cast<double>(k) / denom);  // astype(int)
    if (idx < int_psi_.size()) j.push_back(idx);  // np.extract(j < int_psi.size, j)
  }
  std::vector<std::complex<double>> filter(j.size());
  for (std::size_t k = 0; k < j.size(); ++k) filter[k] = int_psi_[j[j.size() - 1 - k]];  // [::-1]
  return filter;
}

bool MorletCwt::coefficients(std::span<const double> signal, float scale, std::span<std::complex<double>> out,
                             CwtMethod method) const {
  const std::size_t n = signal.size();
  const std::vector<std::complex<double>> f = scale_filter(scale);
  const ScaleGeometry g = geometry(f.size());
  if (!g.valid) return false;
  if (n == 0) return true;
  const bool use_fft = method == CwtMethod::kFft || (method == CwtMethod::kAuto && n * f.size() > kDirectWorkLimit);
  std::vector<std::complex<double>> conv(n + 1);
  if (use_fft && all_finite(signal)) {
    const std::size_t m = fast_length(n + f.size() - 1);
    const PlanPair plans = plans_for(m);
    FftwBuffer xa = fftw_buffer(m), xf = fftw_buffer(m), fa = fftw_buffer(m), ff = fftw_buffer(m);
    for (std::size_t i = 0; i < m; ++i) {
      xa[i][0] = i < n ? signal[i] : 0.0;
      xa[i][1] = 0.0;
      fa[i][0] = i < f.size() ? f[i].real() : 0.0;
      fa[i][1] = i < f.size() ? f[i].imag() : 0.0;
    }
    fftw_execute_dft(plans.forward, xa.get(), xf.get());
    fftw_execute_dft(plans.forward, fa.get(), ff.get());
    for (std::size_t i = 0; i < m; ++i) {
      const std::complex<double> p = std::complex<double>(xf[i][0], xf[i][1]) * std::complex<double>(ff[i][0], ff[i][1]);
      fa[i][0] = p.real();
      fa[i][1] = p.imag();
    }
    fftw_execute_dft(plans.backward, fa.get(), xa.get());
    const double inv = 1.0 / static_cast<double>(m);
    for (std::size_t i = 0; i <= n; ++i) conv[i] = {xa[g.first + i][0] * inv, xa[g.first + i][1] * inv};
  } else {
    direct_conv(signal, f, g.first, n + 1, conv.data());
  }
  coef_from_conv(conv.data(), n, scale, out);
  return true;
}

bool MorletCwt::log_power(std::span<const double> signal, std::span<const float> scales, float log_floor,
                          std::span<float> out, CwtMethod method) const {
  return log_power(signal, 1, scales, log_floor, out, method);
}

bool MorletCwt::log_power(std::span<const double> signals, std::size_t n_signals, std::span<const float> scales,
                          float log_floor, std::span<float> out, CwtMethod method) const {
  const std::size_t n = n_signals == 0 ? 0 : signals.size() / n_signals;
  std::vector<std::vector<std::complex<double>>> filters;
  std::size_t max_len = 0;
  for (float s : scales) {
    filters.push_back(scale_filter(s));
    if (!geometry(filters.back().size()).valid) return false;
    max_len = std::max(max_len, filters.back().size());
  }
  if (n == 0) return true;
  auto signal_of = [&](std::size_t k) { return signals.subspan(k * n, n); };
  std::vector<uint8_t> finite(n_signals);
  for (std::size_t k = 0; k < n_signals; ++k) finite[k] = all_finite(signal_of(k));

  // The padded spectra of the finite signals, computed on first use and shared by every scale.
  const std::size_t m = fast_length(n + max_len - 1);
  PlanPair plans;
  std::vector<FftwBuffer> spectra(n_signals);
  FftwBuffer buf_a, buf_b, filter_spectrum;
  std::vector<std::complex<double>> conv(n + 1), coef(n);
  for (std::size_t i = 0; i < scales.size(); ++i) {
    const auto& f = filters[i];
    const ScaleGeometry g = geometry(f.size());
    const bool use_fft = method == CwtMethod::kFft || (method == CwtMethod::kAuto && n * f.size() > kDirectWorkLimit);
    bool filter_ready = false;
    for (std::size_t k = 0; k < n_signals; ++k) {
      const std::span<const double> x = signal_of(k);
      if (use_fft && finite[k]) {
        if (!buf_a) {
          plans = plans_for(m);
          buf_a = fftw_buffer(m);
          buf_b = fftw_buffer(m);
          filter_spectrum = fftw_buffer(m);
        }
        if (!spectra[k]) {
          spectra[k] = fftw_buffer(m);
          for (std::size_t t = 0; t < m; ++t) {
            buf_a[t][0] = t < n ? x[t] : 0.0;
            buf_a[t][1] = 0.0;
          }
          fftw_execute_dft(plans.forward, buf_a.get(), spectra[k].get());
        }
        if (!filter_ready) {
          for (std::size_t t = 0; t < m; ++t) {
            buf_a[t][0] = t < f.size() ? f[t].real() : 0.0;
            buf_a[t][1] = t < f.size() ? f[t].imag() : 0.0;
          }
          fftw_execute_dft(plans.forward, buf_a.get(), filter_spectrum.get());
          filter_ready = true;
        }
        const fftw_complex* xs = spectra[k].get();
        for (std::size_t t = 0; t < m; ++t) {
          const double re = xs[t][0] * filter_spectrum[t][0] - xs[t][1] * filter_spectrum[t][1];
          const double im = xs[t][0] * filter_spectrum[t][1] + xs[t][1] * filter_spectrum[t][0];
          buf_b[t][0] = re;
          buf_b[t][1] = im;
        }
        fftw_execute_dft(plans.backward, buf_b.get(), buf_a.get());
        const double inv = 1.0 / static_cast<double>(m);
        for (std::size_t t = 0; t <= n; ++t) conv[t] = {buf_a[g.first + t][0] * inv, buf_a[g.first + t][1] * inv};
      } else {
        direct_conv(x, f, g.first, n + 1, conv.data());
      }
      coef_from_conv(conv.data(), n, scales[i], coef);
      float* dst = &out[(k * scales.size() + i) * n];
      for (std::size_t t = 0; t < n; ++t) dst[t] = log_power_value(coef[t], log_floor);
    }
  }
  return true;
}

}  // namespace mosaic::kernels
