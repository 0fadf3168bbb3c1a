// params.hpp: feature parameters, declared once and used for validation, JSON in/out, hashing and
// `mosaic features describe`.
//
// A feature declares its parameters as a ParamSchema: one ParamSpec per field with its name, its
// Python type (which decides how values are normalised and hashed: a `float` field holding 30
// dumps as 30.0, an `int` as 30), its default and a one-line doc. `from_overrides` validates a
// user's partial params exactly like the reference's pydantic `Params.from_overrides`: unknown
// keys are an error (with a did-you-mean), nested models are merged one level deep, values are
// coerced to the declared type, and the result lists every field in declaration order.
//
//   static const ParamSchema schema{{
//       param_int("window", 5, "Smoothing window in frames.").at_least(1),
//       param_float("fps", 30.0, "Frames per second."),
//   }};
//   Json p = schema.from_overrides({{"window", 7}});   // {"window": 7, "fps": 30.0}
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mosaic/json.hpp"

namespace mosaic {

class ParamSchema;

/// \brief The Python type of a parameter: how values are validated, normalised and shown.
class ParamType {
 public:
  enum class Kind : uint8_t {
    kInt, kFloat, kBool, kStr, kAny,
    kLiteral,   ///< one of fixed strings
    kOptional,  ///< T | None
    kList,      ///< list[T]
    kTuple,     ///< tuple[T, ...] (dumped as a JSON list, like pydantic's model_dump in JSON)
    kDict,      ///< dict[K, V] (keys are strings in JSON)
    kUnion,     ///< first alternative that accepts the value wins (pydantic smart mode, simplified)
    kModel,     ///< a nested params model
    kReference  ///< Result / NNResult / ArtifactSpec / LabelsSource: a model with a role
  };
  /// What a reference-typed field points at (decides dependency resolution, pipeline.md §4.6).
  enum class Role : uint8_t { kNone, kResult, kNNResult, kBodyScaleResult, kResultColumn, kArtifact, kLabels };

  static ParamType integer();
  static ParamType floating();
  static ParamType boolean();
  static ParamType string();
  static ParamType any();
  static ParamType literal(std::vector<std::string> choices);
  static ParamType optional(ParamType inner);
  static ParamType list(ParamType item);
  static ParamType tuple(ParamType item);
  static ParamType dict(ParamType value);
  static ParamType one_of(std::vector<ParamType> alternatives);
  static ParamType model(std::shared_ptr<const ParamSchema> schema);
  static ParamType reference(Role role, std::shared_ptr<const ParamSchema> schema);

  Kind kind() const noexcept { return kind_; }
  Role role() const noexcept { return role_; }
  const std::shared_ptr<const ParamSchema>& schema() const noexcept { return schema_; }
  const std::vector<ParamType>& children() const noexcept { return children_; }
  /// The type as Python writes it: `int`, `float | None`, `list[str]`, `InterpolationConfig`, ...
  std::string python_name() const;
  /// Validate and normalise `value`; throws InputError naming `path` (e.g. "pose.pose_n").
  Json validate(const Json& value, const std::string& path) const;

 private:
  Kind kind_ = Kind::kAny;
  Role role_ = Role::kNone;
  std::vector<std::string> choices_;
  std::vector<ParamType> children_;
  std::shared_ptr<const ParamSchema> schema_;
};

/// \brief One declared parameter.
struct ParamSpec {
  std::string name;
  ParamType type;
  Json default_value;  ///< already normalised
  std::string doc;
  bool required = false;  ///< no default: must be given
  /// Extra check on the normalised value; returns an error text ("" = fine).
  std::function<std::string(const Json&)> check;
  std::string constraint;  ///< shown in describe, e.g. ">= 1"

  /// \name Fluent constraints
  /// @{
  ParamSpec&& at_least(double bound) &&;      ///< >= bound (numbers; None passes)
  ParamSpec&& greater_than(double bound) &&;  ///< > bound
  ParamSpec&& at_most(double bound) &&;       ///< <= bound
  ParamSpec&& odd() &&;                       ///< odd integers only
  ParamSpec&& with_check(std::string constraint, std::function<std::string(const Json&)> fn) &&;
  /// @}
};

ParamSpec param_int(std::string name, int64_t def, std::string doc);
ParamSpec param_float(std::string name, double def, std::string doc);
ParamSpec param_bool(std::string name, bool def, std::string doc);
ParamSpec param_str(std::string name, std::string def, std::string doc);
/// Any type with an explicit default (Json null for None).
ParamSpec param(std::string name, ParamType type, Json def, std::string doc);
/// A required field (no default).
ParamSpec param_required(std::string name, ParamType type, std::string doc);

/// \brief A params model: ordered fields, strict (unknown keys are errors).
class ParamSchema : public std::enable_shared_from_this<ParamSchema> {
 public:
  ParamSchema(std::string model_name, std::vector<ParamSpec> fields);

  const std::string& model_name() const noexcept { return model_name_; }
  const std::vector<ParamSpec>& fields() const noexcept { return fields_; }
  const ParamSpec* field(std::string_view name) const noexcept;

  /// Defaults of every field, in declaration order (pydantic `Params().model_dump()`).
  /// Throws InputError when a field is required.
  Json defaults() const;
  /// The reference's `Params.from_overrides(d)`: null/{} -> defaults; a top-level dict value for
  /// a nested-model field is merged over that field's default (one level); then validated.
  Json from_overrides(const Json& overrides, std::string_view feature_name = "") const;
  /// Validate a full or partial object (missing fields take defaults). `path` prefixes messages.
  Json validate(const Json& value, const std::string& path) const;

  /// Exactly one of these fields must be given explicitly; the other is set to null
  /// (GlobalModelParams: templates | model).
  void set_exclusive(std::string a, std::string b) { exclusive_ = {std::move(a), std::move(b)}; }
  const std::optional<std::pair<std::string, std::string>>& exclusive() const noexcept { return exclusive_; }

 private:
  std::string model_name_;
  std::vector<ParamSpec> fields_;
  std::optional<std::pair<std::string, std::string>> exclusive_;
};

/// \name Shared nested models (features.md §0.4, pipeline.md §3.4 and §10)
/// @{
std::shared_ptr<const ParamSchema> interpolation_config_schema();  ///< linear_interp_limit, edge_fill_limit, max_missing_fraction
std::shared_ptr<const ParamSchema> sampling_config_schema();       ///< fps_default, smooth_win
std::shared_ptr<const ParamSchema> pose_config_schema();           ///< pose_n, pose_indices, prefixes, keypoint_names
/// Result-like references.
ParamType result_type();                                   ///< Result{feature, run_id}
ParamType nn_result_type();                                ///< NNResult (default feature nearest-neighbor)
ParamType body_scale_result_type();                        ///< BodyScaleResult (default feature body-scale)
ParamType result_column_type();                            ///< ResultColumn{feature, run_id, column}
/// ArtifactSpec with a load spec of `load_kind` (npz|parquet|joblib), an optional expected
/// producer feature and a default pattern (derived as "*.<kind>" when empty).
ParamType artifact_type(std::string load_kind, std::string expected_feature = "", std::string default_pattern = "",
                        Json load_defaults = Json::object());
ParamType labels_source_type(std::string default_kind);
/// @}

/// \brief Render one schema for `mosaic features describe` (name, type, default, doc per field).
Json describe_schema(const ParamSchema& schema);

}  // namespace mosaic
