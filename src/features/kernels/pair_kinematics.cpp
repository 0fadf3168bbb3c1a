#include "features/kernels/pair_kinematics.hpp"

#include <cmath>
#include <numbers>

#include "features/kernels/signal.hpp"

namespace mosaic::kernels {

namespace {

// numpy.unwrap's correction for one step (0 when |d| < pi, NaN propagates).
inline double unwrap_correction(double d) noexcept {
  constexpr double kPi = std::numbers::pi;
  double dm = py_mod(d + kPi, 2 * kPi) - kPi;
  if (dm == -kPi && d > 0) dm = kPi;
  double corr = dm - d;
  if (std::fabs(d) < kPi) corr = 0;
  return corr;
}

}  // namespace

void unwrapped_gradient(std::span<const double> theta, double fps, std::span<double> out) noexcept {
  const std::size_t n = theta.size();
  if (n < 2) return;
  // c_i: correction of the step i-1 -> i
  auto corr = [&](std::size_t i) { return unwrap_correction(theta[i] - theta[i - 1]); };
  {
    const double c1 = corr(1);
    out[0] = (c1 == 0 ? theta[1] - theta[0] : (theta[1] + c1) - theta[0]) * fps;
  }
  double c_prev = corr(1);
  for (std::size_t i = 1; i + 1 < n; ++i) {
    const double c_next = corr(i + 1);
    const double c = c_prev + c_next;
    const double num = c == 0 ? theta[i + 1] - theta[i - 1] : (theta[i + 1] + c) - theta[i - 1];
    out[i] = num / 2.0 * fps;
    c_prev = c_next;
  }
  {
    const double cl = corr(n - 1);
    out[n - 1] = (cl == 0 ? theta[n - 1] - theta[n - 2] : (theta[n - 1] + cl) - theta[n - 2]) * fps;
  }
}

bool pair_ego_features(const PairSide& a, const PairSide& b, double fps, std::span<float> ab, std::span<float> ba,
                       PairKinematicsScratch& scratch) {
  const std::size_t t_len = a.cx.size();
  if (t_len < 2) return false;
  scratch.buf.resize(6 * t_len);
  std::span<double> vax(scratch.buf.data(), t_len), vay(scratch.buf.data() + t_len, t_len);
  std::span<double> vbx(scratch.buf.data() + 2 * t_len, t_len), vby(scratch.buf.data() + 3 * t_len, t_len);
  std::span<double> wa(scratch.buf.data() + 4 * t_len, t_len), wb(scratch.buf.data() + 5 * t_len, t_len);
  gradient(a.cx, vax);
  gradient(a.cy, vay);
  gradient(b.cx, vbx);
  gradient(b.cy, vby);
  unwrapped_gradient(a.theta, fps, wa);
  unwrapped_gradient(b.theta, fps, wb);
  auto put = [t_len](std::span<float> out, std::size_t k, std::size_t t, double v) {
    out[k * t_len + t] = static_cast<float>(v);
  };
  for (std::size_t t = 0; t < t_len; ++t) {
    // np.gradient(c) * fps
    const double ax = vax[t] * fps, ay = vay[t] * fps, bx = vbx[t] * fps, by = vby[t] * fps;
    const double speed_a = std::sqrt(ax * ax + ay * ay);
    const double speed_b = std::sqrt(bx * bx + by * by);
    const double uxa = a.ux[t], uya = a.uy[t], uxb = b.ux[t], uyb = b.uy[t];
    const double oxa = -uya, oya = uxa, oxb = -uyb, oyb = uxb;
    const double va_para = ax * uxa + ay * uya;
    const double va_perp = ax * oxa + ay * oya;
    const double vb_para = bx * uxb + by * uyb;
    const double vb_perp = bx * oxb + by * oyb;
    const double dx = b.cx[t] - a.cx[t];
    const double dy = b.cy[t] - a.cy[t];
    const double dist = std::sqrt(dx * dx + dy * dy);
    const double dxa = dx * uxa + dy * uya;
    const double dya = dx * oxa + dy * oya;
    const double dxb = (-dx) * uxb + (-dy) * uyb;
    const double dyb = (-dx) * oxb + (-dy) * oyb;
    const double dth = b.theta[t] - a.theta[t];
    const double tha = a.theta[t], thb = b.theta[t];
    const double values_ab[15] = {speed_a,      va_para,      va_perp, wa[t],         std::cos(tha),
                                  std::sin(tha), dist,        dxa,     dya,           std::cos(dth),
                                  std::sin(dth), speed_b,     vb_para, vb_perp,       wb[t]};
    const double values_ba[15] = {speed_b,      vb_para,      vb_perp, wb[t],          std::cos(thb),
                                  std::sin(thb), dist,        dxb,     dyb,            std::cos(-dth),
                                  std::sin(-dth), speed_a,    va_para, va_perp,        wa[t]};
    for (std::size_t k = 0; k < 15; ++k) {
      put(ab, k, t, values_ab[k]);
      put(ba, k, t, values_ba[k]);
    }
  }
  return true;
}

}  // namespace mosaic::kernels
