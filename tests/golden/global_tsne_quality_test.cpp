// global-tsne against the golden corpus by its invariant (INDEX.md: "statistical only"): for
// every golden case, trustworthiness at k = 10 (sklearn semantics, kernels/tsne.hpp) of
//  1. our template embedding vs the reference's (global_tsne_templates.npz Y), on the same
//     float32 templates; and
//  2. our mapped frames vs the reference's mapped frames, per entry, on the entry's features.
// Ours must not be worse than the reference's by more than 0.02. The reference's own template
// score is also recomputed and checked against tsne_quality.json, which pins the kernel's
// semantics to sklearn's on real data.
#include <gtest/gtest.h>

#include <cmath>
#include <fmt/format.h>

#include "common/test_util.hpp"
#include "features/kernels/tsne.hpp"
#include "golden/golden_corpus.hpp"
#include "mosaic/csv.hpp"
#include "mosaic/files.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/parquet.hpp"

namespace mosaic::golden {
namespace {

constexpr double kSlack = 0.02;

std::vector<double> rows_f32(const Table& t, const std::vector<std::string>& cols, const std::vector<std::size_t>& rows) {
  std::vector<double> out;
  out.reserve(rows.size() * cols.size());
  for (std::size_t r : rows)
    for (const auto& c : cols) out.push_back(static_cast<float>(t.column(c).as_double(r)));
  return out;
}

// Headerless "x,y" lines of the exported Y.
std::vector<double> read_xy(const fs::path& p) {
  std::vector<double> out;
  std::string text = read_file_text(p);
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) continue;
    std::size_t comma = line.find(',');
    out.push_back(std::stod(line.substr(0, comma)));
    out.push_back(std::stod(line.substr(comma + 1)));
  }
  return out;
}

TEST(GoldenGlobalTsneQuality, TrustworthinessWithinSlackOfReference) {
  auto cases = find_cases("global-tsne", true);
  if (cases.empty()) GTEST_SKIP() << "needs ../shared/golden (absent)";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.dir.string());
    testing::TempDir tmp;
    Replay replay = prepare_replay(c, tmp.path());
    auto feature = make_feature(c.feature, replay.inputs, replay.params);
    RunResult result = run_feature(replay.dataset, *feature, replay.options);
    ASSERT_TRUE(result.failures.empty());
    fs::path run_root = replay.dataset.root("features") / result.result.feature / *result.result.run_id;

    // 1. Template embedding.
    Json quality = python_json_loads(read_file_text(c.dir / "tsne_quality.json"));
    fs::path templates_csv = golden_root() / c.run_info["artifact_paths"]["templates"].get<std::string>();
    templates_csv = templates_csv.parent_path() / "export" / "templates.parquet.csv";
    Table templates = read_table(templates_csv);
    const std::size_t n = templates.num_rows();
    std::vector<std::size_t> all(n);
    for (std::size_t i = 0; i < n; ++i) all[i] = i;
    std::vector<double> x = rows_f32(templates, templates.column_names(), all);
    const std::size_t d = templates.num_columns();
    std::vector<double> y_ref = read_xy(c.dir / "state" / "export" / "global_tsne_templates.npz.Y.csv");
    std::vector<double> y_ours = read_npz(run_root / "global_tsne_templates.npz").at("Y").to_double();
    ASSERT_EQ(y_ref.size(), 2 * n);
    ASSERT_EQ(y_ours.size(), 2 * n);
    const double t_ref = kernels::trustworthiness(x.data(), n, d, y_ref.data(), 2, 10);
    const double t_ours = kernels::trustworthiness(x.data(), n, d, y_ours.data(), 2, 10);
    EXPECT_NEAR(t_ref, quality["trustworthiness_k10"].get<double>(), 1e-6) << "kernel vs sklearn on the reference's Y";
    EXPECT_GE(t_ours, t_ref - kSlack) << fmt::format("templates: ours {:.4f}, reference {:.4f}", t_ours, t_ref);
    std::printf("[quality] %s/%s templates n=%zu: trustworthiness ours %.4f reference %.4f\n", c.dataset.c_str(),
                c.variant.c_str(), n, t_ours, t_ref);

    // 2. Mapped frames, per entry (rows with finite coordinates on both sides).
    std::vector<std::string> cols = templates.column_names();
    for (const auto& e : c.run_info["outputs"]) {
      std::string key = e["entry"].get<std::string>();
      Table ours = read_parquet(run_root / (key + ".parquet"));
      Table golden = read_table(c.dir / (key + ".csv"));
      fs::path input_dir = golden_root() / c.run_info["inputs"][0]["dir"].get<std::string>();
      Table input = read_table(input_dir / (key + ".csv"));
      ASSERT_EQ(ours.num_rows(), input.num_rows());
      ASSERT_EQ(golden.num_rows(), input.num_rows());
      std::vector<std::size_t> rows;
      for (std::size_t r = 0; r < input.num_rows(); ++r) {
        bool ok = std::isfinite(ours.column("tsne_x").as_double(r)) && std::isfinite(golden.column("tsne_x").as_double(r));
        if (ok) rows.push_back(r);
      }
      if (rows.size() < 25) continue;
      std::vector<double> xi = rows_f32(input, cols, rows);
      std::vector<double> yo, yg;
      for (std::size_t r : rows) {
        yo.push_back(ours.column("tsne_x").as_double(r));
        yo.push_back(ours.column("tsne_y").as_double(r));
        yg.push_back(golden.column("tsne_x").as_double(r));
        yg.push_back(golden.column("tsne_y").as_double(r));
      }
      const double m_ours = kernels::trustworthiness(xi.data(), rows.size(), cols.size(), yo.data(), 2, 10);
      const double m_ref = kernels::trustworthiness(xi.data(), rows.size(), cols.size(), yg.data(), 2, 10);
      EXPECT_GE(m_ours, m_ref - kSlack) << fmt::format("{}: mapped ours {:.4f}, reference {:.4f}", key, m_ours, m_ref);
      std::printf("[quality] %s/%s %s mapped n=%zu: trustworthiness ours %.4f reference %.4f\n", c.dataset.c_str(),
                  c.variant.c_str(), key.c_str(), rows.size(), m_ours, m_ref);
    }
  }
}

}  // namespace
}  // namespace mosaic::golden
