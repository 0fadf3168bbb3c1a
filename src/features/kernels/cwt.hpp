// cwt.hpp: the continuous wavelet transform of pair-wavelet, as PyWavelets 1.9 `pywt.cwt(...,
// method="conv", precision=12)` computes it for the complex Morlet wavelet "cmorB-C", and the
// float32 log-power the feature stores (spec features.md §1.3, golden pin
// "pin-pywt19-cwt-precision12").
//
// Steps (all float64 unless marked): psi sampled at 2^precision points of linspace(-8, 8);
// int_psi = conj(cumsum(psi) * step); per scale s (a float32 value) the filter
// int_psi[floor(k / (s * step))] reversed, k = 0 .. ceil(16 s + 1) - 1 (indices past the end
// dropped); full convolution with the signal; coef = -sqrt_f32(s) * diff(conv), trimmed to the
// signal length; power = float32(|coef|^2); log-power = max(log_f32(power + FLT_MIN), floor).
//
// The convolution is a direct sum (numpy's np.convolve) or an FFTW convolution of the whole
// signal; `CwtMethod::kAuto` takes the direct sum for short work and FFT otherwise (see
// MorletCwt::coefficients for the measured error). Non-finite samples always use the direct sum,
// so a NaN only spoils the outputs whose window contains it, as in numpy.
//
//   const ComplexMorlet w = *parse_cmor("cmor1.5-1.0");
//   const WaveletBand band = wavelet_band(0.2, 5.0, 25, 30.0, w);   // float32 freqs and scales
//   const MorletCwt cwt(w);                                          // precision 12
//   std::vector<float> logp(band.scales.size() * n);
//   cwt.log_power(signal, band.scales, -3.0f, logp);                 // scale-major rows
#pragma once

#include <complex>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace mosaic::kernels {

/// Complex Morlet "cmorB-C": B = bandwidth frequency, C = center frequency; support [-8, 8].
struct ComplexMorlet {
  double bandwidth = 1.5;
  double center = 1.0;
};

/// \brief Parse a PyWavelets name "cmorB-C" (e.g. "cmor1.5-1.0"); nullopt for anything else.
std::optional<ComplexMorlet> parse_cmor(std::string_view name) noexcept;

/// \brief numpy `linspace(start, stop, num)` (endpoint=True): start + i * ((stop - start) / (num - 1)),
/// the last value set to stop exactly.
void linspace(double start, double stop, std::span<double> out) noexcept;

/// \brief `ContinuousWavelet.wavefun(length=n)` for cmor: x = linspace(-8, 8, n) and
/// psi(x) = cos(2 pi C x) exp(-x^2 / B) / sqrt(pi B) + i sin(2 pi C x) exp(-x^2 / B) / sqrt(pi B),
/// in PyWavelets' C operation order.
void cmor_wavefun(const ComplexMorlet& wavelet, std::span<std::complex<double>> psi, std::span<double> x) noexcept;

/// \brief `pywt.central_frequency(wavelet, precision)`: the dominant frequency of psi sampled at
/// 2^precision points (argmax of |FFT(psi)[1:]|, folded), over the domain length 16.
/// Exactly 1.0 for cmor1.5-1.0 at the default precision 8.
double central_frequency(const ComplexMorlet& wavelet, int precision = 8);

/// The band pair-wavelet analyses: float32 frequencies and the float32 scales given to the CWT.
struct WaveletBand {
  std::vector<float> frequencies;  ///< float32(2 ** linspace(log2 f_min, log2 f_max, n_freq))
  std::vector<float> scales;       ///< float32(fps / (freqs * central_frequency)), float64 before the cast
  double central_frequency = 1.0;  ///< central_frequency(wavelet, 8)
};

/// \brief PairWavelet._prepare_band: np.logspace(log2 f_min, log2 f_max, n_freq, base=2) as
/// pow(2, y), scales from the float64 frequencies, both cast to float32.
WaveletBand wavelet_band(double f_min, double f_max, int n_freq, double fps, const ComplexMorlet& wavelet);

/// \brief numpy's float32 `np.log` on x86 (the AVX2/FMA3 and AVX512F `simd_log_FLOAT` kernel:
/// a 5th/5th-order rational approximation with fused multiply-adds, max error 3.83 ulp), so
/// pair-wavelet's log-power rounds like the reference rather than like a correctly rounded logf.
float numpy_logf(float x) noexcept;

/// How the per-scale convolution is evaluated.
enum class CwtMethod : uint8_t {
  kAuto,    ///< direct for short work (filter length x signal length below a threshold), FFT otherwise
  kDirect,  ///< direct sums, numpy np.convolve semantics (except summation order inside BLAS zdotu)
  kFft,     ///< FFTW convolution of the whole signal (falls back to direct on non-finite samples)
};

/// \brief CWT with one complex Morlet wavelet; holds int_psi (2^precision samples). Immutable
/// after construction, so one instance can serve several threads.
class MorletCwt {
 public:
  explicit MorletCwt(const ComplexMorlet& wavelet, int precision = 12);

  /// \brief The integrated wavelet conj(cumsum(psi) * step), 2^precision samples.
  std::span<const std::complex<double>> int_psi() const noexcept { return int_psi_; }
  /// \brief The convolution filter for one scale: int_psi[j] reversed (pywt's int_psi_scale).
  std::vector<std::complex<double>> scale_filter(float scale) const;

  /// \brief Coefficients for one scale, out.size() == signal.size(). Returns false (out
  /// untouched) when the scale is too small for the signal (pywt: "Selected scale ... too small",
  /// i.e. a filter shorter than 2 samples). An empty signal returns true.
  ///
  /// FFT vs direct (measured in tests/kernels/cwt_test.cpp): against a long-double direct sum
  /// the FFT coefficients are off by at most ~1e-14 of the scale's largest |coef| and the double
  /// direct sums by ~8e-14 (random-walk signals, scales 6-150, n up to 1000). On every golden PCA
  /// signal (4 datasets x 2 variants, 330768 values) both paths give pair-wavelet's float32
  /// log-power bit for bit, so the 1e-5 tolerance is never approached; kAuto therefore uses FFT
  /// whenever the direct sum would cost more than 2^16 multiply-adds per scale.
  bool coefficients(std::span<const double> signal, float scale, std::span<std::complex<double>> out,
                    CwtMethod method = CwtMethod::kAuto) const;

  /// \brief pair-wavelet's log-power for every scale: out[i * n + t] (scale-major, n =
  /// signal.size()) = max(logf(float32(|coef|^2) + FLT_MIN), log_floor) in float32; NaN
  /// propagates. Returns false (out untouched) when a scale is too small.
  bool log_power(std::span<const double> signal, std::span<const float> scales, float log_floor,
                 std::span<float> out, CwtMethod method = CwtMethod::kAuto) const;
  /// \brief The same for n_signals signals of equal length n (signals: n_signals x n,
  /// row-major; out: n_signals x scales x n). Equal to calling the single-signal form per
  /// signal, but each scale's filter spectrum is computed once for all signals (the FFT path
  /// then costs one inverse FFT per signal and scale).
  bool log_power(std::span<const double> signals, std::size_t n_signals, std::span<const float> scales,
                 float log_floor, std::span<float> out, CwtMethod method = CwtMethod::kAuto) const;

 private:
  std::vector<double> x_;                      // linspace(-8, 8, 2^precision)
  std::vector<std::complex<double>> int_psi_;  // conj(cumsum(psi) * step)
};

}  // namespace mosaic::kernels
