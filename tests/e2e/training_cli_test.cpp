// The training commands end to end: import-labels (round trip and bad input), train (errors),
// models (rows written by train_model) and progress (rows read by the CLI while a job trains in
// another process, --follow until the job is done). The model is a small test model registered in
// this binary: it trains in-process (or in a forked child), the `mosaic` command only reads.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cmath>
#include <sstream>
#include <thread>

#include "common/test_util.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/dataset.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/json.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/registry.hpp"
#include "mosaic/run_id.hpp"
#include "mosaic/training.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using testing::run_mosaic;
using testing::TempDir;

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::string error_line(const testing::CommandResult& r) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  return r.err;
}

// Mean X of every sequence's tracks, refined over `epochs` damped epochs (one "class" per
// sequence), sleeping `sleep_ms` after each epoch so that a job lasts long enough to be watched.
class E2eSlowMean final : public Model {
 public:
  static const ModelInfo& static_info() {
    static const ModelInfo i{.name = "e2e-slow-mean", .version = "0.2", .summary = "mean X per sequence (test)"};
    return i;
  }
  const ModelInfo& info() const override { return static_info(); }
  void configure(const Json& config) override {
    check_config_keys(config, {"epochs", "sleep_ms"}, info().name);
    epochs_ = config.value("epochs", int64_t{2});
    sleep_ms_ = config.value("sleep_ms", int64_t{0});
  }
  Json train(const TrainContext& ctx, ProgressCallback& progress) override {
    progress.on_phase("load", "tracks");
    auto entries = ctx.dataset.tracks_index();
    Json means = Json::object();
    for (std::size_t k = 0; k < entries.size(); ++k) {
      progress.on_class_start(static_cast<int64_t>(k), static_cast<int64_t>(entries.size()), entries[k].sequence);
      Table t = ctx.dataset.load_tracks(entries[k].group, entries[k].sequence);
      double sum = 0;
      int64_t n = 0;
      for (std::size_t r = 0; r < t.num_rows(); ++r) {
        double v = t.column("X").as_double(r);
        if (!std::isnan(v)) {
          sum += v;
          ++n;
        }
      }
      double m = 0;
      for (int64_t e = 0; e < epochs_; ++e) {
        m += (sum / static_cast<double>(std::max<int64_t>(n, 1)) - m) / 2.0;
        progress.on_epoch_end(e, epochs_, Json{{"mean", m}});
        std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
      }
      means[entries[k].sequence] = m;
    }
    write_file_atomic(ctx.run_root / "means.json", python_json_dumps(means, {.indent = 2}));
    return Json{{"n_sequences", static_cast<int64_t>(entries.size())}};
  }

 private:
  int64_t epochs_ = 2, sleep_ms_ = 0;
};
MOSAIC_REGISTER_MODEL(E2eSlowMean);

fs::path simulate(const TempDir& tmp, int sequences = 2) {
  fs::path dir = tmp / "sim";
  auto r = run_mosaic("simulate " + q(dir) + " --sequences " + std::to_string(sequences) +
                      " --animals 2 --keypoints 3 --frames 60 --seed 3 --quiet");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir;
}

TrainOptions quiet(ProgressCallback* cb = nullptr) {
  TrainOptions o;
  o.log = false;
  o.progress = cb;
  return o;
}

// ---- import-labels -----------------------------------------------------------------------------

TEST(TrainingCli, ImportLabelsRoundTrip) {
  TempDir tmp;
  fs::path dir = simulate(tmp);
  write_file_atomic(tmp / "a.csv", "sequence,frame,label\nseq001,0,1\nseq001,1,1\nseq001,3,0\n");
  write_file_atomic(tmp / "b.csv", "sequence,frame,label\nseq002,2,2\n");
  auto r = run_mosaic("import-labels " + q(dir) + " --kind behavior " + q(tmp / "a.csv") + " " + q(tmp / "b.csv") +
                      " --names 0=attack,1=investigation,2=mount --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json out = python_json_loads(r.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["sequence"], "seq001");
  EXPECT_EQ(out[0]["n_frames"], 4);
  EXPECT_EQ(out[0]["n_labelled"], 3);
  EXPECT_EQ(out[1]["sequence"], "seq002");
  const fs::path labels = dir / "labels" / "behavior";
  EXPECT_EQ(read_npz(labels / "seq001.npz").at("labels").to_int64(), (std::vector<int64_t>{1, 1, -1, 0}));
  EXPECT_EQ(read_npz(labels / "seq002.npz").at("labels").to_int64(), (std::vector<int64_t>{-1, -1, 2}));
  TextCsv idx = TextCsv::read(labels / "index.csv");
  ASSERT_EQ(idx.rows.size(), 2u);
  EXPECT_EQ(idx.cell(0, "label_ids"), "0,1,2");
  EXPECT_EQ(idx.cell(0, "label_names"), "attack,investigation,mount");
  EXPECT_EQ(idx.cell(1, "source_abs_path"), fs::absolute(tmp / "b.csv").string());
  // The text form: one line per entry.
  r = run_mosaic("import-labels " + q(dir) + " " + q(tmp / "b.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("labels/behavior/seq002.npz"), std::string::npos) << r.out;
}

TEST(TrainingCli, ImportLabelsBadInput) {
  TempDir tmp;
  fs::path dir = simulate(tmp);
  write_file_atomic(tmp / "cols.csv", "seq,frame,label\nseq001,0,1\n");
  auto r = run_mosaic("import-labels " + q(dir) + " " + q(tmp / "cols.csv"));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(error_line(r), "error: " + (tmp / "cols.csv").string() +
                               ": missing column 'sequence' (available: seq, frame, label)\n");
  write_file_atomic(tmp / "val.csv", "sequence,frame,label\nseq001,0,1\nseq001,1,one\n");
  r = run_mosaic("import-labels " + q(dir) + " " + q(tmp / "val.csv"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(error_line(r), "error: " + (tmp / "val.csv").string() +
                               ": row 2 (line 3): column 'label': expected an integer class id >= 0, got 'one'\n");
  write_file_atomic(tmp / "seq.csv", "sequence,frame,label\nseq01,0,1\n");
  r = run_mosaic("import-labels " + q(dir) + " " + q(tmp / "seq.csv"));
  EXPECT_EQ(error_line(r), "error: " + (tmp / "seq.csv").string() +
                               ": row 1 (line 2): no tracks for group '', sequence 'seq01' in tracks/index.csv (did "
                               "you mean 'seq001'?)\n");
  r = run_mosaic("import-labels " + q(dir) + " " + q(tmp / "val.csv") + " --names 0=a,1");
  EXPECT_EQ(error_line(r), "error: --names: item '1' is not <id>=<name> (e.g. 0=attack,1=investigation)\n");
  EXPECT_FALSE(fs::exists(dir / "labels" / "behavior" / "index.csv"));
}

// ---- train / models ---------------------------------------------------------------------------

TEST(TrainingCli, TrainErrors) {
  TempDir tmp;
  fs::path dir = simulate(tmp);
  auto r = run_mosaic("train " + q(dir) + " no-such-model");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(error_line(r).find("error: unknown model 'no-such-model'"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "models" / "no-such-model"));
  r = run_mosaic("train " + q(tmp / "nowhere") + " no-such-model");
  EXPECT_EQ(r.exit_code, 4) << r.err;
}

TEST(TrainingCli, ModelsListsIndexRows) {
  TempDir tmp;
  fs::path dir = simulate(tmp);
  Dataset ds = Dataset::open(dir);
  auto r = run_mosaic("models " + q(dir));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no model runs in"), std::string::npos) << r.out;
  std::string a = train_model(ds, "e2e-slow-mean", ModelConfig::object(Json{{"epochs", 2}}), quiet());
  EXPECT_THROW(train_model(ds, "e2e-slow-mean", ModelConfig::object(Json{{"epoch", 2}}), quiet()), InputError);
  r = run_mosaic("models " + q(dir) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json rows = python_json_loads(r.out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["run_id"], a);
  EXPECT_EQ(rows[0]["status"], "success");
  EXPECT_EQ(rows[1]["status"], "failed");
  EXPECT_EQ(rows[1]["run_id"], "0.2-" + hash_params(Json{{"epoch", 2}}));
  // The keys are the index columns, in order.
  std::vector<std::string> keys;
  for (const auto& [k, v] : rows[0].items()) keys.push_back(k);
  EXPECT_EQ(keys, model_index_columns());
  r = run_mosaic("models " + q(dir) + " e2e-slow-mean");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(a), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unknown config key 'epoch'"), std::string::npos) << r.out;
  r = run_mosaic("models " + q(dir) + " e2e-slow-maen");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(error_line(r).find("no runs of model 'e2e-slow-maen' in " + (dir / "models").string() +
                               " (did you mean 'e2e-slow-mean'?)"),
            std::string::npos);
}

// ---- progress ----------------------------------------------------------------------------------

TEST(TrainingCli, ProgressReadWhileAJobTrainsInAnotherProcess) {
  TempDir tmp;
  fs::path dir = simulate(tmp, 3);
  Dataset ds = Dataset::open(dir);
  const fs::path db = ds.root("features") / ".mosaic.db";
  // No registry yet: a clear I/O error.
  auto r = run_mosaic("progress " + q(dir) + " job-x");
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(error_line(r).find("no registry"), std::string::npos);
  { FeatureRegistry reg = FeatureRegistry::open(ds.root("features")); }
  r = run_mosaic("progress " + q(dir) + " job-x --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[]\n");

  // The job: 3 sequences x 5 epochs x 80 ms, in a child process, ending as `mosaic train` does
  // with a "done: run_id=..." phase row.
  const Json cfg{{"epochs", 5}, {"sleep_ms", 80}};
  std::fflush(nullptr);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    try {
      SqliteProgressCallback sql(db, "job-x");
      std::string run_id = train_model(ds, "e2e-slow-mean", ModelConfig::object(cfg), quiet(&sql));
      sql.on_phase("done", "run_id=" + run_id);
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  // While it runs, `mosaic progress --json` shows a growing, incomplete list.
  std::vector<std::size_t> partial;
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 100 && !exited; ++i) {
    auto p = run_mosaic("progress " + q(dir) + " job-x --json");
    exited = ::waitpid(pid, &status, WNOHANG) == pid;
    ASSERT_EQ(p.exit_code, 0) << p.err;
    Json rows = python_json_loads(p.out);
    bool done = false;
    for (const auto& row : rows) done = done || row["message"].get<std::string>().rfind("done:", 0) == 0;
    if (!exited && !done && !rows.empty()) partial.push_back(rows.size());
  }
  // --follow prints rows as they come and returns when the job is done.
  auto f = run_mosaic("progress " + q(dir) + " job-x --follow --json --interval 0.05");
  if (!exited) ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_GE(partial.size(), 1u);
  ASSERT_EQ(f.exit_code, 0) << f.err;
  std::istringstream lines(f.out);
  std::string line, last;
  int n = 0;
  while (std::getline(lines, line)) {
    Json row = python_json_loads(line);
    EXPECT_TRUE(row.contains("step_type") && row.contains("metrics")) << line;
    last = line;
    ++n;
  }
  EXPECT_GE(n, 1);
  const std::string run_id = "0.2-" + hash_params(cfg);
  EXPECT_NE(last.find("\"message\": \"done: run_id=" + run_id + "\""), std::string::npos) << f.out;
  // The final table: 3 class rows, 5 epoch rows, the last phase.
  auto t = run_mosaic("progress " + q(dir) + " job-x --json");
  Json rows = python_json_loads(t.out);
  ASSERT_EQ(rows.size(), 3u + 5u + 1u);
  EXPECT_EQ(rows[0]["step_type"], "class");
  EXPECT_EQ(rows[0]["message"], "seq001");
  EXPECT_EQ(rows[0]["step_total"], 3);
  std::vector<std::string> keys;
  for (const auto& [k, v] : rows[0].items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"step_type", "step_index", "step_total", "message", "timestamp", "metrics"}));
  t = run_mosaic("progress " + q(dir) + " job-x");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("done: run_id=" + run_id), std::string::npos) << t.out;
  EXPECT_TRUE(fs::exists(dir / "models" / "e2e-slow-mean" / run_id / "means.json"));
}

TEST(TrainingCli, ProgressFollowStopsWithFailureCode) {
  TempDir tmp;
  fs::path dir = simulate(tmp);
  Dataset ds = Dataset::open(dir);
  { FeatureRegistry reg = FeatureRegistry::open(ds.root("features")); }
  SqliteProgressCallback sql(ds.root("features") / ".mosaic.db", "job-f");
  sql.on_class_start(0, 2, "attack");
  sql.on_phase("failed", "boom");
  auto r = run_mosaic("progress " + q(dir) + " job-f --follow");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("class 1/2 attack"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("phase failed: boom"), std::string::npos) << r.out;
}

// ---- mosaic train, with the test models preloaded into the command --------------------------

// LD_PRELOAD of tests/models/test_models.cpp's library for the commands run while it lives.
class PreloadTestModels {
 public:
  PreloadTestModels() {
    const char* old = std::getenv("LD_PRELOAD");
    if (old) old_ = old;
    had_ = old != nullptr;
    ::setenv("LD_PRELOAD", library().c_str(), 1);
  }
  ~PreloadTestModels() {
    if (had_) ::setenv("LD_PRELOAD", old_.c_str(), 1);
    else ::unsetenv("LD_PRELOAD");
  }
  PreloadTestModels(const PreloadTestModels&) = delete;
  PreloadTestModels& operator=(const PreloadTestModels&) = delete;
  static fs::path library() { return fs::path(MOSAIC_BINARY_DIR) / "tests" / "libmosaic_test_models.so"; }

 private:
  std::string old_;
  bool had_ = false;
};

// Under AddressSanitizer the runtime must come first in the library list, which LD_PRELOAD breaks.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPreloadWorks = false;
#else
constexpr bool kPreloadWorks = true;
#endif

#define REQUIRE_TEST_MODELS()                                                                     \
  do {                                                                                            \
    if (!kPreloadWorks) GTEST_SKIP() << "LD_PRELOAD of the test models does not mix with ASan";   \
    if (!fs::exists(PreloadTestModels::library()))                                                \
      GTEST_SKIP() << "needs " << PreloadTestModels::library() << " (target mosaic_test_models)"; \
  } while (0)

TEST(TrainingCli, TrainEndToEnd) {
  REQUIRE_TEST_MODELS();
  TempDir tmp;
  fs::path dir = simulate(tmp);
  PreloadTestModels preload;
  const Json cfg{{"epochs", 3}};
  write_file_atomic(tmp / "cfg.json", python_json_dumps(cfg));
  auto r = run_mosaic("train " + q(dir) + " test-slow-mean --config " + q(tmp / "cfg.json") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string run_id = "0.1-" + hash_params(cfg);
  const std::string job = "test-slow-mean/" + run_id;
  Json out = python_json_loads(r.out);
  EXPECT_EQ(out["model"], "test-slow-mean");
  EXPECT_EQ(out["run_id"], run_id);
  EXPECT_EQ(out["job_id"], job);
  EXPECT_EQ(out["run_root"], fs::absolute(dir / "models" / "test-slow-mean" / run_id).string());
  EXPECT_EQ(out["metrics"]["n_sequences"], 2);
  EXPECT_TRUE(out["seconds"].is_number_float());
  // Not a terminal: no bar, just the job line and the reference's completed line.
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[model:test-slow-mean] job " + job), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[model:test-slow-mean] completed run_id=" + run_id + " -> "), std::string::npos) << r.err;
  EXPECT_EQ(read_file_text(dir / "models" / "test-slow-mean" / run_id / "config.json"),
            python_json_dumps(cfg, {.indent = 2}));
  // Progress rows under the default job id, ending with the done phase.
  r = run_mosaic("progress " + q(dir) + " " + q(job) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json rows = python_json_loads(r.out);
  ASSERT_EQ(rows.size(), 2u + 3u + 1u);
  EXPECT_EQ(rows[0]["step_type"], "class");
  EXPECT_EQ(rows[2]["step_type"], "epoch");
  EXPECT_EQ(rows[2]["step_total"], 3);
  EXPECT_EQ(rows.back()["message"], "done: run_id=" + run_id);
  // Inline JSON, same config: same run id; plain output is the run id; --quiet prints nothing else.
  r = run_mosaic("train " + q(dir) + " test-slow-mean --config '{\"epochs\": 3}' --quiet --job-id j2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, run_id + "\n");
  EXPECT_EQ(r.err, "");
  TextCsv idx = TextCsv::read(dir / "models" / "test-slow-mean" / "index.csv");
  ASSERT_EQ(idx.rows.size(), 2u);
  EXPECT_EQ(idx.cell(1, "run_id"), run_id);
  EXPECT_EQ(idx.cell(1, "status"), "success");
  // The same job id again: the earlier run's rows are gone (3 epochs then, 2 now).
  r = run_mosaic("train " + q(dir) + " test-slow-mean --config '{\"epochs\": 2}' --quiet --job-id j2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  rows = python_json_loads(run_mosaic("progress " + q(dir) + " j2 --json").out);
  ASSERT_EQ(rows.size(), 2u + 2u + 1u);
  EXPECT_EQ(rows.back()["message"], "done: run_id=0.1-" + hash_params(Json{{"epochs", 2}}));
}

// On a terminal (a pseudo-terminal from script(1)): a bar per class, redrawn per round.
TEST(TrainingCli, TrainDrawsABarOnATerminal) {
  REQUIRE_TEST_MODELS();
  if (std::system("command -v script >/dev/null 2>&1") != 0) GTEST_SKIP() << "needs script(1)";
  TempDir tmp;
  fs::path dir = simulate(tmp);
  const char* bin = std::getenv("MOSAIC_BIN");
  const std::string exe = bin ? bin : std::string(MOSAIC_BINARY_DIR) + "/bin/mosaic";
  write_file_atomic(tmp / "run.sh", "LD_PRELOAD=" + q(PreloadTestModels::library()) + " '" + exe + "' train " + q(dir) +
                                        " test-slow-mean --config '{\"epochs\": 4}'\n");
  const std::string cmd = "script -qec 'sh " + (tmp / "run.sh").string() + "' /dev/null > " + q(tmp / "tty.txt") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file_text(tmp / "tty.txt");
  const std::string tty = read_file_text(tmp / "tty.txt");
  EXPECT_NE(tty.find("[test-slow-mean] seq001 (1/2)"), std::string::npos) << tty;
  EXPECT_NE(tty.find("[test-slow-mean] seq002 (2/2)"), std::string::npos) << tty;
  EXPECT_NE(tty.find(" 4/4  mean="), std::string::npos) << tty;
  EXPECT_NE(tty.find("\r\033[K"), std::string::npos) << tty;
  // The completed line starts on a line of its own, after the last bar.
  EXPECT_NE(tty.find("\n[model:test-slow-mean] completed run_id="), std::string::npos) << tty;
}

TEST(TrainingCli, TrainBadConfigAndFailure) {
  REQUIRE_TEST_MODELS();
  TempDir tmp;
  fs::path dir = simulate(tmp);
  PreloadTestModels preload;
  // Unknown key: exit 2, one error line, a failed index row and a failed phase row.
  auto r = run_mosaic("train " + q(dir) + " test-slow-mean --config '{\"epoch\": 3}' --job-id bad");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("error: test-slow-mean: unknown config key 'epoch' (did you mean 'epochs'?); allowed: epochs, "
                       "sleep_ms, fail_at_class\n"),
            std::string::npos)
      << r.err;
  TextCsv idx = TextCsv::read(dir / "models" / "test-slow-mean" / "index.csv");
  ASSERT_EQ(idx.rows.size(), 1u);
  EXPECT_EQ(idx.cell(0, "status"), "failed");
  r = run_mosaic("progress " + q(dir) + " bad --json");
  Json rows = python_json_loads(r.out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["message"], "failed: test-slow-mean: unknown config key 'epoch' (did you mean 'epochs'?); "
                                "allowed: epochs, sleep_ms, fail_at_class");
  // A failure inside train keeps its exit code (StateError = 5).
  r = run_mosaic("train " + q(dir) + " test-slow-mean --config '{\"fail_at_class\": 1}' --quiet");
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(r.err, "error: test-slow-mean: failing at seq002 as configured\n");
  // Config files: missing (I/O, 4) and invalid JSON (input, 2); nothing is recorded for them.
  r = run_mosaic("train " + q(dir) + " test-slow-mean --config " + q(tmp / "none.json"));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(error_line(r), "error: Model config not found: " + (tmp / "none.json").string() + "\n");
  write_file_atomic(tmp / "bad.json", "{\"epochs\": 3,}");
  r = run_mosaic("train " + q(dir) + " test-slow-mean --config " + q(tmp / "bad.json"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(error_line(r).find("error: Invalid JSON in config file " + (tmp / "bad.json").string() + ": "),
            std::string::npos);
  r = run_mosaic("train " + q(dir) + " test-slow-man");
  EXPECT_NE(error_line(r).find("unknown model 'test-slow-man' (did you mean 'test-slow-mean'?)"), std::string::npos);
  EXPECT_EQ(TextCsv::read(dir / "models" / "test-slow-mean" / "index.csv").rows.size(), 2u);
}

// `mosaic train` runs in one process; `mosaic progress` in others reads its rows while it trains.
TEST(TrainingCli, TrainWatchedFromAnotherTerminal) {
  REQUIRE_TEST_MODELS();
  TempDir tmp;
  fs::path dir = simulate(tmp, 3);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    PreloadTestModels preload;
    auto r = run_mosaic("train " + q(dir) + " test-slow-mean --config '{\"epochs\": 5, \"sleep_ms\": 80}' "
                        "--job-id watched --quiet");
    ::_exit(r.exit_code);
  }
  // Follow from the start (the registry may not exist yet): it returns when the job is done.
  auto f = run_mosaic("progress " + q(dir) + " watched --follow --interval 0.05");
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_EQ(f.exit_code, 0) << f.err;
  // Rows came one by one: more lines than the 3 + 5 + 1 rows that survive (epoch rows of later
  // classes replace those of earlier ones, and each change is printed).
  const auto lines = std::count(f.out.begin(), f.out.end(), '\n');
  EXPECT_GT(lines, 9) << f.out;
  EXPECT_NE(f.out.find("class 3/3 seq003"), std::string::npos) << f.out;
  EXPECT_NE(f.out.find("epoch 5/5"), std::string::npos) << f.out;
  EXPECT_NE(f.out.find("phase done: run_id=0.1-"), std::string::npos) << f.out;
}

}  // namespace
}  // namespace mosaic
