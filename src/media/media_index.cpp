// The dataset's media index (`<media root>/index.csv`, pipeline.md §1.6) and `import_videos`.
//
// Videos are stored as `<media root>/<entry key>/<file name>`: one folder per sequence keeps a
// multi-video sequence together and keeps equal file names of different sequences apart. The
// index is read and written as text (DECISIONS P8) under a lock, replaced atomically (P10);
// `abs_path` is written absolute, as the reference does (P9).
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <map>
#include <set>

#include "mosaic/csv.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/frames.hpp"
#include "mosaic/json.hpp"
#include "mosaic/run_id.hpp"

namespace fs = std::filesystem;

namespace mosaic {

const std::vector<std::string>& media_index_columns() {
  static const std::vector<std::string> columns = {"name",     "group",     "sequence", "group_safe", "sequence_safe",
                                                   "abs_path", "size_bytes", "mtime_iso", "width",      "height",
                                                   "fps",      "codec",     "video_order"};
  return columns;
}

namespace {

fs::path media_index_path(const Dataset& dataset) { return dataset.media_root() / "index.csv"; }

// pandas writes a NaN group as an empty cell; a literal "nan" only appears in files that went
// through an older pandas round trip without keep_default_na=False.
std::string nan_to_empty(std::string_view cell) {
  if (cell == "nan" || cell == "NaN") return "";
  return std::string(cell);
}

// "3", "3.0" (pandas turns an int column with a gap into floats), "" -> 0.
int64_t parse_video_order(std::string_view cell, const fs::path& file, std::size_t row) {
  if (cell.empty() || cell == "nan" || cell == "NaN") return 0;
  std::string text(cell);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || errno != 0 || !std::isfinite(v))
    throw InputError(fmt::format("{}: row {}: video_order '{}' is not a number", file.string(), row + 2, text));
  return static_cast<int64_t>(v);
}

// Python's datetime.fromtimestamp(ts, timezone.utc).isoformat().
std::string iso_utc(const struct timespec& ts) {
  std::tm tm{};
  time_t secs = ts.tv_sec;
  ::gmtime_r(&secs, &tm);
  std::string out = fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}", tm.tm_year + 1900, tm.tm_mon + 1,
                                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  const long usec = ts.tv_nsec / 1000;
  if (usec != 0) out += fmt::format(".{:06d}", usec);
  return out + "+00:00";
}

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  bool eq = fs::equivalent(a, b, ec);
  return !ec && eq;
}

bool same_content(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (fs::file_size(a, ec) != fs::file_size(b, ec) || ec) return false;
  return read_file_bytes(a) == read_file_bytes(b);
}

// Put `source` at `dest` (which does not exist) through a temporary name: a hard link when
// allowed, else a copy. Returns true for a hard link.
bool place_file(const fs::path& source, const fs::path& dest, bool copy_only) {
  AtomicFile out(dest);
  bool linked = false;
  if (!copy_only) {
    std::error_code ec;
    fs::create_hard_link(source, out.temp_path(), ec);
    linked = !ec;  // EXDEV (other filesystem), EPERM (protected links), ...: copy instead
  }
  if (!linked) {
    std::error_code ec;
    fs::copy_file(source, out.temp_path(), fs::copy_options::overwrite_existing, ec);
    if (ec) throw IoError(fmt::format("{}: cannot copy to {}: {}", source.string(), dest.string(), ec.message()));
  }
  out.commit();
  return linked;
}

}  // namespace

std::vector<MediaIndexRow> read_media_index(const Dataset& dataset) {
  const fs::path path = media_index_path(dataset);
  if (!fs::exists(path))
    throw IoError(fmt::format("{}: media index not found (attach videos with `mosaic import-video`)", path.string()));
  TextCsv csv = TextCsv::read(path);
  for (const char* need : {"sequence", "abs_path"})
    if (!csv.column_index(need)) throw SchemaError::missing_column(path.string(), need, csv.header);
  std::vector<MediaIndexRow> rows;
  rows.reserve(csv.rows.size());
  for (std::size_t r = 0; r < csv.rows.size(); ++r) {
    MediaIndexRow row;
    row.name = std::string(csv.cell(r, "name"));
    row.group = nan_to_empty(csv.cell(r, "group"));
    row.sequence = nan_to_empty(csv.cell(r, "sequence"));
    row.abs_path_cell = std::string(csv.cell(r, "abs_path"));
    row.path = dataset.resolve_path(row.abs_path_cell);
    row.video_order = parse_video_order(csv.cell(r, "video_order"), path, r);
    if (row.name.empty()) row.name = row.path.filename().string();
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<ImportedVideo> import_videos(const Dataset& dataset, const std::vector<fs::path>& files,
                                         const VideoImportOptions& options) {
  if (options.sequence.empty()) throw InputError("import-video: a sequence name is required (--sequence)");
  validate_entry_name("sequence", options.sequence);
  if (!options.group.empty()) validate_entry_name("group", options.group);
  if (files.empty()) throw InputError("import-video: no video files given");

  // Check every file before storing any, so a bad file leaves the dataset untouched.
  std::vector<ImportedVideo> out;
  std::set<std::string> names;
  for (const auto& file : files) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec))
      throw IoError(fmt::format("Failed to open video: {} ({})", file.string(),
                                fs::exists(file, ec) ? "not a regular file" : "file not found"));
    ImportedVideo v;
    v.source = fs::absolute(file);
    v.info = probe_video(file);
    if (!names.insert(file.filename().string()).second)
      throw InputError(fmt::format("import-video: two files named '{}' for sequence '{}'; rename one",
                                   file.filename().string(), options.sequence));
    out.push_back(std::move(v));
  }

  const fs::path media_root = dataset.media_root();
  const fs::path dest_dir = media_root / make_entry_key(options.group, options.sequence);
  make_dirs(dest_dir);
  for (auto& v : out) {
    v.stored = dest_dir / v.source.filename();
    if (fs::exists(v.stored)) {
      if (same_file(v.source, v.stored) || same_content(v.source, v.stored)) {
        v.already_present = true;
        continue;
      }
      if (!options.overwrite)
        throw InputError(fmt::format("{}: a different file with this name is already stored for sequence '{}' "
                                     "(use --overwrite to replace it)",
                                     v.stored.string(), options.sequence));
    }
    v.hard_linked = place_file(v.source, v.stored, options.copy);
  }

  // Update the index under its lock: replace rows of the same stored file, add the new rows,
  // re-rank video_order by file name within the sequence.
  const fs::path index_path = media_index_path(dataset);
  // The same lock file convention as the run indexes (index_csv.cpp).
  FileLock lock(index_path.parent_path() / ("." + index_path.filename().string() + ".lock"));
  TextCsv csv;
  if (fs::exists(index_path)) csv = TextCsv::read(index_path);
  if (csv.header.empty()) csv.header = media_index_columns();
  for (const auto& c : media_index_columns()) csv.ensure_column(c);
  for (auto& row : csv.rows) row.resize(csv.header.size());
  auto col = [&](std::string_view name) { return *csv.column_index(name); };

  std::set<fs::path> stored;
  for (const auto& v : out) stored.insert(fs::weakly_canonical(v.stored));
  std::erase_if(csv.rows, [&](const std::vector<std::string>& row) {
    return stored.count(fs::weakly_canonical(dataset.resolve_path(row[col("abs_path")]))) > 0;
  });
  for (const auto& v : out) {
    struct stat st{};
    if (::stat(v.stored.c_str(), &st) != 0)
      throw IoError(fmt::format("{}: cannot stat: {}", v.stored.string(), std::strerror(errno)));
    std::vector<std::string> row(csv.header.size());
    row[col("name")] = v.stored.filename().string();
    row[col("group")] = options.group;
    row[col("sequence")] = options.sequence;
    row[col("group_safe")] = to_safe_name(options.group);
    row[col("sequence_safe")] = to_safe_name(options.sequence);
    row[col("abs_path")] = fs::absolute(v.stored).lexically_normal().string();
    row[col("size_bytes")] = std::to_string(static_cast<long long>(st.st_size));
    row[col("mtime_iso")] = iso_utc(st.st_mtim);
    row[col("width")] = std::to_string(v.info.width);
    row[col("height")] = std::to_string(v.info.height);
    row[col("fps")] = python_float_repr(v.info.fps);
    row[col("codec")] = v.info.codec;
    csv.rows.push_back(std::move(row));
  }
  // video_order: 0-based rank by file name within (group, sequence), for every row of this
  // sequence (older rows included).
  std::vector<std::size_t> members;
  for (std::size_t r = 0; r < csv.rows.size(); ++r)
    if (nan_to_empty(csv.rows[r][col("group")]) == options.group && csv.rows[r][col("sequence")] == options.sequence)
      members.push_back(r);
  std::stable_sort(members.begin(), members.end(), [&](std::size_t a, std::size_t b) {
    return csv.rows[a][col("name")] < csv.rows[b][col("name")];
  });
  for (std::size_t rank = 0; rank < members.size(); ++rank) {
    csv.rows[members[rank]][col("video_order")] = std::to_string(rank);
    for (auto& v : out)
      if (csv.rows[members[rank]][col("name")] == v.stored.filename().string()) v.video_order = static_cast<int64_t>(rank);
  }
  csv.write_atomic(index_path);
  return out;
}

}  // namespace mosaic
