// arhmm.hpp: the autoregressive hidden Markov model of the reference's arhmm_model.py (spec
// features.md §2.14): K states, each x_t = A_k [x_{t-1}; ...; x_{t-L}; 1] + N(0, Q_k), a
// sticky transition matrix, EM in log space, pruning of rarely used states, Viterbi decoding.
//
// Initialisation follows the reference: seed = default_rng(random_state).integers(0, 2^31) per
// restart, k-means (kernels/kmeans.hpp, MT19937-seeded k-means++) on all frames, ridge OLS per
// cluster, transition counts + 1 + sticky. The reference's KMeans runs on float64 frames; the
// kernel is scikit-learn's float32 path, so labels (and hence the EM's start) can differ in
// near-ties: results are compared as partitions.
//
//   ArhmmModel m = arhmm_fit(x.data(), lengths, dim, {.n_states = 8, .n_iter = 50});
//   std::vector<int32_t> z(T);
//   arhmm_viterbi(m, x.data(), T, z);
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mosaic::kernels {

struct ArhmmOptions {
  int n_states = 50;
  int n_lags = 1;
  double sticky_weight = 100.0;
  int n_iter = 200;
  double tol = 1e-4;
  int n_restarts = 1;
  uint64_t random_state = 42;
  double prune_threshold = 0.01;
};

/// \brief A fitted ARHMM. Matrices are row-major.
struct ArhmmModel {
  int n_states = 0;
  int dim = 0;
  int n_lags = 1;
  std::vector<double> a;          ///< n_states x dim x (dim * n_lags + 1)
  std::vector<double> q;          ///< n_states x dim x dim
  std::vector<double> log_start;  ///< n_states
  std::vector<double> log_trans;  ///< n_states x n_states
  double log_likelihood = 0;      ///< of the kept restart's last E-step
  int n_iter = 0;                 ///< EM iterations run by the kept restart
  std::vector<double> usage;      ///< mean posterior usage of the kept states
  int dim_in() const noexcept { return dim * n_lags + 1; }
};

/// \brief Fit on sequences stacked row-wise in x (sum(lengths) x dim, finite); each sequence must
/// be longer than n_lags, and the stacked frame count at least 1. With fewer frames than
/// n_states the k-means has min(n_states, frames) clusters and the other states start from the
/// fallback (A = 0.9 I, Q = I), where the reference crashes (DECISIONS F11; the feature refuses
/// that case with a message naming the sequences before calling this).
ArhmmModel arhmm_fit(const double* x, std::span<const std::size_t> lengths, std::size_t dim, const ArhmmOptions& options);

/// \brief Per-state emission log-likelihoods of the effective frames t = n_lags..T-1 of one
/// sequence: out is (T - n_lags) x n_states.
void arhmm_log_emissions(const ArhmmModel& m, const double* x, std::size_t length, std::vector<double>& out);

/// \brief Viterbi path of one sequence (argmax takes the first maximum); the first n_lags frames
/// copy the first decoded state. A sequence of at most n_lags frames gets the most likely start
/// state everywhere.
void arhmm_viterbi(const ArhmmModel& m, const double* x, std::size_t length, std::span<int32_t> labels);

}  // namespace mosaic::kernels
