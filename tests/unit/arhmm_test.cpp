// arhmm: params, DECISIONS F11 (too few frames: an error naming the sequences; too-short
// sequences skipped), state save/load, the second run loading the saved model, scope in the run
// id, and the edge cases of apply (one animal, an all-NaN animal, a single frame, absent rows,
// unsorted rows, 100 animals).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "common/test_util.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/files.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/run_feature.hpp"
#include "mosaic/simulate.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;

// Per id, two regimes alternating every 25 frames in two feature columns.
Table regimes(int64_t frames, int64_t animals, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<double> z(0.0, 0.05);
  std::vector<int64_t> frame, id;
  std::vector<double> fa, fb;
  for (int64_t a = 0; a < animals; ++a) {
    double x = 0, y = 0;
    for (int64_t f = 0; f < frames; ++f) {
      if (((f + 7 * a) / 25) % 2 == 0) {
        x = 0.9 * x + 0.2 + z(g);
        y = 0.9 * y - 0.1 + z(g);
      } else {
        const double nx = -0.7 * y + z(g), ny = 0.7 * x + z(g);
        x = nx;
        y = ny;
      }
      frame.push_back(f);
      id.push_back(a);
      fa.push_back(x);
      fb.push_back(y);
    }
  }
  Table t;
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("id", Column::from_int64(id));
  t.add_column("feat_a", Column::from_float64(fa));
  t.add_column("feat_b", Column::from_float64(fb));
  return t;
}

struct VectorStream : InputStream {
  std::vector<EntryData> entries;
  std::size_t n_entries() const override { return entries.size(); }
  void for_each(const std::function<void(const EntryData&)>& fn) const override {
    for (const auto& e : entries) fn(e);
  }
};

Json small() { return Json{{"n_states", 4}, {"n_iter", 20}}; }

std::unique_ptr<Feature> fitted(const Table& t, const Json& params = small()) {
  auto f = make_feature("arhmm", Inputs::of({Result{"up", "0.1-x"}}), params);
  VectorStream s;
  s.entries.push_back(EntryData{"g__s", "g", "s", t});
  f->fit(s);
  return f;
}

TEST(Arhmm, ParamsAndInfo) {
  auto f = make_feature("arhmm", Inputs::of({Result{"up", "0.1-x"}}), Json::object());
  EXPECT_EQ(python_json_dumps(f->params()),
            R"({"model": null, "pca_dim": null, "n_states": 50, "n_lags": 1, "sticky_weight": 100.0, "n_iter": 200, "tol": 0.0001, "n_restarts": 1, "standardize": true, "downsample_rate": null, "prune_threshold": 0.01, "random_state": 42})");
  EXPECT_EQ(f->info().version, "0.1");
  EXPECT_TRUE(f->info().scope_dependent);
  try {
    make_feature("arhmm", Inputs::of({Result{"up", "0.1-x"}}), Json{{"n_states", 1}});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("n_states"), std::string::npos) << e.what();
  }
}

TEST(Arhmm, F11TooFewFramesNamesTheSequences) {
  auto f = make_feature("arhmm", Inputs::of({Result{"up", "0.1-x"}}), Json{{"n_states", 8}});
  VectorStream s;
  s.entries.push_back(EntryData{"g__s1", "g", "s1", regimes(3, 1, 1)});
  s.entries.push_back(EntryData{"g__s2", "g", "s2", regimes(1, 1, 2)});
  try {
    f->fit(s);
    FAIL();
  } catch (const StateError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("3 usable frames in total but n_states=8"), std::string::npos) << m;
    EXPECT_NE(m.find("s1 id 0: 3 frames"), std::string::npos) << m;
    EXPECT_NE(m.find("s2 id 0: 1 frames"), std::string::npos) << m;
  }
  // A single-frame sequence is skipped when the others can fit; it is still labelled in apply.
  VectorStream ok;
  ok.entries.push_back(EntryData{"g__s1", "g", "s1", regimes(300, 2, 1)});
  ok.entries.push_back(EntryData{"g__s2", "g", "s2", regimes(1, 1, 2)});
  auto g = make_feature("arhmm", Inputs::of({Result{"up", "0.1-x"}}), small());
  g->fit(ok);
  Table one = g->apply(regimes(1, 1, 2));
  ASSERT_EQ(one.num_rows(), 1u);
  EXPECT_EQ(one.column_names(), (std::vector<std::string>{"frame", "syllable", "id"}));
}

TEST(Arhmm, ApplyEdgeCases) {
  Table train = regimes(400, 3, 3);
  auto f = fitted(train);
  Table out = f->apply(train);
  ASSERT_EQ(out.num_rows(), train.num_rows());
  EXPECT_EQ(out.column("syllable").type(), DType::kInt32);
  // Output rows: per id ascending, frames ascending; the same frames and ids as the input.
  EXPECT_TRUE(out.column("frame").equals(train.column("frame")));
  EXPECT_TRUE(out.column("id").equals(train.column("id")));
  // The two regimes get different syllables most of the time.
  std::size_t switches = 0;
  for (std::size_t r = 1; r < out.num_rows(); ++r) switches += out.column("syllable").as_int64(r) != out.column("syllable").as_int64(r - 1);
  EXPECT_GT(switches, 10u);
  EXPECT_LT(switches, 200u);

  // One animal: the same labels as that animal's rows of the full table (Viterbi is per id).
  std::vector<uint8_t> mask(train.num_rows());
  for (std::size_t r = 0; r < mask.size(); ++r) mask[r] = train.column("id").as_int64(r) == 1;
  EXPECT_TRUE(f->apply(train.filter(mask)).equals(out.filter(mask)));

  // Unsorted rows: the output is sorted by (id, frame) and equals the sorted input's.
  std::vector<int64_t> perm(train.num_rows());
  for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(i);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(2));
  EXPECT_TRUE(f->apply(train.take(perm)).equals(out));

  // An all-NaN animal: its values become 0 (a constant sequence) and every row is labelled.
  Table nan_t = train;
  std::vector<double> a(train.column("feat_a").f64().begin(), train.column("feat_a").f64().end());
  std::vector<double> b(train.column("feat_b").f64().begin(), train.column("feat_b").f64().end());
  for (std::size_t r = 0; r < a.size(); ++r)
    if (train.column("id").as_int64(r) == 2) a[r] = b[r] = NAN;
  nan_t.set_column("feat_a", Column::from_float64(a));
  nan_t.set_column("feat_b", Column::from_float64(b));
  Table nan_out = f->apply(nan_t);
  ASSERT_EQ(nan_out.num_rows(), train.num_rows());
  for (std::size_t r = 0; r < mask.size(); ++r) mask[r] = train.column("id").as_int64(r) != 2;
  EXPECT_TRUE(nan_out.filter(mask).equals(out.filter(mask)));

  // A single frame: labelled with the most likely start state.
  Table single = f->apply(train.slice(0, 1));
  ASSERT_EQ(single.num_rows(), 1u);

  // Absent rows: animal 0 missing for frames 100..149 keeps one row per present frame.
  for (std::size_t r = 0; r < mask.size(); ++r) {
    const int64_t fr = train.column("frame").as_int64(r);
    mask[r] = !(train.column("id").as_int64(r) == 0 && fr >= 100 && fr < 150);
  }
  Table gap = f->apply(train.filter(mask));
  EXPECT_EQ(gap.num_rows(), train.num_rows() - 50);

  // Missing feature column.
  Table missing = train;
  missing.drop_column("feat_b");
  try {
    f->apply(missing);
    FAIL();
  } catch (const SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("missing column 'feat_b'"), std::string::npos) << e.what();
  }
}

TEST(Arhmm, HundredAnimalsAndPairInput) {
  Table t = regimes(60, 100, 5);
  auto f = fitted(t);
  Table out = f->apply(t);
  ASSERT_EQ(out.num_rows(), 6000u);
  EXPECT_EQ(out.column("id").as_int64(5999), 99);
  // Without `id` (pair input) the whole table is one sequence in row order.
  Table pairs = t.select({"frame", "feat_a", "feat_b"});
  Table po = f->apply(pairs);
  EXPECT_EQ(po.column_names(), (std::vector<std::string>{"frame", "syllable"}));
  EXPECT_TRUE(po.column("frame").equals(t.column("frame")));
}

TEST(Arhmm, DownsampleRepeatsLabelsAndPcaRuns) {
  Table t = regimes(300, 2, 6);
  auto f = fitted(t, Json{{"n_states", 4}, {"n_iter", 10}, {"downsample_rate", 3}, {"pca_dim", 1}});
  Table out = f->apply(t);
  ASSERT_EQ(out.num_rows(), 600u);
  for (std::size_t r = 0; r < 300; r += 3)
    for (std::size_t k = 1; k < 3 && r + k < 300; ++k)
      EXPECT_EQ(out.column("syllable").as_int64(r + k), out.column("syllable").as_int64(r)) << r;
}

TEST(Arhmm, SaveLoadAndSecondRunWithoutRefit) {
  testing::TempDir tmp;
  Table t = regimes(300, 2, 7);
  auto f = fitted(t);
  f->save_state(tmp / "run");
  auto g = make_feature("arhmm", Inputs::of({Result{"up", "0.1-x"}}), small());
  EXPECT_TRUE(g->load_state(tmp / "run", {}, {}));
  EXPECT_TRUE(g->apply(t).equals(f->apply(t)));
  auto h = make_feature("arhmm", Inputs::of({Result{"up", "0.1-x"}}), Json{{"model", {{"feature", "arhmm"}}}});
  EXPECT_TRUE(h->load_state(tmp / "other", {{"model", tmp / "run" / "arhmm_model.joblib"}}, {}));
  EXPECT_TRUE(h->apply(t).equals(f->apply(t)));

  // Through run_feature on a dataset: the second run loads the model, and the scope is in the id.
  Dataset ds = Dataset::create(tmp / "ds", {.name = "t", .fps = 30.0});
  SimulationOptions so;
  so.animals = 2;
  so.frames = 200;
  so.keypoints = 4;
  for (int s = 0; s < 3; ++s) ds.write_tracks("g", "s" + std::to_string(s), simulate_sequence(so, s), {.std_format = "simulated"});
  RunOptions o;
  o.log = false;
  auto up = make_feature("speed-angvel", std::nullopt, Json{{"fps", 30.0}});
  RunResult ur = run_feature(ds, *up, o);
  Inputs in = Inputs::of({Result{ur.result.feature, ur.result.run_id}});
  auto a1 = make_feature("arhmm", in, small());
  RunResult r1 = run_feature(ds, *a1, o);
  ASSERT_TRUE(r1.failures.empty()) << r1.failures[0].message;
  EXPECT_GT(r1.timing.fit_seconds, 0.0);
  fs::path root = ds.root("features") / r1.result.feature / *r1.result.run_id;
  auto mtime = fs::last_write_time(root / "arhmm_model.json");
  std::string bytes = read_file_text(root / "g__s1.parquet");
  auto a2 = make_feature("arhmm", in, small());
  RunOptions o2 = o;
  o2.overwrite = true;
  RunResult r2 = run_feature(ds, *a2, o2);
  EXPECT_EQ(*r2.result.run_id, *r1.result.run_id);
  EXPECT_EQ(r2.timing.fit_seconds, 0.0);
  EXPECT_EQ(fs::last_write_time(root / "arhmm_model.json"), mtime);
  EXPECT_EQ(read_file_text(root / "g__s1.parquet"), bytes);
  RunOptions scoped = o;
  scoped.sequences = std::set<std::string>{"s0", "s1"};
  auto a3 = make_feature("arhmm", in, small());
  EXPECT_NE(predict_run_id(ds, *a3, scoped), *r1.result.run_id);
}

}  // namespace
}  // namespace mosaic
