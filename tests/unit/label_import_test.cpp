// Tests of the label CSV importer (pipeline.md §1.9, features.md §0.7): dense NPZ round trip,
// the labels index (exact columns, one row per entry, replaced on re-import), group resolution
// from the tracks index, and the messages of bad inputs (file, column, row, value).
#include "mosaic/label_import.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "common/test_util.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/run_id.hpp"
#include "mosaic/table.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using mosaic::testing::TempDir;

Table small_tracks(int64_t frames) {
  std::vector<int64_t> frame, id;
  std::vector<double> x, y;
  for (int64_t f = 0; f < frames; ++f) {
    frame.push_back(f);
    id.push_back(0);
    x.push_back(static_cast<double>(f));
    y.push_back(0.0);
  }
  Table t;
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("id", Column::from_int64(id));
  t.add_column("X", Column::from_float64(x));
  t.add_column("Y", Column::from_float64(y));
  return t;
}

struct Fixture {
  TempDir tmp;
  Dataset ds;
  Fixture() : ds(Dataset::create(tmp / "d", {})) {
    ds.write_tracks("lab A", "s1", small_tracks(10), {});
    ds.write_tracks("lab A", "s2", small_tracks(10), {});
    ds.write_tracks("lab B", "s2", small_tracks(10), {});
  }
  fs::path csv(const std::string& name, const std::string& text) {
    fs::path p = tmp / name;
    write_file_atomic(p, text);
    return p;
  }
};

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(LabelImport, DenseRoundTripAndIndex) {
  Fixture fx;
  fs::path a = fx.csv("a.csv", "group,sequence,frame,label,extra\nlab A,s1,0,1,x\nlab A,s1,1,1,x\nlab A,s1,4,3,x\n"
                               "lab B,s2,2,0,y\n");
  fs::path b = fx.csv("b.csv", "frame,label,sequence,group\n7,2,s1,lab A\n0,1,s1,lab A\n");
  LabelImportOptions opt;
  opt.names = parse_label_names("0=attack, 1=investigation,2=mount,3=other_interaction");
  auto written = import_labels_csv(fx.ds, {a, b}, opt);
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[0].group, "lab A");
  EXPECT_EQ(written[0].sequence, "s1");
  EXPECT_EQ(written[0].n_frames, 8);
  EXPECT_EQ(written[0].n_labelled, 4);
  EXPECT_EQ(written[1].group, "lab B");
  const fs::path dir = fx.ds.root("labels") / "behavior";
  EXPECT_EQ(written[0].path, dir / "lab%20A__s1.npz");
  // The reference's dense format: one int64 array `labels`, -1 where the CSV has no label.
  NpzArchive npz = read_npz(dir / "lab%20A__s1.npz");
  EXPECT_EQ(npz.keys(), std::vector<std::string>{"labels"});
  EXPECT_EQ(npz.at("labels").dtype, NpyDType::kInt64);
  EXPECT_EQ(npz.at("labels").to_int64(), (std::vector<int64_t>{1, 1, -1, -1, 3, -1, -1, 2}));
  EXPECT_EQ(read_npz(dir / "lab%20B__s2.npz").at("labels").to_int64(), (std::vector<int64_t>{-1, -1, 0}));
  // The index: the 12 columns of §1.9, absolute paths, the label map in every row.
  TextCsv idx = TextCsv::read(dir / "index.csv");
  EXPECT_EQ(join_names(idx.header, ","),
            "kind,label_format,group,sequence,group_safe,sequence_safe,abs_path,source_abs_path,source_md5,n_frames,"
            "label_ids,label_names");
  ASSERT_EQ(idx.rows.size(), 2u);
  EXPECT_EQ(idx.cell(0, "kind"), "behavior");
  EXPECT_EQ(idx.cell(0, "label_format"), "dense");
  EXPECT_EQ(idx.cell(0, "group"), "lab A");
  EXPECT_EQ(idx.cell(0, "group_safe"), "lab%20A");
  EXPECT_EQ(idx.cell(0, "sequence_safe"), "s1");
  EXPECT_EQ(idx.cell(0, "abs_path"), fs::absolute(dir / "lab%20A__s1.npz").string());
  EXPECT_EQ(idx.cell(0, "source_abs_path"), fs::absolute(a).string() + ";" + fs::absolute(b).string());
  EXPECT_EQ(idx.cell(0, "source_md5").size(), 32u + 1u + 32u);
  EXPECT_EQ(idx.cell(0, "n_frames"), "8");
  EXPECT_EQ(idx.cell(0, "label_ids"), "0,1,2,3");
  EXPECT_EQ(idx.cell(0, "label_names"), "attack,investigation,mount,other_interaction");
  EXPECT_EQ(idx.cell(1, "source_abs_path"), fs::absolute(a).string());
  // meta.labels.behavior in the manifest.
  Dataset reopened = Dataset::open(fx.ds.base_dir());
  ASSERT_TRUE(reopened.meta().contains("labels"));
  EXPECT_EQ(reopened.meta()["labels"]["behavior"]["label_format"], "dense");
  EXPECT_EQ(reopened.meta()["labels"]["behavior"]["index"], fs::absolute(dir / "index.csv").string());
}

TEST(LabelImport, ReimportReplacesTheEntryRowAndNamesDefaultToIds) {
  Fixture fx;
  import_labels_csv(fx.ds, {fx.csv("a.csv", "sequence,frame,label,group\ns1,0,5,lab A\ns2,0,1,lab A\n")});
  TextCsv idx = TextCsv::read(fx.ds.root("labels") / "behavior" / "index.csv");
  ASSERT_EQ(idx.rows.size(), 2u);
  EXPECT_EQ(idx.cell(0, "label_ids"), "1,5");
  EXPECT_EQ(idx.cell(0, "label_names"), "1,5");
  LabelImportOptions opt;
  opt.kind = "other";
  import_labels_csv(fx.ds, {fx.csv("b.csv", "sequence,frame,label,group\ns1,2,0,lab A\n")}, opt);
  EXPECT_FALSE(fs::exists(fx.ds.root("labels") / "other" / "lab%20A__s2.npz"));
  import_labels_csv(fx.ds, {fx.csv("c.csv", "sequence,frame,label,group\ns1,1,4,lab A\n")});
  idx = TextCsv::read(fx.ds.root("labels") / "behavior" / "index.csv");
  ASSERT_EQ(idx.rows.size(), 2u);  // s1's row replaced, s2's kept
  EXPECT_EQ(idx.cell(0, "sequence"), "s2");
  EXPECT_EQ(idx.cell(1, "sequence"), "s1");
  EXPECT_EQ(idx.cell(1, "n_frames"), "2");
  EXPECT_EQ(read_npz(fx.ds.root("labels") / "behavior" / "lab%20A__s1.npz").at("labels").to_int64(),
            (std::vector<int64_t>{-1, 4}));
  // One label map per kind, in every row: the old ids and the new one.
  for (std::size_t r = 0; r < 2; ++r) {
    EXPECT_EQ(idx.cell(r, "label_ids"), "1,4,5");
    EXPECT_EQ(idx.cell(r, "label_names"), "1,4,5");
  }
}

TEST(LabelImport, NamesAreKeptAcrossImportsAndExtraColumnsSurvive) {
  Fixture fx;
  const fs::path index = fx.ds.root("labels") / "behavior" / "index.csv";
  LabelImportOptions named;
  named.names = {{0, "attack"}, {1, "investigation"}};
  import_labels_csv(fx.ds, {fx.csv("a.csv", "sequence,frame,label,group\ns1,0,1,lab A\n")}, named);
  // A column another tool added stays, with its cells.
  TextCsv csv = TextCsv::read(index);
  csv.header.push_back("n_events");
  csv.rows[0].push_back("7");
  csv.write_atomic(index);
  // Without --names: the index's names stay and a new id is named by itself.
  import_labels_csv(fx.ds, {fx.csv("b.csv", "sequence,frame,label,group\ns2,0,2,lab A\n")});
  TextCsv idx = TextCsv::read(index);
  ASSERT_EQ(idx.rows.size(), 2u);
  EXPECT_EQ(idx.header.back(), "n_events");
  EXPECT_EQ(idx.cell(0, "n_events"), "7");
  EXPECT_EQ(idx.cell(1, "n_events"), "");
  for (std::size_t r = 0; r < 2; ++r) {
    EXPECT_EQ(idx.cell(r, "label_ids"), "0,1,2");
    EXPECT_EQ(idx.cell(r, "label_names"), "attack,investigation,2");
  }
  // --names renames.
  named.names = {{2, "mount"}};
  import_labels_csv(fx.ds, {fx.csv("c.csv", "sequence,frame,label,group\ns2,0,2,lab B\n")}, named);
  idx = TextCsv::read(index);
  ASSERT_EQ(idx.rows.size(), 3u);
  EXPECT_EQ(idx.cell(0, "label_names"), "attack,investigation,mount");
  EXPECT_EQ(idx.cell(2, "label_names"), "attack,investigation,mount");
}

TEST(LabelImport, GroupFromTheTracksIndex) {
  Fixture fx;
  // s1 is only in "lab A": no group column needed.
  auto w = import_labels_csv(fx.ds, {fx.csv("a.csv", "sequence,frame,label\ns1,0,1\n")});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].group, "lab A");
  // s2 is in two groups.
  EXPECT_EQ(error_of([&] { import_labels_csv(fx.ds, {fx.csv("b.csv", "sequence,frame,label\ns2,0,1\n")}); }),
            (fx.tmp / "b.csv").string() +
                ": row 1 (line 2): sequence 's2' is in several groups (lab A, lab B); add a 'group' column");
  // A dataset without tracks accepts any entry (group "" without a group column).
  TempDir tmp;
  Dataset empty = Dataset::create(tmp / "e", {});
  write_file_atomic(tmp / "x.csv", "sequence,frame,label\nfree,2,1\n");
  auto e = import_labels_csv(empty, {tmp / "x.csv"});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].group, "");
  EXPECT_EQ(e[0].path, empty.root("labels") / "behavior" / "free.npz");
}

TEST(LabelImport, BadInputsNameFileColumnRowAndValue) {
  Fixture fx;
  auto err = [&](const std::string& text, LabelImportOptions opt = {}) {
    fs::path p = fx.csv("bad.csv", text);
    return error_of([&] { import_labels_csv(fx.ds, {p}, opt); });
  };
  const std::string f = (fx.tmp / "bad.csv").string();
  EXPECT_EQ(err("sequence,frme,label\ns1,0,1\n"),
            f + ": missing column 'frame' (did you mean 'frme'?) (available: sequence, frme, label)");
  EXPECT_EQ(err("sequence,frame,label\ns1,0,1\ns1,x,1\n"),
            f + ": row 2 (line 3): column 'frame': expected an integer >= 0, got 'x'");
  EXPECT_EQ(err("sequence,frame,label\ns1,-3,1\n"), f + ": row 1 (line 2): column 'frame': expected an integer >= 0, got '-3'");
  EXPECT_EQ(err("sequence,frame,label\ns1,1.5,1\n"),
            f + ": row 1 (line 2): column 'frame': expected an integer >= 0, got '1.5'");
  EXPECT_EQ(err("sequence,frame,label\ns1,0,\n"),
            f + ": row 1 (line 2): column 'label': expected an integer class id >= 0, got ''");
  EXPECT_EQ(err("sequence,frame,label\ns1,0,-1\n"),
            f + ": row 1 (line 2): column 'label': expected an integer class id >= 0, got '-1'");
  EXPECT_EQ(err("sequence,frame,label\ns1,999999999999,1\n"),
            f + ": row 1 (line 2): column 'frame': 999999999999 is beyond the largest supported frame 100000000");
  EXPECT_EQ(err("sequence,frame,label\n,0,1\n"), f + ": row 1 (line 2): column 'sequence' is empty");
  EXPECT_EQ(err("sequence,frame,label\ns1,0,1\ns1,0,2\n"),
            f + ": row 2 (line 3): frame 0 of group 'lab A', sequence 's1' has label 2 here and label 1 at " + f +
                ": row 1 (line 2)");
  EXPECT_EQ(err("group,sequence,frame,label\nlab A,s3,0,1\n"),
            f + ": row 1 (line 2): no tracks for group 'lab A', sequence 's3' in tracks/index.csv (did you mean 's1'?)");
  EXPECT_EQ(err("sequence,frame,label\n"), f + ": no label rows");
  LabelImportOptions named;
  named.names = {{0, "a"}, {1, "b"}};
  EXPECT_EQ(err("sequence,frame,label\ns1,0,1\ns1,1,2\n", named),
            f + ": row 2 (line 3): column 'label': class id 2 is not in --names (ids: 0, 1)");
  LabelImportOptions bad_kind;
  bad_kind.kind = "../x";
  EXPECT_THAT(err("sequence,frame,label\ns1,0,1\n", bad_kind), HasSubstr("label kind '../x' must be a plain name"));
  EXPECT_EQ(error_of([&] { import_labels_csv(fx.ds, {fx.tmp / "none.csv"}); }),
            (fx.tmp / "none.csv").string() + ": label CSV not found");
  // Nothing was written by any failed import.
  EXPECT_FALSE(fs::exists(fx.ds.root("labels") / "behavior" / "index.csv"));
  EXPECT_FALSE(fs::exists(fx.ds.root("labels") / "behavior" / "lab%20A__s1.npz"));
}

TEST(LabelImport, ParseLabelNames) {
  EXPECT_EQ(parse_label_names("0=attack,1=investigation"), (std::map<int64_t, std::string>{{0, "attack"}, {1, "investigation"}}));
  EXPECT_EQ(parse_label_names(" 2 = mount , 0=a,"), (std::map<int64_t, std::string>{{0, "a"}, {2, "mount"}}));
  EXPECT_EQ(error_of([] { parse_label_names("0=a,1"); }), "--names: item '1' is not <id>=<name> (e.g. 0=attack,1=investigation)");
  EXPECT_EQ(error_of([] { parse_label_names("x=a"); }), "--names: item 'x=a': the id must be an integer >= 0, got 'x'");
  EXPECT_EQ(error_of([] { parse_label_names("-1=a"); }), "--names: item '-1=a': the id must be an integer >= 0, got '-1'");
  EXPECT_EQ(error_of([] { parse_label_names("0="); }), "--names: item '0=' has an empty name");
  EXPECT_EQ(error_of([] { parse_label_names("0=a,0=b"); }), "--names: id 0 is given twice");
  EXPECT_EQ(error_of([] { parse_label_names(""); }), "--names: no <id>=<name> items given");
}

}  // namespace
}  // namespace mosaic
