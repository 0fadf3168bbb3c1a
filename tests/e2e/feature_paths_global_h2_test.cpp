// Path equivalence (STYLE.md §4, issue 6) for extract-templates, extract-labeled-templates,
// global-kmeans and global-ward:
//  - 1 worker vs 2 workers vs the `mosaic run-feature` CLI (-j 2), each on a fresh copy of the
//    dataset so each one fits: the same per-sequence output bytes and the same state files;
//  - one recording split into three consecutive sequences of a group (global frame numbers),
//    run with overlap >= the feature's reach, gives the values of the unsplit recording. The
//    fitted state depends on how the scope is cut into entries by definition (reservoir draws
//    per entry, the split by sequence), so this compares the apply paths: extract-templates'
//    pass-through, and k-means / Ward with the model fitted on the whole recording (reach 0:
//    apply is row-wise).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>

#include "common/test_util.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/files.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/run_feature.hpp"
#include "mosaic/simulate.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kFrames = 900;
constexpr int64_t kPart = 300;

Table frames_in(const Table& t, int64_t lo, int64_t hi) {
  std::vector<uint8_t> keep(t.num_rows());
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    const int64_t f = t.column("frame").as_int64(r);
    keep[r] = f >= lo && f < hi;
  }
  return t.filter(keep);
}

RunResult run(const Dataset& ds, const std::string& feature, const Json& params, const Inputs& inputs, int workers,
              int64_t overlap) {
  auto f = make_feature(feature, inputs, params);
  RunOptions o;
  o.parallel_workers = workers;
  o.overlap_frames = overlap;
  o.log = false;
  RunResult r = run_feature(ds, *f, o);
  EXPECT_TRUE(r.failures.empty()) << (r.failures.empty() ? "" : r.failures[0].message);
  return r;
}

// Tracks (whole or in three parts), dense behaviour labels for frames < 800, and a speed-angvel
// run (overlap 1 for the parts: its first frame needs the previous one). Returns its Result.
Result make_dataset(const fs::path& dir, bool split) {
  Dataset ds = Dataset::create(dir, {.name = "paths", .fps = 30.0});
  SimulationOptions o;
  o.animals = 3;
  o.frames = kFrames;
  o.seed = 23;
  o.absent_stretches = false;
  o.missing_keypoint_rate = 0.0;
  Table rec = simulate_sequence(o, 0);
  std::vector<std::pair<std::string, Table>> parts;
  if (split) {
    for (int64_t p = 0; p < kFrames / kPart; ++p)
      parts.emplace_back(fmt::format("part{}", p + 1), frames_in(rec, p * kPart, (p + 1) * kPart));
  } else {
    parts.emplace_back("whole", rec);
  }
  fs::path labels = ds.root("labels") / "behavior";
  make_dirs(labels);
  std::string index = "kind,label_format,group,sequence,group_safe,sequence_safe,abs_path,source_abs_path,source_md5,n_frames,label_ids,label_names\n";
  for (const auto& [seq, t] : parts) {
    ds.write_tracks("rec", seq, t, {.std_format = "simulated"});
    std::vector<int64_t> lab(800);
    for (std::size_t f = 0; f < lab.size(); ++f) lab[f] = static_cast<int64_t>((f / 40) % 3);
    fs::path p = labels / ("rec__" + seq + ".npz");
    write_npz(p, {{"labels", NpyArray::from_int64({800}, lab)}});
    index += fmt::format("behavior,dense,rec,{},rec,{},{},,,800,,\n", seq, seq, ds.relative_to_base(p));
  }
  write_file_atomic(labels / "index.csv", index);
  RunResult up = run(ds, "speed-angvel", {{"fps", 30.0}}, Inputs::tracks(), 1, split ? 1 : 0);
  return Result{up.result.feature, up.result.run_id};
}

std::map<std::string, std::string> run_files(const fs::path& run_root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(run_root)) {
    const std::string name = e.path().filename().string();
    if (name == "params.json" || name.find(".tmp") != std::string::npos) continue;
    out[name] = read_file_text(e.path());
  }
  return out;
}

struct Step {
  std::string feature;
  Json params;  // "$T" in templates.feature / run_id is replaced by the extract-templates run
};

// The chain: speed-angvel -> extract-templates -> {global-kmeans, global-ward}; speed-angvel ->
// extract-labeled-templates.
std::vector<Step> steps(const Result& templates) {
  Json tref = {{"feature", templates.feature}, {"run_id", *templates.run_id}, {"pattern", "templates.parquet"}};
  return {{"global-kmeans", {{"k", 6}, {"templates", tref}}}, {"global-ward", {{"n_clusters", 6}, {"templates", tref}}}};
}

TEST(FeaturePathsGlobal, WorkersAndCliGiveTheSameBytes) {
  testing::TempDir tmp;
  Result sa = make_dataset(tmp / "base", true);
  for (const char* d : {"lib1", "lib2", "cli"}) fs::copy(tmp / "base", tmp / d, fs::copy_options::recursive);
  const Inputs sa_in = Inputs::of({sa});
  struct Job {
    std::string feature;
    Json params;
    Inputs inputs;
  };
  // extract-templates first (its run is the input and templates of the clustering features).
  std::vector<Job> jobs = {{"extract-templates", {{"n_templates", 150}}, sa_in},
                           {"extract-labeled-templates", {{"labels", {{"kind", "behavior"}}}, {"n_per_class", 30}, {"test_fraction", 0.34}}, sa_in}};
  Dataset lib1 = Dataset::open(tmp / "lib1"), lib2 = Dataset::open(tmp / "lib2");
  auto check = [&](const Job& job, Result* out) {
    SCOPED_TRACE(job.feature);
    RunResult a = run(lib1, job.feature, job.params, job.inputs, 1, 0);
    RunResult b = run(lib2, job.feature, job.params, job.inputs, 2, 0);
    if (out) *out = a.result;
    ASSERT_EQ(*a.result.run_id, *b.result.run_id);
    EXPECT_GT(a.timing.fit_seconds, 0.0);
    EXPECT_GT(b.timing.fit_seconds, 0.0);
    fs::path rel = fs::path("features") / a.result.feature / *a.result.run_id;
    auto f1 = run_files(tmp / "lib1" / rel);
    EXPECT_GE(f1.size(), 5u);  // 3 entries + state
    EXPECT_TRUE(run_files(tmp / "lib2" / rel) == f1) << "1 vs 2 workers";
    std::string input_arg;
    for (const auto& r : job.inputs.feature_inputs()) input_arg += fmt::format(" --input '{}:{}'", r.feature, *r.run_id);
    auto cmd = testing::run_mosaic(fmt::format("run-feature '{}' {} --params '{}'{} -j 2 --quiet", (tmp / "cli").string(),
                                               job.feature, job.params.dump(), input_arg));
    ASSERT_EQ(cmd.exit_code, 0) << cmd.err << cmd.out;
    ASSERT_TRUE(fs::exists(tmp / "cli" / rel)) << cmd.out << cmd.err;
    auto fc = run_files(tmp / "cli" / rel);
    EXPECT_EQ(fc.size(), f1.size());
    for (const auto& [name, bytes] : f1) EXPECT_TRUE(fc[name] == bytes) << "library vs CLI: " << name;
  };
  Result et;
  check(jobs[0], &et);
  check(jobs[1], nullptr);
  ASSERT_TRUE(et.run_id.has_value());
  for (const auto& s : steps(et)) check(Job{s.feature, s.params, Inputs::of({et})}, nullptr);
}

TEST(FeaturePathsGlobal, SplitRecordingWithOverlapEqualsTheWhole) {
  testing::TempDir tmp;
  Result sa_whole = make_dataset(tmp / "whole", false);
  Result sa_split = make_dataset(tmp / "split", true);
  Dataset whole = Dataset::open(tmp / "whole"), split = Dataset::open(tmp / "split");
  const int64_t overlap = 5;
  auto outputs = [](const Dataset& ds, const RunResult& r) {
    fs::path root = ds.root("features") / r.result.feature / *r.result.run_id;
    std::vector<Table> parts;
    for (const auto& [name, bytes] : run_files(root)) {
      if (name.rfind("rec__", 0) != 0) continue;
      Table t = read_parquet(root / name);
      for (const char* c : {"group", "sequence"}) t.drop_column(c);
      parts.push_back(t);
    }
    return Table::concat(parts).sort_by({"frame", "id"});
  };
  RunResult et_w = run(whole, "extract-templates", {{"n_templates", 150}}, Inputs::of({sa_whole}), 1, 0);
  RunResult et_s = run(split, "extract-templates", {{"n_templates", 150}}, Inputs::of({sa_split}), 2, overlap);
  Table a = outputs(whole, et_w), b = outputs(split, et_s);
  ASSERT_EQ(a.num_rows(), static_cast<std::size_t>(kFrames * 3));
  EXPECT_TRUE(a.equals(b)) << "extract-templates pass-through";
  // k-means / Ward fitted on the whole recording, applied to both through a model reference (the
  // fitted run folder is copied into the split dataset under the same storage and run id).
  for (const auto& s : steps(et_w.result)) {
    SCOPED_TRACE(s.feature);
    RunResult fitted = run(whole, s.feature, s.params, Inputs::of({et_w.result}), 1, 0);
    fs::path rel = fs::path("features") / fitted.result.feature / *fitted.result.run_id;
    make_dirs(tmp / "split" / rel);
    fs::copy(tmp / "whole" / rel, tmp / "split" / rel, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    Json model = {{"model", {{"feature", fitted.result.feature}, {"run_id", *fitted.result.run_id}}}};
    RunResult w = run(whole, s.feature, model, Inputs::of({et_w.result}), 1, 0);
    RunResult p = run(split, s.feature, model, Inputs::of({et_s.result}), 2, overlap);
    EXPECT_EQ(p.timing.fit_seconds, 0.0);
    Table x = outputs(whole, w), y = outputs(split, p);
    ASSERT_GT(x.num_rows(), 0u);
    EXPECT_TRUE(x.equals(y));
  }
}

}  // namespace
}  // namespace mosaic
