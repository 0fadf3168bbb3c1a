// trex.cpp: TRex per-individual `.npz` exports -> one canonical track table.
//
// TRex writes one archive per individual, `<output name>_fish<N>.npz` (or `..._id<N>.npz`), each
// holding 1-D per-row arrays: `frame`, `time`, `X`, `Y`, `ANGLE`, `missing`, and many more
// (SPEED, VX, X#wcentroid, midline_*, ...). Rows where the individual was not tracked hold
// `inf`. All files of one call form one sequence.
//
// Rules (what ../shared/data/trex_guppies8/tracks/*.csv were built with):
//  * id: the npz `id` key when present (all values equal), else the number N of a file stem
//    ending in `fish<N>` or `_id<N>`. Two files with the same id are an error.
//  * X, Y, ANGLE: TRex's own columns (float32 widened to float64); +-inf and NaN -> missing.
//    ANGLE is TRex's body angle in radians, unchanged. Missing `ANGLE` key -> ANGLE empty.
//  * rows: every frame from the smallest to the largest frame any file has, times every id,
//    sorted by frame then id; an id without a row for a frame gets empty X/Y/ANGLE (TRex stops or
//    starts writing rows when an individual is first/last seen, e.g. fish7 starts at frame 9).
//  * time: options.fps, when given, overrides everything: time = frame / fps. Otherwise TRex's
//    own `time` value of that frame (from the first file, in id order, that has the frame; TRex
//    writes the same time for a frame in every file, also on rows with inf positions). A frame
//    no file has gets frame / fps_estimate.
//  * fps (ImportedSequence::fps): options.fps, else estimated from TRex's time column as
//    (last frame - first frame) / (last time - first time), rounded to 3 decimals, because TRex
//    does not store its frame_rate in the per-individual files.
//  * sequence (default): the common file-stem prefix with the id suffix removed, i.e. TRex's
//    output name (`test_fish0.npz` ... -> `test`); if that is empty (files named just `fish0`),
//    the name of the folder holding the files. options.sequence overrides it. The shared
//    sequences guppy8_raw / guppy8_corrected are both TRex output name `test` in folders raw/
//    and corrected/, so importing both into one dataset needs options.sequence.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits>
#include <map>
#include <optional>
#include <regex>

#include "mosaic/errors.hpp"
#include "mosaic/importers.hpp"
#include "mosaic/npz.hpp"

namespace fs = std::filesystem;

namespace mosaic {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct TrexIndividual {
  fs::path file;
  int64_t id = 0;
  std::string prefix;  // stem without the id suffix
  std::vector<int64_t> frames;
  std::vector<double> time, x, y, angle;  // per row
};

// `test_fish3` -> (3, "test"); `a_id12` -> (12, "a"); no match -> nullopt.
std::optional<std::pair<int64_t, std::string>> id_from_stem(const std::string& stem) {
  static const std::regex kSuffix(R"(^(.*?)(?:_id|fish)(\d+)$)");
  std::smatch m;
  if (!std::regex_match(stem, m, kSuffix)) return std::nullopt;
  std::string prefix = m[1].str();
  while (!prefix.empty() && (prefix.back() == '_' || prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
  try {
    return std::pair{std::stoll(m[2].str()), prefix};
  } catch (const std::exception&) {
    return std::nullopt;  // digits beyond int64
  }
}

double finite_or_nan(double v) { return std::isfinite(v) ? v : kNaN; }

TrexIndividual read_individual(const fs::path& file) {
  const std::string where = file.string();
  NpzArchive npz;
  try {
    npz = read_npz(file);
  } catch (const IoError& e) {
    // read_npz names the file already; say what we were looking for.
    throw IoError(fmt::format("{} (expected a TRex per-individual .npz)", e.what()));
  }
  auto require = [&](const char* key) -> const NpyArray& {
    if (!npz.contains(key))
      throw InputError(fmt::format("{}: not a TRex per-individual .npz (missing key '{}'; found: {})", where, key,
                                   npz.keys().empty() ? std::string("no arrays") : join_names(npz.keys())));
    return npz.at(key);
  };
  const NpyArray& x_arr = require("X");
  const NpyArray& y_arr = require("Y");

  TrexIndividual ind;
  ind.file = file;
  auto stem_id = id_from_stem(file.stem().string());
  ind.prefix = stem_id ? stem_id->second : file.stem().string();
  if (npz.contains("id")) {
    std::vector<int64_t> ids;
    try {
      ids = npz.at("id").to_int64();
    } catch (const IoError& e) {
      throw InputError(fmt::format("{}: key 'id' is not an integer id ({})", where, e.what()));
    }
    if (ids.empty()) throw InputError(fmt::format("{}: key 'id' is empty", where));
    if (std::any_of(ids.begin(), ids.end(), [&](int64_t v) { return v != ids[0]; }))
      throw InputError(fmt::format("{}: key 'id' holds several ids; expected one individual per file", where));
    ind.id = ids[0];
  } else if (stem_id) {
    ind.id = stem_id->first;
  } else {
    throw InputError(fmt::format("{}: cannot tell the individual's id (no key 'id', and the file name does not end "
                                 "in fish<N> or _id<N>)",
                                 where));
  }

  // Every per-row array must be 1-D with one value per row.
  auto values = [&](const NpyArray& a, const char* key) {
    if (a.shape.size() != 1)
      throw InputError(fmt::format("{}: key '{}' is a {}, expected a 1-D array", where, key, a.describe()));
    try {
      return a.to_double();
    } catch (const IoError& e) {
      throw InputError(fmt::format("{}: key '{}': {}", where, key, e.what()));
    }
  };
  ind.x = values(x_arr, "X");
  const std::size_t rows = ind.x.size();
  auto same_length = [&](const std::vector<double>& v, const char* key) {
    if (v.size() != rows)
      throw InputError(fmt::format("{}: key '{}' has {} rows but 'X' has {}", where, key, v.size(), rows));
  };
  ind.y = values(y_arr, "Y");
  same_length(ind.y, "Y");
  if (npz.contains("ANGLE")) {
    ind.angle = values(npz.at("ANGLE"), "ANGLE");
    same_length(ind.angle, "ANGLE");
  } else {
    ind.angle.assign(rows, kNaN);
  }
  if (npz.contains("time")) {
    ind.time = values(npz.at("time"), "time");
    same_length(ind.time, "time");
  } else {
    ind.time.assign(rows, kNaN);
  }
  ind.frames.resize(rows);
  if (npz.contains("frame")) {
    std::vector<double> f = values(npz.at("frame"), "frame");
    same_length(f, "frame");
    for (std::size_t r = 0; r < rows; ++r) {
      if (!std::isfinite(f[r]) || f[r] != std::trunc(f[r]) || f[r] < 0 || f[r] > 1e15)
        throw InputError(fmt::format("{}: key 'frame' row {} holds {}, expected a frame number", where, r, f[r]));
      ind.frames[r] = static_cast<int64_t>(f[r]);
    }
  } else {
    for (std::size_t r = 0; r < rows; ++r) ind.frames[r] = static_cast<int64_t>(r);  // as the Python converter
  }
  for (std::size_t r = 0; r < rows; ++r) {
    ind.x[r] = finite_or_nan(ind.x[r]);
    ind.y[r] = finite_or_nan(ind.y[r]);
    ind.angle[r] = finite_or_nan(ind.angle[r]);
    ind.time[r] = finite_or_nan(ind.time[r]);
  }
  return ind;
}

std::string common_prefix(const std::vector<TrexIndividual>& inds) {
  std::string prefix = inds.front().prefix;
  for (const auto& ind : inds) {
    std::size_t k = 0;
    while (k < prefix.size() && k < ind.prefix.size() && prefix[k] == ind.prefix[k]) ++k;
    prefix.resize(k);
  }
  while (!prefix.empty() && (prefix.back() == '_' || prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
  return prefix;
}

}  // namespace

ImportedSequence import_trex_npz(const std::vector<fs::path>& files, const ImportOptions& options) {
  if (files.empty()) throw InputError("trex import: no files given (expected TRex per-individual .npz files)");
  if (options.fps && !(std::isfinite(*options.fps) && *options.fps > 0))
    throw InputError(fmt::format("{}: fps must be a positive number, got {}", files.front().string(), *options.fps));

  std::vector<TrexIndividual> inds;
  inds.reserve(files.size());
  for (const auto& f : files) inds.push_back(read_individual(f));
  std::sort(inds.begin(), inds.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  for (std::size_t k = 1; k < inds.size(); ++k)
    if (inds[k].id == inds[k - 1].id)
      throw InputError(fmt::format("{} and {}: both hold individual id {}", inds[k - 1].file.string(),
                                   inds[k].file.string(), inds[k].id));

  // The frame range and, per frame, TRex's time (first file in id order that has it).
  int64_t first = std::numeric_limits<int64_t>::max();
  int64_t last = std::numeric_limits<int64_t>::min();
  for (const auto& ind : inds)
    for (int64_t f : ind.frames) {
      first = std::min(first, f);
      last = std::max(last, f);
    }
  const bool any_rows = first <= last;
  const std::size_t n_frames = any_rows ? static_cast<std::size_t>(last - first + 1) : 0;
  if (n_frames > 100'000'000)
    throw InputError(fmt::format("{}: frames {}..{} span more than 100 million frames", files.front().string(), first, last));
  const std::size_t n_ids = inds.size();

  std::vector<double> frame_time(n_frames, kNaN);
  for (const auto& ind : inds)
    for (std::size_t r = 0; r < ind.frames.size(); ++r) {
      double& t = frame_time[static_cast<std::size_t>(ind.frames[r] - first)];
      if (std::isnan(t)) t = ind.time[r];
    }

  std::optional<double> fps = options.fps;
  if (!fps) {
    // Estimate from the time column: TRex writes time = frame / frame_rate (as float32).
    std::optional<std::size_t> lo, hi;
    for (std::size_t k = 0; k < n_frames; ++k)
      if (!std::isnan(frame_time[k])) {
        if (!lo) lo = k;
        hi = k;
      }
    if (lo && hi && *hi > *lo && frame_time[*hi] > frame_time[*lo]) {
      double est = static_cast<double>(*hi - *lo) / (frame_time[*hi] - frame_time[*lo]);
      fps = std::round(est * 1000.0) / 1000.0;
    }
  }

  // The grid: row = frame_slot * n_ids + id_slot.
  const std::size_t n_rows = n_frames * n_ids;
  std::vector<int64_t> frame_col(n_rows), id_col(n_rows);
  std::vector<double> time_col(n_rows), x_col(n_rows, kNaN), y_col(n_rows, kNaN), angle_col(n_rows, kNaN);
  for (std::size_t slot = 0; slot < n_frames; ++slot) {
    const int64_t frame = first + static_cast<int64_t>(slot);
    double t = frame_time[slot];
    if (options.fps || std::isnan(t)) t = fps ? static_cast<double>(frame) / *fps : kNaN;
    for (std::size_t k = 0; k < n_ids; ++k) {
      const std::size_t row = slot * n_ids + k;
      frame_col[row] = frame;
      id_col[row] = inds[k].id;
      time_col[row] = t;
    }
  }
  std::vector<uint8_t> seen(n_rows, 0);
  for (std::size_t k = 0; k < n_ids; ++k) {
    const auto& ind = inds[k];
    for (std::size_t r = 0; r < ind.frames.size(); ++r) {
      const std::size_t row = static_cast<std::size_t>(ind.frames[r] - first) * n_ids + k;
      if (seen[row])
        throw InputError(fmt::format("{}: frame {} appears in more than one row", ind.file.string(), ind.frames[r]));
      seen[row] = 1;
      x_col[row] = ind.x[r];
      y_col[row] = ind.y[r];
      angle_col[row] = ind.angle[r];
    }
  }

  ImportedSequence out;
  out.group = options.group;
  if (!options.sequence.empty()) {
    out.sequence = options.sequence;
  } else {
    out.sequence = common_prefix(inds);
    if (out.sequence.empty()) out.sequence = fs::absolute(files.front()).parent_path().filename().string();
  }
  out.tracks.add_column("frame", Column::from_int64(std::move(frame_col)));
  out.tracks.add_column("time", Column::from_float64(std::move(time_col)));
  out.tracks.add_column("id", Column::from_int64(std::move(id_col)));
  out.tracks.add_column("X", Column::from_float64(std::move(x_col)));
  out.tracks.add_column("Y", Column::from_float64(std::move(y_col)));
  out.tracks.add_column("ANGLE", Column::from_float64(std::move(angle_col)));
  for (const auto& ind : inds) out.sources.push_back(ind.file);
  out.fps = fps;
  return out;
}

}  // namespace mosaic
