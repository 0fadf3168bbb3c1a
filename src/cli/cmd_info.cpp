// mosaic info DIR [--json]: sequences, animals, frames, fps and keypoints of a dataset.
#include <fmt/format.h>

#include <cstdio>

#include "cli/cli_registry.hpp"
#include "cli/cli_util.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/json.hpp"

namespace mosaic::cli {
namespace {

class InfoCommand final : public Command {
 public:
  explicit InfoCommand(CLI::App& app) {
    sub_ = app.add_subcommand("info", "Summarise a dataset: sequences, animals, frames, fps, keypoints");
    sub_->add_option("dir", dir_, "Dataset folder or manifest")->required();
    sub_->add_flag("--json", json_, "Print JSON");
  }
  int run() override {
    Dataset ds = Dataset::open(dir_);
    auto seqs = summarize_tracks(ds);
    int64_t rows = 0;
    for (const auto& s : seqs) rows += s.rows;
    if (json_) {
      nlohmann::ordered_json out;
      out["dataset"] = ds.name();
      out["path"] = ds.base_dir().string();
      out["fps_default"] = ds.fps_default() ? nlohmann::ordered_json(*ds.fps_default()) : nullptr;
      out["n_sequences"] = seqs.size();
      out["n_rows"] = rows;
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const auto& s : seqs) {
        nlohmann::ordered_json j;
        j["group"] = s.group;
        j["sequence"] = s.sequence;
        j["rows"] = s.rows;
        j["animals"] = s.animals;
        j["frames"] = s.frames;
        j["first_frame"] = s.first_frame;
        j["last_frame"] = s.last_frame;
        j["keypoints"] = s.keypoints;
        j["fps"] = s.fps ? nlohmann::ordered_json(*s.fps) : nullptr;
        list.push_back(j);
      }
      out["sequences"] = list;
      print_json(out);
      return 0;
    }
    std::printf("dataset %s (%s)\n", ds.name().c_str(), ds.base_dir().c_str());
    std::printf("%zu sequences, %lld rows, fps_default %s\n\n", seqs.size(), static_cast<long long>(rows),
                ds.fps_default() ? python_float_repr(*ds.fps_default()).c_str() : "unset");
    std::vector<std::vector<std::string>> table;
    for (const auto& s : seqs)
      table.push_back({s.group, s.sequence, std::to_string(s.animals), std::to_string(s.frames),
                       fmt::format("{}-{}", s.first_frame, s.last_frame),
                       s.fps ? python_float_repr(*s.fps) : "-", std::to_string(s.keypoints), std::to_string(s.rows)});
    print_table({"group", "sequence", "animals", "frames", "frame range", "fps", "keypoints", "rows"}, table);
    return 0;
  }

 private:
  std::string dir_;
  bool json_ = false;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(InfoCommand);
}  // namespace mosaic::cli
