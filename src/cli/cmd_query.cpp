// mosaic query DIR "SQL" [--json|--csv]: DuckDB over the dataset; each feature storage's current
// run is a view named after the storage, and `tracks` holds the track tables.
#include <fmt/format.h>

#include <cstdio>

#include "cli/cli_registry.hpp"
#include "cli/cli_util.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/json.hpp"
#include "mosaic/sql.hpp"

namespace mosaic::cli {
namespace {

std::string text_of(const Json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{:.10g}", v.get<double>());
  return v.dump();
}

class QueryCommand final : public Command {
 public:
  explicit QueryCommand(CLI::App& app) {
    sub_ = app.add_subcommand("query", "Run SQL over the dataset (views: tracks and every feature storage)");
    sub_->add_option("dir", dir_, "Dataset folder or manifest")->required();
    sub_->add_option("sql", sql_, "SQL; quote storage names: \"speed-angvel__from__tracks\"")->required();
    auto* fmt_json = sub_->add_flag("--json", json_, "Print JSON (a list of row objects)");
    sub_->add_flag("--csv", csv_, "Print CSV")->excludes(fmt_json);
  }
  int run() override {
    Dataset ds = Dataset::open(dir_);
    SqlResult r = query_dataset(ds, sql_);
    if (json_) {
      Json arr = Json::array();
      for (const auto& row : r.rows) {
        Json o = Json::object();
        for (std::size_t c = 0; c < r.columns.size(); ++c) o[r.columns[c]] = row[c];
        arr.push_back(o);
      }
      print_json(arr);
    } else if (csv_) {
      std::string line;
      for (std::size_t c = 0; c < r.columns.size(); ++c) line += (c ? "," : "") + csv_quote(r.columns[c]);
      std::printf("%s\n", line.c_str());
      for (const auto& row : r.rows) {
        line.clear();
        for (std::size_t c = 0; c < row.size(); ++c) {
          std::string cell = row[c].is_number_float() ? python_float_repr(row[c].get<double>()) : text_of(row[c]);
          line += (c ? "," : "") + csv_quote(cell);
        }
        std::printf("%s\n", line.c_str());
      }
    } else {
      std::vector<std::vector<std::string>> rows;
      for (const auto& row : r.rows) {
        std::vector<std::string> cells;
        for (const auto& v : row) cells.push_back(text_of(v));
        rows.push_back(std::move(cells));
      }
      print_table(r.columns, rows);
      std::printf("(%zu row%s)\n", r.rows.size(), r.rows.size() == 1 ? "" : "s");
    }
    return 0;
  }

 private:
  std::string dir_, sql_;
  bool json_ = false, csv_ = false;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(QueryCommand);
}  // namespace mosaic::cli
