// ffgroups-metrics: per-animal summary of group membership (features.md §2.10): for each
// (id, group_size) the fraction of frames, the mean/median length of runs at that group size,
// and how often the animal was the farthest from its group's centroid.
//
// Reference behaviours kept on purpose:
// - The column named after `group_col` (default "event") carries the first row's value of that
//   column (§4.18: the reference meant the `group` column but attaches `group_col`). We keep the
//   reference's schema and value so that Python readers and goldens see the same table; the
//   "first row" is the first after a *stable* sort by frame (the reference's quicksort gives the
//   same row on every golden input).
// - ftime_periphery / ftime_periphery_norm are NaN (not 0) for an (id, group_size) that was never
//   the farthest: pandas aligns the division before reindex's fill_value applies.
// - Centroids are pandas group means (Kahan-compensated sums), so the farthest-member ties of
//   two-animal groups resolve exactly as in the reference.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <map>
#include <optional>
#include <unordered_map>

#include "features/feature_base.hpp"
#include "mosaic/errors.hpp"

namespace mosaic::features {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const FeatureInfo kInfo{.name = "ffgroups-metrics",
                        .version = "0.1",
                        .summary = "Summarise per animal and group size: time fraction, run durations and time at the group's periphery.",
                        .category = "summary",
                        .parallelizable = true,
                        .scope_dependent = false,
                        .input_kinds = InputKinds::kTracksOnly,
                        .python_class = "FFGroupsMetrics"};

const ParamSchema& params_schema() {
  static const ParamSchema schema{
      "FFGroupsMetricsParams",
      {param_str("group_col", "event", "Column identifying groups within a frame (e.g. ffgroups' event)."),
       param_str("speed_col", "speed", "Speed column (required; used for the per-frame deviation from the group mean)."),
       param("time_chunk_sec", ParamType::optional(ParamType::floating()), Json(),
             "Summarise per chunk of this many seconds of the time column (None = whole sequence)."),
       param("frame_chunk", ParamType::optional(ParamType::integer()), Json(),
             "Summarise per chunk of this many frames (None = whole sequence; time_chunk_sec wins)."),
       param_str("centroid_heading_col", "centroid_heading",
                 "Heading column used to rotate offsets into the group frame (optional)."),
       param("exclude_cols", ParamType::list(ParamType::string()), Json::array(),
             "Boolean columns whose truthy rows are dropped first (e.g. bad_frame).")}};
  return schema;
}

// A column's values as doubles (NaN = missing); string columns by dictionary code (NaN = null),
// which is enough for grouping by equality.
std::vector<double> key_values(const Column& c) {
  std::vector<double> out(c.size());
  if (c.type() == DType::kString) {
    auto codes = c.codes();
    for (std::size_t r = 0; r < c.size(); ++r) out[r] = codes[r] < 0 ? kNaN : static_cast<double>(codes[r]);
    return out;
  }
  const Column f = c.cast(DType::kFloat64);
  std::copy(f.f64().begin(), f.f64().end(), out.begin());
  return out;
}

// pandas' truthiness for apply_exclude_cols: any(axis=1) skips NaN.
bool truthy(const Column& c, std::size_t r) {
  if (c.is_null(r)) return false;
  if (c.type() == DType::kString) return !c.str(r).empty();
  return c.as_double(r) != 0;
}

// A one-value column repeated `rows` times, with the source column's type (the value of df[col].iloc[0]).
Column repeat_cell(const Column& c, std::size_t row, std::size_t rows) {
  if (c.type() == DType::kString) return Column::constant_string(std::string(c.str(row)), rows);
  if (c.is_null(row)) return Column::nulls(c.type() == DType::kFloat32 ? DType::kFloat64 : c.type(), rows);
  if (is_integer(c.type()) || c.type() == DType::kBool) {
    Column out = Column::constant_int64(c.as_int64(row), rows);
    return c.type() == DType::kInt64 ? out : out.cast(c.type());
  }
  return Column::constant_float64(c.as_double(row), rows);
}

// pandas group_mean: a Kahan-compensated sum per group in row order (NaN skipped), divided by the count.
struct KahanMean {
  double sum = 0, comp = 0;
  int64_t n = 0;
  void add(double v) {
    if (std::isnan(v)) return;
    ++n;
    const double y = v - comp;
    const double t = sum + y;
    comp = (t - sum) - y;
    if (comp != comp) comp = 0;  // pandas >= 2: an infinite value keeps the sum infinite
    sum = t;
  }
  double mean() const { return n == 0 ? kNaN : sum / static_cast<double>(n); }
};

// True when the integer key columns (no nulls) are already in ascending lexicographic order, so
// the stable sort would return the rows unchanged (canonical tracks are sorted by frame, id).
bool already_sorted(const Table& t, const std::vector<std::string>& keys) {
  std::vector<std::span<const int64_t>> cols;
  for (const auto& k : keys) {
    const Column& c = t.column(k);
    if (c.type() != DType::kInt64 || c.has_nulls()) return false;
    cols.push_back(c.i64());
  }
  for (std::size_t r = 1; r < t.num_rows(); ++r)
    for (const auto& c : cols) {
      if (c[r - 1] < c[r]) break;
      if (c[r - 1] > c[r]) return false;
    }
  return true;
}

struct ChunkMeta {
  int64_t chunk_id = 0;
  std::optional<int64_t> start_frame, end_frame;
  std::optional<double> start_time, end_time;
};

class FFGroupsMetrics final : public StatelessFeature<FFGroupsMetrics> {
 public:
  FFGroupsMetrics(Inputs inputs, Json params) : StatelessFeature(std::move(inputs), std::move(params)) {
    const Json& p = this->params();
    group_col_ = p["group_col"].get<std::string>();
    speed_col_ = p["speed_col"].get<std::string>();
    if (p["time_chunk_sec"].is_number()) time_chunk_ = p["time_chunk_sec"].get<double>();
    if (p["frame_chunk"].is_number()) frame_chunk_ = p["frame_chunk"].get<int64_t>();
    for (const auto& c : p["exclude_cols"]) exclude_.push_back(c.get<std::string>());
  }
  static const FeatureInfo& static_info() { return kInfo; }
  static const ParamSchema& static_schema() { return params_schema(); }

  Table apply(const Table& input) const override {
    if (input.num_rows() == 0) return Table();
    const char* order_col = input.has_column("frame") ? "frame" : (input.has_column("time") ? "time" : nullptr);
    if (!order_col) throw SchemaError("ffgroups-metrics input: Need 'frame' or 'time' column to order rows.");
    Table df = already_sorted(input, {order_col}) ? input : input.sort_by({order_col});
    if (!exclude_.empty()) {
      std::vector<const Column*> ex;
      for (const auto& c : exclude_)
        if (df.has_column(c)) ex.push_back(&df.column(c));
      if (!ex.empty()) {
        std::vector<uint8_t> keep(df.num_rows(), 1);
        for (std::size_t r = 0; r < df.num_rows(); ++r)
          for (const Column* c : ex)
            if (truthy(*c, r)) keep[r] = 0;
        df = df.filter(keep);
        if (df.num_rows() == 0) return Table();
      }
    }
    std::vector<std::string> missing;
    for (const std::string& c : {std::string("X"), std::string("Y"), speed_col_, std::string("id")})
      if (!df.has_column(c)) missing.push_back(c);
    if (!missing.empty()) {
      std::sort(missing.begin(), missing.end());
      throw SchemaError::missing_column("ffgroups-metrics input", missing.front(), df.column_names());
    }
    for (const char* c : {"id", "X", "Y"})
      if (!is_numeric(df.column(c).type()))
        throw SchemaError::wrong_type("ffgroups-metrics input", c, "numbers", dtype_name(df.column(c).type()));
    if (df.has_column("group_size") && !is_numeric(df.column("group_size").type()))
      throw SchemaError::wrong_type("ffgroups-metrics input", "group_size", "numbers",
                                    dtype_name(df.column("group_size").type()));

    const Data d = load(df);
    std::vector<Table> parts;
    for (const auto& [meta, rows] : chunks(df, d)) parts.push_back(summarise(df, d, rows, meta));
    if (parts.empty()) return Table();
    return Table::concat(parts);
  }

 private:
  // The per-row columns the summary needs, as doubles (NaN = missing).
  struct Data {
    std::vector<double> x, y, id, frame, time, order, gkey, gsize;
    bool has_frame = false, has_time = false, has_gcol = false, has_gsize = false;
    DType id_type = DType::kInt64, gsize_type = DType::kInt64;
  };

  Data load(const Table& df) const {
    Data d;
    d.x = key_values(df.column("X"));
    d.y = key_values(df.column("Y"));
    d.id = key_values(df.column("id"));
    d.id_type = df.column("id").type() == DType::kFloat32 ? DType::kFloat64 : df.column("id").type();
    d.has_frame = df.has_column("frame");
    d.has_time = df.has_column("time");
    if (d.has_frame) d.frame = key_values(df.column("frame"));
    if (d.has_time) d.time = key_values(df.column("time"));
    d.order = d.has_frame ? d.frame : d.time;
    d.has_gcol = df.has_column(group_col_);
    if (d.has_gcol) d.gkey = key_values(df.column(group_col_));
    d.has_gsize = df.has_column("group_size");
    if (d.has_gsize) {
      d.gsize = key_values(df.column("group_size"));
      const DType t = df.column("group_size").type();
      d.gsize_type = (t == DType::kFloat32 || t == DType::kBool) ? DType::kFloat64 : t;
    }
    return d;
  }

  // core/helpers.chunk_sequence: time chunks, frame chunks or the whole sequence (row indices in df order).
  std::vector<std::pair<ChunkMeta, std::vector<std::size_t>>> chunks(const Table& df, const Data& d) const {
    std::vector<std::pair<ChunkMeta, std::vector<std::size_t>>> out;
    const std::size_t n = df.num_rows();
    auto first_last_frame = [&](const std::vector<std::size_t>& rows, ChunkMeta& m) {
      if (!d.has_frame) return;
      m.start_frame = static_cast<int64_t>(d.frame[rows.front()]);
      m.end_frame = static_cast<int64_t>(d.frame[rows.back()]);
    };
    if (time_chunk_ && *time_chunk_ != 0 && d.has_time) {
      double lo = INFINITY, hi = -INFINITY;
      for (double t : d.time)
        if (!std::isnan(t)) {
          lo = std::min(lo, t);
          hi = std::max(hi, t);
        }
      if (!(lo <= hi)) return out;
      const double step = *time_chunk_;
      const double stop = hi + step;
      const double len = std::ceil((stop - lo) / step);  // numpy arange's length
      if (!(len > 0)) return out;
      const double second = lo + step;
      const double delta = second - lo;  // numpy fills start + i * (second - start) from i = 2
      for (int64_t idx = 0; idx < static_cast<int64_t>(len); ++idx) {
        const double start = idx == 0 ? lo : (idx == 1 ? second : lo + static_cast<double>(idx) * delta);
        const double end = start + step;
        std::vector<std::size_t> rows;
        for (std::size_t r = 0; r < n; ++r)
          if (d.time[r] >= start && d.time[r] < end) rows.push_back(r);
        if (rows.empty()) continue;
        ChunkMeta m;
        m.chunk_id = idx;
        m.start_time = start;
        m.end_time = end;
        first_last_frame(rows, m);
        out.emplace_back(m, std::move(rows));
      }
      return out;
    }
    if (frame_chunk_ && *frame_chunk_ != 0 && d.has_frame) {
      const Column& fc = df.column("frame");
      if (!is_integer(fc.type()) || fc.has_nulls())
        throw SchemaError::wrong_type("ffgroups-metrics input", "frame", "whole frame numbers (frame_chunk)",
                                      dtype_name(fc.type()));
      const Column f64 = fc.cast(DType::kInt64);
      auto f = f64.i64();
      const int64_t lo = *std::min_element(f.begin(), f.end());
      const int64_t hi = *std::max_element(f.begin(), f.end());
      const int64_t step = *frame_chunk_;
      int64_t idx = 0;
      // range(lo, hi + 1, step): a negative step gives no chunk.
      for (int64_t start = lo; step > 0 && start < hi + 1; start += step, ++idx) {
        const int64_t end = start + step;
        std::vector<std::size_t> rows;
        for (std::size_t r = 0; r < n; ++r)
          if (f[r] >= start && f[r] < end) rows.push_back(r);
        if (rows.empty()) continue;
        ChunkMeta m;
        m.chunk_id = idx;
        m.start_frame = start;
        m.end_frame = end;
        if (d.has_time) {
          m.start_time = d.time[rows.front()];
          m.end_time = d.time[rows.back()];
        }
        out.emplace_back(m, std::move(rows));
      }
      return out;
    }
    std::vector<std::size_t> rows(n);
    for (std::size_t r = 0; r < n; ++r) rows[r] = r;
    ChunkMeta m;
    first_last_frame(rows, m);
    if (d.has_time) {
      m.start_time = d.time[rows.front()];
      m.end_time = d.time[rows.back()];
    }
    out.emplace_back(m, std::move(rows));
    return out;
  }

  // _compute_per_frame + _compute_summary for one chunk.
  Table summarise(const Table& df, const Data& d, const std::vector<std::size_t>& rows, const ChunkMeta& meta) const {
    const std::size_t n = rows.size();
    std::vector<double> fk(n), id(n), gs(n), dist(n);
    for (std::size_t i = 0; i < n; ++i) {
      fk[i] = d.order[rows[i]];
      id[i] = d.id[rows[i]];
    }
    // Group centroids per (group_col?, frame): pandas group means in row order.
    std::vector<double> gk(n, 0.0);
    if (d.has_gcol)
      for (std::size_t i = 0; i < n; ++i) gk[i] = d.gkey[rows[i]];
    // Rows are in frame order (stably sorted by the order column, missing frames last), so the
    // (group_col, frame) groups are found frame block by frame block without a global map.
    std::vector<int64_t> group_of(n, -1);
    std::vector<std::pair<std::size_t, std::size_t>> blocks;  // [start, end) of each frame
    std::size_t n_groups = 0;
    {
      std::vector<std::pair<double, int64_t>> local;
      for (std::size_t s = 0; s < n;) {
        std::size_t e = s + 1;
        while (e < n && fk[e] == fk[s]) ++e;
        if (!std::isnan(fk[s])) {
          blocks.emplace_back(s, e);
          local.clear();
          for (std::size_t i = s; i < e; ++i) {
            if (std::isnan(gk[i])) continue;
            auto it = std::find_if(local.begin(), local.end(), [&](const auto& l) { return l.first == gk[i]; });
            if (it == local.end()) {
              local.emplace_back(gk[i], static_cast<int64_t>(n_groups++));
              it = local.end() - 1;
            }
            group_of[i] = it->second;
          }
        }
        s = e;
      }
      std::vector<KahanMean> mx(n_groups), my(n_groups);
      for (std::size_t i = 0; i < n; ++i) {
        if (group_of[i] < 0) continue;
        mx[static_cast<std::size_t>(group_of[i])].add(d.x[rows[i]]);
        my[static_cast<std::size_t>(group_of[i])].add(d.y[rows[i]]);
      }
      for (std::size_t i = 0; i < n; ++i) {
        if (group_of[i] < 0) {
          dist[i] = kNaN;
          continue;
        }
        const auto g = static_cast<std::size_t>(group_of[i]);
        const double dx = d.x[rows[i]] - mx[g].mean();
        const double dy = d.y[rows[i]] - my[g].mean();
        dist[i] = std::sqrt(dx * dx + dy * dy);
      }
    }
    // group_size: the input column, else the number of ids per frame.
    DType gs_type = d.gsize_type;
    if (d.has_gsize) {
      for (std::size_t i = 0; i < n; ++i) gs[i] = d.gsize[rows[i]];
    } else {
      std::map<double, int64_t> per_frame;
      bool nan_frame = false;
      for (std::size_t i = 0; i < n; ++i) {
        if (std::isnan(fk[i])) {
          nan_frame = true;
          continue;
        }
        if (!std::isnan(id[i])) ++per_frame[fk[i]];
        else per_frame.emplace(fk[i], 0);
      }
      for (std::size_t i = 0; i < n; ++i) gs[i] = std::isnan(fk[i]) ? kNaN : static_cast<double>(per_frame[fk[i]]);
      gs_type = nan_frame ? DType::kFloat64 : DType::kInt64;
    }
    // Frame counts per id and per (id, group_size), in sorted key order.
    std::map<double, int64_t> total_frames;
    struct Acc {
      int64_t frames = 0;
      std::vector<double> durations;
      bool farthest = false;
      int64_t far_frames = 0;
      double far_gs_sum = 0;
    };
    std::map<std::pair<double, double>, Acc> acc;
    for (std::size_t i = 0; i < n; ++i) {
      if (std::isnan(id[i])) continue;
      int64_t& tf = total_frames[id[i]];
      if (!std::isnan(fk[i])) ++tf;
      if (std::isnan(gs[i])) continue;
      Acc& a = acc[{id[i], gs[i]}];
      if (!std::isnan(fk[i])) ++a.frames;
    }
    // Runs of constant (id, group_size) after a stable sort by [id, frame] (NaN last).
    std::vector<std::size_t> by_id(n);
    for (std::size_t i = 0; i < n; ++i) by_id[i] = i;
    auto nan_last_less = [](double a, double b) {
      if (std::isnan(a)) return false;
      if (std::isnan(b)) return true;
      return a < b;
    };
    std::stable_sort(by_id.begin(), by_id.end(), [&](std::size_t a, std::size_t b) {
      if (nan_last_less(id[a], id[b])) return true;
      if (nan_last_less(id[b], id[a])) return false;
      return nan_last_less(fk[a], fk[b]);
    });
    for (std::size_t s = 0; s < n;) {
      std::size_t e = s + 1;
      // numpy !=: NaN differs from everything, so a NaN id or group size always starts a run.
      while (e < n && id[by_id[e]] == id[by_id[e - 1]] && gs[by_id[e]] == gs[by_id[e - 1]]) ++e;
      const std::size_t first = by_id[s], last = by_id[e - 1];
      if (!std::isnan(id[first]) && !std::isnan(gs[first])) {
        auto it = acc.find({id[first], gs[first]});
        if (it != acc.end()) it->second.durations.push_back(fk[last] - fk[first] + 1);
      }
      s = e;
    }
    // Periphery: rank ("max") of the centroid distance within (group_col?, frame); the farthest
    // members are those whose rank equals their group size.
    {
      std::vector<double> sorted;
      std::vector<std::size_t> members;
      std::vector<int64_t> seen;
      for (const auto& [s, e] : blocks) {
        seen.clear();
        for (std::size_t i = s; i < e; ++i) {
          const int64_t g = group_of[i];
          if (g < 0 || std::find(seen.begin(), seen.end(), g) != seen.end()) continue;
          seen.push_back(g);
          sorted.clear();
          members.clear();
          for (std::size_t j = i; j < e; ++j)
            if (group_of[j] == g && !std::isnan(dist[j])) {
              sorted.push_back(dist[j]);
              members.push_back(j);
            }
          std::sort(sorted.begin(), sorted.end());
          for (std::size_t j : members) {
            // method="max": the number of members at most as far.
            const auto rank = static_cast<double>(std::upper_bound(sorted.begin(), sorted.end(), dist[j]) - sorted.begin());
            if (rank != gs[j] || std::isnan(id[j])) continue;
            Acc& a = acc[{id[j], gs[j]}];
            a.farthest = true;
            ++a.far_frames;
            a.far_gs_sum += gs[j];
          }
        }
      }
    }
    std::vector<double> o_id, o_gs, o_frac, o_avg, o_med, o_ft, o_ftn;
    for (auto& [key, a] : acc) {
      o_id.push_back(key.first);
      o_gs.push_back(key.second);
      o_frac.push_back(static_cast<double>(a.frames) / static_cast<double>(total_frames[key.first]));
      KahanMean mean;
      std::vector<double> finite;
      for (double v : a.durations) {
        mean.add(v);
        if (!std::isnan(v)) finite.push_back(v);
      }
      o_avg.push_back(mean.mean());
      double med = kNaN;
      if (!finite.empty()) {
        std::sort(finite.begin(), finite.end());
        const std::size_t m = finite.size();
        med = m % 2 ? finite[m / 2] : (finite[m / 2] + finite[m / 2 - 1]) / 2;
      }
      o_med.push_back(med);
      const double frames = static_cast<double>(a.frames);
      o_ft.push_back(a.farthest ? static_cast<double>(a.far_frames) / frames : kNaN);
      o_ftn.push_back(a.farthest ? a.far_gs_sum / frames : kNaN);
    }
    const std::size_t out_rows = o_id.size();
    auto typed = [](std::vector<double> v, DType type) {
      Column c = Column::from_float64(std::move(v));
      return type == DType::kFloat64 ? c : c.cast(type);
    };
    Table t;
    t.add_column("id", typed(std::move(o_id), d.id_type));
    t.add_column("group_size", typed(std::move(o_gs), gs_type));
    t.add_column("fractime_norm2", Column::from_float64(std::move(o_frac)));
    t.add_column("avg_duration_frame", Column::from_float64(std::move(o_avg)));
    t.add_column("med_duration_frame", Column::from_float64(std::move(o_med)));
    t.add_column("ftime_periphery", Column::from_float64(std::move(o_ft)));
    t.add_column("ftime_periphery_norm", Column::from_float64(std::move(o_ftn)));
    // Meta: sequence and (§4.18) group_col, each the chunk's first row value.
    for (const std::string& meta_col : {std::string("sequence"), group_col_})
      if (df.has_column(meta_col) && !t.has_column(meta_col))
        t.add_column(meta_col, repeat_cell(df.column(meta_col), rows.front(), out_rows));
    t.add_column("chunk_id", Column::constant_int64(meta.chunk_id, out_rows));
    auto opt_int = [&](const std::optional<int64_t>& v) {
      return v ? Column::constant_int64(*v, out_rows) : Column::nulls(DType::kInt64, out_rows);
    };
    auto opt_float = [&](const std::optional<double>& v) {
      return v ? Column::constant_float64(*v, out_rows) : Column::nulls(DType::kFloat64, out_rows);
    };
    t.add_column("chunk_start_frame", opt_int(meta.start_frame));
    t.add_column("chunk_end_frame", opt_int(meta.end_frame));
    t.add_column("chunk_start_time", opt_float(meta.start_time));
    t.add_column("chunk_end_time", opt_float(meta.end_time));
    return t;
  }

  std::string group_col_, speed_col_;
  std::optional<double> time_chunk_;
  std::optional<int64_t> frame_chunk_;
  std::vector<std::string> exclude_;
};

}  // namespace
MOSAIC_REGISTER_FEATURE(FFGroupsMetrics);
}  // namespace mosaic::features
