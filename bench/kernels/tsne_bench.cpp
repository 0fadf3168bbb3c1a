// tsne_bench: global-tsne fit time for 10k / 50k / 200k templates, and global-tsne apply rows/s on
// two simulated shapes next to the I/O floor measured in the same run.
//
//   BM_TsneFit/<n>     the fit of the registered feature's kernels with the default params
//                      (perplexity 50 -> 150 neighbours, 250 + 750 iterations) on n templates of
//                      16 features drawn from 20 Gaussian clusters; items = templates.
//   BM_TsneApply/<s>   apply (kNN to 2,000 templates, 100 mapping steps per row) on the
//                      simulated tracks of a shape; the feature columns are X, Y, ANGLE and the
//                      pose columns (24 with 7 keypoints). Shapes: "hour" = 1 h x 10 animals x 7
//                      keypoints at 30 fps (108,000 frames, 1.08 M rows), "crowd" = 100 animals x
//                      1,000 frames (100,000 rows).
//   BM_TsneIoFloor/<s> read_parquet of that input + write_parquet of the output, no compute.
//   BM_ArhmmFit/<s>    arhmm fit (n_states 8, 10 EM iterations, tol 0) on X, Y, ANGLE of the
//                      shape's tracks, one sequence per id; items = frames.
//   BM_ArhmmApply/<s>  arhmm apply (Viterbi per id) on the same table.
//   BM_ArhmmIoFloor/<s> read_parquet of the tracks + write_parquet of the output, no compute.
// items_per_second is input rows per second.
//
//   build-*/bench/tsne_bench --benchmark_format=json > tsne.json
//   build-*/bench/tsne_bench --benchmark_filter='BM_TsneFit/10000'
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/bench_util.hpp"
#include "features/kernels/tsne.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/simulate.hpp"

namespace {

namespace fs = std::filesystem;
using mosaic::Column;
using mosaic::Json;
using mosaic::Table;
namespace k = mosaic::kernels;

using mosaic::bench::peak_rss_mib;

fs::path work_dir() { return mosaic::bench::scratch_dir("tsne"); }

std::vector<double> cluster_templates(std::size_t n, std::size_t dim) {
  std::mt19937 g(1);
  std::normal_distribution<double> z(0.0, 1.0);
  std::vector<double> centres(20 * dim);
  for (auto& c : centres) c = 6.0 * z(g);
  std::vector<double> x(n * dim);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t d = 0; d < dim; ++d) x[i * dim + d] = static_cast<float>(centres[(i % 20) * dim + d] + z(g));
  return x;
}

void BM_TsneFit(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::size_t dim = 16;
  std::vector<double> x = cluster_templates(n, dim);
  double knn_s = 0, opt_s = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    k::TsneAffinities p = k::tsne_affinities(x.data(), n, dim, 50.0);
    std::vector<double> y = k::tsne_pca_init(x.data(), n, dim, 42);
    auto t1 = std::chrono::steady_clock::now();
    k::TsneGradientState st(n);
    const double nd = static_cast<double>(n);
    k::tsne_optimize(p, y, {.iters = 250, .exaggeration = 12, .momentum = 0.5, .learning_rate = nd / 12.0}, st);
    k::tsne_optimize(p, y, {.iters = 750, .exaggeration = 1, .momentum = 0.8, .learning_rate = nd}, st);
    auto t2 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(y);
    knn_s += std::chrono::duration<double>(t1 - t0).count();
    opt_s += std::chrono::duration<double>(t2 - t1).count();
  }
  state.SetItemsProcessed(static_cast<int64_t>(n) * state.iterations());
  state.counters["affinities_s"] = knn_s / static_cast<double>(state.iterations());
  state.counters["optimize_s"] = opt_s / static_cast<double>(state.iterations());
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

using mosaic::bench::Shape;
constexpr const auto& kShapes = mosaic::bench::kIssueShapes;

struct Input {
  Table table;
  fs::path parquet;
  std::unique_ptr<mosaic::Feature> feature;  // fitted on 2,000 rows of the same table
};

const Input& input(int shape) {
  static std::map<int, std::unique_ptr<Input>> cache;
  auto& slot = cache[shape];
  if (!slot) {
    const Shape& s = kShapes[shape];
    slot = std::make_unique<Input>();
    mosaic::SimulationOptions o;
    o.animals = s.animals;
    o.frames = s.frames;
    o.keypoints = 7;
    o.seed = 7;
    o.arena = s.animals > 20 ? 4000.0 : 1000.0;
    slot->table = mosaic::simulate_sequence(o, 0);
    slot->table.add_column("group", Column::constant_string("g", slot->table.num_rows()));
    slot->table.add_column("sequence", Column::constant_string("s", slot->table.num_rows()));
    slot->parquet = work_dir() / (std::string(s.name) + "_tracks.parquet");
    mosaic::write_parquet(slot->table, slot->parquet);
    // Templates: 2,000 finite rows spread over the table.
    std::vector<std::string> cols;
    for (const auto& c : slot->table.column_names())
      if (c == "X" || c == "Y" || c == "ANGLE" || c.rfind("pose", 0) == 0) cols.push_back(c);
    Table feats = slot->table.select(cols);
    std::vector<int64_t> rows;
    const std::size_t n = feats.num_rows();
    for (std::size_t r = 0; r < n && rows.size() < 2000; r += n / 4000) {
      bool ok = true;
      for (std::size_t c = 0; c < cols.size(); ++c) ok = ok && std::isfinite(feats.column(c).as_double(r));
      if (ok) rows.push_back(static_cast<int64_t>(r));
    }
    fs::path tpl = work_dir() / (std::string(s.name) + "_templates.parquet");
    mosaic::write_parquet(feats.take(rows), tpl);
    slot->feature = mosaic::make_feature(
        "global-tsne", mosaic::Inputs::of({mosaic::Result{"x", std::string("0.1-x")}}),
        Json{{"templates", {{"feature", "t"}, {"run_id", "0.1-t"}, {"pattern", "templates.parquet"}}}});
    struct NoEntries : mosaic::InputStream {
      std::size_t n_entries() const override { return 0; }
      void for_each(const std::function<void(const mosaic::EntryData&)>&) const override {}
    };
    slot->feature->load_state(work_dir() / "run", {{"templates", tpl}}, {});
    slot->feature->fit(NoEntries());
  }
  return *slot;
}

void BM_TsneApply(benchmark::State& state) {
  const Input& in = input(static_cast<int>(state.range(0)));
  int64_t rows = 0;
  for (auto _ : state) {
    Table out = in.feature->apply(in.table);
    benchmark::DoNotOptimize(out);
    rows += static_cast<int64_t>(in.table.num_rows());
  }
  state.SetItemsProcessed(rows);
  state.SetLabel(std::string("global-tsne/") + kShapes[state.range(0)].name);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

void BM_TsneIoFloor(benchmark::State& state) {
  const Input& in = input(static_cast<int>(state.range(0)));
  const Table out = in.feature->apply(in.table.slice(0, 1000));
  // The output of the whole table has the same columns; its size is what matters for the write.
  Table full_out = in.table.select({"frame", "id", "time"});
  full_out.add_column("tsne_x", Column::from_float32(std::vector<float>(in.table.num_rows(), 1.0f)));
  full_out.add_column("tsne_y", Column::from_float32(std::vector<float>(in.table.num_rows(), 1.0f)));
  const fs::path out_path = work_dir() / "tsne_out.parquet";
  int64_t rows = 0;
  for (auto _ : state) {
    Table t = mosaic::read_parquet(in.parquet);
    benchmark::DoNotOptimize(t);
    mosaic::write_parquet(full_out, out_path);
    rows += static_cast<int64_t>(in.table.num_rows());
  }
  benchmark::DoNotOptimize(out);
  state.SetItemsProcessed(rows);
  state.SetLabel(std::string("global-tsne/") + kShapes[state.range(0)].name);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

struct TableStream : mosaic::InputStream {
  const Table* table = nullptr;
  std::size_t n_entries() const override { return 1; }
  void for_each(const std::function<void(const mosaic::EntryData&)>& fn) const override {
    fn(mosaic::EntryData{"g__s", "g", "s", *table});
  }
};

const Table& arhmm_input(int shape) {
  static std::map<int, Table> cache;
  auto it = cache.find(shape);
  if (it == cache.end()) it = cache.emplace(shape, input(shape).table.select({"frame", "id", "X", "Y", "ANGLE"})).first;
  return it->second;
}

std::unique_ptr<mosaic::Feature> arhmm_feature() {
  return mosaic::make_feature("arhmm", mosaic::Inputs::of({mosaic::Result{"x", std::string("0.1-x")}}),
                              Json{{"n_states", 8}, {"n_iter", 10}, {"tol", 0.0}});
}

void BM_ArhmmFit(benchmark::State& state) {
  const Table& t = arhmm_input(static_cast<int>(state.range(0)));
  TableStream s;
  s.table = &t;
  int64_t rows = 0;
  for (auto _ : state) {
    auto f = arhmm_feature();
    f->fit(s);
    benchmark::DoNotOptimize(f);
    rows += static_cast<int64_t>(t.num_rows());
  }
  state.SetItemsProcessed(rows);
  state.SetLabel(std::string("arhmm/") + kShapes[state.range(0)].name);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

std::unique_ptr<mosaic::Feature>& arhmm_fitted(int shape) {
  static std::map<int, std::unique_ptr<mosaic::Feature>> cache;
  auto& slot = cache[shape];
  if (!slot) {
    TableStream s;
    s.table = &arhmm_input(shape);
    slot = arhmm_feature();
    slot->fit(s);
  }
  return slot;
}

void BM_ArhmmApply(benchmark::State& state) {
  const Table& t = arhmm_input(static_cast<int>(state.range(0)));
  auto& f = arhmm_fitted(static_cast<int>(state.range(0)));
  int64_t rows = 0;
  for (auto _ : state) {
    Table out = f->apply(t);
    benchmark::DoNotOptimize(out);
    rows += static_cast<int64_t>(t.num_rows());
  }
  state.SetItemsProcessed(rows);
  state.SetLabel(std::string("arhmm/") + kShapes[state.range(0)].name);
}

void BM_ArhmmIoFloor(benchmark::State& state) {
  const Input& in = input(static_cast<int>(state.range(0)));
  const Table out = arhmm_fitted(static_cast<int>(state.range(0)))->apply(arhmm_input(static_cast<int>(state.range(0))));
  const fs::path out_path = work_dir() / "arhmm_out.parquet";
  int64_t rows = 0;
  for (auto _ : state) {
    Table t = mosaic::read_parquet(in.parquet);
    benchmark::DoNotOptimize(t);
    mosaic::write_parquet(out, out_path);
    rows += static_cast<int64_t>(in.table.num_rows());
  }
  state.SetItemsProcessed(rows);
  state.SetLabel(std::string("arhmm/") + kShapes[state.range(0)].name);
}

BENCHMARK(BM_TsneFit)->Arg(10000)->Arg(50000)->Arg(200000)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_TsneApply)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TsneIoFloor)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ArhmmFit)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ArhmmApply)->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ArhmmIoFloor)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
