#include "io/manifest_yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fmt/format.h>
#include <regex>

#include "mosaic/errors.hpp"
#include "mosaic/json.hpp"

using Json = nlohmann::ordered_json;

namespace mosaic {

namespace {

// YAML 1.1 resolution of plain scalars as PyYAML's SafeLoader does it.
Json resolve_plain(const std::string& s) {
  static const std::regex null_re("^(~|null|Null|NULL|)$");
  static const std::regex true_re("^(yes|Yes|YES|true|True|TRUE|on|On|ON)$");
  static const std::regex false_re("^(no|No|NO|false|False|FALSE|off|Off|OFF)$");
  static const std::regex int_re("^[-+]?(0|[1-9][0-9_]*)$");
  static const std::regex float_re(R"(^[-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?$)");
  static const std::regex inf_re(R"(^[-+]?\.(inf|Inf|INF)$)");
  static const std::regex nan_re(R"(^\.(nan|NaN|NAN)$)");
  if (std::regex_match(s, null_re)) return nullptr;
  if (std::regex_match(s, true_re)) return true;
  if (std::regex_match(s, false_re)) return false;
  std::string digits;
  for (char c : s)
    if (c != '_') digits.push_back(c);
  if (std::regex_match(s, int_re)) {
    try {
      return std::stoll(digits);
    } catch (...) {
      return s;
    }
  }
  if (std::regex_match(s, float_re) && s != "." && s.find_first_of("0123456789") != std::string::npos)
    return std::stod(digits);
  if (std::regex_match(s, inf_re)) return s[0] == '-' ? -INFINITY : INFINITY;
  if (std::regex_match(s, nan_re)) return NAN;
  return s;
}

Json to_json(const YAML::Node& node, std::string_view where) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar:
      // Tag "!" marks a quoted scalar: always a string.
      if (node.Tag() == "!") return node.Scalar();
      return resolve_plain(node.Scalar());
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      for (const auto& item : node) arr.push_back(to_json(item, where));
      return arr;
    }
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (const auto& kv : node) {
        std::string key = kv.first.IsScalar() ? kv.first.Scalar() : kv.first.as<std::string>();
        if (obj.contains(key))
          throw InputError(fmt::format("{}:{}: duplicate key '{}'", where, kv.first.Mark().line + 1, key));
        obj[key] = to_json(kv.second, where);
      }
      return obj;
    }
  }
  return nullptr;
}

bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  Json resolved = resolve_plain(s);
  if (!resolved.is_string()) return true;
  static const std::regex safe(R"(^[A-Za-z0-9_./][A-Za-z0-9_./ ()@+-]*$)");
  if (!std::regex_match(s, safe)) return true;
  return s.back() == ' ';
}

std::string pyyaml_float(double v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  std::string r = python_float_repr(v);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // PyYAML's represent_float: "1e-05" becomes "1.0e-05" so that it reads back as a float.
  if (r.find('.') == std::string::npos && r.find('e') != std::string::npos) r.insert(r.find('e'), ".0");
  return r;
}

void emit(std::string& out, const Json& value, int indent);

void emit_entry(std::string& out, const std::string& key, const Json& value, int indent) {
  out.append(static_cast<std::size_t>(indent), ' ');
  out += needs_quotes(key) ? yaml_scalar(Json(key)) : key;
  out += ':';
  if (value.is_object() && !value.empty()) {
    out += '\n';
    emit(out, value, indent + 2);
  } else if (value.is_array() && !value.empty()) {
    out += '\n';
    emit(out, value, indent);
  } else {
    out += ' ';
    out += yaml_scalar(value);
    out += '\n';
  }
}

void emit(std::string& out, const Json& value, int indent) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) emit_entry(out, it.key(), it.value(), indent);
  } else if (value.is_array()) {
    for (const auto& item : value) {
      out.append(static_cast<std::size_t>(indent), ' ');
      out += "- ";
      if (item.is_object() && !item.empty()) {
        std::string nested;
        emit(nested, item, indent + 2);
        out += nested.substr(static_cast<std::size_t>(indent + 2));
      } else {
        out += yaml_scalar(item);
        out += '\n';
      }
    }
  }
}

}  // namespace

Json yaml_to_json(const YAML::Node& node, std::string_view where) { return to_json(node, where); }

std::string yaml_scalar(const Json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  if (value.is_number_integer()) return value.dump();
  if (value.is_number_float()) return pyyaml_float(value.get<double>());
  if (value.is_object()) return "{}";
  if (value.is_array()) return "[]";
  std::string s = value.get<std::string>();
  if (!needs_quotes(s)) return s;
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "''";
    else q += c;
  }
  return q + "'";
}

Json parse_manifest_yaml(std::string_view text, std::string_view where) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    return to_json(root, where);
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("{}:{}: invalid YAML: {}", where, e.mark.line + 1, e.msg));
  }
}

std::vector<std::pair<std::string, int>> yaml_top_level_key_lines(std::string_view text) {
  std::vector<std::pair<std::string, int>> out;
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap()) return out;
    for (const auto& kv : root) out.emplace_back(kv.first.Scalar(), kv.first.Mark().line + 1);
  } catch (const YAML::Exception&) {
  }
  return out;
}

std::string ManifestYaml::format() const {
  std::string out;
  for (const auto& line : comment) out += "# " + line + "\n";
  for (const auto& [k, v] : entries) emit_entry(out, k, v, 0);
  return out;
}

}  // namespace mosaic
