// label_import.cpp: per-frame label CSV -> labels/<kind>/<entry>.npz (dense) + index.csv.
#include "mosaic/label_import.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>
#include <utility>

#include "mosaic/csv.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/json.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/run_id.hpp"

namespace fs = std::filesystem;

namespace mosaic {

namespace {

// A dense array holds one cell per frame; beyond this a CSV is almost certainly wrong (a time in
// microseconds, a swapped column) and would allocate gigabytes.
constexpr int64_t kMaxFrame = 100'000'000;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> parse_int(std::string_view s) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string md5_hex(const fs::path& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_md5(), nullptr) != 1)
    throw IoError(fmt::format("{}: MD5 failed", path.string()));
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

std::vector<std::string> split_cells(std::string_view s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = s.find(',', start);
    out.emplace_back(trim(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

struct Where {
  std::string file;
  std::size_t row = 0;  // 0-based data row
  std::string text() const { return fmt::format("{}: row {} (line {})", file, row + 1, row + 2); }
};

struct EntryLabels {
  std::map<int64_t, std::pair<int64_t, Where>> frames;  // frame -> (label, where)
  std::vector<std::string> sources;                     // absolute CSV paths, first-use order
};

}  // namespace

const std::vector<std::string>& labels_index_columns() {
  static const std::vector<std::string> cols{"kind",         "label_format", "group",        "sequence",
                                             "group_safe",   "sequence_safe", "abs_path",    "source_abs_path",
                                             "source_md5",   "n_frames",     "label_ids",    "label_names"};
  return cols;
}

std::map<int64_t, std::string> parse_label_names(std::string_view spec) {
  std::map<int64_t, std::string> out;
  std::size_t start = 0;
  while (start <= spec.size()) {
    std::size_t comma = spec.find(',', start);
    std::string_view item = trim(spec.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    start = comma == std::string_view::npos ? spec.size() + 1 : comma + 1;
    if (item.empty()) continue;
    std::size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      throw InputError(fmt::format("--names: item '{}' is not <id>=<name> (e.g. 0=attack,1=investigation)", item));
    auto id = parse_int(item.substr(0, eq));
    std::string name(trim(item.substr(eq + 1)));
    if (!id || *id < 0)
      throw InputError(fmt::format("--names: item '{}': the id must be an integer >= 0, got '{}'", item,
                                   trim(item.substr(0, eq))));
    if (name.empty()) throw InputError(fmt::format("--names: item '{}' has an empty name", item));
    if (name.find(',') != std::string::npos) throw InputError(fmt::format("--names: name '{}' contains a comma", name));
    if (!out.emplace(*id, name).second) throw InputError(fmt::format("--names: id {} is given twice", *id));
  }
  if (out.empty()) throw InputError("--names: no <id>=<name> items given");
  return out;
}

std::vector<ImportedLabels> import_labels_csv(Dataset& dataset, const std::vector<fs::path>& files,
                                              const LabelImportOptions& options) {
  const std::string& kind = options.kind;
  if (kind.empty() || to_safe_name(kind) != kind)
    throw InputError(fmt::format("label kind '{}' must be a plain name (letters, digits, '_', '-', '.')", kind));
  if (files.empty()) throw InputError("import-labels: no CSV files given");

  // Known entries, to resolve a missing group and to catch typos in sequence names.
  std::set<std::pair<std::string, std::string>> known;
  std::map<std::string, std::vector<std::string>> groups_of;  // sequence -> groups
  for (const auto& e : dataset.tracks_index()) {
    if (known.emplace(e.group, e.sequence).second) groups_of[e.sequence].push_back(e.group);
  }
  std::vector<std::string> known_sequences;
  for (const auto& [s, g] : groups_of) known_sequences.push_back(s);

  std::map<std::pair<std::string, std::string>, EntryLabels> entries;
  std::set<int64_t> seen_labels;
  std::map<std::string, std::string> md5_of;  // absolute source -> md5
  for (const auto& file : files) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) throw IoError(fmt::format("{}: label CSV not found", file.string()));
    const std::string where_file = file.string();
    TextCsv csv = TextCsv::read(file);
    for (const char* col : {"sequence", "frame", "label"})
      if (!csv.column_index(col)) throw SchemaError::missing_column(where_file, col, csv.header);
    const bool has_group = csv.column_index("group").has_value();
    if (csv.rows.empty()) throw InputError(fmt::format("{}: no label rows", where_file));
    const std::string source = fs::absolute(file).lexically_normal().string();
    md5_of.emplace(source, md5_hex(file));
    std::map<std::pair<std::string, std::string>, bool> checked;
    for (std::size_t r = 0; r < csv.rows.size(); ++r) {
      const Where w{where_file, r};
      const std::string sequence(trim(csv.cell(r, "sequence")));
      if (sequence.empty()) throw InputError(fmt::format("{}: column 'sequence' is empty", w.text()));
      std::string group = has_group ? std::string(trim(csv.cell(r, "group"))) : std::string();
      if (!has_group && !known.empty()) {
        auto it = groups_of.find(sequence);
        if (it != groups_of.end() && it->second.size() > 1)
          throw InputError(fmt::format("{}: sequence '{}' is in several groups ({}); add a 'group' column", w.text(),
                                       sequence, join_names(it->second)));
        if (it != groups_of.end()) group = it->second.front();
      }
      const auto key = std::make_pair(group, sequence);
      if (!known.empty() && !checked.count(key)) {
        if (!known.count(key)) {
          std::string hint = did_you_mean(sequence, known_sequences);
          throw InputError(fmt::format("{}: no tracks for group '{}', sequence '{}' in tracks/index.csv{}", w.text(),
                                       group, sequence, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
        }
        checked[key] = true;
      }
      auto frame = parse_int(csv.cell(r, "frame"));
      if (!frame || *frame < 0)
        throw InputError(fmt::format("{}: column 'frame': expected an integer >= 0, got '{}'", w.text(),
                                     csv.cell(r, "frame")));
      if (*frame > kMaxFrame)
        throw InputError(fmt::format("{}: column 'frame': {} is beyond the largest supported frame {}", w.text(), *frame,
                                     kMaxFrame));
      auto label = parse_int(csv.cell(r, "label"));
      if (!label || *label < 0)
        throw InputError(fmt::format("{}: column 'label': expected an integer class id >= 0, got '{}'", w.text(),
                                     csv.cell(r, "label")));
      if (!options.names.empty() && !options.names.count(*label)) {
        std::vector<std::string> ids;
        for (const auto& [id, n] : options.names) ids.push_back(std::to_string(id));
        throw InputError(fmt::format("{}: column 'label': class id {} is not in --names (ids: {})", w.text(), *label,
                                     join_names(ids)));
      }
      EntryLabels& e = entries[key];
      auto [it, inserted] = e.frames.emplace(*frame, std::make_pair(*label, w));
      if (!inserted && it->second.first != *label)
        throw InputError(fmt::format("{}: frame {} of group '{}', sequence '{}' has label {} here and label {} at {}",
                                     w.text(), *frame, group, sequence, *label, it->second.first,
                                     it->second.second.text()));
      if (std::find(e.sources.begin(), e.sources.end(), source) == e.sources.end()) e.sources.push_back(source);
      seen_labels.insert(*label);
    }
  }

  // Every input is valid: write the files (each atomically), then the index under its lock.
  const fs::path dir = dataset.root("labels") / kind;
  make_dirs(dir);
  std::vector<ImportedLabels> out;
  std::vector<std::vector<std::string>> new_rows;  // in labels_index_columns() order, map cells last
  for (const auto& [key, e] : entries) {
    const auto& [group, sequence] = key;
    const int64_t n = e.frames.rbegin()->first + 1;
    std::vector<int64_t> dense(static_cast<std::size_t>(n), -1);
    for (const auto& [f, lw] : e.frames) dense[static_cast<std::size_t>(f)] = lw.first;
    const fs::path path = dir / (make_entry_key(group, sequence) + ".npz");
    write_npz(path, {{"labels", NpyArray::from_int64({n}, std::move(dense))}});
    std::vector<std::string> md5s;
    for (const auto& s : e.sources) md5s.push_back(md5_of.at(s));
    new_rows.push_back({kind, "dense", group, sequence, to_safe_name(group), to_safe_name(sequence),
                        fs::absolute(path).string(), join_names(e.sources, ";"), join_names(md5s, ";"),
                        std::to_string(n), "", ""});
    out.push_back(ImportedLabels{group, sequence, path, n, static_cast<int64_t>(e.frames.size())});
  }
  const fs::path index_path = dir / "index.csv";
  {
    // The lock RunIndex uses for this file: a concurrent import or converter waits for us.
    FileLock lock(dir / ".index.csv.lock");
    TextCsv csv;
    if (fs::exists(index_path)) csv = TextCsv::read(index_path);
    if (csv.header.empty()) csv.header = labels_index_columns();
    for (const auto& c : labels_index_columns()) csv.ensure_column(c);
    for (auto& row : csv.rows) row.resize(csv.header.size());
    // The label map is one per kind and get_label_map reads the first row: merge the map the
    // index has with --names (which wins) or the ids found, and write it into every row.
    std::map<int64_t, std::string> label_map;
    if (!csv.rows.empty()) {
      std::vector<std::string> old_ids = split_cells(csv.cell(0, "label_ids"));
      std::vector<std::string> old_names = split_cells(csv.cell(0, "label_names"));
      for (std::size_t i = 0; i < old_ids.size(); ++i)
        if (auto id = parse_int(old_ids[i]))
          label_map[*id] = i < old_names.size() ? old_names[i] : old_ids[i];
    }
    for (const auto& [id, name] : options.names) label_map[id] = name;
    for (int64_t id : seen_labels) label_map.emplace(id, std::to_string(id));
    std::vector<std::string> ids, names;
    for (const auto& [id, name] : label_map) {
      ids.push_back(std::to_string(id));
      names.push_back(name);
    }
    const std::string ids_cell = join_names(ids, ","), names_cell = join_names(names, ",");
    // Replace the rows of the imported entries (§1.9: same group and sequence), append the new.
    const std::size_t gcol = *csv.column_index("group"), scol = *csv.column_index("sequence");
    std::vector<std::vector<std::string>> kept;
    for (auto& row : csv.rows)
      if (!entries.count({row[gcol] == "nan" ? std::string() : row[gcol], row[scol]})) kept.push_back(std::move(row));
    const auto& cols = labels_index_columns();
    for (const auto& cells : new_rows) {
      std::vector<std::string> row(csv.header.size());
      for (std::size_t c = 0; c < cols.size(); ++c) row[*csv.column_index(cols[c])] = cells[c];
      kept.push_back(std::move(row));
    }
    const std::size_t icol = *csv.column_index("label_ids"), ncol = *csv.column_index("label_names");
    for (auto& row : kept) {
      row[icol] = ids_cell;
      row[ncol] = names_cell;
    }
    csv.rows = std::move(kept);
    csv.write_atomic(index_path);
  }

  // meta.labels.<kind> (§1.4), as the reference's converters record it.
  auto& meta = dataset.mutable_meta();
  if (!meta.contains("labels") || !meta["labels"].is_object()) meta["labels"] = Json::object();
  meta["labels"][kind] = Json{{"index", fs::absolute(index_path).string()},
                              {"label_format", "dense"},
                              {"updated_at", now_iso()},
                              {"source", "import-labels"}};
  dataset.save();
  return out;
}

}  // namespace mosaic
