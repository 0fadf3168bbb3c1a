// Importers for tables already in canonical form (../shared/data/*/tracks/*.csv, or the same as
// Parquet): validate, normalise types and order, never invent data.
//
// Rules:
// - Required: `frame` and `id` (integers, no missing values), and either `X` and `Y` or at least
//   one `poseX<k>`/`poseY<k>` pair (then X/Y = mean of the present keypoints). A missing column is
//   a SchemaError naming the file and the column.
// - Every canonical column (frame, time, id, X, Y, ANGLE, poseX/Y/P<k>) must be numeric: the first
//   cell that is not a number is an InputError naming file, column, line (CSV) or row (Parquet)
//   and the value.
// - Rows are sorted stably by (frame, id) when they are not already (a note says so); a repeated
//   (frame, id) is an InputError naming the file and the first duplicate.
// - `time`: kept from the file; filled as frame/fps when absent (NaN without fps); recomputed as
//   frame/fps when options.fps is given (the option overrides what the file stores).
// - `ANGLE`: kept; when absent it is computed from angle_from/angle_to (keypoint indices) if set,
//   else left empty. `poseP<k>` absent: 1 for present points, 0 for missing ones.
// - `group`/`sequence` columns are dropped (the Dataset sets them). Other columns are kept, after
//   the canonical ones, in file order. Missing (frame, id) rows are not added.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "io/importers/importer_util.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/importers.hpp"
#include "mosaic/parquet.hpp"

namespace fs = std::filesystem;

namespace mosaic {
namespace {

enum class Origin { kCsv, kParquet };

// Where row `row` (0-based data row) is in the source, for messages.
std::string row_ref(Origin origin, std::size_t row) {
  return origin == Origin::kCsv ? fmt::format("line {}", row + 2) : fmt::format("row {}", row);
}

// A numeric column as float64; throws on the first cell that is not a number.
std::vector<double> as_float64(const Column& col, std::string_view name, const std::string& where, Origin origin) {
  const std::size_t n = col.size();
  if (col.type() == DType::kString) {
    std::vector<double> out(n, std::numeric_limits<double>::quiet_NaN());
    for (std::size_t r = 0; r < n; ++r) {
      if (col.is_null(r)) continue;
      std::string_view cell = col.str(r);
      auto v = importer_detail::parse_double(cell);
      if (!v)
        throw InputError(fmt::format("{}: column '{}', {}: non-numeric value '{}' (expected a number)", where, name,
                                     row_ref(origin, r), cell));
      out[r] = *v;
    }
    return out;
  }
  if (col.type() == DType::kBool) {
    for (std::size_t r = 0; r < n; ++r)
      if (!col.is_null(r))
        throw InputError(fmt::format("{}: column '{}', {}: non-numeric value '{}' (expected a number)", where, name,
                                     row_ref(origin, r), col.bools()[r] ? "True" : "False"));
    return std::vector<double>(n, std::numeric_limits<double>::quiet_NaN());
  }
  if (col.type() == DType::kFloat64) {
    auto v = col.f64();
    return std::vector<double>(v.begin(), v.end());
  }
  std::vector<double> out(n);
  for (std::size_t r = 0; r < n; ++r) out[r] = col.as_double(r);
  return out;
}

// frame / id: integers without missing values.
std::vector<int64_t> as_key(const Column& col, std::string_view name, const std::string& where, Origin origin) {
  const std::size_t n = col.size();
  if (col.type() == DType::kInt64 && !col.has_nulls()) {
    auto v = col.i64();
    return std::vector<int64_t>(v.begin(), v.end());
  }
  std::vector<int64_t> out(n);
  if (is_integer(col.type())) {
    for (std::size_t r = 0; r < n; ++r) {
      if (col.is_null(r))
        throw InputError(fmt::format("{}: column '{}', {}: missing value (every row needs a {})", where, name,
                                     row_ref(origin, r), name));
      out[r] = col.as_int64(r);
    }
    return out;
  }
  std::vector<double> values = as_float64(col, name, where, origin);
  for (std::size_t r = 0; r < n; ++r) {
    const double v = values[r];
    if (std::isnan(v))
      throw InputError(fmt::format("{}: column '{}', {}: missing value (every row needs a {})", where, name,
                                   row_ref(origin, r), name));
    if (!(std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.0e15))
      throw InputError(fmt::format("{}: column '{}', {}: non-integer value {} (expected an integer)", where, name,
                                   row_ref(origin, r), v));
    out[r] = static_cast<int64_t>(v);
  }
  return out;
}

// poseX<k> / poseY<k> / poseP<k> -> (kind, k); nullopt for other names.
std::optional<std::pair<char, int64_t>> pose_column(std::string_view name) {
  if (name.size() < 6 || !name.starts_with("pose")) return std::nullopt;
  char kind = name[4];
  if (kind != 'X' && kind != 'Y' && kind != 'P') return std::nullopt;
  std::string_view digits = name.substr(5);
  if (digits.size() > 1 && digits.front() == '0') return std::nullopt;  // "decimal index, no zero padding"
  auto k = importer_detail::parse_int64(digits);
  if (!k || *k < 0 || digits.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  return std::pair{kind, *k};
}

ImportedSequence canonicalise(const Table& in, const fs::path& file, const ImportOptions& options, Origin origin) {
  const std::string where = file.string();
  std::vector<std::string> notes;
  std::vector<std::string> available = in.column_names();
  for (std::string_view key : {"frame", "id"})
    if (!in.has_column(key)) throw SchemaError::missing_column(where, key, available);

  // Pose columns by keypoint index.
  struct PoseCols {
    std::optional<std::size_t> x, y, p;
  };
  std::map<int64_t, PoseCols> pose;
  for (std::size_t c = 0; c < in.num_columns(); ++c) {
    if (auto pc = pose_column(available[c])) {
      PoseCols& slot = pose[pc->second];
      (pc->first == 'X' ? slot.x : pc->first == 'Y' ? slot.y : slot.p) = c;
    }
  }
  for (const auto& [k, cols] : pose) {
    if (!cols.x) throw SchemaError::missing_column(where, fmt::format("poseX{}", k), available);
    if (!cols.y) throw SchemaError::missing_column(where, fmt::format("poseY{}", k), available);
  }
  const bool has_x = in.has_column("X"), has_y = in.has_column("Y");
  if (has_x != has_y || (!has_x && pose.empty())) {
    std::string missing = has_x ? "Y" : "X";
    throw SchemaError(fmt::format("{}: missing column '{}' (expected X and Y, or poseX<k>/poseY<k> pairs; available: {})",
                                  where, missing, available.empty() ? "none" : join_names(available)));
  }

  std::vector<int64_t> frame = as_key(in.column("frame"), "frame", where, origin);
  std::vector<int64_t> id = as_key(in.column("id"), "id", where, origin);
  const std::size_t n = frame.size();

  // Stable sort by (frame, id) when needed, then refuse duplicates.
  std::vector<int64_t> order;
  bool sorted = true;
  for (std::size_t r = 1; r < n && sorted; ++r)
    sorted = frame[r - 1] < frame[r] || (frame[r - 1] == frame[r] && id[r - 1] <= id[r]);
  if (!sorted) {
    order.resize(n);
    for (std::size_t r = 0; r < n; ++r) order[r] = static_cast<int64_t>(r);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      const auto ua = static_cast<std::size_t>(a), ub = static_cast<std::size_t>(b);
      return frame[ua] != frame[ub] ? frame[ua] < frame[ub] : id[ua] < id[ub];
    });
    notes.push_back("rows were not sorted by (frame, id): sorted them (stable)");
  }
  auto source_row = [&](std::size_t r) { return order.empty() ? r : static_cast<std::size_t>(order[r]); };
  for (std::size_t r = 1; r < n; ++r) {
    const std::size_t a = source_row(r - 1), b = source_row(r);
    if (frame[a] == frame[b] && id[a] == id[b])
      throw InputError(fmt::format("{}: duplicate row for (frame {}, id {}) at {} and {}; each (frame, id) must appear once",
                                   where, frame[b], id[b], row_ref(origin, std::min(a, b)), row_ref(origin, std::max(a, b))));
  }
  auto permute = [&](auto values) {
    if (order.empty()) return values;
    decltype(values) out(values.size());
    for (std::size_t r = 0; r < n; ++r) out[r] = values[static_cast<std::size_t>(order[r])];
    return out;
  };
  auto numeric = [&](std::string_view name) { return permute(as_float64(in.column(name), name, where, origin)); };

  frame = permute(std::move(frame));
  id = permute(std::move(id));
  Table out;
  out.add_column("frame", Column::from_int64(frame));
  std::vector<double> time;
  if (options.fps || !in.has_column("time")) {
    time = importer_detail::time_from_frames(frame, options.fps);
    if (options.fps && in.has_column("time")) notes.push_back("time recomputed as frame/fps (the fps option overrides the file's time)");
  } else {
    time = numeric("time");
  }
  out.add_column("time", Column::from_float64(std::move(time)));
  out.add_column("id", Column::from_int64(std::move(id)));

  // Pose first (X/Y/ANGLE may be derived from it), added to the table after X, Y, ANGLE.
  std::vector<std::vector<double>> px, py, pp;
  std::vector<int64_t> keys;
  for (const auto& [k, cols] : pose) {
    keys.push_back(k);
    px.push_back(numeric(available[*cols.x]));
    py.push_back(numeric(available[*cols.y]));
    if (cols.p) {
      pp.push_back(numeric(available[*cols.p]));
    } else {
      std::vector<double> p(n);
      for (std::size_t r = 0; r < n; ++r) p[r] = std::isfinite(px.back()[r]) && std::isfinite(py.back()[r]) ? 1.0 : 0.0;
      pp.push_back(std::move(p));
    }
  }
  if (std::any_of(pose.begin(), pose.end(), [](const auto& e) { return !e.second.p; }))
    notes.push_back("no poseP column for some keypoints: P = 1 where the keypoint is present, 0 where missing");

  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (has_x) {
    out.add_column("X", Column::from_float64(numeric("X")));
    out.add_column("Y", Column::from_float64(numeric("Y")));
  } else {
    std::vector<double> cx(n, nan), cy(n, nan);
    for (std::size_t r = 0; r < n; ++r) {
      double sx = 0.0, sy = 0.0;
      std::size_t present = 0;
      for (std::size_t k = 0; k < keys.size(); ++k) {
        if (!std::isfinite(px[k][r]) || !std::isfinite(py[k][r])) continue;
        sx += px[k][r];
        sy += py[k][r];
        ++present;
      }
      if (present) {
        cx[r] = sx / static_cast<double>(present);
        cy[r] = sy / static_cast<double>(present);
      }
    }
    out.add_column("X", Column::from_float64(std::move(cx)));
    out.add_column("Y", Column::from_float64(std::move(cy)));
    notes.push_back("no X/Y columns: X/Y = mean of the present keypoints");
  }
  if (in.has_column("ANGLE")) {
    out.add_column("ANGLE", Column::from_float64(numeric("ANGLE")));
  } else {
    std::vector<double> heading(n, nan);
    if (!options.angle_from.empty() || !options.angle_to.empty()) {
      std::vector<std::string> names;
      for (int64_t k : keys) names.push_back(std::to_string(k));
      importer_detail::AngleKeypoints angle = importer_detail::resolve_angle_keypoints(names, options, file, notes);
      for (std::size_t r = 0; r < n; ++r)
        heading[r] = heading_angle(px[*angle.back][r], py[*angle.back][r], px[*angle.front][r], py[*angle.front][r]);
    } else {
      notes.push_back("no ANGLE column: ANGLE is empty (set angle_from/angle_to to compute it from keypoints)");
    }
    out.add_column("ANGLE", Column::from_float64(std::move(heading)));
  }
  for (std::size_t k = 0; k < keys.size(); ++k) {
    out.add_column(fmt::format("poseX{}", keys[k]), Column::from_float64(std::move(px[k])));
    out.add_column(fmt::format("poseY{}", keys[k]), Column::from_float64(std::move(py[k])));
    out.add_column(fmt::format("poseP{}", keys[k]), Column::from_float64(std::move(pp[k])));
  }

  // Other columns: kept as they are, in file order; group/sequence belong to the Dataset.
  std::vector<std::string> dropped;
  for (std::size_t c = 0; c < in.num_columns(); ++c) {
    const std::string& name = available[c];
    if (name == "group" || name == "sequence") {
      dropped.push_back(name);
      continue;
    }
    if (out.has_column(name) || pose_column(name)) continue;
    if (order.empty()) out.add_column(name, in.shared_column(c));
    else out.add_column(name, in.column(c).take(order));
  }
  if (!dropped.empty()) notes.push_back(fmt::format("dropped the file's {} column(s): the Dataset sets them", join_names(dropped)));

  ImportedSequence seq = importer_detail::make_sequence(file, options, file.stem().string(), std::move(out), options.fps);
  for (int64_t k : keys) seq.keypoints.push_back(std::to_string(k));
  seq.notes = std::move(notes);
  return seq;
}

}  // namespace

ImportedSequence import_canonical_csv(const fs::path& file, const ImportOptions& options) {
  importer_detail::require_regular_file(file);
  importer_detail::check_fps(options.fps, file);
  // A wrong kind of file would otherwise fail deep inside the CSV reader with a puzzling message.
  std::string guess = importer_detail::guess_format(file);
  if (!importer_detail::looks_like_text(file) || (!guess.empty() && guess != "csv"))
    throw InputError(fmt::format("{}: expected a canonical track CSV (header frame,time,id,X,Y,...), found {}",
                                 file.string(), importer_detail::describe_found(file)));
  Table table = read_csv(file);
  return canonicalise(table, file, options, Origin::kCsv);
}

ImportedSequence import_canonical_parquet(const fs::path& file, const ImportOptions& options) {
  importer_detail::require_regular_file(file);
  importer_detail::check_fps(options.fps, file);
  if (importer_detail::guess_format(file) != "parquet")
    throw InputError(fmt::format("{}: expected a Parquet track table, found {}", file.string(),
                                 importer_detail::describe_found(file)));
  Table table = read_parquet(file);
  return canonicalise(table, file, options, Origin::kParquet);
}

}  // namespace mosaic
