// id-tag-columns (features.md §2.13): numeric, unicode and Python object (pickled) npz labels,
// JSON labels, field selection and renames, the label_kind sync, and the two "+cpp.1" fixes
// (meta__ keys, non-integer text).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "common/feature_check.hpp"
#include "common/test_util.hpp"
#include "mosaic/npz.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using testing::apply_feature;

Table tracks(std::vector<int64_t> ids) {
  Table t;
  const std::size_t n = ids.size();
  std::vector<int64_t> frame(n);
  for (std::size_t r = 0; r < n; ++r) frame[r] = static_cast<int64_t>(r / 2);
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("id", Column::from_int64(std::move(ids)));
  t.add_column("X", Column::constant_float64(1.0, n));
  t.add_column("group", Column::constant_string("g", n));
  t.add_column("sequence", Column::constant_string("s", n));
  return t;
}

DependencyLookups lookups_for(const fs::path& file) { return {{"labels", {{{"g", "s"}, file}}}}; }

TEST(IdTagColumns, NumericNpzLikeTheGolden) {
  testing::TempDir tmp;
  fs::path f = tmp / "g__s.npz";
  write_npz(f, {{"ids", NpyArray::from_int64({3}, {0, 1, 2})},
                {"Focal_fish", NpyArray::from_int64({3}, {1, 0, 1})},
                {"tag_size", NpyArray::from_float64({3}, {0.0, 2.9, 4.0})}});
  Table in = tracks({1, 0, 2, 5});
  Table out = apply_feature("id-tag-columns", Json::object(), in, lookups_for(f));
  EXPECT_EQ(out.column_names(),
            (std::vector<std::string>{"frame", "group", "sequence", "id", "Focal_fish", "tag_size"}));
  // id 5 has no tags: NaN, so the columns are float64 (pandas' map).
  ASSERT_EQ(out.column("Focal_fish").type(), DType::kFloat64);
  EXPECT_EQ(out.column("Focal_fish").f64()[0], 0);
  EXPECT_EQ(out.column("Focal_fish").f64()[1], 1);
  EXPECT_TRUE(std::isnan(out.column("Focal_fish").f64()[3]));
  EXPECT_EQ(out.column("tag_size").f64()[0], 2);  // int(2.9): the reference truncates
  // Every id tagged: int64 columns, rows in input order.
  Table all = apply_feature("id-tag-columns", Json::object(), tracks({2, 0, 1}), lookups_for(f));
  ASSERT_EQ(all.column("Focal_fish").type(), DType::kInt64);
  EXPECT_EQ(all.column("Focal_fish").i64()[0], 1);
  EXPECT_EQ(all.column("tag_size").i64()[0], 4);
}

TEST(IdTagColumns, FieldsRenamesAndLabelKindSync) {
  testing::TempDir tmp;
  fs::path f = tmp / "g__s.npz";
  write_npz(f, {{"ids", NpyArray::from_int64({2}, {0, 1})},
                {"b", NpyArray::from_int64({2}, {10, 11})},
                {"a", NpyArray::from_int64({2}, {20, 21})}});
  Json p = {{"fields", {"b", "missing", "a"}}, {"field_renames", {{"a", "A"}}}, {"label_kind", "tags2"}};
  auto feature = make_feature("id-tag-columns", std::nullopt, p);
  EXPECT_EQ(feature->params()["labels"], (Json{{"kind", "tags2"}}));  // synced before hashing
  feature->load_state({}, {}, lookups_for(f));
  Table out = feature->apply(tracks({0, 1}));
  EXPECT_EQ(out.column_names(), (std::vector<std::string>{"frame", "group", "sequence", "id", "b", "missing", "A"}));
  EXPECT_EQ(out.column("A").i64()[1], 21);
  EXPECT_TRUE(std::isnan(out.column("missing").f64()[0]));
}

TEST(IdTagColumns, UnicodeArraysIntegerTextIsAnIdOtherTextStaysText) {
  testing::TempDir tmp;
  fs::path f = tmp / "g__s.npz";
  write_npz(f, {{"ids", NpyArray::from_strings({2}, {"0", " 1 "})},
                {"sex", NpyArray::from_strings({2}, {"M", "F"})},
                {"rank", NpyArray::from_strings({2}, {"3", "-4"})}});
  Table out = apply_feature("id-tag-columns", Json::object(), tracks({1, 0, 7}), lookups_for(f));
  ASSERT_EQ(out.column("rank").type(), DType::kFloat64);  // id 7 untagged
  EXPECT_EQ(out.column("rank").f64()[0], -4);
  ASSERT_EQ(out.column("sex").type(), DType::kString);
  EXPECT_EQ(out.column("sex").str(0), "F");
  EXPECT_EQ(out.column("sex").str(1), "M");
  EXPECT_TRUE(out.column("sex").is_null(2));
}

TEST(IdTagColumns, PythonObjectArraysAndMetaKeys) {
  // What the reference's save_id_labels writes (tests/data/npz/make_id_tags_fixture.py).
  fs::path f = fs::path(MOSAIC_SOURCE_DIR) / "tests" / "data" / "npz" / "id_tags_object.npz";
  Table out = apply_feature("id-tag-columns", Json::object(), tracks({0, 1, 2}), lookups_for(f));
  // meta__source is metadata, not a field.
  EXPECT_EQ(out.column_names(),
            (std::vector<std::string>{"frame", "group", "sequence", "id", "category", "focal", "weight"}));
  EXPECT_EQ(out.column("category").str(1), "b");
  EXPECT_TRUE(out.column("category").is_null(2));
  ASSERT_EQ(out.column("focal").type(), DType::kBool);
  EXPECT_EQ(out.column("focal").bools()[0], 1);
  EXPECT_TRUE(out.column("focal").is_null(2));
  ASSERT_EQ(out.column("weight").type(), DType::kFloat64);
  EXPECT_EQ(out.column("weight").f64()[2], 3.0);
}

TEST(IdTagColumns, JsonLabels) {
  testing::TempDir tmp;
  fs::path f = tmp / "g__s.json";
  std::ofstream(f) << R"({"labels": {"0": {"focal": true}, "1": {"focal": false, "note": "x"}}})";
  Table out = apply_feature("id-tag-columns", Json::object(), tracks({0, 1}), lookups_for(f));
  EXPECT_EQ(out.column_names(), (std::vector<std::string>{"frame", "group", "sequence", "id", "focal", "note"}));
  EXPECT_EQ(out.column("focal").bools()[0], 1);
  EXPECT_EQ(out.column("note").str(1), "x");
  EXPECT_TRUE(out.column("note").is_null(0));
}

TEST(IdTagColumns, NoLabelsForTheSequenceGivesEmptyOutput) {
  testing::TempDir tmp;
  fs::path f = tmp / "g__s.npz";
  write_npz(f, {{"ids", NpyArray::from_int64({1}, {0})}, {"a", NpyArray::from_int64({1}, {1})}});
  DependencyLookups other = {{"labels", {{{"g", "other"}, f}}}};
  EXPECT_EQ(apply_feature("id-tag-columns", Json::object(), tracks({0}), other).num_columns(), 0u);
  EXPECT_EQ(apply_feature("id-tag-columns", Json::object(), Table(), lookups_for(f)).num_columns(), 0u);
  // A file that cannot be read is skipped like the reference's `except Exception: continue`.
  fs::path bad = tmp / "bad.npz";
  std::ofstream(bad) << "not a zip";
  EXPECT_EQ(apply_feature("id-tag-columns", Json::object(), tracks({0}), lookups_for(bad)).num_columns(), 0u);
}

TEST(IdTagColumns, MissingGroupSequenceAndIdColumns) {
  testing::TempDir tmp;
  fs::path f = tmp / "g__s.npz";
  write_npz(f, {{"ids", NpyArray::from_int64({1}, {0})}, {"a", NpyArray::from_int64({1}, {1})}});
  Table t;
  t.add_column("frame", Column::from_int64({0, 1}));
  DependencyLookups lk = {{"labels", {{{"", ""}, f}}}};
  Table out = apply_feature("id-tag-columns", Json::object(), t, lk);
  EXPECT_EQ(out.column_names(), (std::vector<std::string>{"frame", "group", "sequence", "id", "a"}));
  EXPECT_TRUE(std::isnan(out.column("id").f64()[0]));
  EXPECT_TRUE(std::isnan(out.column("a").f64()[1]));
}

TEST(IdTagColumns, EdgeCasesKeepRowsAndOrder) {
  testing::TempDir tmp;
  fs::path f = tmp / "g__s.npz";
  std::vector<int64_t> ids(100), tag(100);
  for (int64_t i = 0; i < 100; ++i) {
    ids[static_cast<std::size_t>(i)] = i;
    tag[static_cast<std::size_t>(i)] = i % 2;
  }
  write_npz(f, {{"ids", NpyArray::from_int64({100}, ids)}, {"Focal_fish", NpyArray::from_int64({100}, tag)}});
  Table t = testing::shuffled(testing::simulated_tracks(100, 20));
  Table out = apply_feature("id-tag-columns", Json::object(), t, lookups_for(f));
  ASSERT_EQ(out.num_rows(), t.num_rows());
  for (std::size_t r = 0; r < out.num_rows(); ++r) {
    EXPECT_EQ(out.column("id").as_int64(r), t.column("id").as_int64(r));
    EXPECT_EQ(out.column("Focal_fish").i64()[r], t.column("id").as_int64(r) % 2);
  }
}

}  // namespace
}  // namespace mosaic
