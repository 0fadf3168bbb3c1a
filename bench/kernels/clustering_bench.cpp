// clustering_bench: extract-templates, extract-labeled-templates, global-kmeans and global-ward.
//
// Shapes: "hour" = 1 h x 10 animals x 7 keypoints at 30 fps (108,000 frames, 1.08 M rows);
// "crowd" = 100 animals x 1,000 frames (100,000 rows). The input is the simulated tracks as one
// entry; feature_columns picks 24 of them (X, Y, ANGLE, poseX/poseY/poseP 0..6).
//   BM_Fit       extract-templates (2,000 templates, reservoir) and extract-labeled-templates
//                (500 per class, 4 dense classes) fit over the entry: rows/s streamed;
//   BM_Apply     each feature's apply on the in-memory table (global-kmeans k = 100 and
//                global-ward 20 clusters fitted on 2,000 templates of the same data): rows/s;
//   BM_IoFloor   read_parquet of the input + write_parquet of that feature's output, no compute.
//   BM_KMeansFit / BM_WardFit  fit time of the kernels on n templates (24 dims): k-means k = 100
//                for 10k, 50k, 200k; Ward for 10k and 20k. Ward keeps scipy's condensed
//                distance matrix, n(n-1)/2 doubles: 10k = 0.4 GB, 20k = 1.6 GB, 50k = 10 GB,
//                200k = 160 GB, so 50k does not fit beside the other jobs of this 23 GB machine and
//                200k does not fit at all (the counter condensed_GB reports the size).
//
//   build-*/bench/clustering_bench --benchmark_format=json > clustering.json
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/bench_util.hpp"
#include "features/kernels/kmeans.hpp"
#include "features/kernels/random.hpp"
#include "features/kernels/ward.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/npz.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/simulate.hpp"

namespace {

namespace fs = std::filesystem;
using mosaic::Column;
using mosaic::EntryData;
using mosaic::Json;
using mosaic::Table;

using mosaic::bench::peak_rss_mib;

fs::path work_dir() { return mosaic::bench::scratch_dir("clustering"); }

using mosaic::bench::Shape;
constexpr const auto& kShapes = mosaic::bench::kIssueShapes;

class OneEntry final : public mosaic::InputStream {
 public:
  explicit OneEntry(const Table& t) : t_(t) {}
  std::size_t n_entries() const override { return 1; }
  void for_each(const std::function<void(const EntryData&)>& fn) const override { fn(EntryData{"g__s", "g", "s", t_}); }

 private:
  const Table& t_;
};

struct Input {
  Table table;
  fs::path parquet;
  fs::path labels;
};

const Input& input(int shape) {
  static std::map<int, std::unique_ptr<Input>> cache;
  auto& slot = cache[shape];
  if (!slot) {
    const Shape& s = kShapes[shape];
    mosaic::SimulationOptions o;
    o.animals = s.animals;
    o.frames = s.frames;
    o.keypoints = 7;
    o.seed = 7;
    o.arena = s.animals > 20 ? 4000.0 : 1000.0;
    slot = std::make_unique<Input>();
    slot->table = mosaic::simulate_sequence(o, 0);
    const std::size_t n = slot->table.num_rows();
    slot->table.add_column("group", Column::constant_string("g", n));
    slot->table.add_column("sequence", Column::constant_string("s", n));
    slot->parquet = work_dir() / (std::string(s.name) + "_tracks.parquet");
    mosaic::write_parquet(slot->table, slot->parquet);
    std::vector<int64_t> lab(static_cast<std::size_t>(s.frames));
    for (std::size_t f = 0; f < lab.size(); ++f) lab[f] = static_cast<int64_t>((f / 90) % 4);
    slot->labels = work_dir() / (std::string(s.name) + "_labels.npz");
    mosaic::write_npz(slot->labels, {{"labels", mosaic::NpyArray::from_int64({s.frames}, lab)}});
  }
  return *slot;
}

const mosaic::Inputs kUp = mosaic::Inputs::of({mosaic::Result{"up", std::string("0.1-x")}});

constexpr const char* kFeatures[] = {"extract-templates", "extract-labeled-templates", "global-kmeans", "global-ward"};

Json params_of(int f) {
  switch (f) {
    case 0:
      return {{"n_templates", 2000}};
    case 1:
      return {{"labels", {{"kind", "behavior"}}}, {"n_per_class", 500}};
    case 2:
      return {{"k", 100}, {"templates", {{"feature", "extract-templates"}, {"run_id", "0.1-x"}, {"pattern", "templates.parquet"}}}};
    default:
      return {{"n_clusters", 20}, {"templates", {{"feature", "extract-templates"}, {"run_id", "0.1-x"}, {"pattern", "templates.parquet"}}}};
  }
}

mosaic::DependencyLookups lookups(int shape) {
  mosaic::DependencyLookups l;
  l["labels"][{"g", "s"}] = input(shape).labels;
  return l;
}

// A fitted feature (templates for the clustering features: the finite rows of extract-templates).
std::unique_ptr<mosaic::Feature> fitted(int f, int shape) {
  const Input& in = input(shape);
  fs::path dir = work_dir() / ("fit_" + std::to_string(f) + "_" + std::to_string(shape));
  fs::create_directories(dir);
  auto feat = mosaic::make_feature(kFeatures[f], kUp, params_of(f));
  mosaic::ArtifactPaths art;
  if (f >= 2) {
    fs::path tdir = work_dir() / ("tpl_" + std::to_string(shape));
    if (!fs::exists(tdir / "templates.parquet")) {
      fs::create_directories(tdir);
      std::vector<uint8_t> keep(in.table.num_rows(), 1);
      for (const auto& c : in.table.column_names())
        if (mosaic::is_floating(in.table.column(c).type()))
          for (std::size_t r = 0; r < keep.size(); ++r)
            if (!std::isfinite(in.table.column(c).as_double(r))) keep[r] = 0;
      Table clean = in.table.filter(keep);
      auto et = mosaic::make_feature("extract-templates", kUp, params_of(0));
      et->load_state(tdir, {}, {});
      et->fit(OneEntry(clean));
      et->save_state(tdir);
    }
    art["templates"] = tdir / "templates.parquet";
  }
  // Benchmark functions run more than once: a later call loads the state saved by the first.
  if (!feat->load_state(dir, art, lookups(shape))) {
    feat->fit(OneEntry(in.table));
    feat->save_state(dir);
  }
  return feat;
}

void BM_Fit(benchmark::State& state) {
  const int f = static_cast<int>(state.range(0)), shape = static_cast<int>(state.range(1));
  const Input& in = input(shape);
  int64_t rows = 0;
  for (auto _ : state) {
    auto feat = mosaic::make_feature(kFeatures[f], kUp, params_of(f));
    feat->load_state({}, {}, lookups(shape));
    feat->fit(OneEntry(in.table));
    benchmark::DoNotOptimize(feat);
    rows += static_cast<int64_t>(in.table.num_rows());
  }
  state.SetItemsProcessed(rows);
  state.SetLabel(std::string(kFeatures[f]) + " fit/" + kShapes[shape].name);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

void BM_Apply(benchmark::State& state) {
  const int f = static_cast<int>(state.range(0)), shape = static_cast<int>(state.range(1));
  const Input& in = input(shape);
  auto feat = fitted(f, shape);
  int64_t rows = 0;
  std::size_t out_rows = 0;
  for (auto _ : state) {
    Table out = feat->apply(in.table);
    out_rows = out.num_rows();
    benchmark::DoNotOptimize(out);
    rows += static_cast<int64_t>(in.table.num_rows());
  }
  state.SetItemsProcessed(rows);
  state.SetLabel(std::string(kFeatures[f]) + "/" + kShapes[shape].name);
  state.counters["out_rows"] = static_cast<double>(out_rows);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

void BM_IoFloor(benchmark::State& state) {
  const int f = static_cast<int>(state.range(0)), shape = static_cast<int>(state.range(1));
  const Input& in = input(shape);
  const Table out = fitted(f, shape)->apply(in.table);
  const fs::path out_path = work_dir() / (std::string(kFeatures[f]) + "_out.parquet");
  int64_t rows = 0;
  for (auto _ : state) {
    Table t = mosaic::read_parquet(in.parquet);
    benchmark::DoNotOptimize(t);
    mosaic::write_parquet(out, out_path);
    rows += static_cast<int64_t>(in.table.num_rows());
  }
  state.SetItemsProcessed(rows);
  state.SetLabel(std::string(kFeatures[f]) + "/" + kShapes[shape].name);
}

// n finite 24-dim rows drawn from the hour shape (repeated with a small jitter beyond its size).
std::vector<double> template_rows(std::size_t n, std::size_t& dim) {
  const Input& in = input(0);
  std::vector<std::string> cols;
  for (const auto& c : in.table.column_names())
    if (mosaic::is_floating(in.table.column(c).type()) && c != "time") cols.push_back(c);
  dim = cols.size();
  std::vector<double> out;
  out.reserve(n * dim);
  mosaic::kernels::Pcg64 rng(1);
  std::size_t r = 0;
  while (out.size() < n * dim) {
    const std::size_t row = (r++ * 7919) % in.table.num_rows();
    bool ok = true;
    for (const auto& c : cols) ok = ok && std::isfinite(in.table.column(c).as_double(row));
    if (!ok) continue;
    for (const auto& c : cols) out.push_back(in.table.column(c).as_double(row) + 1e-3 * rng.random());
  }
  return out;
}

void BM_KMeansFit(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::size_t dim = 0;
  std::vector<double> x64 = template_rows(n, dim);
  std::vector<float> x(x64.begin(), x64.end());
  int iters = 0;
  for (auto _ : state) {
    mosaic::kernels::Mt19937RandomState rs(42);
    auto r = mosaic::kernels::kmeans_fit(x.data(), n, dim, {.n_clusters = 100}, rs);
    iters = r.n_iter;
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
  state.counters["dim"] = static_cast<double>(dim);
  state.counters["lloyd_iters"] = iters;
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

void BM_WardFit(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::size_t dim = 0;
  std::vector<double> x = template_rows(n, dim);
  for (auto _ : state) {
    std::vector<double> d(n * (n - 1) / 2);
    mosaic::kernels::pdist_euclidean(x.data(), n, dim, d);
    std::vector<double> z((n - 1) * 4);
    mosaic::kernels::ward_linkage(d, n, z);
    d = {};
    std::vector<int32_t> labels(n);
    mosaic::kernels::fcluster_maxclust(z, n, 20, labels);
    auto c = mosaic::kernels::cluster_centroids(x.data(), n, dim, labels);
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
  state.counters["dim"] = static_cast<double>(dim);
  state.counters["condensed_GB"] = static_cast<double>(n) * static_cast<double>(n - 1) / 2 * 8 / 1e9;
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

void fit_args(benchmark::internal::Benchmark* b) {
  for (int s = 0; s < 2; ++s)
    for (int f = 0; f < 2; ++f) b->Args({f, s});
}
void feature_args(benchmark::internal::Benchmark* b) {
  for (int s = 0; s < 2; ++s)
    for (int f = 0; f < 4; ++f) b->Args({f, s});
}

BENCHMARK(BM_Fit)->Apply(fit_args)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Apply)->Apply(feature_args)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_IoFloor)->Apply(feature_args)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_KMeansFit)->Arg(10000)->Arg(50000)->Arg(200000)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);
BENCHMARK(BM_WardFit)->Arg(10000)->Arg(20000)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
