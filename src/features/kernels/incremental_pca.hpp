// incremental_pca.hpp: scikit-learn 1.8 IncrementalPCA as pair-posedistance-pca uses it
// (partial_fit on float32 batches, transform), spec features.md §1.1.
//
// First partial_fit: float64 column mean/variance, X - mean rounded to float32, and the SVD in
// float32 (LAPACK sgesdd in the reference; Eigen's BDCSVD here), so a model fitted on one batch
// has float32 components and float32 scores like the reference. Later calls stack
// [S * components; X - batch_mean (float32); mean correction] in float64 and take a float64
// SVD; the variance uses Chan/Golub/LeVeque's combination. After every SVD the signs follow
// svd_flip(u_based_decision=False): the largest-|v| entry of each component row is positive.
// Different SVD codes agree to rounding, so components match the reference to ~1e-5 relative,
// up to the sign of components whose largest entries nearly tie.
//
//   IncrementalPca pca(6);
//   for (each chunk) pca.partial_fit(chunk.data(), rows, 91);   // float32, row-major
//   std::vector<double> scores(rows * 6);
//   pca.transform(x.data(), rows, scores.data());
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mosaic::kernels {

/// \brief The fitted state and the partial_fit / transform of sklearn's IncrementalPCA
/// (whiten=False). All state is plain vectors so it can be saved and restored exactly.
class IncrementalPca {
 public:
  enum class FitStatus : uint8_t {
    kOk,
    kTooFewRows,         ///< first batch with fewer rows than n_components (sklearn ValueError)
    kFeatureMismatch,    ///< batch width differs from the fitted width, or n_components > width
  };

  explicit IncrementalPca(int n_components) noexcept : n_components_(n_components) {}

  /// \brief One partial_fit on a float32 batch (rows x features, row-major, finite values).
  FitStatus partial_fit(const float* x, std::size_t rows, std::size_t features);

  /// \brief Scores for float32 rows (rows x n_features, row-major) into out (rows x
  /// n_components): X C^T - mean C^T, the two products formed separately as sklearn does.
  /// With float32 components (a single partial_fit) X C^T is summed in float32 and the result
  /// rounded to float32, like the reference's float32 output; otherwise in float64.
  void transform(const float* x, std::size_t rows, double* out) const noexcept;

  bool fitted() const noexcept { return n_samples_seen_ > 0; }
  int n_components() const noexcept { return n_components_; }
  std::size_t n_features() const noexcept { return n_features_; }
  int64_t n_samples_seen() const noexcept { return n_samples_seen_; }
  /// True while the model comes from a single partial_fit (sklearn keeps float32 arrays then).
  bool float32_state() const noexcept { return float32_state_; }
  /// n_components x n_features, row-major (float32-representable when float32_state()).
  const std::vector<double>& components() const noexcept { return components_; }
  const std::vector<double>& singular_values() const noexcept { return singular_values_; }
  const std::vector<double>& mean() const noexcept { return mean_; }
  const std::vector<double>& var() const noexcept { return var_; }
  /// S^2 / (n_samples_seen - 1) for the kept components.
  const std::vector<double>& explained_variance() const noexcept { return explained_variance_; }
  /// S^2 / sum(var * n_samples_seen) for the kept components.
  const std::vector<double>& explained_variance_ratio() const noexcept { return explained_variance_ratio_; }
  /// Mean explained variance of the discarded singular values (0 when none were discarded).
  double noise_variance() const noexcept { return noise_variance_; }

  /// \brief Rebuild a fitted model from saved state (e.g. a model.joblib export).
  static IncrementalPca from_state(int n_components, std::size_t n_features, int64_t n_samples_seen,
                                   std::vector<double> components, std::vector<double> singular_values,
                                   std::vector<double> mean, std::vector<double> var, bool float32_state);

 private:
  int n_components_;
  std::size_t n_features_ = 0;
  int64_t n_samples_seen_ = 0;
  bool float32_state_ = false;
  std::vector<double> components_;
  std::vector<double> singular_values_;
  std::vector<double> mean_;
  std::vector<double> var_;
  std::vector<double> explained_variance_;
  std::vector<double> explained_variance_ratio_;
  double noise_variance_ = 0.0;
};

}  // namespace mosaic::kernels
