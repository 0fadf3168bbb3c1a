// mosaic features list [--json] | mosaic features describe NAME [--json]
#include <fmt/format.h>

#include <cstdio>

#include "cli/cli_registry.hpp"
#include "cli/cli_util.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/json.hpp"

namespace mosaic::cli {
namespace {

class FeaturesCommand final : public Command {
 public:
  explicit FeaturesCommand(CLI::App& app) {
    sub_ = app.add_subcommand("features", "List the registered features or describe one");
    sub_->require_subcommand(1);
    list_ = sub_->add_subcommand("list", "List every feature with its version and summary");
    list_->add_flag("--json", json_, "Print JSON");
    describe_ = sub_->add_subcommand("describe", "Show a feature's inputs and parameters");
    describe_->add_option("name", name_, "Feature name")->required();
    describe_->add_flag("--json", json_, "Print JSON");
  }

  int run() override {
    if (list_->parsed()) {
      if (json_) {
        Json arr = Json::array();
        for (const auto& [name, f] : feature_catalog()) arr.push_back(describe_feature(f));
        print_json(arr);
        return 0;
      }
      std::vector<std::vector<std::string>> rows;
      for (const auto& [name, f] : feature_catalog())
        rows.push_back({name, f.info->version, f.info->category, f.info->summary});
      print_table({"feature", "version", "category", "summary"}, rows);
      return 0;
    }
    const FeatureFactory& f = find_feature(name_);
    Json d = describe_feature(f);
    if (json_) {
      print_json(d);
      return 0;
    }
    std::printf("%s %s (%s)\n  %s\n", f.info->name.c_str(), f.info->version.c_str(), f.info->category.c_str(),
                f.info->summary.c_str());
    std::printf("  inputs: %s; parallelizable: %s; scope-dependent: %s\n\n", d["inputs"].get<std::string>().c_str(),
                f.info->parallelizable ? "yes" : "no", f.info->scope_dependent ? "yes" : "no");
    std::vector<std::vector<std::string>> rows;
    std::function<void(const Json&, const std::string&)> add = [&](const Json& params, const std::string& prefix) {
      for (const auto& p : params) {
        std::string def = p["default"].is_string() && p["default"] == "(required)" ? "(required)"
                                                                                   : python_json_dumps(p["default"]);
        if (def.size() > 40) def = def.substr(0, 37) + "...";
        std::string doc = p["doc"].get<std::string>();
        if (p.contains("constraint")) doc += " [" + p["constraint"].get<std::string>() + "]";
        rows.push_back({prefix + p["name"].get<std::string>(), p["type"].get<std::string>(), def, doc});
        if (p.contains("fields")) add(p["fields"], prefix + p["name"].get<std::string>() + ".");
      }
    };
    add(d["params"], "");
    if (rows.empty()) std::printf("  (no parameters)\n");
    else print_table({"param", "type", "default", "doc"}, rows);
    return 0;
  }

 private:
  CLI::App* list_ = nullptr;
  CLI::App* describe_ = nullptr;
  std::string name_;
  bool json_ = false;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(FeaturesCommand);
}  // namespace mosaic::cli
