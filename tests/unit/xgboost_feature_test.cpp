// The xgboost feature (features.md §1.11) through its protocol: fit from labelled templates
// (multiclass and one-vs-rest), reports, save/load round trip, thresholds and default_class,
// F5's key columns, and its errors (missing column, SMOTE, templates and model together, a
// joblib pickle). The golden cases (tests/golden/cases/xgboost.yaml) check the numbers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_util.hpp"
#include "mosaic/errors.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/files.hpp"
#include "mosaic/parquet.hpp"

namespace mosaic {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using mosaic::testing::TempDir;

struct NoEntries : InputStream {
  std::size_t n_entries() const override { return 0; }
  void for_each(const std::function<void(const EntryData&)>&) const override {}
};

// Three classes around (0,0), (4,0), (0,4) in (f_a, f_b); a constant `time` column that must not
// be a feature; 60 train and 30 test rows.
Table templates() {
  std::vector<double> a, b, t;
  std::vector<int64_t> label;
  std::vector<std::string> split;
  for (int i = 0; i < 90; ++i) {
    int c = i % 3;
    double jitter = 0.3 * std::sin(i * 1.7);
    a.push_back((c == 1 ? 4.0 : 0.0) + jitter);
    b.push_back((c == 2 ? 4.0 : 0.0) - jitter);
    t.push_back(i / 30.0);
    label.push_back(c);
    split.push_back(i < 60 ? "train" : "test");
  }
  Table tab;
  tab.add_column("f_b", Column::from_float64(b));
  tab.add_column("f_a", Column::from_float64(a));
  tab.add_column("time", Column::from_float64(t));
  tab.add_column("label", Column::from_int64(label));
  tab.add_column("split", Column::from_strings(split));
  return tab;
}

// Pair rows: the three class centres and one point halfway between classes 1 and 2.
Table pair_input() {
  Table t;
  t.add_column("frame", Column::from_int64({0, 1, 2, 3}));
  t.add_column("id1", Column::from_int64({0, 0, 1, 1}));
  t.add_column("id2", Column::from_int64({1, 1, 0, 0}));
  t.add_column("perspective", Column::from_int8({0, 0, 1, 1}));
  t.add_column("other", Column::from_float64({9, 9, 9, 9}));
  t.add_column("f_a", Column::from_float64({0.0, 4.0, 0.0, 2.0}));
  t.add_column("f_b", Column::from_float64({0.0, 0.0, 4.0, 2.0}));
  return t;
}

Json params(Json extra = Json::object()) {
  Json p = {{"templates", {{"feature", "extract-labeled-templates"}, {"run_id", "0.1+cpp.1-x"}}},
            {"default_class", 7},
            {"n_estimators", 20}};
  for (auto it = extra.begin(); it != extra.end(); ++it) p[it.key()] = it.value();
  return p;
}

std::unique_ptr<Feature> fitted(const TempDir& tmp, const Json& p) {
  fs::path tpl = tmp / "templates.parquet";
  write_parquet(templates(), tpl);
  auto f = make_feature("xgboost", Inputs::of({Result{"pair-egocentric__from__tracks", "0.1-a"}}), p);
  fs::path run_root = tmp / "run";
  make_dirs(run_root);
  EXPECT_FALSE(f->load_state(run_root, {{"templates", tpl}}, {}));
  f->fit(NoEntries());
  f->save_state(run_root);
  return f;
}

TEST(XgboostFeature, MulticlassFitApplySaveLoad) {
  TempDir tmp;
  auto f = fitted(tmp, params());
  Table out = f->apply(pair_input());
  // F5: every key column kept, in the reference's order; non-key input columns dropped.
  EXPECT_EQ(out.column_names(), (std::vector<std::string>{"frame", "id1", "id2", "perspective", "prob_0", "prob_1",
                                                          "prob_2", "predicted_label"}));
  EXPECT_EQ(out.column("prob_0").type(), DType::kFloat32);
  auto pred = out.column("predicted_label").i64();
  EXPECT_EQ(pred[0], 0);
  EXPECT_EQ(pred[1], 1);
  EXPECT_EQ(pred[2], 2);
  for (std::size_t r = 0; r < out.num_rows(); ++r) {
    double sum = out.column("prob_0").f32()[r] + out.column("prob_1").f32()[r] + out.column("prob_2").f32()[r];
    EXPECT_NEAR(sum, 1.0, 1e-5);  // softprob
  }
  // The test split gives sklearn's classification_report and its transposed CSV.
  Json rep = Json::parse(read_file_text(tmp / "run" / "reports.json"));
  EXPECT_GT(rep["accuracy"].get<double>(), 0.8);
  EXPECT_EQ(rep["0"]["support"], 10);
  for (const char* k : {"0", "1", "2", "macro avg", "weighted avg"})
    EXPECT_EQ(rep[k].size(), 4u) << k;  // precision, recall, f1-score, support
  std::string summary = read_file_text(tmp / "run" / "summary.csv");
  EXPECT_THAT(summary, HasSubstr(",precision,recall,f1-score,support\n0,"));
  EXPECT_THAT(summary, HasSubstr("\nweighted avg,"));
  // Portable model: XGBoost JSON + our metadata; a new instance loads it and predicts the same.
  Json meta = Json::parse(read_file_text(tmp / "run" / "xgboost_model.json"));
  EXPECT_EQ(meta["feature_columns"], Json::parse(R"(["f_a", "f_b"])"));  // sorted; time/label/split excluded
  EXPECT_EQ(meta["classes"], Json::parse("[0, 1, 2]"));
  EXPECT_TRUE(fs::exists(tmp / "run" / "xgboost_model.0.json"));
  auto g = make_feature("xgboost", Inputs::of({Result{"pair-egocentric__from__tracks", "0.1-a"}}), params());
  EXPECT_TRUE(g->load_state(tmp / "run", {}, {}));
  EXPECT_TRUE(g->apply(pair_input()).equals(out));
}

TEST(XgboostFeature, OneVsRestAndThresholds) {
  TempDir tmp;
  auto f = fitted(tmp, params({{"strategy", "one_vs_rest"}, {"n_estimators", 20}}));
  Json meta = Json::parse(read_file_text(tmp / "run" / "xgboost_model.json"));
  EXPECT_EQ(meta["booster_files"].size(), 3u);
  Table out = f->apply(pair_input());
  EXPECT_EQ(out.column("predicted_label").i64()[1], 1);
  // A threshold no probability passes sends every row to default_class.
  TempDir tmp2;
  auto strict = fitted(tmp2, params({{"decision_threshold", 1.5}}));
  Table none_pass = strict->apply(pair_input());
  for (int64_t v : none_pass.column("predicted_label").i64()) EXPECT_EQ(v, 7);
  // A mapping: classes without an entry get 0.0, so they always pass.
  TempDir tmp3;
  auto mapped = fitted(tmp3, params({{"decision_threshold", {{"0", 1.5}, {"1", 1.5}}}}));
  Table only_2 = mapped->apply(pair_input());
  for (int64_t v : only_2.column("predicted_label").i64()) EXPECT_EQ(v, 2);
}

TEST(XgboostFeature, Errors) {
  TempDir tmp;
  auto f = fitted(tmp, params());
  Table in = pair_input();
  in.drop_column("f_b");
  try {
    f->apply(in);
    FAIL() << "expected SchemaError";
  } catch (const SchemaError& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing column 'f_b'"));
  }
  auto inputs = Inputs::of({Result{"pair-egocentric__from__tracks", "0.1-a"}});
  EXPECT_THAT([&] { make_feature("xgboost", inputs, params({{"use_smote", true}})); },
              ::testing::ThrowsMessage<InputError>(HasSubstr("use_smote=true is not supported")));
  Json both = params({{"model", {{"feature", "xgboost"}, {"run_id", "0.1-b"}}}});
  EXPECT_THAT([&] { make_feature("xgboost", inputs, both); },
              ::testing::ThrowsMessage<InputError>(HasSubstr("Exactly one of 'templates' or 'model'")));
  Json none = {{"default_class", 0}};
  EXPECT_THROW(make_feature("xgboost", inputs, none), InputError);
  // A reference-written joblib bundle is never unpickled.
  TempDir tmp2;
  write_file_atomic(tmp2 / "xgboost_model.joblib", "not read");
  auto g = make_feature("xgboost", inputs, Json{{"model", {{"feature", "xgboost"}, {"run_id", "0.1-b"}}}, {"default_class", 0}});
  EXPECT_THAT([&] { g->load_state(tmp2 / "run", {{"model", tmp2 / "xgboost_model.joblib"}}, {}); },
              ::testing::ThrowsMessage<InputError>(HasSubstr("joblib pickle")));
}

}  // namespace
}  // namespace mosaic
