// mosaic init DIR [--name N] [--fps F]: create a dataset folder with a manifest and the default roots.
#include <cstdio>
#include <optional>

#include "cli/cli_registry.hpp"
#include "mosaic/dataset.hpp"

namespace mosaic::cli {
namespace {

class InitCommand final : public Command {
 public:
  explicit InitCommand(CLI::App& app) {
    sub_ = app.add_subcommand("init", "Create a new dataset folder (dataset.yaml + default roots)");
    sub_->add_option("dir", dir_, "Dataset folder (created if absent)")->required();
    sub_->add_option("--name", name_, "Dataset name (default: the folder name)");
    sub_->add_option("--fps", fps_, "Frames per second, stored as meta.fps_default");
  }
  int run() override {
    DatasetCreateOptions opt;
    opt.name = name_;
    if (fps_) opt.fps = *fps_;
    Dataset ds = Dataset::create(dir_, opt);
    std::printf("Wrote dataset manifest -> %s\n", ds.manifest_path().c_str());
    return 0;
  }

 private:
  std::string dir_, name_;
  std::optional<double> fps_;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(InitCommand);
}  // namespace mosaic::cli
