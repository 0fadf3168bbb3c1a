#include "cli/feature_args.hpp"

#include <fmt/format.h>

#include "cli/cli_util.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/json.hpp"

namespace mosaic::cli {

void FeatureArgs::add_to(CLI::App* app, bool with_scope) {
  app->add_option("--params", params, "Parameter overrides as JSON, or @file.json (defaults fill the rest)");
  app->add_option("--input", inputs, "Input: 'tracks' or STORAGE[:RUN_ID] (repeat for several; default: the feature's)");
  app->add_option("--start-frame", start_frame, "Keep frames >= N");
  app->add_option("--end-frame", end_frame, "Keep frames < N");
  app->add_option("--start-time", start_time, "Keep times >= S seconds (needs meta.fps_default)");
  app->add_option("--end-time", end_time, "Keep times < S seconds (needs meta.fps_default)");
  if (with_scope) {
    app->add_option("--groups", groups, "Only these groups (comma-separated or repeated)");
    app->add_option("--sequences", sequences, "Only these sequences (comma-separated or repeated)");
  }
}

Json FeatureArgs::params_json() const {
  if (params.empty()) return Json::object();
  std::string text = params;
  std::string source = "--params";
  if (!text.empty() && text[0] == '@') {
    source = text.substr(1);
    text = read_file_text(source);
  }
  try {
    Json j = python_json_loads(text);
    if (!j.is_object()) throw InputError(fmt::format("{}: expected a JSON object of parameters, got {}", source, j.dump()));
    return j;
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: invalid JSON: {}", source, e.what()));
  }
}

std::unique_ptr<Feature> FeatureArgs::make() const {
  std::optional<Inputs> in;
  if (!inputs.empty()) {
    Json arr = Json::array();
    for (const auto& s : split_list(inputs)) arr.push_back(s);
    in = Inputs::from_json(arr);
  }
  return make_feature(feature, in, params_json());
}

void FeatureArgs::fill(RunOptions& o) const {
  auto g = split_list(groups);
  auto s = split_list(sequences);
  if (!g.empty()) o.groups = std::set<std::string>(g.begin(), g.end());
  if (!s.empty()) o.sequences = std::set<std::string>(s.begin(), s.end());
  o.start_frame = start_frame;
  o.end_frame = end_frame;
  o.start_time = start_time;
  o.end_time = end_time;
}

}  // namespace mosaic::cli
