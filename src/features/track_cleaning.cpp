#include "features/track_cleaning.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <set>

#include "mosaic/errors.hpp"

namespace mosaic::features {

kernels::CleaningConfig cleaning_config(const Json& interpolation) {
  kernels::CleaningConfig c;
  if (!interpolation.is_object()) return c;
  if (interpolation.contains("linear_interp_limit")) c.linear_interp_limit = interpolation["linear_interp_limit"].get<int64_t>();
  if (interpolation.contains("edge_fill_limit")) c.edge_fill_limit = interpolation["edge_fill_limit"].get<int64_t>();
  if (interpolation.contains("max_missing_fraction"))
    c.max_missing_fraction = interpolation["max_missing_fraction"].get<double>();
  return c;
}

std::string resolve_order_col(const Table& df, const std::string& where) {
  if (df.has_column("frame")) return "frame";
  if (df.has_column("time")) return "time";
  throw SchemaError(fmt::format("{}: need a 'frame' or 'time' column to order rows (available: {})", where,
                                join_names(df.column_names())));
}

double fps_from_column(const Table& df, double fallback) {
  if (!df.has_column("fps")) return fallback;
  const Column& c = df.column("fps");
  if (c.type() == DType::kString) return fallback;
  std::set<double> seen;
  for (std::size_t r = 0; r < c.size() && seen.size() < 2; ++r) {
    double v = c.as_double(r);
    if (!std::isnan(v)) seen.insert(v);
  }
  return seen.size() == 1 ? *seen.begin() : fallback;
}

namespace {

std::vector<double> as_f64(const Column& c) {
  if (c.type() == DType::kFloat64) return std::vector<double>(c.f64().begin(), c.f64().end());
  if (c.type() == DType::kString) throw InternalError("as_f64 on a string column");
  std::vector<double> v(c.size());
  for (std::size_t r = 0; r < c.size(); ++r) v[r] = c.as_double(r);
  return v;
}

void require_numeric(const Table& df, const std::string& name, const std::string& where) {
  if (!df.has_column(name)) throw SchemaError::missing_column(where + " input", name, df.column_names());
  const Column& c = df.column(name);
  if (!is_numeric(c.type()) && c.type() != DType::kBool)
    throw SchemaError::wrong_type(where + " input", name, "a number", dtype_name(c.type()));
}

// Animal number of each row (ids ranked ascending), -1 for dropped rows.
std::vector<int64_t> animal_of_rows(const Table& df, const std::string& order_col, const std::string& where,
                                    std::vector<int64_t>& ids, std::vector<double>& order) {
  require_numeric(df, "id", where);
  require_numeric(df, order_col, where);
  const Column& idc = df.column("id");
  const std::size_t n = df.num_rows();
  order = as_f64(df.column(order_col));
  const Column* seq = df.has_column("sequence") ? &df.column("sequence") : nullptr;
  std::vector<int64_t> raw(n, 0);
  std::vector<uint8_t> ok(n, 1);
  for (std::size_t r = 0; r < n; ++r) {
    if (idc.is_null(r) || (seq && seq->is_null(r)) || std::isnan(order[r])) {
      ok[r] = 0;
      continue;
    }
    double v = idc.as_double(r);
    if (v != std::floor(v) || !std::isfinite(v))
      throw SchemaError(fmt::format("{} input: column 'id' must hold integer ids, got {} at row {}", where, v, r));
    raw[r] = static_cast<int64_t>(v);
  }
  ids.clear();
  for (std::size_t r = 0; r < n; ++r)
    if (ok[r]) ids.push_back(raw[r]);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<int64_t> g(n, -1);
  for (std::size_t r = 0; r < n; ++r)
    if (ok[r]) g[r] = std::lower_bound(ids.begin(), ids.end(), raw[r]) - ids.begin();
  return g;
}

}  // namespace

AnimalTracks clean_animals(const Table& df, const std::string& order_col, const std::vector<std::string>& data_cols,
                           const kernels::CleaningConfig& config, const std::vector<double>& periods,
                           const std::string& where) {
  AnimalTracks a;
  std::vector<int64_t> group = animal_of_rows(df, order_col, where, a.ids, a.order);
  std::vector<std::vector<double>> cols;
  cols.reserve(data_cols.size());
  for (const auto& name : data_cols) {
    require_numeric(df, name, where);
    cols.push_back(as_f64(df.column(name)));
  }
  std::vector<std::span<const double>> spans(cols.begin(), cols.end());
  kernels::CleanedTracks cleaned;
  kernels::clean_tracks_grouped(group, a.ids.size(), a.order, spans, periods, config, cleaned);
  a.offsets = std::move(cleaned.group_offsets);
  a.source_rows = std::move(cleaned.source_rows);
  a.data = std::move(cleaned.columns);
  std::vector<double> ord(a.source_rows.size());
  for (std::size_t i = 0; i < ord.size(); ++i) ord[i] = a.order[a.source_rows[i]];
  a.order = std::move(ord);
  return a;
}

AnimalTracks group_animals(const Table& df, const std::string& order_col, const std::vector<std::string>& data_cols,
                           const std::string& where) {
  AnimalTracks a;
  std::vector<int64_t> group = animal_of_rows(df, order_col, where, a.ids, a.order);
  const std::size_t n = df.num_rows();
  std::vector<std::size_t> start(a.ids.size() + 1, 0);
  for (int64_t g : group)
    if (g >= 0) ++start[static_cast<std::size_t>(g) + 1];
  for (std::size_t k = 0; k < a.ids.size(); ++k) start[k + 1] += start[k];
  a.source_rows.resize(start.back());
  std::vector<std::size_t> cursor(start.begin(), start.end() - 1);
  for (std::size_t r = 0; r < n; ++r)
    if (group[r] >= 0) a.source_rows[cursor[static_cast<std::size_t>(group[r])]++] = r;
  const std::vector<double>& ord = a.order;
  for (std::size_t k = 0; k < a.ids.size(); ++k) {
    auto first = a.source_rows.begin() + static_cast<std::ptrdiff_t>(start[k]);
    auto last = a.source_rows.begin() + static_cast<std::ptrdiff_t>(start[k + 1]);
    auto before = [&ord](std::size_t x, std::size_t y) { return ord[x] < ord[y]; };
    if (!std::is_sorted(first, last, before)) std::stable_sort(first, last, before);
  }
  a.offsets = std::move(start);
  std::vector<double> sorted_order(a.source_rows.size());
  for (std::size_t i = 0; i < sorted_order.size(); ++i) sorted_order[i] = ord[a.source_rows[i]];
  for (const auto& name : data_cols) {
    require_numeric(df, name, where);
    std::vector<double> all = as_f64(df.column(name));
    std::vector<double> col(a.source_rows.size());
    for (std::size_t i = 0; i < col.size(); ++i) col[i] = all[a.source_rows[i]];
    a.data.push_back(std::move(col));
  }
  a.order = std::move(sorted_order);
  return a;
}

void merge_sorted_frames(std::span<const double> a, std::span<const double> b, std::vector<std::size_t>& ia,
                         std::vector<std::size_t>& ib) {
  ia.clear();
  ib.clear();
  std::size_t i = 0, j = 0;
  const std::size_t na = a.size(), nb = b.size();
  while (i < na && j < nb) {
    if (a[i] < b[j]) {
      ++i;
    } else if (b[j] < a[i]) {
      ++j;
    } else {
      // Equal keys: a run on each side gives their product, left row first (pandas).
      std::size_t i1 = i + 1, j1 = j + 1;
      while (i1 < na && a[i1] == a[i]) ++i1;
      while (j1 < nb && b[j1] == b[j]) ++j1;
      for (std::size_t x = i; x < i1; ++x)
        for (std::size_t y = j; y < j1; ++y) {
          ia.push_back(x);
          ib.push_back(y);
        }
      i = i1;
      j = j1;
    }
  }
}

Table clean_tracks_grouped(const Table& df, const std::vector<std::string>& group_cols,
                           const std::vector<std::string>& data_cols, const std::string& order_col,
                           const kernels::CleaningConfig& config, const std::vector<double>& periods) {
  for (const auto& c : group_cols)
    if (!df.has_column(c)) throw SchemaError::missing_column("clean_tracks_grouped input", c, df.column_names());
  require_numeric(df, order_col, "clean_tracks_grouped");
  const std::size_t n = df.num_rows();
  // Group numbers in sorted key order; rows with a null key are dropped (pandas groupby).
  std::vector<int64_t> sorted = df.stable_sort_indices(group_cols);
  std::vector<int64_t> group(n, -1);
  auto null_key = [&](std::size_t r) {
    for (const auto& c : group_cols)
      if (df.column(c).is_null(r)) return true;
    return false;
  };
  auto same_key = [&](std::size_t x, std::size_t y) {
    for (const auto& c : group_cols) {
      const Column& col = df.column(c);
      if (col.type() == DType::kString) {
        if (col.str(x) != col.str(y)) return false;
      } else if (col.as_double(x) != col.as_double(y)) {
        return false;
      }
    }
    return true;
  };
  int64_t g = -1;
  std::size_t prev = 0;
  bool have_prev = false;
  for (int64_t sr : sorted) {
    auto r = static_cast<std::size_t>(sr);
    if (null_key(r)) continue;
    if (!have_prev || !same_key(prev, r)) ++g;
    group[r] = g;
    prev = r;
    have_prev = true;
  }
  std::vector<std::vector<double>> cols;
  for (const auto& name : data_cols) {
    require_numeric(df, name, "clean_tracks_grouped");
    cols.push_back(as_f64(df.column(name)));
  }
  std::vector<std::span<const double>> spans(cols.begin(), cols.end());
  std::vector<double> order = as_f64(df.column(order_col));
  kernels::CleanedTracks cleaned;
  kernels::clean_tracks_grouped(group, static_cast<std::size_t>(g + 1), order, spans, periods, config, cleaned);
  std::vector<int64_t> rows(cleaned.source_rows.begin(), cleaned.source_rows.end());
  Table out;
  for (const auto& c : group_cols) out.add_column(c, df.column(c).take(rows));
  out.add_column(order_col, df.column(order_col).take(rows));
  for (const auto& name : df.column_names()) {
    if (std::find(group_cols.begin(), group_cols.end(), name) != group_cols.end() || name == order_col) continue;
    auto it = std::find(data_cols.begin(), data_cols.end(), name);
    if (it != data_cols.end())
      out.add_column(name, Column::from_float64(std::move(cleaned.columns[static_cast<std::size_t>(it - data_cols.begin())])));
    else out.add_column(name, df.column(name).take(rows));
  }
  return out;
}

}  // namespace mosaic::features
