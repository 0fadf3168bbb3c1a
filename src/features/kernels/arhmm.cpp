#include "features/kernels/arhmm.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "features/kernels/kmeans.hpp"
#include "features/kernels/random.hpp"

namespace mosaic::kernels {

namespace {

using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;
using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr double kReg = 1e-6;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double logsumexp(const double* v, std::size_t n, std::size_t stride = 1) noexcept {
  double m = kNegInf;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, v[i * stride]);
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += std::exp(v[i * stride] - m);
  return m + std::log(s);
}

// Design of one sequence's effective frames t = L..T-1: inputs [x_{t-1}; ...; x_{t-L}; 1] and
// outputs x_t.
void design(const double* x, std::size_t length, std::size_t dim, int lags, Mat& xin, Mat& xout) {
  const std::size_t L = static_cast<std::size_t>(lags);
  const std::size_t te = length > L ? length - L : 0;
  const auto din = static_cast<Eigen::Index>(dim * L + 1);
  xin.resize(static_cast<Eigen::Index>(te), din);
  xout.resize(static_cast<Eigen::Index>(te), static_cast<Eigen::Index>(dim));
  for (std::size_t t = 0; t < te; ++t) {
    const auto r = static_cast<Eigen::Index>(t);
    for (std::size_t l = 0; l < L; ++l)
      for (std::size_t d = 0; d < dim; ++d)
        xin(r, static_cast<Eigen::Index>(l * dim + d)) = x[(t + L - 1 - l) * dim + d];
    xin(r, din - 1) = 1.0;
    for (std::size_t d = 0; d < dim; ++d) xout(r, static_cast<Eigen::Index>(d)) = x[(t + L) * dim + d];
  }
}

Eigen::Map<RowMat> a_of(ArhmmModel& m, int k) {
  return {m.a.data() + static_cast<std::size_t>(k) * m.dim * m.dim_in(), m.dim, m.dim_in()};
}
Eigen::Map<const RowMat> a_of(const ArhmmModel& m, int k) {
  return {m.a.data() + static_cast<std::size_t>(k) * m.dim * m.dim_in(), m.dim, m.dim_in()};
}
Eigen::Map<RowMat> q_of(ArhmmModel& m, int k) {
  return {m.q.data() + static_cast<std::size_t>(k) * m.dim * m.dim, m.dim, m.dim};
}
Eigen::Map<const RowMat> q_of(const ArhmmModel& m, int k) {
  return {m.q.data() + static_cast<std::size_t>(k) * m.dim * m.dim, m.dim, m.dim};
}

// A = 0.9 I on the first lag block, Q = I: the reference's start for states without data.
void fallback_state(ArhmmModel& m, int k) {
  auto a = a_of(m, k);
  a.setZero();
  for (int d = 0; d < m.dim; ++d) a(d, d) = 0.9;
  q_of(m, k).setIdentity();
}

void emissions(const ArhmmModel& m, const Mat& xin, const Mat& xout, Mat& e) {
  const Eigen::Index te = xin.rows();
  e.resize(te, m.n_states);
  const double c = -0.5 * m.dim * std::log(2.0 * std::numbers::pi);
  for (int k = 0; k < m.n_states; ++k) {
    Mat r = xout - xin * a_of(m, k).transpose();
    Eigen::LLT<Mat> llt(Mat(q_of(m, k)));
    const Mat& l = llt.matrixL();
    double logdet = 0;
    for (int d = 0; d < m.dim; ++d) logdet += 2.0 * std::log(l(d, d));
    Mat z = llt.matrixL().solve(r.transpose());
    e.col(k) = (c - 0.5 * logdet) - 0.5 * z.colwise().squaredNorm().transpose().array();
  }
}

struct Stats {
  std::vector<Mat> sii, soi, soo;
  std::vector<double> nk;
  Mat xi;               // K x K expected transitions
  Eigen::VectorXd g0;   // sum of first-frame posteriors
  Eigen::VectorXd usage;
  double frames = 0;
  double ll = 0;
};

// Forward-backward on one sequence; accumulates the sufficient statistics.
void e_step_sequence(const ArhmmModel& m, const Mat& xin, const Mat& xout, Stats& s) {
  const int K = m.n_states;
  const Eigen::Index te = xin.rows();
  if (te == 0) return;
  Mat e;
  emissions(m, xin, xout, e);
  RowMat alpha(te, K), beta(te, K);
  std::vector<double> tmp(static_cast<std::size_t>(K));
  for (int k = 0; k < K; ++k) alpha(0, k) = m.log_start[static_cast<std::size_t>(k)] + e(0, k);
  for (Eigen::Index t = 1; t < te; ++t)
    for (int j = 0; j < K; ++j) {
      for (int i = 0; i < K; ++i) tmp[static_cast<std::size_t>(i)] = alpha(t - 1, i) + m.log_trans[static_cast<std::size_t>(i * K + j)];
      alpha(t, j) = logsumexp(tmp.data(), static_cast<std::size_t>(K)) + e(t, j);
    }
  for (int k = 0; k < K; ++k) beta(te - 1, k) = 0.0;
  for (Eigen::Index t = te - 2; t >= 0; --t)
    for (int i = 0; i < K; ++i) {
      for (int j = 0; j < K; ++j)
        tmp[static_cast<std::size_t>(j)] = m.log_trans[static_cast<std::size_t>(i * K + j)] + e(t + 1, j) + beta(t + 1, j);
      beta(t, i) = logsumexp(tmp.data(), static_cast<std::size_t>(K));
    }
  const double ll = logsumexp(&alpha(te - 1, 0), static_cast<std::size_t>(K));
  s.ll += ll;
  Mat gamma(te, K);
  for (Eigen::Index t = 0; t < te; ++t) {
    for (int k = 0; k < K; ++k) tmp[static_cast<std::size_t>(k)] = alpha(t, k) + beta(t, k);
    const double z = logsumexp(tmp.data(), static_cast<std::size_t>(K));
    for (int k = 0; k < K; ++k) gamma(t, k) = std::exp(tmp[static_cast<std::size_t>(k)] - z);
  }
  std::vector<double> lx(static_cast<std::size_t>(K * K));
  for (Eigen::Index t = 0; t + 1 < te; ++t) {
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < K; ++j)
        lx[static_cast<std::size_t>(i * K + j)] =
            alpha(t, i) + m.log_trans[static_cast<std::size_t>(i * K + j)] + e(t + 1, j) + beta(t + 1, j);
    const double z = logsumexp(lx.data(), lx.size());
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < K; ++j) s.xi(i, j) += std::exp(lx[static_cast<std::size_t>(i * K + j)] - z);
  }
  s.g0 += gamma.row(0).transpose();
  s.usage += gamma.colwise().sum().transpose();
  s.frames += static_cast<double>(te);
  for (int k = 0; k < K; ++k) {
    const Eigen::VectorXd w = gamma.col(k);
    const Mat win = xin.array().colwise() * w.array();
    s.sii[static_cast<std::size_t>(k)] += win.transpose() * xin;
    s.soi[static_cast<std::size_t>(k)] += xout.transpose() * win;
    s.soo[static_cast<std::size_t>(k)] += (xout.array().colwise() * w.array()).matrix().transpose() * xout;
    s.nk[static_cast<std::size_t>(k)] += w.sum();
  }
}

struct Data {
  std::vector<Mat> xin, xout;
};

Stats e_step(const ArhmmModel& m, const Data& data) {
  Stats s;
  const int K = m.n_states, din = m.dim_in();
  s.sii.assign(static_cast<std::size_t>(K), Mat::Zero(din, din));
  s.soi.assign(static_cast<std::size_t>(K), Mat::Zero(m.dim, din));
  s.soo.assign(static_cast<std::size_t>(K), Mat::Zero(m.dim, m.dim));
  s.nk.assign(static_cast<std::size_t>(K), 0.0);
  s.xi = Mat::Zero(K, K);
  s.g0 = Eigen::VectorXd::Zero(K);
  s.usage = Eigen::VectorXd::Zero(K);
  for (std::size_t i = 0; i < data.xin.size(); ++i) e_step_sequence(m, data.xin[i], data.xout[i], s);
  return s;
}

void set_trans(ArhmmModel& m, const Mat& counts, const Eigen::VectorXd& start) {
  const int K = m.n_states;
  m.log_trans.assign(static_cast<std::size_t>(K * K), 0.0);
  for (int i = 0; i < K; ++i) {
    const double row = counts.row(i).sum();
    for (int j = 0; j < K; ++j) m.log_trans[static_cast<std::size_t>(i * K + j)] = std::log(counts(i, j) / row);
  }
  m.log_start.assign(static_cast<std::size_t>(K), 0.0);
  const double tot = start.sum();
  for (int k = 0; k < K; ++k) m.log_start[static_cast<std::size_t>(k)] = std::log(start(k) / tot);
}

void m_step(ArhmmModel& m, const Stats& s, double sticky) {
  const int K = m.n_states, din = m.dim_in();
  for (int k = 0; k < K; ++k) {
    const double nk = s.nk[static_cast<std::size_t>(k)];
    if (nk < 1e-10) {
      fallback_state(m, k);
      continue;
    }
    const Mat sii = s.sii[static_cast<std::size_t>(k)] + kReg * Mat::Identity(din, din);
    const Mat& soi = s.soi[static_cast<std::size_t>(k)];
    // A = S_oi (S_ii + reg I)^-1, through a Cholesky solve of the symmetric system.
    const Mat a = sii.llt().solve(soi.transpose()).transpose();
    Mat q = (s.soo[static_cast<std::size_t>(k)] - a * soi.transpose()) / nk;
    q = 0.5 * (q + q.transpose()) + kReg * Mat::Identity(m.dim, m.dim);
    const double min_eig = Eigen::SelfAdjointEigenSolver<Mat>(q, Eigen::EigenvaluesOnly).eigenvalues().minCoeff();
    if (min_eig < kReg) q += (std::fabs(min_eig) + kReg) * Mat::Identity(m.dim, m.dim);
    a_of(m, k) = a;
    q_of(m, k) = q;
  }
  Mat counts = s.xi.array() + 1e-10;
  counts.diagonal().array() += sticky;
  Eigen::VectorXd start = s.g0.array() + 1e-10;
  set_trans(m, counts, start);
}

}  // namespace

void arhmm_log_emissions(const ArhmmModel& m, const double* x, std::size_t length, std::vector<double>& out) {
  Mat xin, xout, e;
  design(x, length, static_cast<std::size_t>(m.dim), m.n_lags, xin, xout);
  emissions(m, xin, xout, e);
  out.resize(static_cast<std::size_t>(e.size()));
  for (Eigen::Index t = 0; t < e.rows(); ++t)
    for (Eigen::Index k = 0; k < e.cols(); ++k) out[static_cast<std::size_t>(t * e.cols() + k)] = e(t, k);
}

ArhmmModel arhmm_fit(const double* x, std::span<const std::size_t> lengths, std::size_t dim, const ArhmmOptions& o) {
  const int K = o.n_states, L = o.n_lags;
  std::size_t total = 0;
  for (std::size_t n : lengths) total += n;
  Data data;
  std::vector<std::size_t> offsets;
  {
    std::size_t off = 0;
    for (std::size_t n : lengths) {
      offsets.push_back(off);
      data.xin.emplace_back();
      data.xout.emplace_back();
      design(x + off * dim, n, dim, L, data.xin.back(), data.xout.back());
      off += n;
    }
  }
  std::vector<float> x32(x, x + total * dim);
  Pcg64 rng(o.random_state);
  ArhmmModel best;
  bool have_best = false;
  for (int restart = 0; restart < std::max(1, o.n_restarts); ++restart) {
    const auto seed = static_cast<uint32_t>(rng.integers(0, int64_t{1} << 31));
    ArhmmModel m;
    m.n_states = K;
    m.dim = static_cast<int>(dim);
    m.n_lags = L;
    const int din = m.dim_in();
    m.a.assign(static_cast<std::size_t>(K) * dim * static_cast<std::size_t>(din), 0.0);
    m.q.assign(static_cast<std::size_t>(K) * dim * dim, 0.0);
    const int k_eff = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(K), total));
    Mt19937RandomState rs(seed);
    KMeansResult km = kmeans_fit(x32.data(), total, dim, {.n_clusters = k_eff}, rs);
    // Effective labels (t >= L in each sequence) per sequence.
    std::vector<std::vector<int32_t>> eff(lengths.size());
    for (std::size_t s = 0; s < lengths.size(); ++s)
      for (std::size_t t = static_cast<std::size_t>(L); t < lengths[s]; ++t) eff[s].push_back(km.labels[offsets[s] + t]);
    for (int k = 0; k < K; ++k) {
      std::size_t nk = 0;
      for (const auto& e : eff) nk += static_cast<std::size_t>(std::count(e.begin(), e.end(), k));
      if (nk < static_cast<std::size_t>(din) + 1) {
        fallback_state(m, k);
        continue;
      }
      Mat xin(static_cast<Eigen::Index>(nk), din), xout(static_cast<Eigen::Index>(nk), static_cast<Eigen::Index>(dim));
      Eigen::Index r = 0;
      for (std::size_t s = 0; s < eff.size(); ++s)
        for (std::size_t t = 0; t < eff[s].size(); ++t)
          if (eff[s][t] == k) {
            xin.row(r) = data.xin[s].row(static_cast<Eigen::Index>(t));
            xout.row(r) = data.xout[s].row(static_cast<Eigen::Index>(t));
            ++r;
          }
      const Mat xtx = xin.transpose() * xin + kReg * Mat::Identity(din, din);
      const Mat a = xtx.llt().solve((xout.transpose() * xin).transpose()).transpose();
      const Mat resid = xout - xin * a.transpose();
      a_of(m, k) = a;
      q_of(m, k) = resid.transpose() * resid / static_cast<double>(nk) + kReg * Mat::Identity(static_cast<Eigen::Index>(dim), static_cast<Eigen::Index>(dim));
    }
    Mat counts = Mat::Ones(K, K);
    counts.diagonal().array() += o.sticky_weight;
    for (const auto& e : eff)
      for (std::size_t t = 1; t < e.size(); ++t) counts(e[t - 1], e[t]) += 1.0;
    set_trans(m, counts, Eigen::VectorXd::Ones(K));
    double prev = 0;
    int it = 0;
    for (; it < o.n_iter; ++it) {
      Stats s = e_step(m, data);
      m.log_likelihood = s.ll;
      if (it > 0 && std::fabs(s.ll - prev) / std::max(std::fabs(prev), 1.0) < o.tol) break;
      prev = s.ll;
      m_step(m, s, o.sticky_weight);
    }
    m.n_iter = it;
    if (!have_best || m.log_likelihood > best.log_likelihood) {
      best = std::move(m);
      have_best = true;
    }
  }
  // Prune states whose mean posterior usage (a fresh E-step on the kept model) is below the
  // threshold; the kept transition rows and the start distribution are renormalised.
  Stats s = e_step(best, data);
  std::vector<int> keep;
  for (int k = 0; k < K; ++k)
    if (s.frames > 0 && s.usage(k) / s.frames >= o.prune_threshold) keep.push_back(k);
  if (keep.empty()) {
    Eigen::Index arg = 0;
    s.usage.maxCoeff(&arg);
    keep.push_back(static_cast<int>(arg));
  }
  ArhmmModel out;
  out.n_states = static_cast<int>(keep.size());
  out.dim = best.dim;
  out.n_lags = L;
  out.log_likelihood = best.log_likelihood;
  out.n_iter = best.n_iter;
  const std::size_t asz = dim * static_cast<std::size_t>(best.dim_in()), qsz = dim * dim;
  Mat counts(out.n_states, out.n_states);
  Eigen::VectorXd start(out.n_states);
  for (std::size_t i = 0; i < keep.size(); ++i) {
    const auto ki = static_cast<std::size_t>(keep[i]);
    out.a.insert(out.a.end(), best.a.begin() + static_cast<std::ptrdiff_t>(ki * asz), best.a.begin() + static_cast<std::ptrdiff_t>((ki + 1) * asz));
    out.q.insert(out.q.end(), best.q.begin() + static_cast<std::ptrdiff_t>(ki * qsz), best.q.begin() + static_cast<std::ptrdiff_t>((ki + 1) * qsz));
    start(static_cast<Eigen::Index>(i)) = std::exp(best.log_start[ki]);
    for (std::size_t j = 0; j < keep.size(); ++j)
      counts(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) =
          std::exp(best.log_trans[ki * static_cast<std::size_t>(K) + static_cast<std::size_t>(keep[j])]);
    out.usage.push_back(s.frames > 0 ? s.usage(keep[i]) / s.frames : 0.0);
  }
  set_trans(out, counts, start);
  return out;
}

void arhmm_viterbi(const ArhmmModel& m, const double* x, std::size_t length, std::span<int32_t> labels) {
  const int K = m.n_states;
  const auto L = static_cast<std::size_t>(m.n_lags);
  if (length <= L) {
    const auto best = std::max_element(m.log_start.begin(), m.log_start.end()) - m.log_start.begin();
    std::fill(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(length), static_cast<int32_t>(best));
    return;
  }
  std::vector<double> e;
  arhmm_log_emissions(m, x, length, e);
  const std::size_t te = length - L;
  std::vector<double> delta(te * static_cast<std::size_t>(K));
  std::vector<int32_t> back(te * static_cast<std::size_t>(K), 0);
  for (int k = 0; k < K; ++k) delta[static_cast<std::size_t>(k)] = m.log_start[static_cast<std::size_t>(k)] + e[static_cast<std::size_t>(k)];
  for (std::size_t t = 1; t < te; ++t)
    for (int j = 0; j < K; ++j) {
      double bv = kNegInf;
      int32_t bi = 0;
      for (int i = 0; i < K; ++i) {
        const double v = delta[(t - 1) * static_cast<std::size_t>(K) + static_cast<std::size_t>(i)] +
                         m.log_trans[static_cast<std::size_t>(i * K + j)];
        if (v > bv) {
          bv = v;
          bi = i;
        }
      }
      delta[t * static_cast<std::size_t>(K) + static_cast<std::size_t>(j)] = bv + e[t * static_cast<std::size_t>(K) + static_cast<std::size_t>(j)];
      back[t * static_cast<std::size_t>(K) + static_cast<std::size_t>(j)] = bi;
    }
  const double* last = delta.data() + (te - 1) * static_cast<std::size_t>(K);
  auto state = static_cast<int32_t>(std::max_element(last, last + K) - last);
  for (std::size_t t = te; t-- > 0;) {
    labels[t + L] = state;
    if (t > 0) state = back[t * static_cast<std::size_t>(K) + static_cast<std::size_t>(state)];
  }
  for (std::size_t t = 0; t < L; ++t) labels[t] = labels[L];
}

}  // namespace mosaic::kernels
