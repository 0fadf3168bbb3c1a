// Path equivalence (STYLE.md §4, issue 6) for pair-posedistance-pca, pair-wavelet and
// global-scaler:
//  - 1 worker vs 2 workers: the same output bytes (the second run reloads the saved state);
//  - the library vs the `mosaic run-feature` CLI: the same output bytes (and, for the PCA, the
//    same model.npz: the fit is deterministic);
//  - one recording split into consecutive sequences of a group (global frame numbers), run with
//    overlap >= the feature's temporal reach, gives the values of the unsplit recording. The PCA
//    is fitted over the scope, and different sequence boundaries give different partial_fit
//    batches, so the split run reuses the whole run's model.npz: what is compared is apply.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "common/feature_check.hpp"
#include "common/test_util.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/files.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/run_feature.hpp"
#include "mosaic/simulate.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kFrames = 1500;
constexpr int64_t kPart = 500;
const char* kEgo = "pair-egocentric__from__tracks";

// Three animals, 1% missing keypoints; animal 2 absent for frames 480..519 (across a boundary).
Table recording() {
  SimulationOptions o;
  o.animals = 3;
  o.frames = kFrames;
  o.seed = 33;
  o.absent_stretches = false;
  Table t = simulate_sequence(o, 0);
  std::vector<uint8_t> keep(t.num_rows(), 1);
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    const int64_t f = t.column("frame").as_int64(r), id = t.column("id").as_int64(r);
    if (id == 2 && f >= 480 && f < 520) keep[r] = 0;
  }
  return t.filter(keep);
}

Dataset make_dataset(const fs::path& dir, bool split) {
  Dataset ds = Dataset::create(dir, {.name = "paths", .fps = 30.0});
  Table rec = recording();
  if (split) {
    for (int64_t p = 0; p < kFrames / kPart; ++p) {
      Table part = testing::rows_where(rec, "frame", [&](double f) { return f >= p * kPart && f < (p + 1) * kPart; });
      ds.write_tracks("rec", fmt::format("part{}", p + 1), part, {.std_format = "simulated"});
    }
  } else {
    ds.write_tracks("rec", "whole", rec, {.std_format = "simulated"});
  }
  return ds;
}

std::map<std::string, std::string> file_bytes(const fs::path& run_root, const std::string& ext = ".parquet") {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(run_root))
    if (e.path().extension() == ext) out[e.path().filename().string()] = read_file_text(e.path());
  return out;
}

std::unique_ptr<Feature> feature(const std::string& name, const Json& params) {
  std::optional<Inputs> in;
  if (name == "pair-wavelet" || name == "global-scaler") in = Inputs::of({Result{kEgo, std::nullopt}});
  return make_feature(name, in, params);
}

RunResult run(const Dataset& ds, const std::string& name, const Json& params, int workers, int64_t overlap,
              bool overwrite = false) {
  auto f = feature(name, params);
  RunOptions o;
  o.parallel_workers = workers;
  o.overlap_frames = overlap;
  o.overwrite = overwrite;
  o.log = false;
  RunResult r = run_feature(ds, *f, o);
  EXPECT_TRUE(r.failures.empty()) << (r.failures.empty() ? "" : r.failures[0].message);
  return r;
}

fs::path root_of(const Dataset& ds, const RunResult& r) { return ds.root("features") / r.result.feature / *r.result.run_id; }

Table read_outputs(const Dataset& ds, const RunResult& r) {
  std::vector<Table> parts;
  for (const auto& [name, bytes] : file_bytes(root_of(ds, r))) {
    if (name.find("__") == std::string::npos) continue;  // state artifacts (scaled_templates.parquet)
    Table t = read_parquet(root_of(ds, r) / name);
    t.drop_column("group");
    t.drop_column("sequence");
    if (t.num_rows() > 0) parts.push_back(t);
  }
  return Table::concat(parts);
}

// Values equal to a relative 1e-6 for float32 columns (FFT sizes differ between a part and the
// whole recording, so a float32 log-power may round one ulp apart) and bit for bit otherwise.
::testing::AssertionResult close_by_keys(const Table& a_in, const Table& b_in, const std::vector<std::string>& keys) {
  if (a_in.column_names() != b_in.column_names()) return ::testing::AssertionFailure() << "columns differ";
  if (a_in.num_rows() != b_in.num_rows()) return ::testing::AssertionFailure() << a_in.num_rows() << " vs " << b_in.num_rows();
  Table a = a_in.sort_by(keys), b = b_in.sort_by(keys);
  for (std::size_t c = 0; c < a.num_columns(); ++c) {
    const bool f32 = a.column(c).type() == DType::kFloat32;
    for (std::size_t r = 0; r < a.num_rows(); ++r) {
      const double x = a.column(c).as_double(r), y = b.column(c).as_double(r);
      const bool eq = (std::isnan(x) && std::isnan(y)) || x == y || (f32 && std::abs(x - y) <= 1e-6 * std::abs(y));
      if (!eq) return ::testing::AssertionFailure() << a.column_names()[c] << " row " << r << ": " << x << " vs " << y;
    }
  }
  return ::testing::AssertionSuccess();
}

struct Case {
  std::string name;
  Json params;
  int64_t overlap;  // >= the temporal reach
  bool needs_ego;
};

std::vector<Case> cases() {
  // Reach: pca = the cleaning (gaps up to 10 + 3 frames, animal 2's hole of 40 frames) -> 60;
  // wavelet at f_min 1 Hz, 30 fps: scale 30, filter 16 * 30 + 1 = 481 samples -> 241 per side;
  // scaler: row-wise (0), run with a small overlap anyway to exercise the trimming.
  return {{"pair-posedistance-pca", Json::object(), 60, false},
          {"pair-wavelet", {{"n_freq", 3}, {"f_min", 1.0}, {"f_max", 5.0}}, 300, true},
          {"global-scaler",
           {{"templates", {{"feature", "ego-templates"}, {"run_id", "0.1-fixed"}, {"pattern", "templates.parquet"}}}},
           10,
           true}};
}

// Upstream for the wavelet and the scaler: pair-egocentric (stateless; equal on split and whole
// with overlap 60, see feature_paths_fb_test) and a templates table made of its columns.
void prepare_upstream(const Dataset& ds, bool split) {
  RunResult ego = run(ds, "pair-egocentric", Json::object(), 1, split ? 60 : 0);
  // Templates: every 7th row of the first output, the 15 egocentric columns, float64.
  Table src = read_outputs(ds, ego);
  std::vector<int64_t> rows;
  for (std::size_t r = 0; r < src.num_rows(); r += 7) rows.push_back(static_cast<int64_t>(r));
  Table pick = src.take(rows);
  Table tpl;
  for (const auto& c : pick.column_names())
    if (pick.column(c).type() == DType::kFloat32) tpl.add_column(c, pick.column(c).cast(DType::kFloat64));
  fs::path dir = ds.root("features") / "ego-templates" / "0.1-fixed";
  fs::create_directories(dir);
  // The same table for the split and whole datasets: built from the whole recording's rows.
  if (!split) write_parquet(tpl, dir / "templates.parquet");
}

class H1FeaturePaths : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new testing::TempDir();
    whole_ = new Dataset(make_dataset(tmp_->path() / "whole", false));
    split_ = new Dataset(make_dataset(tmp_->path() / "split", true));
    prepare_upstream(*whole_, false);
    prepare_upstream(*split_, true);
    fs::copy_file(whole_->root("features") / "ego-templates/0.1-fixed/templates.parquet",
                  split_->root("features") / "ego-templates/0.1-fixed/templates.parquet");
  }
  static void TearDownTestSuite() {
    delete split_;
    delete whole_;
    delete tmp_;
  }
  static testing::TempDir* tmp_;
  static Dataset* whole_;
  static Dataset* split_;
};
testing::TempDir* H1FeaturePaths::tmp_ = nullptr;
Dataset* H1FeaturePaths::whole_ = nullptr;
Dataset* H1FeaturePaths::split_ = nullptr;

TEST_F(H1FeaturePaths, WorkersAndCliGiveTheSameBytes) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const fs::path lib = tmp_->path() / ("lib-" + c.name), cli = tmp_->path() / ("cli-" + c.name);
    fs::copy(tmp_->path() / "split", lib, fs::copy_options::recursive);
    fs::copy(lib, cli, fs::copy_options::recursive);
    Dataset ds = Dataset::open(lib);
    RunResult one = run(ds, c.name, c.params, 1, 0);
    const fs::path root = root_of(ds, one);
    auto bytes1 = file_bytes(root);
    ASSERT_EQ(bytes1.size(), c.name == "global-scaler" ? 4u : 3u);  // + scaled_templates.parquet
    RunResult two = run(ds, c.name, c.params, 2, 0, true);
    EXPECT_EQ(*two.result.run_id, *one.result.run_id);
    EXPECT_EQ(two.timing.fit_seconds, 0.0);  // state reloaded, not refitted
    EXPECT_TRUE(file_bytes(root) == bytes1) << "1 vs 2 workers";
    std::string input = c.needs_ego ? fmt::format(" --input {}", kEgo) : "";
    auto cmd = testing::run_mosaic(fmt::format("run-feature '{}' {}{} --params '{}' -j 2 --quiet", cli.string(), c.name,
                                               input, c.params.dump()));
    ASSERT_EQ(cmd.exit_code, 0) << cmd.err << cmd.out;
    const fs::path cli_root = cli / fs::relative(root, lib);
    ASSERT_TRUE(fs::exists(cli_root)) << cli_root << "\n" << cmd.out << cmd.err;
    EXPECT_TRUE(file_bytes(cli_root) == bytes1) << "library vs CLI";
    EXPECT_TRUE(file_bytes(cli_root, ".npz") == file_bytes(root, ".npz")) << "state files";
  }
}

TEST_F(H1FeaturePaths, SplitRecordingWithOverlapEqualsTheWhole) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    RunResult w = run(*whole_, c.name, c.params, 1, 0);
    if (c.name == "pair-posedistance-pca") {
      // Fitted over the scope: reuse the whole recording's model so that apply is compared.
      auto f = feature(c.name, c.params);
      RunOptions o;
      o.overlap_frames = c.overlap;
      const std::string id = predict_run_id(*split_, *f, o);
      const fs::path dst = split_->root("features") / w.result.feature / id;
      fs::create_directories(dst);
      fs::copy_file(root_of(*whole_, w) / "model.npz", dst / "model.npz", fs::copy_options::overwrite_existing);
    }
    RunResult s = run(*split_, c.name, c.params, 2, c.overlap);
    Table a = read_outputs(*whole_, w), b = read_outputs(*split_, s);
    ASSERT_GT(a.num_rows(), 0u);
    std::vector<std::string> keys = {"id1", "id2", "perspective", "frame"};
    if (c.name == "pair-wavelet") EXPECT_TRUE(close_by_keys(b, a, keys));
    else EXPECT_TRUE(testing::tables_equal_by_keys(b, a, keys));
  }
}

}  // namespace
}  // namespace mosaic
