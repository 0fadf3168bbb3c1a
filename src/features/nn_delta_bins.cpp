// nn-delta-bins: bin the nearest-neighbour responses of nn-delta-response (turn = dangle, speed
// change = dspeed) over the neighbour's ego-frame position, per focal category, group size and
// neighbour category (features.md §2.12). Input is a tracks table holding nn-delta-response's
// columns (§4.17: the reference accepts only tracks).
//
// Kept as in the reference: 1-D bins use numpy.digitize on linspace(-binmax, binmax, nbins), so
// there are nbins - 1 of them and values on the right edge fall out; 2-D bins are
// numpy.histogram2d with nbins - 1 x bins and nbins y bins (right edge inclusive). Sums follow the
// input row order (np.bincount), originals before their mirrored copies.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <optional>
#include <variant>

#include "features/feature_base.hpp"
#include "features/kernels/binning.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const FeatureInfo kInfo{.name = "nn-delta-bins",
                        .version = "0.1",
                        .summary = "Bin nearest-neighbour turn and speed responses over the neighbour's ego-frame position (1-D means, 2-D sums and counts).",
                        .category = "summary",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "NearestNeighborDeltaBins"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "NearestNeighborDeltaBinsParams",
      {param_int("nbins", 45, "Number of bin edges on [-binmax, binmax] (1-D: nbins - 1 bins; 2-D: nbins - 1 x nbins).")
           .greater_than(0),
       param_float("binmax", 14.0, "Largest absolute neighbour offset binned.").greater_than(0),
       param_float("max_for_avg", 5.0,
                   "1-D turn uses neighbours with 0 <= neighbor_x <= this; speed uses |neighbor_y| <= this / 2.")
           .greater_than(0),
       param_bool("antisymm", true, "Mirror the turn data (neighbor_y -> -neighbor_y, dangle -> -dangle)."),
       param_str("focal_category_col", "Focal_fish", "Column with the focal animal's category."),
       param_str("neighbor_category_col", "neighbor_focal", "Column with the neighbour's category."),
       param_str("group_size_col", "group_size", "Column with the group size (rows are produced per size)."),
       param_str("exp_col", "Exp", "Experiment column copied into the output (first row's value; '' when absent)."),
       param_str("trial_col", "Trial", "Trial column copied into the output (first row's value; '' when absent)."),
       param("category_specs", ParamType::list(ParamType::any()), Json::array(),
             "Derived boolean categories: {source_col, new_col, quantile (0.75), op ('>' or '<=')}."),
       param("exclude_cols", ParamType::list(ParamType::string()), Json::array(),
             "Boolean columns whose truthy rows are dropped first (e.g. bad_frame)."),
       param_str("nonfocal_flag_col", "Focal_fish",
                 "Without a focal column: only rows whose flag equals nonfocal_flag_value are binned."),
       param_bool("nonfocal_flag_value", false, "The flag value of non-focal animals.")}};
  return schema;
}

bool truthy(const Column& c, std::size_t r) {
  if (c.is_null(r)) return false;
  if (c.type() == DType::kString) return !c.str(r).empty();
  return c.as_double(r) != 0;
}

// Python repr of a float as str() prints it ("2.0", "2.5", "1e+16").
std::string py_float_str(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

// One grouping column: every row's code (rank of its value among the sorted distinct values,
// missing last, as groupby(dropna=False, sort=True) orders groups) and the value of each code.
struct KeyColumn {
  std::vector<std::size_t> code;
  std::size_t n_codes = 0;
  bool has_missing = false;      // the last code is the missing value
  bool is_string = false;
  DType type = DType::kFloat64;
  std::vector<double> num;       // per code (numeric)
  std::vector<std::string> str;  // per code (string)

  KeyColumn(const Column& c, const std::vector<std::size_t>& rows) : code(rows.size()), type(c.type()) {
    is_string = c.type() == DType::kString;
    if (is_string) {
      std::map<std::string, std::size_t> distinct;
      for (std::size_t r : rows)
        if (!c.is_null(r)) distinct.emplace(std::string(c.str(r)), 0);
      std::size_t k = 0;
      for (auto& [v, idx] : distinct) {
        idx = k++;
        str.push_back(v);
      }
      n_codes = k;
      for (std::size_t i = 0; i < rows.size(); ++i) {
        if (c.is_null(rows[i])) {
          has_missing = true;
          code[i] = k;
        } else {
          code[i] = distinct[std::string(c.str(rows[i]))];
        }
      }
    } else {
      std::vector<double> v;
      for (std::size_t r : rows)
        if (!c.is_null(r)) v.push_back(c.as_double(r));
      std::sort(v.begin(), v.end());
      v.erase(std::unique(v.begin(), v.end()), v.end());
      num = v;
      n_codes = v.size();
      for (std::size_t i = 0; i < rows.size(); ++i) {
        if (c.is_null(rows[i])) {
          has_missing = true;
          code[i] = n_codes;
        } else {
          code[i] = static_cast<std::size_t>(std::lower_bound(v.begin(), v.end(), c.as_double(rows[i])) - v.begin());
        }
      }
    }
    if (has_missing) {
      num.push_back(kNaN);
      str.emplace_back();
    }
  }
  std::size_t codes() const { return n_codes + (has_missing ? 1 : 0); }
  bool missing(std::size_t k) const { return has_missing && k == n_codes; }
};

// A category as the reference cleans it: None (missing), an integer, a float or a string.
struct Category {
  enum class Kind { kNone, kInt, kFloat, kString } kind = Kind::kNone;
  int64_t i = 0;
  double f = 0;
  std::string s;
};

// _clean_cat / _clean_neighbor: bools and ints become ints, floats 0.0/1.0 become ints.
Category clean_category(const KeyColumn& k, std::size_t code) {
  Category c;
  if (k.missing(code)) return c;
  if (k.is_string) {
    c.kind = Category::Kind::kString;
    c.s = k.str[code];
    return c;
  }
  const double v = k.num[code];
  if (is_integer(k.type) || k.type == DType::kBool || v == 0.0 || v == 1.0) {
    c.kind = Category::Kind::kInt;
    c.i = static_cast<int64_t>(v);
  } else {
    c.kind = Category::Kind::kFloat;
    c.f = v;
  }
  return c;
}

// The output's scalar cells that copy a value from the input (Exp, Trial, group, sequence).
struct Cell {
  DType type = DType::kString;
  std::string s;
  double v = kNaN;
  bool null = false;
};

Cell first_cell(const Table& df, const std::string& col, std::size_t row) {
  Cell c;
  if (!df.has_column(col)) return c;  // "" string
  const Column& src = df.column(col);
  c.type = src.type() == DType::kFloat32 ? DType::kFloat64 : src.type();
  c.null = src.is_null(row);
  if (src.type() == DType::kString) c.s = std::string(src.str(row));
  else if (!c.null) c.v = src.as_double(row);
  return c;
}

Column repeat(const Cell& c, std::size_t rows) {
  if (c.type == DType::kString) {
    if (c.null) return Column::nulls(DType::kString, rows);
    return Column::constant_string(c.s, rows);
  }
  if (c.null) return Column::nulls(c.type, rows);
  if (c.type == DType::kFloat64) return Column::constant_float64(c.v, rows);
  Column i = Column::constant_int64(static_cast<int64_t>(c.v), rows);
  return c.type == DType::kInt64 ? i : i.cast(c.type);
}

class NearestNeighborDeltaBins final : public StatelessFeature<NearestNeighborDeltaBins> {
 public:
  NearestNeighborDeltaBins(Inputs inputs, Json params) : StatelessFeature(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    nbins_ = static_cast<std::size_t>(p["nbins"].get<int64_t>());
    binmax_ = p["binmax"].get<double>();
    max_for_avg_ = p["max_for_avg"].get<double>();
    antisymm_ = p["antisymm"].get<bool>();
    focal_col_ = p["focal_category_col"].get<std::string>();
    neighbor_col_ = p["neighbor_category_col"].get<std::string>();
    gs_col_ = p["group_size_col"].get<std::string>();
    exp_col_ = p["exp_col"].get<std::string>();
    trial_col_ = p["trial_col"].get<std::string>();
    specs_ = p["category_specs"];
    for (const auto& c : p["exclude_cols"]) exclude_.push_back(c.get<std::string>());
    nf_col_ = p["nonfocal_flag_col"].get<std::string>();
    nf_value_ = p["nonfocal_flag_value"].get<bool>();
    for (const auto& spec : specs_)
      if (!spec.is_object())
        throw InputError(fmt::format("nn-delta-bins: category_specs entries must be mappings, got {}", spec.dump()));
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  Table apply(const Table& input) const override {
    if (input.num_rows() == 0) return Table();
    Table df = input;
    if (!exclude_.empty()) {
      std::vector<uint8_t> keep(df.num_rows(), 1);
      bool any = false;
      for (const auto& c : exclude_)
        if (df.has_column(c)) {
          any = true;
          for (std::size_t r = 0; r < df.num_rows(); ++r)
            if (truthy(df.column(c), r)) keep[r] = 0;
        }
      if (any) df = df.filter(keep);
      if (df.num_rows() == 0) return Table();
    }
    for (const std::string& base : {focal_col_, neighbor_col_, gs_col_})
      if (!base.empty()) coalesce(df, base);
    static const char* kRequired[] = {"neighbor_x", "neighbor_y", "dangle", "dspeed"};
    for (const char* c : kRequired) {
      if (!df.has_column(c)) throw SchemaError::missing_column("nn-delta-bins input", c, df.column_names());
      if (!is_numeric(df.column(c).type()))
        throw SchemaError::wrong_type("nn-delta-bins input", c, "numbers", dtype_name(df.column(c).type()));
    }
    {
      // Only the columns the binning reads travel through the row filter (a tracks table can be wide).
      std::vector<std::string> used;
      auto use = [&](const std::string& c) {
        if (!c.empty() && df.has_column(c) && std::find(used.begin(), used.end(), c) == used.end()) used.push_back(c);
      };
      for (const char* c : kRequired) use(c);
      for (const std::string& c : {focal_col_, neighbor_col_, gs_col_, exp_col_, trial_col_, nf_col_,
                                   std::string("group"), std::string("sequence")})
        use(c);
      for (const auto& spec : specs_)
        if (spec.contains("source_col") && spec["source_col"].is_string()) use(spec["source_col"].get<std::string>());
      std::vector<uint8_t> keep(df.num_rows(), 1);
      for (const char* c : kRequired) {
        const Column& col = df.column(c);
        if (!col.has_nulls()) continue;
        for (std::size_t r = 0; r < df.num_rows(); ++r)
          if (col.is_null(r)) keep[r] = 0;
      }
      df = df.select(used).filter(keep);
      if (df.num_rows() == 0) return Table();
    }
    for (const auto& spec : specs_) add_category(df, spec);

    State s;
    s.edges.resize(nbins_);
    kernels::linspace(-binmax_, binmax_, nbins_, s.edges);
    s.xedges = s.edges;
    s.yedges.resize(nbins_ + 1);
    kernels::linspace(-binmax_, binmax_, nbins_ + 1, s.yedges);
    s.nx = df.column("neighbor_x").cast(DType::kFloat64);
    s.ny = df.column("neighbor_y").cast(DType::kFloat64);
    s.dangle = df.column("dangle").cast(DType::kFloat64);
    s.dspeed = df.column("dspeed").cast(DType::kFloat64);
    s.exp = first_cell(df, exp_col_, 0);
    s.trial = first_cell(df, trial_col_, 0);
    const bool has_gs = df.has_column(gs_col_);
    if (has_gs) {
      const Column& g = df.column(gs_col_);
      if (g.type() == DType::kString) throw SchemaError::wrong_type("nn-delta-bins input", gs_col_, "numbers", "string");
    }

    std::vector<std::size_t> all(df.num_rows());
    for (std::size_t r = 0; r < all.size(); ++r) all[r] = r;
    const bool focal = !focal_col_.empty() && df.has_column(focal_col_);
    if (focal) {
      const KeyColumn fk(df.column(focal_col_), all);
      std::optional<KeyColumn> gk;
      if (has_gs) gk.emplace(df.column(gs_col_), all);
      for (const auto& [key, rows] : group_rows(fk, gk ? &*gk : nullptr, all)) {
        std::optional<double> gs;
        if (gk) {
          if (gk->missing(key.second)) continue;  // NaN is never in the group-size list
          gs = gk->num[key.second];
        }
        const Category centre = clean_category(fk, key.first);
        append_rows(s, rows, centre, std::nullopt, gs);
        if (df.has_column(neighbor_col_)) {
          const KeyColumn nk(df.column(neighbor_col_), rows);
          std::vector<std::vector<std::size_t>> by_neighbour(nk.codes());
          for (std::size_t i = 0; i < rows.size(); ++i) by_neighbour[nk.code[i]].push_back(rows[i]);
          for (std::size_t k = 0; k < by_neighbour.size(); ++k)
            if (!by_neighbour[k].empty()) append_rows(s, by_neighbour[k], centre, clean_category(nk, k), gs);
        }
      }
    } else {
      // Without a focal column, bin the non-focal animals per neighbour category.
      std::vector<std::size_t> rows;
      if (df.has_column(nf_col_)) {
        const Column& flag = df.column(nf_col_);
        for (std::size_t r : all)
          if (flag.type() != DType::kString && !flag.is_null(r) && flag.as_double(r) == (nf_value_ ? 1.0 : 0.0))
            rows.push_back(r);
      } else {
        rows = all;
      }
      if (df.has_column(neighbor_col_)) {
        const KeyColumn nk(df.column(neighbor_col_), rows);
        std::optional<KeyColumn> gk;
        if (has_gs) gk.emplace(df.column(gs_col_), rows);
        std::vector<std::size_t> local(rows.size());
        for (std::size_t i = 0; i < rows.size(); ++i) local[i] = i;
        for (const auto& [key, idx] : group_rows(nk, gk ? &*gk : nullptr, local)) {
          std::optional<double> gs;
          if (gk) {
            if (gk->missing(key.second)) continue;
            gs = gk->num[key.second];
          }
          std::vector<std::size_t> sub;
          for (std::size_t i : idx) sub.push_back(rows[i]);
          append_rows(s, sub, Category{}, clean_category(nk, key.first), gs);
        }
      }
    }
    if (s.dim.empty()) return Table();
    return s.table(df, gs_col_.empty() ? std::string("group_size") : gs_col_, exp_col_, trial_col_, has_gs);
  }

 private:
  struct State {
    std::vector<double> edges, xedges, yedges;
    Column nx, ny, dangle, dspeed;
    Cell exp, trial;
    // Output columns.
    std::vector<std::string> dim, metric, neighbour;
    std::vector<int64_t> centre;
    std::vector<uint8_t> centre_valid;
    std::vector<double> gs, bin_idx, value, bin_x, bin_y, sum_value, count;
    // Scratch.
    std::vector<double> xs, ys, ws, sums, means, sums2d, counts2d;
    std::vector<int64_t> counts;

    Table table(const Table& df, const std::string& gs_name, const std::string& exp_col, const std::string& trial_col,
                bool has_gs) const {
      const std::size_t n = dim.size();
      Table t;
      t.add_column("dim", Column::from_strings(dim));
      t.add_column(exp_col, repeat(exp, n));
      t.add_column(trial_col, repeat(trial, n));
      t.add_column("center_category", Column::from_int64(centre, centre_valid));
      t.add_column("neighbor_category", Column::from_strings(neighbour));
      if (!has_gs) {
        t.add_column(gs_name, Column::constant_string("all", n));
      } else {
        const bool integral = std::all_of(gs.begin(), gs.end(), [](double v) { return v == std::floor(v); });
        Column g = Column::from_float64(gs);
        t.add_column(gs_name, integral ? g.cast(DType::kInt64) : g);
      }
      t.add_column("metric", Column::from_strings(metric));
      t.add_column("bin_idx", Column::from_float64(bin_idx));
      t.add_column("value", Column::from_float64(value));
      t.add_column("bin_x", Column::from_float64(bin_x));
      t.add_column("bin_y", Column::from_float64(bin_y));
      t.add_column("sum_value", Column::from_float64(sum_value));
      t.add_column("count", Column::from_float64(count));
      for (const char* meta : {"group", "sequence"})
        if (df.has_column(meta) && !t.has_column(meta)) t.add_column(meta, repeat(first_cell(df, meta, 0), n));
      return t;
    }
  };

  using GroupKey = std::pair<std::size_t, std::size_t>;

  // groupby([a, b?], dropna=False, sort=True): groups in key order, rows in input order.
  static std::map<GroupKey, std::vector<std::size_t>> group_rows(const KeyColumn& a, const KeyColumn* b,
                                                                 const std::vector<std::size_t>& rows) {
    std::map<GroupKey, std::vector<std::size_t>> out;
    for (std::size_t i = 0; i < rows.size(); ++i) out[{a.code[i], b ? b->code[i] : 0}].push_back(rows[i]);
    return out;
  }

  // _coalesce_column: a missing base column is the first non-missing of its "<base>_*" columns.
  static void coalesce(Table& df, const std::string& base) {
    if (df.has_column(base)) return;
    std::vector<std::string> cand;
    for (const auto& c : df.column_names())
      if (c.size() > base.size() + 1 && c.compare(0, base.size() + 1, base + "_") == 0) cand.push_back(c);
    if (cand.empty()) return;
    Column merged = df.column(cand[0]);
    for (std::size_t k = 1; k < cand.size(); ++k) {
      const Column& other = df.column(cand[k]);
      if (!merged.has_nulls()) break;
      if (merged.type() == DType::kString || other.type() == DType::kString) {
        std::vector<int32_t> codes(merged.size(), -1);
        std::vector<std::string> dict;
        for (std::size_t r = 0; r < merged.size(); ++r) {
          const Column& src = merged.is_null(r) ? other : merged;
          if (src.is_null(r)) continue;
          dict.emplace_back(src.type() == DType::kString ? std::string(src.str(r)) : py_float_str(src.as_double(r)));
          codes[r] = static_cast<int32_t>(dict.size() - 1);
        }
        merged = Column::from_dictionary(std::move(dict), std::move(codes));
        continue;
      }
      std::vector<double> v(merged.size());
      for (std::size_t r = 0; r < merged.size(); ++r) v[r] = merged.is_null(r) ? other.as_double(r) : merged.as_double(r);
      merged = Column::from_float64(std::move(v));
    }
    df.add_column(base, std::move(merged));
  }

  // _maybe_make_category: a boolean column `new_col` = source > (or <=) its quantile.
  static void add_category(Table& df, const Json& spec) {
    auto text = [&](const char* k) {
      return spec.contains(k) && spec[k].is_string() ? spec[k].get<std::string>() : std::string();
    };
    const std::string source = text("source_col"), target = text("new_col");
    if (source.empty() || target.empty() || !df.has_column(source)) return;
    double q = 0.75;
    if (spec.contains("quantile") && spec["quantile"].is_number()) q = spec["quantile"].get<double>();
    std::string op = spec.contains("op") && spec["op"].is_string() ? spec["op"].get<std::string>() : ">";
    op.erase(0, op.find_first_not_of(" \t\n"));
    op.erase(op.find_last_not_of(" \t\n") + 1);
    const Column& src = df.column(source);
    if (!is_numeric(src.type())) throw SchemaError::wrong_type("nn-delta-bins category_specs", source, "numbers", "string");
    std::vector<double> v;
    for (std::size_t r = 0; r < src.size(); ++r)
      if (!src.is_null(r)) v.push_back(src.as_double(r));
    double thresh = kNaN;
    if (!v.empty()) {  // pandas quantile, linear interpolation
      std::sort(v.begin(), v.end());
      const double h = (static_cast<double>(v.size()) - 1) * q;
      const auto lo = static_cast<std::size_t>(std::floor(h));
      const std::size_t hi = std::min(lo + 1, v.size() - 1);
      thresh = v[lo] + (v[hi] - v[lo]) * (h - static_cast<double>(lo));
    }
    std::vector<uint8_t> flag(src.size());
    for (std::size_t r = 0; r < src.size(); ++r) {
      const double x = src.as_double(r);
      flag[r] = op == "<=" ? x <= thresh : x > thresh;
    }
    df.set_column(target, Column::from_bool(std::move(flag)));
  }

  void append_rows(State& s, const std::vector<std::size_t>& rows, const Category& centre,
                   const std::optional<Category>& neighbour, std::optional<double> gs) const {
    const auto nx = s.nx.f64(), ny = s.ny.f64(), da = s.dangle.f64(), ds = s.dspeed.f64();
    auto push_meta = [&](const char* dim, const char* metric) {
      s.dim.emplace_back(dim);
      s.metric.emplace_back(metric);
      s.centre.push_back(centre.kind == Category::Kind::kInt ? centre.i : static_cast<int64_t>(centre.f));
      s.centre_valid.push_back(centre.kind == Category::Kind::kInt || centre.kind == Category::Kind::kFloat);
      std::string nb = "all";
      if (neighbour && neighbour->kind == Category::Kind::kInt) nb = std::to_string(neighbour->i);
      else if (neighbour && neighbour->kind == Category::Kind::kFloat) nb = py_float_str(neighbour->f);
      else if (neighbour && neighbour->kind == Category::Kind::kString) nb = neighbour->s;
      s.neighbour.push_back(std::move(nb));
      s.gs.push_back(gs ? *gs : kNaN);
    };
    if (centre.kind == Category::Kind::kFloat && centre.f != std::floor(centre.f))
      throw InputError(fmt::format("nn-delta-bins: focal category {} is not an integer (center_category is Int64)",
                                   py_float_str(centre.f)));
    if (centre.kind == Category::Kind::kString)
      throw SchemaError::wrong_type("nn-delta-bins input", focal_col_, "numeric categories", "string");
    // 1-D turn: neighbours ahead within max_for_avg, binned by neighbor_y (mirrored copies after).
    const std::size_t nb1 = nbins_ - 1;
    s.xs.clear();
    s.ws.clear();
    for (std::size_t r : rows)
      if (nx[r] >= 0 && nx[r] <= max_for_avg_) {
        s.xs.push_back(ny[r]);
        s.ws.push_back(da[r]);
      }
    if (antisymm_) {
      const std::size_t m = s.xs.size();
      for (std::size_t i = 0; i < m; ++i) {
        s.xs.push_back(-s.xs[i]);
        s.ws.push_back(-s.ws[i]);
      }
    }
    s.sums.resize(nb1);
    s.counts.resize(nb1);
    s.means.resize(nb1);
    kernels::binned_mean(s.xs, s.ws, s.edges, s.sums, s.counts, s.means);
    for (std::size_t b = 0; b < nb1; ++b) {
      push_meta("1d", "turn");
      s.bin_idx.push_back(static_cast<double>(b));
      s.value.push_back(s.means[b]);
    }
    // 1-D speed: neighbours within max_for_avg / 2 sideways, binned by neighbor_x.
    s.xs.clear();
    s.ws.clear();
    for (std::size_t r : rows)
      if (std::fabs(ny[r]) <= max_for_avg_ / 2) {
        s.xs.push_back(nx[r]);
        s.ws.push_back(ds[r]);
      }
    kernels::binned_mean(s.xs, s.ws, s.edges, s.sums, s.counts, s.means);
    for (std::size_t b = 0; b < nb1; ++b) {
      push_meta("1d", "speed");
      s.bin_idx.push_back(static_cast<double>(b));
      s.value.push_back(s.means[b]);
    }
    for (std::size_t i = 0; i < 2 * nb1; ++i) {
      s.bin_x.push_back(kNaN);
      s.bin_y.push_back(kNaN);
      s.sum_value.push_back(kNaN);
      s.count.push_back(kNaN);
    }
    // 2-D sums and counts over rows with a finite position.
    std::vector<std::size_t> base;
    for (std::size_t r : rows)
      if (std::isfinite(nx[r]) && std::isfinite(ny[r])) base.push_back(r);
    const std::size_t bx = s.xedges.size() - 1, by = s.yedges.size() - 1;
    s.sums2d.resize(bx * by);
    s.counts2d.resize(bx * by);
    for (int metric = 0; metric < 2; ++metric) {
      s.xs.clear();
      s.ys.clear();
      s.ws.clear();
      const bool turn = metric == 0;
      for (std::size_t r : base) {
        s.xs.push_back(nx[r]);
        s.ys.push_back(ny[r]);
        s.ws.push_back(turn ? da[r] : ds[r]);
      }
      if (!turn || antisymm_) {  // speed is always mirrored in y with the same weights
        for (std::size_t r : base) {
          s.xs.push_back(nx[r]);
          s.ys.push_back(-ny[r]);
          s.ws.push_back(turn ? -da[r] : ds[r]);
        }
      }
      kernels::histogram2d(s.xs, s.ys, s.ws, s.xedges, s.yedges, s.sums2d, s.counts2d);
      for (std::size_t ix = 0; ix < bx; ++ix)
        for (std::size_t iy = 0; iy < by; ++iy) {
          push_meta("2d", turn ? "turn" : "speed");
          s.bin_idx.push_back(kNaN);
          s.value.push_back(kNaN);
          s.bin_x.push_back(static_cast<double>(ix));
          s.bin_y.push_back(static_cast<double>(iy));
          s.sum_value.push_back(s.sums2d[ix * by + iy]);
          s.count.push_back(s.counts2d[ix * by + iy]);
        }
    }
  }

  std::size_t nbins_ = 45;
  double binmax_ = 14.0, max_for_avg_ = 5.0;
  bool antisymm_ = true;
  std::string focal_col_, neighbor_col_, gs_col_, exp_col_, trial_col_;
  Json specs_;
  std::vector<std::string> exclude_;
  std::string nf_col_;
  bool nf_value_ = false;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(NearestNeighborDeltaBins);
}  // namespace mosaic::features
