// DeepLabCut CSV importer.
//
// DeepLabCut writes a pandas frame with a column MultiIndex as CSV, so the file starts with one
// header row per index level, the level name in the first cell:
//   multi-animal:  scorer / individuals / bodyparts / coords
//   single-animal: scorer / bodyparts / coords
// then one row per frame: the frame index (or, for labelled data, image path columns), and
// x, y, likelihood per (individual, body part). Older multi-animal projects used the
// single-animal layout with the individual encoded as a body-part prefix (DeepOF: `B_Nose`,
// `W_Nose`); ImportOptions::individual_prefixes or the auto-detection in importers.hpp split them.
//
// Rules: ids follow the individuals row (first appearance) or the prefixes; keypoints follow the
// first appearance of body parts; an empty or non-finite coordinate is a missing keypoint; poseP
// is the likelihood (1 for present points in files without likelihood, e.g. labelled data); the
// frame is the index column when it holds integers, else the row number; an individual called
// "single" (maDLC's unique body parts, not an animal) is dropped when real individuals exist.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "io/importers/importer_util.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/importers.hpp"

namespace fs = std::filesystem;

namespace mosaic {
namespace {

using importer_detail::PoseGrid;

// Walks the lines of a text buffer without copying them; handles \n and \r\n.
class LineCursor {
 public:
  explicit LineCursor(std::string_view text) : text_(text) {}
  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    std::size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) end = text_.size();
    line = text_.substr(pos_, end - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = end + 1;
    ++line_no_;
    return true;
  }
  std::size_t line_no() const noexcept { return line_no_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_no_ = 0;
};

// Split a CSV line into fields (views into `line`, reused buffer). A quoted field loses its
// quotes; DeepLabCut never writes embedded quotes, so "" escapes are not unescaped.
void split_fields(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  std::size_t pos = 0;
  while (true) {
    if (pos < line.size() && line[pos] == '"') {
      std::size_t close = line.find('"', pos + 1);
      if (close == std::string_view::npos) close = line.size();
      out.push_back(line.substr(pos + 1, close - pos - 1));
      std::size_t comma = line.find(',', close);
      if (comma == std::string_view::npos) return;
      pos = comma + 1;
      continue;
    }
    std::size_t comma = line.find(',', pos);
    if (comma == std::string_view::npos) {
      out.push_back(line.substr(pos));
      return;
    }
    out.push_back(line.substr(pos, comma - pos));
    pos = comma + 1;
  }
}

std::vector<std::string> to_strings(const std::vector<std::string_view>& fields) {
  return std::vector<std::string>(fields.begin(), fields.end());
}

std::size_t index_of(std::vector<std::string>& list, const std::string& value) {
  auto it = std::find(list.begin(), list.end(), value);
  if (it != list.end()) return static_cast<std::size_t>(it - list.begin());
  list.push_back(value);
  return list.size() - 1;
}

// Auto-detect `<P>_<name>` individuals in a single-animal-layout file (rule in importers.hpp).
std::vector<std::string> detect_prefixes(const std::vector<std::string>& bodyparts) {
  std::vector<std::string> prefixes;
  std::vector<std::vector<std::string>> names;
  for (const auto& part : bodyparts) {
    std::size_t us = part.find('_');
    if (us == std::string::npos || us == 0 || us + 1 == part.size()) return {};
    std::string prefix = part.substr(0, us + 1);
    if (prefixes.empty() || prefixes.back() != prefix) {
      if (std::find(prefixes.begin(), prefixes.end(), prefix) != prefixes.end()) return {};  // not contiguous
      prefixes.push_back(prefix);
      names.emplace_back();
    }
    names.back().push_back(part.substr(us + 1));
  }
  if (prefixes.size() < 2 || names.front().size() < 2) return {};
  for (const auto& n : names)
    if (n != names.front()) return {};
  return prefixes;
}

// Where one data column goes in the grid.
struct ColumnTarget {
  std::size_t id = 0;
  std::size_t keypoint = 0;
  int coord = -1;  // 0 x, 1 y, 2 likelihood, -1 dropped
};

}  // namespace

ImportedSequence import_dlc_csv(const fs::path& file, const ImportOptions& options) {
  importer_detail::require_regular_file(file);
  importer_detail::check_fps(options.fps, file);
  const std::string where = file.string();
  const std::string expected = "a DeepLabCut CSV (header rows scorer, [individuals,] bodyparts, coords)";
  // Sniff before reading: a large binary file handed to the wrong importer is not read whole.
  if (!importer_detail::looks_like_text(file))
    throw InputError(fmt::format("{}: expected {}, found {}", where, expected, importer_detail::describe_found(file)));
  std::string text = read_file_text(file);
  if (text.empty() || text.find('\0') != std::string::npos)
    throw InputError(fmt::format("{}: expected {}, found {}", where, expected, importer_detail::describe_found(file)));

  std::string_view body = text;
  if (body.starts_with("\xEF\xBB\xBF")) body.remove_prefix(3);  // UTF-8 byte-order mark (Excel)
  LineCursor lines(body);
  std::vector<std::string_view> fields;
  std::string_view line;

  // --- header rows
  auto header_row = [&](std::string_view level, std::size_t width) -> std::vector<std::string> {
    if (!lines.next(line))
      throw InputError(fmt::format("{}: expected {}, but the file ends at line {} before the '{}' row", where, expected,
                                   lines.line_no(), level));
    split_fields(line, fields);
    if (fields.front() != level)
      throw InputError(fmt::format("{}: line {}: expected the '{}' header row, got '{}'", where, lines.line_no(), level,
                                   fields.front()));
    if (fields.size() != width)
      throw InputError(fmt::format("{}: line {}: expected {} fields (like line 1), got {} (ragged header row)", where,
                                   lines.line_no(), width, fields.size()));
    return to_strings(fields);
  };
  if (!lines.next(line)) throw InputError(fmt::format("{}: expected {}, found an empty file", where, expected));
  split_fields(line, fields);
  if (fields.front() != "scorer")
    throw InputError(fmt::format("{}: expected {}, found {}", where, expected, importer_detail::describe_found(file)));
  const std::vector<std::string> scorer = to_strings(fields);
  const std::size_t width = scorer.size();

  std::vector<std::string> individuals_row, bodyparts_row, coords_row;
  {
    LineCursor peek = lines;
    std::string_view second;
    if (!peek.next(second))
      throw InputError(fmt::format("{}: expected {}, but the file ends after line 1", where, expected));
    split_fields(second, fields);
    if (fields.front() == "individuals") individuals_row = header_row("individuals", width);
    else if (fields.front() != "bodyparts")
      throw InputError(fmt::format("{}: line 2: expected the 'individuals' or 'bodyparts' header row of {}, got '{}'",
                                   where, expected, fields.front()));
  }
  bodyparts_row = header_row("bodyparts", width);
  coords_row = header_row("coords", width);

  // --- data columns: the leading columns that are not x/y/likelihood are the row index
  auto coord_code = [](std::string_view c) { return c == "x" ? 0 : c == "y" ? 1 : c == "likelihood" ? 2 : -1; };
  std::size_t n_index = 1;
  while (n_index < width && coord_code(coords_row[n_index]) < 0 && coords_row[n_index].empty()) ++n_index;
  if (n_index >= width) throw InputError(fmt::format("{}: no x/y/likelihood columns in the 'coords' header row", where));
  for (std::size_t c = n_index; c < width; ++c) {
    if (coord_code(coords_row[c]) < 0)
      throw InputError(fmt::format("{}: column {} ({}): unsupported coordinate '{}' (expected x, y or likelihood)", where,
                                   c + 1, bodyparts_row[c], coords_row[c]));
  }

  // --- individuals and keypoints
  std::vector<std::string> individuals, keypoints, notes;
  std::vector<ColumnTarget> targets(width);
  if (!individuals_row.empty()) {
    bool has_real = false;
    for (std::size_t c = n_index; c < width; ++c) has_real = has_real || individuals_row[c] != "single";
    std::vector<std::string> dropped;
    for (std::size_t c = n_index; c < width; ++c) {
      if (has_real && individuals_row[c] == "single") {
        if (std::find(dropped.begin(), dropped.end(), bodyparts_row[c]) == dropped.end()) dropped.push_back(bodyparts_row[c]);
        continue;
      }
      targets[c] = {index_of(individuals, individuals_row[c]), index_of(keypoints, bodyparts_row[c]),
                    coord_code(coords_row[c])};
    }
    if (!dropped.empty())
      notes.push_back(fmt::format("dropped the unique body parts of DLC individual 'single' (not an animal): {}",
                                  join_names(dropped)));
    if (!options.individual_prefixes.empty())
      notes.push_back("individual_prefixes ignored: the file has an 'individuals' header row");
  } else {
    std::vector<std::string> parts;  // body parts in first-appearance order
    for (std::size_t c = n_index; c < width; ++c) index_of(parts, bodyparts_row[c]);
    std::vector<std::string> prefixes = options.individual_prefixes;
    bool explicit_prefixes = !prefixes.empty();
    if (!explicit_prefixes) prefixes = detect_prefixes(parts);
    if (prefixes.empty()) prefixes = {""};  // one animal
    for (const auto& prefix : prefixes) {
      std::string name = prefix;
      if (!name.empty() && name.back() == '_') name.pop_back();
      individuals.push_back(name);
    }
    std::vector<std::pair<std::size_t, std::size_t>> part_target(parts.size());  // (id, keypoint)
    for (std::size_t i = 0; i < parts.size(); ++i) {
      auto hit = std::find_if(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return parts[i].starts_with(p); });
      if (hit == prefixes.end())
        throw InputError(fmt::format("{}: body part '{}' matches none of the individual prefixes ({})", where, parts[i],
                                     join_names(prefixes)));
      std::size_t id = static_cast<std::size_t>(hit - prefixes.begin());
      part_target[i] = {id, index_of(keypoints, parts[i].substr(hit->size()))};
    }
    for (std::size_t c = n_index; c < width; ++c) {
      std::size_t part = static_cast<std::size_t>(std::find(parts.begin(), parts.end(), bodyparts_row[c]) - parts.begin());
      targets[c] = {part_target[part].first, part_target[part].second, coord_code(coords_row[c])};
    }
    if (prefixes.size() > 1)
      notes.push_back(fmt::format("DLC individuals from body-part prefixes ({}): {}",
                                  explicit_prefixes ? "individual_prefixes" : "auto-detected", join_names(prefixes)));
  }

  {
    std::vector<std::string> mapping;
    for (std::size_t a = 0; a < individuals.size(); ++a) mapping.push_back(fmt::format("{} = '{}'", a, individuals[a]));
    notes.push_back(fmt::format("ids: {}", join_names(mapping)));
  }

  // Every (id, keypoint) needs exactly one x and one y column (likelihood optional).
  const std::size_t n_ids = individuals.size(), n_kp = keypoints.size();
  std::vector<int> seen(n_ids * n_kp * 3, 0);
  for (std::size_t c = n_index; c < width; ++c) {
    const ColumnTarget& t = targets[c];
    if (t.coord < 0) continue;
    int& count = seen[(t.id * n_kp + t.keypoint) * 3 + static_cast<std::size_t>(t.coord)];
    if (++count > 1)
      throw InputError(fmt::format("{}: duplicate column for individual '{}', body part '{}', coordinate '{}' (column {})",
                                   where, individuals[t.id], keypoints[t.keypoint], coords_row[c], c + 1));
  }
  for (std::size_t a = 0; a < n_ids; ++a) {
    for (std::size_t k = 0; k < n_kp; ++k) {
      const int* s = &seen[(a * n_kp + k) * 3];
      if ((s[0] == 0) != (s[1] == 0))
        throw InputError(fmt::format("{}: individual '{}', body part '{}' has a{} column but no {} column", where,
                                     individuals[a], keypoints[k], s[0] ? "n x" : " y", s[0] ? "y" : "x"));
    }
  }

  // --- data rows (counted first so the grid is allocated once)
  std::size_t n_rows = 0;
  {
    LineCursor count = lines;
    std::string_view l;
    while (count.next(l))
      if (!l.empty()) ++n_rows;
  }
  PoseGrid grid(std::vector<int64_t>(n_rows, 0), n_ids, n_kp);
  // NaN confidence = "the source has none" (-> 1 for present points); likelihood columns overwrite it.
  std::fill(grid.p.begin(), grid.p.end(), std::numeric_limits<double>::quiet_NaN());
  std::vector<int64_t> index_values(n_rows, 0);
  std::vector<std::size_t> row_line(n_rows, 0);
  bool integer_index = n_index == 1;
  std::size_t row = 0;
  while (lines.next(line)) {
    if (line.empty()) continue;
    split_fields(line, fields);
    if (fields.size() != width)
      throw InputError(fmt::format("{}: line {}: expected {} fields, got {} (ragged row)", where, lines.line_no(), width,
                                   fields.size()));
    row_line[row] = lines.line_no();
    if (integer_index) {
      if (auto v = importer_detail::parse_int64(fields[0])) index_values[row] = *v;
      else integer_index = false;
    }
    for (std::size_t c = n_index; c < width; ++c) {
      const ColumnTarget& t = targets[c];
      if (t.coord < 0) continue;
      std::string_view cell = fields[c];
      double value = std::numeric_limits<double>::quiet_NaN();
      if (!cell.empty()) {
        auto parsed = importer_detail::parse_double(cell);
        if (!parsed)
          throw InputError(fmt::format("{}: line {}, column {} ({} {} {}): not a number: '{}'", where, lines.line_no(),
                                       c + 1, individuals[t.id], keypoints[t.keypoint], coords_row[c], cell));
        value = *parsed;
      }
      const std::size_t at = grid.at(row, t.id, t.keypoint);
      (t.coord == 0 ? grid.x : t.coord == 1 ? grid.y : grid.p)[at] = value;
    }
    ++row;
  }

  // --- frame numbers: the integer index column, else the row number
  if (integer_index) {
    grid.frames = index_values;
  } else {
    std::iota(grid.frames.begin(), grid.frames.end(), int64_t{0});
    if (n_rows > 0) notes.push_back("frame = row number (the DLC index column does not hold integers)");
  }
  if (!std::is_sorted(grid.frames.begin(), grid.frames.end()) ||
      std::adjacent_find(grid.frames.begin(), grid.frames.end()) != grid.frames.end()) {
    std::vector<std::size_t> order(n_rows);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return grid.frames[a] < grid.frames[b]; });
    for (std::size_t i = 1; i < n_rows; ++i) {
      if (grid.frames[order[i]] == grid.frames[order[i - 1]])
        throw InputError(fmt::format("{}: frame {} appears twice (lines {} and {})", where, grid.frames[order[i]],
                                     row_line[order[i - 1]], row_line[order[i]]));
    }
    PoseGrid sorted(std::vector<int64_t>(n_rows, 0), n_ids, n_kp);
    const std::size_t block = n_ids * n_kp;
    for (std::size_t i = 0; i < n_rows; ++i) {
      sorted.frames[i] = grid.frames[order[i]];
      std::copy_n(grid.x.begin() + static_cast<std::ptrdiff_t>(order[i] * block), block, sorted.x.begin() + static_cast<std::ptrdiff_t>(i * block));
      std::copy_n(grid.y.begin() + static_cast<std::ptrdiff_t>(order[i] * block), block, sorted.y.begin() + static_cast<std::ptrdiff_t>(i * block));
      std::copy_n(grid.p.begin() + static_cast<std::ptrdiff_t>(order[i] * block), block, sorted.p.begin() + static_cast<std::ptrdiff_t>(i * block));
    }
    grid = std::move(sorted);
    notes.push_back("rows were not in frame order; sorted them by frame");
  }

  importer_detail::AngleKeypoints angle = importer_detail::resolve_angle_keypoints(keypoints, options, file, notes);
  if (!options.fps) notes.push_back("fps unknown: time is empty (pass fps to fill it)");
  Table table = importer_detail::pose_grid_to_table(grid, options.fps, angle);

  // Sequence: the file stem without DeepLabCut's "<scorer>..." suffix (video1DLC_resnet50_x.csv -> video1).
  std::string stem = file.stem().string();
  std::string sequence = stem;
  if (scorer.size() > n_index && !scorer[n_index].empty()) {
    std::size_t pos = stem.find(scorer[n_index]);
    if (pos != std::string::npos && pos > 0) sequence = stem.substr(0, pos);
  }
  ImportedSequence seq = importer_detail::make_sequence(file, options, sequence, std::move(table), options.fps);
  seq.keypoints = std::move(keypoints);
  seq.notes = std::move(notes);
  return seq;
}

}  // namespace mosaic
