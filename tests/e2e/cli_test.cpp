// The `mosaic` command end to end on temporary folders: the dataset commands, bad input, feature
// runs, and pipeline files.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "common/test_util.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/files.hpp"
#include "mosaic/json.hpp"
#include "mosaic/parquet.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using testing::run_mosaic;
using testing::TempDir;

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// A small canonical CSV (2 animals, 5 frames).
std::string canonical_csv() {
  std::string s = "frame,time,id,X,Y,ANGLE\n";
  for (int f = 0; f < 5; ++f)
    for (int id = 0; id < 2; ++id) s += std::to_string(f) + "," + std::to_string(f / 30.0) + "," + std::to_string(id) + "," + std::to_string(10 * f + id) + ",1.5,0.1\n";
  return s;
}

// The error line of a failed command: exactly one line, starting with "error: ".
std::string error_line(const testing::CommandResult& r) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  return r.err;
}

TEST(CliTest, InitSimulateInfo) {
  TempDir tmp;
  auto r = run_mosaic("simulate " + q(tmp / "sim") + " --sequences 2 --animals 3 --keypoints 7 --frames 300 --fps 30 --seed 7 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_mosaic("info " + q(tmp / "sim") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json info = python_json_loads(r.out);
  EXPECT_EQ(info["n_sequences"], 2);
  EXPECT_EQ(info["n_rows"], 1800);
  EXPECT_EQ(info["sequences"][0]["animals"], 3);
  EXPECT_EQ(info["sequences"][0]["frames"], 300);
  EXPECT_EQ(info["sequences"][0]["keypoints"], 7);
  EXPECT_EQ(info["sequences"][0]["fps"], 30.0);
  r = run_mosaic("info " + q(tmp / "sim"));
  EXPECT_NE(r.out.find("2 sequences, 1800 rows, fps_default 30.0"), std::string::npos) << r.out;
  // Same seed -> same bytes.
  run_mosaic("simulate " + q(tmp / "sim2") + " --sequences 2 --animals 3 --keypoints 7 --frames 300 --fps 30 --seed 7 --quiet");
  EXPECT_EQ(read_file_text(tmp / "sim" / "tracks" / "seq001.parquet"), read_file_text(tmp / "sim2" / "tracks" / "seq001.parquet"));
  r = run_mosaic("init " + q(tmp / "sim"));
  EXPECT_NE(error_line(r).find("a dataset manifest already exists"), std::string::npos);
}

TEST(CliTest, ImportCanonicalCsvAndBadInputs) {
  TempDir tmp;
  fs::path ds = tmp / "d";
  ASSERT_EQ(run_mosaic("init " + q(ds) + " --fps 30").exit_code, 0);
  write_file_atomic(tmp / "good.csv", canonical_csv());
  auto r = run_mosaic("import " + q(ds) + " --format csv --group g " + q(tmp / "good.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("imported g/good: 10 rows"), std::string::npos) << r.out;
  std::string index_before = read_file_text(ds / "tracks" / "index.csv");

  struct Case {
    std::string name, content, args, expect;
    int code;
  };
  std::vector<Case> cases = {
      {"noid.csv", "frame,X,Y\n0,1,2\n", "--format csv", "noid.csv: missing column 'id'", 3},
      {"text.csv", "frame,id,X,Y\n0,0,abc,2\n", "--format csv", "text.csv", 2},
      {"dup.csv", "frame,id,X,Y\n0,0,1,2\n0,0,3,4\n", "--format csv", "duplicate", 2},
      {"empty.csv", "", "--format csv", "empty.csv", 4},
      {"notdlc.csv", canonical_csv(), "--format sleap", "notdlc.csv", 0},
      {"bad.npz", "PK\x03\x04truncated", "--format trex", "bad.npz", 4},
      {"bad.h5", std::string("\x89HDF\r\n\x1a\n", 8) + "truncated", "--format jabs", "bad.h5", 4},
  };
  for (const auto& c : cases) {
    write_file_atomic(tmp / c.name, c.content);
    r = run_mosaic("import " + q(ds) + " " + c.args + " " + q(tmp / c.name));
    std::string line = error_line(r);
    EXPECT_NE(line.find(c.expect), std::string::npos) << c.name << ": " << line;
    if (c.code) {
      EXPECT_EQ(r.exit_code, c.code) << c.name << ": " << line;
    }
  }
  // Names that would escape the dataset folder.
  for (const char* seq : {"../x", "/abs"}) {
    r = run_mosaic("import " + q(ds) + " --format csv --sequence '" + seq + "' " + q(tmp / "good.csv"));
    EXPECT_NE(error_line(r).find("would escape the dataset folder"), std::string::npos);
  }
  r = run_mosaic("import " + q(ds) + " --format dcl " + q(tmp / "good.csv"));
  EXPECT_NE(error_line(r).find("unknown"), std::string::npos);
  // Nothing was written by any failed import.
  EXPECT_EQ(read_file_text(ds / "tracks" / "index.csv"), index_before);
  for (const auto& e : fs::directory_iterator(ds / "tracks"))
    EXPECT_FALSE(is_temp_file_name(e.path().filename().string())) << e.path();
  // A manifest with an unknown key.
  fs::create_directories(tmp / "m");
  write_file_atomic(tmp / "m" / "dataset.yaml", "name: m\nfps_default: 30\n");
  r = run_mosaic("info " + q(tmp / "m"));
  EXPECT_NE(error_line(r).find("unknown manifest key 'fps_default'"), std::string::npos);
}

TEST(CliTest, ImportSharedTrackersWhenPresent) {
  MOSAIC_REQUIRE_SHARED("data");
  fs::path data = testing::shared_dir() / "data";
  TempDir tmp;
  fs::path ds = tmp / "d";
  ASSERT_EQ(run_mosaic("init " + q(ds)).exit_code, 0);
  auto r = run_mosaic("import " + q(ds) + " --format sleap --fps 15 " + q(data / "sleap_flies2/raw/centered_pair_standard.analysis.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("note:"), std::string::npos) << r.out;  // the dropped tracks are reported
  r = run_mosaic("info " + q(ds) + " --json");
  Json info = python_json_loads(r.out);
  EXPECT_EQ(info["sequences"][0]["animals"], 2);
  EXPECT_EQ(info["sequences"][0]["keypoints"], 24);
}

TEST(CliTest, RunFeatureJsonRunsLineageExport) {
  TempDir tmp;
  fs::path ds = tmp / "d";
  ASSERT_EQ(run_mosaic("simulate " + q(ds) + " --sequences 3 --frames 200 --seed 1 --quiet").exit_code, 0);
  auto r = run_mosaic("run-feature " + q(ds) + " speed-angvel --params '{\"fps\": 30.0}' -j 2 --json --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;  // --quiet
  Json j = python_json_loads(r.out);
  EXPECT_EQ(j["feature"], "speed-angvel__from__tracks");
  std::string run_id = j["run_id"];
  EXPECT_EQ(j["rows_in"], 1800);
  EXPECT_EQ(j["rows_out"], 1800);
  for (const char* k : {"read_seconds", "fit_seconds", "apply_seconds", "write_seconds", "total_seconds"})
    EXPECT_TRUE(j["timing"][k].is_number()) << k;
  // run-id predicts it, with and without the dataset.
  r = run_mosaic("run-id speed-angvel --params '{\"fps\": 30.0}' --payload");
  EXPECT_EQ(r.out, run_id + "\n{\"_frame_range\": [null, null], \"_inputs\": [\"tracks\"], \"_params\": {\"fps\": 30.0, "
                            "\"smooth_window\": null, \"step_size\": null}}\n");
  r = run_mosaic("runs " + q(ds) + " speed-angvel__from__tracks --json");
  Json runs = python_json_loads(r.out);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["run_id"], run_id);
  EXPECT_EQ(runs[0]["entries"], 3);
  EXPECT_TRUE(runs[0]["latest"]);
  r = run_mosaic("lineage " + q(ds) + " speed-angvel__from__tracks " + run_id + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(python_json_loads(r.out)["run_id"], run_id);
  r = run_mosaic("export " + q(ds) + " speed-angvel__from__tracks " + q(tmp / "all.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Table all = read_csv(tmp / "all.csv");
  EXPECT_EQ(all.num_rows(), 1800u);
  EXPECT_TRUE(all.has_column("sequence"));
  r = run_mosaic("export " + q(ds) + " speed-angvel__from__tracks:" + run_id + " " + q(tmp / "all.parquet"));
  EXPECT_EQ(read_parquet(tmp / "all.parquet").num_rows(), 1800u);
  // Library and CLI give the same bytes: rerun with 1 worker and overwrite, compare files.
  fs::path out = ds / "features" / "speed-angvel__from__tracks" / run_id / "seq002.parquet";
  std::string bytes = read_file_text(out);
  r = run_mosaic("run-feature " + q(ds) + " speed-angvel --params '{\"fps\": 30.0}' --overwrite --quiet");
  EXPECT_EQ(read_file_text(out), bytes);
  // Unknown params are an error with a did-you-mean.
  r = run_mosaic("run-feature " + q(ds) + " speed-angvel --params '{\"fsp\": 30.0}'");
  EXPECT_NE(error_line(r).find("unknown parameter 'fsp' (did you mean 'fps'?)"), std::string::npos);
  EXPECT_EQ(r.exit_code, 2);
  r = run_mosaic("features describe sped-angvel");
  EXPECT_NE(error_line(r).find("did you mean 'speed-angvel'"), std::string::npos);
}

TEST(CliTest, PipelineRunStatusQueryAndCachedRerun) {
  TempDir tmp;
  fs::path ds = tmp / "d";
  ASSERT_EQ(run_mosaic("simulate " + q(ds) + " --sequences 2 --frames 150 --seed 3 --quiet").exit_code, 0);
  write_file_atomic(tmp / "p.yaml", "dataset: d\nsteps:\n  - name: speed\n    feature: speed-angvel\n    params: {fps: 30.0}\n"
                                    "  - name: scale\n    feature: body-scale\n");
  auto r = run_mosaic("run " + q(tmp / "p.yaml"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[speed] SpeedAngvel ... -> "), std::string::npos) << r.out;
  r = run_mosaic("run " + q(tmp / "p.yaml"));
  EXPECT_NE(r.out.find("[speed] SpeedAngvel -> "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(cached)"), std::string::npos) << r.out;
  r = run_mosaic("status " + q(tmp / "p.yaml") + " --json");
  Json st = python_json_loads(r.out);
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0]["cached"], true);
  EXPECT_EQ(st[1]["cached"], true);
  r = run_mosaic("query " + q(ds) + " 'SELECT count(*) AS n FROM \"speed-angvel__from__tracks\"' --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(python_json_loads(r.out)[0]["n"], 900);
  r = run_mosaic("query " + q(ds) + " 'SELECT count(*) FROM nope'");
  EXPECT_NE(r.err.find("views: tracks"), std::string::npos) << r.err;
  r = run_mosaic("dag " + q(tmp / "p.yaml") + " --format json");
  EXPECT_EQ(python_json_loads(r.out)["scale"].size(), 0u);
}

}  // namespace
}  // namespace mosaic
