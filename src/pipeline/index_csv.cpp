#include "mosaic/index_csv.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <tuple>

#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/run_id.hpp"

namespace fs = std::filesystem;

namespace mosaic {

namespace {

fs::path lock_path_for(const fs::path& index_path) {
  return index_path.parent_path() / ("." + index_path.filename().string() + ".lock");
}

// Read the index if it exists and is non-empty; otherwise a table with `columns` as header.
TextCsv read_or_new(const fs::path& path, const std::vector<std::string>& columns) {
  TextCsv csv;
  if (fs::exists(path)) csv = TextCsv::read(path);
  if (csv.header.empty()) csv.header = columns;  // a zero-byte index is treated as header-only
  return csv;
}

}  // namespace

const std::vector<std::string>& FeatureIndexRow::columns() {
  static const std::vector<std::string> cols{"abs_path", "run_id",  "started_at", "finished_at", "feature",
                                             "version",  "group",   "sequence",   "params_hash", "n_rows"};
  return cols;
}

std::vector<std::string> FeatureIndexRow::cells() const {
  return {abs_path, run_id, started_at, finished_at, feature, version, group, sequence, params_hash, n_rows};
}

RunIndex::RunIndex(fs::path path, std::vector<std::string> columns, std::vector<std::string> dedup_keys)
    : path_(std::move(path)), columns_(std::move(columns)), dedup_keys_(std::move(dedup_keys)) {}

bool RunIndex::exists() const { return fs::exists(path_); }

void RunIndex::ensure() const {
  if (fs::exists(path_)) return;
  make_dirs(path_.parent_path());
  FileLock lock(lock_path_for(path_));
  if (fs::exists(path_)) return;
  TextCsv csv;
  csv.header = columns_;
  csv.write_atomic(path_);
}

TextCsv RunIndex::read_all() const {
  if (!fs::exists(path_)) throw IoError(fmt::format("Index not found: {}", path_.string()));
  TextCsv csv = TextCsv::read(path_);
  if (csv.header.empty()) csv.header = columns_;
  return csv;
}

void RunIndex::append(const std::vector<std::vector<std::pair<std::string, std::string>>>& rows) const {
  if (rows.empty()) return;
  make_dirs(path_.parent_path());
  FileLock lock(lock_path_for(path_));
  TextCsv csv = read_or_new(path_, columns_);
  // New columns go at the end; existing order (and unknown columns) stay (§0.3).
  for (const auto& row : rows)
    for (const auto& [name, value] : row) csv.ensure_column(name);
  auto to_cells = [&](const std::vector<std::pair<std::string, std::string>>& row) {
    std::vector<std::string> cells(csv.header.size());
    for (const auto& [name, value] : row) cells[*csv.column_index(name)] = value;
    return cells;
  };
  if (!dedup_keys_.empty()) {
    std::vector<std::size_t> key_cols;
    for (const auto& k : dedup_keys_) key_cols.push_back(csv.ensure_column(k));
    auto key_of = [&](const std::vector<std::string>& cells) {
      std::vector<std::string> key;
      for (std::size_t c : key_cols) key.push_back(c < cells.size() ? cells[c] : std::string());
      return key;
    };
    std::vector<std::vector<std::string>> new_cells;
    std::vector<std::vector<std::string>> new_keys;
    for (const auto& row : rows) {
      new_cells.push_back(to_cells(row));
      new_keys.push_back(key_of(new_cells.back()));
    }
    std::vector<std::vector<std::string>> kept;
    for (auto& r : csv.rows) {
      auto k = key_of(r);
      if (std::find(new_keys.begin(), new_keys.end(), k) == new_keys.end()) kept.push_back(std::move(r));
    }
    // A later row in the same batch with the same key replaces an earlier one.
    for (std::size_t i = 0; i < new_cells.size(); ++i) {
      bool superseded = false;
      for (std::size_t j = i + 1; j < new_cells.size(); ++j)
        if (new_keys[j] == new_keys[i]) superseded = true;
      if (!superseded) kept.push_back(std::move(new_cells[i]));
    }
    csv.rows = std::move(kept);
  } else {
    for (const auto& row : rows) csv.rows.push_back(to_cells(row));
  }
  csv.write_atomic(path_);
}

void RunIndex::mark_finished(std::string_view run_id) const {
  if (!fs::exists(path_)) return;
  FileLock lock(lock_path_for(path_));
  TextCsv csv = read_or_new(path_, columns_);
  auto rid = csv.column_index("run_id");
  if (!rid) return;
  std::size_t fin = csv.ensure_column("finished_at");
  std::string now = now_iso();
  bool changed = false;
  for (auto& r : csv.rows) {
    if (r.size() < csv.header.size()) r.resize(csv.header.size());
    if (r[*rid] == run_id && r[fin].empty()) {
      r[fin] = now;
      changed = true;
    }
  }
  if (changed) csv.write_atomic(path_);
}

std::vector<std::string> RunIndex::run_ids() const {
  if (!fs::exists(path_)) return {};
  TextCsv csv = TextCsv::read(path_);
  std::vector<std::string> out;
  for (std::size_t r = 0; r < csv.rows.size(); ++r) {
    std::string id(csv.cell(r, "run_id"));
    if (!id.empty() && std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return out;
}

std::string RunIndex::latest_run_id() const {
  TextCsv csv = read_all();
  struct Row {
    std::string run_id, started, finished;
  };
  std::vector<Row> finished, unfinished;
  for (std::size_t r = 0; r < csv.rows.size(); ++r) {
    Row row{std::string(csv.cell(r, "run_id")), std::string(csv.cell(r, "started_at")),
            std::string(csv.cell(r, "finished_at"))};
    (row.finished.empty() ? unfinished : finished).push_back(row);
  }
  std::stable_sort(finished.begin(), finished.end(), [](const Row& a, const Row& b) { return a.finished > b.finished; });
  std::stable_sort(unfinished.begin(), unfinished.end(), [](const Row& a, const Row& b) { return a.started > b.started; });
  if (!finished.empty()) return finished.front().run_id;
  if (!unfinished.empty()) return unfinished.front().run_id;
  throw InputError(fmt::format("No runs found in {}", path_.string()));
}

void RunIndex::retain_rows(const std::function<bool(const TextCsv&, std::size_t)>& keep) const {
  if (!fs::exists(path_)) return;
  FileLock lock(lock_path_for(path_));
  TextCsv csv = TextCsv::read(path_);
  std::vector<std::vector<std::string>> kept;
  for (std::size_t r = 0; r < csv.rows.size(); ++r)
    if (keep(csv, r)) kept.push_back(csv.rows[r]);
  if (kept.size() == csv.rows.size()) return;
  csv.rows = std::move(kept);
  csv.write_atomic(path_);
}

FeatureIndex::FeatureIndex(fs::path path)
    : RunIndex(std::move(path), FeatureIndexRow::columns(), {"run_id", "group", "sequence"}) {}

void FeatureIndex::append_rows(const std::vector<FeatureIndexRow>& rows) const {
  std::vector<std::vector<std::pair<std::string, std::string>>> named;
  for (const auto& row : rows) {
    std::vector<std::pair<std::string, std::string>> cells;
    auto values = row.cells();
    for (std::size_t c = 0; c < values.size(); ++c) cells.emplace_back(FeatureIndexRow::columns()[c], values[c]);
    named.push_back(std::move(cells));
  }
  append(named);
}

std::vector<IndexedEntry> index_entries(const fs::path& index_path, std::string_view run_id, const fs::path& dataset_root,
                                        const fs::path& run_root, bool validate) {
  if (!fs::exists(index_path)) throw IoError(fmt::format("Index not found: {}", index_path.string()));
  TextCsv csv = TextCsv::read(index_path);
  std::vector<IndexedEntry> out;
  std::vector<std::string> missing;
  for (std::size_t r = 0; r < csv.rows.size(); ++r) {
    if (csv.cell(r, "run_id") != run_id) continue;
    std::string cell(csv.cell(r, "abs_path"));
    auto trimmed = cell;
    while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\r')) trimmed.pop_back();
    if (trimmed.size() < 8 || trimmed.compare(trimmed.size() - 8, 8, ".parquet") != 0) continue;
    fs::path p(trimmed);
    if (p.is_relative()) p = dataset_root / p;
    // DECISIONS P9: an absolute path from another machine falls back to the run folder.
    if (!fs::exists(p) && !run_root.empty() && fs::exists(run_root / p.filename())) p = run_root / p.filename();
    IndexedEntry e;
    // P8: the file name (entry key) wins over pandas-mangled cells.
    std::tie(e.group, e.sequence) = entry_names_from_key(p.stem().string(), csv.cell(r, "group"), csv.cell(r, "sequence"));
    e.path = p;
    e.n_rows = std::string(csv.cell(r, "n_rows"));
    e.finished_at = std::string(csv.cell(r, "finished_at"));
    if (validate && !fs::exists(p)) missing.push_back(p.string());
    out.push_back(std::move(e));
  }
  if (validate && out.empty())
    throw IoError(fmt::format("No entries for run_id '{}' in {}", run_id, index_path.string()));
  if (!missing.empty())
    throw IoError(fmt::format("Stale index {}: {} path(s) no longer exist, first: {}", index_path.string(), missing.size(),
                              missing.front()));
  // Duplicate (group, sequence) rows: the last one wins.
  std::map<std::pair<std::string, std::string>, std::size_t> last;
  for (std::size_t i = 0; i < out.size(); ++i) last[{out[i].group, out[i].sequence}] = i;
  std::vector<IndexedEntry> dedup;
  for (std::size_t i = 0; i < out.size(); ++i)
    if (last[{out[i].group, out[i].sequence}] == i) dedup.push_back(out[i]);
  return dedup;
}

}  // namespace mosaic
