#include "mosaic/dataset.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "io/manifest_yaml.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/json.hpp"
#include "mosaic/run_id.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace mosaic {

namespace {

const char* const kTracksIndexColumns[] = {"group",         "sequence",   "group_safe",
                                           "sequence_safe", "collection", "collection_safe",
                                           "abs_path",      "std_format", "source_abs_path",
                                           "source_md5",    "n_rows"};

// Keys a manifest may hold: those the reference reads, plus those new_dataset_manifest writes.
const std::vector<std::string>& known_manifest_keys() {
  static const std::vector<std::string> keys{"name",         "version",          "format",
                                             "roots",        "meta",             "dataset_type",
                                             "segment_duration", "time_column", "uuid",
                                             "created_at",   "index_format"};
  return keys;
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string random_uuid4() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  uint64_t a = gen(), b = gen();
  a = (a & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;
  b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF,
                     b >> 48, b & 0xFFFFFFFFFFFFull);
}

bool path_is_within(const fs::path& path, const fs::path& base) {
  auto rel = path.lexically_relative(base);
  if (rel.empty()) return false;
  auto first = *rel.begin();
  return first != "..";
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& default_roots() {
  static const std::vector<std::pair<std::string, std::string>> roots{
      {"media_raw", "media_raw"}, {"tracks_raw", "tracks_raw"}, {"labels", "labels"},
      {"media", "media"},         {"tracks", "tracks"},         {"features", "features"},
      {"models", "models"},       {"frames", "media/frames"}};
  return roots;
}

void validate_entry_name(std::string_view what, std::string_view value) {
  if (what == "sequence" && trim(value).empty())
    throw InputError(fmt::format("{} name is empty: every sequence needs a name", what));
  if (value.find('\0') != std::string_view::npos || value.find('/') != std::string_view::npos ||
      value.find('\\') != std::string_view::npos || trim(value) == "." || trim(value) == "..")
    throw InputError(fmt::format(
        "{} name '{}' would escape the dataset folder: names may not contain '/', '\\' or NUL, "
        "or be '.' or '..'",
        what, value));
}

// ---- Opening and creating -----------------------------------------------------------------------

Dataset Dataset::open(const fs::path& manifest_or_dir) {
  Dataset ds;
  fs::path p = manifest_or_dir;
  if (fs::is_directory(p)) {
    bool found = false;
    for (const char* name : {"dataset.yaml", "dataset.yml", "dataset.json"}) {
      if (fs::is_regular_file(p / name)) {
        p /= name;
        found = true;
        break;
      }
    }
    if (!found)
      throw IoError(fmt::format("No manifest found in directory: {} (expected dataset.yaml; create one with "
                                "'mosaic init {}')",
                                manifest_or_dir.string(), manifest_or_dir.string()));
  } else if (!fs::exists(p)) {
    throw IoError(fmt::format("{}: no such dataset (no file or folder at this path)", p.string()));
  }
  ds.manifest_path_ = fs::absolute(p).lexically_normal();
  ds.base_dir_ = fs::weakly_canonical(ds.manifest_path_.parent_path());
  ds.load_manifest();
  ds.ensure_roots();
  return ds;
}

Dataset Dataset::create(const fs::path& dir, const DatasetCreateOptions& options) {
  make_dirs(dir);
  for (const char* name : {"dataset.yaml", "dataset.yml", "dataset.json"})
    if (fs::exists(dir / name))
      throw InputError(fmt::format("{}: a dataset manifest already exists", (dir / name).string()));
  fs::path base = fs::weakly_canonical(fs::absolute(dir));
  std::string name = options.name.empty() ? base.filename().string() : options.name;
  // The reference's new_dataset_manifest: comment header, then name, version, uuid, created_at,
  // index_format, roots, dataset_type. We add meta (fps_default) when given, which its load reads.
  ManifestYaml y;
  y.comment = {"mosaic dataset manifest",
               "roots: named folders, relative to this file unless absolute",
               "meta.fps_default: frames per second used to convert time filters to frames"};
  y.entries.emplace_back("name", Json(name));
  y.entries.emplace_back("version", Json(options.version));
  y.entries.emplace_back("uuid", Json(random_uuid4()));
  y.entries.emplace_back("created_at", Json(now_iso()));
  y.entries.emplace_back("index_format", Json("group/sequence"));
  Json roots = Json::object();
  for (const auto& [k, v] : default_roots()) roots[k] = v;
  y.entries.emplace_back("roots", roots);
  if (options.fps) {
    if (!(*options.fps > 0) || !std::isfinite(*options.fps))
      throw InputError(fmt::format("--fps must be a positive number, got {}", *options.fps));
    Json meta = Json::object();
    meta["fps_default"] = *options.fps;
    y.entries.emplace_back("meta", meta);
  }
  y.entries.emplace_back("dataset_type", Json(options.dataset_type));
  write_file_atomic(base / "dataset.yaml", y.format());
  return open(base / "dataset.yaml");
}

void Dataset::load_manifest() {
  std::string where = manifest_path_.string();
  Json doc;
  std::string ext = manifest_path_.extension().string();
  std::string text = read_file_text(manifest_path_);
  if (ext == ".json") {
    doc = python_json_loads(text);
    format_ = "json";
  } else {
    try {
      doc = parse_manifest_yaml(text, where);
      format_ = "yaml";
    } catch (const InputError&) {
      if (ext == ".yaml" || ext == ".yml") throw;
      doc = python_json_loads(text);
      format_ = "json";
    }
  }
  if (doc.is_null()) doc = Json::object();
  if (!doc.is_object())
    throw InputError(fmt::format("{}: a manifest must be a mapping of keys (name, roots, meta, ...)", where));
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const auto& known = known_manifest_keys();
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      std::string hint = did_you_mean(it.key(), known);
      std::string extra;
      if (it.key() == "fps_default" || it.key() == "fps") extra = " (fps belongs under 'meta:' as meta.fps_default)";
      else if (!hint.empty()) extra = fmt::format(" (did you mean '{}'?)", hint);
      throw InputError(fmt::format("{}: unknown manifest key '{}'{}; expected one of: {}", where, it.key(), extra,
                                   join_names(known)));
    }
  }
  auto get_str = [&](const char* key, std::string& out) {
    if (!doc.contains(key) || doc[key].is_null()) return;
    const Json& v = doc[key];
    if (v.is_string()) out = v.get<std::string>();
    else if (v.is_number_float()) out = python_float_repr(v.get<double>());  // str(0.1) == "0.1"
    else if (v.is_number_integer() || v.is_boolean()) out = v.dump();
    else throw InputError(fmt::format("{}: key '{}' must be a string, got {}", where, key, v.type_name()));
  };
  get_str("name", name_);
  get_str("version", version_);
  get_str("format", format_);
  get_str("dataset_type", dataset_type_);
  if (doc.contains("segment_duration") && doc["segment_duration"].is_string())
    segment_duration_ = doc["segment_duration"].get<std::string>();
  if (doc.contains("time_column") && doc["time_column"].is_string())
    time_column_ = doc["time_column"].get<std::string>();
  if (dataset_type_ != "discrete" && dataset_type_ != "continuous")
    throw InputError(fmt::format("{}: dataset_type must be 'discrete' or 'continuous', got '{}'", where, dataset_type_));
  roots_.clear();
  for (const auto& [k, v] : default_roots()) roots_.emplace_back(k, "");
  if (doc.contains("roots") && !doc["roots"].is_null()) {
    if (!doc["roots"].is_object())
      throw InputError(fmt::format("{}: 'roots' must be a mapping of root name to folder", where));
    for (auto it = doc["roots"].begin(); it != doc["roots"].end(); ++it) {
      std::string value;
      if (it.value().is_string()) value = it.value().get<std::string>();
      else if (!it.value().is_null())
        throw InputError(fmt::format("{}: roots.{} must be a folder path, got {}", where, it.key(), it.value().dump()));
      auto slot = std::find_if(roots_.begin(), roots_.end(), [&](auto& r) { return r.first == it.key(); });
      if (slot == roots_.end()) roots_.emplace_back(it.key(), value);
      else slot->second = value;
    }
  }
  if (doc.contains("meta") && !doc["meta"].is_null()) {
    if (!doc["meta"].is_object()) throw InputError(fmt::format("{}: 'meta' must be a mapping", where));
    meta_ = doc["meta"];
    if (meta_.contains("fps_default") && !meta_["fps_default"].is_null() && !meta_["fps_default"].is_number())
      throw InputError(fmt::format("{}: meta.fps_default must be a number, got {}", where, meta_["fps_default"].dump()));
  }
}

void Dataset::ensure_roots() const {
  for (const auto& [k, v] : roots_)
    if (!v.empty()) make_dirs(root(k));
}

void Dataset::save() const {
  Json doc = Json::object();
  doc["name"] = name_;
  doc["version"] = version_;
  doc["format"] = format_;
  Json roots = Json::object();
  for (const auto& [k, v] : roots_) roots[k] = v;
  doc["roots"] = roots;
  doc["meta"] = meta_;
  doc["dataset_type"] = dataset_type_;
  if (segment_duration_ && !segment_duration_->empty()) doc["segment_duration"] = *segment_duration_;
  if (time_column_ && !time_column_->empty()) doc["time_column"] = *time_column_;
  std::string text;
  if (format_ == "json") {
    PyDumpOptions opt;
    opt.indent = 2;
    text = python_json_dumps(doc, opt);
  } else {
    ManifestYaml y;
    for (auto it = doc.begin(); it != doc.end(); ++it) y.entries.emplace_back(it.key(), it.value());
    text = y.format();
  }
  write_file_atomic(manifest_path_, text);
  ensure_roots();
}

std::optional<double> Dataset::fps_default() const {
  if (!meta_.contains("fps_default")) return std::nullopt;
  const Json& v = meta_["fps_default"];
  if (!v.is_number()) return std::nullopt;
  return v.get<double>();
}

// ---- Roots and paths ----------------------------------------------------------------------------

bool Dataset::has_root(std::string_view key) const {
  for (const auto& [k, v] : roots_)
    if (k == key) return !v.empty();
  return false;
}

fs::path Dataset::root(std::string_view key) const {
  for (const auto& [k, v] : roots_) {
    if (k != key) continue;
    if (v.empty()) break;
    fs::path p(v);
    if (p.is_absolute()) return p;
    return fs::weakly_canonical(base_dir_ / p);
  }
  std::vector<std::string> keys;
  for (const auto& [k, v] : roots_) keys.push_back(k);
  throw InputError(fmt::format("Root '{}' is not set in manifest {}. Available roots: [{}]", key,
                               manifest_path_.string(), join_names(keys)));
}

void Dataset::set_root(std::string key, std::string value) {
  auto slot = std::find_if(roots_.begin(), roots_.end(), [&](auto& r) { return r.first == key; });
  if (slot == roots_.end()) roots_.emplace_back(std::move(key), std::move(value));
  else slot->second = std::move(value);
  ensure_roots();
}

fs::path Dataset::media_root() const { return has_root("media_raw") ? root("media_raw") : root("media"); }

fs::path Dataset::resolve_path(std::string_view stored) const {
  std::string s = trim(stored);
  fs::path p(s);
  if (p.is_relative()) return (base_dir_ / p).lexically_normal();
  if (fs::exists(p)) return p;
  // Longest matching prefix wins.
  const std::pair<std::string, std::string>* best = nullptr;
  for (const auto& m : remap_)
    if (s.rfind(m.first, 0) == 0 && (!best || m.first.size() > best->first.size())) best = &m;
  if (best) return fs::path(best->second + s.substr(best->first.size()));
  return p;
}

std::string Dataset::relative_to_base(const fs::path& path) const {
  fs::path abs = fs::weakly_canonical(fs::absolute(path));
  if (path_is_within(abs, base_dir_)) return abs.lexically_relative(base_dir_).generic_string();
  return abs.generic_string();
}

void Dataset::remap_roots(std::vector<std::pair<std::string, std::string>> prefix_map) {
  remap_ = std::move(prefix_map);
}

// ---- Tracks -------------------------------------------------------------------------------------

std::vector<TracksIndexEntry> Dataset::tracks_index() const {
  fs::path index_path = root("tracks") / "index.csv";
  if (!fs::exists(index_path)) return {};
  TextCsv csv = TextCsv::read(index_path);
  for (const char* required : {"sequence", "abs_path"})
    if (!csv.column_index(required))
      throw SchemaError::missing_column(index_path.string(), required, csv.header);
  std::vector<TracksIndexEntry> out;
  std::map<std::pair<std::string, std::string>, std::size_t> position;
  for (std::size_t r = 0; r < csv.rows.size(); ++r) {
    TracksIndexEntry e;
    e.abs_path_cell = std::string(csv.cell(r, "abs_path"));
    e.path = resolve_path(e.abs_path_cell);
    // DECISIONS P8: the file name (entry key) wins over pandas-mangled cells ("001" -> "1").
    std::tie(e.group, e.sequence) =
        entry_names_from_key(e.path.stem().string(), csv.cell(r, "group"), csv.cell(r, "sequence"));
    std::string_view n = csv.cell(r, "n_rows");
    if (!n.empty()) {
      try {
        e.n_rows = static_cast<int64_t>(std::stod(std::string(n)));
      } catch (...) {
      }
    }
    auto key = std::make_pair(e.group, e.sequence);
    auto it = position.find(key);
    if (it != position.end()) {
      out[it->second] = std::move(e);  // duplicate entry: the last row wins
    } else {
      position.emplace(key, out.size());
      out.push_back(std::move(e));
    }
  }
  return out;
}

std::vector<std::string> Dataset::list_groups() const {
  if (!fs::exists(root("tracks") / "index.csv")) throw IoError("tracks/index.csv not found.");
  std::set<std::string> groups;
  for (const auto& e : tracks_index()) groups.insert(e.group);
  return {groups.begin(), groups.end()};
}

std::vector<std::string> Dataset::list_sequences(std::optional<std::string> group) const {
  if (!fs::exists(root("tracks") / "index.csv")) throw IoError("tracks/index.csv not found.");
  std::set<std::string> seqs;
  for (const auto& e : tracks_index())
    if (!group || e.group == *group) seqs.insert(e.sequence);
  return {seqs.begin(), seqs.end()};
}

fs::path Dataset::tracks_path(std::string_view group, std::string_view sequence) const {
  return root("tracks") / (make_entry_key(group, sequence) + ".parquet");
}

namespace {

// Check the canonical track schema (§1.7, importers.hpp) and return the table sorted by
// (frame, id), with group/sequence (re)set. `where` names the source in messages.
Table canonicalize_tracks(const Table& in, std::string_view where, std::string_view group,
                          std::string_view sequence) {
  for (const char* col : {"frame", "id"})
    if (!in.has_column(col)) throw SchemaError::missing_column(where, col, in.column_names());
  Table t = in;
  for (const char* col : {"frame", "id"}) {
    const Column& c = t.column(col);
    if (c.type() == DType::kString) throw SchemaError::wrong_type(where, col, "integer", "string");
    if (c.has_nulls()) throw InputError(fmt::format("{}: column '{}' has missing values; every row needs a {}", where, col, col));
    if (c.type() != DType::kInt64) {
      try {
        t.set_column(col, c.cast(DType::kInt64));
      } catch (const InputError&) {
        throw SchemaError::wrong_type(where, col, "integer values", std::string(dtype_name(c.type())) + " with fractions");
      }
    }
  }
  bool has_xy = t.has_column("X") && t.has_column("Y");
  bool has_pose = false;
  for (const auto& n : t.column_names())
    if (n.rfind("poseX", 0) == 0) has_pose = true;
  if (!has_xy && !has_pose)
    throw SchemaError(fmt::format("{}: no position columns: expected X and Y, or poseX<k>/poseY<k> (found: {})", where,
                                  join_names(t.column_names())));
  for (const auto& n : t.column_names()) {
    if (n == "group" || n == "sequence") continue;
    const Column& c = t.column(n);
    bool numeric_expected = n == "time" || n == "X" || n == "Y" || n == "ANGLE" || n.rfind("pose", 0) == 0;
    if (numeric_expected && !is_numeric(c.type()))
      throw SchemaError::wrong_type(where, n, "numbers", dtype_name(c.type()));
    if (numeric_expected && c.type() != DType::kFloat64) t.set_column(n, c.cast(DType::kFloat64));
  }
  Table sorted = t.sort_by({"frame", "id"});
  auto frame = sorted.column("frame").i64();
  auto id = sorted.column("id").i64();
  for (std::size_t r = 1; r < sorted.num_rows(); ++r)
    if (frame[r] == frame[r - 1] && id[r] == id[r - 1])
      throw InputError(fmt::format("{}: duplicate rows for (frame {}, id {}); each animal may appear once per frame",
                                   where, frame[r], id[r]));
  sorted.drop_column("group");
  sorted.drop_column("sequence");
  sorted.add_column("group", Column::constant_string(std::string(group), sorted.num_rows()));
  sorted.add_column("sequence", Column::constant_string(std::string(sequence), sorted.num_rows()));
  return sorted;
}

}  // namespace

void Dataset::write_tracks(std::string_view group, std::string_view sequence, const Table& tracks,
                           const TrackWriteInfo& info) {
  validate_entry_name("group", group);
  validate_entry_name("sequence", sequence);
  std::string where = info.sources.empty() ? fmt::format("tracks for {}/{}", group, sequence)
                                           : info.sources.front().string();
  if (tracks.num_rows() == 0) throw InputError(fmt::format("{}: no rows to import", where));
  Table canonical = canonicalize_tracks(tracks, where, group, sequence);
  std::string key = make_entry_key(group, sequence);
  fs::path tracks_root = root("tracks");
  fs::path index_path = tracks_root / "index.csv";
  FileLock lock(tracks_root / ".index.csv.lock");
  TextCsv csv;
  if (fs::exists(index_path)) csv = TextCsv::read(index_path);
  if (csv.header.empty())
    for (const char* c : kTracksIndexColumns) csv.header.emplace_back(c);
  for (const char* c : kTracksIndexColumns) csv.ensure_column(c);
  // DECISIONS P4: two different entries must not share one file name.
  for (std::size_t r = 0; r < csv.rows.size(); ++r) {
    std::string g(csv.cell(r, "group")), s(csv.cell(r, "sequence"));
    if ((g != group || s != sequence) && make_entry_key(g, s) == key)
      throw InputError(fmt::format("entry ({}, {}) would be stored as '{}', which entry ({}, {}) already uses; "
                                   "rename the group or sequence",
                                   group, sequence, key, g, s));
  }
  fs::path out = tracks_root / (key + ".parquet");
  write_parquet(canonical, out);
  std::vector<std::string> row(csv.header.size());
  auto set = [&](const char* col, std::string value) { row[*csv.column_index(col)] = std::move(value); };
  set("group", std::string(group));
  set("sequence", std::string(sequence));
  set("group_safe", to_safe_name(group));
  set("sequence_safe", to_safe_name(sequence));
  set("abs_path", relative_to_base(out));
  set("std_format", info.std_format);
  std::vector<std::string> sources;
  for (const auto& s : info.sources) sources.push_back(fs::absolute(s).lexically_normal().string());
  set("source_abs_path", join_names(sources, ";"));
  set("n_rows", std::to_string(canonical.num_rows()));
  // Replace any row of the same entry, then append (the reference's _write_tracks_index_row).
  std::vector<std::vector<std::string>> kept;
  for (std::size_t r = 0; r < csv.rows.size(); ++r)
    if (!(csv.cell(r, "group") == group && csv.cell(r, "sequence") == sequence)) kept.push_back(csv.rows[r]);
  kept.push_back(std::move(row));
  csv.rows = std::move(kept);
  csv.write_atomic(index_path);
}

Table Dataset::load_tracks(std::string_view group, std::string_view sequence, const ParquetReadOptions& options) const {
  for (const auto& e : tracks_index())
    if (e.group == group && e.sequence == sequence) {
      if (!fs::exists(e.path))
        throw IoError(fmt::format("Stale tracks index: ({},{}) -> {}", group, sequence, e.path.string()));
      return read_parquet(e.path, options);
    }
  throw InputError(fmt::format("no tracks for entry (group '{}', sequence '{}') in {}", group, sequence,
                               (root("tracks") / "index.csv").string()));
}

}  // namespace mosaic
