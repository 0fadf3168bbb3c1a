// extract-labeled-templates: per-class template samples for supervised models, with a
// train/test split by sequence (features.md §1.10, §0.7). One numpy-compatible PCG64 draws the
// split shuffle, then every (split, class) reservoir in the reference's order (the exact
// allocation uses a second generator seeded random_state + 1), so the templates equal the Python
// goldens row for row. apply adds the sequence's `split` and each frame's `label`.
//
// DECISIONS F6 ("+cpp.1"): a frame without a label (dense file: outside the array;
// individual_pair_v1: no event) is excluded from the templates instead of becoming class 0, and
// apply writes label -1 for it (also when the sequence has no labels file at all).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "features/feature_base.hpp"
#include "features/global_common.hpp"
#include "features/kernels/random.hpp"
#include "features/kernels/templates.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/parquet.hpp"

namespace mosaic::features {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kUnlabeled = -1;
constexpr const char* kTemplatesFile = "templates.parquet";
constexpr const char* kProvenanceFile = "template_provenance.parquet";

const FeatureInfo kInfo{.name = "extract-labeled-templates",
                        .version = "0.1+cpp.1",
                        .summary = "Sample labelled templates per (split, class) across all sequences, with a "
                                   "train/test split by sequence; apply adds split and label.",
                        .category = "global",
                        .parallelizable = false,
                        .scope_dependent = true,
                        .input_kinds = InputKinds::kResultsOnly,
                        .input_require = InputRequire::kNonEmpty,
                        .default_tracks_input = false,
                        .python_class = "ExtractLabeledTemplates"};

// GroundTruthLabelsSource: kind "behavior", source "labels", load npz(key "labels"), pattern None.
ParamType ground_truth_labels_type() {
  static const auto load = std::make_shared<const ParamSchema>(
      "NpzLoadSpec",
      std::vector<ParamSpec>{param("kind", ParamType::literal({"npz"}), Json("npz"), "Load spec kind."),
                             param_str("key", "labels", "Array key in the npz."),
                             param_bool("transpose", false, "Transpose the loaded array.")});
  static const auto schema = std::make_shared<const ParamSchema>(
      "GroundTruthLabelsSource",
      std::vector<ParamSpec>{
          param_str("kind", "behavior", "Label kind: labels/<kind>/index.csv and one npz per sequence."),
          param("source", ParamType::literal({"labels"}), Json("labels"), "Where labels come from (the dataset's labels)."),
          param("load", ParamType::model(load), load->defaults(), "How the labels npz is read."),
          param("pattern", ParamType::optional(ParamType::string()), Json(), "Unused (kept for the reference's schema).")});
  return ParamType::reference(ParamType::Role::kLabels, schema);
}

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "ExtractLabeledTemplatesParams",
      {param_required("labels", ground_truth_labels_type(), "Ground-truth labels (labels/<kind>/, default kind behavior)."),
       param("strategy", ParamType::literal({"random", "farthest_first"}), Json("random"),
             "Per-class selection: random keeps the reservoir, farthest_first spreads the final count over the pool."),
       param("n_per_class", ParamType::optional(ParamType::one_of({ParamType::integer(), ParamType::dict(ParamType::integer())})),
             Json(), "Templates per class: one count, or {class: count} (exclusive with n_total)."),
       param("n_total", ParamType::optional(ParamType::integer()), Json(),
             "Total templates, shared equally among the classes seen (exclusive with n_per_class)."),
       param("pool", ParamType::model(pool_config_schema()), pool_config_schema()->defaults(),
             "Pool collected before farthest-first (size) and allocation (reservoir or exact)."),
       param_float("test_fraction", 0.2, "Fraction of sequences assigned to the test split.").at_least(0.0).at_most(1.0),
       param_int("random_state", 42, "Seed of numpy's default_rng (split shuffle and sampling).")}};
  return schema;
}

// Python's round() on a float: half to even.
int64_t round_half_even(double v) { return static_cast<int64_t>(std::nearbyint(v)); }

// load_labels_for_feature_frames with default -1 (DECISIONS F6), for the two formats of §0.7.
std::vector<int64_t> labels_for_frames(const fs::path& npz_path, const std::string& key, const Column& frame) {
  NpzArchive npz = read_npz(npz_path);
  const std::size_t n = frame.size();
  std::vector<int64_t> out(n, kUnlabeled);
  bool events = npz.contains("label_format")
                    ? npz.at("label_format").scalar_string() == "individual_pair_v1"
                    : (npz.contains("frames") && npz.contains("labels") && npz.contains("individual_ids"));
  if (events) {
    std::vector<int64_t> frames = npz.at("frames").to_int64();
    std::vector<int64_t> labels = npz.at("labels").to_int64();
    std::vector<int64_t> ids = npz.at("individual_ids").to_int64();
    if (labels.size() != frames.size() || ids.size() != 2 * frames.size())
      throw IoError(fmt::format("{}: individual_pair_v1 arrays disagree: frames {}, labels {}, individual_ids {}",
                                npz_path.string(), frames.size(), labels.size(), ids.size()));
    std::unordered_map<int64_t, int64_t> by_frame;
    for (std::size_t e = 0; e < frames.size(); ++e)
      if (ids[2 * e] <= ids[2 * e + 1]) by_frame[frames[e]] = labels[e];  // the last event wins
    for (std::size_t r = 0; r < n; ++r) {
      if (frame.is_null(r)) continue;
      auto it = by_frame.find(frame.as_int64(r));
      if (it != by_frame.end()) out[r] = it->second;
    }
    return out;
  }
  if (!npz.contains(key))
    throw IoError(fmt::format("{}: no '{}' array (keys: {})", npz_path.string(), key, fmt::join(npz.keys(), ", ")));
  std::vector<int64_t> dense = npz.at(key).to_int64();
  for (std::size_t r = 0; r < n; ++r) {
    if (frame.is_null(r)) continue;
    const int64_t f = frame.as_int64(r);
    if (f >= 0 && f < static_cast<int64_t>(dense.size())) out[r] = dense[static_cast<std::size_t>(f)];
  }
  return out;
}

struct EntryInfo {
  std::string group, sequence, split;
};

// Templates as the reference holds them: row-major features, label, split and entry per row.
struct Flat {
  std::vector<double> x;
  std::vector<int64_t> labels;
  std::vector<std::string> splits;
  std::vector<int32_t> entries;
};

// One (split, label) reservoir and, per add_entry call, the global entry it came from.
struct ClassPool {
  kernels::TemplateReservoir reservoir;
  std::vector<int32_t> entry_of_call;
};

class ExtractLabeledTemplates final : public FeatureBase<ExtractLabeledTemplates> {
 public:
  ExtractLabeledTemplates(Inputs inputs, Json params) : FeatureBase(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    const bool per_class = !p["n_per_class"].is_null(), total = !p["n_total"].is_null();
    if (per_class == total)
      throw InputError(fmt::format("extract-labeled-templates: exactly one of n_per_class and n_total must be set, got "
                                   "n_per_class={} and n_total={}",
                                   python_json_dumps(p["n_per_class"]), python_json_dumps(p["n_total"])));
    strategy_ = p["strategy"].get<std::string>();
    test_fraction_ = p["test_fraction"].get<double>();
    seed_ = p["random_state"].get<int64_t>();
    if (!p["pool"]["size"].is_null()) pool_size_ = p["pool"]["size"].get<int64_t>();
    exact_ = p["pool"]["allocation"].get<std::string>() == "exact";
    label_key_ = p["labels"]["load"].value("key", "labels");
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  bool load_state(const fs::path& run_root, const ArtifactPaths&, const DependencyLookups& lookups) override {
    if (auto it = lookups.find("labels"); it != lookups.end()) labels_ = it->second;
    if (run_root.empty() || !fs::exists(run_root / kTemplatesFile) || !fs::exists(run_root / kProvenanceFile))
      return false;
    Table prov = read_parquet(run_root / kProvenanceFile);
    splits_.clear();
    for (const char* c : {"group", "sequence", "split"})
      if (!prov.has_column(c)) throw SchemaError::missing_column((run_root / kProvenanceFile).string(), c, prov.column_names());
    for (std::size_t r = 0; r < prov.num_rows(); ++r)
      splits_[{std::string(prov.column("group").str(r)), std::string(prov.column("sequence").str(r))}] =
          std::string(prov.column("split").str(r));
    return true;
  }

  void fit(const InputStream& stream) override {
    if (seed_ < 0) throw InputError(fmt::format("extract-labeled-templates: random_state must be >= 0, got {}", seed_));
    kernels::Pcg64 rng(static_cast<uint64_t>(seed_));
    columns_.clear();
    entries_.clear();
    classes_seen_.clear();
    assign_splits(stream.n_entries(), rng);
    Flat flat;
    if (exact_) {
      fit_exact(stream, flat);
    } else {
      fit_reservoir(stream, rng, flat);
    }
    if (flat.labels.empty())
      throw StateError("extract-labeled-templates: No data: no labelled rows in any entry of the scope");
    if (strategy_ == "farthest_first") flat = farthest_first_per_class(flat, rng);
    const std::size_t dim = columns_.size(), n = flat.labels.size();
    templates_ = Table();
    for (std::size_t c = 0; c < dim; ++c) {
      std::vector<double> col(n);
      for (std::size_t r = 0; r < n; ++r) col[r] = flat.x[r * dim + c];
      templates_.add_column(columns_[c], Column::from_float64(std::move(col)));
    }
    templates_.add_column("label", Column::from_int64(flat.labels));
    templates_.add_column("split", Column::from_strings(flat.splits));
    counts_.assign(entries_.size(), 0);
    for (int32_t e : flat.entries) ++counts_[static_cast<std::size_t>(e)];
  }

  void save_state(const fs::path& run_root) const override {
    write_parquet(templates_, run_root / kTemplatesFile);
    std::vector<std::string> g, s, sp;
    std::vector<double> prop;
    int64_t total = 0;
    for (int64_t c : counts_) total += c;
    for (std::size_t e = 0; e < entries_.size(); ++e) {
      g.push_back(entries_[e].group);
      s.push_back(entries_[e].sequence);
      sp.push_back(entries_[e].split);
      prop.push_back(total > 0 ? static_cast<double>(counts_[e]) / static_cast<double>(total) : 0.0);
    }
    Table prov;
    prov.add_column("group", Column::from_strings(g));
    prov.add_column("sequence", Column::from_strings(s));
    prov.add_column("split", Column::from_strings(sp));
    prov.add_column("count", Column::from_int64(counts_));
    prov.add_column("proportion", Column::from_float64(std::move(prop)));
    write_parquet(prov, run_root / kProvenanceFile);
  }

  Table apply(const Table& df) const override {
    const std::string group = first_string(df, "group"), sequence = first_string(df, "sequence");
    std::string split = "train";
    if (auto it = splits_.find({group, sequence}); it != splits_.end()) split = it->second;
    std::vector<int64_t> label(df.num_rows(), kUnlabeled);
    if (df.has_column("frame")) {
      if (auto it = labels_.find({group, sequence}); it != labels_.end())
        label = labels_for_frames(it->second, label_key_, df.column("frame"));
    }
    Table out = df;
    out.set_column("split", Column::constant_string(split, df.num_rows()));
    out.set_column("label", Column::from_int64(std::move(label)));
    return out;
  }

 private:
  // final(c): the count kept per class after selection (n_total mode: shared by n_classes).
  int64_t final_count(int64_t label, std::size_t n_classes) const {
    const Json& npc = params()["n_per_class"];
    if (npc.is_number_integer()) return npc.get<int64_t>();
    if (npc.is_object()) {
      auto key = std::to_string(label);
      return npc.contains(key) ? npc[key].get<int64_t>() : 0;
    }
    return n_classes > 0 ? params()["n_total"].get<int64_t>() / static_cast<int64_t>(n_classes) : 0;
  }
  // The collection target: pool.size for farthest_first with a pool size, else final(c).
  int64_t collect_count(int64_t label, std::size_t n_classes) const {
    if (strategy_ == "farthest_first" && pool_size_) return *pool_size_;
    return final_count(label, n_classes);
  }

  // Per (split, label) in sorted order, farthest-first down to final(label) (n_classes = the
  // classes among the templates); a class whose final count is 0 is dropped without a draw.
  Flat farthest_first_per_class(const Flat& in, kernels::Pcg64& rng) const {
    const std::size_t dim = columns_.size();
    std::set<std::string> splits(in.splits.begin(), in.splits.end());
    std::set<int64_t> labels(in.labels.begin(), in.labels.end());
    Flat out;
    for (const auto& split : splits) {
      for (int64_t label : labels) {
        std::vector<std::size_t> idx;
        for (std::size_t r = 0; r < in.labels.size(); ++r)
          if (in.labels[r] == label && in.splits[r] == split) idx.push_back(r);
        if (idx.empty()) continue;
        const int64_t target = final_count(label, labels.size());
        if (target <= 0) continue;
        std::vector<std::size_t> keep = idx;
        if (static_cast<int64_t>(idx.size()) > target) {
          std::vector<double> sub(idx.size() * dim);
          for (std::size_t k = 0; k < idx.size(); ++k)
            std::copy_n(in.x.begin() + static_cast<std::ptrdiff_t>(idx[k] * dim), dim,
                        sub.begin() + static_cast<std::ptrdiff_t>(k * dim));
          std::vector<int64_t> sel =
              kernels::farthest_first(sub.data(), idx.size(), dim, static_cast<std::size_t>(target), rng);
          keep.clear();
          for (int64_t k : sel) keep.push_back(idx[static_cast<std::size_t>(k)]);
        }
        for (std::size_t r : keep) {
          out.x.insert(out.x.end(), in.x.begin() + static_cast<std::ptrdiff_t>(r * dim),
                       in.x.begin() + static_cast<std::ptrdiff_t>((r + 1) * dim));
          out.labels.push_back(label);
          out.splits.push_back(split);
          out.entries.push_back(in.entries[r]);
        }
      }
    }
    return out;
  }

  void assign_splits(std::size_t n, kernels::Pcg64& rng) {
    split_of_index_.assign(n, "train");
    if (test_fraction_ <= 0.0 || n <= 1) return;
    if (test_fraction_ >= 1.0) {
      split_of_index_.assign(n, "test");
      return;
    }
    const auto ni = static_cast<int64_t>(n);
    const int64_t n_test = std::max<int64_t>(1, std::min<int64_t>(ni - 1, round_half_even(test_fraction_ * static_cast<double>(n))));
    std::vector<int64_t> idx(n);
    for (std::size_t i = 0; i < n; ++i) idx[i] = static_cast<int64_t>(i);
    rng.shuffle(std::span<int64_t>(idx));
    for (int64_t k = 0; k < n_test; ++k) split_of_index_[static_cast<std::size_t>(idx[static_cast<std::size_t>(k)])] = "test";
  }

  // Record the entry, return its labels (kUnlabeled without a labels file) and its split.
  std::vector<int64_t> begin_entry(const EntryData& e, std::size_t index) {
    if (columns_.empty()) {
      columns_ = global_feature_columns(e.table);
      if (columns_.empty())
        throw SchemaError(fmt::format("extract-labeled-templates input {}: no numeric feature columns", e.entry_key));
    }
    EntryInfo info{e.table.has_column("group") ? first_string(e.table, "group") : e.group,
                   e.table.has_column("sequence") ? first_string(e.table, "sequence") : e.sequence,
                   index < split_of_index_.size() ? split_of_index_[index] : "train"};
    entries_.push_back(info);
    splits_[{info.group, info.sequence}] = info.split;
    auto it = labels_.find({info.group, info.sequence});
    if (it == labels_.end()) return {};
    if (!e.table.has_column("frame"))
      throw SchemaError::missing_column("extract-labeled-templates input " + e.entry_key, "frame", e.table.column_names());
    return labels_for_frames(it->second, label_key_, e.table.column("frame"));
  }

  // Rows of x (n x dim) whose label is `label`, in order.
  static std::vector<double> class_rows(const std::vector<double>& x, std::size_t dim, const std::vector<int64_t>& labels,
                                        int64_t label) {
    std::vector<double> out;
    for (std::size_t r = 0; r < labels.size(); ++r)
      if (labels[r] == label) out.insert(out.end(), x.begin() + static_cast<std::ptrdiff_t>(r * dim),
                                         x.begin() + static_cast<std::ptrdiff_t>((r + 1) * dim));
    return out;
  }

  void fit_reservoir(const InputStream& stream, kernels::Pcg64& rng, Flat& flat) {
    std::map<std::pair<std::string, int64_t>, ClassPool> pools;
    const bool n_total_mode = params()["n_per_class"].is_null();
    std::size_t index = 0;
    stream.for_each([&](const EntryData& e) {
      const std::size_t entry = index++;
      std::vector<int64_t> labels = begin_entry(e, entry);
      if (labels.empty()) return;
      std::set<int64_t> present;
      for (int64_t l : labels)
        if (l != kUnlabeled) present.insert(l);
      if (present.empty()) return;
      const std::size_t before = classes_seen_.size();
      classes_seen_.insert(present.begin(), present.end());
      if (n_total_mode && classes_seen_.size() != before) {
        // A new class lowers the common target: every reservoir keeps its first rows.
        const int64_t t = collect_count(0, classes_seen_.size());
        for (auto& [key, pool] : pools) pool.reservoir.shrink(static_cast<std::size_t>(std::max<int64_t>(t, 0)));
      }
      const std::size_t dim = columns_.size();
      std::vector<double> x = row_major_f64(e.table, columns_, "extract-labeled-templates input " + e.entry_key);
      const std::string& split = entries_.back().split;
      for (int64_t label : present) {
        const int64_t target = collect_count(label, classes_seen_.size());
        if (target <= 0) continue;  // a class with no quota collects nothing (and draws nothing)
        auto key = std::make_pair(split, label);
        auto it = pools.find(key);
        if (it == pools.end())
          it = pools.emplace(key, ClassPool{kernels::TemplateReservoir(static_cast<std::size_t>(target), dim), {}}).first;
        std::vector<double> cx = class_rows(x, dim, labels, label);
        it->second.reservoir.add_entry(cx.data(), cx.size() / dim, rng);
        it->second.entry_of_call.push_back(static_cast<int32_t>(entries_.size() - 1));
      }
    });
    // Concatenated in sorted (split, label) order ("test" before "train").
    for (auto& [key, pool] : pools) {
      auto t = pool.reservoir.templates();
      flat.x.insert(flat.x.end(), t.begin(), t.end());
      for (int32_t call : pool.reservoir.template_entries()) {
        flat.entries.push_back(pool.entry_of_call[static_cast<std::size_t>(call)]);
        flat.labels.push_back(key.second);
        flat.splits.push_back(key.first);
      }
    }
  }

  // Two passes: rows per (split, class), then per entry (in order) and class (ascending) up to
  // the remaining quota, drawn with default_rng(random_state + 1); blocks stacked in that order.
  void fit_exact(const InputStream& stream, Flat& flat) {
    std::map<std::pair<std::string, int64_t>, int64_t> counts;
    std::size_t index = 0;
    stream.for_each([&](const EntryData& e) {
      std::vector<int64_t> labels = begin_entry(e, index++);
      for (int64_t l : labels)
        if (l != kUnlabeled) {
          ++counts[{entries_.back().split, l}];
          classes_seen_.insert(l);
        }
    });
    std::map<std::pair<std::string, int64_t>, int64_t> quota, taken;
    for (const auto& [key, c] : counts) quota[key] = std::min(c, collect_count(key.second, classes_seen_.size()));
    kernels::Pcg64 rng2(static_cast<uint64_t>(seed_ + 1));
    const std::size_t dim = columns_.size();
    index = 0;
    stream.for_each([&](const EntryData& e) {
      const std::size_t entry = index++;
      const std::string split = entries_[entry].split;
      auto it = labels_.find({entries_[entry].group, entries_[entry].sequence});
      if (it == labels_.end() || !e.table.has_column("frame")) return;
      std::vector<int64_t> labels = labels_for_frames(it->second, label_key_, e.table.column("frame"));
      std::set<int64_t> present;
      for (int64_t l : labels)
        if (l != kUnlabeled) present.insert(l);
      if (present.empty()) return;
      std::vector<double> x = row_major_f64(e.table, columns_, "extract-labeled-templates input " + e.entry_key);
      for (int64_t label : present) {
        auto key = std::make_pair(split, label);
        const int64_t need = quota[key] - taken[key];
        if (need <= 0) continue;
        std::vector<double> cx = class_rows(x, dim, labels, label);
        const auto n = static_cast<int64_t>(cx.size() / dim);
        std::vector<int64_t> pick = kernels::exact_entry_rows(n, std::min(n, need), rng2);
        for (int64_t r : pick) {
          flat.x.insert(flat.x.end(), cx.begin() + r * static_cast<int64_t>(dim), cx.begin() + (r + 1) * static_cast<int64_t>(dim));
          flat.labels.push_back(label);
          flat.splits.push_back(split);
          flat.entries.push_back(static_cast<int32_t>(entry));
        }
        taken[key] += static_cast<int64_t>(pick.size());
      }
    });
  }

  std::string strategy_;
  double test_fraction_ = 0.2;
  int64_t seed_ = 42;
  std::optional<int64_t> pool_size_;
  bool exact_ = false;
  std::string label_key_ = "labels";
  std::map<std::pair<std::string, std::string>, fs::path> labels_;
  // Fit state.
  std::vector<std::string> split_of_index_;
  std::set<int64_t> classes_seen_;
  std::vector<std::string> columns_;
  std::vector<EntryInfo> entries_;
  std::vector<int64_t> counts_;
  Table templates_;
  // (group, sequence) -> split, from the fit or the saved provenance.
  std::map<std::pair<std::string, std::string>, std::string> splits_;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(ExtractLabeledTemplates);
}  // namespace mosaic::features
