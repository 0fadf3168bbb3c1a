// mosaic simulate DIR --sequences N --animals A --keypoints K --frames T --fps F --seed S
// Simulate plausible multi-animal tracks into a dataset (created when absent).
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

#include "cli/cli_registry.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/simulate.hpp"

namespace mosaic::cli {
namespace {

class SimulateCommand final : public Command {
 public:
  explicit SimulateCommand(CLI::App& app) {
    sub_ = app.add_subcommand("simulate", "Simulate multi-animal tracks into a dataset (the demo data)");
    sub_->add_option("dir", dir_, "Dataset folder (created when absent)")->required();
    sub_->add_option("--sequences", opt_.sequences, "Number of sequences")->capture_default_str()->check(CLI::PositiveNumber);
    sub_->add_option("--animals", opt_.animals, "Animals per sequence")->capture_default_str()->check(CLI::PositiveNumber);
    sub_->add_option("--keypoints", opt_.keypoints, "Keypoints per animal")->capture_default_str()->check(CLI::PositiveNumber);
    sub_->add_option("--frames", opt_.frames, "Frames per sequence")->capture_default_str()->check(CLI::PositiveNumber);
    sub_->add_option("--fps", opt_.fps, "Frames per second")->capture_default_str()->check(CLI::PositiveNumber);
    sub_->add_option("--seed", opt_.seed, "Random seed (same seed, same data)")->capture_default_str();
    sub_->add_option("--group", group_, "Group of the simulated sequences")->capture_default_str();
    sub_->add_flag("--quiet", quiet_, "Print nothing");
  }
  int run() override {
    namespace fs = std::filesystem;
    bool has_manifest = fs::exists(fs::path(dir_) / "dataset.yaml") || fs::exists(fs::path(dir_) / "dataset.yml") ||
                        fs::exists(fs::path(dir_) / "dataset.json");
    Dataset ds = has_manifest ? Dataset::open(dir_) : Dataset::create(dir_, {.name = "", .fps = opt_.fps});
    if (!ds.fps_default()) {
      ds.mutable_meta()["fps_default"] = opt_.fps;
      ds.save();
    }
    for (int s = 0; s < opt_.sequences; ++s) {
      Table t = simulate_sequence(opt_, s);
      std::string name = simulated_sequence_name(s);
      ds.write_tracks(group_, name, t, {.std_format = "simulated", .sources = {}});
      if (!quiet_) std::printf("simulated %s: %zu rows\n", name.c_str(), t.num_rows());
    }
    return 0;
  }

 private:
  std::string dir_;
  std::string group_ = "";
  SimulationOptions opt_;
  bool quiet_ = false;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(SimulateCommand);
}  // namespace mosaic::cli
