#include "pipeline/manifest.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/run_id.hpp"

namespace fs = std::filesystem;

namespace mosaic {

namespace {

using EntryId = std::pair<std::string, std::string>;

// One input's entries: (group, sequence) -> file, plus the full (unscoped) order.
struct InputEntries {
  std::map<EntryId, fs::path> files;
  std::vector<EntryId> order;  // sorted
};

InputEntries tracks_entries(const Dataset& ds) {
  InputEntries in;
  for (const auto& e : ds.tracks_index()) {
    if (!fs::exists(e.path)) continue;  // rows whose file is missing are skipped (§4.2)
    in.files[{e.group, e.sequence}] = e.path;
  }
  for (const auto& [id, p] : in.files) in.order.push_back(id);
  return in;
}

InputEntries result_entries(const Dataset& ds, const Result& r) {
  InputEntries in;
  fs::path features = ds.root("features");
  fs::path index_path = features / r.feature / "index.csv";
  if (!fs::exists(index_path)) return in;  // no upstream index: no entries, not an error
  std::string run_id = r.run_id ? *r.run_id : FeatureIndex(index_path).latest_run_id();
  for (const auto& e : index_entries(index_path, run_id, ds.base_dir(), features / r.feature / run_id, true))
    in.files[{e.group, e.sequence}] = e.path;
  for (const auto& [id, p] : in.files) in.order.push_back(id);
  return in;
}

bool in_scope(const EntryId& id, const std::optional<std::set<std::string>>& groups,
              const std::optional<std::set<std::string>>& sequences, bool empty_means_all) {
  auto match = [&](const std::optional<std::set<std::string>>& set, const std::string& v) {
    if (!set) return true;
    if (set->empty()) return empty_means_all;
    return set->count(v) > 0;
  };
  return match(groups, id.first) && match(sequences, id.second);
}

}  // namespace

Manifest build_manifest(const Dataset& ds, const Inputs& inputs, const std::optional<std::set<std::string>>& groups,
                        const std::optional<std::set<std::string>>& sequences) {
  Manifest m;
  if (inputs.empty()) return m;
  std::vector<InputEntries> per_input;
  for (const auto& item : inputs.items()) {
    if (std::holds_alternative<std::monostate>(item)) per_input.push_back(tracks_entries(ds));
    else per_input.push_back(result_entries(ds, std::get<Result>(item)));
  }
  // Scope = intersection of every input's scoped entries.
  std::set<EntryId> scope;
  for (std::size_t i = 0; i < per_input.size(); ++i) {
    bool tracks = std::holds_alternative<std::monostate>(inputs.items()[i]);
    std::set<EntryId> scoped;
    for (const auto& id : per_input[i].order)
      if (in_scope(id, groups, sequences, tracks)) scoped.insert(id);
    if (i == 0) {
      scope = std::move(scoped);
    } else {
      std::set<EntryId> both;
      std::set_intersection(scope.begin(), scope.end(), scoped.begin(), scoped.end(), std::inserter(both, both.end()));
      scope = std::move(both);
    }
  }
  // Adjacency from the first input's unscoped order, within groups.
  std::map<std::string, std::vector<EntryId>> by_group;
  for (const auto& id : per_input[0].order) by_group[id.first].push_back(id);
  auto specs_of = [&](const EntryId& id) {
    std::vector<FileSpec> specs;
    for (std::size_t i = 0; i < per_input.size(); ++i) {
      auto it = per_input[i].files.find(id);
      if (it != per_input[i].files.end()) specs.push_back({it->second, i});
    }
    return specs;
  };
  for (const auto& id : scope) {
    ManifestEntry e;
    e.group = id.first;
    e.sequence = id.second;
    e.key = make_entry_key(id.first, id.second);
    e.files = specs_of(id);
    const auto& list = by_group[id.first];
    auto pos = std::find(list.begin(), list.end(), id);
    if (pos != list.end()) {
      if (pos != list.begin()) {
        const EntryId& p = *(pos - 1);
        e.prev_key = make_entry_key(p.first, p.second);
        auto specs = specs_of(p);
        if (!specs.empty()) e.prev_files = specs;
      }
      if (pos + 1 != list.end()) {
        const EntryId& n = *(pos + 1);
        e.next_key = make_entry_key(n.first, n.second);
        auto specs = specs_of(n);
        if (!specs.empty()) e.next_files = specs;
      }
    }
    m.entries.push_back(std::move(e));
    m.scope.push_back(id);
  }
  // DECISIONS P4: two entries must not share one output file name.
  std::map<std::string, EntryId> keys;
  for (const auto& e : m.entries) {
    auto [it, inserted] = keys.emplace(e.key, EntryId{e.group, e.sequence});
    if (!inserted)
      throw InputError(fmt::format("entries ({}, {}) and ({}, {}) would both be stored as '{}.parquet'; rename one",
                                   it->second.first, it->second.second, e.group, e.sequence, e.key));
  }
  return m;
}

Table merge_inputs(const std::vector<Table>& tables, const std::string& where) {
  static const std::vector<std::string> kAlign{"frame", "time", "id", "id1", "id2"};
  Table merged;
  std::size_t loaded = 0;
  for (const auto& t : tables) {
    if (t.num_rows() == 0) continue;  // an empty input is skipped (and does not count for suffixes)
    if (loaded == 0) {
      merged = t;
      ++loaded;
      continue;
    }
    std::vector<std::string> keys;
    for (const auto& k : kAlign)
      if (merged.has_column(k) && t.has_column(k)) keys.push_back(k);
    // DECISIONS F1: the perspective of a pair row is part of its identity.
    if (merged.has_column("perspective") && t.has_column("perspective")) keys.push_back("perspective");
    if (keys.empty()) {
      throw InputError(fmt::format(
          "{}: Cannot merge input {}: no shared alignment columns (frame, time, id, id1, id2) between merged ([{}]) and "
          "input ([{}])",
          where, loaded, join_names(merged.column_names()), join_names(t.column_names())));
    }
    std::vector<std::pair<std::string, std::string>> renames;
    for (const auto& c : t.column_names())
      if (std::find(keys.begin(), keys.end(), c) == keys.end() && merged.has_column(c))
        renames.emplace_back(c, fmt::format("{}__{}", c, loaded));
    Table right = renames.empty() ? t : t.rename(renames);
    merged = merged.inner_join(right, keys);
    ++loaded;
  }
  return merged;
}

Table load_entry(const std::vector<FileSpec>& files, const std::string& entry_key, const EntryFilters& filters) {
  std::vector<Table> tables;
  tables.reserve(files.size());
  for (const auto& f : files) {
    ParquetReadOptions opt;
    tables.push_back(read_parquet(f.path, opt));
  }
  Table t = tables.size() == 1 ? std::move(tables[0]) : merge_inputs(tables, entry_key);
  if (t.num_rows() == 0) return Table();
  if (filters.has_nn_filter && t.has_column("id1") && t.has_column("id2")) {
    auto it = filters.nn_maps.find(entry_key);
    const char* frame_col = t.has_column("frame") ? "frame" : (t.has_column("time") ? "time" : nullptr);
    if (it != filters.nn_maps.end() && frame_col) {
      const auto& nn = it->second;
      const Column& fc = t.column(frame_col);
      const Column& a = t.column("id1");
      const Column& b = t.column("id2");
      std::vector<uint8_t> keep(t.num_rows(), 0);
      for (std::size_t r = 0; r < t.num_rows(); ++r) {
        double fv = fc.as_double(r), av = a.as_double(r), bv = b.as_double(r);
        if (std::isnan(fv) || std::isnan(av) || std::isnan(bv)) continue;
        auto f = static_cast<int64_t>(fv), ia = static_cast<int64_t>(av), ib = static_cast<int64_t>(bv);
        auto x = nn.find({f, ia});
        auto y = nn.find({f, ib});
        keep[r] = (x != nn.end() && x->second == ib) || (y != nn.end() && y->second == ia);
      }
      t = t.filter(keep);
      if (t.num_rows() == 0) return Table();
    }
  }
  if ((filters.start_frame || filters.end_frame) && t.has_column("frame")) {
    const Column& fc = t.column("frame");
    std::vector<uint8_t> keep(t.num_rows(), 1);
    for (std::size_t r = 0; r < t.num_rows(); ++r) {
      double f = fc.as_double(r);
      if (filters.start_frame && !(f >= static_cast<double>(*filters.start_frame))) keep[r] = 0;
      if (filters.end_frame && !(f < static_cast<double>(*filters.end_frame))) keep[r] = 0;
    }
    t = t.filter(keep);
    if (t.num_rows() == 0) return Table();
  }
  return t;
}

}  // namespace mosaic
