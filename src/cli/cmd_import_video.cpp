// mosaic import-video DIR --sequence S [--group G] [--copy] [--overwrite] [--json] FILE...
// Attach videos to a sequence: store them under the media root (hard link when possible, else a
// copy) and list them in <media root>/index.csv. Several files = one multi-video sequence, in
// file-name order. Every file is opened first, so a bad one leaves the dataset untouched.
#ifdef MOSAIC_WITH_VIDEO

#include <fmt/format.h>

#include <cstdio>

#include "cli/cli_registry.hpp"
#include "cli/cli_util.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/frames.hpp"
#include "mosaic/json.hpp"

namespace mosaic::cli {
namespace {

class ImportVideoCommand final : public Command {
 public:
  explicit ImportVideoCommand(CLI::App& app) {
    sub_ = app.add_subcommand("import-video", "Attach video files to a sequence (media root + media index.csv)");
    sub_->add_option("dir", dir_, "Dataset folder or manifest")->required();
    sub_->add_option("files", files_, "Video files of the sequence (several = one multi-video sequence)")->required();
    sub_->add_option("--sequence", opt_.sequence, "Sequence the videos belong to")->required();
    sub_->add_option("--group", opt_.group, "Group of the sequence (default: none)");
    sub_->add_flag("--copy", opt_.copy, "Always copy (default: hard link when on the same filesystem, else copy)");
    sub_->add_flag("--overwrite", opt_.overwrite, "Replace a different file stored under the same name");
    sub_->add_flag("--json", json_, "Print JSON");
  }

  int run() override {
    Dataset ds = Dataset::open(dir_);
    std::vector<std::filesystem::path> paths(files_.begin(), files_.end());
    std::vector<ImportedVideo> done = import_videos(ds, paths, opt_);
    auto how = [](const ImportedVideo& v) {
      return v.already_present ? "already present" : v.hard_linked ? "hard link" : "copy";
    };
    if (json_) {
      Json list = Json::array();
      for (const auto& v : done) {
        Json j = Json::object();
        j["source"] = v.source.string();
        j["stored"] = v.stored.string();
        j["stored_as"] = how(v);
        j["width"] = v.info.width;
        j["height"] = v.info.height;
        j["fps"] = v.info.fps;
        j["frame_count"] = v.info.nominal_frame_count;
        j["codec"] = v.info.codec;
        j["video_order"] = v.video_order;
        list.push_back(j);
      }
      Json out = Json::object();
      out["group"] = opt_.group;
      out["sequence"] = opt_.sequence;
      out["media_index"] = (ds.media_root() / "index.csv").string();
      out["videos"] = list;
      print_json(out);
      return 0;
    }
    for (const auto& v : done)
      std::printf("%s -> %s (%s): %dx%d, %s fps, %s, ~%lld frames, video_order %lld\n", v.source.c_str(),
                  v.stored.c_str(), how(v), v.info.width, v.info.height, python_float_repr(v.info.fps).c_str(),
                  v.info.codec.c_str(), static_cast<long long>(v.info.nominal_frame_count),
                  static_cast<long long>(v.video_order));
    return 0;
  }

 private:
  std::string dir_;
  std::vector<std::string> files_;
  VideoImportOptions opt_;
  bool json_ = false;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(ImportVideoCommand);
}  // namespace mosaic::cli

#endif  // MOSAIC_WITH_VIDEO
