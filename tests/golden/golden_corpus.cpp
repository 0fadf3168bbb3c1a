#include "golden/golden_corpus.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <set>
#include <sstream>

#include "mosaic/csv.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/run_id.hpp"

namespace mosaic::golden {

fs::path golden_root() {
  fs::path p = fs::path(MOSAIC_SOURCE_DIR) / ".." / "shared" / "golden";
  if (const char* env = std::getenv("MOSAIC_SHARED_DIR")) p = fs::path(env) / "golden";
  return fs::exists(p) ? fs::weakly_canonical(p) : fs::path();
}

namespace {

TextCsv rows_of(const fs::path& csv_path);

TextCsv rebuild(const fs::path& pointer) {
  Json j = python_json_loads(read_file_text(pointer));
  fs::path d = pointer.parent_path();
  std::string name = pointer.filename().string();
  if (name.size() > 18 && name.compare(name.size() - 18, 18, ".identical_to.json") == 0)
    return rows_of(d / j["identical_to"].get<std::string>());
  if (j.contains("added_columns_file")) {
    TextCsv base = rows_of(d / j["base"].get<std::string>());
    TextCsv add = TextCsv::read(d / j["added_columns_file"].get<std::string>());
    TextCsv out;
    std::vector<std::size_t> idx;
    if (j.contains("base_columns") && j["base_columns"].is_array() && !j["base_columns"].empty()) {
      for (const auto& c : j["base_columns"]) idx.push_back(*base.column_index(c.get<std::string>()));
    } else {
      for (std::size_t i = 0; i < base.header.size(); ++i) idx.push_back(i);
    }
    for (std::size_t i : idx) out.header.push_back(base.header[i]);
    for (const auto& h : add.header) out.header.push_back(h);
    for (std::size_t r = 0; r < base.rows.size() && r < add.rows.size(); ++r) {
      std::vector<std::string> row;
      for (std::size_t i : idx) row.push_back(i < base.rows[r].size() ? base.rows[r][i] : "");
      for (std::size_t c = 0; c < add.header.size(); ++c) row.push_back(c < add.rows[r].size() ? add.rows[r][c] : "");
      out.rows.push_back(std::move(row));
    }
    return out;
  }
  if (j.contains("merge_index_file")) {
    TextCsv left = rows_of(d / j["left"].get<std::string>());
    TextCsv right = rows_of(d / j["right"].get<std::string>());
    std::set<std::string> keys;
    for (const auto& k : j["join_keys"]) keys.insert(k.get<std::string>());
    std::vector<std::size_t> keep;
    for (std::size_t i = 0; i < right.header.size(); ++i)
      if (!keys.count(right.header[i])) keep.push_back(i);
    TextCsv idx = TextCsv::read(d / j["merge_index_file"].get<std::string>());
    TextCsv out;
    for (const auto& h : j["header"]) out.header.push_back(h.get<std::string>());
    for (const auto& pair : idx.rows) {
      std::size_t a = std::stoul(pair[0]), b = std::stoul(pair[1]);
      std::vector<std::string> row = left.rows[a];
      row.resize(left.header.size());
      for (std::size_t k : keep) row.push_back(k < right.rows[b].size() ? right.rows[b][k] : "");
      out.rows.push_back(std::move(row));
    }
    return out;
  }
  throw IoError(fmt::format("{}: unknown pointer file", pointer.string()));
}

TextCsv rows_of(const fs::path& csv_path) {
  if (fs::exists(csv_path)) return TextCsv::read(csv_path);
  for (const char* suffix : {".identical_to.json", ".derived_from.json"}) {
    fs::path ptr = csv_path.string() + suffix;
    if (fs::exists(ptr)) return rebuild(ptr);
  }
  throw IoError(fmt::format("{}: golden CSV not found (nor a pointer to it)", csv_path.string()));
}

double parse_double(const std::string& s) {
  if (s.empty()) return std::nan("");
  if (s == "inf") return INFINITY;
  if (s == "-inf") return -INFINITY;
  if (s == "nan" || s == "NaN") return std::nan("");
  return std::stod(s);
}

Column column_from_cells(const std::vector<std::string>& cells, const std::string& dtype) {
  std::size_t n = cells.size();
  if (dtype == "float64") {
    std::vector<double> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = parse_double(cells[i]);
    return Column::from_float64(std::move(v));
  }
  if (dtype == "float32") {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(parse_double(cells[i]));
    return Column::from_float32(std::move(v));
  }
  if (dtype == "int64" || dtype == "Int64" || dtype == "int32" || dtype == "int8" || dtype == "Int32" || dtype == "Int8") {
    std::vector<int64_t> v(n);
    std::vector<uint8_t> valid(n, 1);
    for (std::size_t i = 0; i < n; ++i) {
      if (cells[i].empty()) valid[i] = 0;
      else v[i] = static_cast<int64_t>(std::stoll(cells[i]));
    }
    Column c = Column::from_int64(std::move(v), std::move(valid));
    if (dtype == "int32" || dtype == "Int32") return c.cast(DType::kInt32);
    if (dtype == "int8" || dtype == "Int8") return c.cast(DType::kInt8);
    return c;
  }
  if (dtype == "bool" || dtype == "boolean") {
    std::vector<uint8_t> v(n), valid(n, 1);
    for (std::size_t i = 0; i < n; ++i) {
      if (cells[i].empty()) valid[i] = 0;
      v[i] = cells[i] == "True";
    }
    return Column::from_bool(std::move(v), std::move(valid));
  }
  return Column::from_strings(cells);
}

}  // namespace

std::string csv_text(const fs::path& csv_path) { return rows_of(csv_path).format(); }

Table read_table(const fs::path& csv_path) {
  TextCsv csv = rows_of(csv_path);
  fs::path meta_path = csv_path.parent_path() / (csv_path.stem().string() + ".meta.json");
  Table t;
  if (!fs::exists(meta_path)) {
    std::string text = csv.format();
    return parse_csv(text, csv_path.string());
  }
  Json meta = python_json_loads(read_file_text(meta_path));
  std::vector<std::string> columns;
  for (const auto& c : meta["columns"]) columns.push_back(c.get<std::string>());
  if (columns.empty()) {
    t.set_num_rows_without_columns(meta.value("n_rows", 0));
    return t;
  }
  if (csv.header != columns)
    throw IoError(fmt::format("{}: header [{}] differs from meta.json [{}]", csv_path.string(), join_names(csv.header),
                              join_names(columns)));
  for (std::size_t c = 0; c < columns.size(); ++c) {
    std::vector<std::string> cells(csv.rows.size());
    for (std::size_t r = 0; r < csv.rows.size(); ++r) cells[r] = c < csv.rows[r].size() ? csv.rows[r][c] : "";
    t.add_column(columns[c], column_from_cells(cells, meta["dtypes"][columns[c]].get<std::string>()));
  }
  return t;
}

std::vector<Case> find_cases(const std::string& feature, bool prefer_fixed) {
  std::vector<Case> out;
  fs::path root = golden_root();
  if (root.empty()) return out;
  std::vector<fs::path> datasets;
  for (const auto& d : fs::directory_iterator(root))
    if (d.is_directory()) datasets.push_back(d.path());
  std::sort(datasets.begin(), datasets.end());
  for (const auto& ds : datasets) {
    fs::path fdir = ds / feature;
    if (!fs::is_directory(fdir)) continue;
    std::vector<fs::path> variants;
    for (const auto& v : fs::directory_iterator(fdir))
      if (v.is_directory()) variants.push_back(v.path());
    std::sort(variants.begin(), variants.end());
    for (const auto& v : variants) {
      fs::path pick = prefer_fixed && fs::exists(v / "fixed" / "run_info.json") ? v / "fixed" : v / "upstream";
      if (!fs::exists(pick / "run_info.json")) continue;
      Case c;
      c.dir = pick;
      c.dataset = ds.filename().string();
      c.feature = feature;
      c.variant = v.filename().string();
      c.flavour = pick.filename().string();
      c.run_info = python_json_loads(read_file_text(pick / "run_info.json"));
      out.push_back(std::move(c));
    }
  }
  return out;
}

namespace {

std::pair<std::string, std::string> split_key(const Json& run_info, const std::string& key) {
  for (const auto& e : run_info["entries"])
    if (e["entry_key"] == key) return {e["group"].get<std::string>(), e["sequence"].get<std::string>()};
  return {"", key};
}

// Write golden per-entry outputs as a finished feature run.
void write_run(const Dataset& ds, const std::string& storage, const std::string& run_id,
               const std::vector<std::tuple<std::string, std::string, fs::path>>& entries) {
  fs::path run_root = ds.root("features") / storage / run_id;
  make_dirs(run_root);
  FeatureIndex index(ds.root("features") / storage / "index.csv");
  std::vector<FeatureIndexRow> rows;
  for (const auto& [g, s, csv] : entries) {
    fs::path out = run_root / (make_entry_key(g, s) + ".parquet");
    Table t = read_table(csv);
    write_parquet(t, out);
    rows.push_back({out.string(), run_id, now_iso(), "", storage, run_id.substr(0, run_id.rfind('-')), g, s,
                    run_id.substr(run_id.rfind('-') + 1), std::to_string(t.num_rows())});
  }
  index.append_rows(rows);
  index.mark_finished(run_id);
}

}  // namespace

Replay prepare_replay(const Case& c, const fs::path& workdir) {
  fs::path root = golden_root();
  const Json& ri = c.run_info;
  Replay r{workdir / "ds", Dataset::create(workdir / "ds", {.name = c.dataset, .fps = 30.0}), Inputs(), Json(), RunOptions()};
  Dataset& ds = r.dataset;
  std::vector<InputItem> items;
  for (const auto& in : ri["inputs"]) {
    fs::path dir = root / in["dir"].get<std::string>();
    if (in["kind"] == "tracks") {
      for (const auto& e : ri["entries"]) {
        std::string key = e["entry_key"].get<std::string>();
        fs::path csv = dir / (key + ".csv");
        Table t;
        if (fs::exists(dir / (key + ".meta.json"))) {
          t = read_table(csv);
        } else {
          CsvReadOptions opt;
          opt.dtypes = {{"frame", DType::kInt64}, {"id", DType::kInt64}};
          t = parse_csv(csv_text(csv), csv.string(), opt);
        }
        t.drop_column("group");
        t.drop_column("sequence");
        ds.write_tracks(e["group"].get<std::string>(), e["sequence"].get<std::string>(), t, {});
      }
      items.emplace_back(std::monostate{});
    } else {
      std::string storage = in["feature"].get<std::string>();
      std::string run_id = in["run_id"].get<std::string>();
      std::vector<std::tuple<std::string, std::string, fs::path>> entries;
      for (const auto& e : ri["entries"]) {
        std::string key = e["entry_key"].get<std::string>();
        entries.emplace_back(e["group"].get<std::string>(), e["sequence"].get<std::string>(), dir / (key + ".csv"));
      }
      write_run(ds, storage, run_id, entries);
      items.emplace_back(Result{storage, run_id});
    }
  }
  r.inputs = Inputs(std::move(items));
  r.params = ri["params_in"];
  // Result-typed links: per-entry outputs of another golden case.
  if (ri.contains("dependency_lookups")) {
    for (auto it = ri["dependency_lookups"].begin(); it != ri["dependency_lookups"].end(); ++it) {
      const Json& ref = r.params.contains(it.key()) ? r.params[it.key()] : Json();
      if (!ref.is_object() || !ref.contains("feature") || !ref.contains("run_id")) continue;
      std::vector<std::tuple<std::string, std::string, fs::path>> entries;
      for (auto e = it.value().begin(); e != it.value().end(); ++e) {
        auto [g, s] = split_key(ri, e.key());
        entries.emplace_back(g, s, root / e.value().get<std::string>());
      }
      write_run(ds, ref["feature"].get<std::string>(), ref["run_id"].get<std::string>(), entries);
    }
  }
  // Artifact links: the producer's exported state file becomes the artifact in its run folder.
  if (ri.contains("artifact_paths")) {
    for (auto it = ri["artifact_paths"].begin(); it != ri["artifact_paths"].end(); ++it) {
      const Json& ref = r.params[it.key()];
      fs::path src = root / it.value().get<std::string>();  // .../state/<name>
      fs::path exported = src.parent_path() / "export" / (src.filename().string() + ".csv");
      fs::path run_root = ds.root("features") / ref["feature"].get<std::string>() / ref["run_id"].get<std::string>();
      make_dirs(run_root);
      if (src.extension() == ".parquet") write_parquet(read_table(exported), run_root / src.filename());
    }
  }
  // Labels: copy each kind's files and write an index with paths inside the dataset.
  if (ri.contains("labels_dirs")) {
    for (auto it = ri["labels_dirs"].begin(); it != ri["labels_dirs"].end(); ++it) {
      fs::path src = root / it.value().get<std::string>();
      fs::path dst = ds.root("labels") / it.key();
      make_dirs(dst);
      TextCsv idx = TextCsv::read(src / "index.csv");
      for (std::size_t row = 0; row < idx.rows.size(); ++row) {
        fs::path file = fs::path(std::string(idx.cell(row, "abs_path"))).filename();
        fs::copy_file(src / file, dst / file, fs::copy_options::overwrite_existing);
        idx.rows[row][*idx.column_index("abs_path")] = ds.relative_to_base(dst / file);
      }
      idx.write_atomic(dst / "index.csv");
    }
  }
  const Json& range = ri["hashed_payload"]["_frame_range"];
  if (range[0].is_number()) r.options.start_frame = range[0].get<int64_t>();
  if (range[1].is_number()) r.options.end_frame = range[1].get<int64_t>();
  r.options.log = false;
  r.options.no_registry = true;
  return r;
}

namespace {

std::string cell_text(const Column& c, std::size_t r) {
  if (c.is_null(r)) return "NaN";
  if (c.type() == DType::kString) return std::string(c.str(r));
  return fmt::format("{}", c.as_double(r));
}

}  // namespace

std::string compare_tables(const Table& ours_in, const Table& golden_in, const CompareOptions& o) {
  std::ostringstream rep;
  if (ours_in.column_names() != golden_in.column_names()) {
    rep << "columns differ:\n  ours:   [" << join_names(ours_in.column_names()) << "]\n  golden: ["
        << join_names(golden_in.column_names()) << "]\n";
    return rep.str();
  }
  auto dtype_exempt = [&](const std::string& name) {
    for (const auto& p : o.dtype_exempt) {
      if ((!p.empty() && p.back() == '*') ? name.rfind(p.substr(0, p.size() - 1), 0) == 0 : name == p) return true;
    }
    return false;
  };
  if (o.check_dtypes) {
    for (std::size_t c = 0; c < ours_in.num_columns(); ++c)
      if (ours_in.column(c).type() != golden_in.column(c).type() && ours_in.num_rows() > 0 &&
          !dtype_exempt(ours_in.column_names()[c]))
        rep << "dtype of '" << ours_in.column_names()[c] << "': ours " << dtype_name(ours_in.column(c).type()) << ", golden "
            << dtype_name(golden_in.column(c).type()) << "\n";
  }
  if (ours_in.num_rows() != golden_in.num_rows()) {
    rep << "row count: ours " << ours_in.num_rows() << ", golden " << golden_in.num_rows() << "\n";
    return rep.str();
  }
  Table ours = o.keys.empty() ? ours_in : ours_in.sort_by(o.keys);
  Table golden = o.keys.empty() ? golden_in : golden_in.sort_by(o.keys);
  auto key_text = [&](std::size_t r) {
    std::string s;
    for (const auto& k : o.keys) s += k + "=" + cell_text(golden.column(k), r) + " ";
    return s.empty() ? fmt::format("row {}", r) : s;
  };
  for (std::size_t c = 0; c < ours.num_columns(); ++c) {
    const std::string& name = ours.column_names()[c];
    if (std::find(o.ignore.begin(), o.ignore.end(), name) != o.ignore.end()) continue;
    const Column& a = ours.column(c);
    const Column& b = golden.column(c);
    std::size_t mismatches = 0;
    double max_abs = 0, max_rel = 0;
    std::ostringstream first;
    bool partition = std::find(o.as_partition.begin(), o.as_partition.end(), name) != o.as_partition.end();
    if (partition) {
      // Same partition: a bijection between our labels and the golden labels.
      std::map<std::string, std::string> fwd, back;
      for (std::size_t r = 0; r < ours.num_rows(); ++r) {
        std::string x = cell_text(a, r), y = cell_text(b, r);
        auto [i1, n1] = fwd.emplace(x, y);
        auto [i2, n2] = back.emplace(y, x);
        if (i1->second != y || i2->second != x) {
          if (mismatches < 10) first << "    " << key_text(r) << "ours " << x << " golden " << y << "\n";
          ++mismatches;
        }
      }
    } else if (a.type() == DType::kString || b.type() == DType::kString) {
      for (std::size_t r = 0; r < ours.num_rows(); ++r) {
        bool eq = (a.type() == DType::kString && b.type() == DType::kString) ? (a.is_null(r) == b.is_null(r) && a.str(r) == b.str(r))
                                                                             : cell_text(a, r) == cell_text(b, r);
        if (!eq) {
          if (mismatches < 10) first << "    " << key_text(r) << "ours '" << cell_text(a, r) << "' golden '" << cell_text(b, r) << "'\n";
          ++mismatches;
        }
      }
    } else {
      bool f32 = a.type() == DType::kFloat32 || b.type() == DType::kFloat32;
      double rtol = f32 ? o.rtol_float32 : o.rtol, atol = f32 ? o.atol_float32 : o.atol;
      bool sign_free = std::find(o.up_to_sign.begin(), o.up_to_sign.end(), name) != o.up_to_sign.end();
      double sign = 1;
      if (sign_free) {
        // Decide the sign from the largest golden value.
        double best = 0;
        for (std::size_t r = 0; r < ours.num_rows(); ++r) {
          double x = a.as_double(r), y = b.as_double(r);
          if (std::isfinite(x) && std::isfinite(y) && std::fabs(y) > best) {
            best = std::fabs(y);
            sign = (x * y < 0) ? -1 : 1;
          }
        }
      }
      for (std::size_t r = 0; r < ours.num_rows(); ++r) {
        double x = sign * a.as_double(r), y = b.as_double(r);
        bool eq;
        if (std::isnan(x) || std::isnan(y)) eq = std::isnan(x) && std::isnan(y);
        else if (std::isinf(x) || std::isinf(y)) eq = x == y;
        else {
          double d = std::fabs(x - y);
          eq = d <= atol + rtol * std::fabs(y);
          max_abs = std::max(max_abs, d);
          if (y != 0) max_rel = std::max(max_rel, d / std::fabs(y));
        }
        if (!eq) {
          if (mismatches < 10)
            first << "    " << key_text(r) << fmt::format("ours {:.17g} golden {:.17g}", x, y) << "\n";
          ++mismatches;
        }
      }
    }
    if (mismatches)
      rep << "column '" << name << "': " << mismatches << " of " << ours.num_rows() << " rows differ (max abs "
          << max_abs << ", max rel " << max_rel << ")\n"
          << first.str();
  }
  return rep.str();
}

}  // namespace mosaic::golden
