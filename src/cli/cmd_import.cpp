// mosaic import DIR --format F [--group G] [--sequence S] [--fps F] FILE...
// Convert tracker output into canonical track tables of a dataset. All files are read and
// checked before anything is written, so a bad file leaves the dataset untouched.
#include <fmt/format.h>

#include <cstdio>
#include <optional>

#include "cli/cli_registry.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/importers.hpp"

namespace mosaic::cli {
namespace {

class ImportCommand final : public Command {
 public:
  explicit ImportCommand(CLI::App& app) {
    sub_ = app.add_subcommand("import", "Import tracker files (csv, parquet, dlc, sleap, trex, idtrackerai, jabs)");
    sub_->add_option("dir", dir_, "Dataset folder (see 'mosaic init')")->required();
    sub_->add_option("files", files_, "Tracker files (trex: all per-individual files of one sequence)")->required();
    sub_->add_option("--format", opt_.format, "Input format: " + join_names(import_formats()))->required();
    sub_->add_option("--group", opt_.group, "Group of the imported sequences");
    sub_->add_option("--sequence", opt_.sequence, "Sequence name (default: from the file name)");
    sub_->add_option("--fps", fps_, "Frames per second (default: from the file or meta.fps_default)");
    sub_->add_option("--angle-from", opt_.angle_from, "Back keypoint of ANGLE (name or 0-based index)");
    sub_->add_option("--angle-to", opt_.angle_to, "Front keypoint of ANGLE (name or 0-based index)");
    sub_->add_option("--min-track-fraction", opt_.min_track_fraction,
                     "SLEAP: keep tracks present in at least this fraction of frames")
        ->capture_default_str();
    sub_->add_option("--individual-prefixes", opt_.individual_prefixes,
                     "DLC single-animal layout: body-part prefixes naming the animals (e.g. B_,W_)")
        ->delimiter(',');
    sub_->add_flag("--quiet", quiet_, "Print nothing");
  }
  int run() override {
    Dataset ds = Dataset::open(dir_);
    if (fps_) opt_.fps = *fps_;
    else if (ds.fps_default()) opt_.fps = ds.fps_default();
    if (files_.size() > 1 && !opt_.sequence.empty() && opt_.format != "trex")
      throw InputError(fmt::format("--sequence names one sequence but {} files were given; import them one at a time",
                                   files_.size()));
    std::vector<std::filesystem::path> paths(files_.begin(), files_.end());
    std::vector<ImportedSequence> seqs = import_tracks(paths, opt_);
    for (const auto& s : seqs) {
      validate_entry_name("group", s.group);
      validate_entry_name("sequence", s.sequence);
    }
    for (const auto& s : seqs) {
      ds.write_tracks(s.group, s.sequence, s.tracks, {.std_format = opt_.format, .sources = s.sources});
      if (!quiet_) {
        std::printf("imported %s%s%s: %zu rows -> %s\n", s.group.c_str(), s.group.empty() ? "" : "/",
                    s.sequence.c_str(), s.tracks.num_rows(), ds.tracks_path(s.group, s.sequence).c_str());
        for (const auto& note : s.notes) std::printf("  note: %s\n", note.c_str());
      }
    }
    return 0;
  }

 private:
  std::string dir_;
  std::vector<std::string> files_;
  ImportOptions opt_;
  std::optional<double> fps_;
  bool quiet_ = false;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(ImportCommand);
}  // namespace mosaic::cli
