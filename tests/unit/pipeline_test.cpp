// Pipeline: cache resolution, staleness, force_from, clean, callbacks, pipeline files.
#include "mosaic/pipeline.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <chrono>
#include <fstream>
#include <thread>

#include "common/test_util.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/index_csv.hpp"
#include "mosaic/registry.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

Table tracks(int64_t n) {
  std::vector<int64_t> frame, id;
  std::vector<double> x, y, a;
  for (int64_t f = 0; f < n; ++f)
    for (int k = 0; k < 2; ++k) {
      frame.push_back(f);
      id.push_back(k);
      x.push_back(std::cos(0.05 * static_cast<double>(f)) * 50 + 20 * k);
      y.push_back(std::sin(0.05 * static_cast<double>(f)) * 50);
      a.push_back(0.05 * static_cast<double>(f));
    }
  Table t;
  t.add_column("frame", Column::from_int64(frame));
  t.add_column("id", Column::from_int64(id));
  t.add_column("X", Column::from_float64(x));
  t.add_column("Y", Column::from_float64(y));
  t.add_column("ANGLE", Column::from_float64(a));
  return t;
}

struct Fixture {
  TempDir tmp;
  Dataset ds;
  Fixture() : ds(Dataset::create(tmp / "d", {.fps = 30.0})) {
    for (const char* s : {"s1", "s2", "s3"}) ds.write_tracks("g", s, tracks(50), {});
  }
};

PipelineHooks quiet() {
  PipelineHooks h;
  h.log = false;
  return h;
}

Pipeline two_steps(double fps = 30.0) {
  Pipeline p;
  p.add(FeatureStep{"speed", "speed-angvel", Json{{"fps", fps}}});
  p.add(FeatureStep{"scale", "body-scale", Json::object()});
  return p;
}

TEST(PipelineTest, AddRefusesDuplicatesAndUnknownUpstream) {
  Pipeline p;
  p.add(FeatureStep{"a", "speed-angvel", Json::object()});
  try {
    p.add(FeatureStep{"a", "body-scale", Json::object()});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "Duplicate step name: 'a'");
  }
  try {
    p.add(FeatureStep{"b", "speed-angvel", Json::object(), {"x"}});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "Step 'b' references unknown upstream 'x'. Available: [a]");
  }
  try {
    p.add(FeatureStep{"c", "sped-angvel", Json::object()});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'speed-angvel'"), std::string::npos);
  }
  p.add(CallbackStep{"cb", [](const Dataset&, const StepResults&) {}, {"a"}});
  auto dag = p.dag();
  ASSERT_EQ(dag.size(), 2u);
  EXPECT_EQ(dag[1].first, "cb");
  EXPECT_EQ(dag[1].second, std::vector<std::string>{"a"});
}

TEST(PipelineTest, RunThenEverythingCached) {
  Fixture fx;
  Pipeline p = two_steps();
  auto before = p.status(fx.ds);
  ASSERT_EQ(before.size(), 2u);
  EXPECT_FALSE(before[0].cached);
  EXPECT_FALSE(before[0].expected_run_id.empty());  // predicted without running (P3)
  StepResults r = p.run(fx.ds, std::nullopt, quiet());
  EXPECT_EQ(*r["speed"].run_id, before[0].expected_run_id);
  auto after = p.status(fx.ds);
  for (const auto& s : after) {
    EXPECT_TRUE(s.cached) << s.step;
    EXPECT_EQ(s.n_seq, 3);
    EXPECT_EQ(s.runs, 1);
  }
  auto loaded = p.load(fx.ds);
  EXPECT_EQ(loaded.size(), 2u);
  // A second run rewrites nothing.
  fs::path out = fx.ds.root("features") / r["speed"].feature / *r["speed"].run_id / "g__s1.parquet";
  auto mtime = fs::last_write_time(out);
  p.run(fx.ds, std::nullopt, quiet());
  EXPECT_EQ(fs::last_write_time(out), mtime);
}

TEST(PipelineTest, PartialRunIsNotCached) {
  Fixture fx;
  Pipeline p = two_steps();
  auto f = make_feature("speed-angvel", std::nullopt, Json{{"fps", 30.0}});
  RunOptions o;
  o.log = false;
  o.sequences = std::set<std::string>{"s1"};  // the same run id, one entry only
  run_feature(fx.ds, *f, o);
  auto st = p.status(fx.ds);
  EXPECT_FALSE(st[0].cached);  // P2: every entry of the scope must have its output
  EXPECT_EQ(st[0].n_seq, 1);
  EXPECT_EQ(st[0].scope_entries, 3);
  p.run(fx.ds, std::nullopt, quiet());
  EXPECT_TRUE(p.status(fx.ds)[0].cached);
}

TEST(PipelineTest, StalenessPropagatesAndForceFromRecomputes) {
  Fixture fx;
  Pipeline p;
  p.add(FeatureStep{"speed", "speed-angvel", Json{{"fps", 30.0}}});
  p.add(FeatureStep{"smooth", "speed-angvel", Json{{"fps", 30.0}, {"smooth_window", 5}}, {"tracks"}});
  p.add(FeatureStep{"scale", "body-scale", Json::object()});
  p.run(fx.ds, std::nullopt, quiet());
  for (const auto& s : p.status(fx.ds)) EXPECT_TRUE(s.cached) << s.step;
  fs::path out = fx.ds.root("features") / "speed-angvel__from__tracks";
  // force_from=speed: speed is recomputed (overwrite), scale is not downstream of it.
  auto st = p.status(fx.ds);
  fs::path speed_file = out / st[0].expected_run_id / "g__s1.parquet";
  fs::path scale_file = fx.ds.root("features") / st[2].storage / st[2].expected_run_id / "g__s1.parquet";
  auto t_speed = fs::last_write_time(speed_file);
  auto t_scale = fs::last_write_time(scale_file);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  p.run(fx.ds, std::string("speed"), quiet());
  EXPECT_NE(fs::last_write_time(speed_file), t_speed);
  EXPECT_EQ(fs::last_write_time(scale_file), t_scale);
  try {
    p.run(fx.ds, std::string("nope"), quiet());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("force_from='nope' is not a known step"), std::string::npos);
  }
}

TEST(PipelineTest, ParamStepReferencesAndDownstreamStaleness) {
  Fixture fx;
  // orientation-rel is not there yet in every build; use speed -> (callback) and a param ref via
  // a Result-typed param would need such a feature. Check staleness through a callback instead.
  Pipeline p;
  p.add(FeatureStep{"speed", "speed-angvel", Json{{"fps", 30.0}}});
  int calls = 0;
  StepResults seen;
  p.add(CallbackStep{"report", [&](const Dataset&, const StepResults& r) {
                       ++calls;
                       seen = r;
                     },
                     {"speed"}});
  auto st = p.status(fx.ds);
  EXPECT_TRUE(st[1].stale);  // upstream not cached yet
  p.run(fx.ds, std::nullopt, quiet());
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(seen.count("speed"));
  EXPECT_EQ(seen["speed"].feature, "speed-angvel__from__tracks");
  st = p.status(fx.ds);
  EXPECT_FALSE(st[1].stale);
  p.run(fx.ds, std::nullopt, quiet());
  EXPECT_EQ(calls, 2);  // callbacks always run
  EXPECT_EQ(param_step_refs(Json{{"templates", {{"step", "t1"}, {"pattern", "templates.parquet"}}}, {"k", 5}}),
            std::vector<std::string>{"t1"});
}

TEST(PipelineTest, CleanKeepsEveryExpectedRunEvenWhenStepsShareAStorage) {
  Fixture fx;
  // Two steps with one storage (speed-angvel__from__tracks) and different params: P5.
  Pipeline p;
  p.add(FeatureStep{"a", "speed-angvel", Json{{"fps", 30.0}}});
  p.add(FeatureStep{"b", "speed-angvel", Json{{"fps", 25.0}}});
  p.run(fx.ds, std::nullopt, quiet());
  // An orphan run of the same storage.
  auto f = make_feature("speed-angvel", std::nullopt, Json{{"fps", 10.0}});
  RunOptions o;
  o.log = false;
  RunResult orphan = run_feature(fx.ds, *f, o);
  auto dry = p.clean(fx.ds, true);
  int current = 0, would = 0;
  for (const auto& r : dry) {
    if (r.status == "current") ++current;
    if (r.status == "would remove") {
      ++would;
      EXPECT_EQ(r.run_id, *orphan.result.run_id);
    }
  }
  EXPECT_EQ(current, 2);
  EXPECT_EQ(would, 1);
  fs::path orphan_dir = fx.ds.root("features") / orphan.result.feature / *orphan.result.run_id;
  EXPECT_TRUE(fs::exists(orphan_dir));
  auto done = p.clean(fx.ds, false);
  EXPECT_FALSE(fs::exists(orphan_dir));
  for (const auto& s : p.status(fx.ds)) EXPECT_TRUE(s.cached) << s.step;
  FeatureIndex idx(fx.ds.root("features") / "speed-angvel__from__tracks" / "index.csv");
  EXPECT_EQ(idx.run_ids().size(), 2u);
}

TEST(PipelineTest, FailedStepStopsThePipeline) {
  Fixture fx;
  Pipeline p;
  // smooth_window larger than the 50 frames of every sequence: every entry fails (P6).
  p.add(FeatureStep{"speed", "speed-angvel", Json{{"fps", 30.0}, {"smooth_window", 99}}});
  p.add(FeatureStep{"scale", "body-scale", Json::object()});
  try {
    p.run(fx.ds, std::nullopt, quiet());
    FAIL();
  } catch (const StateError& e) {
    EXPECT_NE(std::string(e.what()).find("step 'speed' (speed-angvel__from__tracks): 3 entries failed"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(p.status(fx.ds)[0].cached);
}

TEST(PipelineFileTest, ParsesStepsAndRunsCallbacks) {
  Fixture fx;
  fs::path marker = fx.tmp / "called.txt";
  fs::path file = fx.tmp / "p.yaml";
  write_file_atomic(file, "dataset: d\n"
                          "defaults:\n  parallel_workers: 2\n"
                          "steps:\n"
                          "  - name: speed\n    feature: speed-angvel\n    params: {fps: 30.0}\n"
                          "  - name: scale\n    feature: body-scale\n    run: {sequences: [s1, s2]}\n"
                          "  - name: note\n    run: [sh, -c, 'echo \"$1 $2\" > " +
                              marker.string() + "', sh]\n    depends_on: [speed]\n");
  PipelineFile pf = load_pipeline_file(file);
  ASSERT_TRUE(pf.dataset);
  EXPECT_EQ(*pf.dataset, (fx.tmp / "d").lexically_normal());
  EXPECT_EQ(*pf.pipeline.defaults().parallel_workers, 2);
  pf.pipeline.run(fx.ds, std::nullopt, quiet());
  std::string text = read_file_text(marker);
  EXPECT_NE(text.find(fx.ds.base_dir().string()), std::string::npos) << text;
  EXPECT_NE(text.find("mosaic-results"), std::string::npos) << text;
  auto st = pf.pipeline.status(fx.ds);
  EXPECT_EQ(st[1].scope_entries, 2);
}

std::string file_error(const std::string& content) {
  TempDir tmp;
  write_file_atomic(tmp / "p.yaml", content);
  try {
    load_pipeline_file(tmp / "p.yaml");
  } catch (const Error& e) {
    std::string m = e.what();
    auto pos = m.find("p.yaml");
    return pos == std::string::npos ? m : m.substr(pos);
  }
  return "(no error)";
}

TEST(PipelineFileTest, ErrorsNameLineAndKey) {
  EXPECT_EQ(file_error("steps:\n  - name: a\n    feature: speed-angvel\n    parms: {fps: 3}\n"),
            "p.yaml:4: unknown step key 'parms' (did you mean 'params'?); a step has: name, feature, params, inputs, "
            "run, depends_on");
  EXPECT_EQ(file_error("stepz: []\n"),
            "p.yaml:1: unknown key 'stepz' (did you mean 'steps'?); a pipeline file has: dataset, defaults, steps");
  EXPECT_EQ(file_error("steps:\n  - name: a\n    feature: speed-angvel\n    params: {fsp: 3}\n"),
            "p.yaml:2: unknown parameter 'fsp' (did you mean 'fps'?); SpeedAngvelParams accepts: step_size, "
            "smooth_window, fps (see: mosaic features describe speed-angvel)");
  EXPECT_EQ(file_error("steps:\n  - name: a\n    feature: speed-angvel\n  - name: b\n    feature: body-scale\n    "
                       "inputs: [c]\n"),
            "p.yaml:4: Step 'b' references unknown upstream 'c'. Available: [a]");
  EXPECT_EQ(file_error("defaults:\n  workers: 2\nsteps:\n  - name: a\n    feature: body-scale\n"),
            "p.yaml:1: defaults: unknown run option 'workers'; expected one of: groups, sequences, overwrite, "
            "parallel_workers, parallel_mode, overlap_frames, filter_start_frame, filter_end_frame, filter_start_time, "
            "filter_end_time");
  EXPECT_NE(file_error("steps: [\n").find("invalid YAML"), std::string::npos);
  EXPECT_EQ(file_error("steps:\n  - name: a\n"),
            "p.yaml:2: step 'a' needs 'feature' (a feature step) or 'run: [command, args...]' (a callback step)");
}

}  // namespace
}  // namespace mosaic
