// mosaic import-labels DIR [--kind behavior] FILE... [--names 0=attack,1=investigation,...] [--json]
//
// Per-frame label CSVs (columns sequence,frame,label and optionally group; integer class ids) into
// labels/<kind>/<entry>.npz in the reference's dense format, plus labels/<kind>/index.csv.
#include <fmt/format.h>

#include <cstdio>

#include "cli/cli_registry.hpp"
#include "cli/cli_util.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/json.hpp"
#include "mosaic/label_import.hpp"

namespace fs = std::filesystem;

namespace mosaic::cli {
namespace {

class ImportLabelsCommand final : public Command {
 public:
  explicit ImportLabelsCommand(CLI::App& app) {
    sub_ = app.add_subcommand("import-labels",
                              "Import per-frame labels from CSV (sequence,frame,label[,group]) into labels/<kind>/");
    sub_->add_option("dir", dir_, "Dataset folder or manifest")->required();
    sub_->add_option("files", files_, "Label CSV files")->required();
    sub_->add_option("--kind", kind_, "Label kind (folder under labels/)")->capture_default_str();
    sub_->add_option("--names", names_, "Class names: 0=attack,1=investigation,...");
    sub_->add_flag("--json", json_, "Print the entries written as JSON");
  }

  int run() override {
    Dataset ds = Dataset::open(dir_);
    LabelImportOptions opt;
    opt.kind = kind_;
    if (!names_.empty()) opt.names = parse_label_names(names_);
    std::vector<fs::path> files(files_.begin(), files_.end());
    std::vector<ImportedLabels> written = import_labels_csv(ds, files, opt);
    if (json_) {
      Json arr = Json::array();
      for (const auto& e : written)
        arr.push_back(Json{{"group", e.group}, {"sequence", e.sequence}, {"path", fs::absolute(e.path).string()},
                           {"n_frames", e.n_frames}, {"n_labelled", e.n_labelled}});
      print_json(arr);
      return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : written)
      rows.push_back({e.group, e.sequence, std::to_string(e.n_frames), std::to_string(e.n_labelled),
                      ds.relative_to_base(e.path)});
    print_table({"group", "sequence", "frames", "labelled", "file"}, rows);
    return 0;
  }

 private:
  std::string dir_, kind_ = "behavior", names_;
  std::vector<std::string> files_;
  bool json_ = false;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(ImportLabelsCommand);
}  // namespace mosaic::cli
