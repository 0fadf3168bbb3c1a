// sql.hpp: SQL over a dataset's results, through DuckDB.
//
// Every feature storage's current (latest) run is a view named after its storage name, and the
// track tables are the view `tracks`, so questions across features are one query:
//
//   SqlResult r = query_dataset(ds, R"(SELECT s.sequence, avg(s.speed) FROM "speed-angvel__from__tracks" s
//                                      GROUP BY 1 ORDER BY 1)");
#pragma once

#include <string>
#include <vector>

#include "mosaic/dataset.hpp"
#include "mosaic/json.hpp"

namespace mosaic {

struct SqlResult {
  std::vector<std::string> columns;
  std::vector<std::string> types;          ///< DuckDB type names
  std::vector<std::vector<Json>> rows;     ///< numbers, strings, booleans or null
  std::vector<std::string> views;          ///< the views that were defined
};

/// \brief Run `sql` with the dataset's views defined. Throws IoError with DuckDB's message
/// (and the list of views when a table is not found).
SqlResult query_dataset(const Dataset& dataset, const std::string& sql);

}  // namespace mosaic
