// global_common.hpp (internal): helpers shared by the template and clustering features
// (extract-templates, extract-labeled-templates, global-kmeans, global-ward): the reference's
// `feature_columns`, row-major matrices of a table's feature columns, the templates artifact as
// its ParquetLoadSpec reads it, and the PoolConfig params model.
//
//   std::vector<std::string> cols = global_feature_columns(df);      // helpers.feature_columns
//   std::vector<double> x = row_major_f64(df, cols);                  // n x cols.size()
//   TemplateMatrix t = load_templates_artifact(path, params["templates"]["load"]);
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mosaic/feature.hpp"
#include "mosaic/json.hpp"
#include "mosaic/params.hpp"
#include "mosaic/table.hpp"

namespace mosaic::features {

/// \brief helpers.feature_columns: numeric, non-bool columns minus the meta set and
/// {id1, id2, entity_level, perspective, fps, label, split}, sorted in Python string order.
std::vector<std::string> global_feature_columns(const Table& df);

/// \brief The columns `cols` of `df` as a row-major n x cols.size() float64 matrix (ints cast).
/// Throws SchemaError naming the first missing column (`what` names the table).
std::vector<double> row_major_f64(const Table& df, const std::vector<std::string>& cols, const std::string& what);

/// \brief As row_major_f64, rounded to float32 (numpy .astype(np.float32)).
std::vector<float> row_major_f32(const Table& df, const std::vector<std::string>& cols, const std::string& what);

/// \brief The first value of a string column, or "" when the column is absent or empty.
std::string first_string(const Table& df, const char* column);

/// \brief A templates artifact: column names and a row-major float64 matrix.
struct TemplateMatrix {
  std::vector<std::string> columns;
  std::vector<double> values;  ///< rows x columns.size()
  std::size_t rows = 0;
};

/// \brief Read a parquet templates artifact with a ParquetLoadSpec (`columns`, `drop_columns`,
/// `numeric_only`; `transpose` and `frame_column` are not supported and refused when set).
TemplateMatrix load_templates_artifact(const std::filesystem::path& path, const Json& load_spec);

/// \brief PoolConfig (size, allocation, max_entry_fraction), shared by both template extractors.
std::shared_ptr<const ParamSchema> pool_config_schema();

/// \brief Write a JSON document atomically (indent 2).
void write_json_file(const std::filesystem::path& path, const Json& doc);
/// \brief Read a JSON document (IoError naming the file when it cannot be read or parsed).
Json read_json_file(const std::filesystem::path& path);

/// \brief The templates file a fit reads, or empty when the run has no templates artifact.
/// DECISIONS F9: a templates ArtifactSpec left at the generic pattern "*.parquet" means the
/// producer's declared templates.parquet, not the alphabetically first parquet of its run.
std::filesystem::path templates_artifact_path(const Json& templates_param, const ArtifactPaths& artifacts);

/// \brief The folder of the fitted run a `model` param names: the model artifact's folder when
/// the runner resolved one, else features/<model.feature>/<model.run_id> (the storage's latest
/// run when run_id is unset). Throws StateError naming `feature_name` and the expected files
/// when one of `required_files` is not there (the reference's joblib pickles are never read).
std::filesystem::path fitted_model_dir(const std::string& feature_name, const Json& model, const ArtifactPaths& artifacts,
                                       const std::filesystem::path& features_root,
                                       const std::vector<std::string>& required_files);

}  // namespace mosaic::features
