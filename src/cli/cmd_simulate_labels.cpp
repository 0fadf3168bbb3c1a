// mosaic simulate-labels DIR --sequences N --animals A --keypoints K --frames T --fps F --seed S
// Write the simulator's ground-truth pair behaviours (other / approach / avoid) as
// labels/behavior/ for a dataset `mosaic simulate` made with the same options (the demo's labels).
#include <cstdio>
#include <filesystem>

#include "cli/cli_registry.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/simulate.hpp"

namespace mosaic::cli {
namespace {

class SimulateLabelsCommand final : public Command {
 public:
  explicit SimulateLabelsCommand(CLI::App& app) {
    sub_ = app.add_subcommand("simulate-labels",
                              "Write ground-truth pair behaviour labels (other/approach/avoid) for simulated data");
    sub_->add_option("dir", dir_, "Dataset folder written by 'mosaic simulate'")->required();
    sub_->add_option("--sequences", opt_.sequences, "Number of sequences")->capture_default_str()->check(CLI::PositiveNumber);
    sub_->add_option("--animals", opt_.animals, "Animals per sequence")->capture_default_str()->check(CLI::PositiveNumber);
    sub_->add_option("--keypoints", opt_.keypoints, "Keypoints per animal")->capture_default_str()->check(CLI::PositiveNumber);
    sub_->add_option("--frames", opt_.frames, "Frames per sequence")->capture_default_str()->check(CLI::PositiveNumber);
    sub_->add_option("--fps", opt_.fps, "Frames per second")->capture_default_str()->check(CLI::PositiveNumber);
    sub_->add_option("--seed", opt_.seed, "Random seed used by 'mosaic simulate'")->capture_default_str();
    sub_->add_option("--group", group_, "Group of the simulated sequences")->capture_default_str();
    sub_->add_option("--kind", kind_, "Label kind: labels/<kind>/")->capture_default_str();
  }
  int run() override {
    Dataset ds = Dataset::open(dir_);
    int n = write_simulated_behavior_labels(ds, opt_, group_, kind_);
    std::printf("wrote %s labels for %d sequence(s) to %s\n", kind_.c_str(), n,
                (ds.root("labels") / kind_).string().c_str());
    return 0;
  }

 private:
  std::string dir_;
  std::string group_ = "";
  std::string kind_ = "behavior";
  SimulationOptions opt_;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(SimulateLabelsCommand);
}  // namespace mosaic::cli
