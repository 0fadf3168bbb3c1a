// run_feature: the behaviour pinned by the reference's tests (pipeline.md §11) and DECISIONS P1-P10.
#include "mosaic/run_feature.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <mutex>
#include <numeric>
#include <thread>

#include "common/test_util.hpp"
#include "features/feature_base.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/registry.hpp"
#include "mosaic/run_id.hpp"
#include "pipeline/manifest.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// ---- Test features ---------------------------------------------------------------------------------

// Doubles `frame` into `feat_a`; fails on purpose for a sequence named "boom".
class TestStateless final : public features::StatelessFeature<TestStateless> {
 public:
  using StatelessFeature::StatelessFeature;
  static const FeatureInfo& static_info() {
    static const FeatureInfo info{.name = "test-stateless", .version = "0.1", .summary = "test"};
    return info;
  }
  static const ParamSchema& static_schema() {
    static const ParamSchema s{"P", {param_int("window", 5, "unused"), param_float("fps", 30, "unused")}};
    return s;
  }
  Table apply(const Table& df) const override {
    if (df.has_column("sequence") && df.column("sequence").str(0) == "boom") throw InputError("boom happened");
    Table out;
    std::vector<double> a(df.num_rows());
    for (std::size_t r = 0; r < df.num_rows(); ++r) a[r] = 2.0 * df.column("frame").as_double(r);
    out.add_column("frame", df.shared_column(*df.column_index("frame")));
    out.add_column("id", df.shared_column(*df.column_index("id")));
    out.add_column("feat_a", Column::from_float64(std::move(a)));
    return out;
  }
};
MOSAIC_REGISTER_FEATURE(TestStateless);

// Centred 3-frame moving average of X, per id; reverses row order to check frame-based trimming.
class TestRolling final : public features::StatelessFeature<TestRolling> {
 public:
  using StatelessFeature::StatelessFeature;
  static const FeatureInfo& static_info() {
    static const FeatureInfo info{.name = "test-rolling", .version = "0.1", .summary = "test"};
    return info;
  }
  static const ParamSchema& static_schema() {
    static const ParamSchema s{"P", {}};
    return s;
  }
  Table apply(const Table& df) const override {
    Table s = df.sort_by({"id", "frame"});
    std::size_t n = s.num_rows();
    std::vector<double> m(n, NAN);
    auto x = s.column("X").f64();
    auto id = s.column("id").i64();
    for (std::size_t r = 1; r + 1 < n; ++r)
      if (id[r - 1] == id[r] && id[r + 1] == id[r]) m[r] = (x[r - 1] + x[r] + x[r + 1]) / 3.0;
    Table out;
    out.add_column("frame", s.shared_column(*s.column_index("frame")));
    out.add_column("id", s.shared_column(*s.column_index("id")));
    out.add_column("mx", Column::from_float64(std::move(m)));
    std::vector<int64_t> rev(n);
    std::iota(rev.rbegin(), rev.rend(), 0);
    return out.take(rev);
  }
};
MOSAIC_REGISTER_FEATURE(TestRolling);

// Global fit: feat_a minus the mean of feat_a over all entries; state in state.json.
class TestStateful final : public features::FeatureBase<TestStateful> {
 public:
  using FeatureBase::FeatureBase;
  static const FeatureInfo& static_info() {
    static const FeatureInfo info{.name = "test-stateful",
                                  .version = "0.1",
                                  .summary = "test",
                                  .category = "global",
                                  .input_kinds = InputKinds::kResultsOnly,
                                  .default_tracks_input = false};
    return info;
  }
  static const ParamSchema& static_schema() {
    static const ParamSchema s{"P", {}};
    return s;
  }
  bool load_state(const fs::path& run_root, const ArtifactPaths&, const DependencyLookups&) override {
    if (!fs::exists(run_root / "state.json")) return false;
    mean_ = python_json_loads(read_file_text(run_root / "state.json"))["mean"].get<double>();
    return true;
  }
  void fit(const InputStream& in) override {
    double sum = 0;
    std::size_t n = 0;
    for (int pass = 0; pass < 2; ++pass) {  // iterate twice: the stream must restart
      sum = 0;
      n = 0;
      in.for_each([&](const EntryData& e) {
        for (double v : e.table.column("feat_a").f64()) {
          sum += v;
          ++n;
        }
      });
    }
    mean_ = sum / static_cast<double>(n);
    ++fits;
  }
  void save_state(const fs::path& run_root) const override {
    write_file_atomic(run_root / "state.json", python_json_dumps(Json{{"mean", mean_}}));
  }
  Table apply(const Table& df) const override {
    Table out = df.select({"frame", "id"});
    std::vector<double> v(df.num_rows());
    for (std::size_t r = 0; r < df.num_rows(); ++r) v[r] = df.column("feat_a").f64()[r] - mean_;
    out.add_column("centered", Column::from_float64(std::move(v)));
    return out;
  }
  static inline int fits = 0;

 private:
  double mean_ = 0;
};
MOSAIC_REGISTER_FEATURE(TestStateful);

class TestGlobal final : public features::StatelessFeature<TestGlobal> {
 public:
  using StatelessFeature::StatelessFeature;
  static const FeatureInfo& static_info() {
    static const FeatureInfo info{.name = "test-global",
                                  .version = "0.1",
                                  .summary = "test",
                                  .input_require = InputRequire::kEmpty,
                                  .default_tracks_input = false};
    return info;
  }
  static const ParamSchema& static_schema() {
    static const ParamSchema s{"P", {}};
    return s;
  }
  Table apply(const Table&) const override { return Table(); }
};
MOSAIC_REGISTER_FEATURE(TestGlobal);

class TestScoped final : public features::StatelessFeature<TestScoped> {
 public:
  using StatelessFeature::StatelessFeature;
  static const FeatureInfo& static_info() {
    static const FeatureInfo info{.name = "test-scoped", .version = "0.1", .summary = "test", .scope_dependent = true};
    return info;
  }
  static const ParamSchema& static_schema() {
    static const ParamSchema s{"P", {}};
    return s;
  }
  Table apply(const Table& df) const override { return df.select({"frame", "id"}); }
};
MOSAIC_REGISTER_FEATURE(TestScoped);

// ---- Helpers ---------------------------------------------------------------------------------------

Table tracks(int64_t first_frame, int64_t n_frames, int animals = 1) {
  std::vector<int64_t> frame, id;
  std::vector<double> x, y;
  for (int64_t f = first_frame; f < first_frame + n_frames; ++f)
    for (int a = 0; a < animals; ++a) {
      frame.push_back(f);
      id.push_back(a);
      x.push_back(std::sin(0.1 * static_cast<double>(f)) * 10 + a);
      y.push_back(static_cast<double>(f));
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
  Fixture() : ds(Dataset::create(tmp / "d", {.fps = 30.0})) {}
  void add(const std::string& g, const std::string& s, const Table& t) { ds.write_tracks(g, s, t, {}); }
};

RunOptions quiet() {
  RunOptions o;
  o.log = false;
  return o;
}

std::string file_bytes(const fs::path& p) { return read_file_text(p); }

// ---- Tests -----------------------------------------------------------------------------------------

TEST(RunFeatureTest, StatelessOnTracks) {
  Fixture fx;
  fx.add("g", "s1", tracks(0, 20));
  fx.add("g", "s2", tracks(0, 20));
  auto f = make_feature("test-stateless", std::nullopt, Json::object());
  RunResult r = run_feature(fx.ds, *f, quiet());
  EXPECT_EQ(r.result.feature, "test-stateless__from__tracks");
  ASSERT_TRUE(r.result.run_id);
  EXPECT_TRUE(r.finished);
  fs::path run_root = fx.ds.root("features") / r.result.feature / *r.result.run_id;
  EXPECT_TRUE(fs::exists(run_root / "g__s1.parquet"));
  EXPECT_TRUE(fs::exists(run_root / "g__s2.parquet"));
  // params.json: indent 2, declaration order, no trailing newline.
  EXPECT_EQ(file_bytes(run_root / "params.json"),
            "{\n  \"_params\": {\n    \"window\": 5,\n    \"fps\": 30.0\n  },\n  \"_inputs\": [\n    \"tracks\"\n  ],\n"
            "  \"_frame_range\": [\n    null,\n    null\n  ]\n}");
  // The run id hashes {_params, _inputs, _frame_range}.
  Json payload = Json::parse(R"({"_params": {"window": 5, "fps": 30.0}, "_inputs": ["tracks"], "_frame_range": [null, null]})");
  payload["_params"]["fps"] = 30.0;
  EXPECT_EQ(*r.result.run_id, "0.1-" + hash_params(payload));
  TextCsv idx = TextCsv::read(fx.ds.root("features") / r.result.feature / "index.csv");
  EXPECT_EQ(join_names(idx.header, ","), "abs_path,run_id,started_at,finished_at,feature,version,group,sequence,params_hash,n_rows");
  ASSERT_EQ(idx.rows.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_FALSE(idx.cell(i, "finished_at").empty());
    EXPECT_NE(idx.cell(i, "started_at").find('T'), std::string_view::npos);
    EXPECT_EQ(idx.cell(i, "n_rows"), "20");
    EXPECT_TRUE(fs::path(std::string(idx.cell(i, "abs_path"))).is_absolute());
  }
  Table out = read_parquet(run_root / "g__s1.parquet");
  EXPECT_EQ(out.column("feat_a").f64()[3], 6.0);
}

TEST(RunFeatureTest, SecondRunIsCachedAndDoesNotRewrite) {
  Fixture fx;
  fx.add("g", "s1", tracks(0, 20));
  auto f = make_feature("test-stateless", std::nullopt, Json::object());
  RunResult r1 = run_feature(fx.ds, *f, quiet());
  fs::path out = fx.ds.root("features") / r1.result.feature / *r1.result.run_id / "g__s1.parquet";
  auto mtime = fs::last_write_time(out);
  auto f2 = make_feature("test-stateless", std::nullopt, Json::object());
  RunResult r2 = run_feature(fx.ds, *f2, quiet());
  EXPECT_EQ(r1.result.run_id, r2.result.run_id);
  EXPECT_EQ(fs::last_write_time(out), mtime);
  EXPECT_EQ(r2.timing.entries_skipped_existing, 1u);
  // Dedup on (run_id, group, sequence): still one row.
  EXPECT_EQ(TextCsv::read(fx.ds.root("features") / r1.result.feature / "index.csv").rows.size(), 1u);
  // overwrite recomputes.
  RunOptions o = quiet();
  o.overwrite = true;
  RunResult r3 = run_feature(fx.ds, *f2, o);
  EXPECT_EQ(r3.timing.entries_written, 1u);
}

TEST(RunFeatureTest, StatefulFitSaveAndReuse) {
  Fixture fx;
  fx.add("g", "s1", tracks(0, 10));
  fx.add("g", "s2", tracks(10, 10));
  auto up = make_feature("test-stateless", std::nullopt, Json::object());
  RunResult ru = run_feature(fx.ds, *up, quiet());
  TestStateful::fits = 0;
  auto f = make_feature("test-stateful", Inputs::of({Result{ru.result.feature, std::nullopt}}), Json::object());
  RunResult r = run_feature(fx.ds, *f, quiet());
  EXPECT_EQ(TestStateful::fits, 1);
  fs::path run_root = fx.ds.root("features") / r.result.feature / *r.result.run_id;
  EXPECT_TRUE(fs::exists(run_root / "state.json"));
  // mean of 2*frame over frames 0..19 = 19
  Table s2 = read_parquet(run_root / "g__s2.parquet");
  EXPECT_DOUBLE_EQ(s2.column("centered").f64()[0], 20.0 - 19.0);
  // DECISIONS P3: the unpinned input was pinned before hashing.
  EXPECT_EQ(r.result.feature, "test-stateful__from__test-stateless__from__tracks");
  std::string params = file_bytes(run_root / "params.json");
  EXPECT_NE(params.find(*ru.result.run_id), std::string::npos) << params;
  // Second run: state loads, no refit.
  auto f2 = make_feature("test-stateful", Inputs::of({Result{ru.result.feature, std::nullopt}}), Json::object());
  run_feature(fx.ds, *f2, quiet());
  EXPECT_EQ(TestStateful::fits, 1);
  // P1: lineage is recorded.
  FeatureRegistry reg = FeatureRegistry::open(fx.ds.root("features"));
  Json lin = reg.lineage(r.result.feature, *r.result.run_id);
  ASSERT_EQ(lin["upstream"].size(), 1u);
  EXPECT_EQ(lin["upstream"][0]["feature"], ru.result.feature);
  EXPECT_EQ(lin["upstream"][0]["run_id"], *ru.result.run_id);
  EXPECT_TRUE(reg.run_is_finished(r.result.feature, *r.result.run_id));
  EXPECT_EQ(reg.entry_count(r.result.feature, *r.result.run_id), 2);
}

TEST(RunFeatureTest, EmptyInputFeatureWritesGlobalMarker) {
  Fixture fx;
  fx.add("g", "s1", tracks(0, 5));
  auto f = make_feature("test-global", std::nullopt, Json::object());
  RunResult r = run_feature(fx.ds, *f, quiet());
  EXPECT_EQ(r.result.feature, "test-global");
  TextCsv idx = TextCsv::read(fx.ds.root("features") / "test-global" / "index.csv");
  ASSERT_EQ(idx.rows.size(), 1u);
  EXPECT_EQ(idx.cell(0, "sequence"), "__global__");
  EXPECT_EQ(idx.cell(0, "group"), "");
  EXPECT_EQ(idx.cell(0, "n_rows"), "0");
}

TEST(RunFeatureTest, FrameFilterAndTimeFilter) {
  Fixture fx;
  fx.add("g", "s1", tracks(0, 20));
  auto f = make_feature("test-stateless", std::nullopt, Json::object());
  RunOptions o = quiet();
  o.start_frame = 5;
  o.end_frame = 15;
  RunResult r = run_feature(fx.ds, *f, o);
  Table out = read_parquet(fx.ds.root("features") / r.result.feature / *r.result.run_id / "g__s1.parquet");
  ASSERT_EQ(out.num_rows(), 10u);
  EXPECT_EQ(out.column("frame").i64()[0], 5);
  EXPECT_EQ(out.column("frame").i64()[9], 14);
  // Equivalent time filters give the same run id (fps 30: 5/30 s .. 15/30 s).
  RunOptions t = quiet();
  t.start_time = 5.0 / 30.0 + 1e-9;
  t.end_time = 15.0 / 30.0 + 1e-9;
  auto f2 = make_feature("test-stateless", std::nullopt, Json::object());
  EXPECT_EQ(predict_run_id(fx.ds, *f2, t), *r.result.run_id);
}

TEST(RunFeatureTest, ReferenceErrors) {
  EXPECT_THROW(resolve_frame_range(30.0, 1, std::nullopt, 1.0, std::nullopt), InputError);
  try {
    resolve_frame_range(std::nullopt, std::nullopt, std::nullopt, 1.0, std::nullopt);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("Time-based filters require fps"), std::string::npos);
  }
  auto r = resolve_frame_range(30.0, 100, std::nullopt, std::nullopt, 5.0);
  EXPECT_EQ(*r.first, 100);
  EXPECT_EQ(*r.second, 150);
  Fixture fx;
  fx.add("g", "s1", tracks(0, 20));
  auto f = make_feature("test-stateless", std::nullopt, Json::object());
  RunOptions o = quiet();
  o.overlap_frames = 5;
  o.start_frame = 0;
  try {
    run_feature(fx.ds, *f, o);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("mutually exclusive"), std::string::npos);
  }
  try {
    make_feature("test-stateless", std::nullopt, Json{{"windw", 3}});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown parameter 'windw' (did you mean 'window'?)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("mosaic features describe test-stateless"), std::string::npos) << e.what();
  }
}

TEST(RunFeatureTest, ScopeDependentRunIdsDiffer) {
  Fixture fx;
  for (const char* s : {"s1", "s2", "s3"}) fx.add("g", s, tracks(0, 5));
  auto f = make_feature("test-scoped", std::nullopt, Json::object());
  RunOptions a = quiet(), b = quiet();
  a.sequences = std::set<std::string>{"s1", "s2"};
  b.sequences = std::set<std::string>{"s1", "s3"};
  EXPECT_NE(predict_run_id(fx.ds, *f, a), predict_run_id(fx.ds, *f, b));
  // A stateless feature ignores the scope in its id.
  auto g = make_feature("test-stateless", std::nullopt, Json::object());
  EXPECT_EQ(predict_run_id(fx.ds, *g, a), predict_run_id(fx.ds, *g, b));
}

TEST(RunFeatureTest, ParallelOutputEqualsSerialByteForByte) {
  Fixture fx;
  for (int i = 0; i < 12; ++i) fx.add("g", "s" + std::to_string(10 + i), tracks(0, 200 + i, 3));
  auto f1 = make_feature("test-rolling", std::nullopt, Json::object());
  RunResult serial = run_feature(fx.ds, *f1, quiet());
  fs::path root = fx.ds.root("features") / serial.result.feature / *serial.result.run_id;
  std::map<std::string, std::string> bytes;
  for (const auto& e : fs::directory_iterator(root))
    if (e.path().extension() == ".parquet") bytes[e.path().filename()] = file_bytes(e.path());
  RunOptions par = quiet();
  par.parallel_workers = 4;
  par.overwrite = true;
  auto f2 = make_feature("test-rolling", std::nullopt, Json::object());
  RunResult p = run_feature(fx.ds, *f2, par);
  EXPECT_EQ(p.timing.entries_written, 12u);
  for (const auto& [name, b] : bytes) EXPECT_EQ(file_bytes(root / name), b) << name;
}

TEST(RunFeatureTest, FailedEntryLeavesRunUnfinishedAndRerunRetriesOnlyIt) {
  Fixture fx;
  fx.add("g", "ok", tracks(0, 5));
  fx.add("g", "boom", tracks(0, 5));
  auto f = make_feature("test-stateless", std::nullopt, Json::object());
  RunResult r = run_feature(fx.ds, *f, quiet());
  EXPECT_FALSE(r.finished);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].sequence, "boom");
  EXPECT_EQ(r.failures[0].message, "boom happened");
  fs::path storage = fx.ds.root("features") / r.result.feature;
  fs::path ok = storage / *r.result.run_id / "g__ok.parquet";
  ASSERT_TRUE(fs::exists(ok));
  TextCsv idx = TextCsv::read(storage / "index.csv");
  ASSERT_EQ(idx.rows.size(), 1u);
  EXPECT_EQ(idx.cell(0, "finished_at"), "");
  auto mtime = fs::last_write_time(ok);
  auto f2 = make_feature("test-stateless", std::nullopt, Json::object());
  RunResult r2 = run_feature(fx.ds, *f2, quiet());
  EXPECT_EQ(r2.failures.size(), 1u);
  EXPECT_EQ(r2.timing.entries_skipped_existing, 1u);
  EXPECT_EQ(fs::last_write_time(ok), mtime);
}

TEST(RunFeatureTest, OverlapOnSplitRecordingEqualsWhole) {
  // One recording (frames 0..299, 2 animals) as a whole, and split into three consecutive segments.
  Fixture whole, split;
  Table all = tracks(0, 300, 2);
  whole.add("g", "rec", all);
  split.add("g", "a", tracks(0, 100, 2));
  split.add("g", "b", tracks(100, 100, 2));
  split.add("g", "c", tracks(200, 100, 2));
  auto f1 = make_feature("test-rolling", std::nullopt, Json::object());
  RunResult rw = run_feature(whole.ds, *f1, quiet());
  Table w = read_parquet(whole.ds.root("features") / rw.result.feature / *rw.result.run_id / "g__rec.parquet");
  RunOptions o = quiet();
  o.overlap_frames = 1;  // the feature reaches one frame on each side
  auto f2 = make_feature("test-rolling", std::nullopt, Json::object());
  RunResult rs = run_feature(split.ds, *f2, o);
  std::vector<Table> parts;
  for (const char* s : {"a", "b", "c"})
    parts.push_back(read_parquet(split.ds.root("features") / rs.result.feature / *rs.result.run_id / (std::string("g__") + s + ".parquet")));
  for (const auto& p : parts) EXPECT_EQ(p.num_rows(), 200u);
  Table joined = Table::concat(parts).sort_by({"id", "frame"});
  Table expect = w.sort_by({"id", "frame"});
  ASSERT_EQ(joined.num_rows(), expect.num_rows());
  for (std::size_t r = 0; r < joined.num_rows(); ++r) {
    double a = joined.column("mx").f64()[r], b = expect.column("mx").f64()[r];
    if (std::isnan(b)) EXPECT_TRUE(std::isnan(a)) << r;
    else EXPECT_EQ(a, b) << "row " << r << " frame " << joined.column("frame").i64()[r];
  }
}

TEST(RunFeatureTest, MultiInputJoinUsesPerspectiveAndSuffixes) {
  Table a, b;
  a.add_column("frame", Column::from_int64({0, 0, 1, 1}));
  a.add_column("perspective", Column::from_int8({0, 1, 0, 1}));
  a.add_column("v", Column::from_float64({1, 2, 3, 4}));
  a.add_column("sequence", Column::constant_string("s", 4));
  b.add_column("frame", Column::from_int64({0, 0, 1, 1}));
  b.add_column("perspective", Column::from_int8({1, 0, 1, 0}));
  b.add_column("v", Column::from_float64({20, 10, 40, 30}));
  b.add_column("sequence", Column::constant_string("s", 4));
  Fixture fx;
  fs::path pa = fx.tmp / "a.parquet", pb = fx.tmp / "b.parquet";
  write_parquet(a, pa);
  write_parquet(b, pb);
  Table m = load_entry({FileSpec{pa, 0}, FileSpec{pb, 1}}, "k", EntryFilters{});
  ASSERT_EQ(m.num_rows(), 4u);
  EXPECT_EQ(join_names(m.column_names(), ","), "frame,perspective,v,sequence,v__1,sequence__1");
  for (std::size_t r = 0; r < 4; ++r) EXPECT_EQ(m.column("v__1").f64()[r], 10 * m.column("v").f64()[r]);
}

}  // namespace
}  // namespace mosaic
