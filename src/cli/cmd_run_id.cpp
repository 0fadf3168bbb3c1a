// mosaic run-id FEATURE [--params JSON|@file] [--input ...] [--start-frame N] [--end-frame N]
//   [--start-time S] [--end-time S] [--scope-entries JSON] [--dataset DIR] [--fps F] [--payload]
// Print the run id run-feature would use (and with --payload the canonical hashed string).
#include <fmt/format.h>

#include <cstdio>

#include "cli/cli_registry.hpp"
#include "cli/feature_args.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/json.hpp"
#include "mosaic/run_feature.hpp"
#include "mosaic/run_id.hpp"

namespace mosaic::cli {
namespace {

class RunIdCommand final : public Command {
 public:
  explicit RunIdCommand(CLI::App& app) {
    sub_ = app.add_subcommand("run-id", "Print the run id of a feature with given params and inputs");
    sub_->add_option("feature", args_.feature, "Feature name")->required();
    args_.add_to(sub_, false);
    sub_->add_option("--scope-entries", scope_, "JSON list of [group, sequence] pairs (scope-dependent features)");
    sub_->add_option("--dataset", dataset_, "Dataset: fps for time filters, latest runs for unpinned inputs, scope");
    sub_->add_option("--fps", fps_, "Frames per second for time filters (default: the dataset's)");
    sub_->add_flag("--payload", payload_, "Also print the canonical JSON string that is hashed");
  }

  int run() override {
    auto feature = args_.make();
    std::optional<double> fps = fps_;
    std::optional<Dataset> ds;
    if (!dataset_.empty()) {
      ds.emplace(Dataset::open(dataset_));
      if (!fps) fps = ds->fps_default();
      pin_upstream_runs(*ds, *feature);  // DECISIONS P3, as run-feature does
    }
    auto range = resolve_frame_range(fps, args_.start_frame, args_.end_frame, args_.start_time, args_.end_time);
    std::vector<std::pair<std::string, std::string>> scope;
    bool have_scope = false;
    if (!scope_.empty()) {
      Json j = python_json_loads(scope_);
      if (!j.is_array()) throw InputError("--scope-entries: expected a JSON list of [group, sequence] pairs");
      for (const auto& e : j) {
        if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_string())
          throw InputError(fmt::format("--scope-entries: expected [group, sequence], got {}", e.dump()));
        scope.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
      }
      std::sort(scope.begin(), scope.end());
      have_scope = true;
    } else if (ds && feature->info().scope_dependent) {
      RunOptions o;
      std::string unused;
      std::printf("%s\n", predict_run_id(*ds, *feature, o, payload_ ? &unused : nullptr).c_str());
      if (payload_) std::printf("%s\n", unused.c_str());
      return 0;
    }
    if (feature->info().scope_dependent && !have_scope)
      throw InputError(fmt::format("{} is scope-dependent: its run id includes the scope; give --scope-entries or "
                                   "--dataset",
                                   feature->info().name));
    Json payload = run_payload(*feature, range, &scope);
    std::printf("%s\n", make_run_id(feature->info().version, payload).c_str());
    if (payload_) std::printf("%s\n", canonical_payload_string(payload).c_str());
    return 0;
  }

 private:
  FeatureArgs args_;
  std::string scope_, dataset_;
  std::optional<double> fps_;
  bool payload_ = false;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(RunIdCommand);
}  // namespace mosaic::cli
