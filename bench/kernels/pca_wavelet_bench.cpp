// pca_wavelet_bench: pair-posedistance-pca (partial fits, apply), pair-wavelet (apply) and
// global-scaler (fit + apply) on simulated data, each next to the Parquet I/O floor of the same
// data measured in the same run (read_parquet of the input + write_parquet of the output).
//
// Shapes:
//   "hour2"  1 h x 2 animals x 7 keypoints at 30 fps (108,000 frames): the CalMS21 shape. The
//            PCA sees 216,000 tracks rows and writes 216,000 pair rows; the wavelet (25
//            frequencies, the notebook's params) turns those into 150 float32 columns; the scaler
//            z-scores the wavelet output with templates of 2,000 of its rows.
//   "crowd"  100 animals x 100 frames (9,900 ordered pairs per frame, 990,000 pair rows). A
//            100 x 1,000 crowd would write 9.9 M pair rows (~1 GB in memory) per iteration on
//            this shared 2-core machine, so the crowd is 100 frames long; the wavelet and the
//            scaler run on the crowd's PCA output (9,900 series of 100 frames).
// items_per_second is input rows per second everywhere (tracks rows for the PCA, pair rows for
// the wavelet and the scaler).
//
//   build-*/bench/pca_wavelet_bench --benchmark_format=json > pca_wavelet.json
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "common/bench_util.hpp"
#include "mosaic/feature.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/simulate.hpp"

namespace {

namespace fs = std::filesystem;
using mosaic::Json;
using mosaic::Table;

using mosaic::bench::peak_rss_mib;

fs::path work_dir() { return mosaic::bench::scratch_dir("pca-wavelet"); }

using mosaic::bench::Shape;
constexpr Shape kShapes[] = {{"hour2", 2, 108000}, {"crowd", 100, 100}};

// An InputStream over one in-memory entry (what run_feature's manifest stream hands fit).
class OneEntry final : public mosaic::InputStream {
 public:
  explicit OneEntry(const Table& t) : t_(t) {}
  std::size_t n_entries() const override { return 1; }
  void for_each(const std::function<void(const mosaic::EntryData&)>& fn) const override { fn({"g__s", "g", "s", t_}); }

 private:
  const Table& t_;
};

fs::path parquet_of(const Table& t, const std::string& name) {
  const fs::path p = work_dir() / (name + ".parquet");
  if (!fs::exists(p)) mosaic::write_parquet(t, p);
  return p;
}

// Per shape: the tracks, the fitted PCA and its output, the wavelet output, the templates.
struct Chain {
  Table tracks;
  std::unique_ptr<mosaic::Feature> pca, wavelet, scaler;
  Table pcs, waves, scaled;
  fs::path tracks_file, pcs_file, waves_file;
};

const Json kWaveletParams = {{"f_min", 0.2}, {"f_max", 5.0}, {"n_freq", 25}, {"wavelet", "cmor1.5-1.0"}, {"log_floor", -3.0}};

std::unique_ptr<mosaic::Feature> new_pca() {
  return mosaic::make_feature("pair-posedistance-pca", std::nullopt, {{"n_components", 6}});
}
std::unique_ptr<mosaic::Feature> new_wavelet() {
  return mosaic::make_feature("pair-wavelet", mosaic::Inputs::of({mosaic::Result{"pca", std::nullopt}}), kWaveletParams);
}

// The scaler fitted on every 50th row of `in`'s numeric feature columns.
std::unique_ptr<mosaic::Feature> fitted_scaler(const Table& in, const std::string& name) {
  Table tpl;
  std::vector<int64_t> rows;
  for (std::size_t r = 0; r < in.num_rows(); r += 50) rows.push_back(static_cast<int64_t>(r));
  Table pick = in.take(rows);
  for (const auto& c : pick.column_names())
    if (c.rfind("W_", 0) == 0 || c.rfind("PC", 0) == 0) tpl.add_column(c, pick.column(c).cast(mosaic::DType::kFloat64));
  const fs::path dir = work_dir() / ("templates-" + name);
  fs::create_directories(dir);
  mosaic::write_parquet(tpl, dir / "templates.parquet");
  auto f = mosaic::make_feature("global-scaler", mosaic::Inputs::of({mosaic::Result{"x", std::nullopt}}),
                                {{"templates", {{"feature", "t"}, {"run_id", "0.1-t"}, {"pattern", "templates.parquet"}}}});
  f->load_state(dir / "run", {{"templates", dir / "templates.parquet"}}, {});
  f->fit(OneEntry(tpl));
  return f;
}

const Chain& chain(int shape) {
  static std::map<int, std::unique_ptr<Chain>> cache;
  auto& slot = cache[shape];
  if (!slot) {
    const Shape& s = kShapes[shape];
    mosaic::SimulationOptions o;
    o.animals = s.animals;
    o.frames = s.frames;
    o.keypoints = 7;
    o.seed = 7;
    o.arena = s.animals > 20 ? 4000.0 : 1000.0;
    slot = std::make_unique<Chain>();
    Chain& c = *slot;
    c.tracks = mosaic::simulate_sequence(o, 0);
    const std::size_t n = c.tracks.num_rows();
    c.tracks.add_column("group", mosaic::Column::constant_string("g", n));
    c.tracks.add_column("sequence", mosaic::Column::constant_string("s", n));
    c.tracks_file = parquet_of(c.tracks, std::string(s.name) + "_tracks");
    c.pca = new_pca();
    c.pca->load_state({}, {}, {});
    c.pca->fit(OneEntry(c.tracks));
    c.pcs = c.pca->apply(c.tracks);
    c.pcs_file = parquet_of(c.pcs, std::string(s.name) + "_pcs");
    c.wavelet = new_wavelet();
    if (shape == 0) {
      c.waves = c.wavelet->apply(c.pcs);
      c.waves_file = parquet_of(c.waves, std::string(s.name) + "_waves");
      c.scaler = fitted_scaler(c.waves, s.name);
      c.scaled = c.scaler->apply(c.waves);
    } else {
      c.waves = c.wavelet->apply(c.pcs);
      c.scaler = fitted_scaler(c.pcs, s.name);  // the crowd's wavelet output is large: scale the PCs
      c.scaled = c.scaler->apply(c.pcs);
    }
  }
  return *slot;
}

void label(benchmark::State& state, const std::string& what, int shape, int64_t rows) {
  state.SetItemsProcessed(rows);
  state.SetLabel(what + "/" + kShapes[shape].name);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

// Read + write of the same data with no compute.
void io_floor(benchmark::State& state, const fs::path& in_file, const Table& out, const std::string& what, int shape) {
  const fs::path dst = work_dir() / "floor_out.parquet";
  int64_t rows = 0;
  for (auto _ : state) {
    Table in = mosaic::read_parquet(in_file);
    benchmark::DoNotOptimize(in);
    mosaic::write_parquet(out, dst);
    rows += static_cast<int64_t>(in.num_rows());
  }
  label(state, what + " io-floor", shape, rows);
}

void BM_PcaPartialFit(benchmark::State& state) {
  const int shape = static_cast<int>(state.range(0));
  const Chain& c = chain(shape);
  int64_t rows = 0;
  for (auto _ : state) {
    auto f = new_pca();
    f->fit(OneEntry(c.tracks));
    rows += static_cast<int64_t>(c.tracks.num_rows());
  }
  state.counters["pair_rows"] = static_cast<double>(c.pcs.num_rows());
  label(state, "pair-posedistance-pca fit", shape, rows);
}

void BM_PcaApply(benchmark::State& state) {
  const int shape = static_cast<int>(state.range(0));
  const Chain& c = chain(shape);
  int64_t rows = 0;
  for (auto _ : state) {
    Table out = c.pca->apply(c.tracks);
    benchmark::DoNotOptimize(out);
    rows += static_cast<int64_t>(c.tracks.num_rows());
  }
  state.counters["rows_out"] = static_cast<double>(c.pcs.num_rows());
  label(state, "pair-posedistance-pca apply", shape, rows);
}

void BM_PcaIoFloor(benchmark::State& state) {
  const int shape = static_cast<int>(state.range(0));
  io_floor(state, chain(shape).tracks_file, chain(shape).pcs, "pair-posedistance-pca", shape);
}

void BM_WaveletApply(benchmark::State& state) {
  const int shape = static_cast<int>(state.range(0));
  const Chain& c = chain(shape);
  int64_t rows = 0;
  for (auto _ : state) {
    Table out = c.wavelet->apply(c.pcs);
    benchmark::DoNotOptimize(out);
    rows += static_cast<int64_t>(c.pcs.num_rows());
  }
  state.counters["columns_out"] = static_cast<double>(c.waves.num_columns());
  label(state, "pair-wavelet apply", shape, rows);
}

void BM_WaveletIoFloor(benchmark::State& state) {
  const int shape = static_cast<int>(state.range(0));
  io_floor(state, chain(shape).pcs_file, chain(shape).waves, "pair-wavelet", shape);
}

void BM_ScalerFitApply(benchmark::State& state) {
  const int shape = static_cast<int>(state.range(0));
  const Chain& c = chain(shape);
  const Table& in = shape == 0 ? c.waves : c.pcs;
  int64_t rows = 0;
  for (auto _ : state) {
    auto f = fitted_scaler(in, kShapes[shape].name);
    Table out = f->apply(in);
    benchmark::DoNotOptimize(out);
    rows += static_cast<int64_t>(in.num_rows());
  }
  label(state, "global-scaler fit+apply", shape, rows);
}

void BM_ScalerIoFloor(benchmark::State& state) {
  const int shape = static_cast<int>(state.range(0));
  const Chain& c = chain(shape);
  io_floor(state, shape == 0 ? c.waves_file : c.pcs_file, c.scaled, "global-scaler", shape);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int shape = 0; shape < 2; ++shape) b->Arg(shape);
}

BENCHMARK(BM_PcaPartialFit)->Apply(shapes)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK(BM_PcaApply)->Apply(shapes)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_PcaIoFloor)->Apply(shapes)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_WaveletApply)->Apply(shapes)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK(BM_WaveletIoFloor)->Apply(shapes)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK(BM_ScalerFitApply)->Apply(shapes)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_ScalerIoFloor)->Apply(shapes)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::error_code ec;
  fs::remove_all(work_dir(), ec);
  return 0;
}
