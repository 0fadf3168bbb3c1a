// Tests for extract-templates, extract-labeled-templates, global-kmeans and global-ward: the
// reference's own test expectations (features.md §1.4, §1.7, §1.8, §1.10), DECISIONS F6 (unlabelled
// frames), the edge cases (one animal, an all-NaN animal, one frame, absent rows, unsorted rows,
// 100 animals), saved state that reloads without a refit, and scope-dependent run ids.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <set>
#include <thread>

#include "common/feature_check.hpp"
#include "common/test_util.hpp"
#include "features/kernels/random.hpp"
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

// An InputStream over tables held in memory (the tests' manifest).
class VecStream final : public InputStream {
 public:
  explicit VecStream(std::vector<EntryData> entries) : entries_(std::move(entries)) {}
  std::size_t n_entries() const override { return entries_.size(); }
  void for_each(const std::function<void(const EntryData&)>& fn) const override {
    for (const auto& e : entries_)
      if (e.table.num_rows() > 0) fn(e);
  }

 private:
  std::vector<EntryData> entries_;
};

// A table of `n` rows with feature columns a, b (a = offset + row, b = 2 row) and its sequence.
Table simple_entry(const std::string& seq, int64_t n, double offset = 0.0) {
  std::vector<double> a(static_cast<std::size_t>(n)), b(static_cast<std::size_t>(n));
  std::vector<int64_t> frame(static_cast<std::size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    a[static_cast<std::size_t>(r)] = offset + static_cast<double>(r);
    b[static_cast<std::size_t>(r)] = 2.0 * static_cast<double>(r);
    frame[static_cast<std::size_t>(r)] = r;
  }
  Table t;
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("a", Column::from_float64(a));
  t.add_column("b", Column::from_float64(b));
  t.add_column("group", Column::constant_string("g", static_cast<std::size_t>(n)));
  t.add_column("sequence", Column::constant_string(seq, static_cast<std::size_t>(n)));
  return t;
}

EntryData entry(const std::string& seq, Table t) { return EntryData{"g__" + seq, "g", seq, std::move(t)}; }

// Fit `name` on `stream`, save its state into `dir` and return the feature.
std::unique_ptr<Feature> fit_to(const std::string& name, const Json& params, const InputStream& stream, const fs::path& dir,
                                const ArtifactPaths& artifacts = {}, const DependencyLookups& lookups = {}) {
  auto f = make_feature(name, Inputs::of({Result{"upstream", "0.1-abc"}}), params);
  fs::create_directories(dir);
  EXPECT_FALSE(f->load_state(dir, artifacts, lookups));
  f->fit(stream);
  f->save_state(dir);
  return f;
}

// -------------------------------------------------------------------------------------------
// extract-templates

TEST(ExtractTemplates, ReservoirKeepsEverythingBelowThePoolSize) {
  testing::TempDir tmp;
  VecStream s({entry("s1", simple_entry("s1", 10)), entry("s2", simple_entry("s2", 15, 100))});
  fit_to("extract-templates", {{"n_templates", 40}}, s, tmp.path());
  Table t = read_parquet(tmp.path() / "templates.parquet");
  EXPECT_EQ(t.num_rows(), 25u);
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t.column("a").f64()[10], 100.0);  // entry order, row order
  Table p = read_parquet(tmp.path() / "template_provenance.parquet");
  EXPECT_EQ(p.column_names(), (std::vector<std::string>{"group", "sequence", "count", "proportion"}));
  EXPECT_EQ(p.column("count").i64()[0], 10);
  EXPECT_EQ(p.column("count").i64()[1], 15);
  EXPECT_DOUBLE_EQ(p.column("proportion").f64()[0] + p.column("proportion").f64()[1], 1.0);
}

TEST(ExtractTemplates, ReservoirHasExactlyThePoolSizeAndIsDeterministic) {
  testing::TempDir tmp;
  std::vector<EntryData> es;
  for (int k = 0; k < 5; ++k) es.push_back(entry(fmt::format("s{}", k), simple_entry(fmt::format("s{}", k), 50, 1000.0 * k)));
  VecStream s(es);
  fit_to("extract-templates", {{"n_templates", 20}}, s, tmp.path() / "a");
  fit_to("extract-templates", {{"n_templates", 20}}, s, tmp.path() / "b");
  Table a = read_parquet(tmp.path() / "a" / "templates.parquet");
  EXPECT_EQ(a.num_rows(), 20u);
  EXPECT_TRUE(a.equals(read_parquet(tmp.path() / "b" / "templates.parquet")));
  Table p = read_parquet(tmp.path() / "a" / "template_provenance.parquet");
  EXPECT_EQ(p.num_rows(), 5u);  // every entry appears, even with 0 templates
  int64_t total = 0;
  for (int64_t c : p.column("count").i64()) total += c;
  EXPECT_EQ(total, 20);
  // Each template row is a row of its entry (a = 1000 k + r, b = 2 r).
  for (std::size_t r = 0; r < a.num_rows(); ++r) {
    double av = a.column("a").f64()[r], bv = a.column("b").f64()[r];
    EXPECT_EQ(std::fmod(av, 1000.0) * 2.0, bv);
  }
}

TEST(ExtractTemplates, ExactAllocationQuotas) {
  testing::TempDir tmp;
  VecStream s({entry("s1", simple_entry("s1", 100)), entry("s2", simple_entry("s2", 200)), entry("s3", simple_entry("s3", 300))});
  fit_to("extract-templates", {{"n_templates", 60}, {"pool", {{"allocation", "exact"}}}}, s, tmp.path());
  Table p = read_parquet(tmp.path() / "template_provenance.parquet");
  EXPECT_EQ(p.column("count").i64()[0], 10);
  EXPECT_EQ(p.column("count").i64()[1], 20);
  EXPECT_EQ(p.column("count").i64()[2], 30);
  EXPECT_EQ(read_parquet(tmp.path() / "templates.parquet").num_rows(), 60u);
}

TEST(ExtractTemplates, FarthestFirstPicksTheCorners) {
  testing::TempDir tmp;
  Table t = simple_entry("s", 10);
  std::vector<double> a = {0, 10, 0, 10, 5, 5.1, 4.9, 5, 5.05, 4.95}, b = {0, 0, 10, 10, 5, 5, 5, 5.1, 4.9, 5.05};
  t.set_column("a", Column::from_float64(a));
  t.set_column("b", Column::from_float64(b));
  VecStream s({entry("s", t)});
  fit_to("extract-templates", {{"n_templates", 4}, {"strategy", "farthest_first"}, {"pool", {{"size", 10}}}}, s, tmp.path());
  Table out = read_parquet(tmp.path() / "templates.parquet");
  ASSERT_EQ(out.num_rows(), 4u);
  std::set<std::pair<double, double>> got;
  for (std::size_t r = 0; r < 4; ++r) got.insert({out.column("a").f64()[r], out.column("b").f64()[r]});
  EXPECT_EQ(got, (std::set<std::pair<double, double>>{{0, 0}, {10, 0}, {0, 10}, {10, 10}}));
}

TEST(ExtractTemplates, FarthestFirstIsANoOpWhenThePoolEqualsTheCount) {
  // The reference's behaviour (spec §4.3): pool None = n_templates, so nothing is re-selected.
  testing::TempDir tmp;
  VecStream s({entry("s1", simple_entry("s1", 300))});
  fit_to("extract-templates", {{"n_templates", 20}}, s, tmp.path() / "r");
  fit_to("extract-templates", {{"n_templates", 20}, {"strategy", "farthest_first"}}, s, tmp.path() / "f");
  EXPECT_TRUE(read_parquet(tmp.path() / "r" / "templates.parquet").equals(read_parquet(tmp.path() / "f" / "templates.parquet")));
}

TEST(ExtractTemplates, EmptyInputRaisesNoData) {
  VecStream s({entry("s1", Table())});
  auto f = make_feature("extract-templates", Inputs::of({Result{"up", "0.1-x"}}), {{"n_templates", 5}});
  try {
    f->fit(s);
    FAIL() << "no error";
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("No data"), std::string::npos) << e.what();
  }
}

TEST(ExtractTemplates, MissingColumnInALaterEntryIsNamed) {
  Table t2 = simple_entry("s2", 5);
  t2.drop_column("b");
  VecStream s({entry("s1", simple_entry("s1", 5)), entry("s2", t2)});
  auto f = make_feature("extract-templates", Inputs::of({Result{"up", "0.1-x"}}), {{"n_templates", 5}});
  try {
    f->fit(s);
    FAIL() << "no error";
  } catch (const SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("'b'"), std::string::npos) << e.what();
  }
}

TEST(ExtractTemplates, NTemplatesIsRequired) {
  try {
    make_feature("extract-templates", Inputs::of({Result{"up", "0.1-x"}}), Json::object());
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("n_templates"), std::string::npos) << e.what();
  }
}

// The edge cases: the fit streams whatever rows arrive (NaN rows are kept as values, as numpy
// does) and apply passes every table through unchanged.
TEST(ExtractTemplates, EdgeCases) {
  Table one = simulated_tracks(1, 200);
  Table nan_animal = simulated_tracks(3, 200);
  for (const auto& c : nan_animal.column_names())
    if (c.rfind("pose", 0) == 0 || c == "X" || c == "Y" || c == "ANGLE")
      testing::set_nan_where(nan_animal, c, [&](std::size_t r) { return nan_animal.column("id").as_int64(r) == 0; });
  Table single = simulated_tracks(3, 1);
  Table absent = testing::rows_where(simulated_tracks(3, 300), "frame", [](double f) { return f < 100 || f > 150; });
  Table unsorted = testing::shuffled(simulated_tracks(3, 200));
  Table many = simulated_tracks(100, 20);
  for (const Table* t : {&one, &nan_animal, &single, &absent, &unsorted, &many}) {
    testing::TempDir tmp;
    VecStream s({entry("s", *t)});
    auto f = fit_to("extract-templates", {{"n_templates", 50}}, s, tmp.path());
    Table tpl = read_parquet(tmp.path() / "templates.parquet");
    EXPECT_EQ(tpl.num_rows(), std::min<std::size_t>(50, t->num_rows()));
    Table out = f->apply(*t);
    EXPECT_TRUE(out.equals(*t));
  }
}

// -------------------------------------------------------------------------------------------
// global-kmeans and global-ward on templates from extract-templates

// Templates from clean simulated tracks (finite features only).
void make_templates(const fs::path& dir, int n_templates) {
  Table t = simulated_tracks(4, 400, 3, 5);
  std::vector<uint8_t> keep(t.num_rows(), 1);
  for (const auto& c : t.column_names())
    if (is_floating(t.column(c).type()))
      for (std::size_t r = 0; r < t.num_rows(); ++r)
        if (!std::isfinite(t.column(c).as_double(r))) keep[r] = 0;
  VecStream s({entry("s", t.filter(keep))});
  fit_to("extract-templates", {{"n_templates", n_templates}}, s, dir);
}

Json templates_ref() { return {{"feature", "extract-templates"}, {"run_id", "0.1-abc"}, {"pattern", "templates.parquet"}}; }

std::unique_ptr<Feature> fit_cluster(const std::string& name, Json params, const fs::path& tpl_dir, const fs::path& run_root) {
  params["templates"] = templates_ref();
  return fit_to(name, params, VecStream({}), run_root, {{"templates", tpl_dir / "templates.parquet"}});
}

class Clustering : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    make_templates(dir_->path() / "tpl", 300);
  }
  static void TearDownTestSuite() { delete dir_; }
  Json params() const { return GetParam() == "global-kmeans" ? Json{{"k", 8}} : Json{{"n_clusters", 8}}; }
  int32_t lo() const { return GetParam() == "global-kmeans" ? 0 : 1; }
  int32_t hi() const { return GetParam() == "global-kmeans" ? 7 : 8; }
  static testing::TempDir* dir_;
};
testing::TempDir* Clustering::dir_ = nullptr;

TEST_P(Clustering, OutputColumnsRangeAndDroppedNonFiniteRows) {
  testing::TempDir tmp;
  auto f = fit_cluster(GetParam(), params(), dir_->path() / "tpl", tmp.path());
  Table t = simulated_tracks(4, 100, 3, 9);
  testing::set_nan_where(t, "X", [](std::size_t r) { return r == 7; });
  Table out = f->apply(t);
  Table tpl = read_parquet(dir_->path() / "tpl" / "templates.parquet");
  // sorted(non-feature columns) + cluster.
  std::vector<std::string> expect;
  for (const auto& c : t.column_names())
    if (!tpl.has_column(c)) expect.push_back(c);
  std::sort(expect.begin(), expect.end());
  expect.push_back("cluster");
  EXPECT_EQ(out.column_names(), expect);
  EXPECT_EQ(out.column("cluster").type(), DType::kInt32);
  std::size_t finite = 0;
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    bool ok = true;
    for (const auto& c : tpl.column_names()) ok = ok && std::isfinite(t.column(c).as_double(r));
    finite += ok;
  }
  EXPECT_EQ(out.num_rows(), finite);
  EXPECT_LT(out.num_rows(), t.num_rows());
  for (int32_t c : out.column("cluster").i32()) {
    EXPECT_GE(c, lo());
    EXPECT_LE(c, hi());
  }
}

TEST_P(Clustering, EdgeCasesAreRowWise) {
  testing::TempDir tmp;
  auto f = fit_cluster(GetParam(), params(), dir_->path() / "tpl", tmp.path());
  Table base = simulated_tracks(3, 200, 3, 21);
  Table all = f->apply(base);
  // Unsorted input: the same rows get the same clusters.
  Table shuffled = testing::shuffled(base);
  EXPECT_TRUE(testing::tables_equal_by_keys(f->apply(shuffled), all, {"frame", "id"}));
  // One animal, absent rows, one frame: a subset of rows gets the same clusters.
  auto same_as_subset = [&](const Table& sub) {
    Table got = f->apply(sub);
    Table want = all;
    std::set<std::pair<int64_t, int64_t>> keys;
    for (std::size_t r = 0; r < sub.num_rows(); ++r) keys.insert({sub.column("frame").as_int64(r), sub.column("id").as_int64(r)});
    std::vector<uint8_t> m(want.num_rows());
    for (std::size_t r = 0; r < want.num_rows(); ++r)
      m[r] = keys.count({want.column("frame").as_int64(r), want.column("id").as_int64(r)}) > 0;
    return testing::tables_equal_by_keys(got, want.filter(m), {"frame", "id"});
  };
  EXPECT_TRUE(same_as_subset(testing::rows_where(base, "id", [](double id) { return id == 1; })));
  EXPECT_TRUE(same_as_subset(testing::rows_where(base, "frame", [](double fr) { return fr < 50 || fr > 120; })));
  EXPECT_TRUE(same_as_subset(testing::rows_where(base, "frame", [](double fr) { return fr == 10; })));
  // An all-NaN animal: its rows are dropped, the others unchanged.
  Table nan_animal = base;
  const Table tpl = read_parquet(dir_->path() / "tpl" / "templates.parquet");
  for (const auto& c : tpl.column_names())
    testing::set_nan_where(nan_animal, c, [&](std::size_t r) { return nan_animal.column("id").as_int64(r) == 0; });
  EXPECT_TRUE(same_as_subset(testing::rows_where(base, "id", [](double id) { return id != 0; })));
  Table got = f->apply(nan_animal);
  for (std::size_t r = 0; r < got.num_rows(); ++r) EXPECT_NE(got.column("id").as_int64(r), 0);
  // 100 animals.
  Table many = simulated_tracks(100, 10, 3, 4);
  Table out = f->apply(many);
  EXPECT_GT(out.num_rows(), 0u);
  EXPECT_LE(out.num_rows(), many.num_rows());
}

TEST_P(Clustering, SavedStateReloadsAndGivesTheSameClusters) {
  testing::TempDir tmp;
  auto f = fit_cluster(GetParam(), params(), dir_->path() / "tpl", tmp.path());
  Table t = simulated_tracks(3, 100, 3, 33);
  Json p = params();
  p["templates"] = templates_ref();
  auto g = make_feature(GetParam(), Inputs::of({Result{"upstream", "0.1-abc"}}), p);
  EXPECT_TRUE(g->load_state(tmp.path(), {}, {}));
  EXPECT_TRUE(g->apply(t).equals(f->apply(t)));
}

TEST_P(Clustering, ApplyBeforeFitAndFitWithoutTemplatesRaise) {
  Json p = params();
  p["templates"] = templates_ref();
  auto g = make_feature(GetParam(), Inputs::of({Result{"upstream", "0.1-abc"}}), p);
  EXPECT_THROW(g->apply(simulated_tracks(2, 5)), StateError);
  EXPECT_FALSE(g->load_state({}, {}, {}));
  try {
    g->fit(VecStream({}));
    FAIL() << "no error";
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("no templates"), std::string::npos) << e.what();
  }
}

TEST_P(Clustering, TemplatesAndModelAreExclusive) {
  Json p = params();
  p["templates"] = templates_ref();
  p["model"] = {{"feature", "x"}, {"run_id", "0.1-y"}};
  EXPECT_THROW(make_feature(GetParam(), Inputs::of({Result{"upstream", "0.1-abc"}}), p), InputError);
}

INSTANTIATE_TEST_SUITE_P(Templates, Clustering, ::testing::Values("global-kmeans", "global-ward"),
                         [](const auto& info) { return info.param == "global-kmeans" ? std::string("kmeans") : std::string("ward"); });

TEST(GlobalKMeans, FewerTemplatesThanKRaises) {
  testing::TempDir tmp;
  make_templates(tmp.path() / "tpl", 5);
  Json p = {{"k", 6}};
  p["templates"] = templates_ref();
  auto f = make_feature("global-kmeans", Inputs::of({Result{"u", "0.1-a"}}), p);
  f->load_state(tmp.path() / "run", {{"templates", tmp.path() / "tpl" / "templates.parquet"}}, {});
  try {
    f->fit(VecStream({}));
    FAIL() << "no error";
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("fewer than k=6"), std::string::npos) << e.what();
  }
}

TEST(GlobalKMeans, ArtifactsAndSizes) {
  testing::TempDir tmp;
  make_templates(tmp.path() / "tpl", 200);
  fit_cluster("global-kmeans", {{"k", 5}}, tmp.path() / "tpl", tmp.path() / "run");
  NpzArchive c = read_npz(tmp.path() / "run" / "cluster_centers.npz");
  EXPECT_EQ(c.at("centers").shape[0], 5);
  EXPECT_EQ(c.at("centers").dtype, NpyDType::kFloat32);
  auto labels = read_npz(tmp.path() / "run" / "artifact_labels.npz").at("labels");
  EXPECT_EQ(labels.dtype, NpyDType::kInt32);
  EXPECT_EQ(labels.size(), 200);
  Table sizes = read_parquet(tmp.path() / "run" / "cluster_sizes.parquet");
  int64_t total = 0;
  for (int64_t v : sizes.column("count").i64()) total += v;
  EXPECT_EQ(total, 200);
}

TEST(GlobalWard, MethodOtherThanWardRaises) {
  testing::TempDir tmp;
  make_templates(tmp.path() / "tpl", 20);
  Json p = {{"method", "average"}};
  p["templates"] = templates_ref();
  auto f = make_feature("global-ward", Inputs::of({Result{"u", "0.1-a"}}), p);
  f->load_state(tmp.path() / "run", {{"templates", tmp.path() / "tpl" / "templates.parquet"}}, {});
  EXPECT_THROW(f->fit(VecStream({})), InputError);
}

TEST(GlobalWard, LinkageShapeAndClusterIds) {
  testing::TempDir tmp;
  make_templates(tmp.path() / "tpl", 200);
  fit_cluster("global-ward", {{"n_clusters", 5}}, tmp.path() / "tpl", tmp.path() / "run");
  NpzArchive m = read_npz(tmp.path() / "run" / "ward_model.npz");
  EXPECT_EQ(m.at("linkage_matrix").shape, (std::vector<int64_t>{199, 4}));
  EXPECT_EQ(m.at("cluster_ids").to_int64(), (std::vector<int64_t>{1, 2, 3, 4, 5}));
}

// -------------------------------------------------------------------------------------------
// extract-labeled-templates

// Write a dense labels npz (label = frame % classes for frames < labelled) and return its path.
fs::path dense_labels(const fs::path& dir, const std::string& seq, int64_t labelled, int classes) {
  std::vector<int64_t> v(static_cast<std::size_t>(labelled));
  for (int64_t f = 0; f < labelled; ++f) v[static_cast<std::size_t>(f)] = f % classes;
  fs::create_directories(dir);
  fs::path p = dir / (seq + ".npz");
  write_npz(p, {{"labels", NpyArray::from_int64({labelled}, v)}});
  return p;
}

struct LabeledSetup {
  testing::TempDir tmp;
  std::vector<EntryData> entries;
  DependencyLookups lookups;
};

void labeled_setup(LabeledSetup& s, int n_seq, int64_t rows, int64_t labelled, int classes) {
  for (int k = 0; k < n_seq; ++k) {
    std::string seq = fmt::format("s{}", k);
    s.entries.push_back(entry(seq, simple_entry(seq, rows, 1000.0 * k)));
    s.lookups["labels"][{"g", seq}] = dense_labels(s.tmp.path() / "labels", seq, labelled, classes);
  }
}

Json labeled_params(Json extra) {
  Json p = {{"labels", {{"kind", "behavior"}}}};
  for (auto& [k, v] : extra.items()) p[k] = v;
  return p;
}

TEST(ExtractLabeledTemplates, PerClassCountsAndUnlabelledFramesExcluded) {
  LabeledSetup s;
  labeled_setup(s, 3, 100, 80, 2);  // frames 80..99 unlabelled (F6)
  VecStream st(s.entries);
  auto f = fit_to("extract-labeled-templates", labeled_params({{"n_per_class", 20}}), st, s.tmp.path() / "run", {}, s.lookups);
  Table t = read_parquet(s.tmp.path() / "run" / "templates.parquet");
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"a", "b", "label", "split"}));
  std::map<std::pair<std::string, int64_t>, int> per;
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    ++per[{std::string(t.column("split").str(r)), t.column("label").i64()[r]}];
    // Only labelled frames (b = 2 frame, frame < 80) are templates.
    EXPECT_LT(t.column("b").f64()[r], 160.0);
    EXPECT_EQ(static_cast<int64_t>(t.column("b").f64()[r] / 2) % 2, t.column("label").i64()[r]);
  }
  for (const auto& [key, n] : per) EXPECT_LE(n, 20) << key.first << " " << key.second;
  // 3 sequences, test_fraction 0.2: round(0.6) = 1 test sequence; sorted (split, label) order.
  EXPECT_EQ(std::string(t.column("split").str(0)), "test");
  Table prov = read_parquet(s.tmp.path() / "run" / "template_provenance.parquet");
  EXPECT_EQ(prov.column_names(), (std::vector<std::string>{"group", "sequence", "split", "count", "proportion"}));
  int tests = 0;
  for (std::size_t r = 0; r < prov.num_rows(); ++r) tests += prov.column("split").str(r) == "test";
  EXPECT_EQ(tests, 1);
  // apply: input + split + label, label -1 where unlabelled.
  Table out = f->apply(s.entries[0].table);
  EXPECT_EQ(out.column_names(), (std::vector<std::string>{"frame", "a", "b", "group", "sequence", "split", "label"}));
  EXPECT_EQ(out.column("label").i64()[3], 1);
  EXPECT_EQ(out.column("label").i64()[90], -1);
}

TEST(ExtractLabeledTemplates, SplitShuffleMatchesNumpy) {
  // round(0.3 * 7) = 2 test entries: the first two of default_rng(42).shuffle(list(range(7))).
  LabeledSetup s;
  labeled_setup(s, 7, 30, 30, 2);
  VecStream st(s.entries);
  fit_to("extract-labeled-templates", labeled_params({{"n_per_class", 5}, {"test_fraction", 0.3}}), st, s.tmp.path() / "run", {}, s.lookups);
  kernels::Pcg64 rng(42);
  std::vector<int64_t> idx = {0, 1, 2, 3, 4, 5, 6};
  rng.shuffle(std::span<int64_t>(idx));
  Table prov = read_parquet(s.tmp.path() / "run" / "template_provenance.parquet");
  for (std::size_t r = 0; r < 7; ++r) {
    bool is_test = static_cast<int64_t>(r) == idx[0] || static_cast<int64_t>(r) == idx[1];
    EXPECT_EQ(std::string(prov.column("split").str(r)), is_test ? "test" : "train") << r;
  }
}

TEST(ExtractLabeledTemplates, ExactMappingAndNTotal) {
  {
    LabeledSetup s;
    labeled_setup(s, 2, 200, 200, 2);
    VecStream st(s.entries);
    fit_to("extract-labeled-templates",
           labeled_params({{"n_per_class", {{"0", 10}, {"1", 30}}}, {"test_fraction", 0.0}, {"pool", {{"allocation", "exact"}}}}),
           st, s.tmp.path() / "run", {}, s.lookups);
    Table t = read_parquet(s.tmp.path() / "run" / "templates.parquet");
    int n0 = 0, n1 = 0;
    for (int64_t l : t.column("label").i64()) (l == 0 ? n0 : n1)++;
    EXPECT_EQ(n0, 10);
    EXPECT_EQ(n1, 30);
  }
  {
    LabeledSetup s;
    labeled_setup(s, 2, 200, 200, 2);
    VecStream st(s.entries);
    fit_to("extract-labeled-templates", labeled_params({{"n_total", 40}, {"test_fraction", 0.0}}), st, s.tmp.path() / "run", {},
           s.lookups);
    Table t = read_parquet(s.tmp.path() / "run" / "templates.parquet");
    int n0 = 0, n1 = 0;
    for (int64_t l : t.column("label").i64()) (l == 0 ? n0 : n1)++;
    EXPECT_EQ(n0, 20);
    EXPECT_EQ(n1, 20);
  }
}

TEST(ExtractLabeledTemplates, FarthestFirstPerClassAndDeterminism) {
  LabeledSetup s;
  labeled_setup(s, 2, 300, 300, 2);
  VecStream st(s.entries);
  Json p = labeled_params({{"n_per_class", 10}, {"strategy", "farthest_first"}, {"pool", {{"size", 50}}}, {"test_fraction", 0.0}});
  fit_to("extract-labeled-templates", p, st, s.tmp.path() / "a", {}, s.lookups);
  fit_to("extract-labeled-templates", p, st, s.tmp.path() / "b", {}, s.lookups);
  Table a = read_parquet(s.tmp.path() / "a" / "templates.parquet");
  EXPECT_EQ(a.num_rows(), 20u);
  EXPECT_TRUE(a.equals(read_parquet(s.tmp.path() / "b" / "templates.parquet")));
}

TEST(ExtractLabeledTemplates, ExactBlocksInEntryOrderAndZeroQuotaClassesDropped) {
  LabeledSetup s;
  labeled_setup(s, 3, 60, 60, 2);
  VecStream st(s.entries);
  fit_to("extract-labeled-templates",
         labeled_params({{"n_per_class", 8}, {"test_fraction", 0.0}, {"pool", {{"allocation", "exact"}}}}), st,
         s.tmp.path() / "exact", {}, s.lookups);
  Table t = read_parquet(s.tmp.path() / "exact" / "templates.parquet");
  // The reference stacks per entry (then class) blocks: 8 rows of class 0 then 8 of class 1,
  // all from the first entry (a < 1000), since each class's quota is met there.
  ASSERT_EQ(t.num_rows(), 16u);
  for (std::size_t r = 0; r < 16; ++r) {
    EXPECT_EQ(t.column("label").i64()[r], r < 8 ? 0 : 1);
    EXPECT_LT(t.column("a").f64()[r], 1000.0);
  }
  // farthest_first with {0: 5}: class 1 has no quota, so it is never collected.
  fit_to("extract-labeled-templates",
         labeled_params({{"n_per_class", {{"0", 5}}}, {"strategy", "farthest_first"}, {"pool", {{"size", 20}}}, {"test_fraction", 0.0}}),
         st, s.tmp.path() / "ff", {}, s.lookups);
  Table f = read_parquet(s.tmp.path() / "ff" / "templates.parquet");
  EXPECT_EQ(f.num_rows(), 5u);
  for (int64_t l : f.column("label").i64()) EXPECT_EQ(l, 0);
}

TEST(ExtractLabeledTemplates, IndividualPairEventsLastWinsAndSymmetricDedup) {
  testing::TempDir tmp;
  fs::path p = tmp.path() / "ev.npz";
  // frame 1: (0,1)->2 then (0,1)->3 (last wins); frame 2: only (1,0)->1 (dropped: id1 > id2).
  write_npz(p, {{"frames", NpyArray::from_int64({3}, {1, 1, 2})},
                {"labels", NpyArray::from_int32({3}, {2, 3, 1})},
                {"individual_ids", NpyArray::from_int64({3, 2}, {0, 1, 0, 1, 1, 0})}});
  DependencyLookups lk;
  lk["labels"][{"g", "s"}] = p;
  auto f = make_feature("extract-labeled-templates", Inputs::of({Result{"u", "0.1-a"}}), labeled_params({{"n_per_class", 3}}));
  f->load_state({}, {}, lk);
  Table out = f->apply(simple_entry("s", 4));
  EXPECT_EQ(std::vector<int64_t>(out.column("label").i64().begin(), out.column("label").i64().end()),
            (std::vector<int64_t>{-1, 3, -1, -1}));
  EXPECT_EQ(std::string(out.column("split").str(0)), "train");
}

TEST(ExtractLabeledTemplates, ParamsNeedExactlyOneCount) {
  EXPECT_THROW(make_feature("extract-labeled-templates", Inputs::of({Result{"u", "0.1-a"}}), labeled_params({})), InputError);
  EXPECT_THROW(make_feature("extract-labeled-templates", Inputs::of({Result{"u", "0.1-a"}}),
                            labeled_params({{"n_per_class", 3}, {"n_total", 4}})),
               InputError);
  EXPECT_THROW(make_feature("extract-labeled-templates", Inputs::of({Result{"u", "0.1-a"}}),
                            labeled_params({{"n_per_class", 3}, {"test_fraction", 1.5}})),
               InputError);
}

TEST(ExtractLabeledTemplates, NoLabelledRowsRaisesNoData) {
  LabeledSetup s;
  labeled_setup(s, 1, 50, 0, 2);
  VecStream st(s.entries);
  auto f = make_feature("extract-labeled-templates", Inputs::of({Result{"u", "0.1-a"}}), labeled_params({{"n_per_class", 3}}));
  f->load_state({}, {}, s.lookups);
  EXPECT_THROW(f->fit(st), StateError);
}

// -------------------------------------------------------------------------------------------
// Through run_feature: a second run loads the state; scope-dependent run ids.

RunResult run(const Dataset& ds, const std::string& name, const Json& params, const Inputs& inputs, const RunOptions& o0 = {}) {
  auto f = make_feature(name, inputs, params);
  RunOptions o = o0;
  o.log = false;
  RunResult r = run_feature(ds, *f, o);
  EXPECT_TRUE(r.failures.empty()) << (r.failures.empty() ? "" : r.failures[0].message);
  return r;
}

TEST(GlobalState, SecondRunLoadsTheSavedStateWithoutRefit) {
  testing::TempDir tmp;
  Dataset ds = Dataset::create(tmp.path() / "ds", {.name = "t", .fps = 30.0});
  for (int k = 0; k < 3; ++k) {
    SimulationOptions o;
    o.animals = 2;
    o.frames = 300;
    o.seed = static_cast<uint64_t>(k);
    ds.write_tracks("g", fmt::format("s{}", k), simulate_sequence(o, 0), {.std_format = "simulated"});
  }
  RunResult up = run(ds, "body-scale", Json::object(), Inputs::tracks());
  Inputs in = Inputs::of({Result{up.result.feature, up.result.run_id}});
  RunResult t1 = run(ds, "extract-templates", {{"n_templates", 50}}, in);
  fs::path troot = ds.root("features") / t1.result.feature / *t1.result.run_id;
  auto mtime = fs::last_write_time(troot / "templates.parquet");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  RunResult t2 = run(ds, "extract-templates", {{"n_templates", 50}}, in, {.overwrite = true});
  EXPECT_EQ(*t2.result.run_id, *t1.result.run_id);
  EXPECT_EQ(t2.timing.fit_seconds, 0.0);
  EXPECT_EQ(fs::last_write_time(troot / "templates.parquet"), mtime);

  Inputs tin = Inputs::of({Result{t1.result.feature, t1.result.run_id}});
  Json tref = {{"feature", t1.result.feature}, {"run_id", *t1.result.run_id}, {"pattern", "templates.parquet"}};
  for (const auto& [name, p] : std::vector<std::pair<std::string, Json>>{{"global-kmeans", {{"k", 4}, {"templates", tref}}},
                                                                        {"global-ward", {{"n_clusters", 4}, {"templates", tref}}}}) {
    RunResult a = run(ds, name, p, tin);
    EXPECT_GT(a.timing.fit_seconds, 0.0) << name;
    fs::path root = ds.root("features") / a.result.feature / *a.result.run_id;
    std::string state = name == "global-kmeans" ? "cluster_centers.npz" : "ward_model.npz";
    auto m = fs::last_write_time(root / state);
    std::string out1 = read_file_text(root / "g__s1.parquet");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    RunResult b = run(ds, name, p, tin, {.overwrite = true});
    EXPECT_EQ(b.timing.fit_seconds, 0.0) << name;
    EXPECT_EQ(fs::last_write_time(root / state), m) << name;
    EXPECT_EQ(read_file_text(root / "g__s1.parquet"), out1) << name;
    // A model reference reuses the fitted run without templates.
    RunResult c = run(ds, name, {{"model", {{"feature", a.result.feature}, {"run_id", *a.result.run_id}}}}, tin);
    EXPECT_NE(*c.result.run_id, *a.result.run_id);
    EXPECT_EQ(c.timing.fit_seconds, 0.0) << name;
    fs::path croot = ds.root("features") / c.result.feature / *c.result.run_id;
    EXPECT_EQ(read_file_text(croot / "g__s1.parquet"), out1) << name;
  }
}

// DECISIONS F9: the default pattern "*.parquet" would take the alphabetically first parquet of
// the producing run (a per-sequence output, g__s0.parquet); we take its templates.parquet.
TEST(GlobalState, DefaultTemplatesPatternResolvesToTheDeclaredTemplatesFile) {
  testing::TempDir tmp;
  Dataset ds = Dataset::create(tmp.path() / "ds", {.name = "t", .fps = 30.0});
  for (int k = 0; k < 2; ++k) {
    SimulationOptions o;
    o.animals = 2;
    o.frames = 200;
    o.seed = static_cast<uint64_t>(k);
    ds.write_tracks("g", fmt::format("s{}", k), simulate_sequence(o, 0), {.std_format = "simulated"});
  }
  RunResult up = run(ds, "body-scale", Json::object(), Inputs::tracks());
  RunResult et = run(ds, "extract-templates", {{"n_templates", 40}}, Inputs::of({Result{up.result.feature, up.result.run_id}}));
  Inputs tin = Inputs::of({Result{et.result.feature, et.result.run_id}});
  Json explicit_ref = {{"feature", et.result.feature}, {"run_id", *et.result.run_id}, {"pattern", "templates.parquet"}};
  Json default_ref = {{"feature", et.result.feature}, {"run_id", *et.result.run_id}};
  for (const std::string name : {"global-kmeans", "global-ward"}) {
    Json a = name == "global-kmeans" ? Json{{"k", 3}} : Json{{"n_clusters", 3}};
    Json b = a;
    a["templates"] = explicit_ref;
    b["templates"] = default_ref;
    RunResult ra = run(ds, name, a, tin), rb = run(ds, name, b, tin);
    ASSERT_NE(*ra.result.run_id, *rb.result.run_id);
    fs::path fa = ds.root("features") / ra.result.feature / *ra.result.run_id;
    fs::path fb = ds.root("features") / rb.result.feature / *rb.result.run_id;
    EXPECT_EQ(read_file_text(fa / "g__s1.parquet"), read_file_text(fb / "g__s1.parquet")) << name;
  }
}

TEST(GlobalState, ScopeDependentRunIdsIncludeTheScope) {
  testing::TempDir tmp;
  Dataset ds = Dataset::create(tmp.path() / "ds", {.name = "t", .fps = 30.0});
  for (int k = 0; k < 2; ++k) {
    SimulationOptions o;
    o.animals = 2;
    o.frames = 100;
    o.seed = static_cast<uint64_t>(k);
    ds.write_tracks("g", fmt::format("s{}", k), simulate_sequence(o, 0), {.std_format = "simulated"});
  }
  RunResult up = run(ds, "body-scale", Json::object(), Inputs::tracks());
  Inputs in = Inputs::of({Result{up.result.feature, up.result.run_id}});
  for (const std::string name : {"extract-templates", "extract-labeled-templates"}) {
    Json p = name == "extract-templates" ? Json{{"n_templates", 10}} : labeled_params({{"n_per_class", 10}});
    auto f = make_feature(name, in, p);
    std::string payload_all, payload_one;
    std::string all = predict_run_id(ds, *f, {}, &payload_all);
    std::string one = predict_run_id(ds, *f, {.sequences = std::set<std::string>{"s0"}}, &payload_one);
    EXPECT_NE(all, one) << name;
    EXPECT_NE(payload_all.find("\"_scope_entries\": [[\"g\", \"s0\"], [\"g\", \"s1\"]]"), std::string::npos) << payload_all;
    EXPECT_NE(payload_one.find("\"_scope_entries\": [[\"g\", \"s0\"]]"), std::string::npos) << payload_one;
  }
  // global-kmeans is not scope dependent.
  auto k = make_feature("global-kmeans", in, {{"templates", {{"feature", "x"}, {"run_id", "0.1-a"}}}});
  EXPECT_EQ(predict_run_id(ds, *k, {}), predict_run_id(ds, *k, {.sequences = std::set<std::string>{"s0"}}));
}

}  // namespace
}  // namespace mosaic
