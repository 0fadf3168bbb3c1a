#include "mosaic/table.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "mosaic/errors.hpp"

namespace mosaic {
namespace {

Table make_table() {
  Table t;
  t.add_column("frame", Column::from_int64({2, 0, 1, 0}));
  t.add_column("id", Column::from_int64({0, 1, 0, 0}));
  t.add_column("x", Column::from_float64({2.5, NAN, 1.5, 0.5}));
  t.add_column("group", Column::constant_string("g", 4));
  return t;
}

TEST(TableTest, BasicAccessAndTypes) {
  Table t = make_table();
  EXPECT_EQ(t.num_rows(), 4u);
  EXPECT_EQ(t.num_columns(), 4u);
  EXPECT_EQ(t.column("x").type(), DType::kFloat64);
  EXPECT_TRUE(t.column("x").is_null(1));
  EXPECT_EQ(t.column("group").str(3), "g");
  EXPECT_EQ(dtype_name(t.column("group").type()), "object");
  auto m = t.column("x").f64_map();
  EXPECT_EQ(m.size(), 4);
  EXPECT_EQ(m.data(), t.column("x").f64().data());  // zero-copy view
}

TEST(TableTest, MissingColumnNamesAvailable) {
  Table t = make_table();
  try {
    (void)t.column("fram");
    FAIL();
  } catch (const SchemaError& e) {
    EXPECT_STREQ(e.what(), "table: missing column 'fram' (did you mean 'frame'?) (available: frame, id, x, group)");
  }
}

TEST(TableTest, StableSortKeepsTieOrderAndPutsNaNLast) {
  Table t = make_table();
  Table s = t.sort_by({"frame"});
  EXPECT_EQ(std::vector<int64_t>(s.column("frame").i64().begin(), s.column("frame").i64().end()),
            (std::vector<int64_t>{0, 0, 1, 2}));
  // frame 0 rows: original rows 1 (id 1) then 3 (id 0): stable.
  EXPECT_EQ(s.column("id").i64()[0], 1);
  EXPECT_EQ(s.column("id").i64()[1], 0);
  Table by_x = t.sort_by({"x"});
  EXPECT_TRUE(std::isnan(by_x.column("x").f64()[3]));
  Table multi = t.sort_by({"frame", "id"});
  EXPECT_EQ(multi.column("id").i64()[0], 0);
}

TEST(TableTest, SelectRenameSliceFilterShareOrCopy) {
  Table t = make_table();
  Table s = t.select({"x", "frame"});
  EXPECT_EQ(s.column_names(), (std::vector<std::string>{"x", "frame"}));
  EXPECT_EQ(s.column("x").f64().data(), t.column("x").f64().data());
  Table r = t.rename({{"x", "X"}});
  EXPECT_TRUE(r.has_column("X"));
  EXPECT_FALSE(r.has_column("x"));
  Table sl = t.slice(1, 2);
  EXPECT_EQ(sl.num_rows(), 2u);
  EXPECT_EQ(sl.column("frame").i64()[0], 0);
  std::vector<uint8_t> mask{1, 0, 0, 1};
  Table f = t.filter(mask);
  EXPECT_EQ(f.num_rows(), 2u);
  EXPECT_EQ(f.column("x").f64()[1], 0.5);
}

TEST(TableTest, MutableColumnCopiesOnWrite) {
  Table t = make_table();
  Table s = t.select({"x"});
  s.mutable_column("x").f64_mut()[0] = 99.0;
  EXPECT_EQ(t.column("x").f64()[0], 2.5);
  EXPECT_EQ(s.column("x").f64()[0], 99.0);
}

TEST(TableTest, ConcatMergesStringDictionaries) {
  Table a, b;
  a.add_column("s", Column::from_strings({"a", "b"}));
  a.add_column("v", Column::from_int32({1, 2}, {1, 0}));
  b.add_column("s", Column::from_strings({"c", "a"}));
  b.add_column("v", Column::from_int32({3, 4}));
  std::vector<Table> parts{a, b};
  Table c = Table::concat(parts);
  ASSERT_EQ(c.num_rows(), 4u);
  EXPECT_EQ(c.column("s").str(0), "a");
  EXPECT_EQ(c.column("s").str(2), "c");
  EXPECT_EQ(c.column("s").str(3), "a");
  EXPECT_TRUE(c.column("v").is_null(1));
  EXPECT_FALSE(c.column("v").is_null(2));
}

TEST(TableTest, ConcatRejectsDifferentSchemas) {
  Table a, b;
  a.add_column("s", Column::from_int64({1}));
  b.add_column("t", Column::from_int64({1}));
  std::vector<Table> parts{a, b};
  EXPECT_THROW(Table::concat(parts), SchemaError);
}

TEST(TableTest, InnerJoinKeepsLeftOrderAndCartesianProduct) {
  // pandas >= 2.2: left row order, then right row order within a key.
  Table left, right;
  left.add_column("frame", Column::from_int64({3, 1, 2, 1}));
  left.add_column("a", Column::from_float64({30, 10, 20, 11}));
  right.add_column("frame", Column::from_float64({1.0, 2.0, 1.0, 9.0}));
  right.add_column("b", Column::from_int64({100, 200, 101, 900}));
  Table j = left.inner_join(right, {"frame"});
  ASSERT_EQ(j.num_rows(), 5u);
  EXPECT_EQ(j.column_names(), (std::vector<std::string>{"frame", "a", "b"}));
  std::vector<double> a(j.column("a").f64().begin(), j.column("a").f64().end());
  std::vector<int64_t> b(j.column("b").i64().begin(), j.column("b").i64().end());
  EXPECT_EQ(a, (std::vector<double>{10, 10, 20, 11, 11}));
  EXPECT_EQ(b, (std::vector<int64_t>{100, 101, 200, 100, 101}));
}

TEST(TableTest, CastChecksIntegrality) {
  Column c = Column::from_float64({1.0, 2.5});
  EXPECT_THROW(c.cast(DType::kInt64), InputError);
  Column d = Column::from_float64({1.0, NAN}).cast(DType::kInt64);
  EXPECT_TRUE(d.is_null(1));
  EXPECT_EQ(d.i64()[0], 1);
}

TEST(TableTest, EmptyAndZeroColumnTables) {
  Table t;
  EXPECT_EQ(t.num_rows(), 0u);
  t.set_num_rows_without_columns(3);
  EXPECT_EQ(t.num_rows(), 3u);
  std::vector<Table> none;
  EXPECT_EQ(Table::concat(none).num_columns(), 0u);
}

}  // namespace
}  // namespace mosaic
