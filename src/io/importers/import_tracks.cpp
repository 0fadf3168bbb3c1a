// import_tracks: one entry point for every track format, dispatching by ImportOptions::format.
//
// Checks made here, before any importer runs, so every format fails the same way:
// - an unknown format is an InputError with a did-you-mean and the list of formats;
// - a missing file (or a directory) is an IoError naming it;
// - ImportOptions::sequence names one sequence, so it is refused with several files of a
//   one-file-per-sequence format, and two files that would give the same sequence are refused.
// Each importer then checks that its file really is of its format ("expected ..., found ...").
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numbers>

#include "io/importers/importer_util.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/importers.hpp"

namespace fs = std::filesystem;

namespace mosaic {

double heading_angle(double x_back, double y_back, double x_front, double y_front) noexcept {
  const double dx = x_front - x_back;
  const double dy = y_front - y_back;
  if (std::isnan(dx) || std::isnan(dy)) return std::numeric_limits<double>::quiet_NaN();
  const double a = std::atan2(dy, dx);
  // atan2 gives -pi for (-0.0, negative); the canonical range is (-pi, pi].
  return a <= -std::numbers::pi ? std::numbers::pi : a;
}

std::vector<std::string> import_formats() {
  return {"csv", "dlc", "idtrackerai", "jabs", "parquet", "sleap", "trex"};
}

std::vector<ImportedSequence> import_tracks(const std::vector<fs::path>& files, const ImportOptions& options) {
  const std::vector<std::string> formats = import_formats();
  const std::string& format = options.format;
  if (std::find(formats.begin(), formats.end(), format) == formats.end()) {
    std::string hint = did_you_mean(format, formats);
    std::string looks;
    if (!files.empty()) {
      std::string guess = importer_detail::guess_format(files.front());
      if (!guess.empty()) looks = fmt::format("; {} looks like format '{}'", files.front().string(), guess);
    }
    throw InputError(fmt::format("unknown import format '{}'{} (formats: {}){}", format,
                                 hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint), join_names(formats),
                                 looks));
  }
  if (files.empty()) throw InputError(fmt::format("no input files given for import format '{}'", format));
  for (const auto& file : files) importer_detail::require_regular_file(file);

  std::vector<ImportedSequence> out;
  if (format == "trex") {
    out.push_back(import_trex_npz(files, options));
    return out;
  }
  if (!options.sequence.empty() && files.size() > 1)
    throw InputError(fmt::format("sequence '{}' names one sequence but {} files were given; import them one at a time",
                                 options.sequence, files.size()));
  out.reserve(files.size());
  std::map<std::string, fs::path> seen;  // sequence -> file, to refuse two files with one name
  for (const auto& file : files) {
    ImportedSequence seq = format == "csv"           ? import_canonical_csv(file, options)
                           : format == "parquet"     ? import_canonical_parquet(file, options)
                           : format == "dlc"         ? import_dlc_csv(file, options)
                           : format == "sleap"       ? import_sleap_analysis_h5(file, options)
                           : format == "idtrackerai" ? import_idtrackerai_npy(file, options)
                                                     : import_jabs_h5(file, options);
    auto [it, inserted] = seen.emplace(seq.sequence, file);
    if (!inserted)
      throw InputError(fmt::format("{} and {} both give sequence '{}' (group '{}'); import them separately with "
                                   "different sequence names",
                                   it->second.string(), file.string(), seq.sequence, seq.group));
    out.push_back(std::move(seq));
  }
  return out;
}

}  // namespace mosaic
