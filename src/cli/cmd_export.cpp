// mosaic export DIR STORAGE[:RUN_ID] OUT.csv|OUT.parquet: every entry of a run in one table,
// with group and sequence columns (CSV floats with 17 significant digits).
#include <fmt/format.h>

#include <cstdio>

#include "cli/cli_registry.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/parquet.hpp"

namespace fs = std::filesystem;

namespace mosaic::cli {
namespace {

class ExportCommand final : public Command {
 public:
  explicit ExportCommand(CLI::App& app) {
    sub_ = app.add_subcommand("export", "Export all entries of a feature run to one CSV or Parquet file");
    sub_->add_option("dir", dir_, "Dataset folder or manifest")->required();
    sub_->add_option("run", run_, "STORAGE or STORAGE:RUN_ID (default: the latest run)")->required();
    sub_->add_option("out", out_, "Output file (.csv or .parquet)")->required();
  }
  int run() override {
    Dataset ds = Dataset::open(dir_);
    std::string storage = run_, run_id;
    if (auto c = run_.rfind(':'); c != std::string::npos) {
      storage = run_.substr(0, c);
      run_id = run_.substr(c + 1);
    }
    fs::path index_path = ds.root("features") / storage / "index.csv";
    if (run_id.empty()) run_id = FeatureIndex(index_path).latest_run_id();
    auto entries = index_entries(index_path, run_id, ds.base_dir(), ds.root("features") / storage / run_id, true);
    std::vector<Table> parts;
    for (const auto& e : entries) {
      Table t = read_parquet(e.path);
      if (t.num_columns() == 0) continue;
      // Group and sequence first when the feature did not write them itself.
      Table out;
      if (!t.has_column("group")) out.add_column("group", Column::constant_string(e.group, t.num_rows()));
      if (!t.has_column("sequence")) out.add_column("sequence", Column::constant_string(e.sequence, t.num_rows()));
      for (std::size_t c = 0; c < t.num_columns(); ++c) out.add_column(t.column_names()[c], t.shared_column(c));
      if (!parts.empty() && parts.front().column_names() != out.column_names())
        throw SchemaError(fmt::format("{}: entry ({}, {}) has columns [{}], the first entry [{}]; cannot export them as "
                                      "one table",
                                      e.path.string(), e.group, e.sequence, join_names(out.column_names()),
                                      join_names(parts.front().column_names())));
      parts.push_back(std::move(out));
    }
    Table all = Table::concat(parts);
    std::string ext = fs::path(out_).extension().string();
    if (ext == ".csv") write_csv(all, out_);
    else if (ext == ".parquet") write_parquet(all, out_);
    else throw InputError(fmt::format("{}: the output must end in .csv or .parquet", out_));
    std::printf("exported %zu rows of %s:%s (%zu entries) -> %s\n", all.num_rows(), storage.c_str(), run_id.c_str(),
                parts.size(), out_.c_str());
    return 0;
  }

 private:
  std::string dir_, run_, out_;
};

}  // namespace
MOSAIC_REGISTER_COMMAND(ExportCommand);
}  // namespace mosaic::cli
