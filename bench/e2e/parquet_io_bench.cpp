// parquet_io_bench: our Parquet writer and reader against plain DuckDB on the same data, same run.
//
// A canonical track table (frame, time, id, X, Y, ANGLE, poseX/Y/P 0..6, group, sequence; 10 M
// rows by default, MOSAIC_BENCH_ROWS overrides) is built in memory by a deterministic generator,
// then timed:
//   Write/mosaic       write_parquet(table)                              (Table -> file)
//   Write/duckdb_copy  COPY (SELECT * FROM read_parquet(src)) TO dst       (DuckDB file -> file: floor)
//   Read/mosaic        read_parquet(src)                                  (file -> Table)
//   Read/duckdb_scan   SELECT * FROM read_parquet(src), every chunk fetched (decode only: floor)
//   Read/duckdb_materialized  the same query, whole result kept in DuckDB's memory (file -> memory floor)
//   Read/mosaic_range  read_parquet(src, 10 % frame range)                (row-group pruning)
// Each reports rows/s (items_per_second) and the peak RSS during that benchmark (VmHWM, reset
// before each one through /proc/self/clear_refs). DuckDB uses the same database and settings as
// the library (threads = MOSAIC_DUCKDB_THREADS, 1 by default), so all work runs on the calling
// thread and the CPU-time rates are meaningful even on a machine shared with compilers.
//
//   build-io/bench/parquet_io_bench                 # about a minute on 2 cores
//   MOSAIC_BENCH_ROWS=1000000 build-io/bench/parquet_io_bench
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "io/duckdb_connection.hpp"
#include "mosaic/parquet.hpp"
#include "mosaic/table.hpp"

namespace fs = std::filesystem;

namespace {

std::size_t bench_rows() {
  const char* env = std::getenv("MOSAIC_BENCH_ROWS");
  long long n = env ? std::atoll(env) : 10'000'000LL;
  return n > 0 ? static_cast<std::size_t>(n) : 10'000'000u;
}

const fs::path& bench_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("mosaic_parquet_io_bench_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

// Deterministic pseudo-random numbers (64-bit LCG, top 53 bits): no simulator dependency.
struct Lcg {
  uint64_t state;
  double uniform() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) * (1.0 / 9007199254740992.0);
  }
};

// 4 animals moving on smooth noisy paths; 7 keypoints around each; ~3 % missing keypoints.
mosaic::Table make_tracks(std::size_t rows) {
  constexpr int kAnimals = 4;
  constexpr int kKeypoints = 7;
  constexpr double kFps = 30.0;
  std::vector<int64_t> frame(rows), id(rows);
  std::vector<double> time(rows), x(rows), y(rows), angle(rows);
  std::vector<std::vector<double>> px(kKeypoints, std::vector<double>(rows)), py(px), pp(px);
  Lcg rng{42};
  for (std::size_t r = 0; r < rows; ++r) {
    const auto f = static_cast<int64_t>(r / kAnimals);
    const auto a = static_cast<int>(r % kAnimals);
    frame[r] = f;
    id[r] = a;
    time[r] = static_cast<double>(f) / kFps;
    const double t = time[r] * (0.2 + 0.05 * a);
    x[r] = 320 + 200 * std::cos(t + a) + rng.uniform();
    y[r] = 240 + 150 * std::sin(1.3 * t + a) + rng.uniform();
    angle[r] = std::atan2(std::cos(1.3 * t + a), -std::sin(t + a));
    for (int k = 0; k < kKeypoints; ++k) {
      const bool missing = rng.uniform() < 0.03;
      px[k][r] = missing ? NAN : x[r] + 10 * std::cos(angle[r] + k) + rng.uniform();
      py[k][r] = missing ? NAN : y[r] + 10 * std::sin(angle[r] + k) + rng.uniform();
      pp[k][r] = missing ? 0.0 : rng.uniform();
    }
  }
  mosaic::Table t;
  t.add_column("frame", mosaic::Column::from_int64(std::move(frame)));
  t.add_column("time", mosaic::Column::from_float64(std::move(time)));
  t.add_column("id", mosaic::Column::from_int64(std::move(id)));
  t.add_column("X", mosaic::Column::from_float64(std::move(x)));
  t.add_column("Y", mosaic::Column::from_float64(std::move(y)));
  t.add_column("ANGLE", mosaic::Column::from_float64(std::move(angle)));
  for (int k = 0; k < kKeypoints; ++k) {
    t.add_column("poseX" + std::to_string(k), mosaic::Column::from_float64(std::move(px[k])));
    t.add_column("poseY" + std::to_string(k), mosaic::Column::from_float64(std::move(py[k])));
    t.add_column("poseP" + std::to_string(k), mosaic::Column::from_float64(std::move(pp[k])));
  }
  t.add_column("group", mosaic::Column::constant_string("bench_group", rows));
  t.add_column("sequence", mosaic::Column::constant_string("bench_sequence_0001", rows));
  return t;
}

const mosaic::Table& tracks() {
  static const mosaic::Table t = make_tracks(bench_rows());
  return t;
}

// The file every read benchmark uses (written by us once, outside any timing).
const fs::path& source_file() {
  static const fs::path p = [] {
    fs::path file = bench_dir() / "source.parquet";
    mosaic::write_parquet(tracks(), file);
    return file;
  }();
  return p;
}

// A line of /proc/self/status in MB (-1 when absent).
double status_mb(std::string_view key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(key, 0) == 0) return std::atof(line.c_str() + key.size()) / 1024.0;
  return -1;
}

// Peak RSS since the last reset, in MB (VmHWM; falls back to getrusage's process-wide peak).
double g_rss_before_mb = 0;
void reset_peak_rss() {
  {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
  }
  g_rss_before_mb = status_mb("VmRSS:");
}
double peak_rss_mb() {
  double hwm = status_mb("VmHWM:");
  if (hwm >= 0) return hwm;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

void finish(benchmark::State& state, std::size_t rows) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(rows));
  state.counters["rows"] = static_cast<double>(rows);
  state.counters["peak_rss_MB"] = peak_rss_mb();
  state.counters["rss_before_MB"] = g_rss_before_mb;
  state.counters["file_MB"] = static_cast<double>(fs::file_size(source_file())) / (1024.0 * 1024.0);
}

void BM_Write_mosaic(benchmark::State& state) {
  const mosaic::Table& t = tracks();
  const fs::path out = bench_dir() / "ours.parquet";
  reset_peak_rss();
  for (auto _ : state) mosaic::write_parquet(t, out);
  finish(state, t.num_rows());
}

void BM_Write_duckdb_copy(benchmark::State& state) {
  const fs::path& src = source_file();
  const fs::path out = bench_dir() / "duckdb_copy.parquet";
  const std::string sql = "COPY (SELECT * FROM read_parquet(" + mosaic::io::sql_string(src.string()) + ")) TO " +
                          mosaic::io::sql_string(out.string()) + " (FORMAT parquet, COMPRESSION snappy)";
  auto& con = mosaic::io::thread_connection();
  reset_peak_rss();
  for (auto _ : state) con.query(sql, out.string());
  finish(state, tracks().num_rows());
}

void BM_Read_mosaic(benchmark::State& state) {
  const fs::path& src = source_file();
  std::size_t rows = 0;
  reset_peak_rss();
  for (auto _ : state) {
    mosaic::Table t = mosaic::read_parquet(src);
    rows = t.num_rows();
    benchmark::DoNotOptimize(t);
  }
  finish(state, rows);
}

void BM_Read_duckdb_scan(benchmark::State& state) {
  const fs::path& src = source_file();
  auto& con = mosaic::io::thread_connection();
  std::size_t rows = 0;
  reset_peak_rss();
  for (auto _ : state) {
    auto stmt = con.prepare("SELECT * FROM read_parquet(" + mosaic::io::sql_string(src.string()) + ")", src.string());
    auto result = stmt.execute_streaming(src.string());
    rows = 0;
    while (auto chunk = result.fetch_chunk(src.string())) rows += duckdb_data_chunk_get_size(chunk.get());
  }
  finish(state, rows);
}

void BM_Read_duckdb_materialized(benchmark::State& state) {
  const fs::path& src = source_file();
  auto& con = mosaic::io::thread_connection();
  std::size_t rows = 0;
  reset_peak_rss();
  for (auto _ : state) {
    // DuckDB keeps the whole result in memory, as our Table does: same first-touch cost.
    auto result = con.query("SELECT * FROM read_parquet(" + mosaic::io::sql_string(src.string()) + ")", src.string());
    rows = duckdb_row_count(result.get());
  }
  finish(state, rows);
}

void BM_Read_mosaic_range(benchmark::State& state) {
  const fs::path& src = source_file();
  const auto frames = static_cast<int64_t>(tracks().num_rows() / 4);
  mosaic::ParquetReadOptions opts;
  opts.frame_start = frames / 2;
  opts.frame_end = frames / 2 + frames / 10;
  std::size_t rows = 0;
  reset_peak_rss();
  for (auto _ : state) {
    mosaic::Table t = mosaic::read_parquet(src, opts);
    rows = t.num_rows();
    benchmark::DoNotOptimize(t);
  }
  finish(state, rows);
}

// One iteration each: a 10 M-row write takes seconds, and two cores are shared.
BENCHMARK(BM_Write_mosaic)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Write_duckdb_copy)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Read_mosaic)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Read_duckdb_scan)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Read_duckdb_materialized)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Read_mosaic_range)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // Build the table and the source file before any timing starts.
  (void)source_file();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::error_code ec;
  if (!std::getenv("MOSAIC_BENCH_KEEP")) fs::remove_all(bench_dir(), ec);
  return 0;
}
