// feature.hpp: the Feature protocol, its inputs and results, and the catalog of features by name.
//
// A feature turns one entry's table (a sequence's tracks, or the merged outputs of upstream
// features) into an output table. Global features first `fit` over every entry of the scope
// (through an InputStream that can be iterated several times) and save their state in the run
// folder; `load_state` lets a later run reuse it. `run_feature` (run_feature.hpp) drives the
// protocol, caches the outputs and records the run (pipeline.md §3-§4).
//
//   auto feature = make_feature("speed-angvel", Inputs::tracks(), Json{{"fps", 30.0}});
//   Result r = run_feature(dataset, *feature, {.parallel_workers = 2});
//
// Adding a feature is one file under src/features/ with a FeatureInfo, a ParamSchema and
// MOSAIC_REGISTER_FEATURE (see src/features/feature_base.hpp).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "mosaic/json.hpp"
#include "mosaic/params.hpp"
#include "mosaic/table.hpp"

namespace mosaic {

class Dataset;

/// \brief A reference to a feature run: its storage name and run id (null = the latest run).
struct Result {
  std::string feature;
  std::optional<std::string> run_id;

  Json to_json() const;  ///< {"feature": ..., "run_id": ...}
  bool operator==(const Result&) const = default;
};

/// \brief One input item: the dataset's tracks or an upstream feature result.
using InputItem = std::variant<std::monostate /* tracks */, Result>;

/// \brief The inputs of a feature, in order (pipeline.md §3.2).
class Inputs {
 public:
  Inputs() = default;
  explicit Inputs(std::vector<InputItem> items);
  static Inputs tracks();
  static Inputs of(std::vector<Result> results);

  const std::vector<InputItem>& items() const noexcept { return items_; }
  bool empty() const noexcept { return items_.empty(); }
  bool has_tracks() const;
  bool is_single_tracks() const;
  std::vector<Result> feature_inputs() const;
  /// "tracks" / "a+b" / nullopt for no inputs (§2.4).
  std::optional<std::string> storage_suffix() const;
  /// ["tracks", {"feature": ..., "run_id": ...}, ...] (model_dump).
  Json to_json() const;
  /// Parse the dump form, or a list of strings ("tracks", "storage[:run_id]").
  static Inputs from_json(const Json& value);

 private:
  std::vector<InputItem> items_;
};

/// Which input items a feature accepts, and how many (pipeline.md §3.2).
enum class InputKinds : uint8_t { kTracksOnly, kResultsOnly, kTracksOrResults };
enum class InputRequire : uint8_t { kNonEmpty, kEmpty, kAny };

/// \brief Static description of a feature, declared once.
struct FeatureInfo {
  std::string name;         ///< on-disk name, e.g. "speed-angvel"
  std::string version;      ///< e.g. "0.1" or "0.1+cpp.1" when DECISIONS changes its numbers
  std::string summary;      ///< one line for `mosaic features list`
  std::string category = "per-frame";  ///< per-frame | global | summary | tag
  bool parallelizable = true;
  bool scope_dependent = false;
  InputKinds input_kinds = InputKinds::kTracksOnly;
  InputRequire input_require = InputRequire::kNonEmpty;
  /// Inputs used when none are given (tracks-only features default to tracks).
  bool default_tracks_input = true;
  /// Name of the Python class in the reference (for docs and describe).
  std::string python_class;
};

/// \brief `{field -> artifact file}` resolved from ArtifactSpec params (§4.6).
using ArtifactPaths = std::map<std::string, std::filesystem::path>;
/// \brief `{field -> {(group, sequence) -> file}}` resolved from Result/labels params (§4.6).
using DependencyLookups =
    std::map<std::string, std::map<std::pair<std::string, std::string>, std::filesystem::path>>;

/// \brief One entry handed to `fit`: its key, (group, sequence) and table.
struct EntryData {
  std::string entry_key;
  std::string group;
  std::string sequence;
  Table table;
};

/// \brief Re-iterable stream of entries for `fit`: each `iterate()` starts from the first entry.
class InputStream {
 public:
  virtual ~InputStream() = default;
  /// Number of manifest entries (entries that load as empty still count).
  virtual std::size_t n_entries() const = 0;
  /// Call `fn` for each non-empty entry, in manifest order; a fresh pass on every call.
  virtual void for_each(const std::function<void(const EntryData&)>& fn) const = 0;
};

/// \brief The Feature protocol (pipeline.md §3.1).
class Feature {
 public:
  Feature(Inputs inputs, Json params) : inputs_(std::move(inputs)), params_(std::move(params)) {}
  virtual ~Feature() = default;

  virtual const FeatureInfo& info() const = 0;
  virtual const ParamSchema& schema() const = 0;
  const Inputs& inputs() const noexcept { return inputs_; }
  /// Normalised params, every field in declaration order (pydantic model_dump).
  const Json& params() const noexcept { return params_; }
  /// Replace the value of a param after construction (used to pin run ids of references).
  void set_param(const std::string& name, Json value) { params_[name] = std::move(value); }
  /// Replace the inputs (used to pin unpinned upstream run ids, DECISIONS P3).
  void set_inputs(Inputs inputs) { inputs_ = std::move(inputs); }

  /// Called once before load_state with the dataset the run works on.
  virtual void bind_dataset(const Dataset& dataset) {}
  /// True when a fitted (or stateless) state is ready and fit can be skipped.
  virtual bool load_state(const std::filesystem::path& run_root, const ArtifactPaths& artifacts,
                          const DependencyLookups& lookups) = 0;
  virtual void fit(const InputStream& inputs) {}
  virtual void save_state(const std::filesystem::path& run_root) const {}
  /// One entry's table in, the output table out. Must be safe to call from several threads at
  /// once (it is const, and run_feature calls it concurrently with parallel workers).
  virtual Table apply(const Table& table) const = 0;

 protected:
  Inputs inputs_;
  Json params_;
};

/// \brief How to build a feature by name.
struct FeatureFactory {
  const FeatureInfo* info = nullptr;
  std::function<const ParamSchema&()> schema;
  std::function<std::unique_ptr<Feature>(Inputs, Json)> create;
  const char* source_file = "";
};

/// \brief Every registered feature, sorted by name.
const std::map<std::string, FeatureFactory>& feature_catalog();
void register_feature(FeatureFactory factory);
/// \brief The factory for `name`; throws InputError "unknown feature 'x' (did you mean 'y'?
/// run 'mosaic features list')".
const FeatureFactory& find_feature(std::string_view name);

/// \brief Build a feature: validates the inputs against the feature's input rules and the params
/// with `from_overrides` (unknown keys -> InputError with a did-you-mean and a pointer to
/// `mosaic features describe <name>`). Empty inputs mean the feature's default inputs.
std::unique_ptr<Feature> make_feature(std::string_view name, std::optional<Inputs> inputs, const Json& params);

/// \brief `mosaic features describe` data: info, inputs, params (name, type, default, doc).
Json describe_feature(const FeatureFactory& factory);

}  // namespace mosaic
