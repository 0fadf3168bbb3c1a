// mosaic runs DIR STORAGE [--json]: the runs of a feature storage, newest first.
// mosaic lineage DIR STORAGE RUN_ID [--json]: the upstream runs a run was computed from.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "cli/cli_registry.hpp"
#include "cli/cli_util.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/registry.hpp"

namespace fs = std::filesystem;

namespace mosaic::cli {
namespace {

class RunsCommand final : public Command {
 public:
  explicit RunsCommand(CLI::App& app) {
    sub_ = app.add_subcommand("runs", "List the runs of a feature storage (from its index.csv)");
    sub_->add_option("dir", dir_, "Dataset folder or manifest")->required();
    sub_->add_option("storage", storage_, "Storage name, e.g. speed-angvel__from__tracks")->required();
    sub_->add_flag("--json", json_, "Print JSON");
  }
  int run() override {
    Dataset ds = Dataset::open(dir_);
    fs::path index_path = ds.root("features") / storage_ / "index.csv";
    if (!fs::exists(index_path)) {
      std::vector<std::string> names;
      if (fs::exists(ds.root("features")))
        for (const auto& d : fs::directory_iterator(ds.root("features")))
          if (d.is_directory()) names.push_back(d.path().filename().string());
      std::sort(names.begin(), names.end());
      std::string hint = did_you_mean(storage_, names);
      throw InputError(fmt::format("no runs of '{}' in {}{} (storages: {})", storage_, ds.root("features").string(),
                                   hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                                   names.empty() ? "none" : join_names(names)));
    }
    FeatureIndex index(index_path);
    TextCsv csv = index.read_all();
    struct RunInfo {
      std::string run_id, version, started, finished;
      int64_t entries = 0, rows = 0;
      bool global = false;
    };
    std::map<std::string, RunInfo> runs;
    std::vector<std::string> order;
    for (std::size_t r = 0; r < csv.rows.size(); ++r) {
      std::string id(csv.cell(r, "run_id"));
      if (!runs.count(id)) order.push_back(id);
      RunInfo& ri = runs[id];
      ri.run_id = id;
      ri.version = std::string(csv.cell(r, "version"));
      std::string s(csv.cell(r, "started_at")), f(csv.cell(r, "finished_at"));
      if (ri.started.empty() || s < ri.started) ri.started = s;
      if (f > ri.finished) ri.finished = f;
      if (csv.cell(r, "sequence") == "__global__") ri.global = true;
      else ++ri.entries;
      try {
        ri.rows += static_cast<int64_t>(std::stod(std::string(csv.cell(r, "n_rows"))));
      } catch (...) {
      }
    }
    std::string latest;
    try {
      latest = index.latest_run_id();
    } catch (const Error&) {
    }
    if (json_) {
      Json arr = Json::array();
      for (const auto& id : order) {
        const RunInfo& ri = runs[id];
        arr.push_back(Json{{"run_id", id},        {"version", ri.version}, {"started_at", ri.started},
                           {"finished_at", ri.finished}, {"entries", ri.entries}, {"rows", ri.rows},
                           {"global", ri.global}, {"latest", id == latest}});
      }
      print_json(arr);
      return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& id : order) {
      const RunInfo& ri = runs[id];
      rows.push_back({id + (id == latest ? " *" : ""), ri.started, ri.finished.empty() ? "(unfinished)" : ri.finished,
                      ri.global ? "global" : std::to_string(ri.entries), std::to_string(ri.rows)});
    }
    print_table({"run_id", "started_at", "finished_at", "entries", "rows"}, rows);
    std::printf("(* = latest)\n");
    return 0;
  }

 private:
  std::string dir_, storage_;
  bool json_ = false;
};

class LineageCommand final : public Command {
 public:
  explicit LineageCommand(CLI::App& app) {
    sub_ = app.add_subcommand("lineage", "Show the upstream runs a run was computed from (from the registry)");
    sub_->add_option("dir", dir_, "Dataset folder or manifest")->required();
    sub_->add_option("storage", storage_, "Storage name")->required();
    sub_->add_option("run_id", run_id_, "Run id")->required();
    sub_->add_flag("--json", json_, "Print JSON");
  }
  int run() override {
    Dataset ds = Dataset::open(dir_);
    FeatureRegistry reg = FeatureRegistry::open(ds.root("features"));
    if (!reg.has_run(storage_, run_id_))
      throw InputError(fmt::format("no run {} of '{}' in {}", run_id_, storage_, reg.path().string()));
    Json tree = reg.lineage(storage_, run_id_);
    if (json_) {
      print_json(tree);
      return 0;
    }
    std::function<void(const Json&, const std::string&, bool, bool)> show = [&](const Json& node, const std::string& pre,
                                                                                 bool last, bool root) {
      std::string line = root ? "" : pre + (last ? "\u2514\u2500 " : "\u251c\u2500 ");
      std::printf("%s%s %s\n", line.c_str(), node["feature"].get<std::string>().c_str(),
                  node["run_id"].get<std::string>().c_str());
      const Json& up = node["upstream"];
      for (std::size_t i = 0; i < up.size(); ++i)
        show(up[i], root ? "" : pre + (last ? "   " : "\u2502  "), i + 1 == up.size(), false);
    };
    show(tree, "", true, true);
    return 0;
  }

 private:
  std::string dir_, storage_, run_id_;
  bool json_ = false;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(RunsCommand);
MOSAIC_REGISTER_COMMAND(LineageCommand);
}  // namespace mosaic::cli
