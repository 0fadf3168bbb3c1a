// global_common.cpp: see global_common.hpp.
#include "features/global_common.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/parquet.hpp"

namespace mosaic::features {

std::vector<std::string> global_feature_columns(const Table& df) {
  static const char* kExcluded[] = {"id",  "sequence",     "group",       "frame", "time",  "id1",
                                    "id2", "entity_level", "perspective", "fps",   "label", "split"};
  std::vector<std::string> cols;
  for (const auto& name : df.column_names()) {
    if (!is_numeric(df.column(name).type())) continue;
    if (std::find_if(std::begin(kExcluded), std::end(kExcluded), [&](const char* e) { return name == e; }) !=
        std::end(kExcluded))
      continue;
    cols.push_back(name);
  }
  // std::string compares bytes, which is Python's code-point order for these ASCII names.
  std::sort(cols.begin(), cols.end());
  return cols;
}

namespace {

template <class T>
std::vector<T> row_major(const Table& df, const std::vector<std::string>& cols, const std::string& what) {
  const std::size_t n = df.num_rows(), d = cols.size();
  std::vector<T> out(n * d);
  for (std::size_t c = 0; c < d; ++c) {
    if (!df.has_column(cols[c])) throw SchemaError::missing_column(what, cols[c], df.column_names());
    const Column& col = df.column(cols[c]);
    if (col.type() == DType::kFloat64) {
      auto v = col.f64();
      for (std::size_t r = 0; r < n; ++r) out[r * d + c] = static_cast<T>(v[r]);
    } else if (col.type() == DType::kFloat32) {
      auto v = col.f32();
      for (std::size_t r = 0; r < n; ++r) out[r * d + c] = static_cast<T>(v[r]);
    } else if (is_numeric(col.type())) {
      for (std::size_t r = 0; r < n; ++r)
        out[r * d + c] = col.is_null(r) ? static_cast<T>(NAN) : static_cast<T>(col.as_double(r));
    } else {
      throw SchemaError::wrong_type(what, cols[c], "a numeric column", dtype_name(col.type()));
    }
  }
  return out;
}

}  // namespace

std::vector<double> row_major_f64(const Table& df, const std::vector<std::string>& cols, const std::string& what) {
  return row_major<double>(df, cols, what);
}

std::vector<float> row_major_f32(const Table& df, const std::vector<std::string>& cols, const std::string& what) {
  // Casting the double value to float rounds once, as numpy's astype(float32) does.
  return row_major<float>(df, cols, what);
}

std::string first_string(const Table& df, const char* column) {
  if (!df.has_column(column) || df.num_rows() == 0) return "";
  const Column& c = df.column(column);
  if (c.is_null(0)) return "";
  if (c.type() == DType::kString) return std::string(c.str(0));
  return fmt::format("{}", c.as_int64(0));
}

TemplateMatrix load_templates_artifact(const std::filesystem::path& path, const Json& load) {
  if (!std::filesystem::exists(path)) throw IoError(fmt::format("templates artifact not found: {}", path.string()));
  if (load.is_object() && load.value("transpose", false))
    throw InputError(fmt::format("templates.load.transpose: expected false, got true (not supported for {})",
                                 path.string()));
  Table t = read_parquet(path);
  std::vector<std::string> cols;
  if (load.is_object() && load.contains("columns") && load["columns"].is_array()) {
    for (const auto& c : load["columns"]) cols.push_back(c.get<std::string>());
  } else {
    const bool numeric_only = !load.is_object() || load.value("numeric_only", true);
    for (const auto& name : t.column_names())
      if (!numeric_only || is_numeric(t.column(name).type())) cols.push_back(name);
  }
  if (load.is_object() && load.contains("drop_columns") && load["drop_columns"].is_array()) {
    for (const auto& c : load["drop_columns"]) {
      auto it = std::find(cols.begin(), cols.end(), c.get<std::string>());
      if (it != cols.end()) cols.erase(it);
    }
  }
  TemplateMatrix m;
  m.rows = t.num_rows();
  m.values = row_major_f64(t, cols, "templates artifact " + path.string());
  m.columns = std::move(cols);
  return m;
}

std::shared_ptr<const ParamSchema> pool_config_schema() {
  static const std::shared_ptr<const ParamSchema> s = std::make_shared<const ParamSchema>(
      "PoolConfig",
      std::vector<ParamSpec>{
          param("size", ParamType::optional(ParamType::integer()), Json(),
                "Rows collected before the final selection (None = the final count).")
              .at_least(1),
          param("allocation", ParamType::literal({"reservoir", "exact"}), Json("reservoir"),
                "reservoir: one streaming pass; exact: per-entry quotas proportional to entry size (two passes)."),
          param("max_entry_fraction", ParamType::optional(ParamType::floating()), Json(),
                "Cap on one entry's share of the pool (None = no cap).")
              .greater_than(0.0)
              .at_most(1.0)});
  return s;
}

void write_json_file(const std::filesystem::path& path, const Json& doc) {
  write_file_atomic(path, python_json_dumps(doc, {.indent = 2}));
}

Json read_json_file(const std::filesystem::path& path) {
  try {
    return python_json_loads(read_file_text(path));
  } catch (const IoError&) {
    throw;
  } catch (const std::exception& e) {
    throw IoError(fmt::format("cannot read JSON {}: {}", path.string(), e.what()));
  }
}

std::filesystem::path templates_artifact_path(const Json& templates_param, const ArtifactPaths& artifacts) {
  namespace fs = std::filesystem;
  auto it = artifacts.find("templates");
  if (it == artifacts.end()) return {};
  fs::path path = it->second;
  const char* declared = "templates.parquet";  // what extract-templates and extract-labeled-templates write
  if (templates_param.is_object() && templates_param.value("pattern", "") == "*.parquet" &&
      path.filename() != declared && fs::exists(path.parent_path() / declared))
    path = path.parent_path() / declared;
  return path;
}

std::filesystem::path fitted_model_dir(const std::string& feature_name, const Json& model, const ArtifactPaths& artifacts,
                                       const std::filesystem::path& features_root,
                                       const std::vector<std::string>& required_files) {
  namespace fs = std::filesystem;
  fs::path dir;
  if (auto it = artifacts.find("model"); it != artifacts.end()) {
    // The artifact names the reference's pickle (model.joblib, ...); our state files sit beside it.
    dir = it->second.parent_path();
  } else {
    std::string storage = model.value("feature", "");
    if (storage.empty())
      throw InputError(fmt::format("{}: model.feature is empty; expected the storage name of a {} run", feature_name,
                                   feature_name));
    std::string run_id = model["run_id"].is_string()
                             ? model["run_id"].get<std::string>()
                             : FeatureIndex(features_root / storage / "index.csv").latest_run_id();
    dir = features_root / storage / run_id;
  }
  for (const auto& f : required_files) {
    if (fs::exists(dir / f)) continue;
    std::string expected;
    for (const auto& g : required_files) expected += (expected.empty() ? "" : " and ") + (dir / g).string();
    throw StateError(fmt::format("{}: model of '{}' not found: expected {} (joblib pickles are not read; fit the "
                                 "model with mosaic)",
                                 feature_name, model.value("feature", ""), expected));
  }
  return dir;
}

}  // namespace mosaic::features
