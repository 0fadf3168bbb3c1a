// global-tsne: params and errors, state save/load/reuse, and the edge cases of apply (one
// animal, an all-NaN animal, a single frame, absent rows, unsorted rows, 100 animals). Mapping
// is per row (0.4+cpp.1), so every edge case is checked against the same rows mapped alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "common/test_util.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/files.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/run_feature.hpp"
#include "mosaic/simulate.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kCols = {"f_a", "f_b", "f_c", "f_d"};

// A value of the 4 feature columns drawn from one of 4 separated clusters.
std::vector<double> draw(std::mt19937& g, int cluster) {
  std::normal_distribution<double> z(0.0, 0.4);
  std::vector<double> v(4);
  for (int d = 0; d < 4; ++d) v[static_cast<std::size_t>(d)] = (d == cluster ? 8.0 : 0.0) + z(g);
  return v;
}

Table templates_table(std::size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::vector<std::vector<double>> cols(4);
  for (std::size_t i = 0; i < n; ++i) {
    auto v = draw(g, static_cast<int>(i % 4));
    for (int d = 0; d < 4; ++d) cols[static_cast<std::size_t>(d)].push_back(v[static_cast<std::size_t>(d)]);
  }
  Table t;
  for (int d = 0; d < 4; ++d) t.add_column(kCols[static_cast<std::size_t>(d)], Column::from_float64(cols[static_cast<std::size_t>(d)]));
  return t;
}

// Frames x animals rows (frame-major) with an extra pass-through column.
Table frames_table(int64_t frames, int64_t animals, unsigned seed) {
  std::mt19937 g(seed);
  std::vector<int64_t> frame, id;
  std::vector<std::vector<double>> cols(4);
  std::vector<double> extra;
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t a = 0; a < animals; ++a) {
      frame.push_back(f);
      id.push_back(a);
      auto v = draw(g, static_cast<int>((a + f / 7) % 4));
      for (int d = 0; d < 4; ++d) cols[static_cast<std::size_t>(d)].push_back(v[static_cast<std::size_t>(d)]);
      extra.push_back(static_cast<double>(f) * 0.5);
    }
  Table t;
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("id", Column::from_int64(id));
  for (int d = 0; d < 4; ++d) t.add_column(kCols[static_cast<std::size_t>(d)], Column::from_float64(cols[static_cast<std::size_t>(d)]));
  t.add_column("zz_extra", Column::from_float64(extra));
  t.add_column("sequence", Column::constant_string("s", frame.size()));
  return t;
}

Json small_params() {
  return Json{{"templates", {{"feature", "tpl-src"}, {"run_id", "0.1-aaaaaaaaaa"}, {"pattern", "templates.parquet"}}},
              {"perplexity", 10},
              {"fit", {{"exaggeration_iters", 60}, {"iters", 120}}},
              {"mapping", {{"iters", 60}}}};
}

struct NoEntries : InputStream {
  std::size_t n_entries() const override { return 0; }
  void for_each(const std::function<void(const EntryData&)>&) const override {}
};

// A fitted feature on 160 templates written under `dir`.
std::unique_ptr<Feature> fitted(const fs::path& dir) {
  fs::create_directories(dir / "tpl");
  write_parquet(templates_table(160, 5), dir / "tpl" / "templates.parquet");
  auto f = make_feature("global-tsne", Inputs::of({Result{"up", "0.1-x"}}), small_params());
  EXPECT_FALSE(f->load_state(dir / "run", {{"templates", dir / "tpl" / "templates.parquet"}}, {}));
  f->fit(NoEntries());
  f->save_state(dir / "run");
  return f;
}

// Row r of `out` (tsne_x, tsne_y), as bits-comparable doubles.
std::pair<double, double> xy(const Table& out, std::size_t r) {
  return {out.column("tsne_x").as_double(r), out.column("tsne_y").as_double(r)};
}

TEST(GlobalTsne, ParamsDumpAndErrors) {
  auto f = make_feature("global-tsne", Inputs::of({Result{"up", "0.1-x"}}), small_params());
  EXPECT_EQ(f->info().version, "0.4+cpp.1");
  const Json& p = f->params();
  std::vector<std::string> names;
  for (auto it = p.begin(); it != p.end(); ++it) names.push_back(it.key());
  EXPECT_EQ(names, (std::vector<std::string>{"templates", "model", "random_state", "perplexity", "knn_method", "n_jobs",
                                             "fit", "mapping"}));
  EXPECT_TRUE(p["model"].is_null());
  EXPECT_EQ(python_json_dumps(make_feature("global-tsne", Inputs::of({Result{"up", "0.1-x"}}),
                                           Json{{"templates", {{"feature", "t"}}}})
                                  ->params()["fit"]),
            R"({"learning_rate": "auto", "exaggeration_iters": 250, "exaggeration": 12, "exaggeration_momentum": 0.5, "iters": 750, "momentum": 0.8})");
  try {
    make_feature("global-tsne", Inputs::of({Result{"up", "0.1-x"}}), Json::object());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("Exactly one of 'templates' or 'model'"), std::string::npos) << e.what();
  }
  try {
    make_feature("global-tsne", Inputs::of({Result{"up", "0.1-x"}}), Json{{"templates", {{"feature", "t"}}}, {"perplexty", 5}});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown parameter 'perplexty' (did you mean 'perplexity'?)"), std::string::npos)
        << e.what();
  }
}

TEST(GlobalTsne, StateErrors) {
  testing::TempDir tmp;
  auto f = make_feature("global-tsne", Inputs::of({Result{"up", "0.1-x"}}), small_params());
  try {
    f->apply(frames_table(2, 2, 1));
    FAIL();
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("apply called before fit"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(f->load_state(tmp / "run", {}, {}));
  try {
    f->fit(NoEntries());
    FAIL();
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("fit needs templates"), std::string::npos) << e.what();
  }
  auto g = fitted(tmp.path());
  Table t = frames_table(3, 2, 1);
  t.drop_column("f_c");
  try {
    g->apply(t);
    FAIL();
  } catch (const SchemaError& e) {
    EXPECT_NE(std::string(e.what()).find("missing column 'f_c'"), std::string::npos) << e.what();
  }
}

TEST(GlobalTsne, SaveLoadRoundTripAndModelReuse) {
  testing::TempDir tmp;
  auto f = fitted(tmp.path());
  for (const char* name : {"global_tsne_templates.npz", "global_tsne_model.npz", "global_tsne_model.json"})
    EXPECT_TRUE(fs::exists(tmp / "run" / name)) << name;
  NpzArchive y = read_npz(tmp / "run" / "global_tsne_templates.npz");
  EXPECT_EQ(y.at("Y").shape, (std::vector<int64_t>{160, 2}));
  Table in = frames_table(30, 3, 2);
  Table a = f->apply(in);
  auto g = make_feature("global-tsne", Inputs::of({Result{"up", "0.1-x"}}), small_params());
  EXPECT_TRUE(g->load_state(tmp / "run", {}, {}));
  EXPECT_TRUE(g->apply(in).equals(a));
  // Another run reusing the model through `model` (our portable files in that run's folder).
  // The mapping params are this run's; the perplexity is the fitted model's.
  Json mp{{"model", {{"feature", "global-tsne"}, {"run_id", "0.4+cpp.1-x"}, {"pattern", "embedding.joblib"}}},
          {"mapping", {{"iters", 60}}}};
  auto h = make_feature("global-tsne", Inputs::of({Result{"up", "0.1-x"}}), mp);
  EXPECT_TRUE(h->load_state(tmp / "other", {{"model", tmp / "run" / "embedding.joblib"}}, {}));
  EXPECT_TRUE(h->apply(in).equals(a));
  // A model folder without our files is refused with the reason.
  auto k = make_feature("global-tsne", Inputs::of({Result{"up", "0.1-x"}}), mp);
  try {
    k->load_state(tmp / "other", {{"model", tmp / "tpl" / "embedding.joblib"}}, {});
    FAIL();
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("joblib pickles are not read"), std::string::npos) << e.what();
  }
}

TEST(GlobalTsne, OutputColumnsAndEdgeCases) {
  testing::TempDir tmp;
  auto f = fitted(tmp.path());
  Table in = frames_table(40, 3, 3);
  Table out = f->apply(in);
  EXPECT_EQ(out.column_names(), (std::vector<std::string>{"frame", "id", "sequence", "zz_extra", "tsne_x", "tsne_y"}));
  EXPECT_EQ(out.column("tsne_x").type(), DType::kFloat32);
  ASSERT_EQ(out.num_rows(), in.num_rows());
  for (std::size_t r = 0; r < out.num_rows(); ++r) EXPECT_TRUE(std::isfinite(out.column("tsne_x").as_double(r)));
  // Every row mapped alone gets the same coordinates (so any subset or order does too).
  auto alone = [&](const Table& t, std::size_t r) { return xy(f->apply(t.slice(r, 1)), 0); };
  for (std::size_t r = 0; r < in.num_rows(); r += 13) EXPECT_EQ(alone(in, r), xy(out, r)) << "row " << r;

  // One animal.
  std::vector<uint8_t> mask(in.num_rows());
  for (std::size_t r = 0; r < in.num_rows(); ++r) mask[r] = in.column("id").as_int64(r) == 1;
  Table one = f->apply(in.filter(mask));
  Table expect_one = out.filter(mask);
  EXPECT_TRUE(one.equals(expect_one));

  // An all-NaN animal: its rows get NaN coordinates and are kept; the others do not change.
  Table nan_in = in;
  for (const auto& c : kCols) {
    std::vector<double> v(in.column(c).f64().begin(), in.column(c).f64().end());
    for (std::size_t r = 0; r < v.size(); ++r)
      if (in.column("id").as_int64(r) == 2) v[r] = NAN;
    nan_in.set_column(c, Column::from_float64(v));
  }
  Table nan_out = f->apply(nan_in);
  ASSERT_EQ(nan_out.num_rows(), in.num_rows());
  for (std::size_t r = 0; r < in.num_rows(); ++r) {
    if (in.column("id").as_int64(r) == 2) {
      EXPECT_TRUE(std::isnan(nan_out.column("tsne_x").as_double(r)) && std::isnan(nan_out.column("tsne_y").as_double(r)));
    } else {
      EXPECT_EQ(xy(nan_out, r), xy(out, r));
    }
  }

  // A single frame.
  Table single = f->apply(in.slice(0, 3));
  EXPECT_TRUE(single.equals(out.slice(0, 3)));

  // Absent rows: animal 0 missing in frames 10..19.
  for (std::size_t r = 0; r < in.num_rows(); ++r) {
    const int64_t fr = in.column("frame").as_int64(r);
    mask[r] = !(in.column("id").as_int64(r) == 0 && fr >= 10 && fr < 20);
  }
  EXPECT_TRUE(f->apply(in.filter(mask)).equals(out.filter(mask)));

  // Unsorted input: rows come back in input order with the same values.
  std::vector<int64_t> perm(in.num_rows());
  for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(i);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(4));
  EXPECT_TRUE(f->apply(in.take(perm)).equals(out.take(perm)));
}

TEST(GlobalTsne, HundredAnimals) {
  testing::TempDir tmp;
  auto f = fitted(tmp.path());
  Table in = frames_table(10, 100, 8);
  Table out = f->apply(in);
  ASSERT_EQ(out.num_rows(), 1000u);
  for (std::size_t r = 0; r < in.num_rows(); r += 97) EXPECT_EQ(xy(f->apply(in.slice(r, 1)), 0), xy(out, r));
  // Rows of one cluster land together: each row is closer to its cluster's mean than to others'.
  std::size_t good = 0;
  std::vector<double> mx(4, 0), my(4, 0), cnt(4, 0);
  for (std::size_t r = 0; r < in.num_rows(); ++r) {
    const auto c = static_cast<std::size_t>((in.column("id").as_int64(r) + in.column("frame").as_int64(r) / 7) % 4);
    mx[c] += out.column("tsne_x").as_double(r);
    my[c] += out.column("tsne_y").as_double(r);
    cnt[c] += 1;
  }
  for (std::size_t r = 0; r < in.num_rows(); ++r) {
    const auto c = static_cast<std::size_t>((in.column("id").as_int64(r) + in.column("frame").as_int64(r) / 7) % 4);
    std::size_t best = 0;
    double bd = INFINITY;
    for (std::size_t k = 0; k < 4; ++k) {
      const double d = std::hypot(out.column("tsne_x").as_double(r) - mx[k] / cnt[k], out.column("tsne_y").as_double(r) - my[k] / cnt[k]);
      if (d < bd) {
        bd = d;
        best = k;
      }
    }
    good += best == c;
  }
  EXPECT_GE(good, 990u);
}

// Through run_feature: the second run with the same run id loads the saved state (no fit, the
// model file untouched), and the run id does not depend on the scope (not scope dependent).
TEST(GlobalTsne, SecondRunLoadsStateWithoutRefit) {
  testing::TempDir tmp;
  Dataset ds = Dataset::create(tmp / "ds", {.name = "t", .fps = 30.0});
  SimulationOptions so;
  so.animals = 2;
  so.frames = 300;
  so.keypoints = 4;
  for (int s = 0; s < 2; ++s) ds.write_tracks("g", "s" + std::to_string(s), simulate_sequence(so, s), {.std_format = "simulated"});
  auto up = make_feature("speed-angvel", std::nullopt, Json{{"fps", 30.0}});
  RunOptions o;
  o.log = false;
  RunResult ur = run_feature(ds, *up, o);
  // Templates: finite rows of the upstream output.
  Table first = read_parquet(ds.root("features") / ur.result.feature / *ur.result.run_id / "g__s0.parquet");
  std::vector<uint8_t> ok(first.num_rows());
  for (std::size_t r = 0; r < first.num_rows(); ++r)
    ok[r] = std::isfinite(first.column("speed").as_double(r)) && std::isfinite(first.column("angvel").as_double(r));
  Table tpl = first.filter(ok).select({"angvel", "speed"}).slice(0, 200);
  fs::path tpl_dir = ds.root("features") / "tpl-src" / "0.1-aaaaaaaaaa";
  fs::create_directories(tpl_dir);
  write_parquet(tpl, tpl_dir / "templates.parquet");
  Inputs in = Inputs::of({Result{ur.result.feature, ur.result.run_id}});
  auto f = make_feature("global-tsne", in, small_params());
  RunResult r1 = run_feature(ds, *f, o);
  ASSERT_TRUE(r1.failures.empty()) << r1.failures[0].message;
  EXPECT_GT(r1.timing.fit_seconds, 0.0);
  fs::path root = ds.root("features") / r1.result.feature / *r1.result.run_id;
  auto mtime = fs::last_write_time(root / "global_tsne_model.json");
  std::string bytes = read_file_text(root / "g__s1.parquet");
  Table out = read_parquet(root / "g__s1.parquet");
  EXPECT_TRUE(out.has_column("tsne_x") && out.has_column("frame") && !out.has_column("speed"));
  auto f2 = make_feature("global-tsne", in, small_params());
  RunOptions o2 = o;
  o2.overwrite = true;
  RunResult r2 = run_feature(ds, *f2, o2);
  EXPECT_EQ(*r2.result.run_id, *r1.result.run_id);
  EXPECT_EQ(r2.timing.fit_seconds, 0.0);
  EXPECT_EQ(fs::last_write_time(root / "global_tsne_model.json"), mtime);
  EXPECT_EQ(read_file_text(root / "g__s1.parquet"), bytes);
  // A model reference by storage name and run id reuses the fit in another run.
  Json mp{{"model", {{"feature", r1.result.feature}, {"run_id", *r1.result.run_id}}}, {"mapping", {{"iters", 60}}}};
  auto f3 = make_feature("global-tsne", in, mp);
  RunResult r3 = run_feature(ds, *f3, o);
  EXPECT_NE(*r3.result.run_id, *r1.result.run_id);
  EXPECT_EQ(r3.timing.fit_seconds, 0.0);
  fs::path root3 = ds.root("features") / r3.result.feature / *r3.result.run_id;
  EXPECT_TRUE(read_parquet(root3 / "g__s1.parquet").equals(out));
  // Not scope dependent: restricting the scope keeps the run id.
  EXPECT_FALSE(f->info().scope_dependent);
}

}  // namespace
}  // namespace mosaic
