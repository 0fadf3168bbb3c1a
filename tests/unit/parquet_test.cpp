#include "mosaic/parquet.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>

// DuckDB's header is on the include path only when the test target links mosaic_duckdb; the test
// that writes exotic column types through SQL needs it and is skipped otherwise.
#if __has_include(<duckdb.h>)
#include "io/duckdb_connection.hpp"
#define MOSAIC_TEST_HAS_DUCKDB 1
#endif
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"

namespace fs = std::filesystem;

namespace mosaic {
namespace {

class ParquetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / (std::string("mosaic_parquet_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

template <typename Fn>
std::string error_text(Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::vector<std::string> file_names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Every dtype, with missing values in each.
Table all_types_table() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Table t;
  t.add_column("frame", Column::from_int64({0, 1, 2, 3, 4}));
  t.add_column("f64", Column::from_float64({0.1, nan, -0.0, 1e300, -std::numeric_limits<double>::infinity()}));
  t.add_column("f32", Column::from_float32({0.5f, 1.25f, std::nanf(""), -3.0f, 1e-30f}));
  t.add_column("i64", Column::from_int64({-1, std::numeric_limits<int64_t>::max(), 0, 7, std::numeric_limits<int64_t>::min()},
                                         {1, 1, 0, 1, 1}));
  t.add_column("i32", Column::from_int32({1, 2, 3, -4, 5}, {1, 0, 1, 1, 1}));
  t.add_column("i8", Column::from_int8({-128, 127, 0, 1, 2}));
  t.add_column("b", Column::from_bool({1, 0, 1, 0, 1}, {1, 1, 1, 0, 1}));
  // Empty string, null, unicode, and one long enough not to be inlined by DuckDB (> 12 bytes).
  t.add_column("s", Column::from_dictionary({"", "souris \xC3\xA9\xE2\x9C\x93", "a rather long string value", "x"},
                                            {0, -1, 1, 2, 3}));
  return t;
}

TEST_F(ParquetTest, RoundTripEveryDtype) {
  Table t = all_types_table();
  fs::path p = dir_ / "all.parquet";
  write_parquet(t, p);
  Table back = read_parquet(p);
  EXPECT_EQ(back.column_names(), t.column_names());
  for (std::size_t c = 0; c < t.num_columns(); ++c) {
    EXPECT_EQ(back.column(c).type(), t.column(c).type()) << t.column_names()[c];
    EXPECT_TRUE(back.column(c).equals(t.column(c))) << t.column_names()[c];
  }
  EXPECT_TRUE(std::signbit(back.column("f64").f64()[2]));  // -0.0 survives
  // Empty string and null string stay different.
  EXPECT_FALSE(back.column("s").is_null(0));
  EXPECT_EQ(back.column("s").str(0), "");
  EXPECT_TRUE(back.column("s").is_null(1));
  EXPECT_EQ(back.column("s").str(3), "a rather long string value");
  EXPECT_EQ(parquet_row_count(p), 5);
  auto schema = parquet_schema(p);
  ASSERT_EQ(schema.size(), t.num_columns());
  EXPECT_EQ(schema[1], (std::pair<std::string, DType>{"f64", DType::kFloat64}));
  EXPECT_EQ(schema[6], (std::pair<std::string, DType>{"b", DType::kBool}));
  EXPECT_EQ(schema[7], (std::pair<std::string, DType>{"s", DType::kString}));
}

TEST_F(ParquetTest, LargerTableAcrossChunksAndRowGroups) {
  const std::size_t n = 300000;  // several 2048-row vectors and three row groups
  std::vector<int64_t> frame(n), id(n);
  std::vector<double> x(n);
  std::vector<std::string> group(n);
  std::vector<uint8_t> valid(n, 1);
  for (std::size_t i = 0; i < n; ++i) {
    frame[i] = static_cast<int64_t>(i / 4);
    id[i] = static_cast<int64_t>(i % 4);
    x[i] = i % 97 == 0 ? std::nan("") : 0.5 * static_cast<double>(i);
    group[i] = i < n / 2 ? "g1" : "a group name longer than twelve bytes";
    if (i % 1001 == 0) valid[i] = 0;
  }
  Table t;
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("id", Column::from_int64(id, valid));
  t.add_column("x", Column::from_float64(x));
  t.add_column("group", Column::from_strings(group));
  fs::path p = dir_ / "big.parquet";
  write_parquet(t, p);
  Table back = read_parquet(p);
  EXPECT_TRUE(back.equals(t));
  EXPECT_EQ(back.column("group").dictionary().size(), 2u);
}

TEST_F(ParquetTest, ProjectionAndFrameRange) {
  Table t = all_types_table();
  fs::path p = dir_ / "t.parquet";
  write_parquet(t, p);
  ParquetReadOptions opts;
  opts.columns = {"s", "frame"};
  opts.frame_start = 1;
  opts.frame_end = 4;
  Table back = read_parquet(p, opts);
  EXPECT_EQ(back.column_names(), (std::vector<std::string>{"s", "frame"}));
  ASSERT_EQ(back.num_rows(), 3u);
  EXPECT_EQ(back.column("frame").i64()[0], 1);
  EXPECT_EQ(back.column("frame").i64()[2], 3);
  EXPECT_TRUE(back.column("s").is_null(0));
  // Only an end, only a start; the frame column need not be projected.
  opts = {};
  opts.columns = {"f32"};
  opts.frame_end = 2;
  EXPECT_EQ(read_parquet(p, opts).num_rows(), 2u);
  opts.frame_end.reset();
  opts.frame_start = 4;
  EXPECT_EQ(read_parquet(p, opts).num_rows(), 1u);
}

TEST_F(ParquetTest, MissingColumnIsASchemaErrorNamingFileAndColumn) {
  fs::path p = dir_ / "t.parquet";
  write_parquet(all_types_table(), p);
  ParquetReadOptions opts;
  opts.columns = {"frame", "f65"};
  std::string msg = error_text([&] { read_parquet(p, opts); });
  EXPECT_EQ(msg, p.string() + ": missing column 'f65' (did you mean 'f64'?) (available: frame, f64, f32, i64, i32, i8, b, s)");
  EXPECT_THROW(read_parquet(p, opts), SchemaError);
  ParquetReadOptions range;
  range.frame_column = "time";
  range.frame_start = 0;
  EXPECT_THROW(read_parquet(p, range), SchemaError);
  EXPECT_TRUE(contains(error_text([&] { read_parquet(p, range); }), "missing column 'time'"));
  range.frame_column = "s";
  EXPECT_EQ(error_text([&] { read_parquet(p, range); }),
            p.string() + ": column 's' has type VARCHAR, expected an integer frame number");
}

TEST_F(ParquetTest, MissingCorruptAndTruncatedFilesAreIoErrorsNamingTheFile) {
  fs::path missing = dir_ / "missing.parquet";
  EXPECT_EQ(error_text([&] { read_parquet(missing); }), missing.string() + ": no such file");
  EXPECT_THROW(parquet_row_count(missing), IoError);

  fs::path junk = dir_ / "junk.parquet";
  write_file_atomic(junk, "this is not a parquet file at all, just some text");
  EXPECT_THROW(read_parquet(junk), IoError);
  EXPECT_TRUE(contains(error_text([&] { read_parquet(junk); }), junk.string()));
  EXPECT_THROW(parquet_row_count(junk), IoError);
  EXPECT_THROW(parquet_key_value_metadata(junk), IoError);

  fs::path good = dir_ / "good.parquet";
  write_parquet(all_types_table(), good);
  std::string bytes = read_file_text(good);
  fs::path truncated = dir_ / "truncated.parquet";
  write_file_atomic(truncated, std::string_view(bytes).substr(0, bytes.size() / 2));
  EXPECT_THROW(read_parquet(truncated), IoError);
  EXPECT_TRUE(contains(error_text([&] { read_parquet(truncated); }), truncated.string()));
  EXPECT_THROW(parquet_schema(truncated), IoError);

  fs::path empty = dir_ / "empty.parquet";
  write_file_atomic(empty, "");
  EXPECT_THROW(read_parquet(empty), IoError);
}

TEST_F(ParquetTest, DamagedDataPageFailsTheReadInsteadOfTruncatingIt) {
  // The footer is intact, so the error only shows while chunks stream in.
  std::vector<double> x(300000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i) * 1.1;
  Table t;
  t.add_column("x", Column::from_float64(x));
  fs::path good = dir_ / "good.parquet";
  write_parquet(t, good);
  std::string bytes = read_file_text(good);
  for (std::size_t i = 0; i < 64; ++i) bytes[bytes.size() / 2 + i] = '\x7F';
  fs::path damaged = dir_ / "damaged.parquet";
  write_file_atomic(damaged, bytes);
  EXPECT_EQ(parquet_row_count(damaged), 300000);
  std::string msg = error_text([&] { read_parquet(damaged); });
  EXPECT_EQ(msg.rfind(damaged.string() + ": ", 0), 0u) << msg;
  EXPECT_THROW(read_parquet(damaged), IoError);
}

TEST_F(ParquetTest, ZeroRowTableKeepsSchema) {
  Table t;
  t.add_column("frame", Column::from_int64({}));
  t.add_column("x", Column::from_float32({}));
  t.add_column("group", Column::from_strings({}));
  t.add_column("ok", Column::from_bool({}));
  fs::path p = dir_ / "zero_rows.parquet";
  write_parquet(t, p);
  Table back = read_parquet(p);
  EXPECT_EQ(back.num_rows(), 0u);
  EXPECT_EQ(back.column_names(), t.column_names());
  EXPECT_EQ(back.column("x").type(), DType::kFloat32);
  EXPECT_EQ(back.column("group").type(), DType::kString);
  EXPECT_EQ(back.column("ok").type(), DType::kBool);
  EXPECT_EQ(parquet_row_count(p), 0);
}

TEST_F(ParquetTest, ZeroColumnTableGivesAReadableFile) {
  fs::path p = dir_ / "zero_cols.parquet";
  write_parquet(Table(), p);
  Table back = read_parquet(p);
  EXPECT_EQ(back.num_columns(), 0u);
  EXPECT_EQ(back.num_rows(), 0u);
  EXPECT_EQ(parquet_row_count(p), 0);
  EXPECT_TRUE(parquet_schema(p).empty());

  // pandas allows rows without columns; the row count survives in the footer.
  Table rows_only;
  rows_only.set_num_rows_without_columns(3);
  fs::path p3 = dir_ / "zero_cols_3_rows.parquet";
  write_parquet(rows_only, p3, {.key_value_metadata = {{"k", "v"}}});
  EXPECT_EQ(read_parquet(p3).num_rows(), 3u);
  EXPECT_EQ(parquet_row_count(p3), 3);
  EXPECT_EQ(parquet_key_value_metadata(p3), (std::vector<std::pair<std::string, std::string>>{{"k", "v"}}));
  ParquetReadOptions opts;
  opts.columns = {"frame"};
  EXPECT_EQ(error_text([&] { read_parquet(p3, opts); }), p3.string() + ": missing column 'frame' (available: none)");
}

TEST_F(ParquetTest, IdenticalTablesGiveIdenticalBytes) {
  Table t = all_types_table();
  fs::path a = dir_ / "a.parquet", b = dir_ / "b.parquet";
  write_parquet(t, a);
  write_parquet(t, b);
  EXPECT_EQ(read_file_text(a), read_file_text(b));
  // A rewrite over an existing file gives the same bytes too, and leaves no temporary behind.
  write_parquet(t, a);
  EXPECT_EQ(read_file_text(a), read_file_text(b));
  // Same values through a different dictionary order: same bytes.
  Table u = t.select({"frame"});
  u.add_column("s", Column::from_dictionary({"a rather long string value", "souris \xC3\xA9\xE2\x9C\x93", "x", ""},
                                            {3, -1, 1, 0, 2}));
  Table v = t.select({"frame", "s"});
  fs::path c = dir_ / "c.parquet", d = dir_ / "d.parquet";
  write_parquet(u, c);
  write_parquet(v, d);
  EXPECT_EQ(read_file_text(c), read_file_text(d));
  EXPECT_EQ(file_names(dir_), (std::vector<std::string>{"a.parquet", "b.parquet", "c.parquet", "d.parquet"}));
}

TEST_F(ParquetTest, FailedWriteLeavesNoTemporaryAndKeepsTheOldFile) {
  fs::path p = dir_ / "keep.parquet";
  write_parquet(all_types_table(), p);
  const std::string before = read_file_text(p);
  // Writing into a missing directory fails inside DuckDB; nothing may appear anywhere.
  fs::path bad = dir_ / "no_such_dir" / "x.parquet";
  EXPECT_THROW(write_parquet(all_types_table(), bad), IoError);
  EXPECT_TRUE(contains(error_text([&] { write_parquet(all_types_table(), bad); }), bad.string()));
  EXPECT_EQ(file_names(dir_), (std::vector<std::string>{"keep.parquet"}));
  EXPECT_EQ(read_file_text(p), before);
}

TEST_F(ParquetTest, CompressionAndKeyValueMetadata) {
  Table t = all_types_table();
  fs::path z = dir_ / "z.parquet", u = dir_ / "u.parquet";
  write_parquet(t, z, {.compression = ParquetCompression::kZstd,
                       .key_value_metadata = {{"pandas", "{\"attrs\": {}}"}, {"it's", "quote'd"}}});
  write_parquet(t, u, {.compression = ParquetCompression::kUncompressed, .key_value_metadata = {}});
  EXPECT_TRUE(read_parquet(z).equals(t));
  EXPECT_TRUE(read_parquet(u).equals(t));
  auto kv = parquet_key_value_metadata(z);
  EXPECT_NE(std::find(kv.begin(), kv.end(), std::pair<std::string, std::string>{"pandas", "{\"attrs\": {}}"}), kv.end());
  EXPECT_NE(std::find(kv.begin(), kv.end(), std::pair<std::string, std::string>{"it's", "quote'd"}), kv.end());
}

TEST_F(ParquetTest, AwkwardNamesAndPaths) {
  Table t;
  t.add_column("x", Column::from_float64({1.0}));
  t.add_column("X_1", Column::from_float64({2.0}));
  t.add_column("we\"ird, 'name'", Column::from_int64({3}));
  t.add_column("\xC3\xA9t\xC3\xA9", Column::from_int64({4}));
  fs::path p = dir_ / "it's a \"path\" with spaces.parquet";
  write_parquet(t, p);
  Table back = read_parquet(p);
  EXPECT_EQ(back.column_names(), t.column_names());
  EXPECT_TRUE(back.equals(t));
  ParquetReadOptions opts;
  opts.columns = {"X_1", "we\"ird, 'name'"};
  Table sel = read_parquet(p, opts);
  EXPECT_EQ(sel.column("X_1").f64()[0], 2.0);
}

TEST_F(ParquetTest, NamesDifferingOnlyInCase) {
  // DuckDB binds identifiers case-insensitively ("x", "X" would become "x", "X_1"); the exact
  // names must still reach the file and come back.
  Table t;
  t.add_column("x", Column::from_float64({1.0, 2.0}));
  t.add_column("X", Column::from_float64({3.0, 4.0}));
  t.add_column("frame", Column::from_int64({5, 6}));
  t.add_column("FRAME", Column::from_strings({"a", "b"}));
  fs::path p = dir_ / "case.parquet";
  write_parquet(t, p);
  Table back = read_parquet(p);
  EXPECT_EQ(back.column_names(), t.column_names());
  EXPECT_TRUE(back.equals(t));
  ParquetReadOptions opts;
  opts.columns = {"X", "FRAME"};
  opts.frame_start = 6;
  Table sel = read_parquet(p, opts);
  ASSERT_EQ(sel.num_rows(), 1u);
  EXPECT_EQ(sel.column("X").f64()[0], 4.0);
  EXPECT_EQ(sel.column("FRAME").str(0), "b");
  auto schema = parquet_schema(p);
  EXPECT_EQ(schema[1].first, "X");
  EXPECT_EQ(schema[3], (std::pair<std::string, DType>{"FRAME", DType::kString}));
  // Deterministic as well.
  fs::path q = dir_ / "case2.parquet";
  write_parquet(t, q);
  EXPECT_EQ(read_file_text(p), read_file_text(q));
}

TEST_F(ParquetTest, ConcurrentReadsAndWritesFromSeveralThreads) {
  Table t = all_types_table();
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int k = 0; k < 10; ++k) {
        fs::path p = dir_ / ("w" + std::to_string(w) + ".parquet");
        write_parquet(t, p);
        if (!read_parquet(p).equals(t)) return;
      }
      ok[static_cast<std::size_t>(w)] = 1;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, (std::vector<int>{1, 1, 1, 1}));
}

TEST_F(ParquetTest, WidensOtherTypesAndRefusesNestedOnes) {
#ifndef MOSAIC_TEST_HAS_DUCKDB
  GTEST_SKIP() << "needs duckdb.h (link the unit tests with mosaic_duckdb)";
#else
  fs::path p = dir_ / "types.parquet";
  io::thread_connection().query(
      "COPY (SELECT 1::SMALLINT AS small, 200::UTINYINT AS ubyte, 4000000000::UINTEGER AS uint, "
      "TIMESTAMP_NS '2020-01-01 00:00:00.000000001' AS ts_ns, TIMESTAMP '2020-01-01 00:00:01' AS ts_us, "
      "DATE '2020-01-02' AS day, 12.5::DECIMAL(10,2) AS dec, [1, 2] AS list, NULL::SMALLINT AS null_small) TO " +
          io::sql_string(p.string()) + " (FORMAT parquet)",
      p.string());
  ParquetReadOptions opts;
  opts.columns = {"small", "ubyte", "uint", "ts_ns", "ts_us", "day", "dec", "null_small"};
  Table t = read_parquet(p, opts);
  for (const auto* name : {"small", "ubyte", "uint", "ts_ns", "ts_us", "day", "null_small"})
    EXPECT_EQ(t.column(name).type(), DType::kInt64) << name;
  EXPECT_EQ(t.column("uint").i64()[0], 4000000000LL);
  EXPECT_EQ(t.column("ts_ns").i64()[0], 1577836800000000001LL);
  EXPECT_EQ(t.column("ts_us").i64()[0], 1577836801000000000LL);
  EXPECT_EQ(t.column("day").i64()[0], 1577923200000000000LL);
  EXPECT_EQ(t.column("dec").type(), DType::kFloat64);
  EXPECT_EQ(t.column("dec").f64()[0], 12.5);
  EXPECT_TRUE(t.column("null_small").is_null(0));
  EXPECT_EQ(error_text([&] { read_parquet(p); }),
            p.string() + ": column 'list' has type LIST, which mosaic cannot read (expected numbers, booleans, "
                         "strings or timestamps)");
  EXPECT_THROW(parquet_schema(p), SchemaError);
#endif
}

// ---- Files written by pandas / pyarrow --------------------------------------------------------------

fs::path pandas_dir() { return fs::path(MOSAIC_SOURCE_DIR) / ".." / "shared" / "data" / "pandas_parquet"; }

TEST_F(ParquetTest, ReadsPandasFileAndDropsIndexLevelColumns) {
  if (!fs::exists(pandas_dir())) GTEST_SKIP() << "needs ../shared/data (absent)";
  fs::path p = pandas_dir() / "v0.7.1.parquet";
  Table t = read_parquet(p);
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"carat", "cut", "color", "clarity", "depth", "table", "price",
                                                        "x", "y", "z"}));
  EXPECT_EQ(t.column("price").type(), DType::kInt64);
  EXPECT_EQ(t.column("cut").type(), DType::kString);
  EXPECT_EQ(t.column("cut").str(0), "Ideal");
  EXPECT_DOUBLE_EQ(t.column("carat").f64()[0], 0.23);
  EXPECT_EQ(static_cast<int64_t>(t.num_rows()), parquet_row_count(p));
  auto schema = parquet_schema(p);
  EXPECT_EQ(schema.size(), 10u);  // __index_level_0__ dropped here too
  auto kv = parquet_key_value_metadata(p);
  ASSERT_FALSE(kv.empty());
  EXPECT_EQ(kv[0].first, "pandas");
  EXPECT_TRUE(contains(kv[0].second, "\"index_columns\""));
}

TEST_F(ParquetTest, ReadsPandasTimestampsAndKeepsARealIndexColumn) {
  if (!fs::exists(pandas_dir())) GTEST_SKIP() << "needs ../shared/data (absent)";
  fs::path p = pandas_dir() / "v0.7.1.column-metadata-handling.parquet";
  Table t = read_parquet(p);
  // `index` is a real column (kept); `__index_level_1__` is pandas' unnamed index (dropped).
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"a", "b", "c", "index"}));
  EXPECT_EQ(t.column("c").type(), DType::kInt64);
  // 2016-12-31 23:00:00 as nanoseconds since the epoch.
  EXPECT_EQ(t.column("c").i64()[0], 1483225200LL * 1000000000LL);
  EXPECT_EQ(t.column("index").str(2), "c");
  ParquetReadOptions opts;
  opts.columns = {"index", "c"};
  EXPECT_EQ(read_parquet(p, opts).column_names(), (std::vector<std::string>{"index", "c"}));
}

TEST_F(ParquetTest, ReadsOtherPandasIndexLayouts) {
  if (!fs::exists(pandas_dir())) GTEST_SKIP() << "needs ../shared/data (absent)";
  Table named = read_parquet(pandas_dir() / "v0.7.1.all-named-index.parquet");
  EXPECT_EQ(named.num_columns(), 10u);
  Table some = read_parquet(pandas_dir() / "v0.7.1.some-named-index.parquet");
  EXPECT_FALSE(some.has_column("__index_level_1__"));
  EXPECT_TRUE(some.has_column("cut"));
  // A pandas file rewritten by us reads back identically.
  fs::path out = dir_ / "rewrite.parquet";
  write_parquet(named, out);
  EXPECT_TRUE(read_parquet(out).equals(named));
}

}  // namespace
}  // namespace mosaic
