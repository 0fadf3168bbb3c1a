// feature_check.hpp: small helpers for feature unit tests: build a registered feature and apply
// it to one table, make simulated or hand-written track tables, shuffle rows, and compare tables
// after sorting by key columns (NaN equals NaN, values bit for bit).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "mosaic/feature.hpp"
#include "mosaic/simulate.hpp"
#include "mosaic/table.hpp"

namespace mosaic::testing {

/// Build `name` with `params` (tracks input), hand it `lookups` through load_state, apply it.
inline Table apply_feature(const std::string& name, const Json& params, const Table& table,
                           const DependencyLookups& lookups = {}) {
  auto f = make_feature(name, std::nullopt, params);
  f->load_state({}, {}, lookups);
  return f->apply(table);
}

/// A simulated sequence with group/sequence columns, as run_feature hands tracks to apply.
inline Table simulated_tracks(int animals, int64_t frames, int keypoints = 7, uint64_t seed = 3) {
  SimulationOptions o;
  o.animals = animals;
  o.frames = frames;
  o.keypoints = keypoints;
  o.seed = seed;
  o.arena = std::max(1000.0, 120.0 * std::sqrt(static_cast<double>(animals)) * 3);
  Table t = simulate_sequence(o, 0);
  t.add_column("group", Column::constant_string("g", t.num_rows()));
  t.add_column("sequence", Column::constant_string("s", t.num_rows()));
  return t;
}

/// The rows of `t` in a random order.
inline Table shuffled(const Table& t, uint64_t seed = 11) {
  std::vector<int64_t> idx(t.num_rows());
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(idx.begin(), idx.end(), rng);
  return t.take(idx);
}

/// Rows of `t` whose column `col` (numeric) satisfies `keep`.
template <class Pred>
Table rows_where(const Table& t, const std::string& col, Pred keep) {
  std::vector<uint8_t> mask(t.num_rows());
  for (std::size_t r = 0; r < t.num_rows(); ++r) mask[r] = keep(t.column(col).as_double(r)) ? 1 : 0;
  return t.filter(mask);
}

/// Set column `col` to NaN on the rows where `pred(row)` holds.
template <class Pred>
void set_nan_where(Table& t, const std::string& col, Pred pred) {
  Column c = t.column(col).cast(DType::kFloat64);
  std::vector<double> v(c.f64().begin(), c.f64().end());
  for (std::size_t r = 0; r < v.size(); ++r)
    if (pred(r)) v[r] = std::nan("");
  t.set_column(col, Column::from_float64(std::move(v)));
}

/// Same column names, types and values (bitwise for floats, NaN == NaN) after a stable sort by `keys`.
inline ::testing::AssertionResult tables_equal_by_keys(const Table& a_in, const Table& b_in,
                                                       const std::vector<std::string>& keys) {
  if (a_in.column_names() != b_in.column_names()) return ::testing::AssertionFailure() << "column names differ";
  if (a_in.num_rows() != b_in.num_rows())
    return ::testing::AssertionFailure() << "row count " << a_in.num_rows() << " vs " << b_in.num_rows();
  Table a = keys.empty() ? a_in : a_in.sort_by(keys);
  Table b = keys.empty() ? b_in : b_in.sort_by(keys);
  for (std::size_t c = 0; c < a.num_columns(); ++c) {
    const Column& x = a.column(c);
    const Column& y = b.column(c);
    if (x.type() != y.type())
      return ::testing::AssertionFailure() << "type of " << a.column_names()[c] << " differs";
    for (std::size_t r = 0; r < a.num_rows(); ++r) {
      bool eq;
      if (x.type() == DType::kString) {
        eq = x.is_null(r) == y.is_null(r) && x.str(r) == y.str(r);
      } else {
        double u = x.as_double(r), v = y.as_double(r);
        eq = (std::isnan(u) && std::isnan(v)) || std::memcmp(&u, &v, sizeof u) == 0;
      }
      if (!eq) {
        std::ostringstream s;
        s << "column " << a.column_names()[c] << " row " << r;
        if (x.type() != DType::kString) s << ": " << x.as_double(r) << " vs " << y.as_double(r);
        return ::testing::AssertionFailure() << s.str();
      }
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace mosaic::testing
