#include "mosaic/csv.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <unistd.h>

#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"

namespace fs = std::filesystem;

namespace mosaic {
namespace {

// A fresh directory per test, removed afterwards.
class CsvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           fmt_name(std::string("mosaic_csv_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string fmt_name(std::string s) {
    for (char& c : s)
      if (c == '/') c = '_';
    return s;
  }
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

std::size_t count_files(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

// ---- Type inference --------------------------------------------------------------------------------

TEST_F(CsvTest, InfersPandasTypes) {
  Table t = parse_csv(
      "i,f,b,s,mixed,int_with_gap,all_empty\n"
      "1,0.5,True,a,1,7,\n"
      "-2,1e-05,False,b,x,,\n"
      "+3,inf,TRUE,a,2.5,9,\n",
      "mem.csv");
  ASSERT_EQ(t.num_rows(), 3u);
  EXPECT_EQ(t.column("i").type(), DType::kInt64);
  EXPECT_EQ(t.column("i").i64()[2], 3);
  EXPECT_EQ(t.column("f").type(), DType::kFloat64);
  EXPECT_DOUBLE_EQ(t.column("f").f64()[1], 1e-05);
  EXPECT_TRUE(std::isinf(t.column("f").f64()[2]));
  EXPECT_EQ(t.column("b").type(), DType::kBool);
  EXPECT_EQ(t.column("b").bools()[2], 1);
  EXPECT_EQ(t.column("s").type(), DType::kString);
  EXPECT_EQ(t.column("s").str(1), "b");
  // A column mixing numbers and text is text, and keeps the text as written.
  EXPECT_EQ(t.column("mixed").type(), DType::kString);
  EXPECT_EQ(t.column("mixed").str(2), "2.5");
  // pandas: an integer column with a missing cell becomes float64 with NaN.
  EXPECT_EQ(t.column("int_with_gap").type(), DType::kFloat64);
  EXPECT_TRUE(std::isnan(t.column("int_with_gap").f64()[1]));
  EXPECT_EQ(t.column("int_with_gap").f64()[2], 9.0);
  // pandas: an all-missing column is float64.
  EXPECT_EQ(t.column("all_empty").type(), DType::kFloat64);
}

TEST_F(CsvTest, AcceptsNanAndInfinitySpellings) {
  Table t = parse_csv("x\nnan\nNaN\ninf\n-inf\nInfinity\n-Infinity\n+1.5\n1.\n.5\nNA\n", "mem.csv");
  // Every one of pandas' default NA spellings is missing, even in a column that is otherwise text.
  Table na = parse_csv("s\nword\n#N/A\n#N/A N/A\n#NA\n-1.#IND\n-1.#QNAN\n-NaN\n-nan\n1.#IND\n1.#QNAN\n<NA>\nN/A\nNA\n"
                       "NULL\nNaN\nNone\nn/a\nnan\nnull\n",
                       "mem.csv");
  ASSERT_EQ(na.column("s").type(), DType::kString);
  EXPECT_EQ(na.column("s").null_count(), na.num_rows() - 1);
  ASSERT_EQ(t.column("x").type(), DType::kFloat64);
  auto x = t.column("x").f64();
  EXPECT_TRUE(std::isnan(x[0]));
  EXPECT_TRUE(std::isnan(x[1]));
  EXPECT_EQ(x[2], std::numeric_limits<double>::infinity());
  EXPECT_EQ(x[3], -std::numeric_limits<double>::infinity());
  EXPECT_EQ(x[4], std::numeric_limits<double>::infinity());
  EXPECT_EQ(x[5], -std::numeric_limits<double>::infinity());
  EXPECT_EQ(x[6], 1.5);
  EXPECT_EQ(x[7], 1.0);
  EXPECT_EQ(x[8], 0.5);
  EXPECT_TRUE(std::isnan(x[9]));
}

TEST_F(CsvTest, BoolWithMissingUsesValidity) {
  Table t = parse_csv("b\nTrue\n\nfalse\n", "mem.csv");
  // The blank line is skipped (pandas skip_blank_lines), so there are two rows.
  ASSERT_EQ(t.num_rows(), 2u);
  t = parse_csv("a,b\n1,True\n2,\n3,false\n", "mem.csv");
  ASSERT_EQ(t.column("b").type(), DType::kBool);
  EXPECT_FALSE(t.column("b").is_null(0));
  EXPECT_TRUE(t.column("b").is_null(1));
  EXPECT_EQ(t.column("b").bools()[2], 0);
}

TEST_F(CsvTest, StringsMissingVsEmpty) {
  Table t = parse_csv("s,t\n\"\",x\n,y\n\"a,b\",z\n", "mem.csv");
  ASSERT_EQ(t.column("s").type(), DType::kString);
  // pandas reads both an empty quoted cell and an empty cell as missing.
  EXPECT_TRUE(t.column("s").is_null(0));
  EXPECT_TRUE(t.column("s").is_null(1));
  EXPECT_EQ(t.column("s").str(2), "a,b");
}

TEST_F(CsvTest, QuotesCommasNewlinesAndCrlf) {
  Table t = parse_csv(
      "name,value\r\n"
      "\"say \"\"hi\"\"\",1\r\n"
      "\"two\nlines\",2\r\n"
      "\"a,b\",3\r\n"
      "plain,4",
      "mem.csv");
  ASSERT_EQ(t.num_rows(), 4u);
  EXPECT_EQ(t.column("name").str(0), "say \"hi\"");
  EXPECT_EQ(t.column("name").str(1), "two\nlines");
  EXPECT_EQ(t.column("name").str(2), "a,b");
  EXPECT_EQ(t.column("name").str(3), "plain");
  EXPECT_EQ(t.column("value").type(), DType::kInt64);
  EXPECT_EQ(t.column("value").i64()[3], 4);
}

TEST_F(CsvTest, UnicodeAndBom) {
  Table t = parse_csv("\xEF\xBB\xBFgroup,x\nsouris \xC3\xA9\xE2\x9C\x93,1\n", "mem.csv");
  EXPECT_EQ(t.column_names()[0], "group");
  EXPECT_EQ(t.column("group").str(0), "souris \xC3\xA9\xE2\x9C\x93");
}

TEST_F(CsvTest, HeaderOnlyGivesZeroRowStringColumns) {
  Table t = parse_csv("a,b\n", "mem.csv");
  EXPECT_EQ(t.num_rows(), 0u);
  ASSERT_EQ(t.num_columns(), 2u);
  EXPECT_EQ(t.column("a").type(), DType::kString);
}

TEST_F(CsvTest, DuplicateAndEmptyHeadersAreMangledLikePandas) {
  Table t = parse_csv("a,a,,a\n1,2,3,4\n", "mem.csv");
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"a", "a.1", "Unnamed: 2", "a.2"}));
}

TEST_F(CsvTest, ForcedDtypes) {
  CsvReadOptions opts;
  opts.dtypes = {{"seq", DType::kString}, {"n", DType::kInt32}, {"f", DType::kFloat32}, {"absent", DType::kBool}};
  Table t = parse_csv("seq,n,f\n001,1,0.5\n002,,2\n", "mem.csv", opts);
  EXPECT_EQ(t.column("seq").type(), DType::kString);
  EXPECT_EQ(t.column("seq").str(0), "001");
  EXPECT_EQ(t.column("n").type(), DType::kInt32);
  EXPECT_TRUE(t.column("n").is_null(1));
  EXPECT_EQ(t.column("f").type(), DType::kFloat32);
  EXPECT_EQ(t.column("f").f32()[1], 2.0f);
}

TEST_F(CsvTest, ForcedDtypeThatDoesNotParseNamesLineAndColumn) {
  CsvReadOptions opts;
  opts.dtypes = {{"n", DType::kInt64}};
  EXPECT_EQ(error_text([&] { parse_csv("a,n\n1,2\n2,2.5\n", "tracks.csv", opts); }),
            "tracks.csv: line 3, column 'n': cannot parse '2.5' as int64");
  opts.dtypes = {{"n", DType::kInt8}};
  EXPECT_EQ(error_text([&] { parse_csv("n\n300\n", "tracks.csv", opts); }),
            "tracks.csv: line 2, column 'n': cannot parse '300' as int8");
  EXPECT_THROW(parse_csv("n\nabc\n", "tracks.csv", opts), InputError);
}

TEST_F(CsvTest, RaggedRowsNameFileLineAndColumn) {
  EXPECT_EQ(error_text([] { parse_csv("a,b,c\n1,2,3\n\"x\ny\",2\n", "t.csv"); }),
            "t.csv: line 3: expected 3 fields (as in the header), got 2 (column 'c' is missing)");
  EXPECT_EQ(error_text([] { parse_csv("a,b\n1,2\n1,2,3\n", "t.csv"); }),
            "t.csv: line 3: expected 2 fields (as in the header), got 3");
  EXPECT_THROW(parse_csv("a,b\n1\n", "t.csv"), InputError);
}

TEST_F(CsvTest, UnterminatedQuote) {
  EXPECT_EQ(error_text([] { parse_csv("a,b\n1,\"open\n2,3\n", "t.csv"); }),
            "t.csv: line 2: unterminated quoted field (a '\"' opened here is never closed)");
}

TEST_F(CsvTest, EmptyFileIsAnIoError) {
  fs::path p = dir_ / "empty.csv";
  write_file_atomic(p, "");
  EXPECT_EQ(error_text([&] { read_csv(p); }), p.string() + ": empty file");
  EXPECT_THROW(read_csv(p), IoError);
  EXPECT_THROW(read_csv(dir_ / "missing.csv"), IoError);
  EXPECT_THROW(parse_csv("\n\n", "blank.csv"), IoError);
}

// ---- Writing ----------------------------------------------------------------------------------------

TEST_F(CsvTest, FormatMatchesPandasToCsvWithPercent17g) {
  Table t;
  t.add_column("frame", Column::from_int64({0, 1, 2}, {1, 0, 1}));
  t.add_column("x", Column::from_float64({0.1, NAN, -2.0}));
  t.add_column("f32", Column::from_float32({0.1f, NAN, 1e-5f}));
  t.add_column("ok", Column::from_bool({1, 0, 1}, {1, 1, 0}));
  t.add_column("name", Column::from_strings({"a,b", "say \"hi\"", "line\nbreak"}));
  EXPECT_EQ(format_csv(t),
            "frame,x,f32,ok,name\n"
            "0,0.10000000000000001,0.10000000149011612,True,\"a,b\"\n"
            ",,,False,\"say \"\"hi\"\"\"\n"
            "2,-2,9.9999997473787516e-06,,\"line\nbreak\"\n");
}

TEST_F(CsvTest, FormatPythonReprWhenDigitsIsZero) {
  Table t;
  t.add_column("x", Column::from_float64({0.1, 1e-05, 1.0, 1e16, 123456.789, -0.0, 0.0001, INFINITY, 1.5e300}));
  CsvWriteOptions opts;
  opts.float_significant_digits = 0;
  EXPECT_EQ(format_csv(t, opts), "x\n0.1\n1e-05\n1.0\n1e+16\n123456.789\n-0.0\n0.0001\ninf\n1.5e+300\n");
}

TEST_F(CsvTest, SingleColumnEmptyCellIsQuotedLikePythonCsv) {
  Table t;
  t.add_column("s", Column::from_strings({"a", ""}));
  EXPECT_EQ(format_csv(t), "s\na\n\"\"\n");
  // and it reads back as a row rather than a skipped blank line
  EXPECT_EQ(parse_csv(format_csv(t), "mem.csv").num_rows(), 2u);
}

TEST_F(CsvTest, RoundTripThroughFileIsExact) {
  Table t;
  t.add_column("frame", Column::from_int64({0, 1, 2, 3}));
  t.add_column("x", Column::from_float64({0.1, NAN, 1.0 / 3.0, -1e-300}));
  t.add_column("ok", Column::from_bool({1, 0, 1, 1}));
  t.add_column("g", Column::from_strings({"g\xC3\xA9", "b,c", "", "d"}));
  fs::path p = dir_ / "t.csv";
  write_csv(t, p);
  EXPECT_EQ(count_files(dir_), 1u);  // no temporary left behind
  Table back = read_csv(p);
  EXPECT_EQ(back.column("frame").type(), DType::kInt64);
  EXPECT_TRUE(back.column("x").equals(t.column("x")));  // %.17g round-trips every double
  EXPECT_TRUE(back.column("ok").equals(t.column("ok")));
  EXPECT_EQ(back.column("g").str(1), "b,c");
  EXPECT_TRUE(back.column("g").is_null(2));  // empty string reads back as missing, as in pandas
}

TEST_F(CsvTest, CsvQuote) {
  EXPECT_EQ(csv_quote("plain"), "plain");
  EXPECT_EQ(csv_quote("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_quote("q\"q"), "\"q\"\"q\"");
  EXPECT_EQ(csv_quote("cr\rx"), "\"cr\rx\"");
  EXPECT_EQ(csv_quote(" lead space"), " lead space");
  EXPECT_EQ(csv_quote(""), "");
}

// ---- TextCsv ------------------------------------------------------------------------------------------

TEST_F(CsvTest, TextCsvKeepsCellsVerbatimAndRoundTripsBytes) {
  const std::string text =
      "run_id,version,params_hash,sequence,note,extra\n"
      "0.10-abc,0.10,0123456789,001,\"a, b\",\n"
      "0.1-def,0.1,99,1,\"say \"\"x\"\"\",z\n"
      "x,,,\"multi\nline\",,\n";
  TextCsv csv = TextCsv::parse(text, "index.csv");
  ASSERT_EQ(csv.rows.size(), 3u);
  EXPECT_EQ(csv.cell(0, "version"), "0.10");
  EXPECT_EQ(csv.cell(0, "params_hash"), "0123456789");
  EXPECT_EQ(csv.cell(0, "sequence"), "001");
  EXPECT_EQ(csv.cell(0, "note"), "a, b");
  EXPECT_EQ(csv.cell(1, "note"), "say \"x\"");
  EXPECT_EQ(csv.cell(2, "sequence"), "multi\nline");
  EXPECT_EQ(csv.cell(2, "nope"), "");
  EXPECT_EQ(csv.cell(99, "version"), "");
  EXPECT_EQ(csv.format(), text);
}

TEST_F(CsvTest, TextCsvShortRowsAndCrlf) {
  TextCsv csv = TextCsv::parse("a,b,c\r\n1,2\r\n4,5,6\r\n", "index.csv");
  ASSERT_EQ(csv.rows.size(), 2u);
  EXPECT_EQ(csv.rows[0].size(), 3u);  // padded
  EXPECT_EQ(csv.cell(0, "c"), "");
  EXPECT_EQ(csv.format(), "a,b,c\n1,2,\n4,5,6\n");
  EXPECT_EQ(error_text([] { TextCsv::parse("a\n1,2\n", "index.csv"); }),
            "index.csv: line 2: expected at most 1 fields (as in the header), got 2");
}

TEST_F(CsvTest, TextCsvEnsureColumnAndWriteAtomic) {
  TextCsv csv = TextCsv::parse("b,a\n1,2\n", "index.csv");
  EXPECT_EQ(csv.ensure_column("a"), 1u);
  EXPECT_EQ(csv.ensure_column("new"), 2u);
  EXPECT_EQ(csv.rows[0].size(), 3u);
  csv.rows.push_back({"3"});  // a short row added by a caller is padded on output
  csv.rows[0][2] = "x";
  fs::path p = dir_ / "index.csv";
  csv.write_atomic(p);
  EXPECT_EQ(read_file_text(p), "b,a,new\n1,2,x\n3,,\n");
  EXPECT_EQ(count_files(dir_), 1u);
  TextCsv back = TextCsv::read(p);
  EXPECT_EQ(back.header, csv.header);
  EXPECT_EQ(back.cell(1, "b"), "3");
}

TEST_F(CsvTest, TextCsvEmptyAndMissingFiles) {
  fs::path p = dir_ / "empty.csv";
  write_file_atomic(p, "");
  TextCsv csv = TextCsv::read(p);
  EXPECT_TRUE(csv.header.empty());
  EXPECT_TRUE(csv.rows.empty());
  EXPECT_EQ(csv.format(), "");
  EXPECT_THROW(TextCsv::read(dir_ / "missing.csv"), IoError);
  EXPECT_NE(error_text([&] { TextCsv::read(dir_ / "missing.csv"); }).find("missing.csv"), std::string::npos);
}

TEST_F(CsvTest, TextCsvOneColumnEmptyCells) {
  const std::string text = "seq\n\"\"\na\n";
  TextCsv csv = TextCsv::parse(text, "index.csv");
  ASSERT_EQ(csv.rows.size(), 2u);
  EXPECT_EQ(csv.rows[0][0], "");
  EXPECT_EQ(csv.format(), text);
}

TEST_F(CsvTest, ReadsSharedTrackCsvs) {
  const fs::path shared = fs::path(MOSAIC_SOURCE_DIR) / ".." / "shared" / "data";
  if (!fs::exists(shared)) GTEST_SKIP() << "needs ../shared/data (absent)";
  Table t = read_csv(shared / "trex_guppies8" / "tracks" / "guppy8_corrected.csv");
  EXPECT_EQ(t.column("frame").type(), DType::kInt64);
  EXPECT_EQ(t.column("id").type(), DType::kInt64);
  EXPECT_EQ(t.column("X").type(), DType::kFloat64);
  EXPECT_TRUE(t.column("X").is_null(7));  // "0,0,7,,," in the file
  EXPECT_DOUBLE_EQ(t.column("X").f64()[0], 8.7066);
}

}  // namespace
}  // namespace mosaic
