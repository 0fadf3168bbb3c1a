#include "mosaic/feature.hpp"

#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>

#include "mosaic/errors.hpp"

namespace mosaic {

Json Result::to_json() const {
  Json j = Json::object();
  j["feature"] = feature;
  j["run_id"] = run_id ? Json(*run_id) : Json();
  return j;
}

Inputs::Inputs(std::vector<InputItem> items) : items_(std::move(items)) {
  // Duplicates are rejected, keyed by "tracks" or (feature, run_id) (§3.2).
  std::vector<std::string> keys;
  for (const auto& it : items_) {
    std::string key = std::holds_alternative<std::monostate>(it)
                          ? "tracks"
                          : std::get<Result>(it).feature + "@" + std::get<Result>(it).run_id.value_or("None");
    for (const auto& k : keys)
      if (k == key) throw InputError(fmt::format("Duplicate inputs: {}", key));
    keys.push_back(key);
  }
}

Inputs Inputs::tracks() { return Inputs({InputItem{std::monostate{}}}); }

Inputs Inputs::of(std::vector<Result> results) {
  std::vector<InputItem> items;
  for (auto& r : results) items.emplace_back(std::move(r));
  return Inputs(std::move(items));
}

bool Inputs::has_tracks() const {
  for (const auto& it : items_)
    if (std::holds_alternative<std::monostate>(it)) return true;
  return false;
}

bool Inputs::is_single_tracks() const { return items_.size() == 1 && has_tracks(); }

std::vector<Result> Inputs::feature_inputs() const {
  std::vector<Result> out;
  for (const auto& it : items_)
    if (auto* r = std::get_if<Result>(&it)) out.push_back(*r);
  return out;
}

std::optional<std::string> Inputs::storage_suffix() const {
  if (items_.empty()) return std::nullopt;
  std::string s;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    if (i) s += "+";
    s += std::holds_alternative<std::monostate>(items_[i]) ? std::string("tracks") : std::get<Result>(items_[i]).feature;
  }
  return s;
}

Json Inputs::to_json() const {
  Json arr = Json::array();
  for (const auto& it : items_) {
    if (std::holds_alternative<std::monostate>(it)) arr.push_back("tracks");
    else arr.push_back(std::get<Result>(it).to_json());
  }
  return arr;
}

Inputs Inputs::from_json(const Json& value) {
  if (!value.is_array()) throw InputError(fmt::format("inputs: expected a list, got {}", value.dump()));
  std::vector<InputItem> items;
  for (const auto& v : value) {
    if (v.is_string()) {
      std::string s = v.get<std::string>();
      if (s == "tracks") {
        items.emplace_back(std::monostate{});
        continue;
      }
      // "storage[:run_id]"
      auto colon = s.rfind(':');
      Result r;
      if (colon == std::string::npos) {
        r.feature = s;
      } else {
        r.feature = s.substr(0, colon);
        r.run_id = s.substr(colon + 1);
      }
      if (r.feature.empty()) throw InputError(fmt::format("inputs: empty feature name in '{}'", s));
      items.emplace_back(r);
    } else if (v.is_object()) {
      if (!v.contains("feature") || !v["feature"].is_string())
        throw InputError(fmt::format("inputs: a result needs a 'feature' string, got {}", v.dump()));
      Result r;
      r.feature = v["feature"].get<std::string>();
      if (v.contains("run_id") && v["run_id"].is_string()) r.run_id = v["run_id"].get<std::string>();
      items.emplace_back(r);
    } else {
      throw InputError(fmt::format("inputs: expected \"tracks\" or {{\"feature\", \"run_id\"}}, got {}", v.dump()));
    }
  }
  return Inputs(std::move(items));
}

// ---- Catalog ---------------------------------------------------------------------------------------

namespace {
std::map<std::string, FeatureFactory>& mutable_catalog() {
  static std::map<std::string, FeatureFactory> catalog;
  return catalog;
}
}  // namespace

const std::map<std::string, FeatureFactory>& feature_catalog() { return mutable_catalog(); }

void register_feature(FeatureFactory factory) {
  auto& catalog = mutable_catalog();
  const std::string& name = factory.info->name;
  auto it = catalog.find(name);
  if (it != catalog.end()) {
    // Two features with one name is a build mistake: stop at start-up, naming both files.
    std::fprintf(stderr, "mosaic: feature '%s' registered twice (%s and %s)\n", name.c_str(), it->second.source_file,
                 factory.source_file);
    std::abort();
  }
  catalog.emplace(name, std::move(factory));
}

const FeatureFactory& find_feature(std::string_view name) {
  const auto& catalog = feature_catalog();
  auto it = catalog.find(std::string(name));
  if (it != catalog.end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [n, f] : catalog) names.push_back(n);
  std::string hint = did_you_mean(name, names);
  throw InputError(fmt::format("unknown feature '{}'{}; run 'mosaic features list'", name,
                               hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
}

namespace {

void check_inputs(const FeatureInfo& info, const Inputs& inputs) {
  switch (info.input_require) {
    case InputRequire::kNonEmpty:
      if (inputs.empty()) throw InputError(fmt::format("{}: Inputs must have at least one item", info.name));
      break;
    case InputRequire::kEmpty:
      if (!inputs.empty()) throw InputError(fmt::format("{}: This feature takes no pipeline inputs", info.name));
      break;
    case InputRequire::kAny: break;
  }
  for (const auto& it : inputs.items()) {
    bool is_tracks = std::holds_alternative<std::monostate>(it);
    if (is_tracks && info.input_kinds == InputKinds::kResultsOnly)
      throw InputError(fmt::format("{} takes feature results as input, not tracks (give --input <storage>[:run_id])",
                                   info.name));
    if (!is_tracks && info.input_kinds == InputKinds::kTracksOnly)
      throw InputError(fmt::format("{} reads tracks only; got the feature input '{}'", info.name,
                                   std::get<Result>(it).feature));
  }
}

}  // namespace

std::unique_ptr<Feature> make_feature(std::string_view name, std::optional<Inputs> inputs, const Json& params) {
  const FeatureFactory& f = find_feature(name);
  Inputs in;
  if (inputs && !inputs->empty()) in = *inputs;
  else if (f.info->default_tracks_input && f.info->input_require != InputRequire::kEmpty) in = Inputs::tracks();
  check_inputs(*f.info, in);
  Json p = f.schema().from_overrides(params, f.info->name);
  return f.create(std::move(in), std::move(p));
}

Json describe_feature(const FeatureFactory& f) {
  Json j;
  j["name"] = f.info->name;
  j["version"] = f.info->version;
  j["summary"] = f.info->summary;
  j["category"] = f.info->category;
  j["parallelizable"] = f.info->parallelizable;
  j["scope_dependent"] = f.info->scope_dependent;
  const char* kinds = f.info->input_kinds == InputKinds::kTracksOnly    ? "tracks"
                      : f.info->input_kinds == InputKinds::kResultsOnly ? "feature results"
                                                                          : "tracks or feature results";
  j["inputs"] = kinds;
  if (!f.info->python_class.empty()) j["python_class"] = f.info->python_class;
  j["params"] = describe_schema(f.schema());
  return j;
}

}  // namespace mosaic
