// golden_runner: one GoogleTest per golden case, discovered from data files.
//
// Each tests/golden/cases/<feature>.yaml says how to compare that feature's outputs with the
// Python reference's (../shared/golden): which flavour (fixed/ = with DECISIONS' fixes), the key
// columns rows are matched by, tolerances, and known, explained deviations. For every case folder
// of that feature in the corpus, the runner rebuilds the case's inputs in a temporary dataset,
// runs our feature through run_feature with the case's params, inputs and frame range, and
// compares every entry's output with the golden CSV: column names, order, dtypes and values.
//
// Case file keys: feature, prefer (fixed|upstream), keys, rtol, atol, rtol_float32, atol_float32,
// up_to_sign, as_partition, ignore, check_dtypes, dtype_exempt, skip ({"<dataset>/<variant>": reason}),
// check_run_id (compare our run id's hash with the golden one).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "common/test_util.hpp"
#include "golden/golden_corpus.hpp"
#include "io/manifest_yaml.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/files.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/run_id.hpp"

namespace mosaic::golden {
namespace {

std::vector<std::string> strings(const Json& j, const char* key) {
  std::vector<std::string> out;
  if (j.contains(key) && j[key].is_array())
    for (const auto& v : j[key]) out.push_back(v.get<std::string>());
  return out;
}

class GoldenCaseTest : public ::testing::Test {
 public:
  GoldenCaseTest(Json spec, Case c) : spec_(std::move(spec)), case_(std::move(c)) {}
  void TestBody() override {
    std::string skip_key = case_.dataset + "/" + case_.variant;
    if (spec_.contains("skip") && spec_["skip"].contains(skip_key))
      GTEST_SKIP() << spec_["skip"][skip_key].get<std::string>();
    testing::TempDir tmp;
    Replay replay = prepare_replay(case_, tmp.path());
    auto feature = make_feature(case_.feature, replay.inputs, replay.params);
    RunResult result = run_feature(replay.dataset, *feature, replay.options);
    ASSERT_TRUE(result.failures.empty()) << "apply failed: " << result.failures[0].sequence << ": "
                                         << result.failures[0].message;
    // The run id hashes the same payload as the reference (the version may carry +cpp.1).
    std::string golden_hash = case_.run_info["params_hash"].get<std::string>();
    std::string ours = *result.result.run_id;
    if (spec_.value("check_run_id", true)) {
      EXPECT_EQ(ours.substr(ours.rfind('-') + 1), golden_hash) << "our run id " << ours << " vs golden "
                                                               << case_.run_info["run_id"].get<std::string>();
    }
    CompareOptions opt;
    opt.keys = strings(spec_, "keys");
    opt.rtol = spec_.value("rtol", 1e-12);
    opt.atol = spec_.value("atol", 0.0);
    opt.rtol_float32 = spec_.value("rtol_float32", 1e-6);
    opt.atol_float32 = spec_.value("atol_float32", 0.0);
    opt.up_to_sign = strings(spec_, "up_to_sign");
    opt.as_partition = strings(spec_, "as_partition");
    opt.ignore = strings(spec_, "ignore");
    opt.check_dtypes = spec_.value("check_dtypes", true);
    opt.dtype_exempt = strings(spec_, "dtype_exempt");
    fs::path run_root = replay.dataset.root("features") / result.result.feature / ours;
    for (const auto& e : case_.run_info["outputs"]) {
      std::string key = e["entry"].get<std::string>();
      fs::path ours_path = run_root / (key + ".parquet");
      ASSERT_TRUE(fs::exists(ours_path)) << "no output for " << key;
      Table mine = read_parquet(ours_path);
      Table golden = read_table(case_.dir / (key + ".csv"));
      std::string report = compare_tables(mine, golden, opt);
      EXPECT_TRUE(report.empty()) << case_.dir.string() << " entry " << key << ":\n" << report;
    }
  }

 private:
  Json spec_;
  Case case_;
};

std::string test_name(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

// Register one test per (case file, golden case folder) before main runs.
struct Registrar {
  Registrar() {
    fs::path cases_dir = fs::path(MOSAIC_SOURCE_DIR) / "tests" / "golden" / "cases";
    std::vector<fs::path> files;
    if (fs::exists(cases_dir))
      for (const auto& f : fs::directory_iterator(cases_dir))
        if (f.path().extension() == ".yaml") files.push_back(f.path());
    std::sort(files.begin(), files.end());
    if (golden_root().empty()) {
      ::testing::RegisterTest("Golden", "CorpusAbsent", nullptr, nullptr, __FILE__, __LINE__,
                              []() -> ::testing::Test* { return new SkipTest(); });
      return;
    }
    for (const auto& f : files) {
      Json spec = parse_manifest_yaml(read_file_text(f), f.string());
      std::string feature = spec["feature"].get<std::string>();
      bool prefer_fixed = spec.value("prefer", std::string("fixed")) == "fixed";
      for (const auto& c : find_cases(feature, prefer_fixed)) {
        std::string suite = "Golden_" + test_name(feature);
        std::string name = test_name(c.dataset + "__" + c.variant + "__" + c.flavour);
        ::testing::RegisterTest(suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                                [spec, c]() -> ::testing::Test* { return new GoldenCaseTest(spec, c); });
      }
    }
  }
  struct SkipTest : ::testing::Test {
    void TestBody() override { GTEST_SKIP() << "needs ../shared/golden (absent)"; }
  };
};

const Registrar registrar;

}  // namespace
}  // namespace mosaic::golden
