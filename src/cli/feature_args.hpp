// feature_args.hpp (internal): the options `run-feature` and `run-id` share: params, inputs,
// scope and filters, parsed the same way in both so that they hash the same.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mosaic/feature.hpp"
#include "mosaic/run_feature.hpp"

namespace mosaic::cli {

struct FeatureArgs {
  std::string feature;
  std::string params;                    ///< JSON text or @file
  std::vector<std::string> inputs;       ///< "tracks" or STORAGE[:RUN_ID]
  std::vector<std::string> groups, sequences;
  std::optional<int64_t> start_frame, end_frame;
  std::optional<double> start_time, end_time;

  void add_to(CLI::App* app, bool with_scope);
  /// The user's params overrides as JSON (validated by the feature's schema later).
  Json params_json() const;
  std::unique_ptr<Feature> make() const;
  void fill(RunOptions& options) const;
};

}  // namespace mosaic::cli
