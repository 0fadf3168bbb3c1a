// Interoperability with datasets the Python reference wrote (issue 3, DECISIONS P8, P9):
// index.csv files in its exact format, with pandas-mangled cells and absolute paths from another
// machine, are read and reused.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/files.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/pipeline.hpp"
#include "mosaic/run_feature.hpp"
#include "mosaic/run_id.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

Table tracks(int n) {
  std::vector<int64_t> frame, id;
  std::vector<double> x, y, px0, py0, px1, py1;
  for (int f = 0; f < n; ++f)
    for (int a = 0; a < 2; ++a) {
      frame.push_back(f);
      id.push_back(a);
      x.push_back(f + a);
      y.push_back(2.0 * f);
      px0.push_back(f + a);
      py0.push_back(2.0 * f);
      px1.push_back(f + a + 3);
      py1.push_back(2.0 * f + 4);
    }
  Table t;
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("id", Column::from_int64(id));
  t.add_column("X", Column::from_float64(x));
  t.add_column("Y", Column::from_float64(y));
  t.add_column("poseX0", Column::from_float64(px0));
  t.add_column("poseY0", Column::from_float64(py0));
  t.add_column("poseX1", Column::from_float64(px1));
  t.add_column("poseY1", Column::from_float64(py1));
  return t;
}

TEST(InteropTest, EntryNamesFromPandasMangledCells) {
  EXPECT_EQ(entry_names_from_key("g__001", "g", "1"), (std::pair<std::string, std::string>{"g", "001"}));
  EXPECT_EQ(entry_names_from_key("001", "nan", "1.0"), (std::pair<std::string, std::string>{"", "001"}));
  EXPECT_EQ(entry_names_from_key("007__0.10", "7", "0.1"), (std::pair<std::string, std::string>{"007", "0.10"}));
  // Cells that give back the key are kept as they are (even with "__" inside names).
  EXPECT_EQ(entry_names_from_key("a__b__c", "a__b", "c"), (std::pair<std::string, std::string>{"a__b", "c"}));
  EXPECT_EQ(entry_names_from_key("g__s", "g", "s"), (std::pair<std::string, std::string>{"g", "s"}));
}

// A body-scale run as the reference writes it (same version, so the same run id), on another
// machine: absolute paths that do not exist here, pandas-mangled cells, a numeric sequence name.
TEST(InteropTest, PythonWrittenRunIsReusedNotRecomputed) {
  TempDir tmp;
  Dataset ds = Dataset::create(tmp / "d", {.fps = 30.0});
  ds.write_tracks("g", "001", tracks(20), {});
  ds.write_tracks("g", "s2", tracks(20), {});
  // The reference's tracks index with mangled cells ("001" -> "1") and only 3 columns.
  write_file_atomic(ds.root("tracks") / "index.csv",
                    "group,sequence,abs_path\ng,1,tracks/g__001.parquet\ng,s2,tracks/g__s2.parquet\n");
  auto seqs = ds.list_sequences();
  EXPECT_EQ(seqs, (std::vector<std::string>{"001", "s2"}));

  auto f = make_feature("body-scale", std::nullopt, Json::object());
  RunOptions o;
  o.log = false;
  std::string run_id = predict_run_id(ds, *f, o);
  EXPECT_EQ(run_id, "0.1-3b632409e1");  // the reference's id for body-scale on tracks (§2.2)
  // Outputs "written by Python" (any valid parquet with the expected columns).
  fs::path storage = ds.root("features") / "body-scale__from__tracks";
  fs::path run_root = storage / run_id;
  make_dirs(run_root);
  Table fake;
  fake.add_column("frame", Column::from_int64({0}));
  fake.add_column("id", Column::from_int64({0}));
  fake.add_column("scale", Column::from_float64({123.0}));
  fake.add_column("sequence", Column::constant_string("001", 1));
  fake.add_column("group", Column::constant_string("g", 1));
  write_parquet(fake, run_root / "g__001.parquet");
  write_parquet(fake, run_root / "g__s2.parquet");
  write_file_atomic(run_root / "params.json", "{\n  \"_params\": {},\n  \"_inputs\": [\n    \"tracks\"\n  ],\n"
                                              "  \"_frame_range\": [\n    null,\n    null\n  ]\n}");
  std::string foreign = "/home/paul/ecodylic/mice/features/body-scale__from__tracks/" + run_id + "/";
  write_file_atomic(storage / "index.csv",
                    "abs_path,run_id,started_at,finished_at,feature,version,group,sequence,params_hash,n_rows\n" +
                        foreign + "g__001.parquet," + run_id +
                        ",2025-01-02T03:04:05.123456+00:00,2025-01-02T03:04:06+00:00,body-scale__from__tracks,0.1,g,1,"
                        "3632409,1.0\n" +
                        foreign + "g__s2.parquet," + run_id +
                        ",2025-01-02T03:04:05.2+00:00,2025-01-02T03:04:06+00:00,body-scale__from__tracks,0.1,g,s2,"
                        "3632409,1.0\n");
  // The run reads as finished and complete; entries resolve to files here (P9).
  auto entries = index_entries(storage / "index.csv", run_id, ds.base_dir(), run_root, true);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].sequence, "001");
  EXPECT_EQ(entries[0].path, run_root / "g__001.parquet");
  EXPECT_EQ(FeatureIndex(storage / "index.csv").latest_run_id(), run_id);
  // A pipeline sees the step cached, so nothing is recomputed.
  Pipeline p;
  p.add(FeatureStep{"scale", "body-scale", Json::object()});
  // No run record from Python: every scope entry has an index row, so the run is complete.
  auto st = p.status(ds);
  ASSERT_EQ(st.size(), 1u);
  EXPECT_TRUE(st[0].cached) << st[0].error;
  EXPECT_EQ(st[0].n_seq, 2);
  // Running the feature directly reuses the outputs (stateless: skip existing).
  auto mtime = fs::last_write_time(run_root / "g__001.parquet");
  RunResult r = run_feature(ds, *f, o);
  EXPECT_EQ(*r.result.run_id, run_id);
  EXPECT_EQ(r.timing.entries_skipped_existing, 2u);
  EXPECT_EQ(fs::last_write_time(run_root / "g__001.parquet"), mtime);
  EXPECT_EQ(read_parquet(run_root / "g__001.parquet").column("scale").f64()[0], 123.0);
  // The index keeps Python's unknown cells and gains our rows without duplicates per entry.
  TextCsv idx = TextCsv::read(storage / "index.csv");
  std::string header;
  for (const auto& h : idx.header) header += (header.empty() ? "" : ",") + h;
  EXPECT_EQ(header, "abs_path,run_id,started_at,finished_at,feature,version,group,sequence,params_hash,n_rows");
}

TEST(InteropTest, UpstreamPythonRunFeedsADownstreamFeature) {
  TempDir tmp;
  Dataset ds = Dataset::create(tmp / "d", {.fps = 30.0});
  ds.write_tracks("", "007", tracks(10), {});
  // A Python-written upstream run (feature "up__from__tracks") with a relative path cell and
  // a pandas-mangled sequence ("007" -> "7") and an empty group read back as "nan".
  fs::path storage = ds.root("features") / "up__from__tracks";
  make_dirs(storage / "0.1-aaaaaaaaaa");
  Table up = tracks(10);
  up.add_column("sequence", Column::constant_string("007", up.num_rows()));
  write_parquet(up, storage / "0.1-aaaaaaaaaa" / "007.parquet");
  write_file_atomic(storage / "index.csv",
                    "abs_path,run_id,started_at,finished_at,feature,version,group,sequence,params_hash,n_rows\n"
                    "features/up__from__tracks/0.1-aaaaaaaaaa/007.parquet,0.1-aaaaaaaaaa,2025-01-01T00:00:00+00:00,"
                    "2025-01-01T00:00:01+00:00,up__from__tracks,0.1,nan,7,aaaaaaaaaa,20\n");
  // body-scale reads tracks only; the manifest of a Result input is what matters here.
  Inputs in = Inputs::of({Result{"up__from__tracks", std::nullopt}});
  auto pinned = make_feature("body-scale", std::nullopt, Json::object());
  // Pinning the unpinned input (P3) finds the finished Python run.
  pinned->set_inputs(in);
  pin_upstream_runs(ds, *pinned);
  ASSERT_EQ(pinned->inputs().feature_inputs()[0].run_id, std::optional<std::string>("0.1-aaaaaaaaaa"));
  auto entries = index_entries(storage / "index.csv", "0.1-aaaaaaaaaa", ds.base_dir(), storage / "0.1-aaaaaaaaaa", true);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].group, "");
  EXPECT_EQ(entries[0].sequence, "007");
}

}  // namespace
}  // namespace mosaic
