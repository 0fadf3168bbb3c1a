// Path equivalence (STYLE.md §4, issue 6) for global-tsne:
//  - 1 worker vs 2 workers: the same output bytes (and the same saved model);
//  - the library vs the `mosaic run-feature` CLI: the same output bytes;
//  - one recording split into three consecutive sequences of a group (global frame numbers), with
//    the upstream speed-angvel run with overlap 1, gives the values of the unsplit recording.
//    global-tsne maps each row on its own (0.4+cpp.1), so its own temporal reach is 0.
// The templates are a fixed parquet artifact in both datasets, so both fits are identical.
// arhmm: 1 vs 2 workers and library vs CLI give the same bytes. The split-recording check does not
// apply to it: an HMM decodes each sequence as a whole (Viterbi) and is fitted on the sequences of
// the scope, so cutting a recording into sequences changes the model's input by definition.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "common/test_util.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/files.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/run_feature.hpp"
#include "mosaic/simulate.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kFrames = 600;
constexpr int64_t kPart = 200;

const Json& tsne_params() {
  static const Json p{{"templates", {{"feature", "tpl-src"}, {"run_id", "0.1-aaaaaaaaaa"}, {"pattern", "templates.parquet"}}},
                      {"perplexity", 10},
                      {"fit", {{"exaggeration_iters", 60}, {"iters", 120}}},
                      {"mapping", {{"iters", 50}}}};
  return p;
}

Table frames_in(const Table& t, int64_t lo, int64_t hi) {
  std::vector<uint8_t> keep(t.num_rows());
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    const int64_t f = t.column("frame").as_int64(r);
    keep[r] = f >= lo && f < hi;
  }
  return t.filter(keep);
}

RunResult run(const Dataset& ds, const std::string& feature, const Json& params, std::optional<Inputs> inputs,
              int workers, int64_t overlap, bool overwrite) {
  auto f = make_feature(feature, std::move(inputs), params);
  RunOptions o;
  o.parallel_workers = workers;
  o.overlap_frames = overlap;
  o.overwrite = overwrite;
  o.log = false;
  RunResult r = run_feature(ds, *f, o);
  EXPECT_TRUE(r.failures.empty()) << (r.failures.empty() ? "" : r.failures[0].message);
  return r;
}

// Templates: a deterministic grid over the ranges of speed and angvel.
Table templates() {
  std::vector<double> s, a;
  for (int i = 0; i < 15; ++i)
    for (int j = 0; j < 12; ++j) {
      s.push_back(2.0 * i + 0.1 * j);
      a.push_back(-3.0 + 0.5 * j + 0.01 * i);
    }
  Table t;
  t.add_column("angvel", Column::from_float64(a));
  t.add_column("speed", Column::from_float64(s));
  return t;
}

Inputs make_dataset(const fs::path& dir, bool split) {
  Dataset ds = Dataset::create(dir, {.name = "paths", .fps = 30.0});
  SimulationOptions o;
  o.animals = 4;
  o.frames = kFrames;
  o.keypoints = 4;
  o.seed = 23;
  Table rec = simulate_sequence(o, 0);
  if (split) {
    for (int64_t p = 0; p < kFrames / kPart; ++p)
      ds.write_tracks("rec", fmt::format("part{}", p + 1), frames_in(rec, p * kPart, (p + 1) * kPart), {.std_format = "simulated"});
  } else {
    ds.write_tracks("rec", "whole", rec, {.std_format = "simulated"});
  }
  fs::path tpl = ds.root("features") / "tpl-src" / "0.1-aaaaaaaaaa";
  fs::create_directories(tpl);
  write_parquet(templates(), tpl / "templates.parquet");
  RunResult up = run(ds, "speed-angvel", {{"fps", 30.0}}, std::nullopt, 1, split ? 1 : 0, false);
  return Inputs::of({Result{up.result.feature, up.result.run_id}});
}

std::map<std::string, std::string> output_bytes(const fs::path& run_root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(run_root))
    if (e.path().extension() == ".parquet" || e.path().extension() == ".npz")
      out[e.path().filename().string()] = read_file_text(e.path());
  return out;
}

TEST(FeaturePathsH3, GlobalTsneWorkersAndCliGiveTheSameBytes) {
  testing::TempDir tmp;
  Inputs inputs = make_dataset(tmp / "lib", true);
  fs::copy(tmp / "lib", tmp / "cli", fs::copy_options::recursive);
  Dataset ds = Dataset::open(tmp / "lib");
  RunResult one = run(ds, "global-tsne", tsne_params(), inputs, 1, 0, false);
  fs::path root = ds.root("features") / one.result.feature / *one.result.run_id;
  auto bytes1 = output_bytes(root);
  ASSERT_EQ(bytes1.size(), 5u);  // 3 entries + 2 npz
  // A fresh fit with 2 workers (the state removed) gives the same model and outputs.
  for (const char* f : {"global_tsne_model.json", "global_tsne_model.npz", "global_tsne_templates.npz"}) fs::remove(root / f);
  RunResult two = run(ds, "global-tsne", tsne_params(), inputs, 2, 0, true);
  EXPECT_EQ(*two.result.run_id, *one.result.run_id);
  EXPECT_GT(two.timing.fit_seconds, 0.0);
  EXPECT_TRUE(output_bytes(root) == bytes1) << "1 vs 2 workers";

  const Result& up = std::get<Result>(inputs.items()[0]);
  auto cmd = testing::run_mosaic(fmt::format("run-feature '{}' global-tsne --params '{}' --input '{}:{}' -j 2 --quiet",
                                             (tmp / "cli").string(), tsne_params().dump(), up.feature, *up.run_id));
  ASSERT_EQ(cmd.exit_code, 0) << cmd.err << cmd.out;
  fs::path cli_root = tmp / "cli" / fs::relative(root, tmp / "lib");
  ASSERT_TRUE(fs::exists(cli_root)) << cli_root << "\n" << cmd.out << cmd.err;
  EXPECT_TRUE(output_bytes(cli_root) == bytes1) << "library vs CLI";
}

TEST(FeaturePathsH3, GlobalTsneSplitRecordingEqualsTheWhole) {
  testing::TempDir tmp;
  Inputs in_whole = make_dataset(tmp / "whole", false);
  Inputs in_split = make_dataset(tmp / "split", true);
  Dataset whole = Dataset::open(tmp / "whole");
  Dataset split = Dataset::open(tmp / "split");
  auto outputs = [](const Dataset& ds, const RunResult& r) {
    fs::path root = ds.root("features") / r.result.feature / *r.result.run_id;
    std::vector<Table> parts;
    for (const auto& e : fs::directory_iterator(root)) {
      if (e.path().extension() != ".parquet") continue;
      Table t = read_parquet(e.path());
      for (const char* c : {"group", "sequence"}) t.drop_column(c);
      parts.push_back(t);
    }
    return Table::concat(parts).sort_by({"id", "frame"});
  };
  Table a = outputs(whole, run(whole, "global-tsne", tsne_params(), in_whole, 1, 0, false));
  // Overlap 3 (>= the reach 0) also exercises the trim by frame value (DECISIONS P7).
  Table b = outputs(split, run(split, "global-tsne", tsne_params(), in_split, 2, 3, false));
  ASSERT_EQ(a.num_rows(), static_cast<std::size_t>(kFrames * 4));
  ASSERT_EQ(a.column_names(), b.column_names());
  ASSERT_EQ(a.num_rows(), b.num_rows());
  for (std::size_t col = 0; col < a.num_columns(); ++col)
    EXPECT_TRUE(a.column(col).equals(b.column(col))) << "column " << a.column_names()[col];
}

TEST(FeaturePathsH3, ArhmmWorkersAndCliGiveTheSameBytes) {
  testing::TempDir tmp;
  Inputs inputs = make_dataset(tmp / "lib", true);
  fs::copy(tmp / "lib", tmp / "cli", fs::copy_options::recursive);
  Dataset ds = Dataset::open(tmp / "lib");
  const Json params{{"n_states", 6}, {"n_iter", 15}};
  RunResult one = run(ds, "arhmm", params, inputs, 1, 0, false);
  fs::path root = ds.root("features") / one.result.feature / *one.result.run_id;
  auto bytes1 = output_bytes(root);
  ASSERT_EQ(bytes1.size(), 4u);  // 3 entries + the model npz
  for (const char* f : {"arhmm_model.json", "arhmm_model.npz"}) fs::remove(root / f);
  RunResult two = run(ds, "arhmm", params, inputs, 2, 0, true);
  EXPECT_EQ(*two.result.run_id, *one.result.run_id);
  EXPECT_GT(two.timing.fit_seconds, 0.0);
  EXPECT_TRUE(output_bytes(root) == bytes1) << "1 vs 2 workers";
  const Result& up = std::get<Result>(inputs.items()[0]);
  auto cmd = testing::run_mosaic(fmt::format("run-feature '{}' arhmm --params '{}' --input '{}:{}' -j 2 --quiet",
                                             (tmp / "cli").string(), params.dump(), up.feature, *up.run_id));
  ASSERT_EQ(cmd.exit_code, 0) << cmd.err << cmd.out;
  fs::path cli_root = tmp / "cli" / fs::relative(root, tmp / "lib");
  ASSERT_TRUE(fs::exists(cli_root)) << cli_root << "\n" << cmd.out << cmd.err;
  EXPECT_TRUE(output_bytes(cli_root) == bytes1) << "library vs CLI";
}

}  // namespace
}  // namespace mosaic
