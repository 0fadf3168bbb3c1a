#include "mosaic/params.hpp"

#include <cmath>
#include <fmt/format.h>

#include "mosaic/errors.hpp"

namespace mosaic {

namespace {

std::string where(const std::string& path) { return path.empty() ? std::string("params") : path; }

std::string describe_value(const Json& v) {
  PyDumpOptions opt;
  std::string s = python_json_dumps(v, opt);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

[[noreturn]] void type_error(const std::string& path, const std::string& expected, const Json& got) {
  throw InputError(fmt::format("{}: expected {}, got {}", where(path), expected, describe_value(got)));
}

}  // namespace

// ---- ParamType -------------------------------------------------------------------------------------

ParamType ParamType::integer() { ParamType t; t.kind_ = Kind::kInt; return t; }
ParamType ParamType::floating() { ParamType t; t.kind_ = Kind::kFloat; return t; }
ParamType ParamType::boolean() { ParamType t; t.kind_ = Kind::kBool; return t; }
ParamType ParamType::string() { ParamType t; t.kind_ = Kind::kStr; return t; }
ParamType ParamType::any() { ParamType t; t.kind_ = Kind::kAny; return t; }
ParamType ParamType::literal(std::vector<std::string> choices) {
  ParamType t;
  t.kind_ = Kind::kLiteral;
  t.choices_ = std::move(choices);
  return t;
}
ParamType ParamType::optional(ParamType inner) {
  ParamType t;
  t.kind_ = Kind::kOptional;
  t.children_ = {std::move(inner)};
  return t;
}
ParamType ParamType::list(ParamType item) {
  ParamType t;
  t.kind_ = Kind::kList;
  t.children_ = {std::move(item)};
  return t;
}
ParamType ParamType::tuple(ParamType item) {
  ParamType t;
  t.kind_ = Kind::kTuple;
  t.children_ = {std::move(item)};
  return t;
}
ParamType ParamType::dict(ParamType value) {
  ParamType t;
  t.kind_ = Kind::kDict;
  t.children_ = {std::move(value)};
  return t;
}
ParamType ParamType::one_of(std::vector<ParamType> alternatives) {
  ParamType t;
  t.kind_ = Kind::kUnion;
  t.children_ = std::move(alternatives);
  return t;
}
ParamType ParamType::model(std::shared_ptr<const ParamSchema> schema) {
  ParamType t;
  t.kind_ = Kind::kModel;
  t.schema_ = std::move(schema);
  return t;
}
ParamType ParamType::reference(Role role, std::shared_ptr<const ParamSchema> schema) {
  ParamType t;
  t.kind_ = Kind::kReference;
  t.role_ = role;
  t.schema_ = std::move(schema);
  return t;
}

std::string ParamType::python_name() const {
  switch (kind_) {
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kBool: return "bool";
    case Kind::kStr: return "str";
    case Kind::kAny: return "Any";
    case Kind::kLiteral: {
      std::string s = "Literal[";
      for (std::size_t i = 0; i < choices_.size(); ++i) s += (i ? ", '" : "'") + choices_[i] + "'";
      return s + "]";
    }
    case Kind::kOptional: return children_[0].python_name() + " | None";
    case Kind::kList: return "list[" + children_[0].python_name() + "]";
    case Kind::kTuple: return "tuple[" + children_[0].python_name() + ", ...]";
    case Kind::kDict: return "dict[str, " + children_[0].python_name() + "]";
    case Kind::kUnion: {
      std::string s;
      for (std::size_t i = 0; i < children_.size(); ++i) s += (i ? " | " : "") + children_[i].python_name();
      return s;
    }
    case Kind::kModel:
    case Kind::kReference: return schema_ ? schema_->model_name() : "model";
  }
  return "?";
}

Json ParamType::validate(const Json& v, const std::string& path) const {
  switch (kind_) {
    case Kind::kAny: return v;
    case Kind::kInt:
      // pydantic (lax): ints, integral floats and bools are accepted; strings are not.
      if (v.is_number_integer()) return v;
      if (v.is_boolean()) return Json(v.get<bool>() ? 1 : 0);
      if (v.is_number_float()) {
        double d = v.get<double>();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) return Json(static_cast<int64_t>(d));
        throw InputError(fmt::format("{}: expected an integer, got {}", where(path), describe_value(v)));
      }
      type_error(path, "an integer", v);
    case Kind::kFloat:
      if (v.is_number()) return Json(v.get<double>());
      if (v.is_boolean()) return Json(v.get<bool>() ? 1.0 : 0.0);
      if (v.is_string()) {
        // pydantic accepts "inf"/"nan" strings for floats; keep that for NaN/Infinity in JSON files.
        std::string s = v.get<std::string>();
        if (s == "inf" || s == "Infinity") return Json(INFINITY);
        if (s == "-inf" || s == "-Infinity") return Json(-INFINITY);
        if (s == "nan" || s == "NaN") return Json(NAN);
      }
      type_error(path, "a number", v);
    case Kind::kBool:
      if (v.is_boolean()) return v;
      if (v.is_number_integer() && (v.get<int64_t>() == 0 || v.get<int64_t>() == 1)) return Json(v.get<int64_t>() == 1);
      type_error(path, "true or false", v);
    case Kind::kStr:
      if (v.is_string()) return v;
      type_error(path, "a string", v);
    case Kind::kLiteral:
      if (v.is_string()) {
        std::string s = v.get<std::string>();
        for (const auto& c : choices_)
          if (c == s) return v;
        std::string hint = did_you_mean(s, choices_);
        throw InputError(fmt::format("{}: '{}' is not one of {}{}", where(path), s, python_name().substr(7),
                                     hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
      }
      type_error(path, "one of " + python_name(), v);
    case Kind::kOptional:
      if (v.is_null()) return v;
      return children_[0].validate(v, path);
    case Kind::kList:
    case Kind::kTuple: {
      if (!v.is_array()) type_error(path, "a list", v);
      Json out = Json::array();
      for (std::size_t i = 0; i < v.size(); ++i) out.push_back(children_[0].validate(v[i], fmt::format("{}[{}]", where(path), i)));
      return out;
    }
    case Kind::kDict: {
      if (!v.is_object()) type_error(path, "a mapping", v);
      Json out = Json::object();
      for (auto it = v.begin(); it != v.end(); ++it)
        out[it.key()] = children_[0].validate(it.value(), where(path) + "." + it.key());
      return out;
    }
    case Kind::kUnion: {
      // Smart-mode approximation: an exact type match first, then the first alternative that accepts.
      for (const auto& alt : children_) {
        bool exact = (alt.kind_ == Kind::kInt && v.is_number_integer()) ||
                     (alt.kind_ == Kind::kFloat && v.is_number_float()) || (alt.kind_ == Kind::kBool && v.is_boolean()) ||
                     ((alt.kind_ == Kind::kStr || alt.kind_ == Kind::kLiteral) && v.is_string()) ||
                     ((alt.kind_ == Kind::kDict || alt.kind_ == Kind::kModel || alt.kind_ == Kind::kReference) && v.is_object()) ||
                     ((alt.kind_ == Kind::kList || alt.kind_ == Kind::kTuple) && v.is_array()) ||
                     (alt.kind_ == Kind::kOptional && v.is_null());
        if (!exact) continue;
        try {
          return alt.validate(v, path);
        } catch (const InputError&) {
        }
      }
      for (const auto& alt : children_) {
        try {
          return alt.validate(v, path);
        } catch (const InputError&) {
        }
      }
      type_error(path, python_name(), v);
    }
    case Kind::kModel:
    case Kind::kReference:
      if (v.is_null()) type_error(path, python_name(), v);
      if (!v.is_object()) type_error(path, "a mapping for " + python_name(), v);
      if (kind_ == Kind::kReference && role_ == Role::kArtifact) {
        // An empty pattern is derived from the load kind: "*.parquet", "*.npz", ... (§3.4).
        Json out = schema_->validate(v, path);
        if (out["pattern"].is_string() && out["pattern"].get<std::string>().empty())
          out["pattern"] = "*." + out["load"]["kind"].get<std::string>();
        return out;
      }
      return schema_->validate(v, path);
  }
  return v;
}

// ---- ParamSpec -------------------------------------------------------------------------------------

ParamSpec&& ParamSpec::at_least(double bound) && {
  constraint = fmt::format(">= {}", bound);
  check = [bound](const Json& v) -> std::string {
    if (v.is_number() && v.get<double>() < bound) return fmt::format("must be >= {}", bound);
    return "";
  };
  return std::move(*this);
}
ParamSpec&& ParamSpec::greater_than(double bound) && {
  constraint = fmt::format("> {}", bound);
  check = [bound](const Json& v) -> std::string {
    if (v.is_number() && !(v.get<double>() > bound)) return fmt::format("must be > {}", bound);
    return "";
  };
  return std::move(*this);
}
ParamSpec&& ParamSpec::at_most(double bound) && {
  auto previous = check;
  constraint += (constraint.empty() ? "" : ", ") + fmt::format("<= {}", bound);
  check = [bound, previous](const Json& v) -> std::string {
    if (previous) {
      std::string e = previous(v);
      if (!e.empty()) return e;
    }
    if (v.is_number() && v.get<double>() > bound) return fmt::format("must be <= {}", bound);
    return "";
  };
  return std::move(*this);
}
ParamSpec&& ParamSpec::odd() && {
  auto previous = check;
  constraint += (constraint.empty() ? "" : ", ") + std::string("odd");
  check = [previous](const Json& v) -> std::string {
    if (previous) {
      std::string e = previous(v);
      if (!e.empty()) return e;
    }
    if (v.is_number_integer() && v.get<int64_t>() % 2 == 0) return "must be odd";
    return "";
  };
  return std::move(*this);
}
ParamSpec&& ParamSpec::with_check(std::string c, std::function<std::string(const Json&)> fn) && {
  auto previous = check;
  constraint += (constraint.empty() ? "" : ", ") + c;
  check = [previous, fn](const Json& v) -> std::string {
    if (previous) {
      std::string e = previous(v);
      if (!e.empty()) return e;
    }
    return fn(v);
  };
  return std::move(*this);
}

ParamSpec param_int(std::string name, int64_t def, std::string doc) {
  return ParamSpec{std::move(name), ParamType::integer(), Json(def), std::move(doc)};
}
ParamSpec param_float(std::string name, double def, std::string doc) {
  return ParamSpec{std::move(name), ParamType::floating(), Json(def), std::move(doc)};
}
ParamSpec param_bool(std::string name, bool def, std::string doc) {
  return ParamSpec{std::move(name), ParamType::boolean(), Json(def), std::move(doc)};
}
ParamSpec param_str(std::string name, std::string def, std::string doc) {
  return ParamSpec{std::move(name), ParamType::string(), Json(std::move(def)), std::move(doc)};
}
ParamSpec param(std::string name, ParamType type, Json def, std::string doc) {
  // Normalise the default through the type so that e.g. a float default 30 dumps as 30.0.
  Json normalised = def;
  if (!(def.is_null() && type.kind() == ParamType::Kind::kReference)) normalised = type.validate(def, name);
  return ParamSpec{std::move(name), std::move(type), std::move(normalised), std::move(doc)};
}
ParamSpec param_required(std::string name, ParamType type, std::string doc) {
  ParamSpec s{std::move(name), std::move(type), Json(), std::move(doc)};
  s.required = true;
  return s;
}

// ---- ParamSchema -----------------------------------------------------------------------------------

ParamSchema::ParamSchema(std::string model_name, std::vector<ParamSpec> fields)
    : model_name_(std::move(model_name)), fields_(std::move(fields)) {}

const ParamSpec* ParamSchema::field(std::string_view name) const noexcept {
  for (const auto& f : fields_)
    if (f.name == name) return &f;
  return nullptr;
}

Json ParamSchema::defaults() const { return validate(Json::object(), ""); }

Json ParamSchema::validate(const Json& value, const std::string& path) const {
  if (!value.is_object()) type_error(path, "a mapping for " + model_name_, value);
  std::vector<std::string> names;
  for (const auto& f : fields_) names.push_back(f.name);
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (field(it.key())) continue;
    std::string hint = did_you_mean(it.key(), names);
    throw InputError(fmt::format("{}unknown parameter '{}'{}; {} accepts: {}", path.empty() ? "" : path + ": ", it.key(),
                                 hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint), model_name_,
                                 names.empty() ? "no parameters" : join_names(names)));
  }
  Json out = Json::object();
  for (const auto& f : fields_) {
    std::string sub = path.empty() ? f.name : path + "." + f.name;
    Json v;
    if (value.contains(f.name)) {
      v = f.type.validate(value.at(f.name), sub);
    } else if (f.required) {
      throw InputError(fmt::format("{}missing required parameter '{}' ({})", path.empty() ? "" : path + ": ", f.name, f.doc));
    } else {
      v = f.default_value;
    }
    if (f.check && !v.is_null()) {
      std::string err = f.check(v);
      if (!err.empty()) throw InputError(fmt::format("{}: {} (got {})", sub, err, describe_value(v)));
    }
    out[f.name] = std::move(v);
  }
  return out;
}

Json ParamSchema::from_overrides(const Json& overrides, std::string_view feature_name) const {
  Json given = overrides.is_null() ? Json::object() : overrides;
  if (!given.is_object())
    throw InputError(fmt::format("params{}: expected a mapping of parameter names to values, got {}",
                                 feature_name.empty() ? "" : " of " + std::string(feature_name), describe_value(given)));
  Json merged = Json::object();
  for (auto it = given.begin(); it != given.end(); ++it) {
    const ParamSpec* f = field(it.key());
    // One-level merge for nested models: {"pose": {"pose_n": 14}} keeps the other pose defaults.
    if (f && f->type.kind() == ParamType::Kind::kModel && it.value().is_object() && f->default_value.is_object()) {
      Json m = f->default_value;
      for (auto jt = it.value().begin(); jt != it.value().end(); ++jt) m[jt.key()] = jt.value();
      merged[it.key()] = m;
    } else {
      merged[it.key()] = it.value();
    }
  }
  Json out;
  try {
    out = validate(merged, "");
  } catch (const InputError& e) {
    if (feature_name.empty()) throw;
    throw InputError(fmt::format("{} (see: mosaic features describe {})", e.what(), feature_name));
  }
  if (exclusive_) {
    const auto& [a, b] = *exclusive_;
    bool has_a = given.contains(a) && !given.at(a).is_null();
    bool has_b = given.contains(b) && !given.at(b).is_null();
    if (has_a == has_b)
      throw InputError(fmt::format("{}: Exactly one of '{}' or '{}' must be provided",
                                   feature_name.empty() ? "params" : std::string(feature_name), a, b));
    out[has_a ? b : a] = nullptr;
  }
  return out;
}

// ---- Shared models ---------------------------------------------------------------------------------

std::shared_ptr<const ParamSchema> interpolation_config_schema() {
  static auto s = std::make_shared<const ParamSchema>(
      "InterpolationConfig",
      std::vector<ParamSpec>{
          param_int("linear_interp_limit", 10, "Longest gap (rows) filled by linear interpolation.").at_least(1),
          param_int("edge_fill_limit", 3, "Rows filled by forward/backward fill after interpolation.").at_least(0),
          param_float("max_missing_fraction", 0.10, "Rows with a larger fraction of missing values are dropped.")
              .at_least(0)
              .at_most(1)});
  return s;
}

std::shared_ptr<const ParamSchema> sampling_config_schema() {
  static auto s = std::make_shared<const ParamSchema>(
      "SamplingConfig",
      std::vector<ParamSpec>{
          param_float("fps_default", 30.0, "Frames per second when the table has no constant fps column.").greater_than(0),
          param_int("smooth_win", 0, "Box smoothing window in frames (odd; 0 or 1 = none).").at_least(0)});
  return s;
}

std::shared_ptr<const ParamSchema> pose_config_schema() {
  static auto s = [] {
    auto schema = std::make_shared<ParamSchema>(
        "PoseConfig",
        std::vector<ParamSpec>{
            param_int("pose_n", 7, "Number of keypoints."),
            param("pose_indices", ParamType::optional(ParamType::list(ParamType::integer())), Json(),
                  "Keypoints to use (absolute indices, in this order); None = all."),
            param_str("x_prefix", "poseX", "Prefix of keypoint x columns."),
            param_str("y_prefix", "poseY", "Prefix of keypoint y columns."),
            param_str("confidence_prefix", "poseP", "Prefix of keypoint confidence columns."),
            param("keypoint_names", ParamType::optional(ParamType::list(ParamType::string())), Json(),
                  "Names of the keypoints (length pose_n); None = kp0, kp1, ...")});
    return std::shared_ptr<const ParamSchema>(schema);
  }();
  return s;
}

namespace {
std::shared_ptr<const ParamSchema> result_schema(std::string model, std::string default_feature) {
  return std::make_shared<const ParamSchema>(
      std::move(model),
      std::vector<ParamSpec>{param_str("feature", std::move(default_feature), "Storage name of the feature run."),
                             param("run_id", ParamType::optional(ParamType::string()), Json(),
                                   "Run id (None = the latest finished run).")});
}
}  // namespace

ParamType result_type() {
  static auto s = result_schema("Result", "");
  return ParamType::reference(ParamType::Role::kResult, s);
}
ParamType nn_result_type() {
  static auto s = result_schema("NNResult", "nearest-neighbor");
  return ParamType::reference(ParamType::Role::kNNResult, s);
}
ParamType body_scale_result_type() {
  static auto s = result_schema("BodyScaleResult", "body-scale");
  return ParamType::reference(ParamType::Role::kBodyScaleResult, s);
}
ParamType result_column_type() {
  static auto s = std::make_shared<const ParamSchema>(
      "ResultColumn",
      std::vector<ParamSpec>{param_str("feature", "", "Storage name of the feature run."),
                             param("run_id", ParamType::optional(ParamType::string()), Json(), "Run id (None = latest)."),
                             param_required("column", ParamType::string(), "Column to read.")});
  return ParamType::reference(ParamType::Role::kResultColumn, s);
}

ParamType artifact_type(std::string load_kind, std::string expected_feature, std::string default_pattern,
                        Json load_defaults) {
  std::vector<ParamSpec> load_fields;
  load_fields.push_back(param("kind", ParamType::literal({load_kind}), Json(load_kind), "Load spec kind."));
  if (load_kind == "npz") {
    load_fields.push_back(param_required("key", ParamType::string(), "Array key in the npz."));
    load_fields.push_back(param_bool("transpose", false, "Transpose the loaded array."));
  } else if (load_kind == "parquet") {
    load_fields.push_back(param_bool("transpose", false, "Transpose the loaded table."));
    load_fields.push_back(param("columns", ParamType::optional(ParamType::list(ParamType::string())), Json(), "Columns to read."));
    load_fields.push_back(
        param("drop_columns", ParamType::optional(ParamType::list(ParamType::string())), Json(), "Columns to drop."));
    load_fields.push_back(param_bool("numeric_only", true, "Keep numeric columns only (when columns is None)."));
    load_fields.push_back(param("frame_column", ParamType::optional(ParamType::string()), Json(), "Frame column."));
  } else {
    load_fields.push_back(param("key", ParamType::optional(ParamType::string()), Json(), "Key in the loaded object."));
  }
  for (auto& f : load_fields)
    if (load_defaults.contains(f.name)) {
      f.default_value = f.type.validate(load_defaults[f.name], f.name);
      f.required = false;
    }
  std::string load_model = load_kind == "npz" ? "NpzLoadSpec" : load_kind == "parquet" ? "ParquetLoadSpec" : "JoblibLoadSpec";
  auto load_schema = std::make_shared<const ParamSchema>(load_model, std::move(load_fields));
  Json load_default = load_schema->defaults();
  std::string kind = load_kind;
  std::string expected = expected_feature;
  auto pattern_check = [kind](const Json& v) -> std::string {
    if (!v.is_string()) return "";
    std::string p = v.get<std::string>();
    std::string suffix = "." + kind;
    if (!p.empty() && (p.size() < suffix.size() || p.compare(p.size() - suffix.size(), suffix.size(), suffix) != 0))
      return fmt::format("pattern '{}' extension does not match load kind '{}'", p, kind);
    return "";
  };
  auto feature_check = [expected](const Json& v) -> std::string {
    if (expected.empty() || !v.is_string()) return "";
    std::string f = v.get<std::string>();
    if (f.empty() || f == expected || f.rfind(expected + "__from__", 0) == 0) return "";
    return fmt::format("expects feature='{}' (or {}__from__...), got '{}'", expected, expected, f);
  };
  auto schema = std::make_shared<const ParamSchema>(
      "ArtifactSpec",
      std::vector<ParamSpec>{
          param_str("feature", "", "Storage name of the run that produced the artifact.")
              .with_check("producer", feature_check),
          param("run_id", ParamType::optional(ParamType::string()), Json(), "Run id (None = the latest run)."),
          param("load", ParamType::model(load_schema), load_default, "How to load the artifact."),
          param_str("pattern", default_pattern, "Glob of the artifact file in the run folder (default: *.<kind>).")
              .with_check("matches load kind", pattern_check)});
  return ParamType::reference(ParamType::Role::kArtifact, schema);
}

ParamType labels_source_type(std::string default_kind) {
  auto schema = std::make_shared<const ParamSchema>(
      "LabelsSource", std::vector<ParamSpec>{param_str("kind", std::move(default_kind), "Label kind: labels/<kind>/.")});
  return ParamType::reference(ParamType::Role::kLabels, schema);
}

Json describe_schema(const ParamSchema& schema) {
  Json out = Json::array();
  for (const auto& f : schema.fields()) {
    Json j;
    j["name"] = f.name;
    j["type"] = f.type.python_name();
    j["default"] = f.required ? Json("(required)") : f.default_value;
    j["doc"] = f.doc;
    if (!f.constraint.empty()) j["constraint"] = f.constraint;
    if (f.type.kind() == ParamType::Kind::kModel && f.type.schema()) j["fields"] = describe_schema(*f.type.schema());
    out.push_back(j);
  }
  return out;
}

}  // namespace mosaic
