// extract-templates: a fixed-size, reproducible sample of feature rows over every entry of the
// scope (features.md §1.4). The fit streams the entries once (reservoir) or twice (exact quotas),
// drawing from one numpy-compatible PCG64 in the reference's order, so the templates equal the
// Python goldens row for row; apply passes each entry through unchanged (downstream features
// consume these copies).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "features/feature_base.hpp"
#include "features/global_common.hpp"
#include "features/kernels/random.hpp"
#include "features/kernels/templates.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/parquet.hpp"

namespace mosaic::features {
namespace {

namespace fs = std::filesystem;

const FeatureInfo kInfo{.name = "extract-templates",
                        .version = "0.1",
                        .summary = "Sample a fixed number of feature rows (templates) across all sequences: streaming "
                                   "reservoir or exact per-sequence quotas, optionally farthest-first.",
                        .category = "global",
                        .parallelizable = false,
                        .scope_dependent = true,
                        .input_kinds = InputKinds::kResultsOnly,
                        .input_require = InputRequire::kNonEmpty,
                        .default_tracks_input = false,
                        .python_class = "ExtractTemplates"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "ExtractTemplatesParams",
      {param("strategy", ParamType::literal({"random", "farthest_first"}), Json("random"),
             "Selection after the pool is built: random keeps the pool, farthest_first spreads n_templates over it."),
       param_required("n_templates", ParamType::integer(), "Number of templates to keep.").at_least(1),
       param("pool", ParamType::model(pool_config_schema()), pool_config_schema()->defaults(),
             "How the candidate pool is collected (size, allocation, per-entry cap)."),
       param_int("random_state", 42, "Seed of numpy's default_rng (one generator for the whole fit)."),
       param("pair_filter", ParamType::optional(nn_result_type()), Json(),
             "Keep only nearest-neighbour pairs (NNResult); None keeps every row.")}};
  return schema;
}

const char* const kTemplatesFile = "templates.parquet";
const char* const kProvenanceFile = "template_provenance.parquet";

struct EntryMeta {
  std::string group, sequence;
};

class ExtractTemplates final : public FeatureBase<ExtractTemplates> {
 public:
  ExtractTemplates(Inputs inputs, Json params) : FeatureBase(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    strategy_ = p["strategy"].get<std::string>();
    n_templates_ = p["n_templates"].get<int64_t>();
    const Json& pool = p["pool"];
    pool_size_ = pool["size"].is_null() ? n_templates_ : pool["size"].get<int64_t>();
    allocation_ = pool["allocation"].get<std::string>();
    if (!pool["max_entry_fraction"].is_null()) max_entry_fraction_ = pool["max_entry_fraction"].get<double>();
    seed_ = p["random_state"].get<int64_t>();
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  bool load_state(const fs::path& run_root, const ArtifactPaths&, const DependencyLookups&) override {
    return !run_root.empty() && fs::exists(run_root / kTemplatesFile);
  }

  void fit(const InputStream& stream) override {
    if (seed_ < 0) throw InputError(fmt::format("extract-templates: random_state must be >= 0, got {}", seed_));
    kernels::Pcg64 rng(static_cast<uint64_t>(seed_));
    columns_.clear();
    entries_.clear();
    std::vector<double> pool;
    std::vector<int32_t> pool_entries;
    std::size_t pool_rows = 0;
    if (allocation_ == "exact") {
      fit_exact(stream, rng, pool, pool_entries, pool_rows);
    } else {
      fit_reservoir(stream, rng, pool, pool_entries, pool_rows);
    }
    const std::size_t dim = columns_.size();
    if (strategy_ == "farthest_first" && static_cast<int64_t>(pool_rows) > n_templates_) {
      std::vector<int64_t> sel = kernels::farthest_first(pool.data(), pool_rows, dim,
                                                         static_cast<std::size_t>(n_templates_), rng);
      std::vector<double> picked(sel.size() * dim);
      std::vector<int32_t> picked_entries(sel.size());
      for (std::size_t k = 0; k < sel.size(); ++k) {
        std::copy_n(pool.begin() + static_cast<std::ptrdiff_t>(sel[k] * static_cast<int64_t>(dim)), dim,
                    picked.begin() + static_cast<std::ptrdiff_t>(k * dim));
        picked_entries[k] = pool_entries[static_cast<std::size_t>(sel[k])];
      }
      pool = std::move(picked);
      pool_entries = std::move(picked_entries);
      pool_rows = sel.size();
    }
    templates_ = std::move(pool);
    template_rows_ = pool_rows;
    counts_ = kernels::count_per_entry(pool_entries, entries_.size());
  }

  void save_state(const fs::path& run_root) const override {
    const std::size_t dim = columns_.size();
    Table t;
    for (std::size_t c = 0; c < dim; ++c) {
      std::vector<double> col(template_rows_);
      for (std::size_t r = 0; r < template_rows_; ++r) col[r] = templates_[r * dim + c];
      t.add_column(columns_[c], Column::from_float64(std::move(col)));
    }
    write_parquet(t, run_root / kTemplatesFile);
    std::vector<std::string> groups, sequences;
    std::vector<double> proportion;
    int64_t total = 0;
    for (int64_t c : counts_) total += c;
    for (std::size_t e = 0; e < entries_.size(); ++e) {
      groups.push_back(entries_[e].group);
      sequences.push_back(entries_[e].sequence);
      proportion.push_back(total > 0 ? static_cast<double>(counts_[e]) / static_cast<double>(total) : 0.0);
    }
    Table prov;
    prov.add_column("group", Column::from_strings(groups));
    prov.add_column("sequence", Column::from_strings(sequences));
    prov.add_column("count", Column::from_int64(counts_));
    prov.add_column("proportion", Column::from_float64(std::move(proportion)));
    write_parquet(prov, run_root / kProvenanceFile);
  }

  // The reference returns df.copy(): every column passes through unchanged (shared, not copied).
  Table apply(const Table& df) const override { return df; }

 private:
  // The feature columns come from the first entry; every later entry must have them.
  const std::vector<std::string>& columns_for(const EntryData& e) {
    if (columns_.empty()) {
      if (!e.table.has_column("sequence"))
        throw SchemaError::missing_column("extract-templates input " + e.entry_key, "sequence",
                                          e.table.column_names());
      columns_ = global_feature_columns(e.table);
      if (columns_.empty())
        throw SchemaError(fmt::format("extract-templates input {}: no numeric feature columns (columns: {})",
                                      e.entry_key, fmt::join(e.table.column_names(), ", ")));
    }
    return columns_;
  }

  EntryMeta meta_of(const EntryData& e) const {
    return {e.table.has_column("group") ? first_string(e.table, "group") : std::string(),
            first_string(e.table, "sequence")};
  }

  void no_data() const {
    throw StateError("extract-templates: No data: every entry of the scope was empty, nothing to sample templates from");
  }

  void fit_reservoir(const InputStream& stream, kernels::Pcg64& rng, std::vector<double>& pool,
                     std::vector<int32_t>& pool_entries, std::size_t& pool_rows) {
    std::optional<kernels::TemplateReservoir> reservoir;
    stream.for_each([&](const EntryData& e) {
      const auto& cols = columns_for(e);
      if (!reservoir) reservoir.emplace(static_cast<std::size_t>(pool_size_), cols.size(), max_entry_fraction_);
      entries_.push_back(meta_of(e));
      std::vector<double> x = row_major_f64(e.table, cols, "extract-templates input " + e.entry_key);
      reservoir->add_entry(x.data(), e.table.num_rows(), rng);
    });
    if (!reservoir || reservoir->filled() == 0) no_data();
    auto t = reservoir->templates();
    pool.assign(t.begin(), t.end());
    auto te = reservoir->template_entries();
    pool_entries.assign(te.begin(), te.end());
    pool_rows = reservoir->filled();
  }

  void fit_exact(const InputStream& stream, kernels::Pcg64& rng, std::vector<double>& pool,
                 std::vector<int32_t>& pool_entries, std::size_t& pool_rows) {
    std::vector<int64_t> counts;
    stream.for_each([&](const EntryData& e) {
      columns_for(e);
      entries_.push_back(meta_of(e));
      counts.push_back(static_cast<int64_t>(e.table.num_rows()));
    });
    int64_t total = 0;
    for (int64_t c : counts) total += c;
    if (total == 0) no_data();
    std::vector<int64_t> quotas = kernels::exact_quotas(counts, pool_size_, max_entry_fraction_);
    const std::size_t dim = columns_.size();
    std::size_t e = 0;
    stream.for_each([&](const EntryData& entry) {
      const std::size_t idx = e++;
      if (idx >= quotas.size()) return;
      std::vector<int64_t> rows = kernels::exact_entry_rows(static_cast<int64_t>(entry.table.num_rows()), quotas[idx], rng);
      if (rows.empty()) return;
      std::vector<double> x = row_major_f64(entry.table, columns_, "extract-templates input " + entry.entry_key);
      for (int64_t r : rows) {
        pool.insert(pool.end(), x.begin() + r * static_cast<int64_t>(dim), x.begin() + (r + 1) * static_cast<int64_t>(dim));
        pool_entries.push_back(static_cast<int32_t>(idx));
      }
    });
    pool_rows = pool_entries.size();
    if (pool_rows == 0) no_data();
  }

  std::string strategy_;
  int64_t n_templates_ = 0;
  int64_t pool_size_ = 0;
  std::string allocation_;
  std::optional<double> max_entry_fraction_;
  int64_t seed_ = 42;
  // Fitted state.
  std::vector<std::string> columns_;
  std::vector<EntryMeta> entries_;
  std::vector<double> templates_;
  std::size_t template_rows_ = 0;
  std::vector<int64_t> counts_;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(ExtractTemplates);
}  // namespace mosaic::features
