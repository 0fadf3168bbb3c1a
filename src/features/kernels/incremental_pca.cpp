// incremental_pca.cpp: port of sklearn 1.8 decomposition/_incremental_pca.py (partial_fit),
// utils/extmath.py (_incremental_mean_and_var, svd_flip) and decomposition/_base.py (transform).
#include "features/kernels/incremental_pca.hpp"

#include <Eigen/Core>
#include <Eigen/SVD>

#include <algorithm>
#include <cmath>

namespace mosaic::kernels {
namespace {

template <class Scalar>
using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Thin SVD; returns singular values and Vt (min(rows, cols) x cols), svd_flip applied to Vt:
// each row is multiplied by the sign of its first largest-magnitude entry.
template <class Scalar>
void svd_flipped(const RowMatrix<Scalar>& x, std::vector<double>& s_out, RowMatrix<Scalar>& vt) {
  Eigen::BDCSVD<Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>> svd(x, Eigen::ComputeThinV);
  const auto& s = svd.singularValues();
  vt = svd.matrixV().transpose();
  s_out.assign(s.data(), s.data() + s.size());
  for (Eigen::Index r = 0; r < vt.rows(); ++r) {
    Eigen::Index arg = 0;
    Scalar best = -1;
    for (Eigen::Index c = 0; c < vt.cols(); ++c) {
      if (std::abs(vt(r, c)) > best) {  // np.argmax: first maximum
        best = std::abs(vt(r, c));
        arg = c;
      }
    }
    const Scalar v = vt(r, arg);
    const Scalar sign = v > 0 ? Scalar(1) : (v < 0 ? Scalar(-1) : Scalar(0));  // np.sign
    vt.row(r) *= sign;
  }
}

}  // namespace

IncrementalPca::FitStatus IncrementalPca::partial_fit(const float* x, std::size_t rows, std::size_t features) {
  const bool first = n_samples_seen_ == 0;
  if (first) {
    if (static_cast<std::size_t>(n_components_) > features) return FitStatus::kFeatureMismatch;
    if (static_cast<std::size_t>(n_components_) > rows) return FitStatus::kTooFewRows;
    n_features_ = features;
    mean_.assign(features, 0.0);
    var_.assign(features, 0.0);
  } else if (features != n_features_) {
    return FitStatus::kFeatureMismatch;
  }
  if (rows == 0) return FitStatus::kOk;
  const std::size_t d = features;
  const auto k = static_cast<std::size_t>(n_components_);
  const auto m = static_cast<double>(rows);

  // _incremental_mean_and_var: float64 column sums of the float32 batch (sequential, axis 0).
  std::vector<double> new_sum(d, 0.0), correction(d, 0.0), new_uvar(d, 0.0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < d; ++c) new_sum[c] += static_cast<double>(x[r * d + c]);
  for (std::size_t c = 0; c < d; ++c) {
    const double t = new_sum[c] / m;
    for (std::size_t r = 0; r < rows; ++r) {
      const double v = static_cast<double>(x[r * d + c]) - t;
      correction[c] += v;
      new_uvar[c] += v * v;
    }
    new_uvar[c] -= correction[c] * correction[c] / m;
  }
  const auto last_count = static_cast<double>(n_samples_seen_);
  const double updated_count = last_count + m;
  std::vector<double> col_mean(d), col_var(d);
  for (std::size_t c = 0; c < d; ++c) {
    const double last_sum = mean_[c] * last_count;
    col_mean[c] = (last_sum + new_sum[c]) / updated_count;
    if (first) {
      col_var[c] = new_uvar[c] / updated_count;
    } else {
      const double last_over_new = last_count / m;
      const double diff = last_sum / last_over_new - new_sum[c];
      const double uvar = var_[c] * last_count + new_uvar[c] + last_over_new / updated_count * (diff * diff);
      col_var[c] = uvar / updated_count;
    }
  }

  std::vector<double> s;
  if (first) {
    // X -= col_mean in place on the float32 batch: computed in float64, stored as float32.
    RowMatrix<float> xc(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(d));
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < d; ++c)
        xc(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) =
            static_cast<float>(static_cast<double>(x[r * d + c]) - col_mean[c]);
    RowMatrix<float> vt;
    svd_flipped(xc, s, vt);
    components_.assign(k * d, 0.0);
    for (std::size_t i = 0; i < k; ++i)
      for (std::size_t c = 0; c < d; ++c)
        components_[i * d + c] = static_cast<double>(vt(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(c)));
    // S is float32 in the reference.
    for (double& v : s) v = static_cast<double>(static_cast<float>(v));
    float32_state_ = true;
  } else {
    // Batch mean in float32 (np.mean of a float32 array along axis 0: sequential float32 sums).
    std::vector<float> batch_mean(d, 0.0f);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < d; ++c) batch_mean[c] += x[r * d + c];
    for (float& b : batch_mean) b = static_cast<float>(static_cast<double>(b) / m);
    const double scale = std::sqrt((last_count / updated_count) * m);
    const std::size_t stacked = k + rows + 1;
    RowMatrix<double> xs(static_cast<Eigen::Index>(stacked), static_cast<Eigen::Index>(d));
    for (std::size_t i = 0; i < k; ++i) {
      for (std::size_t c = 0; c < d; ++c) {
        // S[:, None] * components: a float32 product while the state is still float32.
        const double v = float32_state_ ? static_cast<double>(static_cast<float>(singular_values_[i]) *
                                                              static_cast<float>(components_[i * d + c]))
                                        : singular_values_[i] * components_[i * d + c];
        xs(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(c)) = v;
      }
    }
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < d; ++c)
        xs(static_cast<Eigen::Index>(k + r), static_cast<Eigen::Index>(c)) = static_cast<double>(x[r * d + c] - batch_mean[c]);
    for (std::size_t c = 0; c < d; ++c)
      xs(static_cast<Eigen::Index>(stacked - 1), static_cast<Eigen::Index>(c)) =
          scale * (mean_[c] - static_cast<double>(batch_mean[c]));
    RowMatrix<double> vt;
    svd_flipped(xs, s, vt);
    components_.assign(k * d, 0.0);
    for (std::size_t i = 0; i < k; ++i)
      for (std::size_t c = 0; c < d; ++c) components_[i * d + c] = vt(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(c));
    float32_state_ = false;
  }

  n_samples_seen_ += static_cast<int64_t>(rows);
  mean_ = std::move(col_mean);
  var_ = std::move(col_var);
  singular_values_.assign(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(k));
  double total_var = 0.0;
  for (double v : var_) total_var += v * static_cast<double>(n_samples_seen_);
  std::vector<double> ev(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) ev[i] = s[i] * s[i] / static_cast<double>(n_samples_seen_ - 1);
  explained_variance_.assign(ev.begin(), ev.begin() + static_cast<std::ptrdiff_t>(k));
  explained_variance_ratio_.resize(k);
  for (std::size_t i = 0; i < k; ++i) explained_variance_ratio_[i] = s[i] * s[i] / total_var;
  noise_variance_ = 0.0;
  if (k != rows && k != d && ev.size() > k) {
    double sum = 0.0;
    for (std::size_t i = k; i < ev.size(); ++i) sum += ev[i];
    noise_variance_ = sum / static_cast<double>(ev.size() - k);
  }
  return FitStatus::kOk;
}

void IncrementalPca::transform(const float* x, std::size_t rows, double* out) const noexcept {
  const std::size_t d = n_features_;
  const auto k = static_cast<std::size_t>(n_components_);
  std::vector<double> mean_proj(k, 0.0);  // mean_ @ components_.T (float64)
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t c = 0; c < d; ++c) mean_proj[i] += mean_[c] * components_[i * d + c];
  for (std::size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    for (std::size_t i = 0; i < k; ++i) {
      double dot = 0.0;
      for (std::size_t c = 0; c < d; ++c) dot += static_cast<double>(xr[c]) * components_[i * d + c];
      if (float32_state_) {
        // float32 X @ float32 C.T is a float32 array; subtracting the float64 mean projection
        // in place keeps float32.
        out[r * k + i] = static_cast<double>(static_cast<float>(static_cast<double>(static_cast<float>(dot)) - mean_proj[i]));
      } else {
        out[r * k + i] = dot - mean_proj[i];
      }
    }
  }
}

IncrementalPca IncrementalPca::from_state(int n_components, std::size_t n_features, int64_t n_samples_seen,
                                          std::vector<double> components, std::vector<double> singular_values,
                                          std::vector<double> mean, std::vector<double> var, bool float32_state) {
  IncrementalPca p(n_components);
  p.n_features_ = n_features;
  p.n_samples_seen_ = n_samples_seen;
  p.components_ = std::move(components);
  p.singular_values_ = std::move(singular_values);
  p.mean_ = std::move(mean);
  p.var_ = std::move(var);
  p.float32_state_ = float32_state;
  const auto k = static_cast<std::size_t>(n_components);
  p.explained_variance_.resize(k);
  p.explained_variance_ratio_.resize(k);
  double total_var = 0.0;
  for (double v : p.var_) total_var += v * static_cast<double>(n_samples_seen);
  for (std::size_t i = 0; i < k && i < p.singular_values_.size(); ++i) {
    const double s2 = p.singular_values_[i] * p.singular_values_[i];
    p.explained_variance_[i] = s2 / static_cast<double>(n_samples_seen - 1);
    p.explained_variance_ratio_[i] = s2 / total_var;
  }
  return p;
}

}  // namespace mosaic::kernels
