// pair-posedistance-pca, pair-wavelet and global-scaler (issue 6): fitted state saved and
// reloaded without refit, scope in the run id, DECISIONS F1 (perspective-1 ids) and F9
// (templates.parquet for the generic pattern), the §4.13 fix (entries with one animal), and the
// edge cases: one animal, an all-NaN animal, one frame, absent rows, unsorted rows, 100 animals.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <set>

#include "common/feature_check.hpp"
#include "common/test_util.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/run_feature.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using testing::simulated_tracks;

// fit's input stream over tables held by the test; counts the passes.
class VectorStream final : public InputStream {
 public:
  explicit VectorStream(std::vector<Table> tables) : tables_(std::move(tables)) {}
  std::size_t n_entries() const override { return tables_.size(); }
  void for_each(const std::function<void(const EntryData&)>& fn) const override {
    ++passes;
    for (std::size_t i = 0; i < tables_.size(); ++i) fn(EntryData{fmt::format("g__s{}", i), "g", fmt::format("s{}", i), tables_[i]});
  }
  mutable int passes = 0;

 private:
  std::vector<Table> tables_;
};

std::unique_ptr<Feature> fitted_pca(const std::vector<Table>& tables, const Json& params = Json::object(),
                                    const fs::path& save_to = {}) {
  auto f = make_feature("pair-posedistance-pca", std::nullopt, params);
  EXPECT_FALSE(f->load_state(save_to, {}, {}));
  VectorStream s(tables);
  f->fit(s);
  EXPECT_EQ(s.passes, 1);  // a single streaming pass
  if (!save_to.empty()) f->save_state(save_to);
  return f;
}

Table without_id(const Table& t, int64_t id) {
  return testing::rows_where(t, "id", [id](double v) { return v != static_cast<double>(id); });
}

Table pair_rows(const Table& out, int64_t a, int64_t b) {
  std::vector<uint8_t> keep(out.num_rows());
  for (std::size_t r = 0; r < out.num_rows(); ++r) {
    const int64_t i = out.column("id1").as_int64(r), j = out.column("id2").as_int64(r);
    keep[r] = (i == a && j == b) || (i == b && j == a);
  }
  return out.filter(keep);
}

// ---- pair-posedistance-pca ------------------------------------------------------------------

TEST(PairPoseDistancePca, LayoutF1IdsAndSortOrder) {
  Table t = simulated_tracks(3, 200);
  auto f = fitted_pca({t});
  Table out = f->apply(t);
  std::vector<std::string> want = {"PC0", "PC1", "PC2", "PC3", "PC4", "PC5", "frame", "perspective", "id1", "id2", "sequence", "group"};
  ASSERT_EQ(out.column_names(), want);
  EXPECT_EQ(out.column("perspective").type(), DType::kInt8);
  EXPECT_EQ(out.column("PC0").type(), DType::kFloat64);  // 3 pairs = 3 partial fits -> float64
  EXPECT_EQ(out.num_rows(), 6u * 200u);
  // F1: perspective 1 is the partner's view: id1 = b > id2 = a; sorted by [id1, id2, perspective, frame].
  for (std::size_t r = 0; r < out.num_rows(); ++r) {
    const int64_t i = out.column("id1").as_int64(r), j = out.column("id2").as_int64(r);
    EXPECT_EQ(out.column("perspective").as_int64(r), i < j ? 0 : 1);
  }
  EXPECT_TRUE(testing::tables_equal_by_keys(out, out.sort_by({"id1", "id2", "perspective", "frame"}), {}));
}

TEST(PairPoseDistancePca, PerspectivesAreTheSwappedVectors) {
  // With only the inter block, B->A's vector is A->B's transposed keypoint matrix; with a single
  // keypoint both are the same distance, so both perspectives score the same.
  Table t = simulated_tracks(2, 100);
  Json p = {{"pose", {{"pose_indices", {3}}}}, {"include_intra_A", false}, {"include_intra_B", false}, {"n_components", 1}};
  auto f = fitted_pca({t}, p);
  Table out = f->apply(t);
  ASSERT_EQ(out.num_rows(), 200u);
  for (std::size_t r = 0; r < 100; ++r) EXPECT_EQ(out.column("PC0").as_double(r), out.column("PC0").as_double(r + 100));
}

TEST(PairPoseDistancePca, SingleBatchGivesFloat32AndChunksGiveFloat64) {
  Table t = simulated_tracks(2, 120);
  auto one = fitted_pca({t});
  EXPECT_EQ(one->apply(t).column("PC0").type(), DType::kFloat32);  // one partial_fit: sklearn keeps float32
  testing::TempDir tmp;
  auto many = fitted_pca({t}, {{"batch_size", 50}}, tmp.path());
  EXPECT_EQ(many->apply(t).column("PC0").type(), DType::kFloat64);
  NpzArchive npz = read_npz(tmp / "model.npz");
  EXPECT_EQ(npz.at("n_samples_seen").to_int64()[0], 240);  // 3 chunks x 2 perspectives, 120 frames
  EXPECT_EQ(npz.at("feat_len").to_int64()[0], 91);
  EXPECT_EQ(npz.at("tri_i").to_int64().size(), 21u);
  EXPECT_EQ(npz.at("float32_state").to_int64()[0], 0);
}

TEST(PairPoseDistancePca, SavedStateReloadsAndAppliesTheSame) {
  testing::TempDir tmp;
  Table t = simulated_tracks(3, 150);
  auto f = fitted_pca({t}, {{"batch_size", 64}}, tmp.path());
  auto g = make_feature("pair-posedistance-pca", std::nullopt, {{"batch_size", 64}});
  ASSERT_TRUE(g->load_state(tmp.path(), {}, {}));
  EXPECT_TRUE(testing::tables_equal_by_keys(g->apply(t), f->apply(t), {}));
  auto wrong = make_feature("pair-posedistance-pca", std::nullopt, {{"n_components", 3}});
  try {
    wrong->load_state(tmp.path(), {}, {});
    FAIL() << "expected StateError";
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("ask for 3"), std::string::npos) << e.what();
  }
}

TEST(PairPoseDistancePca, OneAnimalIsSkippedByFitAndEmptyInApply) {
  Table two = simulated_tracks(2, 100);
  Table one = without_id(two, 1);
  auto f = fitted_pca({one, two});  // the reference's fit aborts on `one` (§4.13)
  Table out = f->apply(one);
  EXPECT_EQ(out.num_rows(), 0u);
  EXPECT_EQ(out.column_names(), (std::vector<std::string>{"perspective", "PC0", "PC1", "PC2", "PC3", "PC4", "PC5"}));
  auto g = make_feature("pair-posedistance-pca", std::nullopt, Json::object());
  VectorStream s({one});
  try {
    g->fit(s);
    FAIL() << "expected StateError";
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("No sequence with at least two IDs"), std::string::npos) << e.what();
  }
  EXPECT_THROW(g->apply(two), StateError);  // apply before fit
}

TEST(PairPoseDistancePca, AllNaNAnimalIsLikeAnAbsentOne) {
  Table t = simulated_tracks(3, 120);
  auto f = fitted_pca({without_id(t, 2)});
  for (int k = 0; k < 7; ++k)
    for (const char* pre : {"poseX", "poseY"})
      testing::set_nan_where(t, fmt::format("{}{}", pre, k), [&](std::size_t r) { return t.column("id").as_int64(r) == 2; });
  EXPECT_TRUE(testing::tables_equal_by_keys(f->apply(t), f->apply(without_id(t, 2)), {}));
}

TEST(PairPoseDistancePca, OneFrameAbsentRowsAndUnsortedInput) {
  Table t = simulated_tracks(3, 120);
  auto f = fitted_pca({t});
  Table whole = f->apply(t);
  // One frame: one row per ordered pair.
  Table frame7 = testing::rows_where(t, "frame", [](double v) { return v == 7; });
  EXPECT_EQ(f->apply(frame7).num_rows(), 6u);
  // Absent rows: animal 1 missing for frames 30..59 removes those frames from its pairs only.
  std::vector<uint8_t> keep(t.num_rows());
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    const double fr = t.column("frame").as_double(r);
    keep[r] = !(t.column("id").as_int64(r) == 1 && fr >= 30 && fr < 60);
  }
  Table holes = f->apply(t.filter(keep));
  EXPECT_EQ(pair_rows(holes, 0, 1).num_rows(), 2u * 90u);
  EXPECT_EQ(pair_rows(holes, 0, 2).num_rows(), 2u * 120u);
  // Unsorted input: the same output, bit for bit.
  EXPECT_TRUE(testing::tables_equal_by_keys(f->apply(testing::shuffled(t)), whole, {}));
}

TEST(PairPoseDistancePca, HundredAnimalsEqualEachPairAlone) {
  Table t = simulated_tracks(100, 20);
  auto f = fitted_pca({simulated_tracks(2, 300)});
  Table out = f->apply(t);
  EXPECT_LE(out.num_rows(), 100u * 99u * 20u);  // cleaning drops rows with 2+ missing keypoints
  EXPECT_GT(out.num_rows(), 100u * 99u * 19u);
  for (auto [a, b] : {std::pair<int64_t, int64_t>{0, 1}, {17, 64}, {98, 99}}) {
    Table alone = testing::rows_where(t, "id", [&](double v) { return v == a || v == b; });
    EXPECT_TRUE(testing::tables_equal_by_keys(pair_rows(out, a, b), f->apply(alone), {})) << a << "," << b;
  }
}

// run_feature: a second run with the same run id loads model.npz; the scope is in the run id.
TEST(PairPoseDistancePca, SecondRunLoadsStateAndScopeIsInTheRunId) {
  testing::TempDir tmp;
  Dataset ds = Dataset::create(tmp / "ds", {.name = "t", .fps = 30.0});
  for (int s = 0; s < 2; ++s) {
    Table t = simulated_tracks(2, 90, 7, 10 + s);
    t.drop_column("group");
    t.drop_column("sequence");
    ds.write_tracks("g", fmt::format("s{}", s), t, {.std_format = "simulated"});
  }
  auto f = make_feature("pair-posedistance-pca", std::nullopt, Json::object());
  RunOptions o;
  o.log = false;
  RunResult first = run_feature(ds, *f, o);
  ASSERT_TRUE(first.failures.empty());
  const fs::path root = ds.root("features") / first.result.feature / *first.result.run_id;
  ASSERT_TRUE(fs::exists(root / "model.npz"));
  EXPECT_GT(first.timing.fit_seconds, 0.0);
  const auto stamp = fs::last_write_time(root / "model.npz");
  const std::string bytes = read_file_text(root / "g__s0.parquet");
  o.overwrite = true;  // re-apply, but the state is reused: no refit
  auto again = make_feature("pair-posedistance-pca", std::nullopt, Json::object());
  RunResult second = run_feature(ds, *again, o);
  EXPECT_EQ(*second.result.run_id, *first.result.run_id);
  EXPECT_EQ(second.timing.fit_seconds, 0.0);
  EXPECT_EQ(fs::last_write_time(root / "model.npz"), stamp);
  EXPECT_EQ(read_file_text(root / "g__s0.parquet"), bytes);
  // Scope-dependent: a run over one sequence has another run id (its payload lists the scope).
  RunOptions one = o;
  one.sequences = std::set<std::string>{"s0"};
  std::string payload;
  auto scoped = make_feature("pair-posedistance-pca", std::nullopt, Json::object());
  const std::string id = predict_run_id(ds, *scoped, one, &payload);
  EXPECT_NE(id, *first.result.run_id);
  EXPECT_NE(payload.find("\"_scope_entries\": [[\"g\", \"s0\"]]"), std::string::npos) << payload;
  EXPECT_EQ(id.substr(0, 10), "0.1+cpp.1-");
}

// ---- pair-wavelet ---------------------------------------------------------------------------

Table pca_like(int64_t frames, int pairs = 1, uint64_t seed = 1) {
  // (id1, id2, perspective) series of two PC columns: sines plus noise.
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> noise(0.0, 0.1);
  std::vector<double> pc0, pc1;
  std::vector<int64_t> frame, persp, id1, id2;
  for (int p = 0; p < pairs; ++p)
    for (int s = 0; s < 2; ++s)
      for (int64_t f = 0; f < frames; ++f) {
        pc0.push_back(std::sin(0.3 * static_cast<double>(f) + p) + noise(gen));
        pc1.push_back(std::cos(0.05 * static_cast<double>(f) * (s + 1)) * 10.0 + noise(gen));
        frame.push_back(f);
        persp.push_back(s);
        id1.push_back(s == 0 ? p : p + 1);
        id2.push_back(s == 0 ? p + 1 : p);
      }
  Table t;
  const std::size_t n = frame.size();
  t.add_column("PC0", Column::from_float64(pc0));
  t.add_column("PC1", Column::from_float64(pc1));
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("perspective", Column::from_int64(persp));
  t.add_column("id1", Column::from_int64(id1));
  t.add_column("id2", Column::from_int64(id2));
  t.add_column("sequence", Column::constant_string("s", n));
  t.add_column("group", Column::constant_string("g", n));
  return t;
}

const Json kWavelet = {{"n_freq", 4}, {"f_min", 0.5}, {"f_max", 5.0}};

Table wavelet(const Table& t, const Json& params = kWavelet) {
  auto f = make_feature("pair-wavelet", Inputs::of({Result{"pair-posedistance-pca__from__tracks", std::nullopt}}), params);
  return f->apply(t);
}

TEST(PairWavelet, ColumnsOrderAndUnsortedInput) {
  Table t = pca_like(300, 2);
  Table out = wavelet(t);
  std::vector<std::string> want;
  for (const char* c : {"PC0", "PC1"})
    for (int fi = 0; fi < 4; ++fi) want.push_back(fmt::format("W_{}_f{}", c, fi));
  for (const char* c : {"frame", "perspective", "id1", "id2", "sequence", "group"}) want.push_back(c);
  ASSERT_EQ(out.column_names(), want);
  EXPECT_EQ(out.column("W_PC0_f0").type(), DType::kFloat32);
  EXPECT_EQ(out.column("perspective").type(), DType::kInt64);
  EXPECT_TRUE(testing::tables_equal_by_keys(out, out.sort_by({"id1", "id2", "perspective", "frame"}), {}));
  EXPECT_TRUE(testing::tables_equal_by_keys(wavelet(testing::shuffled(t)), out, {}));
  for (std::size_t r = 0; r < out.num_rows(); ++r) ASSERT_GE(out.column("W_PC1_f2").as_double(r), -3.0);
}

TEST(PairWavelet, EachSeriesIsIndependentAndHundredAnimals) {
  // 99 pairs (100 animals in a chain) x 2 perspectives: every series equals itself alone.
  Table t = pca_like(200, 99);
  Table out = wavelet(t);
  EXPECT_EQ(out.num_rows(), t.num_rows());
  for (auto [a, b] : {std::pair<int64_t, int64_t>{0, 1}, {50, 51}, {98, 99}}) {
    Table alone = wavelet(pair_rows(t, a, b));
    EXPECT_TRUE(testing::tables_equal_by_keys(pair_rows(out, a, b), alone, {})) << a;
  }
}

TEST(PairWavelet, OneFrameAbsentRowsAndNaN) {
  Table t = pca_like(1);
  Table one = wavelet(t);
  ASSERT_EQ(one.num_rows(), 2u);
  for (std::size_t c = 0; c < 8; ++c) EXPECT_FALSE(std::isnan(one.column(c).as_double(0)));
  // Absent rows: frame gaps are ignored (samples are equally spaced), as in the reference.
  Table g = testing::rows_where(pca_like(300), "frame", [](double f) { return f < 100 || f >= 150; });
  Table gap = wavelet(g);
  EXPECT_EQ(gap.num_rows(), 500u);
  // A NaN sample: NaN where the window sees it (the CWT is local), finite far away.
  Table n = pca_like(600);
  testing::set_nan_where(n, "PC0", [](std::size_t r) { return r == 300; });
  Table w = wavelet(n, {{"n_freq", 2}, {"f_min", 3.0}, {"f_max", 5.0}});
  EXPECT_TRUE(std::isnan(w.column("W_PC0_f0").as_double(300)));
  EXPECT_FALSE(std::isnan(w.column("W_PC0_f0").as_double(10)));
  EXPECT_FALSE(std::isnan(w.column("W_PC1_f0").as_double(300)));
}

TEST(PairWavelet, InputColumnChoiceAndErrors) {
  Table t = pca_like(100);
  Table some = wavelet(t, {{"n_freq", 2}, {"cols", {"PC1", "nope"}}});
  EXPECT_EQ(some.column_names()[0], "W_PC1_f0");
  EXPECT_EQ(some.column_names()[2], "frame");
  // Without PC columns: every numeric non-key column, in Python string order.
  Table ego = t.rename({{"PC0", "b_x"}, {"PC1", "A_y"}});
  EXPECT_EQ(wavelet(ego, {{"n_freq", 1}}).column_names()[0], "W_A_y_f0");
  try {
    wavelet(t, {{"cols", {"x"}}});
    FAIL();
  } catch (const SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("none of the requested cols [x]"), std::string::npos) << e.what();
  }
  Table np = t;
  np.drop_column("perspective");
  try {
    wavelet(np);
    FAIL();
  } catch (const SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("perspective"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_feature("pair-wavelet", Inputs::of({Result{"x", std::nullopt}}), {{"wavelet", "morl"}}), InputError);
}

// ---- global-scaler --------------------------------------------------------------------------

Table templates_table() {
  Table t;
  t.add_column("a", Column::from_float64({1.0, 2.0, 4.0, std::nan(""), 8.0}));
  t.add_column("b", Column::from_float64({5.0, 5.0, 5.0, 5.0, 5.0}));  // constant: scale 1
  t.add_column("label", Column::from_strings({"x", "y", "z", "w", "v"}));  // not numeric: skipped
  return t;
}

const Json kTemplatesRef = {{"templates", {{"feature", "extract-templates"}, {"run_id", "0.1-abc"}, {"pattern", "templates.parquet"}}}};

std::unique_ptr<Feature> fitted_scaler(const fs::path& tpl, const fs::path& run_root, const Json& params = kTemplatesRef) {
  auto f = make_feature("global-scaler", Inputs::of({Result{"x", std::string("0.1-x")}}), params);
  if (!f->load_state(run_root, {{"templates", tpl}}, {})) {
    f->fit(VectorStream({}));
    f->save_state(run_root);
  }
  return f;
}

TEST(GlobalScaler, FitSaveReloadAndApply) {
  testing::TempDir tmp;
  write_parquet(templates_table(), tmp / "templates.parquet");
  fs::create_directories(tmp / "run");
  auto f = fitted_scaler(tmp / "templates.parquet", tmp / "run");
  ASSERT_TRUE(fs::exists(tmp / "run/scaler.npz"));
  Table scaled = read_parquet(tmp / "run/scaled_templates.parquet");
  ASSERT_EQ(scaled.column_names(), (std::vector<std::string>{"a", "b"}));
  // mean of a (NaN skipped) = 3.75, population std = sqrt(7.1875).
  EXPECT_DOUBLE_EQ(scaled.column("a").as_double(0), (1.0 - 3.75) / std::sqrt(7.1875));
  EXPECT_TRUE(std::isnan(scaled.column("a").as_double(3)));
  EXPECT_EQ(scaled.column("b").as_double(2), 0.0);
  // apply: a copy with exactly the template columns replaced (float64), other columns untouched.
  Table in;
  in.add_column("frame", Column::from_int64({7, 3}));
  in.add_column("b", Column::from_float32({6.0f, 5.0f}));
  in.add_column("a", Column::from_float64({3.75, std::nan("")}));
  in.add_column("sequence", Column::constant_string("s", 2));
  Table out = f->apply(in);
  ASSERT_EQ(out.column_names(), in.column_names());
  EXPECT_EQ(out.column("b").type(), DType::kFloat64);
  EXPECT_EQ(out.column("b").as_double(0), 1.0);
  EXPECT_EQ(out.column("a").as_double(0), 0.0);
  EXPECT_TRUE(std::isnan(out.column("a").as_double(1)));
  EXPECT_EQ(out.column("frame").as_int64(0), 7);
  // A second instance loads scaler.npz without fitting (fit would throw: no templates path).
  auto g = make_feature("global-scaler", Inputs::of({Result{"x", std::string("0.1-x")}}), kTemplatesRef);
  ASSERT_TRUE(g->load_state(tmp / "run", {}, {}));
  EXPECT_TRUE(testing::tables_equal_by_keys(g->apply(in), out, {}));
  // The model param reuses another run's scaler.npz (found beside the reference's scaler.joblib name).
  auto m = make_feature("global-scaler", Inputs::of({Result{"x", std::string("0.1-x")}}),
                        {{"model", {{"feature", "global-scaler"}, {"run_id", "0.1-abc"}}}});
  ASSERT_TRUE(m->load_state(tmp / "empty", {{"model", tmp / "run/scaler.joblib"}}, {}));
  EXPECT_TRUE(testing::tables_equal_by_keys(m->apply(in), out, {}));
  Table missing = in;
  missing.drop_column("a");
  try {
    f->apply(missing);
    FAIL();
  } catch (const SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("'a'"), std::string::npos) << e.what();
  }
}

TEST(GlobalScaler, F9DefaultPatternTakesTemplatesParquet) {
  testing::TempDir tmp;
  write_parquet(templates_table(), tmp / "templates.parquet");
  Table other;
  other.add_column("a", Column::from_float64({100.0, 300.0}));
  other.add_column("b", Column::from_float64({0.0, 1.0}));
  write_parquet(other, tmp / "a__first.parquet");  // alphabetically first: the reference's pick
  fs::create_directories(tmp / "run1");
  fs::create_directories(tmp / "run2");
  const Json generic = {{"templates", {{"feature", "extract-templates"}, {"run_id", "0.1-abc"}}}};
  auto f = fitted_scaler(tmp / "a__first.parquet", tmp / "run1", generic);
  auto g = fitted_scaler(tmp / "templates.parquet", tmp / "run2");
  Table in = templates_table();
  EXPECT_TRUE(testing::tables_equal_by_keys(f->apply(in), g->apply(in), {}));
  EXPECT_EQ(f->params()["templates"]["pattern"], "*.parquet");  // the dump (run id) stays the reference's
}

TEST(GlobalScaler, ParamsAndRowShapes) {
  try {
    make_feature("global-scaler", Inputs::of({Result{"x", std::nullopt}}), Json::object());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("Exactly one of 'templates' or 'model'"), std::string::npos) << e.what();
  }
  testing::TempDir tmp;
  write_parquet(templates_table(), tmp / "templates.parquet");
  fs::create_directories(tmp / "run");
  auto f = fitted_scaler(tmp / "templates.parquet", tmp / "run");
  EXPECT_THROW(make_feature("global-scaler", Inputs::of({Result{"x", std::nullopt}}), kTemplatesRef)->apply(templates_table()),
               StateError);
  // Row-wise: one row, an all-NaN animal, 100 animals and shuffled rows all scale row by row.
  Table t = simulated_tracks(100, 3);
  t.add_column("a", t.column("X"));
  t.add_column("b", t.column("Y"));
  testing::set_nan_where(t, "a", [&](std::size_t r) { return t.column("id").as_int64(r) == 4; });
  Table out = f->apply(t);
  Table sh = testing::shuffled(t);
  EXPECT_TRUE(testing::tables_equal_by_keys(f->apply(sh), out, {"frame", "id"}));
  Table first = f->apply(t.slice(0, 1));
  EXPECT_EQ(first.column("a").as_double(0), out.column("a").as_double(0));
  for (std::size_t r = 0; r < out.num_rows(); ++r) {
    if (t.column("id").as_int64(r) == 4) {
      ASSERT_TRUE(std::isnan(out.column("a").as_double(r)));
    }
  }
}

}  // namespace
}  // namespace mosaic
