// templates.hpp: the sampling kernels of extract-templates (spec features.md §1.4): a streaming
// reservoir (fill, then Algorithm R replacement, optional per-entry cap), the "exact" per-entry
// quotas, and farthest-first selection. All randomness comes from one numpy-compatible Pcg64
// that the caller owns, consumed in exactly the reference's order, so the selected rows equal
// the Python goldens bit for bit.
//
//   Pcg64 rng(42);
//   TemplateReservoir pool(600, dim);
//   for (each entry in manifest order) pool.add_entry(rows, n_rows, rng);   // row-major n x dim
//   std::vector<int64_t> sel = farthest_first(pool.templates().data(), pool.filled(), dim, 300, rng);
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "features/kernels/random.hpp"

namespace mosaic::kernels {

/// \brief The per-entry cap of the pool: max(int(max(fraction, 1/n_entries) * pool_size), 1).
/// (The reservoir passes the running entry count, the exact allocation the total; spec §1.4.)
int64_t entry_cap(double max_entry_fraction, int64_t n_entries, int64_t pool_size) noexcept;

/// \brief Streaming reservoir of template rows (ExtractTemplates._fit_reservoir).
///
/// Per entry, in manifest order: (1) with a max_entry_fraction, entry e (1-based, running count)
/// keeps rng.choice(n, cap, replace=False) rows (in the order choice returns them) when
/// n > cap; (2) rows fill free slots in order; (3) each remaining row t (1-based over all rows
/// seen) is included when rng.random() < pool_size / (n_seen + t), one vectorised
/// rng.random(n) per entry; the included rows then take slots rng.integers(0, pool_size, #incl)
/// in order, a later duplicate slot overwriting an earlier one.
class TemplateReservoir {
 public:
  TemplateReservoir(std::size_t pool_size, std::size_t dim,
                    std::optional<double> max_entry_fraction = std::nullopt);

  /// \brief Offer the next entry's rows (row-major, n_rows x dim; NaN is kept as a value).
  void add_entry(const double* rows, std::size_t n_rows, Pcg64& rng);

  /// \brief Lower the capacity to `new_pool_size`, keeping the first rows (numpy buf[:target]);
  /// n_seen is unchanged. extract-labeled-templates' n_total mode shrinks every class reservoir
  /// when a new class appears. A larger size is ignored.
  void shrink(std::size_t new_pool_size) noexcept;

  std::size_t pool_size() const noexcept { return pool_size_; }
  std::size_t dim() const noexcept { return dim_; }
  /// Rows held so far (pool_size once full).
  std::size_t filled() const noexcept { return filled_; }
  /// Rows offered so far, after the per-entry cap.
  uint64_t n_seen() const noexcept { return n_seen_; }
  /// Entries offered so far (including empty ones).
  std::size_t n_entries() const noexcept { return n_entries_; }
  /// \brief The held rows, filled() x dim, row-major, in slot order (templates.parquet order).
  std::span<const double> templates() const noexcept { return {buffer_.data(), filled_ * dim_}; }
  /// \brief The 0-based entry of each held row (provenance).
  std::span<const int32_t> template_entries() const noexcept { return {entries_.data(), filled_}; }
  /// \brief The row index inside its entry (before any cap subsampling) of each held row.
  std::span<const int64_t> template_rows() const noexcept { return {rows_.data(), filled_}; }

 private:
  void put(std::size_t slot, const double* row, int32_t entry, int64_t row_index) noexcept;

  std::size_t pool_size_;
  std::size_t dim_;
  std::optional<double> max_entry_fraction_;
  std::vector<double> buffer_;
  std::vector<int32_t> entries_;
  std::vector<int64_t> rows_;
  std::size_t filled_ = 0;
  uint64_t n_seen_ = 0;
  std::size_t n_entries_ = 0;
};

/// \brief Exact allocation quotas (ExtractTemplates._compute_quotas) for entries with the given
/// row counts: quota = int(count / total * pool_size), capped; the remainder left by capped
/// entries is shared among the uncapped ones by int(count / uncapped_rows * remainder).
std::vector<int64_t> exact_quotas(std::span<const int64_t> entry_counts, int64_t pool_size,
                                  std::optional<double> max_entry_fraction = std::nullopt);

/// \brief The rows one entry contributes under the exact allocation, in template order: none for
/// quota <= 0 (no draw), all rows in order when n_rows <= quota, else rng.choice(n_rows, quota,
/// replace=False) in the order choice returns them.
std::vector<int64_t> exact_entry_rows(int64_t n_rows, int64_t quota, Pcg64& rng);

/// \brief Farthest-first traversal (ExtractTemplates._farthest_first) of the pool (n x dim,
/// row-major): first = rng.integers(0, n); then repeatedly the row with the largest squared
/// distance (numpy pairwise row sums, first index on ties) to the selected set. Returns the
/// min(n_select, n) selected row indices in selection order (a row can repeat when all
/// remaining distances are 0, as in the reference). Draws nothing when n == 0.
std::vector<int64_t> farthest_first(const double* pool, std::size_t n, std::size_t dim,
                                    std::size_t n_select, Pcg64& rng);

/// \brief Templates per entry (np.unique counts over `entries`, length n_entries).
std::vector<int64_t> count_per_entry(std::span<const int32_t> entries, std::size_t n_entries);

}  // namespace mosaic::kernels
