// manifest_yaml.hpp (internal): YAML in and out the way PyYAML's safe_load / dump do it, for the
// small documents mosaic writes (dataset manifests, pipeline files): mappings, sequences and
// scalars, block style, keys in insertion order.
#pragma once

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mosaic {

/// \brief Parse YAML into JSON values with PyYAML's YAML 1.1 scalar rules (plain `30.0` is a
/// float, `30` an int, `yes`/`true` a bool, `~`/`null`/empty is null, quoted scalars are strings).
/// Throws InputError "<where>:<line>: ..." on malformed YAML.
nlohmann::ordered_json parse_manifest_yaml(std::string_view text, std::string_view where);

/// \brief Convert a parsed YAML node with the same scalar rules (for callers that walk the node
/// tree themselves to report line numbers).
nlohmann::ordered_json yaml_to_json(const YAML::Node& node, std::string_view where);

/// \brief The 1-based line of each top-level key (for error messages), in document order.
std::vector<std::pair<std::string, int>> yaml_top_level_key_lines(std::string_view text);

/// \brief A block-style YAML document with an optional comment header.
struct ManifestYaml {
  std::vector<std::string> comment;  ///< lines written as "# ..." before the document
  std::vector<std::pair<std::string, nlohmann::ordered_json>> entries;
  std::string format() const;
};

/// \brief One scalar as PyYAML dumps it (quoting strings that would read back as another type).
std::string yaml_scalar(const nlohmann::ordered_json& value);

}  // namespace mosaic
